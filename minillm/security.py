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

from .utils import InputTypeError


def exposure(rank: int, n_candidates: int) -> float:
    """Exposure of a canary: ``log2(n_candidates) - log2(rank)`` (Carlini et al. 2019, def. 4).

    ``rank`` is 1 for the most likely candidate. Exposure 0: the canary is the least likely of
    all (no memorisation); ``log2(n_candidates)``: it is the most likely (full memorisation).
    """
    if isinstance(n_candidates, bool) or not isinstance(n_candidates, int):
        raise InputTypeError(f"n_candidates must be a positive int, got {n_candidates!r}")
    if n_candidates < 1:
        raise ValueError(f"n_candidates must be a positive int, got {n_candidates!r}")
    if isinstance(rank, bool) or not isinstance(rank, int):
        raise InputTypeError(f"rank must be an int in [1, n_candidates={n_candidates}], got {rank!r}")
    if not 1 <= rank <= n_candidates:
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
        raise InputTypeError(f"score_fn must be a callable text -> log-perplexity, got {score_fn!r}")
    if not isinstance(secret, str):
        raise InputTypeError(f"secret must be a str, got {secret!r} of type {type(secret).__name__}")
    if isinstance(candidates, str) or not isinstance(candidates, (list, tuple, set, frozenset)):
        raise InputTypeError(f"candidates must be a list of strings of the secret's form, got "
                             f"{type(candidates).__name__} {candidates!r:.40}")
    wrong = [c for c in candidates if not isinstance(c, str)]
    if wrong:
        raise InputTypeError(f"candidates must hold strings, got {wrong[0]!r} of type {type(wrong[0]).__name__}")
    others = [c for c in dict.fromkeys(candidates) if c != secret]
    if not others:
        raise ValueError("candidates holds no string other than the secret; rank needs alternatives")
    def scored(text: str) -> float:
        v = score_fn(text)
        if isinstance(v, bool) or not isinstance(v, (int, float)) and not (hasattr(v, "item") and hasattr(v, "dtype")):
            raise InputTypeError(f"score_fn must return a number (a log-perplexity), got {v!r:.40} of type "
                                 f"{type(v).__name__} for {text!r:.40}")
        v = float(v)
        if math.isnan(v):
            raise ValueError(f"score_fn returned NaN for {'the secret ' if text == secret else ''}{text!r}")
        return v

    s = scored(secret)
    better = sum(scored(c) < s for c in others)
    return 1 + better, len(others) + 1


def extraction_success(generate: Callable[[str], str], prefix: str, secret: str, attempts: int = 1) -> float:
    """The fraction of ``attempts`` in which ``generate(prefix)`` writes out the ``secret``.

    ``generate`` maps a prompt to the model's continuation (greedy decoding gives the same
    answer every time; sampling may leak the secret only sometimes).
    """
    if not callable(generate):
        raise InputTypeError(f"generate must be a callable prompt -> continuation, got {generate!r}")
    if not isinstance(prefix, str):
        raise InputTypeError(f"prefix must be a str (the prompt), got {prefix!r} of type {type(prefix).__name__}")
    if not isinstance(secret, str) or not secret:
        raise ValueError(f"secret must be a non-empty str, got {secret!r}")
    if isinstance(attempts, bool) or not isinstance(attempts, int):
        raise InputTypeError(f"attempts must be a positive int, got {attempts!r}")
    if attempts < 1:
        raise ValueError(f"attempts must be a positive int, got {attempts!r}")
    hits = 0
    for _ in range(attempts):
        out = generate(prefix)
        if not isinstance(out, str):
            raise InputTypeError(f"generate must return a str, got {type(out).__name__}")
        hits += secret in out
    return hits / attempts
