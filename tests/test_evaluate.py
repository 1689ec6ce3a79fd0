"""The fact evaluation (minillm.evaluate): greedy batches equal one-at-a-time decoding, the
log-probabilities equal a hand computation, and the scores reject wrong answers."""

import random

import pytest
import torch

import minillm.evaluate as ev
from minillm.model import GPT, GPTConfig
from minillm.tokenizer import END, BPETokenizer
from minillm.world import World


@pytest.fixture(scope="module")
def setup():
    world = World(0)
    text = " ".join(world.biography(p, random.Random(p.id)) for p in world.people[:300])
    tok = BPETokenizer().train(text, 400)
    torch.manual_seed(0)
    model = GPT(GPTConfig.preset("tiny", vocab_size=tok.vocab_size, block_size=96, n_layer=1,
                                 n_head=2, n_embd=32, pos="rope")).eval()
    return world, tok, model


def test_greedy_batches_equal_one_prompt_at_a_time(setup):
    world, tok, model = setup
    prompts = [ev.FACT_PROMPTS["job"].format(name=p.name) for p in world.people[:6]]
    batched = ev.greedy_complete(model, tok, prompts, 5)
    for p, b in zip(prompts, batched):
        ids = torch.tensor([tok.encode(p)])
        one = model.generate(ids, 5, temperature=0)[0, ids.size(1):].tolist()
        assert b == tok.decode(one)
    with pytest.raises(TypeError, match="list of strings"):
        ev.greedy_complete(model, tok, "one prompt", 3)
    with pytest.raises(ValueError, match="prompt 0 is empty"):
        ev.greedy_complete(model, tok, [""], 3)


def test_continuation_logprobs_by_hand(setup):
    _, tok, model = setup
    prompt, conts = "Mara was born in the town of", [" Brookford", " Linby", " a"]
    got = ev.continuation_logprobs(model, tok, prompt, conts)
    for c, g in zip(conts, got):
        n = len(tok.encode(prompt))  # prompt and continuation are encoded apart
        full = tok.encode(prompt) + tok.encode(c)
        logp = torch.log_softmax(model(torch.tensor([full]))[0][0], -1)
        want = sum(logp[i - 1, full[i]] for i in range(n, len(full)))
        torch.testing.assert_close(g, want, atol=1e-4, rtol=1e-4)


def test_exact_match_accepts_the_fact_and_rejects_others():
    assert ev._starts_with_answer(" Brookford in 1950.", "Brookford")
    assert ev._starts_with_answer(" a baker.", "a baker")
    assert not ev._starts_with_answer(" a bakery.", "a baker")  # a longer word is not the fact
    assert not ev._starts_with_answer(" Linby.", "Brookford")


def test_fact_scores_count_right_answers(setup, monkeypatch):
    world, tok, model = setup
    people = world.train_people[:10]

    def oracle(model, tokenizer, prompts, max_new_tokens=8, stop=None, batch_size=64):
        out = []
        for pr in prompts:
            p = next(q for q in people if pr.startswith(q.name))
            rel = next(r for r, t in ev.FACT_PROMPTS.items() if t.format(name=p.name) == pr)
            right = ev.fact_answer(world, p, rel)
            out.append(" " + (right if p.id % 2 == 0 else "nobody") + ".")
        return out

    monkeypatch.setattr(ev, "greedy_complete", oracle)
    s = ev.fact_completion(model, tok, world, people, choice=False)
    want = sum(p.id % 2 == 0 for p in people) / len(people)
    assert s.exact == {r: want for r in ev.FACT_PROMPTS}
    assert s.chance["birth_city"] == 1 / len(world.towns)
    with pytest.raises(ValueError, match="relation 'age' has no fact prompt"):
        ev.fact_completion(model, tok, world, people, ["age"])
    with pytest.raises(ValueError, match="people is empty"):
        ev.fact_completion(model, tok, world, [])


def test_qa_scores(setup, monkeypatch):
    world, tok, model = setup
    qas = [world.qa(p, "job") for p in world.train_people[:4]]
    replies = [qas[0].answer, qas[1].answer.replace(".", "!"), "I do not know.",
               f"{qas[3].answer}"]

    def fake(model, tokenizer, prompts, max_new_tokens=8, stop=None, batch_size=64):
        assert stop == END and all(p.startswith("<|user|>") and p.endswith("<|assistant|>") for p in prompts)
        return replies

    monkeypatch.setattr(ev, "greedy_complete", fake)
    s = ev.qa_accuracy(model, tok, qas)
    assert s.exact == 0.5 and s.contains == 0.75 and s.by_relation == {"job": 0.5}
    with pytest.raises(ValueError, match="qas is empty"):
        ev.qa_accuracy(model, tok, [])
