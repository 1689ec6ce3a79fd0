"""Memorisation of secrets: canaries, exposure, extraction (chapter 11).

Plant a random "canary" (``"my PIN is 4821"``) in the training data, train, then ask how much
more likely the model finds the real canary than other candidates of the same form. If the
true one ranks first among a million, the model has memorised it.

Paper: Carlini, Liu, Erlingsson, Kos, Song (2019), "The Secret Sharer: Evaluating and Testing
Unintended Memorization in Neural Networks", USENIX Security. https://arxiv.org/abs/1802.08232
(exposure, section 4).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence


def exposure(rank: int, n_candidates: int) -> float:
    """Exposure of a canary: ``log2(n_candidates) - log2(rank)`` (Carlini et al. 2019, def. 4).

    ``rank`` is 1 for the most likely candidate. Exposure 0: the canary is the least likely of
    all (no memorisation); ``log2(n_candidates)``: it is the most likely (full memorisation).
    """
    if not isinstance(n_candidates, int) or n_candidates < 1:
        raise ValueError(f"n_candidates must be a positive int, got {n_candidates!r}")
    if not isinstance(rank, int) or not 1 <= rank <= n_candidates:
        raise ValueError(f"rank must be an int in [1, n_candidates={n_candidates}], got {rank!r}")
    return math.log2(n_candidates) - math.log2(rank)


def canary_rank(score_fn: Callable[[str], float], secret: str, candidates: Sequence[str]) -> tuple[int, int]:
    """Rank the true ``secret`` among ``candidates`` by ``score_fn`` (log-perplexity: lower = likelier).

    ``candidates`` are other strings of the same form (the secret may be among them; it counts
    once). Returns ``(rank, n)``: ``rank = 1 +`` the number of other candidates scored strictly
    lower than the secret, and ``n`` the number of distinct strings ranked. Pass them to
    :func:`exposure`.
    """
    if not callable(score_fn):
        raise TypeError(f"score_fn must be a callable text -> log-perplexity, got {score_fn!r}")
    others = [c for c in dict.fromkeys(candidates) if c != secret]
    if not others:
        raise ValueError("candidates holds no string other than the secret; rank needs alternatives")
    s = float(score_fn(secret))
    if math.isnan(s):
        raise ValueError(f"score_fn returned NaN for the secret {secret!r}")
    better = sum(float(score_fn(c)) < s for c in others)
    return 1 + better, len(others) + 1


def extraction_success(generate: Callable[[str], str], prefix: str, secret: str, attempts: int = 1) -> float:
    """The fraction of ``attempts`` in which ``generate(prefix)`` writes out the ``secret``.

    ``generate`` maps a prompt to the model's continuation (greedy decoding gives the same
    answer every time; sampling may leak the secret only sometimes).
    """
    if not isinstance(secret, str) or not secret:
        raise ValueError(f"secret must be a non-empty str, got {secret!r}")
    if not isinstance(attempts, int) or attempts < 1:
        raise ValueError(f"attempts must be a positive int, got {attempts!r}")
    hits = 0
    for _ in range(attempts):
        out = generate(prefix)
        if not isinstance(out, str):
            raise TypeError(f"generate must return a str, got {type(out).__name__}")
        hits += secret in out
    return hits / attempts
