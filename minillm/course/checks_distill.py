"""Checks for chapter 10's exercises (distillation and quantisation): each runs the learner's
function on inputs it picks, compares with a reference written here from the formula, and says
in words what is wrong. They reject constants, ignored arguments, the usual slips (a missing
``T**2``, the KL the wrong way round, one scale for the whole matrix, groups along the wrong
axis, ``repeat`` for ``repeat_interleave``) and minillm's own function passed off as the answer.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from . import checks as _c


def _reference_kd(s, t, y, T, alpha):
    log_ps, log_pt = F.log_softmax(s / T, -1), F.log_softmax(t / T, -1)
    kl = (log_pt.exp() * (log_pt - log_ps)).sum(-1).mean()
    return alpha * T**2 * kl + (1 - alpha) * F.cross_entropy(s, y)


def _scalar(x, what: str) -> torch.Tensor:
    _c.check(isinstance(x, torch.Tensor), f"your {what} should return a torch tensor, got {type(x).__name__}")
    _c.check(x.dim() == 0, f"your {what} should return one number (a 0-d tensor, the mean over positions), "
                           f"got shape {tuple(x.shape)}")
    return x.detach().float()


def _close(a, b, tol=1e-4) -> bool:
    return bool(torch.isclose(torch.as_tensor(a, dtype=torch.float32), torch.as_tensor(b, dtype=torch.float32),
                              atol=tol, rtol=tol))


# --- 10.1 the distillation loss ----------------------------------------------------------------


def check_distillation_loss(fn) -> None:
    """``fn(student_logits (N, V), teacher_logits (N, V), targets (N,), T, alpha)`` -> the mean of
    ``alpha * T**2 * KL(p_teacher,T || p_student,T) + (1 - alpha) * CE(student, targets)``."""
    from ..distill import distillation_loss

    mine = _c.own_work(fn, distillation_loss, what="your distillation loss")
    g = torch.Generator().manual_seed(10)
    for n, v, T, alpha in ((6, 5, 1.0, 0.5), (4, 7, 3.0, 0.7), (5, 6, 2.0, 0.25), (3, 4, 2.0, 1.0)):
        s, t = torch.randn(n, v, generator=g) * 2, torch.randn(n, v, generator=g) * 2
        y = torch.randint(0, v, (n,), generator=g)
        got = _scalar(mine(s.clone(), t.clone(), y.clone(), T, alpha), "distillation loss")
        want = _reference_kd(s, t, y, T, alpha)
        if not _close(got, want):
            if _close(got, _reference_kd(s, t, y, 1.0, alpha)) or \
                    _close(got, alpha * _reference_kd(s, t, y, T, 1.0) / T**2 + (1 - alpha) * F.cross_entropy(s, y)):
                raise AssertionError(f"your loss is off at T={T}: multiply the KL term by T**2 (and divide both "
                                     "sets of logits by T inside the softmax), so its gradients keep their size")
            ps, pt = F.log_softmax(s / T, -1), F.log_softmax(t / T, -1)
            reverse = alpha * T**2 * (ps.exp() * (ps - pt)).sum(-1).mean() + (1 - alpha) * F.cross_entropy(s, y)
            _c.check(not _close(got, reverse), "your KL is the wrong way round: it should be KL(teacher || student) "
                                               "= sum p_teacher * (log p_teacher - log p_student)")
            swapped = (1 - alpha) * T**2 * (pt.exp() * (pt - ps)).sum(-1).mean() + alpha * F.cross_entropy(s, y)
            _c.check(not _close(got, swapped), "alpha weighs the wrong term: alpha goes with the soft (KL) term, "
                                               "1 - alpha with the hard cross-entropy")
            _c.check(not _close(got, want * n), "your loss sums over positions; take the mean so it does not grow "
                                                "with the batch")
            _c.check_close(got, want, f"your distillation loss (T={T}, alpha={alpha})", rtol=1e-4, atol=1e-5)
    # the loss must be 0 in its KL part when the student copies the teacher, and follow the targets
    s = torch.randn(4, 5, generator=g)
    y = torch.randint(0, 5, (4,), generator=g)
    _c.check(_close(_scalar(mine(s, s.clone(), y, 2.0, 1.0), "distillation loss"), 0.0),
             "with alpha=1 and a student equal to its teacher the loss should be 0 (the KL of a distribution "
             "with itself)")
    y2 = (y + 1) % 5
    a, b = (_scalar(mine(s, s.clone(), yy, 2.0, 0.5), "distillation loss") for yy in (y, y2))
    _c.check(not _close(a, b), "your loss does not change when the targets change: the hard-label term "
                               "(1 - alpha) * cross_entropy(student, targets) is missing")


# --- 10.2 absmax int8 ----------------------------------------------------------------------------


def check_absmax_int8(fn) -> None:
    """``fn(w (out, in))`` -> ``(q int8 (out, in), scale (out,))`` with ``scale = max|row| / 127``
    and ``q = round(w / scale)``."""
    from ..quantize import quantize_int8

    mine = _c.own_work(fn, quantize_int8, what="your absmax quantiser")
    g = torch.Generator().manual_seed(11)
    w = torch.randn(6, 16, generator=g) * torch.logspace(-2, 1, 6)[:, None]  # rows of very different sizes
    w[2, 3] = -5.0  # a row whose largest magnitude is negative
    out = mine(w.clone())
    _c.check(isinstance(out, tuple) and len(out) == 2, "return a pair (q, scale)")
    q, scale = out
    _c.check(isinstance(q, torch.Tensor) and q.dtype == torch.int8,
             f"q should be an int8 tensor (1 byte a weight), got "
             f"{q.dtype if isinstance(q, torch.Tensor) else type(q).__name__}; use .to(torch.int8) after rounding")
    _c.check(tuple(q.shape) == tuple(w.shape), f"q should have w's shape {tuple(w.shape)}, got {tuple(q.shape)}")
    _c.check(isinstance(scale, torch.Tensor) and scale.numel() == w.shape[0],
             f"scale should hold one number per output row ({w.shape[0]}), got "
             f"{tuple(scale.shape) if isinstance(scale, torch.Tensor) else scale!r}: one scale for the whole "
             "matrix lets the largest row squash the small ones to 0")
    scale = scale.reshape(-1).float()
    want_scale = w.abs().amax(1) / 127
    _c.check(not _close(scale[0], w.abs().amax(1)[0] / 128, 1e-6) or _close(scale[0], want_scale[0], 1e-6),
             "divide max|w| by 127, not 128: the symmetric range is -127..127")
    _c.check(not torch.allclose(scale, w[:, :].amax(1) / 127), "use the largest magnitude |w| of each row, not the "
                                                               "largest value: a row's extreme may be negative")
    _c.check_close(scale, want_scale, "your scales (max |w| of each row / 127)", rtol=1e-5, atol=1e-9)
    want_q = torch.round(w / want_scale[:, None]).to(torch.int8)
    _c.check(int(q.abs().max()) <= 127, "q leaves -127..127")
    floor = torch.trunc(w / want_scale[:, None]).to(torch.int8)
    _c.check(not torch.equal(q, floor) or torch.equal(q, want_q), "round to the nearest integer (torch.round), "
                                                                  "do not truncate: truncation doubles the error")
    _c.check(torch.equal(q, want_q), f"{int((q != want_q).sum())} of your codes differ from round(w / scale)")


# --- 10.3 group quantisation to 4 bits -----------------------------------------------------------


def check_group_int4(fn) -> None:
    """``fn(w (out, in), group_size)`` -> ``(q int8 (out, in) in -7..7, scale (out, in // group_size))``:
    each run of ``group_size`` consecutive weights of a row gets ``scale = max|w| / 7``. A width not
    divisible by ``group_size`` must raise ``ValueError``."""
    from ..quantize import quantize_int4

    mine = _c.own_work(fn, quantize_int4, what="your group quantiser")
    g = torch.Generator().manual_seed(12)
    for out_f, in_f, gs in ((4, 16, 4), (3, 24, 8), (2, 32, 16)):
        w = torch.randn(out_f, in_f, generator=g)
        w[:, :gs] *= 20  # the first group of each row holds outliers: a row scale would squash the rest
        res = mine(w.clone(), gs)
        _c.check(isinstance(res, tuple) and len(res) == 2, "return a pair (q, scale)")
        q, scale = res
        _c.check(isinstance(q, torch.Tensor) and tuple(q.shape) == (out_f, in_f),
                 f"q should have w's shape {(out_f, in_f)} (one code per weight), got "
                 f"{tuple(q.shape) if isinstance(q, torch.Tensor) else type(q).__name__}")
        _c.check(isinstance(scale, torch.Tensor) and tuple(scale.shape) == (out_f, in_f // gs),
                 f"scale should have shape (out, in // group_size) = {(out_f, in_f // gs)} for group_size={gs}, got "
                 f"{tuple(scale.shape) if isinstance(scale, torch.Tensor) else type(scale).__name__}")
        want_scale = w.view(out_f, in_f // gs, gs).abs().amax(-1) / 7
        cols = w.view(out_f, gs, in_f // gs).abs().amax(1) / 7  # a slip: groups of strided columns
        _c.check(not torch.allclose(scale.float(), cols) or torch.allclose(scale.float(), want_scale),
                 "your groups take every (in // group_size)-th weight; a group is group_size *consecutive* "
                 "weights of a row: w.view(out, in // group_size, group_size)")
        _c.check_close(scale.float(), want_scale, f"your scales (group_size={gs}: max |w| of each group / 7)",
                       rtol=1e-5, atol=1e-8)
        want_q = torch.round(w.view(out_f, -1, gs) / want_scale[..., None]).view(out_f, in_f)
        _c.check(float(q.float().abs().max()) <= 7, "4-bit symmetric codes must stay in -7..7")
        _c.check(torch.equal(q.float(), want_q), f"{int((q.float() != want_q).sum())} of your codes differ from "
                                                 "round(w / scale of its group)")
    try:
        mine(torch.randn(2, 10), 4)
    except ValueError as e:
        _c.check("group" in str(e).lower() or "divisible" in str(e).lower(),
                 f"your ValueError for a width not divisible by group_size should say so; it says: {e}")
    except Exception as e:  # noqa: BLE001 - any other error type is the learner's slip
        raise AssertionError(f"a width of 10 with group_size=4 should raise a ValueError that says the width is "
                             f"not divisible by the group size; yours raised {type(e).__name__}: {e}") from None
    else:
        raise AssertionError("a width of 10 with group_size=4 should raise a ValueError (10 is not divisible by 4); "
                             "yours returned instead of refusing")


# --- 10.4 dequantisation and its error ------------------------------------------------------------


def check_dequantize_groups(fn) -> None:
    """``fn(q (out, in), scale (out, n_groups), group_size)`` -> float32 ``(out, in)``: each code
    times the scale of its group."""
    from ..quantize import dequantize_int4

    mine = _c.own_work(fn, dequantize_int4, what="your dequantiser")
    g = torch.Generator().manual_seed(13)
    for out_f, in_f, gs in ((3, 12, 4), (2, 16, 8), (4, 6, 6)):
        q = torch.randint(-7, 8, (out_f, in_f), generator=g).to(torch.int8)
        scale = torch.rand(out_f, in_f // gs, generator=g) + 0.1
        got = mine(q.clone(), scale.clone(), gs)
        _c.check(isinstance(got, torch.Tensor) and got.is_floating_point(),
                 "return a float tensor (the weights back in floating point)")
        want = q.float() * scale.repeat_interleave(gs, dim=1)
        wrong = q.float() * scale.repeat(1, gs) if scale.shape[1] > 1 else want
        _c.check(not torch.allclose(got.float(), wrong) or torch.allclose(got.float(), want),
                 "scale.repeat(1, group_size) tiles the scales in the wrong order ([s0, s1, s0, s1, ...]); each "
                 "scale must cover its group_size consecutive weights: repeat_interleave")
        _c.check_close(got.float(), want, f"your dequantised weights (group_size={gs})")


def group_rmse(w: torch.Tensor, group_size: int) -> float:
    """The measured RMS error of 4-bit symmetric group quantisation of ``w`` (the check's own
    measurement, for :func:`check_error_prediction`)."""
    out_f, in_f = w.shape
    g = w.float().view(out_f, in_f // group_size, group_size)
    scale = g.abs().amax(-1, keepdim=True) / 7
    return float((torch.round(g / scale) * scale - g).pow(2).mean().sqrt())


def check_error_prediction(prediction, w: torch.Tensor, group_size: int) -> None:
    """The learner's predicted RMS rounding error of ``w`` at 4 bits in groups of ``group_size``
    must be within 10% of the measurement (rounding to a grid of step ``s`` leaves an error spread
    evenly over ``[-s/2, s/2]``, whose RMS is ``s / sqrt(12)``)."""
    _c.check_prediction(prediction, group_rmse(w, group_size), "the RMS rounding error", rel=0.1)
