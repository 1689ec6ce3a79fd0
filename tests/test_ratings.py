"""Tests for minillm.ratings (chapter 9): the Bradley-Terry fit against choix.opt_pairwise (same
Gaussian prior), Elo by hand, bootstrap coverage, and position bias on a judge we built biased."""

import math
import random

import numpy as np
import pytest

from minillm.ratings import (
    bootstrap_ci,
    bradley_terry_fit,
    elo_ratings,
    judge_both_ways,
    position_bias,
)

choix = pytest.importorskip("choix", reason="choix (dev extra) is the Bradley-Terry reference")


def simulate(strengths, n, seed=0):
    rng = random.Random(seed)
    names = list(strengths)
    matches = []
    for _ in range(n):
        a, b = rng.sample(names, 2)
        p = 1 / (1 + math.exp(-(strengths[a] - strengths[b])))
        matches.append((a, b, 1 if rng.random() < p else 0))
    return matches


@pytest.mark.parametrize("prior", [0.01, 0.5])
def test_bradley_terry_matches_choix(prior):
    strengths = {"gpt": 1.5, "tiny": 0.0, "mid": 0.7, "bad": -1.0}
    matches = simulate(strengths, 300)
    matches += [("loser", p, 0) for p in ("gpt", "tiny")]  # 'loser' never wins: needs the prior
    players = [*strengths, "loser"]
    ours = bradley_terry_fit(matches, players, prior=prior)
    idx = {p: i for i, p in enumerate(players)}
    data = [(idx[a], idx[b]) if o == 1 else (idx[b], idx[a]) for a, b, o in matches]
    ref = choix.opt_pairwise(len(players), data, alpha=prior, tol=1e-12)
    ours_v = np.array([ours[p] for p in players])
    np.testing.assert_allclose(ours_v - ours_v.mean(), ref - ref.mean(), atol=1e-5)
    assert ours["gpt"] > ours["mid"] > ours["tiny"] > ours["bad"]
    assert math.isfinite(ours["loser"]) and ours["loser"] < ours["tiny"]


def test_bradley_terry_tie_is_half_a_win():
    # one win each way == two ties: same likelihood, same fit
    wins = bradley_terry_fit([("a", "b", 1), ("a", "b", 0)])
    ties = bradley_terry_fit([("a", "b", 0.5), ("a", "b", 0.5)])
    assert wins == pytest.approx(ties)
    assert wins["a"] == pytest.approx(0.0, abs=1e-12)


def test_elo_hand_values():
    r = elo_ratings([("a", "b", 1)], k=32, initial=1000)
    assert r == {"a": 1016.0, "b": 984.0}
    r = elo_ratings([("a", "b", 1), ("a", "c", 0.5)], k=32)
    expected = 1 / (1 + 10 ** (-16 / 400))  # a (1016) vs c (1000)
    assert r["a"] == pytest.approx(1016 + 32 * (0.5 - expected))
    assert r["c"] == pytest.approx(1000 - 32 * (0.5 - expected))
    assert sum(r.values()) == pytest.approx(3000)  # Elo is zero-sum


def test_bootstrap_ci_covers_and_narrows():
    strengths = {"x": 1.0, "y": 0.0, "z": -1.0}
    small, big = simulate(strengths, 60, seed=1), simulate(strengths, 600, seed=2)

    def gap(ms):
        fit = bradley_terry_fit(ms, list(strengths))
        return fit["x"] - fit["z"]

    lo_s, hi_s = bootstrap_ci(small, gap, n=100, seed=0)
    lo_b, hi_b = bootstrap_ci(big, gap, n=100, seed=0)
    assert lo_b < 2.0 < hi_b  # true gap is 2 (prior shrinks a little)
    assert hi_b - lo_b < hi_s - lo_s
    per_player = bootstrap_ci(big, elo_ratings, n=50, seed=0)
    assert set(per_player) == {"x", "y", "z"}
    assert per_player["x"][0] > per_player["z"][1]
    assert bootstrap_ci(big, gap, n=50, seed=3) == bootstrap_ci(big, gap, n=50, seed=3)


def test_position_bias_measured_and_corrected():
    quality = {"good": 3, "ok": 2, "meh": 1, "bad": 0}

    def lazy_judge(first, second):  # picks the first answer unless the gap is large
        return 1 if quality[first] - quality[second] > -2 else 0

    pairs = [("good", "ok"), ("ok", "meh"), ("meh", "bad"), ("good", "bad")]
    m = position_bias(lazy_judge, pairs)
    # good-ok, ok-meh, meh-bad: first wins both ways (3 inconsistent pairs); good-bad: consistent
    assert m["n_pairs"] == 4
    assert m["consistency"] == 0.25
    assert m["first_rate"] == pytest.approx(7 / 8)
    assert judge_both_ways(lazy_judge, "good", "ok") == 0.5
    assert judge_both_ways(lazy_judge, "good", "bad") == 1.0
    assert judge_both_ways(lazy_judge, "bad", "good") == 0.0
    fair = position_bias(lambda f, s: 1 if quality[f] > quality[s] else 0, pairs)
    assert fair["first_rate"] == 0.5 and fair["consistency"] == 1.0


def test_ratings_bad_input():
    with pytest.raises(ValueError, match="judge returned only ties"):
        position_bias(lambda f, s: 0.5, [("a", "b")])
    with pytest.raises(ValueError, match=r"judge returned 'A'"):
        position_bias(lambda f, s: "A", [("a", "b")])
    with pytest.raises(ValueError, match="pairs is empty"):
        position_bias(lambda f, s: 1, [])
    with pytest.raises(ValueError, match="matches is empty"):
        elo_ratings([])
    with pytest.raises(ValueError, match="matches is empty"):
        bradley_terry_fit([])
    with pytest.raises(ValueError, match="matches\\[1\\] names unknown player 'zed'"):
        bradley_terry_fit([("a", "b", 1), ("a", "zed", 0)], players=["a", "b"])
    with pytest.raises(ValueError, match="matches\\[0\\] has outcome 2"):
        elo_ratings([("a", "b", 2)])
    with pytest.raises(ValueError, match="playing itself"):
        elo_ratings([("a", "a", 1)])
    with pytest.raises(ValueError, match="prior must be > 0"):
        bradley_terry_fit([("a", "b", 1)], prior=0)
    with pytest.raises(ValueError, match="alpha must lie in"):
        bootstrap_ci([("a", "b", 1)], elo_ratings, alpha=1.5)
