"""Chapter 10's exercise checks accept right answers and reject wrong ones, saying what is wrong."""

import pytest
import torch
import torch.nn.functional as F

import minillm.course.checks_distill as ch
from minillm import distill, quantize


def kd(s, t, y, T, alpha):
    log_ps, log_pt = F.log_softmax(s / T, -1), F.log_softmax(t / T, -1)
    return alpha * T**2 * (log_pt.exp() * (log_pt - log_ps)).sum(-1).mean() + (1 - alpha) * F.cross_entropy(s, y)


def test_distillation_loss():
    ch.check_distillation_loss(kd)
    wrong = {
        "T\\*\\*2": lambda s, t, y, T, a: kd(s, t, y, T, a) - a * (T**2 - 1) * kd(s, t, y, T, 1.0) / T**2,
        "no temperature|T\\*\\*2": lambda s, t, y, T, a: kd(s, t, y, 1.0, a),
        "wrong way round": lambda s, t, y, T, a: kd(t, s, y, T, 0.0) * 0 + a * T**2 * (
            F.log_softmax(s / T, -1).exp() * (F.log_softmax(s / T, -1) - F.log_softmax(t / T, -1))).sum(-1).mean()
            + (1 - a) * F.cross_entropy(s, y),
        "alpha weighs the wrong term": lambda s, t, y, T, a: kd(s, t, y, T, 1.0) * (1 - a) + a * F.cross_entropy(s, y),
        "sums over positions": lambda s, t, y, T, a: kd(s, t, y, T, a) * s.shape[0],
        "one number": lambda s, t, y, T, a: kd(s, t, y, T, a).expand(3),
        "is off": lambda s, t, y, T, a: torch.tensor(1.0),  # a constant
        "targets change|is off": lambda s, t, y, T, a: kd(s, t, torch.zeros_like(y), T, a),  # ignores the targets
        "library's own": distill.distillation_loss,
        "calls minillm.distill": lambda s, t, y, T, a: distill.distillation_loss(s, t, y, T=T, alpha=a),
    }
    for msg, fn in wrong.items():
        with pytest.raises(AssertionError, match=msg):
            ch.check_distillation_loss(fn)


def absmax(w):
    scale = w.abs().amax(1) / 127
    return torch.round(w / scale[:, None]).to(torch.int8), scale


def test_absmax_int8():
    ch.check_absmax_int8(absmax)
    wrong = {
        "one number per output row": lambda w: (torch.round(w / (w.abs().max() / 127)).to(torch.int8),
                                                w.abs().max() / 127),
        "127, not 128": lambda w: (torch.round(w / (w.abs().amax(1) / 128)[:, None]).clamp(-127, 127).to(torch.int8),
                                   w.abs().amax(1) / 128),
        "largest magnitude": lambda w: (torch.round(w / (w.amax(1) / 127)[:, None]).clamp(-127, 127).to(torch.int8),
                                        w.amax(1) / 127),
        "int8 tensor": lambda w: (absmax(w)[0].float(), absmax(w)[1]),
        "truncate": lambda w: (torch.trunc(w / absmax(w)[1][:, None]).to(torch.int8), absmax(w)[1]),
        "pair": lambda w: absmax(w)[0],
        "library's own": quantize.quantize_int8,
        "calls minillm.quantize": lambda w: quantize.quantize_int8(w),
    }
    for msg, fn in wrong.items():
        with pytest.raises(AssertionError, match=msg):
            ch.check_absmax_int8(fn)


def group4(w, group_size):
    out_f, in_f = w.shape
    if in_f % group_size:
        raise ValueError(f"width {in_f} is not divisible by group_size={group_size}")
    g = w.view(out_f, in_f // group_size, group_size)
    scale = g.abs().amax(-1) / 7
    return torch.round(g / scale[..., None]).view(out_f, in_f).to(torch.int8), scale


def test_group_int4():
    ch.check_group_int4(group4)

    def strided(w, gs):
        out_f, in_f = w.shape
        if in_f % gs:
            raise ValueError("not divisible")
        scale = w.view(out_f, gs, in_f // gs).abs().amax(1) / 7
        return torch.round(w.view(out_f, gs, -1) / scale[:, None, :]).view(out_f, in_f), scale

    def no_check(w, gs):
        out_f, in_f = w.shape
        n = in_f // gs
        g = w[:, : n * gs].reshape(out_f, n, gs)
        scale = g.abs().amax(-1) / 7
        return torch.round(g / scale[..., None]).reshape(out_f, -1), scale

    wrong = {
        "shape \\(out, in // group_size\\)": lambda w, gs: (torch.round(w / (w.abs().amax(1, keepdim=True) / 7)),
                                                          w.abs().amax(1) / 7),  # one scale per row
        "consecutive": strided,
        "-7..7|differ": lambda w, gs: (group4(w, gs)[0] + 8, group4(w, gs)[1]),  # unsigned codes without zero point
        "/ 7": lambda w, gs: (group4(w, gs)[0], group4(w, gs)[1] * 7 / 8),
        "w's shape": lambda w, gs: (group4(w, gs)[0].flatten(), group4(w, gs)[1]),
        "returned instead of refusing": no_check,
        "should say so": lambda w, gs: group4(w, gs) if w.shape[1] % gs == 0 else (_ for _ in ()).throw(ValueError("bad")),
        "raised RuntimeError": lambda w, gs: group4(w, gs) if w.shape[1] % gs == 0 else w.view(w.shape[0], -1, gs),
        "library's own": quantize.quantize_int4,
    }
    for msg, fn in wrong.items():
        with pytest.raises(AssertionError, match=msg):
            ch.check_group_int4(fn)


def test_dequantize_groups_and_error_prediction():
    ch.check_dequantize_groups(lambda q, s, gs: q.float() * s.repeat_interleave(gs, dim=1))
    wrong = {
        "repeat_interleave": lambda q, s, gs: q.float() * s.repeat(1, gs),
        "dequantised weights": lambda q, s, gs: q.float() * s.mean(),  # one scale for all
        "float tensor": lambda q, s, gs: q,
        "library's own": quantize.dequantize_int4,
    }
    for msg, fn in wrong.items():
        with pytest.raises(AssertionError, match=msg):
            ch.check_dequantize_groups(fn)
    w = torch.randn(64, 256, generator=torch.Generator().manual_seed(0))
    scale = w.view(64, -1, 32).abs().amax(-1) / 7
    ch.check_error_prediction(float(scale.pow(2).mean().div(12).sqrt()), w, 32)  # s / sqrt(12), right
    for msg, pred in {"RMS rounding error": float(scale.mean() / 2),  # the largest error, not the RMS
                      "as a number": None, "away": 0.0}.items():
        with pytest.raises(AssertionError, match=msg):
            ch.check_error_prediction(pred, w, 32)


# the same checks, run from the solutions notebook with wrong answers swapped into its cells
from exercise_harness import Wrong, ids, run_wrong  # noqa: E402

NB = "solutions/10-distillation.ipynb"
WRONG = [
    Wrong("10.1", "return F.cross_entropy(student_logits, targets)", "targets change|is off|T\\*\\*2"),
    Wrong("10.1", "return F.kl_div(F.log_softmax(student_logits / T, -1), F.log_softmax(teacher_logits / T, -1),"
                  " log_target=True, reduction='batchmean') * alpha + (1 - alpha) * F.cross_entropy(student_logits,"
                  " targets)", "T\\*\\*2", name="no T squared"),
    Wrong("10.2", "return torch.round(w / (w.abs().max() / 127)).to(torch.int8), w.abs().max() / 127",
          "one number per output row"),
    Wrong("10.3", ["out_f, in_f = w.shape\ng = w[:, : in_f // group_size * group_size].reshape(out_f, -1, group_size)"
                   "\nscale = g.abs().amax(-1) / 7\nreturn torch.round(g / scale[..., None]).reshape(out_f, -1), scale"],
          "refusing", name="drops the tail"),
    Wrong("10.4", ["return q.float() * scale.repeat(1, group_size)", None], "repeat_interleave"),
    Wrong("10.4", [None, "predicted_rmse = float(scales.mean() / 2)"], "RMS rounding error", name="max error"),
]


@pytest.mark.parametrize("wrong", WRONG, ids=ids(WRONG))
def test_wrong_answer_in_notebook_is_rejected(wrong):
    run_wrong(NB, wrong)
