"""Ratings from head-to-head comparisons: Elo, Bradley-Terry, bootstrap intervals, judge position bias (chapter 9).

Chat models are often ranked by pairwise votes ("which answer is better?"), from people or from
an LLM judge. A match is a tuple ``(a, b, outcome)`` with ``outcome`` 1 if ``a`` won, 0 if ``b``
won and 0.5 for a tie.

1. :func:`elo_ratings`: the online update chess uses; depends on the order of matches.
2. :func:`bradley_terry_fit`: the maximum-likelihood strengths, order-free.
3. :func:`bootstrap_ci`: how sure are we? Resample the matches.
4. :func:`position_bias` and :func:`judge_both_ways`: a judge that prefers whichever answer
   it reads first, measured, and corrected by asking both ways.

Papers:

- Elo (1978), "The Rating of Chessplayers, Past and Present". Arco.
- Bradley, Terry (1952), "Rank analysis of incomplete block designs: I. The method of paired
  comparisons", Biometrika 39. https://doi.org/10.2307/2334029
- Hunter (2004), "MM algorithms for generalized Bradley-Terry models", Annals of Statistics 32.
  https://doi.org/10.1214/aos/1079120141
- Efron, Tibshirani (1993), "An Introduction to the Bootstrap". Chapman & Hall.
- Zheng et al. (2023), "Judging LLM-as-a-Judge with MT-Bench and Chatbot Arena" (position bias).
  https://arxiv.org/abs/2306.05685
"""

from __future__ import annotations

import random
from collections.abc import Callable, Hashable, Sequence

import torch

from .utils import InputTypeError, check_float, check_int

Match = tuple[Hashable, Hashable, float]


def _check_matches(matches, players=None) -> list[Match]:
    if isinstance(matches, (str, bytes)) or not hasattr(matches, "__iter__"):
        raise InputTypeError(f"matches must be a list of (a, b, outcome) tuples, got {type(matches).__name__} "
                             f"{matches!r:.40}")
    if players is not None:
        if isinstance(players, (str, bytes)) or not hasattr(players, "__iter__"):
            raise InputTypeError(f"players must be a list of player names, got {type(players).__name__} {players!r:.40}")
        if len(set(players)) != len(list(players)):
            raise ValueError(f"players names a player twice ({list(players)!r:.60}); list each once")
    matches = list(matches)
    if not matches:
        raise ValueError("matches is empty; pass at least one (a, b, outcome) vote")
    known = None if players is None else set(players)
    for i, m in enumerate(matches):
        if not isinstance(m, (tuple, list)) or len(m) != 3:
            raise ValueError(f"matches[{i}] must be a tuple (a, b, outcome), got {m!r}")
        a, b, outcome = m
        for p in (a, b):
            try:
                hash(p)
            except TypeError:
                raise InputTypeError(f"matches[{i}] names player {p!r:.40}, which is not hashable; use "
                                     "str or int names") from None
        if isinstance(outcome, bool) or outcome not in (0, 0.5, 1):
            raise ValueError(f"matches[{i}] has outcome {outcome!r}; use 1 (a won), 0 (b won) or 0.5 (tie)")
        if a == b:
            raise ValueError(f"matches[{i}] has player {a!r} playing itself")
        if known is not None:
            for p in (a, b):
                if p not in known:
                    raise ValueError(f"matches[{i}] names unknown player {p!r}; add it to players")
    return matches


def elo_ratings(matches, k: float = 32, initial: float = 1000, scale: float = 400) -> dict:
    """Play the matches in order with the Elo update; return ``{player: rating}``.

    The expected score of ``a`` against ``b`` is ``1 / (1 + 10 ** ((R_b - R_a) / scale))``; after
    the match ``R_a += k * (outcome - expected)`` and ``R_b`` moves by the opposite amount.
    """
    matches = _check_matches(matches)
    if isinstance(k, (int, float)) and not isinstance(k, bool) and not k > 0:
        raise ValueError(f"k must be > 0, got {k!r} (32 is usual)")
    k = check_float("k", k, 0, exclusive_minimum=True)
    initial = check_float("initial", initial)
    scale = check_float("scale", scale, 0, exclusive_minimum=True)
    ratings: dict = {}
    for a, b, outcome in matches:
        ra, rb = ratings.setdefault(a, float(initial)), ratings.setdefault(b, float(initial))
        expected = 1 / (1 + 10 ** ((rb - ra) / scale))
        ratings[a] = ra + k * (outcome - expected)
        ratings[b] = rb - k * (outcome - expected)
    return ratings


def bradley_terry_fit(matches, players: Sequence[Hashable] | None = None, prior: float = 0.01,
                      tol: float = 1e-10, max_iter: int = 100) -> dict:
    """Maximum a-posteriori Bradley-Terry log-strengths ``{player: theta}``, by Newton's method.

    Model: ``P(a beats b) = sigmoid(theta_a - theta_b)``. We minimise
    ``-sum log-likelihood + prior * sum(theta**2)`` (a Gaussian prior, the same convention as the
    ``choix`` library's ``alpha``); a tie counts as half a win each way. The prior keeps a player
    with no wins at a finite strength and makes the answer unique, with mean 0.
    Multiply by ``400 / ln 10`` (about 173.7) for Elo-like points.
    """
    matches = _check_matches(matches, players)
    if isinstance(prior, (int, float)) and not isinstance(prior, bool) and not prior > 0:
        raise ValueError(f"prior must be > 0 (it keeps a player with no wins finite), got {prior!r}")
    prior = check_float("prior", prior, 0, exclusive_minimum=True)
    tol = check_float("tol", tol, 0)
    max_iter = check_int("max_iter", max_iter, 1)
    if players is None:
        players = list(dict.fromkeys(p for a, b, _ in matches for p in (a, b)))
    players = list(players)
    index = {p: i for i, p in enumerate(players)}
    a = torch.tensor([index[m[0]] for m in matches])
    b = torch.tensor([index[m[1]] for m in matches])
    y = torch.tensor([float(m[2]) for m in matches], dtype=torch.float64)
    n = len(players)
    theta = torch.zeros(n, dtype=torch.float64)
    for _ in range(max_iter):
        p = torch.sigmoid(theta[a] - theta[b])
        r = p - y  # d(-loglik)/d(theta_a) for each match; the opposite for b
        grad = 2 * prior * theta
        grad = grad.index_add(0, a, r).index_add(0, b, -r)
        w = p * (1 - p)
        hess = 2 * prior * torch.eye(n, dtype=torch.float64)
        hess.index_put_((a, a), w, accumulate=True)
        hess.index_put_((b, b), w, accumulate=True)
        hess.index_put_((a, b), -w, accumulate=True)
        hess.index_put_((b, a), -w, accumulate=True)
        step = torch.linalg.solve(hess, grad)
        theta = theta - step
        if step.abs().max() < tol:
            break
    return dict(zip(players, theta.tolist()))


def bootstrap_ci(matches, fn: Callable, n: int = 200, alpha: float = 0.05, seed: int = 0):
    """Percentile bootstrap confidence interval of ``fn(matches)``.

    ``fn`` maps a list of matches to a number or to ``{player: number}`` (e.g. :func:`elo_ratings`).
    The matches are resampled with replacement ``n`` times; returns ``(low, high)``, or
    ``{player: (low, high)}``, the ``alpha/2`` and ``1 - alpha/2`` quantiles. A player missing from
    a resample is left out of that resample's values.
    """
    matches = _check_matches(matches)
    if not callable(fn):
        raise InputTypeError(f"fn must be a function matches -> number or {{player: number}}, got {fn!r}")
    if isinstance(n, bool) or not isinstance(n, int):
        raise InputTypeError(f"n must be an int >= 2 (resamples), got {n!r}")
    if n < 2:
        raise ValueError(f"n must be an int >= 2 (resamples), got {n!r}")
    if isinstance(alpha, (int, float)) and not isinstance(alpha, bool) and not 0 < alpha < 1:
        raise ValueError(f"alpha must lie in (0, 1), got {alpha!r} (0.05 gives a 95% interval)")
    alpha = check_float("alpha", alpha, 0, 1, exclusive_minimum=True, exclusive_maximum=True)
    seed = check_int("seed", seed, 0)
    rng = random.Random(seed)
    samples = [fn(rng.choices(matches, k=len(matches))) for _ in range(n)]
    q = torch.tensor([alpha / 2, 1 - alpha / 2], dtype=torch.float64)

    def interval(values) -> tuple[float, float]:
        lo, hi = torch.quantile(torch.tensor(values, dtype=torch.float64), q).tolist()
        return lo, hi

    for s in samples:
        if not isinstance(s, dict) and (isinstance(s, bool) or not isinstance(s, (int, float))):
            raise InputTypeError(f"fn must return a number or a {{player: number}} dict, got {s!r:.40} of type "
                                 f"{type(s).__name__}")
    if isinstance(samples[0], dict):
        keys = list(dict.fromkeys(k for s in samples for k in s))
        return {k: interval([s[k] for s in samples if k in s]) for k in keys}
    return interval([float(s) for s in samples])


def _verdict(judge, first, second) -> float:
    if not callable(judge):
        raise InputTypeError(f"judge must be a function (first, second) -> 1, 0 or 0.5, got {judge!r}")
    v = judge(first, second)
    if v not in (0, 0.5, 1):
        raise ValueError(f"judge returned {v!r}; it must return 1 (first better), 0 (second) or 0.5 (tie)")
    return float(v)


def position_bias(judge: Callable, pairs: Sequence[tuple]) -> dict:
    """Ask ``judge(first, second)`` about each pair in both orders; measure its position bias.

    ``judge`` returns 1 if the first answer is better, 0 if the second is, 0.5 for a tie.
    Returns a dict:

    - ``first_rate``: of the verdicts that pick a winner, the fraction picking the first
      position (0.5 for a judge without bias, on pairs shown both ways);
    - ``consistency``: the fraction of pairs that get the same verdict in both orders;
    - ``n_pairs``.
    """
    if isinstance(pairs, (str, bytes)) or not hasattr(pairs, "__iter__"):
        raise InputTypeError(f"pairs must be a list of (answer_a, answer_b), got {type(pairs).__name__} {pairs!r:.40}")
    pairs = list(pairs)
    if not pairs:
        raise ValueError("pairs is empty; pass at least one (answer_a, answer_b)")
    for i, p in enumerate(pairs):
        if not isinstance(p, (tuple, list)) or len(p) != 2:
            raise ValueError(f"pairs[{i}] must be a pair (answer_a, answer_b), got {p!r:.60}")
    first_wins = decided = consistent = 0
    for a, b in pairs:
        v1, v2 = _verdict(judge, a, b), _verdict(judge, b, a)
        for v in (v1, v2):
            if v != 0.5:
                decided += 1
                first_wins += v == 1
        consistent += v1 == 1 - v2
    if decided == 0:
        raise ValueError("judge returned only ties (0.5) on every pair; position bias is undefined")
    return {"first_rate": first_wins / decided, "consistency": consistent / len(pairs), "n_pairs": len(pairs)}


def judge_both_ways(judge: Callable, a, b) -> float:
    """Position-bias correction: the outcome for ``a`` averaged over both orders.

    1 if ``a`` wins in both orders, 0 if it loses in both, 0.5 when the verdict flips with the
    order (the judge could not tell them apart, only where they stood).
    """
    return (_verdict(judge, a, b) + 1 - _verdict(judge, b, a)) / 2
