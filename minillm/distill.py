"""Knowledge distillation: a small student learns from a big teacher's soft predictions (chapter 10).

The teacher's full distribution over the vocabulary says more than the one right token: which
wrong tokens are nearly right. Softening both distributions with a temperature ``T`` makes that
"dark knowledge" visible to the student.

Paper: Hinton, Vinyals, Dean (2015), "Distilling the Knowledge in a Neural Network".
https://arxiv.org/abs/1503.02531
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .utils import InputTypeError, check_float, check_int


def distillation_loss(
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor,
    targets: torch.Tensor,
    T: float = 2.0,
    alpha: float = 0.5,
    ignore_index: int = -100,
) -> torch.Tensor:
    """``alpha * T**2 * KL(softmax(t/T) || softmax(s/T)) + (1 - alpha) * CE(s, targets)``.

    ``student_logits``, ``teacher_logits``: (..., V), e.g. (B, T, V) or (N, V); ``targets``:
    the matching (...) token ids, with ``ignore_index`` (-100) on positions that count for
    neither term (padding, the prompt). The KL is summed over the vocabulary and averaged over
    the counted positions, like the cross-entropy. The ``T**2`` keeps the soft term's gradients
    the same size whatever ``T`` (Hinton et al. 2015, sec. 2). The teacher gets no gradient.
    """
    for name, t in (("student_logits", student_logits), ("teacher_logits", teacher_logits)):
        if not isinstance(t, torch.Tensor) or not t.is_floating_point():
            got = f"dtype {t.dtype}" if isinstance(t, torch.Tensor) else type(t).__name__
            raise InputTypeError(f"{name} must be a floating-point tensor (..., V), got {got}")
    if not isinstance(targets, torch.Tensor) or targets.is_floating_point() or targets.dtype == torch.bool:
        got = f"dtype {targets.dtype}" if isinstance(targets, torch.Tensor) else type(targets).__name__
        raise InputTypeError(f"targets must be an integer tensor of token ids (...), got {got}")
    ignore_index = check_int("ignore_index", ignore_index)
    if student_logits.shape != teacher_logits.shape:
        raise ValueError(
            f"teacher_logits has shape {tuple(teacher_logits.shape)} but student_logits has "
            f"{tuple(student_logits.shape)}; they must match (same vocabulary, same positions)"
        )
    if student_logits.dim() < 2:
        raise ValueError(f"student_logits must have shape (..., V), got {tuple(student_logits.shape)}")
    if targets.shape != student_logits.shape[:-1]:
        raise ValueError(
            f"targets must have shape {tuple(student_logits.shape[:-1])} (the logits without V), "
            f"got {tuple(targets.shape)}"
        )
    if isinstance(T, (int, float)) and not isinstance(T, bool) and not T > 0:
        raise ValueError(f"T must be > 0, got {T!r} (1 to 4 is usual)")
    T = check_float("T", T, 0, exclusive_minimum=True)
    if isinstance(alpha, (int, float)) and not isinstance(alpha, bool) and not 0 <= alpha <= 1:
        raise ValueError(f"alpha must lie in [0, 1], got {alpha!r}")
    alpha = check_float("alpha", alpha, 0, 1)
    V = student_logits.shape[-1]
    s, t, y = student_logits.reshape(-1, V), teacher_logits.detach().reshape(-1, V), targets.reshape(-1)
    keep = y != ignore_index
    if not keep.any():
        raise ValueError(f"every target is ignore_index={ignore_index}; nothing to learn from")
    s, t, y = s[keep], t[keep], y[keep]
    if (y < 0).any() or (y >= V).any():
        raise ValueError(f"targets must be token ids in [0, {V}) or {ignore_index}, got {y[(y < 0) | (y >= V)][:3].tolist()}")
    log_p_s = F.log_softmax(s / T, dim=-1)
    log_p_t = F.log_softmax(t / T, dim=-1)
    kl = (log_p_t.exp() * (log_p_t - log_p_s)).sum(-1).mean()
    ce = F.cross_entropy(s, y)
    return alpha * T**2 * kl + (1 - alpha) * ce
