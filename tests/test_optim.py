"""Tests for minillm.optim (Muon) and the trainer's optimizer and schedule options.

- ``newton_schulz`` is compared with ``torch.linalg.svd``: its output has the same singular
  vectors as the input (its polar factor equals ``U V^T``) and singular values in the band the
  docstring states.
- Muon's AdamW groups are compared with ``torch.optim.AdamW`` step by step.
- Muon's own update is checked against the formula of Jordan's post written out with an exact
  SVD-free reference (momentum, Nesterov, the shape scale).
- The trainer with ``optimizer="muon"`` resumes bit-identically; the WSD schedule has the values
  its definition gives by hand.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from minillm.model import GPT, GPTConfig
from minillm.optim import Muon, muon_param_groups, newton_schulz
from minillm.train import TrainConfig, Trainer, load_checkpoint, lr_at, make_optimizer, train

WORKER = Path(__file__).with_name("_train_worker.py")
_spec = importlib.util.spec_from_file_location("_train_worker", WORKER)
worker = importlib.util.module_from_spec(_spec)
sys.modules.setdefault("_train_worker", worker)
_spec.loader.exec_module(worker)
DATA = worker.toy_tokens()
TRAIN, VAL = DATA[:3000], DATA[3000:]


def polar(m: torch.Tensor) -> torch.Tensor:
    u, _, vh = torch.linalg.svd(m.double(), full_matrices=False)
    return u @ vh


# -- Newton-Schulz against the SVD ------------------------------------------------------------


@pytest.mark.parametrize("shape", [(64, 256), (256, 64), (128, 384), (96, 96)])
def test_newton_schulz_keeps_singular_vectors_and_lands_in_the_band(shape):
    gen = torch.Generator().manual_seed(sum(shape))
    m, n = shape
    if m == n:  # a square Gaussian matrix has singular values near 0; give it a spread of 1..0.05
        u, _ = torch.linalg.qr(torch.randn(m, m, generator=gen))
        v, _ = torch.linalg.qr(torch.randn(n, n, generator=gen))
        g = u @ torch.diag(torch.linspace(1.0, 0.05, m)) @ v.T
    else:
        g = torch.randn(shape, generator=gen)
    s_in = torch.linalg.svdvals(g)
    assert s_in.min() >= 0.002 * g.norm()  # the docstring's condition for the band
    out = newton_schulz(g)
    assert out.shape == g.shape
    s_out = torch.linalg.svdvals(out)
    assert s_out.min() >= 0.68 - 1e-3 and s_out.max() <= 1.21 + 1e-3, (s_out.min(), s_out.max())
    # same singular vectors: the orthogonal (polar) factor of the output is the input's U V^T
    torch.testing.assert_close(polar(out), polar(g), atol=1e-4, rtol=0)
    # so out = U S' V^T is within the band's half-width of U V^T in the spectral norm
    assert torch.linalg.matrix_norm(out.double() - polar(g), ord=2) <= 0.32 + 1e-3


def test_newton_schulz_batched_and_bad_input():
    g = torch.randn(3, 32, 48, generator=torch.Generator().manual_seed(0))
    out = newton_schulz(g)
    for i in range(3):
        torch.testing.assert_close(out[i], newton_schulz(g[i]), atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match="needs a matrix"):
        newton_schulz(torch.randn(5))


# -- the optimizer --------------------------------------------------------------------------------


def test_adamw_groups_match_torch_adamw():
    torch.manual_seed(0)
    a = nn.Parameter(torch.randn(7))
    b = a.detach().clone().requires_grad_(True)
    ours = Muon([{"params": [a], "use_muon": False, "lr": 1e-2, "weight_decay": 0.1}],
                betas=(0.9, 0.99), eps=1e-8)
    ref = torch.optim.AdamW([b], lr=1e-2, betas=(0.9, 0.99), eps=1e-8, weight_decay=0.1)
    for step in range(6):
        grad = torch.randn(7, generator=torch.Generator().manual_seed(step))
        a.grad, b.grad = grad.clone(), grad.clone()
        ours.step()
        ref.step()
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-6)
    assert not torch.equal(a.detach(), torch.randn(7, generator=torch.Generator().manual_seed(0)))


def test_muon_step_follows_the_formula():
    torch.manual_seed(0)
    w = nn.Parameter(torch.randn(24, 8))  # tall: scale sqrt(24 / 8)
    start = w.detach().clone()
    opt = Muon([w], lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.1)
    g1, g2 = torch.randn(24, 8), torch.randn(24, 8)
    buf = torch.zeros(24, 8)
    expected = start.clone()
    for g in (g1, g2):
        w.grad = g.clone()
        opt.step()
        buf = 0.9 * buf + g
        expected = expected * (1 - 0.05 * 0.1) - 0.05 * 3**0.5 * newton_schulz(g + 0.9 * buf)
    torch.testing.assert_close(w.detach(), expected, atol=1e-5, rtol=1e-5)
    # the update is (nearly) orthogonal: its singular values are in the band, not the gradient's
    step = (start * (1 - 0.005) - w.detach().double().float()) / (0.05 * 3**0.5)
    assert torch.linalg.svdvals(newton_schulz(g1 + 0.9 * g1)).max() < 1.25
    assert step.abs().max() > 0


def test_muon_refuses_vectors_and_bad_settings():
    with pytest.raises(ValueError, match="2-D weight matrices only"):
        Muon([nn.Parameter(torch.zeros(4))])
    with pytest.raises(ValueError, match="lr must be positive"):
        Muon([nn.Parameter(torch.zeros(4, 4))], lr=0)
    with pytest.raises(ValueError, match="momentum"):
        Muon([nn.Parameter(torch.zeros(4, 4))], momentum=1.0)


def test_muon_param_groups_split_a_gpt():
    model = GPT(GPTConfig.preset("tiny", vocab_size=50, tie_weights=False, qk_norm=True))
    groups = muon_param_groups(model, lr=1e-3, muon_lr=0.02, weight_decay=0.1)
    names = {id(p): n for n, p in model.named_parameters()}
    head, no_decay, hidden = ([names[id(p)] for p in g["params"]] for g in groups)
    assert head == ["head.weight"]
    assert "tok_emb.weight" in no_decay and "pos_emb.weight" in no_decay
    assert all(n.endswith(("weight", "bias")) for n in hidden)
    assert {n.split(".")[-2] for n in hidden} == {"qkv", "proj", "fc"}
    assert any("q_norm" in n for n in no_decay)
    assert sum(len(g["params"]) for g in groups) == len(list(model.parameters()))
    assert [g["use_muon"] for g in groups] == [False, False, True]
    assert groups[2]["lr"] == 0.02 and groups[0]["lr"] == 1e-3


# -- the trainer's options ------------------------------------------------------------------


def test_wsd_schedule_known_values():
    cfg = TrainConfig(steps=110, lr=1.0, min_lr=0.1, warmup_steps=10, schedule="wsd", decay_frac=0.2)
    # warmup 10 steps, 100 after it, the last 20 of them decay linearly from 1.0 to 0.1
    assert lr_at(0, cfg) == pytest.approx(0.1)
    assert lr_at(9, cfg) == pytest.approx(1.0)
    assert lr_at(50, cfg) == 1.0 and lr_at(90, cfg) == 1.0
    assert lr_at(100, cfg) == pytest.approx(1.0 + (0.1 - 1.0) * 10 / 20)
    assert lr_at(109, cfg) == pytest.approx(1.0 + (0.1 - 1.0) * 19 / 20)
    assert lr_at(110, cfg) == pytest.approx(0.1)


@pytest.mark.parametrize("bad, match", [
    (dict(schedule="linear"), "schedule"), (dict(decay_frac=0.0), "decay_frac"),
    (dict(optimizer="sgd"), "optimizer"), (dict(muon_lr=-1.0), "muon_lr"),
    (dict(muon_momentum=1.0), "muon_momentum"),
])
def test_train_config_rejects_bad_new_fields(bad, match):
    with pytest.raises(ValueError, match=match):
        TrainConfig(**bad)


def test_make_optimizer_picks_muon():
    model = worker.TinyLM(worker.TinyConfig())
    opt = make_optimizer(model, TrainConfig(optimizer="muon", muon_lr=0.03))
    assert isinstance(opt, Muon)
    muon_params = [p for g in opt.param_groups if g["use_muon"] for p in g["params"]]
    assert [p.shape for p in muon_params] == [model.mlp.weight.shape]
    assert isinstance(make_optimizer(model, TrainConfig()), torch.optim.AdamW)


def _muon_cfg(out, **kw):
    return TrainConfig(**{**dict(steps=14, batch_size=4, lr=1e-2, warmup_steps=3, eval_every=0,
                                 progress=False, seed=7, optimizer="muon", muon_lr=0.02,
                                 schedule="wsd", checkpoint_every=4, out_dir=str(out)), **kw})


class _Crash(Exception):
    pass


def test_muon_training_resumes_bit_identically(tmp_path):
    def model():
        torch.manual_seed(1234)
        return worker.TinyLM(worker.TinyConfig())

    ref = model()
    train(ref, TRAIN, VAL, _muon_cfg(tmp_path / "ref"), device="cpu")

    class CrashAt:
        def on_step(self, trainer, info):
            if info["step"] == 10:
                raise _Crash

    cfg = _muon_cfg(tmp_path / "run")
    with pytest.raises(_Crash):
        train(model(), TRAIN, VAL, cfg, callbacks=[CrashAt()], device="cpu")
    torch.manual_seed(999)
    resumed = worker.TinyLM(worker.TinyConfig())
    trainer = Trainer(resumed, TRAIN, VAL, cfg, resume=True, device="cpu")
    assert trainer.step == 8 and isinstance(trainer.optimizer, Muon)
    trainer.fit()
    for k, v in ref.state_dict().items():
        assert torch.equal(v, resumed.state_dict()[k]), f"{k} differs after resume"
    a, b = load_checkpoint(tmp_path / "ref"), load_checkpoint(tmp_path / "run")
    assert a["history"]["loss"] == b["history"]["loss"]
    bufs = lambda ck: [s["momentum_buffer"] for s in ck["optimizer"]["state"].values()  # noqa: E731
                       if "momentum_buffer" in s]
    assert len(bufs(a)) == 1 and all(torch.equal(x, y) for x, y in zip(bufs(a), bufs(b)))
    assert a["history"]["loss"][-1] < a["history"]["loss"][0]


def test_gpt_trains_with_muon_and_wsd():
    torch.manual_seed(0)
    model = GPT(GPTConfig.preset("tiny", vocab_size=13, block_size=16, pos="rope", qk_norm=True,
                                 mlp_act="relu2", zero_init_proj=True, tie_weights=False,
                                 logit_softcap=15.0))
    hist = train(model, TRAIN, VAL, TrainConfig(steps=40, batch_size=8, lr=3e-3, warmup_steps=4,
                                                eval_every=0, progress=False, optimizer="muon",
                                                schedule="wsd"), device="cpu")
    assert sum(hist.loss[-5:]) / 5 < hist.loss[0] - 0.5
