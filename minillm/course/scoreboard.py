"""How good is each model so far: one table of scores that the chapters carry forward.

Chapter 0 starts the table (a uniform guess, character frequencies, the bigram model counted and
trained by gradient descent, and general-purpose compressors); each later chapter adds its model's
row and shows the table up to itself, so a learner sees every new idea as a number on one scale.

The scale: **bits per character** on one fixed text, the validation split of the small TinyWorld
corpus (``corpus("tinyworld", size="tiny").val``, 15,397 characters). Lower is better; perplexity
is ``2 ** bits``: the number of equally likely characters the model is, on average, choosing among.
A compressor's row is its output size in bits per character of that same text; unlike the models'
rows it counts nothing for a model learned elsewhere (see chapter 0, section 0.6).

The numbers are stored here, not recomputed on import, and each chapter that measures one calls
:func:`confirm`, which fails when the stored number and the chapter's measurement disagree: a
changed corpus or model cannot leave a stale row behind. To add a row (e.g. chapter 2's
transformer), append a :class:`Score` to ``SCORES`` with the chapter's measured value on the same
text, call ``confirm`` in the chapter where it is measured, and show ``table(upto=N)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

DATA = "TinyWorld `size='tiny'` validation split (15,397 characters)"


@dataclass(frozen=True)
class Score:
    """One row: ``model`` (a short name), the ``chapter`` that measures it, its bits per character."""

    model: str
    chapter: int
    bits_per_char: float
    note: str = ""

    @property
    def perplexity(self) -> float:
        """``2 ** bits_per_char``: how many equally likely characters the model is choosing among."""
        return 2.0 ** self.bits_per_char


SCORES: list[Score] = [
    Score("uniform guess", 0, 6.229, "every one of the 75 characters equally likely"),
    Score("unigram (character counts)", 0, 4.635, "no context"),
    Score("bigram, counted (add-one)", 0, 3.528, "one character of context"),
    Score("bigram, gradient descent", 0, 3.493, "the same table, learned: 2,000 steps"),
    Score("gzip -9", 0, 2.438, "compressor; finds repeated strings"),
    Score("lzma -9", 0, 2.346, "compressor; larger window, better coding"),
    Score("attention, 2 layers, 800 steps", 2, 1.992, "64 characters of context; about 20 s of training"),
    Score("8 blocks, residual, 100 steps", 3, 3.706, "still learning after 100 steps"),
    Score("8 blocks, no residual, 100 steps", 3, 4.658, "tokens collapse: stuck at the unigram level"),
]


def get(model: str) -> Score:
    """The row named ``model``; a clear error lists the names when it is missing."""
    for s in SCORES:
        if s.model == model:
            return s
    raise KeyError(f"no scoreboard row named {model!r}; rows: {[s.model for s in SCORES]}")


def confirm(model: str, measured: float, tol: float = 0.01) -> float:
    """Check that a chapter's measurement matches the stored row; return the measurement.

    Raises ``ValueError`` naming the row, both numbers and the fix when they differ by more
    than ``tol`` bits per character.
    """
    if not (isinstance(measured, (int, float)) and math.isfinite(measured)):
        raise ValueError(f"measured must be a finite number of bits per character, got {measured!r}")
    row = get(model)
    if abs(row.bits_per_char - measured) > tol:
        raise ValueError(
            f"scoreboard row {model!r} stores {row.bits_per_char:.3f} bits per character, this run measured "
            f"{measured:.3f}; if the change is intended, update SCORES in minillm/course/scoreboard.py"
        )
    return float(measured)


def table(upto: int | None = None) -> str:
    """The scoreboard as a markdown table, rows of chapters up to ``upto`` (all when None)."""
    rows = [s for s in SCORES if upto is None or s.chapter <= upto]
    best = min(s.bits_per_char for s in rows if "compressor" not in s.note) if rows else None
    lines = [f"Bits per character on the {DATA}; lower is better.", "",
             "| model | chapter | bits per character | perplexity | note |", "|---|---|---|---|---|"]
    for s in rows:
        mark = " **(best model so far)**" if s.bits_per_char == best else ""
        lines.append(f"| {s.model} | {s.chapter} | {s.bits_per_char:.3f} | {s.perplexity:.1f} | {s.note}{mark} |")
    return "\n".join(lines)
