"""Tests for minillm.reasoning and the tool-calling loop minillm.tools.generate_with_tools (chapter 12).

The loop is tested twice: with a scripted stand-in for the engine (so each interception, the
inserted result, the token budget and the call limit are known exactly, and the model can write
malicious calls), and end to end with a real GPT. The scratchpad is checked against Python's
own addition, and the self-consistency grading against hand-counted votes.
"""

from __future__ import annotations

import math
import os
import random

import pytest
import torch

import minillm.generate as gen_mod
from minillm.generate import Generation
from minillm.model import GPT, GPTConfig
from minillm.reasoning import (
    ALPHABET,
    MODES,
    ArithmeticProblem,
    ArithmeticReward,
    accuracy,
    char_tokenizer,
    column_addition,
    compare_formats,
    extract_answer,
    make_problem,
    make_problems,
    solve,
    train_arithmetic_model,
    training_examples,
)
from minillm.tokenizer import ByteTokenizer
from minillm.tools import generate_with_tools
from minillm.world import World


@pytest.fixture(scope="module")
def world():
    return World(0)


def test_column_addition_steps_are_true_and_give_the_sum():
    rng = random.Random(0)
    for _ in range(300):
        a, b = rng.randint(0, 10**rng.randint(1, 6)), rng.randint(0, 10**rng.randint(1, 6))
        pad = column_addition(a, b)
        head, steps = pad.split(": ")
        assert head == f"{a}+{b}"
        digits, carry = [], 0
        for i, step in enumerate(steps.rstrip(".").split(" ")):
            lhs, rhs = step.split("=")
            terms = [int(t) for t in lhs.split("+")]
            assert sum(terms) == int(rhs), step  # every step is a true equation
            col = [int(s[::-1][i]) for s in (str(a), str(b)) if i < len(s)]
            assert terms == col + ([carry] if carry else []), (a, b, step)
            carry = int(rhs) // 10
            digits.append(int(rhs) % 10)
        assert int(str(carry or "") + "".join(map(str, digits[::-1]))) == a + b
    assert column_addition(4821, 3977) == "4821+3977: 1+7=8 2+7=9 8+9=17 4+3+1=8."


def test_problems_and_formats(world):
    ps = make_problems(world, 50, [2, 4], seed=3)
    assert ps == make_problems(world, 50, [2, 4], seed=3)  # seeded
    assert {p.digits for p in ps} == {2, 4}
    names = {p.first for p in world.train_people}
    for p in ps:
        assert len(str(p.a)) == p.digits and len(str(p.b)) == p.digits
        assert str(p.a) in p.question and str(p.b) in p.question
        assert p.question.split(" ")[0] in names
        for mode in MODES:
            text = p.prompt(mode) + p.target(mode)
            assert set(text) <= set(ALPHABET)
            assert extract_answer(p.target(mode)) == p.a + p.b
    p = ArithmeticProblem("q", 12, 30, 2)
    assert p.target("tool") == " <calc>12+30</calc><result>42</result> Answer: 42\n"
    assert p.prompt("scratchpad") == "q\nWork:"


def test_training_examples_mask_prompt_and_tool_result(world):
    tok = char_tokenizer()
    p = make_problems(world, 1, 3, seed=0)[0]
    (ids, tgt), = training_examples(tok, [p], modes="tool")
    full = p.prompt("tool") + p.target("tool")
    assert tok.decode(ids) == full[:-1] and len(ids) == len(tgt)
    learned = "".join(full[i + 1] if t >= 0 else "_" for i, t in enumerate(tgt))
    assert all(t == -100 or t == tok.encode(full[i + 1])[0] for i, t in enumerate(tgt))
    n_prompt = len(p.prompt("tool"))
    assert learned[: n_prompt - 1] == "_" * (n_prompt - 1)  # no loss on the problem
    assert f"<calc>{p.a}+{p.b}</calc>" in learned  # the call is learned
    assert str(p.answer) not in learned.split("</calc>")[1].split("Answer:")[0]  # the result is not
    assert learned.endswith(f"Answer: {p.answer}\n")


def test_extract_answer_and_vote_grading():
    assert extract_answer(" 12+30: 2+0=2 1+3=4. Answer: 42") == 42
    assert extract_answer("Answer: 1 Answer: 7") == 7
    assert extract_answer("no number") is None
    p = ArithmeticProblem("q", 20, 22, 2)
    outs = [[" Answer: 41", " Answer: 42", " Answer: 42", "junk", " Answer: 7"]]
    assert accuracy([p], outs) == 0.0  # the first sample alone is wrong
    assert accuracy([p], outs, vote=3) == 1.0  # 42 wins two to one
    assert accuracy([p], [["junk", "junk", " Answer: 42"]], vote=3) == 1.0  # no-number answers never win
    assert accuracy([p], [[" Answer: 41", " Answer: 42"]], vote=2) == 0.0  # a tie goes to the first


class Scripted:
    """Stands in for minillm.generate.generate: each row replays a script, chunk by chunk, and
    records the texts it was asked to continue."""

    def __init__(self, scripts):
        self.scripts = {k: list(v) for k, v in scripts.items()}
        self.seen = []

    def __call__(self, model, prompts, tokenizer, *, max_new_tokens, stop, **kw):
        ids, texts, reasons = [], [], []
        for p in prompts:
            self.seen.append(p)
            key = next(k for k in self.scripts if p.startswith(k))
            chunk = self.scripts[key].pop(0)[:max_new_tokens]
            cut = min((i for i in (chunk.find(s) for s in stop) if i >= 0), default=-1)
            end = cut + len(next(s for s in stop if chunk.startswith(s, cut))) if cut >= 0 else len(chunk)
            ids.append(tokenizer.encode(chunk[:end]))
            texts.append(chunk[:cut] if cut >= 0 else chunk)
            reasons.append("stop" if cut >= 0 else "length")
        return Generation(ids, texts, [[0.0] * len(i) for i in ids], reasons, [])


@pytest.fixture
def tiny():
    tok = char_tokenizer()
    torch.manual_seed(0)
    return GPT(GPTConfig.preset("tiny", vocab_size=tok.vocab_size, block_size=512)), tok


def test_tool_loop_intercepts_and_inserts(monkeypatch, tiny):
    model, _ = tiny
    tok = ByteTokenizer()  # the script writes "*", "(" and ")"
    fake = Scripted({"A:": [" <calc>12+30</calc>", " so 42 <calc>2*(3+4)</calc>", " done\nignored"],
                     "B:": [" Answer: 5\nmore"]})
    monkeypatch.setattr(gen_mod, "generate", fake)
    out = generate_with_tools(model, tok, ["A:", "B:"], max_new_tokens=60, stop="\n")
    assert out == [" <calc>12+30</calc><result>42</result> so 42 <calc>2*(3+4)</calc><result>14</result> done",
                   " Answer: 5"]
    # the model continued from its own text plus the tool's result
    assert "A: <calc>12+30</calc><result>42</result>" in fake.seen
    assert len(fake.seen) == 4


def test_tool_loop_refuses_malicious_calls(monkeypatch, tiny, tmp_path):
    model, tok = tiny
    target = tmp_path / "pwned"
    attack = f"__import__('os').system('touch {target}')"
    fake = Scripted({"A:": [f" <calc>{attack}</calc>", " <calc>9**9**9</calc>", " <calc>[x for x in ()]</calc>",
                            " end\n"]})
    monkeypatch.setattr(gen_mod, "generate", fake)
    # the tokenizer cannot encode the attack's characters: use bytes for this test
    out = generate_with_tools(model, ByteTokenizer(), ["A:"], max_new_tokens=200, stop="\n")[0]
    assert not target.exists() and not os.path.exists(str(target))
    results = [r.split("</result>")[0] for r in out.split("<result>")[1:]]
    assert len(results) == 3 and all(r.startswith("error: ") for r in results), results
    assert "not arithmetic" in results[0] and "max_exponent" in results[1]


def test_tool_loop_budget_and_call_limit(monkeypatch, tiny):
    model, tok = tiny
    fake = Scripted({"A:": [" <calc>1+1</calc>", " <calc>2+2</calc>", " <calc>3+3</calc>", " x\n"]})
    monkeypatch.setattr(gen_mod, "generate", fake)
    out = generate_with_tools(model, tok, ["A:"], max_new_tokens=100, max_calls=2, stop="\n")[0]
    assert out == " <calc>1+1</calc><result>2</result> <calc>2+2</calc><result>4</result> <calc>3+3</calc> x"
    fake = Scripted({"A:": [" <calc>1+1</calc>", " abcdefghijklmnopqrstuvwxyz"]})
    monkeypatch.setattr(gen_mod, "generate", fake)
    out = generate_with_tools(model, tok, ["A:"], max_new_tokens=20, stop="\n")[0]
    # 17 tokens for the call, then 3 more: the tool's text does not count against the budget
    assert out == " <calc>1+1</calc><result>2</result> ab"


def test_tool_loop_with_a_real_model(tiny):
    model, tok = tiny
    a = generate_with_tools(model, tok, ["Tool:", "Ann has 3 eggs.\nTool:"], max_new_tokens=30, seed=1,
                            temperature=1.0)
    b = generate_with_tools(model, tok, ["Tool:", "Ann has 3 eggs.\nTool:"], max_new_tokens=30, seed=1,
                            temperature=1.0)
    assert a == b and all(isinstance(t, str) for t in a)
    assert all(len(tok.encode(t.split("<result>")[0])) <= 30 for t in a)
    plain = gen_mod.generate(model, ["Tool:"], tok, max_new_tokens=30, temperature=0.0).text[0]
    if "</calc>" not in plain:  # without a call the loop is plain greedy generation
        assert generate_with_tools(model, tok, ["Tool:"], max_new_tokens=30, temperature=0.0)[0] == plain


def test_solve_runs_every_mode(world, tiny):
    model, tok = tiny
    ps = make_problems(world, 3, 2, seed=0)
    for mode in MODES:
        outs = solve(model, tok, ps, mode, max_new_tokens=8)
        assert len(outs) == 3 and all(len(o) == 1 for o in outs)
        assert 0.0 <= accuracy(ps, outs) <= 1.0
    outs = solve(model, tok, ps, "direct", samples=4, temperature=1.0, max_new_tokens=8)
    assert all(len(o) == 4 for o in outs)


def test_bad_input(world, tiny):
    model, tok = tiny
    with pytest.raises(ValueError, match="mode must be one of"):
        ArithmeticProblem("q", 1, 2, 1).prompt("fast")
    with pytest.raises(TypeError, match="rng must be a random.Random"):
        make_problem(world, 3, 2)
    with pytest.raises(ValueError, match="digits"):
        make_problems(world, 3, 0)
    with pytest.raises(TypeError, match="world must be a minillm.world.World"):
        make_problem("world", random.Random(0), 2)
    with pytest.raises(TypeError, match="a must be a non-negative int"):
        column_addition(-1, 2)
    with pytest.raises(TypeError, match="text must be a str"):
        extract_answer(42)
    with pytest.raises(ValueError, match="2 problems but 1 answer lists"):
        accuracy(make_problems(world, 2, 2), [["Answer: 1"]])
    with pytest.raises(TypeError, match="list of lists"):
        accuracy(make_problems(world, 1, 2), ["Answer: 1"])
    with pytest.raises(ValueError, match="vote"):
        accuracy(make_problems(world, 1, 2), [["Answer: 1"]], vote=2)
    with pytest.raises(TypeError, match="wrap a single prompt in a list"):
        generate_with_tools(model, tok, "Tool:")
    with pytest.raises(TypeError, match="unexpected arguments \\['temprature'\\]"):
        generate_with_tools(model, tok, ["Tool:"], temprature=0.5)
    with pytest.raises(TypeError, match="tool must be a function"):
        generate_with_tools(model, tok, ["Tool:"], tool="calc")
    with pytest.raises(ValueError, match="max_calls"):
        generate_with_tools(model, tok, ["Tool:"], max_calls=-1)
    with pytest.raises(ValueError, match="prompt is 600 tokens long; the model's context is 512"):
        generate_with_tools(model, tok, ["a" * 600])


def test_exclude_keeps_test_pairs_out_of_training(world):
    train = make_problems(world, 2000, 2, seed=1)
    test = make_problems(world, 200, 2, seed=2, exclude=train)
    assert not {(p.a, p.b) for p in test} & {(p.a, p.b) for p in train}
    assert make_problems(world, 50, 2, seed=1) == train[:50]  # exclude=None: the same stream
    with pytest.raises(ValueError, match="could not find 5 problems outside exclude"):
        make_problems(world, 5, 1, exclude=[(a, b) for a in range(10) for b in range(10)])


def test_arithmetic_reward():
    ps = [ArithmeticProblem("q1", 1, 2, 1), ArithmeticProblem("q2", 10, 20, 2)]
    r = ArithmeticReward(ps, "scratchpad")
    prompts = [ps[0].prompt("scratchpad"), ps[1].prompt("scratchpad"), ps[1].prompt("scratchpad")]
    assert r(prompts, [" Answer: 3", " 10+20: 0+0=0 1+2=3. Answer: 30", " Answer: 3"]) == [1.0, 1.0, 0.0]
    with pytest.raises(ValueError, match="no problem is known for prompt"):
        r([ps[0].prompt("direct")], [" Answer: 3"])
    with pytest.raises(TypeError, match="non-empty list of ArithmeticProblem"):
        ArithmeticReward([])


def test_train_and_compare_formats_tiny(world):
    model, tok, losses = train_arithmetic_model(n_train=64, stages=((3, 1e-3, 1), (2, 1e-3, 0)), batch_size=4, n_embd=32)
    assert len(losses) == 5 and all(math.isfinite(x) for x in losses)
    tests = {1: make_problems(world, 3, 1, seed=5)}
    acc = compare_formats(model, tok, tests, votes=2)
    assert set(acc) == {"direct", "scratchpad", "tool", "no tool", "self-consistency"}
    assert all(0.0 <= row[1] <= 1.0 for row in acc.values())
    with pytest.raises(ValueError, match="unknown recipe keys \\['layers'\\]"):
        train_arithmetic_model(layers=3)


def test_recipe_optimizer_keys_reach_the_trainer(monkeypatch):
    """``optimizer`` and ``muon_lr`` go from the recipe through ``train_stage`` into the
    TrainConfig of every stage (spied at ``make_optimizer``), change the weights, and a recipe
    with its own stages but no optimizer (every recipe before the key, e.g. v3's) means AdamW."""
    import minillm.reasoning as r
    import minillm.train as tr

    seen = []
    real = tr.make_optimizer

    def spy(model, cfg, device=None):
        seen.append((cfg.optimizer, cfg.muon_lr))
        return real(model, cfg, device)

    monkeypatch.setattr(tr, "make_optimizer", spy)
    tiny = dict(n_train=32, stages=((2, 1e-3, 1), (1, 1e-3, 0)), batch_size=4, n_embd=32, n_layer=1)
    old, _, _ = train_arithmetic_model(tiny)  # stages, no optimizer: AdamW
    assert seen == [("adamw", 0.02)] * 2
    adamw, _, _ = train_arithmetic_model(tiny, optimizer="adamw", muon_lr=0.5)
    seen.clear()
    muon, _, _ = train_arithmetic_model(tiny, optimizer="muon", muon_lr=0.03)
    assert seen == [("muon", 0.03)] * 2
    muon2, _, _ = train_arithmetic_model({**tiny, "optimizer": "muon", "muon_lr": 0.01})
    w = [m.blocks[0].attn.qkv.weight for m in (old, adamw, muon, muon2)]  # a hidden matrix
    assert torch.equal(w[0], w[1])  # muon_lr does nothing under AdamW
    assert not torch.allclose(w[1], w[2]) and not torch.allclose(w[2], w[3])
    assert r._check_recipe({"stages": ((1, 1e-3, 0),)})["optimizer"] == "adamw"
    assert r._check_recipe({"n_train": 8})["optimizer"] == r.RECIPE.get("optimizer", "adamw")
    for bad, err, msg in [({"optimizer": "sgd"}, ValueError, "recipe\\['optimizer'\\] must be 'adamw' or 'muon'"),
                          ({"optimizer": None}, ValueError, "got None"),
                          ({"muon_lr": 0}, ValueError, "recipe\\['muon_lr'\\]"),
                          ({"muon_lr": -0.02}, ValueError, "recipe\\['muon_lr'\\]"),
                          ({"muon_lr": "0.02"}, TypeError, "recipe\\['muon_lr'\\] must be a number"),
                          ({"muon_lr": float("nan")}, ValueError, "recipe\\['muon_lr'\\]")]:
        with pytest.raises(err, match=msg):
            train_arithmetic_model(tiny, **bad)
    from minillm.finetune import ExampleBatches

    tok = char_tokenizer()
    batches = ExampleBatches(training_examples(tok, make_problems(World(0), 4, 1)), batch_size=2)
    with pytest.raises(ValueError, match="'adamw' or 'muon'"):
        r.train_stage(old, batches, 1, 1e-3, 0, optimizer="Muon")


def test_arithmetic_zoo_entry_builds_and_loads_a_tiny_recipe(tmp_path, monkeypatch):
    """The zoo builder writes a folder that ``pretrained`` (and ``load_model_dir``) loads with
    the character tokenizer, and ``arithmetic_model`` is a wrapper over the same cache."""
    import dataclasses

    import minillm.reasoning as r
    import minillm.zoo as z
    from minillm.tokenizer import CharTokenizer

    monkeypatch.setenv("MINILLM_CACHE", str(tmp_path))
    tiny = {**r.RECIPE, "n_train": 64, "stages": ((3, 1e-3, 1),), "batch_size": 4, "n_embd": 32,
            "n_layer": 1}
    monkeypatch.setitem(z.MODELS, "arithmetic", dataclasses.replace(z.MODELS["arithmetic"], recipe=tiny))
    monkeypatch.setattr(r, "RECIPE", tiny)
    model, tok = r.arithmetic_model(progress=False)
    folder = z.model_dir("arithmetic")
    assert sorted(p.name for p in folder.iterdir()) == [
        "config.json", "model.safetensors", "recipe.json", "tokenizer.json"]
    assert isinstance(tok, CharTokenizer) and tok.chars == char_tokenizer().chars
    assert model.config.n_layer == 1 and model.config.vocab_size == tok.vocab_size and not model.training
    again, tok2 = z.load_model_dir(folder)
    assert tok2.chars == tok.chars
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), again.state_dict().values()))
    info = z.json.loads((folder / "recipe.json").read_text())
    assert info["name"] == "arithmetic" and info["recipe"]["n_train"] == 64 and math.isfinite(info["final_loss"])
    with pytest.raises(ValueError, match="from scratch"):
        r.build_arithmetic(z.MODELS["arithmetic"], tmp_path / "x", tmp_path, False)


def test_char_tokenizer_file_round_trip_and_bad_files(tmp_path):
    from minillm.tokenizer import BPETokenizer, CharTokenizer

    tok = char_tokenizer()
    path = tok.save(tmp_path)
    assert path == tmp_path / "tokenizer.json" and CharTokenizer.is_char_file(path)
    back = CharTokenizer.load(tmp_path)
    assert back.chars == tok.chars and back.encode("12+34") == tok.encode("12+34")
    bpe = BPETokenizer().train("abc abc abd " * 20, 265)
    assert not CharTokenizer.is_char_file(bpe.save(tmp_path / "bpe.json"))
    with pytest.raises(ValueError, match="not a CharTokenizer file"):
        CharTokenizer.load(tmp_path / "bpe.json")
    (tmp_path / "bad.json").write_text('{"type": "minillm.CharTokenizer", "chars": ["ab", 3]}')
    with pytest.raises(ValueError, match="list of single characters"):
        CharTokenizer.load(tmp_path / "bad.json")
    with pytest.raises(FileNotFoundError, match="no tokenizer file"):
        CharTokenizer.load(tmp_path / "missing.json")


def test_tool_for_keeps_the_calculators_text_encodable():
    """A malformed call's error text quotes characters a char tokenizer lacks; the tool that
    ``solve`` uses drops them, so the text pasted into the context always encodes."""
    from minillm.reasoning import tool_for
    from minillm.tools import calculator

    tok = char_tokenizer()
    raw = calculator("__import__('os')")
    with pytest.raises(ValueError, match="not in the vocabulary"):
        tok.encode(raw)
    safe = tool_for(tok)("__import__('os')")
    assert safe.startswith("error") and "'" not in safe and tok.encode(safe)
    assert tool_for(tok)("4821+3977") == "8798"
    assert tool_for(ByteTokenizer()) is None
