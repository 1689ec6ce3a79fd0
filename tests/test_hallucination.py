"""Chapter 8's experiment helpers (minillm.hallucination): the fast candidate scores equal
minillm.evaluate.continuation_logprobs, answers and confidences are read right, passages and
relevance are right by construction, LoRA fine-tunes change what generation says, the tiny
fact corpus counts its repeats and reversed sentences, and bad input is refused."""

import random

import pytest
import torch

import minillm.hallucination as H
from minillm.calibration import expected_calibration_error
from minillm.evaluate import chat_prompt, continuation_logprobs, fact_candidates
from minillm.model import GPT, GPTConfig
from minillm.rag import BM25, recall_at_k
from minillm.tokenizer import BPETokenizer
from minillm.world import World


@pytest.fixture(scope="module")
def setup():
    world = World(0)
    text = " ".join(world.biography(p, random.Random(p.id), full_names=True) for p in world.people[:300])
    text += " " + " ".join(world.qa(p, "job").answer for p in world.people[:100])
    tok = BPETokenizer().train(text, 500)
    torch.manual_seed(0)
    model = GPT(GPTConfig.preset("tiny", vocab_size=tok.vocab_size, block_size=96, n_layer=1,
                                 n_head=2, n_embd=32, pos="rope")).eval()
    return world, tok, model


def test_candidate_logprobs_equal_continuation_logprobs(setup):
    world, tok, model = setup
    prompt = chat_prompt(f"Where was {world.people[3].name} born?") + f" {world.people[3].name} was born in"
    cands = [" " + c for c in fact_candidates(world, "birth_city")[:30]] + [" a", " Stolby Stolby Stolby"]
    fast = H.candidate_logprobs(model, tok, prompt, cands)
    ref = continuation_logprobs(model, tok, prompt, cands).double()
    assert fast.shape == (len(cands),)
    torch.testing.assert_close(fast, ref, atol=2e-4, rtol=0)
    with pytest.raises(ValueError, match="empty string"):
        H.candidate_logprobs(model, tok, prompt, [" x", ""])
    with pytest.raises(TypeError, match="non-empty list"):
        H.candidate_logprobs(model, tok, prompt, " x")
    with pytest.raises(ValueError, match="block_size"):
        H.candidate_logprobs(model, tok, "word " * 200, [" x"])


def test_answer_scores_read_the_reply_and_the_candidates(setup, monkeypatch):
    world, tok, model = setup
    people = world.people[:3]
    qas = [world.qa(p, "color") for p in people]
    other = world.people[50]
    replies = [f" {other.name}'s favourite colour is {other.color}.", " I do not know", qas[2].answer]

    def fake(model, tokenizer, prompts, max_new_tokens=8, stop=None, batch_size=64):
        return replies

    seen = []

    def scores(model, tokenizer, prompt, cands):
        seen.append(prompt)
        # the candidate named right after the prompt wins, with probability ~0.9
        lp = torch.full((len(cands),), -5.0, dtype=torch.float64)
        k = 0 if "Ignored" in prompt else 3
        lp[k] = 0.0
        return lp

    monkeypatch.setattr(H, "greedy_complete", fake)
    monkeypatch.setattr(H, "candidate_logprobs", scores)
    s = H.answer_scores(model, tok, world, qas)
    # reply 0 keeps the other person's name; reply 1 (no marker) falls back to the true start
    assert seen[0].endswith(f"{other.name}'s favourite colour is")
    assert seen[1].endswith(f"{people[1].name}'s favourite colour is")
    cands = fact_candidates(world, "color")
    assert s.labels.tolist() == [cands.index(p.color) for p in people]
    assert s.predicted.tolist() == [3, 3, 3]
    assert s.correct.tolist() == [cands.index(p.color) == 3 for p in people]
    expected_conf = 1 / (1 + (len(cands) - 1) * torch.exp(torch.tensor(-5.0, dtype=torch.float64)))
    torch.testing.assert_close(s.confidence, expected_conf.repeat(3))
    assert s.temperature_confidence(1.0).tolist() == pytest.approx(s.confidence.tolist())
    assert (s.temperature_confidence(10.0) < s.confidence).all()  # a high temperature softens
    assert s.padded_logits().shape == (3, len(cands))
    with pytest.raises(ValueError, match="temperature"):
        s.temperature_confidence(0.0)


def test_answer_scores_on_a_real_model(setup):
    world, tok, model = setup
    qas = [world.qa(p, r) for p in world.people[:4] for r in ("birth_city", "job")]
    s = H.answer_scores(model, tok, world, qas, max_new_tokens=4)
    assert len(s.logits) == 8 and s.logits[0].shape == (len(world.towns),)
    assert ((s.confidence > 0) & (s.confidence <= 1)).all()
    assert 0 <= expected_calibration_error(s.confidence, s.correct) <= 1


def test_answer_scores_bad_input(setup):
    world, tok, model = setup
    with pytest.raises(ValueError, match="empty"):
        H.answer_scores(model, tok, world, [])
    with pytest.raises(ValueError, match="no answer candidates"):
        H.answer_scores(model, tok, world, [world.qa(world.people[0], "pet")])
    with pytest.raises(TypeError, match="QA"):
        H.answer_scores(model, tok, world, ["Where was X born?"])
    with pytest.raises(ValueError, match="prompts"):
        H.answer_scores(model, tok, world, [world.qa(world.people[0], "job")], prompts=["a", "b"])


def test_parse_reply(setup):
    world = setup[0]
    p = world.people[7]
    assert H.parse_reply(world, f" {p.name} was born in Nowhere.") is p
    assert H.parse_reply(world, f" {p.name}'s favourite food is pie.") is p
    assert H.parse_reply(world, " Zzzz Qqqq was born in X.") is None
    assert H.parse_reply(world, " I don't know.") is None
    with pytest.raises(TypeError, match="reply"):
        H.parse_reply(world, 3)


def test_passage_store_and_relevance(setup):
    world = setup[0]
    people = world.people[:40]
    passages, ids = H.passage_store(world, people)
    assert len(passages) == len(ids) and len(set(ids)) == len(ids)
    assert {i[0] for i in ids} == {p.id for p in people}
    for p in people[:10]:
        for rel in H.MARKERS:
            qa = world.qa(p, rel)
            relevant = H.relevant_passages(world, qa, passages, ids)
            assert relevant, (p.name, rel)
            for i in relevant:
                text = passages[ids.index(i)]
                assert p.name in text and any(a in text for a in qa.answers)
    # BM25 finds the birth sentence by the name and "born": recall@5 is high on this toy store
    bm = BM25().index(passages, ids)
    qas = [world.qa(p, "birth_city") for p in people]
    rec = [recall_at_k([i for i, _ in bm.search(q.question, 5)], H.relevant_passages(world, q, passages, ids), 5)
           for q in qas]
    assert sum(rec) / len(rec) > 0.8
    with pytest.raises(ValueError, match="people is empty"):
        H.passage_store(world, [])


def test_embed_texts_pools_real_tokens_only(setup):
    world, tok, model = setup
    texts = ["a short one", "a much longer text about " + world.people[0].name]
    emb = H.embed_texts(model, tok, texts)
    assert emb.shape == (2, model.config.n_embd)
    alone = H.embed_texts(model, tok, texts[:1])
    torch.testing.assert_close(emb[0], alone[0], atol=1e-5, rtol=0)  # padding changed nothing
    with pytest.raises(TypeError, match="non-empty list"):
        H.embed_texts(model, tok, "one text")
    with pytest.raises(ValueError, match="empty string"):
        H.embed_texts(model, tok, ["ok", ""])


def test_context_prompt_fits_and_keeps_the_question(setup):
    world, tok, model = setup
    q = "Where was Mara Tolley born?"
    passages = [world.biography(p, random.Random(0)) for p in world.people[:3]]
    prompt = H.context_prompt(q, passages, tok, 60)
    assert len(tok.encode(prompt)) <= 60
    assert prompt.endswith(f"Question: {q}<|end|><|assistant|>") and prompt.startswith("<|user|> Context:")
    with pytest.raises(ValueError, match="never cut"):
        H.context_prompt(q, passages, tok, 5)


def test_lora_finetune_changes_what_generation_says(setup):
    world, tok, model = setup
    import copy

    m = copy.deepcopy(model)
    qas = [world.qa(p, "job") for p in world.people[:8]]
    ex = H.idk_examples(tok, qas[:4], qas[4:])
    assert len(ex) == 8 and all(len(i) == len(t) for i, t in ex)
    before = H.idk_probability(m, tok, qas[4:])
    losses = H.lora_finetune(m, ex, steps=40, lr=3e-2, r=4, batch_size=8)
    assert sum(losses[-5:]) / 5 < sum(losses[:5]) / 5 - 0.1  # a random 32-wide model learns slowly
    after = H.idk_probability(m, tok, qas[4:])
    assert after.mean() > before.mean()
    # merged: the cached generation path (which reads the weights) agrees with the plain forward
    from minillm.evaluate import greedy_complete

    prompt = chat_prompt(qas[5].question)
    ids = torch.tensor([tok.encode(prompt)])
    with torch.no_grad():
        plain = m(ids)[0][0, -1].argmax().item()
    assert greedy_complete(m, tok, [prompt], 1) == [tok.decode([plain])]
    H.lora_finetune(m, ex, steps=2, lr=1e-3, r=4, batch_size=8)  # trains the same adapters again
    with pytest.raises(ValueError, match="steps"):
        H.lora_finetune(m, ex, steps=0)


def test_context_examples_mask_everything_but_the_answer(setup):
    world, tok, model = setup
    qas = [world.qa(p, "food") for p in world.people[:3]]
    ex = H.context_examples(tok, world, qas, lambda q: ["Some context."], 80)
    for (_ids, tgt), q in zip(ex, qas):
        learned = [t for t in tgt if t != -100]
        assert tok.decode(learned).strip() == q.answer + "<|end|>"
    with pytest.raises(TypeError, match="passages_for"):
        H.context_examples(tok, world, qas, ["not callable"], 80)


def test_reading_examples_always_show_an_answering_passage(setup):
    world, tok, model = setup
    people = world.people[:20]
    passages, ids = H.passage_store(world, people)
    bm = BM25().index(passages, ids)
    qas = [world.qa(p, r) for p in people for r in ("birth_city", "job", "color", "food", "birth_year")]
    memory = [world.qa(p, "job") for p in world.people[20:23]]
    ex = H.reading_examples(tok, world, qas, bm, passages, ids, 90, k=1, memory_qas=memory, memory_share=0.2)
    n_mem = round(len(qas) * 0.2 / 0.8)
    assert len(ex) == len(qas) + n_mem
    texts = [tok.decode(i + [t[-1]]) for i, t in ex]
    with_context = [t for t in texts if "Context:" in t]
    assert len(with_context) == len(qas)
    for q in qas:  # k=1: BM25 often misses, then an answering passage replaces its hit
        t = next(t for t in with_context if f"Question: {q.question}<|end|>" in t and t.endswith(q.answer + "<|end|>"))
        context = t.split("Context:")[1].split("Question:")[0]
        assert q.answers[0] in context and world.people[q.person].name in context
    for i, tgt in ex:  # the loss is on the answer only
        assert len(i) == len(tgt) and tok.decode([x for x in tgt if x != -100]).endswith("<|end|>")
    mixed = H.reading_examples(tok, world, qas, bm, passages, ids, 400, k=[1, 4], seed=1)  # nothing cut
    shown = {t.split("Context:")[1].split("Question:")[0].count(".") for t in (tok.decode(i) for i, _ in mixed)}
    assert shown == {1, 4}  # each example draws its number of passages from k
    with pytest.raises(ValueError, match="k is an empty list"):
        H.reading_examples(tok, world, qas, bm, passages, ids, 90, k=[])
    with pytest.raises(ValueError, match="no passage answers"):
        H.reading_examples(tok, world, [world.qa(world.people[50], "job")], bm, passages, ids, 90)
    with pytest.raises(TypeError, match="index"):
        H.reading_examples(tok, world, qas, "bm25", passages, ids, 90)
    with pytest.raises(ValueError, match="k"):
        H.reading_examples(tok, world, qas, bm, passages, ids, 90, k=0)


def test_finetune_examples_learns_the_answers(setup):
    world, tok, model = setup
    import copy

    m = copy.deepcopy(model)
    qas = [world.qa(p, "job") for p in world.people[:4]]
    ex = [H._encode_turn(tok, chat_prompt(q.question), q.answer) for q in qas]
    before = [p.detach().clone() for p in m.parameters()]
    losses = H.finetune_examples(m, ex, steps=60, lr=1e-2, batch_size=4, warmup=5)
    assert len(losses) == 60 and sum(losses[-5:]) / 5 < 0.5 * sum(losses[:5]) / 5
    assert all(not torch.equal(a, b) for a, b in zip(before, m.parameters()))  # a full fine-tune
    assert not m.training
    with pytest.raises(ValueError, match="steps"):
        H.finetune_examples(m, ex, steps=0)
    with pytest.raises(ValueError, match="lr"):
        H.finetune_examples(m, ex, lr=0.0)


def test_abstention_examples_answer_known_people_and_idk_strangers(setup):
    world, tok, model = setup
    known, unknown = world.people[:3], world.people[3:5]
    ex = H.abstention_examples(tok, world, known, unknown, relations=("job", "food"), phrasings=2)
    assert len(ex) == 2 * (3 + 2) * 2
    replies = {}
    for ids, tgt in ex:
        assert len(ids) == len(tgt)
        prompt = tok.decode([i for i, t in zip(ids, tgt) if t == -100])
        reply = tok.decode([t for t in tgt if t != -100]).strip()
        replies.setdefault(reply == H.IDK + "<|end|>", []).append(prompt)
    # every question about a stranger is answered "I don't know.", every other with its answer
    assert len(replies[True]) == 2 * 2 * 2 and all(any(p.name in q for p in unknown) for q in replies[True])
    assert all(any(p.name in q for p in known) for q in replies[False])
    phrasings = {tok.decode(ids) for ids, _ in ex}
    assert len(phrasings) > len(ex) // 2  # two draws of the phrasing, not the same prompt twice
    with pytest.raises(ValueError, match="share 1 people"):
        H.abstention_examples(tok, world, known, [world.people[0]])
    with pytest.raises(ValueError, match="unknown_people is empty"):
        H.abstention_examples(tok, world, known, [])
    with pytest.raises(TypeError, match="known_people\\[0\\]"):
        H.abstention_examples(tok, world, ["Ann Smith"], unknown)
    with pytest.raises(ValueError, match="relations holds 'age'"):
        H.abstention_examples(tok, world, known, unknown, relations=("job", "age"))
    with pytest.raises(ValueError, match="phrasings"):
        H.abstention_examples(tok, world, known, unknown, phrasings=0)


def test_build_abstainer_learns_to_say_idk_and_leaves_the_model(setup):
    world, tok, model = setup
    known, unknown = world.people[:4], world.people[4:8]
    before = [p.detach().clone() for p in model.parameters()]
    qas = [world.qa(p, "job") for p in unknown]
    p0 = H.idk_probability(model, tok, qas)
    m, losses = H.build_abstainer(model, tok, world, known, unknown, relations=("job",), steps=40, lr=1e-2,
                                  batch_size=8, warmup=2)
    assert len(losses) == 40 and sum(losses[-5:]) / 5 < 0.5 * sum(losses[:5]) / 5
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))  # a copy was trained
    # a random 32-wide model learns slowly: P(I don't know) rises by orders of magnitude, not to 1
    assert (H.idk_probability(m, tok, qas).log() - p0.log()).mean() > 10
    with pytest.raises(ValueError, match="steps"):
        H.build_abstainer(model, tok, world, known, unknown, steps=0)


def test_abstention_score_zeroes_idk_replies():
    s = H.AnswerScores([], torch.tensor([0, 1, 2]), torch.tensor([0, 1, 1]), torch.tensor([0.9, 0.8, 0.7],
                       dtype=torch.float64), torch.tensor([True, True, False]),
                       [" Ann works as a baker.", " I don't know.", " Ann was born in Oxby."])
    torch.testing.assert_close(H.abstention_score(s), torch.tensor([0.9, 0.0, 0.7], dtype=torch.float64))
    with pytest.raises(TypeError, match="AnswerScores"):
        H.abstention_score([0.9, 0.8])


def test_fact_documents_count_repeats_and_reversal(setup):
    world = setup[0]
    people = [p for p in world.train_people if p.mother is not None][:5]
    docs = H.fact_documents(world, people, [1, 2, 3, 4, 5])
    assert len(docs) == 15
    for k, p in enumerate(people):
        assert sum(p.name + " was born" in d for d in docs) == k + 1
        assert sum(f"{p.name}'s mother is {world.people[p.mother].name}." in d for d in docs) == k + 1
    mother = world.people[people[0].mother]
    assert not any(d.startswith(mother.name + "'s") or f" {mother.name}'s" in d for d in docs)
    rev = H.fact_documents(world, people, 2, reverse=True)
    word = "daughter" if people[0].gender == "female" else "son"
    assert sum(f"{mother.name}'s {word} is {people[0].name}." in d for d in rev) == 2
    with pytest.raises(ValueError, match="repeats has"):
        H.fact_documents(world, people, [1, 2])
    with pytest.raises(ValueError, match="repeats"):
        H.fact_documents(world, people, 0)


def test_train_tiny_learns_and_choice_accuracy(setup):
    world, tok, _ = setup
    people = world.people[:4]
    docs = H.fact_documents(world, people, 30)
    model, losses = H.train_tiny(docs, tok, steps=60, n_layer=1, n_embd=32, block_size=32)
    assert losses[-1] < losses[0] / 2
    towns = [world.town(p).name for p in people]
    acc = H.choice_accuracy(model, tok, [f"{p.name} was born in" for p in people], sorted(set(towns)), towns)
    assert acc.dtype == torch.bool and acc.shape == (4,)
    with pytest.raises(ValueError, match="not among"):
        H.choice_accuracy(model, tok, ["x"], ["a"], ["b"])
    with pytest.raises(TypeError, match="docs"):
        H.train_tiny("one doc", tok)
