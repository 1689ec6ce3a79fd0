"""The exercise checks: they pass on right answers and say in words what is wrong otherwise."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from minillm.course.checks import check_close, check_finite, check_probabilities


def test_check_close_passes_within_tolerance_for_lists_arrays_and_tensors():
    check_close([1.0, 2.0], np.array([1.0, 2.0 + 1e-7]), "x")
    check_close(torch.tensor([[0.5]]), [[0.5]], "x")
    check_close(float("inf"), float("inf"), "x")


def test_check_close_names_the_worst_value_and_the_shape():
    with pytest.raises(AssertionError, match=r"your logits is off: at index \(1,\) you have 2.5, expected 2"):
        check_close([1.0, 2.5, 3.1], [1.0, 2.0, 3.0], "your logits")
    with pytest.raises(AssertionError, match=r"has shape \(2,\), expected \(3,\)"):
        check_close([1.0, 2.0], [1.0, 2.0, 3.0], "your logits")


@pytest.mark.parametrize("actual", [[1.0, math.nan, 3.0], [math.nan] * 3])
def test_check_close_points_at_a_nan(actual):
    with pytest.raises(AssertionError, match=r"you have nan, expected"):
        check_close(actual, [1.0, 2.0, 3.0], "your logits")


def test_check_probabilities_and_finite():
    check_probabilities(torch.softmax(torch.randn(4, 5), dim=-1))
    with pytest.raises(AssertionError, match="negative values"):
        check_probabilities([[-0.5, 1.5]])
    with pytest.raises(AssertionError, match="do not sum to 1 along axis -1"):
        check_probabilities([[0.2, 0.2]])
    with pytest.raises(AssertionError, match="NaN or infinity"):
        check_probabilities([[math.nan, 1.0]])
    check_finite(3.5, "loss")
    with pytest.raises(AssertionError, match="loss should be a finite number, got nan"):
        check_finite(math.nan, "loss")
