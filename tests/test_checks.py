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


def test_own_work_rejects_the_library_function_and_calls_to_it():
    from minillm.course.checks import own_work
    from minillm.tokenizer import BPETokenizer, merge_pair

    with pytest.raises(AssertionError, match=r"is the library's own minillm\.tokenizer\.merge_pair"):
        own_work(merge_pair, merge_pair)

    def lazy(ids, pair, new_id):  # calls the library through this module's global name
        return merge_pair(ids, pair, new_id)

    with pytest.raises(AssertionError, match=r"your lazy calls minillm\.tokenizer\.merge_pair"):
        own_work(lazy, merge_pair)([1, 2], (1, 2), 9)

    def through_module(ids, pair, new_id):  # ... or through the module attribute
        import minillm.tokenizer as t

        return t.merge_pair(ids, pair, new_id)

    with pytest.raises(AssertionError, match="library's own"):
        own_work(through_module, merge_pair)([1, 2], (1, 2), 9)

    def honest(ids, pair, new_id):
        return [new_id] if list(ids) == list(pair) else list(ids)

    assert own_work(honest, merge_pair)([1, 2], (1, 2), 9) == [9]
    # a method and a classmethod are switched off on their class and restored afterwards
    def via_method(text):
        return BPETokenizer().encode(text)

    with pytest.raises(AssertionError, match=r"BPETokenizer\.encode"):
        own_work(via_method, BPETokenizer.encode)("ab")
    assert BPETokenizer().encode("ab") == [97, 98] and merge_pair([1, 2], (1, 2), 9) == [9]


def test_own_work_restores_a_classmethod():
    from minillm import BigramModel
    from minillm.course.checks import own_work

    with pytest.raises(AssertionError, match=r"BigramModel\.fit"):
        own_work(lambda t: BigramModel.fit(t), BigramModel.fit)("abc")
    assert isinstance(BigramModel.__dict__["fit"], classmethod) and BigramModel.fit("abc").vocab == ["a", "b", "c"]


def test_check_prediction():
    from minillm.course.checks import check_prediction

    check_prediction(0.5, 0.52, "p", rel=0.1)
    check_prediction(3, 100, "x")  # no tolerance: only a number is required
    for bad in [None, ..., "0.5", True, math.nan]:
        with pytest.raises(AssertionError, match="write your prediction for p as a number"):
            check_prediction(bad, 0.5, "p")
    with pytest.raises(AssertionError, match=r"you predicted 0\.1 for p, the measurement is 0\.5"):
        check_prediction(0.1, 0.5, "p", abs_tol=0.2)
