"""Chapter 8's reader (``minillm.pretrained("tinyworld-rag")``): its data mix holds the four
kinds of example it should (answers read from an answering passage, answers from memory,
"I don't know." after passages about other people or with no passage about an unknown
person), the store leaves out the absent people, the builder runs end to end on a tiny
model in seconds and writes a loadable model, and bad input is refused with clear errors."""

import copy
import random

import pytest
import torch

import minillm.hallucination as H
from minillm import zoo
from minillm.evaluate import chat_prompt
from minillm.model import GPT, GPTConfig
from minillm.rag import BM25
from minillm.tokenizer import BPETokenizer
from minillm.world import World

RELS = ["birth_city", "job", "color", "food", "birth_year"]


@pytest.fixture(scope="module")
def setup():
    world = World(0)
    text = " ".join(world.biography(p, random.Random(p.id), full_names=True) for p in world.people[:300])
    text += " " + " ".join(world.qa(p, "job").answer for p in world.people[:100]) + " " + H.IDK
    tok = BPETokenizer().train(text, 500)
    torch.manual_seed(0)
    model = GPT(GPTConfig.preset("tiny", vocab_size=tok.vocab_size, block_size=128, n_layer=1,
                                 n_head=2, n_embd=32, pos="rope")).eval()
    people = world.people[:30]
    passages, ids = H.passage_store(world, people)
    return world, tok, model, people, passages, ids, BM25().index(passages, ids)


def _decode(tok, ex):
    ids, tgt = ex
    return tok.decode(ids + [tgt[-1]]), tok.decode([t for t in tgt if t != -100])


def test_reader_examples_hold_the_four_kinds(setup):
    world, tok, model, people, passages, ids, bm = setup
    read = [world.qa(p, r) for p in people[:10] for r in RELS]
    memory = [world.qa(p, "job") for p in people[10:14]]
    absent = [world.qa(p, r) for p in people[14:20] for r in ("job", "color")]
    unknown = [world.qa(p, "food") for p in world.people[200:203]]  # not in the store
    ex = H.reader_examples(tok, world, bm, passages, ids, 100, read_qas=read, memory_qas=memory,
                           absent_qas=absent, unknown_qas=unknown, k=[1, 3])
    assert len(ex) == len(read) + len(memory) + len(absent) + len(unknown)
    texts = [_decode(tok, e) for e in ex]
    for q in read:  # an answering passage is always in the context, the reply is the answer
        full, reply = next(t for t in texts if f"Question: {q.question}<|end|>" in t[0])
        context = full.split("Context:")[1].split("Question:")[0]
        assert world.people[q.person].name in context and q.answers[0] in context
        assert reply.strip() == q.answer + "<|end|>"
    for q in absent:  # passages about other people only, and the reply is I don't know
        full, reply = next(t for t in texts if f"Question: {q.question}<|end|>" in t[0])
        context = full.split("Context:")[1].split("Question:")[0]
        assert context.strip() and world.people[q.person].name not in context
        assert reply.strip() == H.IDK + "<|end|>"
    bare = {full: reply for full, reply in texts if "Context:" not in full}
    assert len(bare) == len(memory) + len(unknown)
    for q in memory:
        assert bare[chat_prompt(q.question) + " " + q.answer + "<|end|>"].strip() == q.answer + "<|end|>"
    for q in unknown:
        assert bare[chat_prompt(q.question) + " " + H.IDK + "<|end|>"].strip() == H.IDK + "<|end|>"
    for i, tgt in ex:  # loss on the reply only
        assert len(i) == len(tgt) and tgt[0] == -100


def test_reader_examples_refuse_bad_input(setup):
    world, tok, model, people, passages, ids, bm = setup
    read = [world.qa(p, "job") for p in people[:3]]
    with pytest.raises(TypeError, match="index"):
        H.reader_examples(tok, world, "bm25", passages, ids, 100, read_qas=read)
    with pytest.raises(ValueError, match="k is an empty list"):
        H.reader_examples(tok, world, bm, passages, ids, 100, read_qas=read, k=[])
    with pytest.raises(ValueError, match="k"):
        H.reader_examples(tok, world, bm, passages, ids, 100, read_qas=read, k=0)
    with pytest.raises(ValueError, match="same length"):
        H.reader_examples(tok, world, bm, passages[:-1], ids, 100, read_qas=read)
    with pytest.raises(ValueError, match="qas is empty"):
        H.reader_examples(tok, world, bm, passages, ids, 100, read_qas=[])
    with pytest.raises(ValueError, match="no passage answers"):  # a person the store lacks
        H.reader_examples(tok, world, bm, passages, ids, 100, read_qas=[world.qa(world.people[200], "job")])
    with pytest.raises(TypeError, match="qas"):
        H.reader_examples(tok, world, bm, passages, ids, 100, read_qas="Where was Ann born?")


def test_reader_store_leaves_the_absent_people_out():
    world = World(0)
    passages, ids, absent = H.reader_store(world, absent=7)
    assert len(absent) == 7 and absent == world.held_out[-7:]
    in_store = {i[0] for i in ids}
    assert not in_store & {p.id for p in absent}
    assert in_store == {p.id for p in world.people} - {p.id for p in absent}
    with pytest.raises(ValueError, match="absent"):
        H.reader_store(world, absent=len(world.held_out))
    with pytest.raises(ValueError, match="absent"):
        H.reader_store(world, absent=-1)


def test_retrieved_prompts_put_the_search_results_first(setup):
    world, tok, model, people, passages, ids, bm = setup
    qas = [world.qa(p, "color") for p in people[:4]]
    prompts = H.retrieved_prompts(qas, bm, passages, ids, tok, 120, k=2)
    by_id = dict(zip(ids, passages))
    for q, p in zip(qas, prompts):
        best = by_id[bm.search(q.question, 1)[0][0]]
        assert p.startswith("<|user|> Context: " + best) and p.endswith(f"Question: {q.question}<|end|><|assistant|>")
    with pytest.raises(ValueError, match="k"):
        H.retrieved_prompts(qas, bm, passages, ids, tok, 120, k=0)
    with pytest.raises(TypeError, match="index"):
        H.retrieved_prompts(qas, None, passages, ids, tok, 120)


def test_build_reader_on_a_tiny_model(setup, tmp_path):
    """The builder end to end on a 1-layer model, a few people and 3 steps: it trains (every
    weight moves), writes a model that loads, and reports its data mix."""
    world, tok, model, *_ = setup
    base = tmp_path / "base"
    model.save(base)
    tok.save(base / "tokenizer.json")
    e = copy.deepcopy(zoo.MODELS["tinyworld-rag"])
    e.recipe["read"].update(fresh=6, absent=3, unknown=2, memory_repeats=1)
    e.recipe["train"].update(steps=3, batch_size=4, warmup=1)
    e.recipe["eval"].update(people=1)
    out = tmp_path / "out"
    out.mkdir()
    fig = H.build_reader(e, out, base, False)
    n_qa = len(zoo.course_people(e.base)["qa"])
    rels = e.recipe["read"]["relations"]
    assert fig["examples"] == {"read_qas": (6 + n_qa) * len(rels),
                               "memory_qas": n_qa * len(e.recipe["read"]["memory_relations"]),
                               "absent_qas": 3 * len(rels), "unknown_qas": 2 * len(rels)}
    assert fig["n_examples"] == sum(fig["examples"].values())
    assert 0.0 <= fig["held_out_bm25_accuracy"] <= 1.0
    tuned, tok2 = zoo.load_model_dir(out)
    assert tok2.vocab_size == tok.vocab_size
    assert any(not torch.equal(a, b) for a, b in zip(model.state_dict().values(), tuned.state_dict().values()))
    e.recipe["read"].update(fresh=10**6)
    with pytest.raises(ValueError, match="fresh people"):
        H.build_reader(e, out, base, False)


def test_the_reader_entry_names_a_real_builder():
    e = zoo.entry("tinyworld-rag")
    assert e.base == "tinyworld-chat" and e.build == "minillm.hallucination:build_reader"
    assert callable(H.build_reader)


def test_said_idk_reads_abstentions():
    got = H.said_idk([" I don't know.", "I don't know", " Ann Bo was born in Stahaven.", " I do not know", ""])
    assert got.tolist() == [True, True, False, False, False]
    with pytest.raises(TypeError, match="replies"):
        H.said_idk(" I don't know.")
    with pytest.raises(TypeError, match="replies"):
        H.said_idk([None])
