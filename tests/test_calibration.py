"""Tests for minillm.calibration (chapter 8): ECE against torchmetrics (l1 norm), temperature
scaling against scipy's bounded scalar minimiser, abstention by hand."""

import math

import pytest
import torch
import torch.nn.functional as F

from minillm.calibration import (
    abstention_curve,
    expected_calibration_error,
    fit_temperature,
    reliability_diagram_data,
    threshold_for_precision,
)

tm = pytest.importorskip("torchmetrics.functional.classification", reason="torchmetrics (dev extra) is the ECE reference")


@pytest.mark.parametrize("n_bins", [5, 15])
def test_ece_matches_torchmetrics_multiclass(n_bins):
    g = torch.Generator().manual_seed(0)
    logits = 3 * torch.randn(500, 4, generator=g)
    target = torch.randint(0, 4, (500,), generator=g)
    probs = logits.softmax(-1)
    conf, pred = probs.max(-1)
    ours = expected_calibration_error(conf, pred == target, n_bins=n_bins)
    ref = tm.multiclass_calibration_error(probs, target, num_classes=4, n_bins=n_bins, norm="l1")
    assert ours == pytest.approx(ref.item(), abs=1e-6)


def test_ece_matches_torchmetrics_binary():
    g = torch.Generator().manual_seed(1)
    p = torch.rand(400, generator=g)
    y = (torch.rand(400, generator=g) < p**2).long()  # over-confident positives
    ours = expected_calibration_error(p, y, n_bins=10)
    ref = tm.binary_calibration_error(p, y, n_bins=10, norm="l1")
    assert ours == pytest.approx(ref.item(), abs=1e-6)
    assert ours > 0.05


def test_ece_hand_values_and_diagram():
    # always 90% sure, right half the time: ECE = |0.5 - 0.9| = 0.4
    assert expected_calibration_error([0.9] * 4, [1, 0, 1, 0]) == pytest.approx(0.4)
    d = reliability_diagram_data([0.1, 0.15, 0.9, 1.0, 0.0], [0, 1, 1, 1, 0], n_bins=2)
    torch.testing.assert_close(d.count, torch.tensor([3.0, 2.0], dtype=torch.float64))
    torch.testing.assert_close(d.accuracy, torch.tensor([1 / 3, 1.0], dtype=torch.float64))
    torch.testing.assert_close(d.confidence, torch.tensor([0.25 / 3, 0.95], dtype=torch.float64))
    # bins are (lo, hi]: 0.5 sits in the first of two bins
    assert reliability_diagram_data([0.5], [1], n_bins=2).count.tolist() == [1.0, 0.0]


def test_fit_temperature_matches_scipy_and_recovers_known_temperature():
    scipy_opt = pytest.importorskip("scipy.optimize", reason="scipy (via choix, dev extra) is the reference")
    g = torch.Generator().manual_seed(0)
    true_logits = 2 * torch.randn(2000, 5, generator=g, dtype=torch.float64)
    labels = torch.multinomial(true_logits.softmax(-1), 1, generator=g).squeeze(1)
    overconfident = 3.0 * true_logits  # a model 3x too sure of itself
    t = fit_temperature(overconfident, labels)
    ref = scipy_opt.minimize_scalar(
        lambda T: F.cross_entropy(overconfident / T, labels).item(), bounds=(0.05, 20), method="bounded",
        options={"xatol": 1e-8},
    )
    assert t == pytest.approx(ref.x, rel=1e-4)
    assert t == pytest.approx(3.0, rel=0.1)
    before = expected_calibration_error(*_conf(overconfident, labels))
    after = expected_calibration_error(*_conf(overconfident / t, labels))
    assert after < before / 2


def _conf(logits, labels):
    conf, pred = logits.softmax(-1).max(-1)
    return conf, pred == labels


def test_abstention_curve_and_threshold_hand_values():
    conf = [0.9, 0.8, 0.8, 0.6, 0.3]
    corr = [1, 1, 0, 1, 0]
    th, cov, acc = abstention_curve(conf, corr)
    torch.testing.assert_close(th, torch.tensor([0.9, 0.8, 0.6, 0.3], dtype=torch.float64))
    torch.testing.assert_close(cov, torch.tensor([0.2, 0.6, 0.8, 1.0], dtype=torch.float64))
    torch.testing.assert_close(acc, torch.tensor([1.0, 2 / 3, 0.75, 0.6], dtype=torch.float64))
    assert threshold_for_precision(conf, corr, 0.7) == 0.6  # coverage 0.8, accuracy 0.75
    assert threshold_for_precision(conf, corr, 1.0) == 0.9
    assert threshold_for_precision(conf, corr, 0.5) == 0.3


def test_calibration_bad_input():
    with pytest.raises(ValueError, match="confidences is empty"):
        expected_calibration_error([], [])
    with pytest.raises(ValueError, match="correct has 2 entries but confidences has 3"):
        expected_calibration_error([0.1, 0.2, 0.3], [1, 0])
    with pytest.raises(ValueError, match=r"confidences must be probabilities in \[0, 1\]"):
        expected_calibration_error([1.5], [1])
    with pytest.raises(ValueError, match="correct must hold only 0/1"):
        expected_calibration_error([0.5], [2])
    with pytest.raises(ValueError, match="n_bins must be a positive int"):
        expected_calibration_error([0.5], [1], n_bins=0)
    with pytest.raises(ValueError, match=r"logits must have shape \(N, K\)"):
        fit_temperature(torch.zeros(3), torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match=r"labels must be integer class ids in \[0, 2\)"):
        fit_temperature(torch.zeros(2, 2), torch.tensor([0, 5]))
    with pytest.raises(ValueError, match="no confidence threshold reaches target=0.99"):
        threshold_for_precision([0.9, 0.8], [0, 1], 0.99)
    with pytest.raises(ValueError, match="target must lie in"):
        threshold_for_precision([0.9], [1], 0)
    assert math.isfinite(fit_temperature(torch.randn(4, 3), torch.tensor([0, 1, 2, 0])))
