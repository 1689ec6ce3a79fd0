"""Tests for minillm.distill (chapter 10): the Hinton et al. 2015 loss against the paper's formula
with hand-computed values (no well-kept library ships this exact loss as a standalone function)."""

import math

import pytest
import torch
import torch.nn.functional as F

from minillm.distill import distillation_loss


def test_distillation_loss_hand_values():
    s = torch.tensor([[0.0, 0.0], [5.0, -5.0]])
    t = torch.tensor([[math.log(3), 0.0], [0.0, 0.0]])
    y = torch.tensor([0, -100])  # second position ignored
    # T=1: p_t = [0.75, 0.25], p_s = [0.5, 0.5]; KL = 0.75 ln 1.5 + 0.25 ln 0.5 = 0.1308120
    # CE = ln 2 = 0.6931472; alpha = 0.5 -> 0.4119796
    assert distillation_loss(s, t, y, T=1.0, alpha=0.5).item() == pytest.approx(0.4119796, abs=1e-6)
    # T=2: p_t = [0.6339746, 0.3660254] (sqrt(3)/(sqrt(3)+1)); KL = 0.6339746 * 0.2374008
    #      - 0.3660254 * 0.3119054 = 0.0363408; times T^2 = 4 -> 0.1453632; alpha = 1: no CE
    assert distillation_loss(s, t, y, T=2.0, alpha=1.0).item() == pytest.approx(0.1453632, abs=1e-6)
    # alpha = 0: plain cross-entropy, equal to torch's with ignore_index
    assert distillation_loss(s, t, y, alpha=0.0).item() == pytest.approx(F.cross_entropy(s, y).item())


def test_distillation_loss_zero_when_student_equals_teacher_and_no_teacher_grad():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 3, 7, generator=g)
    y = torch.randint(0, 7, (2, 3), generator=g)
    assert distillation_loss(logits, logits, y, T=3.0, alpha=1.0).item() == pytest.approx(0.0, abs=1e-6)
    s = torch.randn(2, 3, 7, generator=g, requires_grad=True)
    t = torch.randn(2, 3, 7, generator=g, requires_grad=True)
    distillation_loss(s, t, y).backward()
    assert s.grad is not None and t.grad is None


def test_distillation_bad_input():
    s = torch.zeros(2, 5)
    with pytest.raises(ValueError, match=r"teacher_logits has shape \(2, 4\) but student_logits"):
        distillation_loss(s, torch.zeros(2, 4), torch.zeros(2, dtype=torch.long))
    with pytest.raises(ValueError, match=r"targets must have shape \(2,\)"):
        distillation_loss(s, s, torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match="T must be > 0"):
        distillation_loss(s, s, torch.zeros(2, dtype=torch.long), T=0)
    with pytest.raises(ValueError, match="alpha must lie in"):
        distillation_loss(s, s, torch.zeros(2, dtype=torch.long), alpha=2)
    with pytest.raises(ValueError, match="every target is ignore_index=-100"):
        distillation_loss(s, s, torch.full((2,), -100))
    with pytest.raises(ValueError, match=r"targets must be token ids in \[0, 5\)"):
        distillation_loss(s, s, torch.tensor([0, 9]))
