"""Tests for chapter 7's trainers in minillm.rlhf: reward model, PPO, DPO, GRPO on a toy policy.

The toy: a tiny randomly initialised GPT over the characters ``"ab.>"``, prompted with ``">"``,
answering a few characters and stopping at ``"."``. The hidden preference: answers with more
``a`` than ``b``. Each trainer must raise that true reward within a few seconds; a run killed
by SIGKILL mid-training resumes from its checkpoint to the same weights as an uninterrupted run.
"""

import copy
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from minillm.model import GPT, GPTConfig
from minillm.rlhf import (
    DPOTrainer,
    ExactAnswerReward,
    GRPOTrainer,
    PPOTrainer,
    PreferencePair,
    RewardModel,
    RewardModelTrainer,
    RLConfig,
    agreement_rate,
    answer_logprobs,
    hidden_states,
    load_preferences,
    qa_task,
    sample_pairs,
    save_preferences,
)
from minillm.tokenizer import CharTokenizer

ROOT = Path(__file__).resolve().parents[1]
TOK = CharTokenizer("ab.>")
PROMPTS = [">"]


def toy_policy(seed=0):
    torch.manual_seed(seed)
    return GPT(GPTConfig(vocab_size=TOK.vocab_size, block_size=16, n_layer=1, n_head=2, n_embd=16)).eval()


def true_reward(prompts, answers):
    return [(a.count("a") - a.count("b")) / 6 for a in answers]


def mean_true_reward(policy, n=256, seed=123):
    from minillm.generate import generate

    g = generate(policy, PROMPTS * n, TOK, max_new_tokens=6, stop=".", seed=seed)
    return sum(true_reward(None, g.text)) / n


def toy_config(**kw):
    base = dict(steps=25, lr=1e-2, batch_size=32, max_new_tokens=6, stop=["."], kl_coef=0.01)
    return RLConfig(**{**base, **kw})


def toy_pairs(n=200, seed=0):
    rng = random.Random(seed)
    pairs = []
    while len(pairs) < n:
        a = "".join(rng.choice("ab") for _ in range(rng.randint(1, 5)))
        b = "".join(rng.choice("ab") for _ in range(rng.randint(1, 5)))
        ra, rb = true_reward(None, [a, b])
        if ra != rb:
            pairs.append(PreferencePair(">", a, b) if ra > rb else PreferencePair(">", b, a))
    return pairs


# --- pieces ---------------------------------------------------------------------------------


def test_hidden_states_feed_the_head_like_the_forward():
    m = toy_policy()
    ids = torch.randint(0, TOK.vocab_size, (3, 7))
    torch.testing.assert_close(m.head(hidden_states(m, ids)), m(ids)[0])


def test_answer_logprobs_match_the_generation_engine():
    from minillm.generate import score

    m = toy_policy()
    p, a = [[3], [3, 0]], [[0, 1, 2], [1]]
    logp, mask = answer_logprobs(m, p, a)
    assert mask.tolist() == [[1, 1, 1], [1, 0, 0]]
    ref = score(m, p, a)
    torch.testing.assert_close(logp[0], torch.tensor(ref[0]), atol=1e-5, rtol=0)
    torch.testing.assert_close(logp[1, :1], torch.tensor(ref[1]), atol=1e-5, rtol=0)
    assert logp[1, 1:].abs().sum() == 0
    logp.sum().backward()  # differentiable
    assert m.tok_emb.weight.grad is not None


# --- each trainer raises the true reward on the toy preference -------------------------------


def test_reward_model_learns_the_toy_preference():
    pairs = toy_pairs(240)
    rm = RewardModel(toy_policy(1), TOK)
    before = rm.accuracy(pairs[200:])
    h = RewardModelTrainer(rm, pairs[:200], toy_config(steps=40, lr=3e-3)).fit()
    after = rm.accuracy(pairs[200:])
    assert h["loss"][-1] < h["loss"][0]
    assert after > 0.85 and after > before + 0.2, (before, after)


def test_ppo_raises_the_true_reward():
    policy = toy_policy()
    before = mean_true_reward(policy)
    h = PPOTrainer(policy, TOK, PROMPTS, true_reward, toy_config()).fit()
    after = mean_true_reward(policy)
    assert after > before + 0.2, (before, after)
    assert h["kl"][-1] > 0  # it moved away from the reference, and measured it


def test_grpo_raises_the_true_reward():
    policy = toy_policy()
    before = mean_true_reward(policy)
    GRPOTrainer(policy, TOK, PROMPTS, true_reward, toy_config(batch_size=8, group_size=4)).fit()
    after = mean_true_reward(policy)
    assert after > before + 0.2, (before, after)


def test_dpo_raises_the_true_reward():
    policy = toy_policy()
    before = mean_true_reward(policy)
    h = DPOTrainer(policy, TOK, toy_pairs(200), toy_config(steps=30, lr=1e-2), end=".").fit()
    after = mean_true_reward(policy)
    assert after > before + 0.2, (before, after)
    assert h["margin"][-1] > 0


def test_kl_penalty_keeps_ppo_closer_to_the_reference():
    runs = {}
    for kl in (0.0, 1.0):
        policy = toy_policy()
        runs[kl] = PPOTrainer(policy, TOK, PROMPTS, true_reward, toy_config(kl_coef=kl)).fit()["kl"]
    assert sum(runs[1.0][-5:]) < sum(runs[0.0][-5:])


def test_grpo_with_a_verifiable_reward():
    policy = toy_policy()
    check = ExactAnswerReward({">": "aaa"})
    assert check([">", ">"], ["xaaa", "aaa b"]) == [0.0, 1.0]  # whole words only
    strict = ExactAnswerReward({"Q": ("red",)}, wrong={"Q": ("blue", "green")})
    assert strict(["Q", "Q", "Q"], ["It is red.", "red or blue", "Red!"]) == [1.0, 0.0, 1.0]
    before = mean_true_reward(policy)
    GRPOTrainer(policy, TOK, PROMPTS, lambda p, a: [float("a" in x and "b" not in x) for x in a],
                toy_config(batch_size=8, group_size=4)).fit()
    assert mean_true_reward(policy) > before + 0.1


def test_sampled_pairs_and_agreement():
    task = qa_task(6, template="Q {question} A:")
    labeller = task.labeller(0.0)
    good = PreferencePair(task.prompts[0], f"{task.first_names[0]} " + " ".join(task.questions[0].answers), "")
    assert agreement_rate([good], labeller) == 1.0
    flipped = PreferencePair(good.prompt, good.rejected, good.chosen)
    assert agreement_rate([flipped], labeller) == 0.0
    policy = toy_policy()
    triples = sample_pairs(policy, TOK, PROMPTS * 4, max_new_tokens=4, stop=".")
    assert all(a != b for _, a, b in triples)


# --- resume after a kill -----------------------------------------------------------------------

WORKER = """
import sys, time, torch
sys.path.insert(0, {root!r}); sys.path.insert(0, {tests!r})
from test_rlhf_trainers import *
kind, out, resume, slow = sys.argv[1], sys.argv[2], sys.argv[3] == "1", float(sys.argv[4])
torch.set_num_threads(1)
policy = toy_policy()
cfg = toy_config(steps=12, out_dir=out, checkpoint_every=1)
if kind == "ppo":
    t = PPOTrainer(policy, TOK, PROMPTS, true_reward, cfg, resume=resume)
elif kind == "grpo":
    t = GRPOTrainer(policy, TOK, PROMPTS, true_reward, toy_config(steps=12, out_dir=out, checkpoint_every=1,
                    batch_size=8), resume=resume)
else:
    t = DPOTrainer(policy, TOK, toy_pairs(60), cfg, end=".", resume=resume)
while t.step < t.cfg.steps:
    t.fit(1)
    time.sleep(slow)
from safetensors.torch import save_file
save_file({{k: v.clone() for k, v in t.modules.state_dict().items()}}, out + "/final.safetensors")
"""


def _worker(tmp_path, kind, out, resume, slow, wait=True):
    script = tmp_path / "worker.py"
    script.write_text(WORKER.format(root=str(ROOT), tests=str(ROOT / "tests")))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, str(script), kind, str(out), "1" if resume else "0", str(slow)]
    if wait:
        return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


@pytest.mark.parametrize("kind", ["ppo", "grpo", "dpo"])
def test_resume_after_sigkill_matches_an_uninterrupted_run(tmp_path, kind):
    import torch
    from safetensors.torch import load_file

    def load_checkpoint(path):  # an RLHF checkpoint (format minillm-rlhf-1)
        return torch.load(path, map_location="cpu", weights_only=True)

    full = _worker(tmp_path, kind, tmp_path / "full", False, 0.0)
    assert full.returncode == 0, full.stderr
    proc = _worker(tmp_path, kind, tmp_path / "killed", False, 0.15, wait=False)
    ckpt = tmp_path / "killed" / f"{kind}.pt"
    deadline = time.time() + 120
    while time.time() < deadline and not (ckpt.exists() and load_checkpoint(ckpt)["step"] >= 3):
        time.sleep(0.05)
    assert proc.poll() is None, f"the worker ended before it was killed: {proc.communicate()}"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    killed_at = load_checkpoint(ckpt)["step"]
    assert 3 <= killed_at < 12
    resumed = _worker(tmp_path, kind, tmp_path / "killed", True, 0.0)
    assert resumed.returncode == 0, resumed.stderr
    a = load_file(tmp_path / "full" / "final.safetensors")
    b = load_file(tmp_path / "killed" / "final.safetensors")
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), f"{k} differs after resume from step {killed_at}"


def test_resume_refuses_other_settings(tmp_path):
    cfg = toy_config(steps=2, out_dir=str(tmp_path))
    PPOTrainer(toy_policy(), TOK, PROMPTS, true_reward, cfg).fit()
    with pytest.raises(ValueError, match="lr"):
        PPOTrainer(toy_policy(), TOK, PROMPTS, true_reward, toy_config(steps=2, lr=1e-3, out_dir=str(tmp_path)),
                   resume=True)
    with pytest.raises(ValueError, match="'ppo' checkpoint"):
        import shutil

        shutil.copy(tmp_path / "ppo.pt", tmp_path / "grpo.pt")
        GRPOTrainer(toy_policy(), TOK, PROMPTS, true_reward, cfg, resume=True)


# --- bad input ---------------------------------------------------------------------------------


def test_empty_preference_file_is_refused(tmp_path):
    path = tmp_path / "prefs.json"
    path.write_text('{"pairs": []}')
    with pytest.raises(ValueError, match="holds no pairs"):
        load_preferences(path)
    with pytest.raises(ValueError, match="no preference pairs"):
        DPOTrainer(toy_policy(), TOK, [], toy_config())
    with pytest.raises(ValueError, match="no preference pairs"):
        RewardModelTrainer(RewardModel(toy_policy(), TOK), [], toy_config())


def test_pairs_with_identical_answers_are_refused(tmp_path):
    with pytest.raises(ValueError, match="identical chosen and rejected"):
        PreferencePair(">", "ab", "ab")
    path = tmp_path / "prefs.json"
    save_preferences([PreferencePair(">", "a", "b")], path)
    path.write_text(path.read_text().replace('"b"', '"a"'))
    with pytest.raises(ValueError, match="pair 0: .*identical"):
        load_preferences(path)


def test_a_reward_model_for_another_tokenizer_is_refused():
    other = CharTokenizer("abc.>")
    rm = RewardModel(GPT(GPTConfig(vocab_size=other.vocab_size, block_size=16, n_layer=1, n_head=2, n_embd=16)), other)
    with pytest.raises(ValueError, match="another tokenizer"):
        PPOTrainer(toy_policy(), TOK, PROMPTS, rm, toy_config())
    with pytest.raises(ValueError, match="another tokenizer"):
        GRPOTrainer(toy_policy(), TOK, PROMPTS, rm, toy_config())
    PPOTrainer(toy_policy(), TOK, PROMPTS, RewardModel(toy_policy(), copy.deepcopy(TOK)), toy_config())  # same vocab: fine


def test_other_bad_inputs_are_named():
    with pytest.raises(ValueError, match="group_size"):
        RLConfig(group_size=1)
    with pytest.raises(ValueError, match="kl_coef"):
        RLConfig(kl_coef=-1)
    with pytest.raises(ValueError, match="prompts"):
        PPOTrainer(toy_policy(), TOK, [], true_reward, toy_config())
    with pytest.raises(TypeError, match="reward_fn"):
        PPOTrainer(toy_policy(), TOK, PROMPTS, "not a function", toy_config())
    with pytest.raises(ValueError, match="one per answer"):
        PPOTrainer(toy_policy(), TOK, PROMPTS, lambda p, a: [1.0], toy_config(steps=1)).fit()
    with pytest.raises(ValueError, match="resume=True needs"):
        PPOTrainer(toy_policy(), TOK, PROMPTS, true_reward, toy_config(), resume=True)
    with pytest.raises(TypeError, match="minillm GPT"):
        PPOTrainer(torch.nn.Linear(2, 2), TOK, PROMPTS, true_reward, toy_config())
    with pytest.raises(ValueError, match="not one of this task's prompts"):
        qa_task(4).score("unknown prompt", "answer")


def test_task_score_parts_by_hand():
    from minillm.rlhf import QATask
    from minillm.world import QA

    qa = QA("What is Lara Fasley's job?", "Lara Fasley works as a baker.", ("baker",), 1, "job", True)
    city = QA("Where was Lara Fasley born?", "x", ("Weby",), 1, "birth_city", True)
    task = QATask(["P1", "P2"], [qa, city], "{question}", ["Lara", "Lara"])
    # on topic, about the person, correct, one sentence: 4
    assert task.score("P1", "Lara Fasley works as a baker.") == 4.0
    # a job but the wrong one, no name, no full stop: 1
    assert task.parts("P1", "He works as a pilot") == {
        "on_topic": 1.0, "about_person": 0.0, "correct": 0.0, "one_sentence": 0.0, "length_penalty": 0.0}
    # two sentences, 11 words: on topic + name, length -0.2 * 3
    assert task.score("P1", "Lara is a baker. She likes the baker shop in town.") == pytest.approx(2 + 1 - 0.6)
    assert task.score("P1", "   ") == -1.0
    assert task.parts("P2", "Lara was born in Weby.")["on_topic"] == 1.0
    assert task.parts("P2", "Lara was born in 1950.")["on_topic"] == 0.0
    labeller = task.labeller(0.0)
    assert labeller.prefer("Lara Fasley works as a baker.", "He works as a pilot", random.Random(0), "P1") == 0


def test_qa_task_people_and_course_task():
    """qa_task asks only about the people given; course_task's held-out questions ask about other
    people than its training ones, all from the chat model's cast that SFT never asked about."""
    from minillm.rlhf import course_task
    from minillm.zoo import course_people

    people = course_people("tinyworld-chat")
    few = people["no_qa"][:3]
    task = qa_task(8, people=few)
    assert {q.person for q in task.questions} <= {p.id for p in few}
    train, held = course_task(20, 10)
    asked_train = {q.person for q in train.questions}
    asked_held = {q.person for q in held.questions}
    no_qa = {p.id for p in people["no_qa"]}
    assert asked_train <= no_qa and asked_held <= no_qa and not asked_train & asked_held
    assert len(train.prompts) == 20 and len(held.prompts) == 10
    assert all(p.startswith("<|user|> ") and p.endswith("<|end|><|assistant|>") for p in train.prompts)
    with pytest.raises(TypeError, match="people"):
        qa_task(4, people=["Lara"])
    with pytest.raises(TypeError, match="people"):
        qa_task(4, people=[])
    with pytest.raises(ValueError, match="ask for fewer"):
        qa_task(50, people=few, relations=("job",))
