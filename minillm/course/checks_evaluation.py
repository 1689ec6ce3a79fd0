"""Checks for chapter 9's exercises (evaluation): each runs the learner's function on inputs it
picks and says in words what is wrong. They reject constants, ignored arguments, and minillm's own
function passed off as the learner's (:func:`minillm.course.checks.own_work`).
"""

from __future__ import annotations

import math
import random
import re

from . import checks as _c


def _number(x, what: str) -> float:
    if hasattr(x, "item"):
        x = x.item()
    _c.check(isinstance(x, (int, float)) and not isinstance(x, bool),
             f"{what} should be a number (a float), got {type(x).__name__} {x!r:.40}")
    _c.check(math.isfinite(x), f"{what} should be finite, got {x!r}")
    return float(x)


# --- 9.1 the Elo update ------------------------------------------------------------------------


def _elo(ra, rb, outcome, k):
    e = 1 / (1 + 10 ** ((rb - ra) / 400))
    return ra + k * (outcome - e), rb - k * (outcome - e)


def check_elo_update(fn) -> None:
    """``fn(r_a, r_b, outcome, k) -> (new_r_a, new_r_b)``: one Elo update, scale 400."""
    from .. import ratings

    mine = _c.own_work(fn, ratings.elo_ratings, what="your Elo update")
    cases = [(1000.0, 1000.0, 1.0, 32.0), (1200.0, 1000.0, 0.0, 32.0), (1500.0, 1100.0, 0.5, 16.0),
             (900.0, 1300.0, 1.0, 24.0), (1100.0, 1000.0, 0.5, 40.0)]
    for ra, rb, s, k in cases:
        got = mine(ra, rb, s, k)
        _c.check(isinstance(got, (tuple, list)) and len(got) == 2,
                 f"your Elo update should return the two new ratings (new_a, new_b), got {got!r:.60}")
        a, b = (_number(x, "each new rating") for x in got)
        want_a, want_b = _elo(ra, rb, s, k)
        _c.check(abs((a + b) - (ra + rb)) < 1e-6,
                 f"for ratings {ra:g} and {rb:g} your new ratings add up to {a + b:.6g}, not {ra + rb:g}: "
                 "an Elo update moves points from one player to the other, so the sum stays the same")
        _c.check(abs(a - want_a) < 1e-6 or not abs(a - ra - (want_a - ra) * 32 / k) < 1e-6,
                 "your update does not change with k: the step is k * (outcome - expected)")
        _c.check(abs(a - want_a) < 1e-6 or not abs(a - (ra + k * (s - 1 / (1 + 10 ** ((ra - rb) / 400))))) < 1e-6,
                 "your expected score uses the ratings the wrong way round: it is "
                 "1 / (1 + 10 ** ((r_b - r_a) / 400)) for player a")
        _c.check_close(a, want_a, f"your new rating of player a (r_a={ra:g}, r_b={rb:g}, outcome={s:g}, k={k:g})")
        _c.check_close(b, want_b, f"your new rating of player b (r_a={ra:g}, r_b={rb:g}, outcome={s:g}, k={k:g})")


# --- 9.2 the Bradley-Terry log-likelihood -----------------------------------------------------


def _bt_ll(theta, matches):
    total = 0.0
    for a, b, y in matches:
        d = theta[a] - theta[b]
        total += y * -math.log1p(math.exp(-d)) + (1 - y) * -math.log1p(math.exp(d))
    return total


def check_bt_log_likelihood(fn) -> None:
    """``fn(theta, matches) -> float``: ``sum log P(outcome)`` with ``P(a beats b) = sigmoid(theta_a -
    theta_b)``, a tie counting as half a win each way."""
    from .. import ratings

    mine = _c.own_work(fn, ratings.bradley_terry_fit, what="your log-likelihood")
    rng = random.Random(9)
    for n in (6, 11):
        theta = {p: rng.gauss(0, 1) for p in "abcd"}
        matches = [(*rng.sample("abcd", 2), rng.choice([0, 0.5, 1, 1])) for _ in range(n)]
        matches[0] = ("a", "b", 0.5)
        got = _number(mine(dict(theta), list(matches)), "your log-likelihood")
        want = _bt_ll(theta, matches)
        _c.check(got <= 0, f"your log-likelihood is {got:.4g} > 0; a log-probability is never positive: "
                           "return sum log P, not the loss -sum log P")
        _c.check(abs(got - want / n) > 1e-6 or abs(want) < 1e-9,
                 "your log-likelihood is the mean over matches; return the sum (it grows with the votes)")
        no_ties = _bt_ll(theta, [m for m in matches if m[2] != 0.5])
        _c.check(abs(got - no_ties) > 1e-6,
                 "your log-likelihood leaves the ties out: a tie counts as half a win each way, "
                 "0.5 log P(a wins) + 0.5 log P(b wins)")
        _c.check(abs(got - _bt_ll(theta, [(b, a, y) for a, b, y in matches])) > 1e-6 or abs(got - want) < 1e-6,
                 "your log-likelihood reads the outcomes the wrong way round: outcome 1 means a won")
        _c.check_close(got, want, "your Bradley-Terry log-likelihood", rtol=1e-6, atol=1e-6)


# --- 9.3 n-gram overlap -----------------------------------------------------------------------


def _words(text):
    return re.findall(r"[a-z0-9]+", text.lower())


def _overlap(item, corpus, n):
    seen = {tuple(w) for w in zip(*(_words(corpus)[i:] for i in range(n)))}
    grams = {tuple(w) for w in zip(*(_words(item)[i:] for i in range(n)))}
    return sum(g in seen for g in grams) / len(grams) if grams else 0.0


def check_ngram_overlap(fn) -> None:
    """``fn(item, corpus, n) -> float``: the fraction of the item's distinct word n-grams (lower-cased
    words and numbers, punctuation dropped) that occur in ``corpus``; 0 for an item under n words."""
    from .. import suite

    mine = _c.own_work(fn, suite.ngram_overlap, suite.ngrams, what="your n-gram overlap")
    corpus = ("Mara Tolley was born in the town of Linby. She works as a baker. "
              "Tom Reed was born in the town of Ashford, and he loves the colour red.")
    cases = [("Mara Tolley was born in the town of Ashford.", 3),
             ("Mara Tolley was born in the town of Ashford.", 6),
             ("TOM REED was born, in the town of Ashford!", 4),
             ("She works as a baker. She works as a baker.", 2),
             ("A cat sat on the mat.", 3), ("born in", 3), ("Tom loves the colour red", 1)]
    for item, n in cases:
        got = _number(mine(item, corpus, n), f"your overlap of {item!r}")
        want = _overlap(item, corpus, n)
        _c.check(0 <= got <= 1, f"your overlap of {item!r} is {got:.4g}; a fraction lies in [0, 1]")
        if "TOM" in item:
            _c.check(abs(got - want) < 1e-9, f"your overlap of {item!r} with n={n} is {got:.4g}, expected {want:.4g}: "
                                             "lower-case the words and drop punctuation before making n-grams")
        if item == "born in":
            _c.check(got == 0, f"an item shorter than n={n} words has no n-grams: its overlap is 0, you gave {got:.4g}")
        _c.check_close(got, want, f"your overlap of {item!r} with n={n}", rtol=0, atol=1e-9)


# --- 9.4 a bootstrap interval -----------------------------------------------------------------


def check_bootstrap_interval(fn) -> None:
    """``fn(hits, n_boot, alpha, seed) -> (low, high)``: the percentile bootstrap interval of the mean
    of ``hits`` (a list of 0/1 per test item), resampling items with replacement."""
    from .. import ratings

    mine = _c.own_work(fn, ratings.bootstrap_ci, what="your bootstrap interval")
    rng = random.Random(3)
    hits = [int(rng.random() < 0.3) for _ in range(100)]
    mean = sum(hits) / len(hits)

    def interval(h, n_boot=1000, alpha=0.05, seed=0):
        got = mine(list(h), n_boot, alpha, seed)
        _c.check(isinstance(got, (tuple, list)) and len(got) == 2,
                 f"your interval should be a pair (low, high), got {got!r:.60}")
        lo, hi = (_number(x, "each end of your interval") for x in got)
        _c.check(lo <= hi, f"your interval ({lo:.4g}, {hi:.4g}) has low > high")
        return lo, hi

    lo, hi = interval(hits)
    _c.check(0 <= lo and hi <= 1, f"your interval ({lo:.4g}, {hi:.4g}) is not of the mean accuracy (it lies outside "
                                  "[0, 1]); bootstrap the mean of the hits, not their sum")
    _c.check(hi - lo > 1e-9, "your interval has zero width: each bootstrap sample draws len(hits) items WITH "
                             "replacement (random.choices), so the means differ from sample to sample")
    _c.check(lo <= mean <= hi, f"your interval ({lo:.3f}, {hi:.3f}) does not contain the accuracy {mean:.3f}")
    width = 2 * 1.96 * math.sqrt(mean * (1 - mean) / len(hits))
    _c.check(0.7 * width <= hi - lo <= 1.3 * width,
             f"your 95% interval is {hi - lo:.3f} wide; for {len(hits)} items at accuracy {mean:.2f} it should be "
             f"about {width:.3f}: take the alpha/2 and 1 - alpha/2 quantiles of the resampled means")
    lo2, hi2 = interval(hits, alpha=0.5)
    _c.check(hi2 - lo2 < 0.6 * (hi - lo), "your interval does not narrow when alpha grows to 0.5 (a 50% interval): "
                                          "use alpha for the quantiles")
    many = [int(rng.random() < 0.4) for _ in range(1000)]  # fine-grained means: two unseeded runs differ
    _c.check(interval(many, n_boot=50, seed=5) == interval(many, n_boot=50, seed=5),
             "your interval changes between two calls with the same seed; draw from random.Random(seed)")
    big = hits * 4
    lo3, hi3 = interval(big)
    _c.check(hi3 - lo3 < 0.7 * (hi - lo), "your interval does not shrink with four times the items; resample "
                                          "len(hits) items each time")
    _c.check(interval([1] * 30) == (1.0, 1.0), "a model right on every item has the interval (1.0, 1.0)")


# --- 9.5 the mini-project ---------------------------------------------------------------------


def check_own_task(task, scores: dict) -> None:
    """The mini-project: ``task`` is a :class:`minillm.suite.Task` with at least 10 items, and
    ``scores`` maps each model's label to its score on it (from :func:`minillm.suite.score_task`)."""
    from ..suite import METRICS, Task

    _c.check(isinstance(task, Task), f"your task should be a minillm.suite.Task, got {type(task).__name__}")
    _c.check(task.metric in METRICS, f"your task's metric {task.metric!r} is not one of {METRICS}")
    _c.check(len(task.items) >= 10, f"your task has {len(task.items)} items; a benchmark needs at least 10 "
                                    "(more make the interval narrower)")
    _c.check(isinstance(scores, dict) and len(scores) >= 2,
             "scores should map at least two models' labels to their scores on your task")
    for m, s in scores.items():
        _number(s, f"the score of {m!r}")
