"""Chapter 9's evaluation (minillm.suite): the task suite, the scorers, the report card,
pairwise comparison with judges, and contamination; with bad input (a judge that only ties, an
empty vote list)."""

import math
import random

import pytest
import torch

import minillm.suite as ev
from minillm import ratings
from minillm.bigram import BigramModel
from minillm.model import GPT, GPTConfig
from minillm.tokenizer import BPETokenizer
from minillm.world import World


@pytest.fixture(scope="module")
def suite():
    return ev.task_suite(n=6, seed=0)


@pytest.fixture(scope="module")
def tiny():
    world = World(0)
    text = " ".join(world.biography(p, random.Random(p.id)) for p in world.people[:200])
    tok = BPETokenizer().train(text, 350)
    torch.manual_seed(0)
    model = GPT(GPTConfig.preset("tiny", vocab_size=tok.vocab_size, block_size=32, n_layer=1,
                                 n_head=2, n_embd=32, pos="rope")).eval()
    return world, tok, model, text


@pytest.fixture(scope="module")
def bigram(tiny, suite):
    extra = "".join(t if isinstance(t, str) else t.prompt + " ".join(t.choices)
                    for task in suite.values() for t in task.items)
    return BigramModel.fit(tiny[3] + "\n\n0123456789:'" + extra)


class Oracle(ev.BigramScorer):
    """A scorer that knows every answer (``right=True``) or always says something wrong."""

    def __init__(self, bigram, tasks, right=True):
        super().__init__(bigram)
        self.right = right
        self.answers = {it.prompt: it.answer for t in tasks.values() if t.metric != "bpb" for it in t.items}

    def complete(self, prompts, max_new_tokens, stop=None):
        if not self.right:
            return [" nothing." for _ in prompts]
        out = []
        for p in prompts:
            a = self.answers[p]
            out.append(f" Step. The answer is {a}." if a.isdigit() else f" {a}.")
        return out

    def logprobs(self, prompt, continuations):
        good = " " + self.answers[prompt].strip()
        hit = [float(c.strip() == good.strip()) for c in continuations]
        return torch.tensor(hit if self.right else [-h for h in hit])


def test_suite_is_fixed_and_well_formed(suite):
    again = ev.task_suite(n=6, seed=0)
    assert list(suite) == list(again)
    assert [it.prompt for it in suite["facts_in"].items] == [it.prompt for it in again["facts_in"].items]
    assert ev.task_suite(n=6, seed=1)["facts_in"].items != suite["facts_in"].items
    for name, t in suite.items():
        assert t.metric in ev.METRICS and t.items, name
        if t.metric == "choice":
            for it in t.items:
                assert it.answer in it.choices and len(set(it.choices)) == len(it.choices), (name, it)
            assert 0 < t.chance < 1
    assert len(suite["facts_in"].items) == 4 * 6  # 4 relations per person
    # held-out people's prompts name people who are not held in
    from minillm.zoo import course_people

    cast = {p.name for p in course_people("tinyworld")["held_in"]}
    assert all(it.prompt.split(" was born")[0] not in cast for it in suite["facts_out"].items)
    # the reversed facts ask the parent about the child
    for f, b in zip(suite["parents"].items, suite["reversal"].items):
        assert f.prompt.startswith(b.answer) and b.prompt.startswith(f.answer)
    # sentiment items: the stars are cut off, the label decides the answer
    assert all("out of 5" not in it.prompt for it in suite["sentiment_mc"].items)
    with pytest.raises(ValueError, match="n must be"):
        ev.task_suite(n=0)


def test_held_out_text_is_not_in_the_training_text(suite):
    from minillm.data import corpus

    train = corpus("tinyworld", size="small").train
    for text in suite["heldout_bpb"].items:
        assert text not in train


def test_scores_of_an_oracle_and_of_a_wrong_model(suite, bigram):
    right, wrong = Oracle(bigram, suite), Oracle(bigram, suite, right=False)
    for name, t in suite.items():
        if t.metric == "bpb":
            continue
        assert ev.score_task(right, t) == 1.0, name
        assert ev.score_task(wrong, t) == 0.0, name
    assert ev.score_task(right, suite["sentiment_mc"], per_item=True) == [1] * len(suite["sentiment_mc"].items)
    assert ev.score_task(wrong, suite["arithmetic"], per_item=True) == [0] * len(suite["arithmetic"].items)
    with pytest.raises(ValueError, match="no per-item hits"):
        ev.score_task(right, suite["heldout_bpb"], per_item=True)
    with pytest.raises(TypeError, match="task must be a Task"):
        ev.score_task(right, "facts_in")


def test_chat_scorer_is_asked_questions(suite, tiny, monkeypatch):
    _, tok, model, _ = tiny
    chat = ev.GPTScorer(model, tok, chat=True)
    seen = []

    def fake(prompts, max_new_tokens, stop=None):
        seen.extend(prompts)
        return [f"It is {it.accept[0]}." for it in suite["facts_in"].items]

    monkeypatch.setattr(chat, "complete", fake)
    assert ev.score_task(chat, suite["facts_in"]) == 1.0
    assert all(p.startswith("<|user|> ") and p.endswith("<|assistant|>") for p in seen)


def test_bigram_bits_per_byte_equals_bits_per_char(bigram):
    texts = ["Mara was born in a town.", "The cat sat."]
    got = ev.BigramScorer(bigram).bits_per_byte(texts)
    total = sum(bigram.bits_per_char("\n\n" + t) * (len(t) + 1) for t in texts)
    assert got == pytest.approx(total / sum(len(t) + 1 for t in texts), rel=1e-5)


def test_gpt_bits_per_byte_by_hand(tiny):
    _, tok, model, _ = tiny
    text = "Mara was born in the town."
    ids = tok.encode("\n\n" + text)
    assert len(ids) <= model.config.block_size
    with torch.no_grad():
        logp = torch.log_softmax(model(torch.tensor([ids]))[0][0], -1)
    bits = -sum(float(logp[i - 1, ids[i]]) for i in range(1, len(ids))) / math.log(2)
    nbytes = len(("\n\n" + text).encode()) - len(tok.decode(ids[:1]).encode())
    assert ev.GPTScorer(model, tok).bits_per_byte([text]) == pytest.approx(bits / nbytes, rel=1e-4)
    # a text longer than the context is read in windows: every token counted once, finite
    long = " ".join(["Mara was born in the town of Linby and she works as a baker."] * 8)
    assert len(tok.encode(long)) > 2 * model.config.block_size
    bpb = ev.GPTScorer(model, tok).bits_per_byte([long])
    assert math.isfinite(bpb) and bpb > 0
    with pytest.raises(TypeError, match="texts must be a list"):
        ev.GPTScorer(model, tok).bits_per_byte("one text")


def test_report_card_table_and_plot(suite, tiny, bigram):
    _, tok, model, _ = tiny
    small = {k: suite[k] for k in ("facts_in_mc", "sentiment_mc", "heldout_bpb")}
    card = ev.report_card({"bigram": bigram, "gpt": (model, tok)}, small)
    assert set(card.scores) == {"bigram", "gpt"} and set(card.scores["gpt"]) == set(small)
    assert 0 <= card.scores["gpt"]["facts_in_mc"] <= 1 and card.scores["bigram"]["heldout_bpb"] > 0
    assert "bigram" in card.table() and "(chance)" in card.table()
    import matplotlib

    matplotlib.use("Agg")
    fig = card.plot()
    assert len(fig.axes) == 2
    with pytest.raises(TypeError, match="models must be a non-empty dict"):
        ev.report_card({}, small)
    with pytest.raises(TypeError, match="model must be a course model name"):
        ev.report_card({"x": 3}, small)
    with pytest.raises(ValueError, match="neither a course model"):
        ev.as_scorer("no-such-model")


# --- pairwise comparison ---------------------------------------------------------------------


def quality(prompt, answer):
    return {"good": 2.0, "ok": 1.0, "bad": 0.0}[answer]


ANSWERS = {"A": ["good"] * 12, "B": ["ok"] * 12, "C": ["bad"] * 12}
PROMPTS = [f"q{i}" for i in range(12)]


def test_matches_and_leaderboard_rank_the_better_player_first():
    judge = ev.score_judge(quality, temperature=1.0, seed=0)
    votes = ev.play_matches(ANSWERS, PROMPTS, judge, rounds=3)
    assert len(votes) == 3 * 3 * 12
    rows = ev.leaderboard(votes, n_boot=50)
    assert [r["player"] for r in rows] == ["A", "B", "C"]
    for r in rows:
        assert r["low"] <= r["bt"] <= r["high"] and r["games"] == 2 * 3 * 12
    assert sum(r["bt"] for r in rows) / 3 == pytest.approx(1000)
    elo = ratings.elo_ratings(votes, k=16)
    assert {r["player"]: r["elo"] for r in rows} == pytest.approx(elo)


def test_position_bias_is_measured_and_corrected():
    biased = ev.score_judge(quality, temperature=0.0, first_bias=0.6, seed=1)
    pairs = [(("q", "good"), ("q", "ok")), (("q", "ok"), ("q", "bad")), (("q", "good"), ("q", "bad"))] * 40
    bias = ratings.position_bias(biased, pairs)
    assert bias["first_rate"] > 0.7  # 0.5 for a fair judge
    fair = ratings.position_bias(ev.score_judge(quality), pairs)
    assert fair["first_rate"] == 0.5 and fair["consistency"] == 1.0
    # shown first every time, the worse player wins often; asked both ways it never wins
    first = [("C", "A", ratings._verdict(biased, ("q", "bad"), ("q", "good"))) for _ in range(200)]
    assert sum(v for *_, v in first) / 200 > 0.4
    both = ev.play_matches({"C": ["bad"] * 50, "A": ["good"] * 50}, [f"q{i}" for i in range(50)], biased,
                           both_ways=True)
    assert all(v <= 0.5 for *_, v in both) and sum(v == 0 for *_, v in both) > 10


def test_bad_input_ties_only_and_empty_votes():
    ties = ev.score_judge(lambda p, a: 0.0)
    with pytest.raises(ValueError, match="only ties"):
        ev.play_matches(ANSWERS, PROMPTS, ties)
    with pytest.raises(ValueError, match="only ties"):
        ratings.position_bias(ties, [(("q", "a"), ("q", "b"))])
    with pytest.raises(ValueError, match="every vote is a tie"):
        ev.leaderboard([("A", "B", 0.5), ("B", "C", 0.5)])
    with pytest.raises(ValueError, match="matches is empty"):
        ev.leaderboard([])
    with pytest.raises(ValueError, match="judge returned"):
        ev.play_matches(ANSWERS, PROMPTS, lambda a, b: "first")
    with pytest.raises(ValueError, match="answers\\['A'\\] has 1 answers"):
        ev.play_matches({"A": ["x"], "B": ["y", "z"]}, ["p", "q"], ev.score_judge(quality))
    with pytest.raises(ValueError, match="at least two players"):
        ev.play_matches({"A": ["x"]}, ["p"], ev.score_judge(quality))
    with pytest.raises(ValueError, match="first_bias"):
        ev.score_judge(quality, first_bias=1.5)
    with pytest.raises(TypeError, match="score_fn must be a function"):
        ev.score_judge("good")


def test_reward_model_judge(tiny):
    from minillm.rlhf import RewardModel

    _, tok, model, _ = tiny
    rm = RewardModel(model, tok)
    judge = ev.reward_model_judge(rm)
    a, b = ("Where was Mara born?", "In Linby."), ("Where was Mara born?", "A cat.")
    r = rm.rewards([a[0], b[0]], [a[1], b[1]])
    assert judge(a, b) == float(r[0] > r[1])
    with pytest.raises(TypeError, match="RewardModel"):
        ev.reward_model_judge(model)


def test_answer_questions_formats(tiny, monkeypatch):
    _, tok, model, _ = tiny
    seen = []
    for chat in (False, True):
        s = ev.GPTScorer(model, tok, chat=chat)
        monkeypatch.setattr(s, "complete", lambda prompts, n, stop=None: seen.append((prompts[0], stop)) or [" x "])
        assert ev.answer_questions(s, ["Who?"]) == ["x"]
    assert seen == [("Question: Who?\nAnswer:", "\n"), ("<|user|> Who?<|end|><|assistant|>", "<|end|>")]


# --- contamination ---------------------------------------------------------------------------


def test_ngram_overlap_by_hand():
    corpus = "the cat sat on the mat. a dog ran."
    assert ev.ngrams("The cat, sat!", 2) == {("the", "cat"), ("cat", "sat")}
    got = ev.ngram_overlap(["the cat sat on a mat", "a dog ran", "zebra"], corpus, n=3)
    # "the cat sat", "cat sat on" seen; "sat on a", "on a mat" not -> 2/4
    assert got == [0.5, 1.0, 0.0]
    with pytest.raises(TypeError, match="items must be a list"):
        ev.ngram_overlap("the cat", corpus)
    with pytest.raises(TypeError, match="corpus_text must be a str"):
        ev.ngram_overlap(["the cat"], ["the cat"])
    with pytest.raises(ValueError, match="n must be"):
        ev.ngrams("a b", 0)


def test_contaminate_memorises_the_leak_and_leaves_the_original(tiny):
    _, tok, model, _ = tiny
    before = {k: v.clone() for k, v in model.state_dict().items()}
    leak = ["Zorp works as a baker.", "Quib loves the colour teal."]
    leaked = ev.contaminate(model, tok, leak, steps=30, lr=3e-3)
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k]), k
    s0, s1 = ev.GPTScorer(model, tok), ev.GPTScorer(leaked, tok)
    assert s1.bits_per_byte(leak) < 0.5 * s0.bits_per_byte(leak)
    with pytest.raises(ValueError, match="texts is empty"):
        ev.contaminate(model, tok, [])


def test_contaminate_with_replay(tiny):
    _, tok, model, text = tiny
    leak = ["Zorp works as a baker."]
    leaked = ev.contaminate(model, tok, leak, steps=20, lr=3e-3, batch_size=4, replay=[text[:200], text[200:400]])
    assert ev.GPTScorer(leaked, tok).bits_per_byte(leak) < ev.GPTScorer(model, tok).bits_per_byte(leak)
    with pytest.raises(ValueError, match="replay is empty"):
        ev.contaminate(model, tok, leak, replay=[])
    with pytest.raises(TypeError, match="replay must be a list"):
        ev.contaminate(model, tok, leak, replay="text")


def test_bad_input_tasks_and_scorers(tiny):
    _, tok, model, _ = tiny
    with pytest.raises(ValueError, match="metric 'accuracy' is not one of"):
        ev.Task("t", "accuracy", [ev.Item("p", "a")], 0.0)
    with pytest.raises(ValueError, match="Task 't' has no items"):
        ev.Task("t", "exact", [], 0.0)
    with pytest.raises(TypeError, match="chat must be True or False"):
        ev.GPTScorer(model, tok, chat="yes")
    with pytest.raises(TypeError, match="model must be a minillm GPT"):
        ev.GPTScorer("gpt", tok)
    with pytest.raises(TypeError, match="bigram must be a minillm BigramModel"):
        ev.BigramScorer(model)
    with pytest.raises(ValueError, match="no course model called 'nope'"):
        ev.task_suite(name="nope")
    with pytest.raises(ValueError, match="steps"):
        ev.contaminate(model, tok, ["a leak"], steps=0)
    with pytest.raises(TypeError, match="per_item must be True or False"):
        ev.score_task((model, tok), ev.Task("t", "exact", [ev.Item("p", "a")], 0.0), per_item="yes")
    with pytest.raises(TypeError, match="n must be an int"):
        ev.leaderboard([("A", "B", 1), ("B", "A", 0.5)], n_boot=2.5)


def test_one_call_evaluates_a_model_folder(tiny, suite, tmp_path):
    _, tok, model, _ = tiny
    model.save(tmp_path / "m")
    tok.save(tmp_path / "m" / "tokenizer.json")
    small = {"facts_in_mc": suite["facts_in_mc"]}
    card = ev.report_card({"folder": tmp_path / "m", "pair": (model, tok)}, small)
    assert card.scores["folder"] == card.scores["pair"]
    chatty = tmp_path / "tiny-chat-v1"
    model.save(chatty)
    tok.save(chatty / "tokenizer.json")
    assert ev.as_scorer(str(chatty)).chat and not ev.as_scorer(tmp_path / "m").chat


def test_a_folder_is_a_chat_model_when_its_recipe_says_so(tiny, tmp_path):
    """recipe.json's "chat" decides (the aligned model's name does not end in -chat); a damaged
    recipe.json is named in the error."""
    import json

    _, tok, model, _ = tiny
    for name, info, chat in (("aligned-v1", {"chat": True}, True), ("plain-chat-v1", {"chat": False}, False),
                             ("base-v1", {}, False)):
        folder = tmp_path / name
        model.save(folder)
        tok.save(folder / "tokenizer.json")
        (folder / "recipe.json").write_text(json.dumps(info))
        assert ev.as_scorer(folder).chat is chat, name
    (tmp_path / "base-v1" / "recipe.json").write_text("[1, 2")
    with pytest.raises(ValueError, match="recipe.json is not valid JSON"):
        ev.as_scorer(tmp_path / "base-v1")
