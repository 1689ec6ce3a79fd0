"""Tests for minillm.train: schedule, parameter groups, batches, resume, NaN guard, budgets.

Most tests use a tiny stand-in model (tests/_train_worker.py) so they run in a second or two;
the crash test kills a real training process with SIGKILL and resumes from its checkpoint.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from minillm.train import (
    NonFiniteLossError,
    RandomWindows,
    TrainConfig,
    Trainer,
    load_checkpoint,
    lr_at,
    param_groups,
    train,
)

WORKER = Path(__file__).with_name("_train_worker.py")
ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("_train_worker", WORKER)
worker = importlib.util.module_from_spec(_spec)
sys.modules.setdefault("_train_worker", worker)
_spec.loader.exec_module(worker)
TinyLM, TinyConfig, toy_tokens = worker.TinyLM, worker.TinyConfig, worker.toy_tokens


def small_config(**kw) -> TrainConfig:
    base = dict(steps=12, batch_size=4, lr=1e-2, warmup_steps=3, eval_every=0, progress=False, seed=7)
    return TrainConfig(**{**base, **kw})


def fresh_model(dropout: float = 0.1) -> TinyLM:
    torch.manual_seed(1234)
    return TinyLM(TinyConfig(dropout=dropout))


DATA = toy_tokens()
TRAIN, VAL = DATA[:3000], DATA[3000:]


# -- schedule and parameter groups ----------------------------------------------------------


def test_lr_schedule_known_values():
    cfg = TrainConfig(steps=110, lr=1e-3, min_lr=1e-4, warmup_steps=10)
    assert lr_at(0, cfg) == pytest.approx(1e-4)  # 1/10 of the way up
    assert lr_at(9, cfg) == pytest.approx(1e-3)  # end of warmup
    assert lr_at(10, cfg) == pytest.approx(1e-3)  # cosine starts at the top
    assert lr_at(60, cfg) == pytest.approx(5.5e-4)  # half-way down: the mean of lr and min_lr
    assert lr_at(110, cfg) == pytest.approx(1e-4)
    assert lr_at(500, cfg) == pytest.approx(1e-4)  # stays at the floor
    lrs = [lr_at(s, cfg) for s in range(10, 111)]
    assert all(a >= b for a, b in zip(lrs, lrs[1:]))
    assert TrainConfig(lr=2e-3).final_lr == pytest.approx(2e-4)


def test_trainer_applies_the_schedule():
    cfg = small_config(steps=20, lr=1e-2, min_lr=1e-3, warmup_steps=5)
    history = train(fresh_model(), TRAIN, VAL, cfg, device="cpu")
    assert history.lr == pytest.approx([lr_at(s, cfg) for s in range(20)])


def test_param_groups_no_decay_on_norms_biases_embeddings():
    model = fresh_model()
    decay, no_decay = param_groups(model, 0.1)
    assert decay["weight_decay"] == 0.1 and no_decay["weight_decay"] == 0.0
    names = {id(p): n for n, p in model.named_parameters()}
    assert sorted(names[id(p)] for p in decay["params"]) == ["mlp.weight"]
    assert sorted(names[id(p)] for p in no_decay["params"]) == [
        "mlp.bias", "norm.bias", "norm.weight", "pos.weight", "tok.weight"]
    # the tied head shares the token embedding: counted once, not decayed
    total = sum(p.numel() for g in (decay, no_decay) for p in g["params"])
    assert total == sum(p.numel() for p in model.parameters())


# -- batches --------------------------------------------------------------------------------


def test_random_windows_shift_and_determinism():
    tokens = np.arange(1000, dtype=np.int32)
    data = RandomWindows(tokens, block_size=16, batch_size=5, seed=3)
    x, y = data.batch(step=4)
    assert x.shape == y.shape == (5, 16) and x.dtype == torch.int64
    torch.testing.assert_close(y[:, :-1], x[:, 1:])
    torch.testing.assert_close(y[:, -1], x[:, -1] + 1)
    x2, _ = RandomWindows(tokens, 16, 5, seed=3).batch(step=4)
    torch.testing.assert_close(x, x2)
    x3, _ = data.batch(step=5)
    assert not torch.equal(x, x3)


def test_random_windows_ranks_partition_the_global_batch():
    tokens = np.arange(5000)
    one = RandomWindows(tokens, 8, batch_size=6, seed=0)  # one process, 6 sequences
    two = RandomWindows(tokens, 8, batch_size=3, seed=0)  # two processes, 3 each
    accum = RandomWindows(tokens, 8, batch_size=3, grad_accum=2, seed=0)  # one, 2 micro-steps
    for step in range(3):
        x_one, _ = one.batch(step)
        x_two = torch.cat([two.batch(step, rank=r, world=2)[0] for r in range(2)])
        x_acc = torch.cat([accum.batch(step, micro=m)[0] for m in range(2)])
        torch.testing.assert_close(x_one, x_two)
        torch.testing.assert_close(x_one, x_acc)


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="batch_size"):
        TrainConfig(batch_size=0)
    with pytest.raises(ValueError, match="steps or minutes"):
        TrainConfig(steps=None)
    with pytest.raises(ValueError, match="1-D"):
        RandomWindows(np.zeros((4, 4), dtype=int), 2, 2)
    with pytest.raises(ValueError, match="integer token ids"):
        RandomWindows(np.zeros(100), 2, 2)
    with pytest.raises(ValueError, match="fewer than one window"):
        Trainer(fresh_model(), TRAIN[:5], None, small_config(), device="cpu")
    with pytest.raises(ValueError, match="unknown TrainConfig preset"):
        TrainConfig.preset("nope")
    with pytest.raises(ValueError, match="out_dir"):
        Trainer(fresh_model(), TRAIN, VAL, small_config(), resume=True, device="cpu")


# -- the loop -------------------------------------------------------------------------------


def test_training_lowers_the_loss_and_reports():
    cfg = small_config(steps=60, eval_every=20, eval_batches=4)
    seen = []
    history = train(fresh_model(), TRAIN, VAL, cfg, device="cpu",
                    callbacks=[lambda trainer, info: seen.append(info["step"])])
    assert seen == [0, 20, 40, 60]
    first, last = history.evals[0], history.evals[-1]
    assert first["val_loss"] == pytest.approx(math.log(13), abs=0.6)  # random model ~ log(vocab)
    assert last["val_loss"] < first["val_loss"] - 0.7
    assert last["tokens"] == 60 * 4 * 8


def test_grad_accumulation_equals_a_bigger_batch():
    a, b = fresh_model(dropout=0.0), fresh_model(dropout=0.0)
    train(a, TRAIN, VAL, small_config(batch_size=8, grad_accum=1), device="cpu")
    train(b, TRAIN, VAL, small_config(batch_size=4, grad_accum=2), device="cpu")
    for (name, pa), pb in zip(a.state_dict().items(), b.state_dict().values()):
        torch.testing.assert_close(pa, pb, rtol=1e-5, atol=1e-6, msg=name)


def test_minutes_budget_picks_the_number_of_steps():
    cfg = small_config(steps=None, minutes=0.01)
    trainer = Trainer(fresh_model(), TRAIN, VAL, cfg, device="cpu")
    trainer.fit()
    assert trainer.total_steps is not None and trainer.step >= 5
    assert trainer.history.lr[-1] < cfg.lr  # the cosine decayed over the chosen steps


# -- checkpoints and resume -----------------------------------------------------------------


class Crash(Exception):
    pass


class CrashAt:
    def __init__(self, step):
        self.step = step

    def on_step(self, trainer, info):
        if info["step"] == self.step:
            raise Crash(f"simulated crash at step {self.step}")


def assert_same_state(a: dict, b: dict):
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), f"{k} differs after resume"


def test_resume_after_a_crash_matches_an_uninterrupted_run(tmp_path):
    ref = fresh_model()
    train(ref, TRAIN, VAL, small_config(steps=15, checkpoint_every=4, out_dir=str(tmp_path / "ref")),
          device="cpu")

    crashed = fresh_model()
    cfg = small_config(steps=15, checkpoint_every=4, out_dir=str(tmp_path / "run"))
    with pytest.raises(Crash):
        train(crashed, TRAIN, VAL, cfg, callbacks=[CrashAt(10)], device="cpu")
    assert load_checkpoint(tmp_path / "run")["step"] == 8  # the last checkpoint before the crash

    torch.manual_seed(999)  # a different process state: resume must not depend on it
    resumed = TinyLM(TinyConfig())
    trainer = Trainer(resumed, TRAIN, VAL, cfg, resume=True, device="cpu")
    assert trainer.step == 8
    trainer.fit()
    assert_same_state(ref.state_dict(), resumed.state_dict())
    ref_ckpt = load_checkpoint(tmp_path / "ref")
    new_ckpt = load_checkpoint(tmp_path / "run")
    assert new_ckpt["step"] == ref_ckpt["step"] == 15
    assert new_ckpt["history"]["loss"] == ref_ckpt["history"]["loss"]
    exp_avg = [s["exp_avg"] for s in new_ckpt["optimizer"]["state"].values()]
    ref_avg = [s["exp_avg"] for s in ref_ckpt["optimizer"]["state"].values()]
    assert all(torch.equal(a, b) for a, b in zip(exp_avg, ref_avg))


def _run_worker(out: Path, *args: str, wait: bool = True):
    cmd = [sys.executable, str(WORKER), str(out), *args]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    if wait:
        return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_resume_after_sigkill_matches_an_uninterrupted_run(tmp_path):
    steps = ["--steps", "40", "--checkpoint-every", "5"]
    proc = _run_worker(tmp_path / "killed", *steps, "--slow", "0.05", wait=False)
    ckpt = tmp_path / "killed" / "checkpoint.pt"
    deadline = time.time() + 90
    while time.time() < deadline:
        if ckpt.exists() and load_checkpoint(ckpt)["step"] >= 15:
            break
        assert proc.poll() is None, f"the worker ended before it was killed: {proc.communicate()}"
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    killed_at = load_checkpoint(ckpt)["step"]  # still a complete, loadable file
    assert 15 <= killed_at < 40
    assert not (tmp_path / "killed" / "final-rank0.safetensors").exists()

    resumed = _run_worker(tmp_path / "killed", *steps, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    ref = _run_worker(tmp_path / "ref", *steps)
    assert ref.returncode == 0, ref.stderr
    a = load_file(tmp_path / "ref" / "final-rank0.safetensors")
    b = load_file(tmp_path / "killed" / "final-rank0.safetensors")
    assert_same_state(a, b)


def test_resume_refuses_a_different_recipe(tmp_path):
    cfg = small_config(steps=4, out_dir=str(tmp_path))
    train(fresh_model(), TRAIN, VAL, cfg, device="cpu")
    with pytest.raises(ValueError, match="lr: 0.01 in the checkpoint, 0.02 now"):
        Trainer(fresh_model(), TRAIN, VAL, small_config(steps=4, lr=2e-2, out_dir=str(tmp_path)),
                resume=True, device="cpu")


def test_checkpoint_is_plain_tensors_loaded_with_weights_only(tmp_path):
    train(fresh_model(), TRAIN, VAL, small_config(steps=3, out_dir=str(tmp_path)), device="cpu")
    state = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert state["format"] == "minillm-checkpoint-1"
    assert state["data"] == {"sampler": "random-windows", "seed": 7, "next_step": 3, "world_size": 1}
    assert state["model_config"]["vocab_size"] == 13
    assert not list(tmp_path.glob(".checkpoint.pt.*"))  # no temporary file left behind
    (tmp_path / "checkpoint.pt").write_bytes(b"garbage")
    with pytest.raises(ValueError, match="not a readable minillm checkpoint"):
        load_checkpoint(tmp_path)


def test_nan_loss_stops_with_a_clear_message_and_keeps_the_checkpoint(tmp_path):
    model = fresh_model()
    model.nan_at_call = 7  # the 7th training forward returns NaN
    cfg = small_config(steps=12, checkpoint_every=3, out_dir=str(tmp_path))
    trainer = Trainer(model, TRAIN, VAL, cfg, device="cpu")
    with pytest.raises(NonFiniteLossError, match=r"loss became nan at step 6 .*checkpoint\.pt \(step 6\)"):
        trainer.fit()
    state = load_checkpoint(tmp_path)
    assert state["step"] == 6
    for name, p in model.state_dict().items():  # the bad step did not touch the weights
        assert torch.equal(p, state["model"][name]), name
        assert torch.isfinite(p).all()


def test_nan_without_checkpoint_says_so():
    model = fresh_model()
    model.nan_at_call = 2
    with pytest.raises(NonFiniteLossError, match="no checkpoint was written"):
        train(model, TRAIN, VAL, small_config(), device="cpu")


# -- the cached pretrained model ------------------------------------------------------------

TEST_RECIPE = {
    "corpus": {"name": "tinyworld", "size": 20_000, "seed": 0},
    "tokenizer": {"vocab_size": 300, "train_chars": 10_000},
    "model": {"preset": "tiny", "block_size": 32, "n_layer": 1, "n_head": 2, "n_embd": 32},
    "train": {"preset": "tinyworld", "steps": 6, "batch_size": 4, "warmup_steps": 2},
}

_BUILD_SCRIPT = """
import json, sys
import minillm.zoo as z
z.MODELS["unit-test"] = z.Entry(version=1, recipe=json.loads(sys.argv[1]))
model, tok = z.pretrained("unit-test", progress=True)
print("WEIGHTSUM", float(sum(p.double().sum() for p in model.parameters())))
"""


def test_pretrained_builds_once_and_loads_after(tmp_path, monkeypatch):
    import minillm.train as t
    import minillm.zoo as z
    from minillm.model import GPT

    monkeypatch.setenv("MINILLM_CACHE", str(tmp_path))
    monkeypatch.setitem(z.MODELS, "unit-test", z.Entry(version=1, recipe=TEST_RECIPE))
    # a half-built folder from a killed build is removed by the next build
    (tmp_path / "pretrained" / ".unit-test-v1.abc123").mkdir(parents=True)
    model, tok = z.pretrained("unit-test", progress=False)
    folder = z.model_dir("unit-test")
    assert folder == tmp_path / "pretrained" / "unit-test-v1"
    assert sorted(p.name for p in folder.iterdir()) == [
        "config.json", "model.safetensors", "recipe.json", "tokenizer.json"]
    assert isinstance(model, GPT) and not model.training and tok.vocab_size == 300
    assert not [p for p in folder.parent.iterdir() if p.name.startswith(".unit-test-v1.") and p.is_dir()]

    def no_training(self):
        raise AssertionError("pretrained() trained again instead of loading the cache")

    monkeypatch.setattr(t.Trainer, "fit", no_training)
    again, tok2 = z.pretrained("unit-test")
    for a, b in zip(model.state_dict().values(), again.state_dict().values()):
        assert torch.equal(a, b)
    assert tok2.encode("Once upon a time") == tok.encode("Once upon a time")
    with pytest.raises(ValueError, match="no course model called 'nope'"):
        z.pretrained("nope")


def test_a_model_built_on_a_base_builds_the_base_first(tmp_path, monkeypatch):
    import minillm.zoo as z

    calls = []

    def fake_build(entry, folder, base_folder, progress):
        calls.append((entry.recipe["tag"], base_folder))
        model, tok = z.load_model_dir(base_folder)
        model.save(folder)
        tok.save(folder / "tokenizer.json")
        return {"note": "copied"}

    monkeypatch.setenv("MINILLM_CACHE", str(tmp_path))
    monkeypatch.setitem(z.MODELS, "unit-base", z.Entry(version=1, recipe=TEST_RECIPE))
    monkeypatch.setitem(z.MODELS, "unit-derived", z.Entry(
        version=3, recipe={"tag": "d"}, base="unit-base", build=f"{__name__}:_FAKE_BUILD"))
    monkeypatch.setitem(globals(), "_FAKE_BUILD", fake_build)
    model, _ = z.pretrained("unit-derived", progress=False)
    assert calls == [("d", z.model_dir("unit-base"))]
    # the derived model's folder names its base's version
    assert z.is_built("unit-base") and z.model_dir("unit-derived").name == "unit-derived-v3+unit-base-v1"
    info = json.loads((z.model_dir("unit-derived") / "recipe.json").read_text())
    assert info["base"] == "unit-base" and info["note"] == "copied"
    z.pretrained("unit-derived", progress=False)
    assert len(calls) == 1, "a built model was built again"
    # a new version of the base is a new derived model, never the fine-tune of the old base
    monkeypatch.setitem(z.MODELS, "unit-base", z.Entry(version=2, recipe=TEST_RECIPE))
    assert not z.is_built("unit-derived")
    z.pretrained("unit-derived", progress=False)
    assert calls[-1] == ("d", z.model_dir("unit-base")) and z.model_dir("unit-base").name == "unit-base-v2"
    assert len(calls) == 2


def test_cli_models_lists_and_builds(tmp_path, monkeypatch, capsys):
    import minillm.zoo as z
    from minillm.cli import main

    monkeypatch.setenv("MINILLM_CACHE", str(tmp_path))
    monkeypatch.setattr(z, "MODELS", {
        "unit-test": z.Entry(version=2, recipe=TEST_RECIPE, minutes=0.1, description="a test"),
        "unit-wip": z.Entry(version=1, recipe=TEST_RECIPE, ready=False, description="not yet")})
    assert main(["models"]) == 0
    assert "not built" in capsys.readouterr().out and not z.is_built("unit-test")
    assert main(["models", "--build", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert z.is_built("unit-test") and "unit-test" in out
    assert not z.is_built("unit-wip") and "not built (about 1 min), work in progress" in out
    assert main(["models", "--build", "nope"]) == 2
    assert "no course model called 'nope'" in capsys.readouterr().err


def test_load_model_dir_says_what_is_missing(tmp_path):
    import minillm.zoo as z

    with pytest.raises(FileNotFoundError, match="not found"):
        z.load_model_dir(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match="tokenizer.json"):
        z.load_model_dir(tmp_path)


def test_pretrained_two_processes_at_once_build_it_once(tmp_path):
    import json

    env = {**os.environ, "MINILLM_CACHE": str(tmp_path), "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-c", _BUILD_SCRIPT, json.dumps(TEST_RECIPE)]
    procs = [subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    for p, (_out, err) in zip(procs, outs):
        assert p.returncode == 0, err
    builds = sum("training the 'unit-test' model once" in out for out, _ in outs)
    assert builds == 1, f"expected exactly one process to train, got {builds}"
    sums = {line for out, _ in outs for line in out.splitlines() if line.startswith("WEIGHTSUM")}
    assert len(sums) == 1, "the two processes loaded different weights"


# -- the command line -----------------------------------------------------------------------


def test_cli_help_explains_the_commands(capsys):
    from minillm.cli import main

    with pytest.raises(SystemExit):
        main(["pretrain", "--help"])
    text = capsys.readouterr().out
    for words in ("--out", "--resume", "--minutes", "--steps", "--corpus", "torchrun"):
        assert words in text
    with pytest.raises(SystemExit):
        main(["generate", "--help"])
    text = capsys.readouterr().out
    for words in ("--prompt", "--temperature", "--top-k", "tinyworld"):
        assert words in text


def test_cli_pretrain_resume_and_generate(tmp_path, capsys):
    from minillm.cli import main

    text = tmp_path / "story.txt"
    text.write_text("Once upon a time a cat sat on a mat. The cat was happy. " * 200, encoding="utf-8")
    out = tmp_path / "run"
    args = ["pretrain", "--out", str(out), "--corpus", str(text), "--preset", "tiny",
            "--vocab-size", "280", "--steps", "4", "--batch-size", "2", "--quiet",
            "--checkpoint-every", "2", "--device", "cpu"]
    assert main(args) == 0
    assert {"model.safetensors", "config.json", "tokenizer.json", "checkpoint.pt", "run.json"} <= {
        p.name for p in out.iterdir()}
    assert load_checkpoint(out)["step"] == 4
    done = capsys.readouterr().out
    assert "done: 4 steps" in done
    assert re.search(r"[\d,]+ tokens/s, [\d.]+ model GFLOP/s", done), done
    assert main(args) == 2  # a second start in the same folder is refused
    assert "add --resume" in capsys.readouterr().err
    assert main(["pretrain", "--out", str(out), "--resume", "--quiet", "--device", "cpu"]) == 0
    assert "done: 4 steps" in capsys.readouterr().out  # the finished run has nothing left to do
    assert main(["generate", str(out), "--prompt", "Once upon", "--max-new-tokens", "5",
                 "--temperature", "0"]) == 0
    assert capsys.readouterr().out.startswith("Once upon")
    assert main(["generate", str(tmp_path / "missing")]) == 2
    assert "not found" in capsys.readouterr().err


# -- options: live plot, compile; the core stays headless -----------------------------------


def test_live_loss_plot_collects_and_draws():
    import matplotlib

    matplotlib.use("Agg")
    from minillm.viz import LiveLossPlot

    plot = LiveLossPlot("test")
    train(fresh_model(), TRAIN, VAL, small_config(steps=20, eval_every=10, eval_batches=2),
          device="cpu", callbacks=[plot])
    assert plot.steps == list(range(1, 21)) and [e["step"] for e in plot.evals] == [0, 10, 20]
    fig = plot.plot()
    labels = [line.get_label() for line in fig.axes[0].get_lines()]
    assert labels[-2:] == ["train (evaluation)", "validation"]
    assert list(fig.axes[0].get_lines()[-1].get_xdata()) == [0, 10, 20]


def test_train_module_does_not_import_plotting():
    code = "import sys, minillm.train, minillm.compress; assert 'matplotlib' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, env={**os.environ, "PYTHONPATH": str(ROOT)})


@pytest.mark.slow
def test_compiled_training_matches_eager():
    import shutil

    if not any(shutil.which(c) for c in ("g++", "c++", "clang++")):
        pytest.skip("torch.compile on CPU needs a C++ compiler (g++ or clang++), none found")
    eager, compiled = fresh_model(dropout=0.0), fresh_model(dropout=0.0)
    train(eager, TRAIN, VAL, small_config(steps=5), device="cpu")
    train(compiled, TRAIN, VAL, small_config(steps=5, compile=True), device="cpu")
    for (name, a), b in zip(eager.state_dict().items(), compiled.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5, msg=name)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (optional resource)")
@pytest.mark.parametrize("optimizer", ["adamw", "muon"])
def test_cuda_bf16_training_resumes_bit_identically(optimizer, tmp_path):
    """On a GPU (bf16 autocast): 10 steps straight == 5 steps, a checkpoint, a new Trainer resumed, 5 more."""
    from minillm.model import GPT, GPTConfig

    tokens = np.random.default_rng(0).integers(0, 300, size=50_000).astype(np.int32)

    def trainer(folder, resume=False):
        torch.manual_seed(0)
        model = GPT(GPTConfig(vocab_size=300, block_size=64, n_layer=2, n_head=4, n_embd=64))
        cfg = TrainConfig(steps=10, batch_size=8, lr=1e-3, warmup_steps=2, eval_every=0, progress=False,
                          out_dir=str(folder), checkpoint_every=5, optimizer=optimizer)
        return Trainer(model, tokens, None, cfg, device="cuda", resume=resume)

    straight = trainer(tmp_path / "a")
    straight.fit()
    first = trainer(tmp_path / "b")
    for _ in range(5):
        first.train_step()
    first.save_checkpoint()
    resumed = trainer(tmp_path / "b", resume=True)
    resumed.fit()
    for p, q in zip(straight.model.parameters(), resumed.model.parameters()):
        assert torch.equal(p.detach().cpu(), q.detach().cpu())
