"""Tests for minillm.security (chapter 11): exposure against the formula of Carlini et al. 2019
with hand-computed values, canary ranking with a scorer we control."""

import itertools
import math

import pytest

from minillm.security import canary_rank, exposure, extraction_success


def test_exposure_hand_values():
    assert exposure(1, 1024) == 10.0  # ranked first of 2^10: full memorisation
    assert exposure(1024, 1024) == 0.0
    assert exposure(4, 1000) == pytest.approx(math.log2(1000) - 2)


def test_canary_rank_with_a_memorising_scorer():
    secret = "pin 4821"
    candidates = [f"pin {a}{b}{c}{d}" for a, b, c, d in itertools.product("0123456789", repeat=4)][:1000]
    # a 'model' that memorised the secret: lowest log-perplexity for it, others by digit sum
    scorer = lambda s: 0.0 if s == secret else 1.0 + sum(int(ch) for ch in s[-4:]) / 36
    rank, n = canary_rank(scorer, secret, candidates)
    assert (rank, n) == (1, 1001)
    assert exposure(rank, n) == pytest.approx(math.log2(1001))
    # a scorer that prefers small numbers: 'pin 0000' .. 'pin 0999' all beat 'pin 4821'
    rank, n = canary_rank(lambda s: int(s[-4:]), secret, candidates)
    assert (rank, n) == (1001, 1001) and exposure(rank, n) == 0.0
    # the secret among the candidates counts once; ties do not push it down
    rank, n = canary_rank(lambda s: 1.0, secret, [secret, "pin 0000", "pin 0001"])
    assert (rank, n) == (1, 3)


def test_extraction_success():
    replies = iter(["my pin is 4821", "no idea", "4821!", "nope"])
    assert extraction_success(lambda p: next(replies), "my pin is", "4821", attempts=4) == 0.5
    assert extraction_success(lambda p: "", "x", "4821") == 0.0


def test_security_bad_input():
    with pytest.raises(ValueError, match=r"rank must be an int in \[1, n_candidates=10\], got 0"):
        exposure(0, 10)
    with pytest.raises(ValueError, match="rank must be an int in"):
        exposure(11, 10)
    with pytest.raises(ValueError, match="n_candidates must be a positive int"):
        exposure(1, 0)
    with pytest.raises(ValueError, match="candidates holds no string other than the secret"):
        canary_rank(len, "s", ["s"])
    with pytest.raises(TypeError, match="score_fn must be a callable"):
        canary_rank(3, "s", ["a"])
    with pytest.raises(ValueError, match="score_fn returned NaN"):
        canary_rank(lambda s: float("nan"), "s", ["a"])
    with pytest.raises(ValueError, match="secret must be a non-empty str"):
        extraction_success(lambda p: "x", "p", "")
    with pytest.raises(ValueError, match="attempts must be a positive int"):
        extraction_success(lambda p: "x", "p", "s", attempts=0)
    with pytest.raises(TypeError, match="generate must return a str"):
        extraction_success(lambda p: 42, "p", "s")
