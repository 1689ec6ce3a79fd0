"""Does a model know when it does not know? Calibration, temperature scaling, abstention (chapter 8).

A model is calibrated when, among the answers it gives with confidence 0.8, about 80% are right.
Then its confidence can decide when to answer and when to say "I don't know" (or to retrieve).

1. :func:`expected_calibration_error` and :func:`reliability_diagram_data`: measure it.
2. :func:`fit_temperature`: fix it with one number that divides the logits.
3. :func:`abstention_curve` and :func:`threshold_for_precision`: answer only when confident.

Paper: Guo, Pleiss, Sun, Weinberger (2017), "On Calibration of Modern Neural Networks", ICML.
https://arxiv.org/abs/1706.04599 (ECE with equal-width bins, eq. 3; temperature scaling, sec. 4.2).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .utils import InputTypeError, check_float, check_int


def _numbers(x, name: str, dtype=None) -> torch.Tensor:
    if isinstance(x, (str, bytes)) or x is None:
        raise InputTypeError(f"{name} must be a tensor or list of numbers, got {type(x).__name__} {x!r:.40}")
    try:
        return torch.as_tensor(x, dtype=dtype)
    except (TypeError, ValueError, RuntimeError):
        raise InputTypeError(f"{name} must be a tensor or list of numbers, got {type(x).__name__} {x!r:.40}") from None


def _conf_correct(confidences, correct) -> tuple[torch.Tensor, torch.Tensor]:
    conf = _numbers(confidences, "confidences", torch.float64).flatten()
    corr = _numbers(correct, "correct").flatten()
    if conf.numel() == 0:
        raise ValueError("confidences is empty; pass at least one prediction")
    if corr.shape != conf.shape:
        raise ValueError(f"correct has {corr.numel()} entries but confidences has {conf.numel()}")
    if torch.isnan(conf).any() or (conf < 0).any() or (conf > 1).any():
        raise ValueError(
            "confidences must be probabilities in [0, 1] (apply softmax/sigmoid to logits first); "
            f"got values from {conf.min().item():.3g} to {conf.max().item():.3g}"
        )
    if not ((corr == 0) | (corr == 1)).all():
        raise ValueError("correct must hold only 0/1 or False/True (was each answer right?)")
    return conf, corr.to(torch.float64)


def _check_bins(n_bins) -> int:
    if isinstance(n_bins, bool) or not isinstance(n_bins, int):
        raise InputTypeError(f"n_bins must be a positive int, got {n_bins!r} (15 is usual)")
    if n_bins < 1:
        raise ValueError(f"n_bins must be a positive int, got {n_bins!r} (15 is usual)")
    return n_bins


@dataclass
class ReliabilityData:
    """Per-bin numbers for a reliability diagram; each field is (n_bins,).

    ``edges`` is (n_bins + 1,). Empty bins have ``count`` 0 and accuracy/confidence 0.
    """

    edges: torch.Tensor
    accuracy: torch.Tensor
    confidence: torch.Tensor
    count: torch.Tensor


def reliability_diagram_data(confidences, correct, n_bins: int = 15) -> ReliabilityData:
    """Bin predictions by confidence into ``n_bins`` equal-width bins ``((m-1)/M, m/M]``.

    ``confidences``: (N,) the model's probability for its answer; ``correct``: (N,) 0/1.
    A confidence of exactly 0 goes into the first bin.
    """
    conf, corr = _conf_correct(confidences, correct)
    n_bins = _check_bins(n_bins)
    idx = (torch.ceil(conf * n_bins).long() - 1).clamp(0, n_bins - 1)
    count = torch.zeros(n_bins, dtype=torch.float64).index_add_(0, idx, torch.ones_like(conf))
    acc_sum = torch.zeros(n_bins, dtype=torch.float64).index_add_(0, idx, corr)
    conf_sum = torch.zeros(n_bins, dtype=torch.float64).index_add_(0, idx, conf)
    safe = count.clamp(min=1)
    return ReliabilityData(torch.linspace(0, 1, n_bins + 1, dtype=torch.float64),
                           acc_sum / safe, conf_sum / safe, count)


def expected_calibration_error(confidences, correct, n_bins: int = 15) -> float:
    """ECE (Guo et al. 2017, eq. 3): ``sum_m |B_m|/N * |acc(B_m) - conf(B_m)|``, equal-width bins.

    ``confidences``: (N,) probabilities of the predicted answers; ``correct``: (N,) 0/1.
    0 is perfectly calibrated; a model always 90% sure and right half the time scores 0.4.
    """
    d = reliability_diagram_data(confidences, correct, n_bins)
    return ((d.count / d.count.sum()) * (d.accuracy - d.confidence).abs()).sum().item()


def fit_temperature(logits, labels, max_iter: int = 100) -> float:
    """The temperature ``T > 0`` that minimises the NLL of ``softmax(logits / T)`` (Guo et al. 2017).

    ``logits``: (N, K) on held-out data; ``labels``: (N,) class ids. Optimises ``log T`` with
    L-BFGS, so T stays positive. T > 1 softens an over-confident model. Dividing logits by T
    never changes the argmax, so accuracy stays the same.
    """
    logits = _numbers(logits, "logits", torch.float64)
    labels = _numbers(labels, "labels")
    max_iter = check_int("max_iter", max_iter, 1)
    if logits.dim() != 2 or logits.shape[0] == 0 or logits.shape[1] < 2:
        raise ValueError(f"logits must have shape (N, K) with N >= 1 and K >= 2, got {tuple(logits.shape)}")
    if labels.shape != logits.shape[:1]:
        raise ValueError(f"labels must have shape (N,) = ({logits.shape[0]},), got {tuple(labels.shape)}")
    if labels.dtype.is_floating_point or (labels < 0).any() or (labels >= logits.shape[1]).any():
        raise ValueError(f"labels must be integer class ids in [0, {logits.shape[1]}), got {labels[:5].tolist()}...")
    if not torch.isfinite(logits).all():
        raise ValueError("logits hold NaN or infinity; temperature scaling needs finite logits")
    labels = labels.long()
    log_t = torch.zeros((), dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([log_t], lr=0.5, max_iter=max_iter, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = F.cross_entropy(logits / log_t.exp(), labels)
        loss.backward()
        return loss

    opt.step(closure)
    return log_t.exp().item()


def abstention_curve(confidences, correct) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Answer only when confidence >= a threshold: how much is answered, and how much is right.

    ``confidences``, ``correct``: (N,). Returns ``(thresholds, coverage, accuracy)``, each (U,)
    over the U distinct confidences, highest first: at ``thresholds[i]`` the model answers a
    fraction ``coverage[i]`` of the questions, and ``accuracy[i]`` of those answers are right
    (selective accuracy). A calibrated model's accuracy rises as coverage falls.
    """
    conf, corr = _conf_correct(confidences, correct)
    order = torch.argsort(conf, descending=True, stable=True)
    conf, corr = conf[order], corr[order]
    kept = torch.arange(1, len(conf) + 1, dtype=torch.float64)
    right = corr.cumsum(0)
    # keep the last position of each run of equal confidences: a threshold keeps all of them
    last = torch.ones(len(conf), dtype=torch.bool)
    last[:-1] = conf[1:] != conf[:-1]
    return conf[last], kept[last] / len(conf), right[last] / kept[last]


def threshold_for_precision(confidences, correct, target: float) -> float:
    """The lowest confidence threshold whose selective accuracy is at least ``target``.

    Answering when ``confidence >= threshold`` then gives at least ``target`` accuracy on these
    data with the largest coverage. Raises ``ValueError`` when no threshold reaches it.
    """
    if isinstance(target, (int, float)) and not isinstance(target, bool) and not 0 < target <= 1:
        raise ValueError(f"target must lie in (0, 1], got {target!r}")
    target = check_float("target", target, 0, 1, exclusive_minimum=True)
    thresholds, _, accuracy = abstention_curve(confidences, correct)
    ok = torch.nonzero(accuracy >= target).flatten()
    if ok.numel() == 0:
        raise ValueError(
            f"no confidence threshold reaches target={target}: the best selective accuracy is "
            f"{accuracy.max().item():.3f}; lower the target"
        )
    return thresholds[ok[-1]].item()
