"""Checks for chapter 7's exercises (RLHF): each runs the learner's function on inputs it picks
and says in words what is wrong. They reject constants, ignored arguments, and minillm's own
function passed off as the learner's (its code is swapped for a trap while the check runs).
"""

from __future__ import annotations

import contextlib
import math

import torch
import torch.nn.functional as F

from . import checks as _c

_TRAP_MESSAGE = "minillm-library-function-called"


def _trap(*args, **kwargs):
    raise RuntimeError("minillm-library-function-called")


@contextlib.contextmanager
def _library_forbidden(*names):
    """While active, calling ``minillm.rlhf.NAME`` (however it was imported) raises a trap error."""
    from .. import rlhf

    fns = [getattr(rlhf, n) for n in names]
    saved = [f.__code__ for f in fns]
    try:
        for f in fns:
            f.__code__ = _trap.__code__
        yield
    finally:
        for f, code in zip(fns, saved):
            f.__code__ = code


def _call(fn, what: str, names: tuple, *args):
    """Call the learner's ``fn`` with minillm's versions of ``names`` trapped."""
    from .. import rlhf

    for n in names:
        lib = getattr(rlhf, n)
        if fn is lib or getattr(fn, "__code__", None) is lib.__code__:
            raise AssertionError(f"your {what} is minillm.rlhf.{n} itself; write it from the formula")
    with _library_forbidden(*names):
        try:
            return fn(*args)
        except RuntimeError as e:
            if _TRAP_MESSAGE in str(e):
                raise AssertionError(f"your {what} calls minillm.rlhf.{names[0]}; write it from the formula "
                                     "with torch operations") from None
            raise


def _scalar(x, what: str) -> torch.Tensor:
    _c.check(isinstance(x, torch.Tensor), f"your {what} should return a torch tensor, got {type(x).__name__}")
    _c.check(x.dim() == 0, f"your {what} should return one number (a 0-d tensor, the mean), got shape {tuple(x.shape)}")
    return x


# --- 7.1 the Bradley-Terry loss ------------------------------------------------------------------


def check_bradley_terry(fn) -> None:
    """``fn(r_chosen, r_rejected)`` (N,) -> mean of ``-log sigmoid(r_chosen - r_rejected)``."""
    g = torch.Generator().manual_seed(7)
    for n in (5, 8):
        rc, rr = torch.randn(n, generator=g) * 2, torch.randn(n, generator=g) * 2
        got = _scalar(_call(fn, "Bradley-Terry loss", ("bradley_terry_loss",), rc.clone(), rr.clone()),
                      "Bradley-Terry loss")
        want = -F.logsigmoid(rc - rr).mean()
        _c.check(not torch.isclose(got, (-F.logsigmoid(rr - rc)).mean(), atol=1e-5) or torch.isclose(got, want),
                 "your loss rewards the rejected answer: it should be -log sigmoid(r_chosen - r_rejected)")
        _c.check(not torch.isclose(got, -F.logsigmoid(rc - rr).sum(), atol=1e-5) or n == 1,
                 "your loss sums over pairs; take the mean so it does not grow with the batch")
        _c.check_close(got, want, "your Bradley-Terry loss")
    # large margins: a naive log(sigmoid(.)) underflows to -inf
    big = _call(fn, "Bradley-Terry loss", ("bradley_terry_loss",), torch.tensor([-60.0]), torch.tensor([60.0]))
    _c.check(bool(torch.isfinite(big)), "your loss is infinite for a large margin (-120): use F.logsigmoid, "
             "not torch.log(torch.sigmoid(...))")
    _c.check_close(big, torch.tensor(120.0), "your Bradley-Terry loss at margin -120", rtol=1e-4)


# --- 7.2 the DPO loss --------------------------------------------------------------------------------


def check_dpo_loss(fn) -> None:
    """``fn(pc, pr, rc, rr, beta)`` -> mean ``-log sigmoid(beta((pc - rc) - (pr - rr)))``."""
    g = torch.Generator().manual_seed(3)
    pc, pr, rc, rr = (torch.randn(6, generator=g) * 3 - 20 for _ in range(4))
    for beta in (0.1, 0.5):
        got = _scalar(_call(fn, "DPO loss", ("dpo_loss",), pc, pr, rc, rr, beta), "DPO loss")
        want = -F.logsigmoid(beta * ((pc - rc) - (pr - rr))).mean()
        no_ref = -F.logsigmoid(beta * (pc - pr)).mean()
        _c.check(not torch.isclose(got, no_ref, atol=1e-6) or torch.isclose(got, want, atol=1e-6),
                 "your DPO loss ignores the reference model's log-probabilities (ref_chosen, ref_rejected)")
        _c.check_close(got, want, f"your DPO loss (beta={beta})")
    a = _call(fn, "DPO loss", ("dpo_loss",), pc, pr, rc, rr, 0.1)
    b = _call(fn, "DPO loss", ("dpo_loss",), pc, pr, rc, rr, 1.0)
    _c.check(not torch.isclose(a, b), "your DPO loss does not change with beta; multiply the log-ratio margin by beta")


# --- 7.3 generalised advantage estimation -------------------------------------------------------------


def _gae_reference(r, v, gamma, lam):
    adv, running = torch.zeros_like(r), 0.0
    for t in reversed(range(len(r))):
        nxt = v[t + 1] if t + 1 < len(r) else 0.0
        running = r[t] + gamma * nxt - v[t] + gamma * lam * running
        adv[t] = running
    return adv


def check_gae(fn) -> None:
    """``fn(rewards, values, gamma, lam)`` for one episode (T,) -> advantages (T,)."""
    g = torch.Generator().manual_seed(5)
    r, v = torch.randn(6, generator=g), torch.randn(6, generator=g)
    for gamma, lam in ((1.0, 0.95), (0.9, 0.5), (0.99, 1.0), (0.8, 0.0)):
        got = _call(fn, "GAE", ("gae",), r.clone(), v.clone(), gamma, lam)
        _c.check(isinstance(got, torch.Tensor) and got.shape == r.shape,
                 f"your GAE should return a tensor of shape {tuple(r.shape)} (one advantage per step)")
        want = _gae_reference(r, v, gamma, lam)
        if lam > 0 and torch.allclose(got, r + gamma * torch.cat([v[1:], torch.zeros(1)]) - v, atol=1e-5):
            raise AssertionError("your GAE returns the one-step TD errors delta_t only; add "
                                 "gamma * lam * A_{t+1}, working backwards from the last step")
        _c.check_close(got, want, f"your advantages (gamma={gamma}, lam={lam})", rtol=1e-4, atol=1e-5)


# --- 7.4 the clipped PPO objective --------------------------------------------------------------------


def check_ppo_clip(fn) -> None:
    """``fn(logp_new, logp_old, advantages, eps)`` -> ``-mean(min(ratio A, clip(ratio) A))``."""
    logp_old = torch.log(torch.tensor([0.2, 0.5, 0.3, 0.1, 0.6, 0.25]))
    ratio = torch.tensor([1.5, 0.6, 1.1, 0.95, 1.4, 0.7])
    logp_new = logp_old + ratio.log()
    adv = torch.tensor([1.0, 1.0, -2.0, 0.5, -1.0, -1.5])
    for eps in (0.2, 0.1):
        got = _scalar(_call(fn, "PPO loss", ("ppo_clip_loss",), logp_new.clone(), logp_old.clone(), adv.clone(), eps),
                      "PPO loss")
        want = -torch.minimum(ratio * adv, ratio.clamp(1 - eps, 1 + eps) * adv).mean()
        _c.check(not torch.isclose(got, -(ratio * adv).mean(), atol=1e-5),
                 "your PPO loss does not clip the ratio: use min(ratio * A, clip(ratio, 1-eps, 1+eps) * A)")
        _c.check(not torch.isclose(got, -(ratio.clamp(1 - eps, 1 + eps) * adv).mean(), atol=1e-5),
                 "your PPO loss uses the clipped term alone; take the minimum with the unclipped one")
        _c.check(not torch.isclose(got, -want, atol=1e-5),
                 "your PPO loss has the wrong sign: the objective is maximised, so the loss is its negative")
        _c.check_close(got, want, f"your PPO loss (eps={eps})", rtol=1e-4)
    new = logp_new.clone().requires_grad_(True)
    loss = _call(fn, "PPO loss", ("ppo_clip_loss",), new, logp_old.clone(), adv.clone(), 0.2)
    _c.check(loss.requires_grad, "no gradient reaches logp_new: keep it in the graph (no .detach(), no .item())")
    loss.backward()
    _c.check(new.grad is not None and new.grad.abs().sum() > 0, "no gradient reaches logp_new: keep it in the graph")
    clipped = ((ratio > 1.2) & (adv > 0)) | ((ratio < 0.8) & (adv < 0))
    _c.check(bool((new.grad[clipped] == 0).all()), "clipped entries should get no gradient (they sit on the flat part)")


# --- 7.5 group-relative advantages -------------------------------------------------------------------


def check_group_advantages(fn) -> None:
    """``fn(rewards (N,), group_size)`` -> each reward standardised within its group (sample std)."""
    rewards = torch.tensor([1.0, 0.0, 0.0, 0.0, 3.0, 5.0, 4.0, 8.0, 2.0, 2.0, 2.0, 2.0])
    for k in (4, 2):
        got = _call(fn, "group advantages", ("group_relative_advantages",), rewards.clone(), k)
        _c.check(isinstance(got, torch.Tensor) and got.shape == rewards.shape,
                 f"your advantages should have shape {tuple(rewards.shape)}, one per answer")
        gr = rewards.view(-1, k)
        want = ((gr - gr.mean(1, keepdim=True)) / (gr.std(1, keepdim=True) + 1e-4)).view(-1)
        whole = (rewards - rewards.mean()) / (rewards.std() + 1e-4)
        _c.check(not torch.allclose(got, whole, atol=1e-3),
                 "you standardise over the whole batch; GRPO compares each answer with its own group "
                 f"(the {k} answers to one prompt)")
        _c.check(not torch.allclose(got, (gr - gr.mean(1, keepdim=True)).view(-1), atol=1e-3),
                 "you subtract the group mean but do not divide by the group's standard deviation")
        _c.check(bool(torch.isfinite(got).all()), "a group whose rewards are all equal gives NaN or inf: add "
                 "a small eps to the standard deviation")
        _c.check_close(got, want, f"your group-relative advantages (group_size={k})", rtol=1e-3, atol=1e-3)


# --- 7.6 mini-project: a labeller with another taste ---------------------------------------------------


def check_new_preference(my_score, task, before: float, after: float, answers) -> None:
    """The project: ``my_score(prompt, answer)`` is a taste of the learner's own (not the chapter's),
    and the policy trained on it scores higher under it ``after`` than ``before`` training."""
    _c.check(callable(my_score), "my_score should be a function (prompt, answer) -> number")
    prompts, texts = answers
    mine = [float(my_score(p, a)) for p, a in zip(prompts, texts)]
    _c.check(all(math.isfinite(x) for x in mine), "my_score returned a NaN or infinity")
    _c.check(len(set(mine)) > 1, "my_score gives every answer the same score: a labeller with no taste teaches nothing")
    theirs = [task.score(p, a) for p, a in zip(prompts, texts)]
    _c.check(mine != theirs, "my_score is the chapter's own score; change the taste (e.g. prefer long answers, "
             "or answers that mention a colour)")
    _c.check(after > before, f"under your taste the trained policy ({after:.3f}) is not better than the start "
             f"({before:.3f}); train longer, or check that the pairs come from your labeller")
