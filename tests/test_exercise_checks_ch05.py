"""Chapter 5's exercise checks reject wrong answers.

Each check cell of ``solutions/05-inference.ipynb`` is run with the solution (it must pass) and
with wrong answers a careless or cheating learner might write: a constant, an ignored argument,
minillm's own function passed off as theirs, a near miss. Each must fail with an AssertionError.
"""

from __future__ import annotations

import math
from pathlib import Path

import nbformat
import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = ROOT / "solutions" / "05-inference.ipynb"


def _cells():
    nb = nbformat.read(SOLUTIONS, as_version=4)
    return [c.source for c in nb.cells if c.cell_type == "code"]


def _namespace():
    """The notebook's imports and its check helpers, as a learner's kernel would have them."""
    cells = _cells()
    ns: dict = {}
    exec(cells[0], ns)  # imports
    helpers = next(c for c in cells if c.startswith("# exercise check helpers"))
    exec(helpers, ns)
    return ns


def _exercise(name: str) -> tuple[str, str]:
    """(solution cell, check cell) of the exercise whose solution cell defines or sets ``name``."""
    cells = _cells()
    for i, c in enumerate(cells):
        if ("### BEGIN SOLUTION" in c) and (f"def {name}(" in c or f"{name} =" in c):
            return c, cells[i + 1]
    raise LookupError(name)


def _run(name: str, value=None, extra: dict | None = None):
    """Run ``name``'s check cell with the solution, or with ``value`` in place of it."""
    ns = _namespace()
    solution, check_cell = _exercise(name)
    exec(solution, ns)
    if value is not None:
        ns[name] = value
    ns.update(extra or {})
    exec(check_cell, ns)


def _fails(name: str, value=None, extra: dict | None = None, match: str | None = None):
    with pytest.raises(AssertionError, match=match):
        _run(name, value, extra)


# --- 5.1 top-p ---------------------------------------------------------------------------------


def test_top_p_check_accepts_the_solution():
    _run("my_top_p")


def test_top_p_check_rejects_wrong_answers():
    _fails("my_top_p", lambda logits, p: logits, match="keep")                       # no filtering
    _fails("my_top_p", lambda logits, p: torch.full_like(logits, -math.inf))         # a constant
    _fails("my_top_p", lambda logits, p: logits.masked_fill(                          # ignores p (fixed 0.5)
        torch.softmax(logits, -1).sort(-1, descending=True)[0].cumsum(-1).gather(
            -1, logits.argsort(-1, descending=True).argsort(-1)) > 0.5, -math.inf))

    def off_by_one(logits, p):  # keeps tokens while the cumulative sum *including* them is < p
        s, order = logits.sort(-1, descending=True)
        drop = torch.softmax(s, -1).cumsum(-1) >= p
        return logits.masked_fill(torch.zeros_like(drop).scatter(-1, order, drop), -math.inf)

    _fails("my_top_p", off_by_one, match="nucleus")

    def library(logits, p):
        from minillm.generate import top_p_filter
        return top_p_filter(logits, p)

    _fails("my_top_p", library, match="write it yourself")

    def library_in_disguise(logits, p):
        import minillm.generate as g
        return g.process_logits(logits, g.SamplingConfig(top_p=p))

    _fails("my_top_p", library_in_disguise, match="write it yourself")

    def rescaled(logits, p):  # right set, but changes the kept logits
        s, order = logits.sort(-1, descending=True)
        probs = torch.softmax(s, -1)
        drop = torch.zeros_like(s, dtype=torch.bool).scatter(-1, order, probs.cumsum(-1) - probs >= p)
        return torch.log_softmax(logits, -1).masked_fill(drop, -math.inf)

    _fails("my_top_p", rescaled, match="unchanged")


# --- 5.2 KV-cache decoding step -------------------------------------------------------------------


def _attend(q, k, v):
    w = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(q.size(-1)), -1)
    return w @ v


def test_kv_step_check_accepts_the_solution():
    _run("attend_with_cache")


def test_kv_step_check_rejects_wrong_answers():
    def no_append(q, k, v, cache):  # forgets to store the new key and value
        if cache is None:
            return _attend(q, k, v), (k, v)
        return _attend(q, torch.cat([cache[0], k], 2), torch.cat([cache[1], v], 2)), cache

    _fails("attend_with_cache", no_append, match="append")

    def only_new(q, k, v, cache):  # attends to the newest token only
        new = (k, v) if cache is None else (torch.cat([cache[0], k], 2), torch.cat([cache[1], v], 2))
        return _attend(q, k, v), new

    _fails("attend_with_cache", only_new, match="attention outputs")

    def prepended(q, k, v, cache):  # new key first: same attention, but the cache is out of order
        new = (k, v) if cache is None else (torch.cat([k, cache[0]], 2), torch.cat([v, cache[1]], 2))
        return _attend(q, *new), new

    _fails("attend_with_cache", prepended, match="cached keys")

    def no_scale(q, k, v, cache):
        new = (k, v) if cache is None else (torch.cat([cache[0], k], 2), torch.cat([cache[1], v], 2))
        return torch.softmax(q @ new[0].transpose(-2, -1), -1) @ new[1], new

    _fails("attend_with_cache", no_scale, match="attention outputs")
    _fails("attend_with_cache", lambda q, k, v, cache: (torch.zeros_like(q), (k, v)))  # a constant

    def library(q, k, v, cache):
        from minillm.attention import KVCache
        KVCache(1, 1, 1, 1, 1)
        return no_append(q, k, v, cache)

    _fails("attend_with_cache", library, match="write it yourself")


# --- 5.3 stop strings -----------------------------------------------------------------------------


def test_stop_check_accepts_the_solution():
    _run("cut_at_stop")


def test_stop_check_rejects_wrong_answers():
    _fails("cut_at_stop", lambda text, stops: (text, False))                     # never stops

    def first_in_list(text, stops):  # the first stop string of the list, not the earliest in the text
        for s in stops:
            if s in text:
                return text[: text.find(s)], True
        return text, False

    _fails("cut_at_stop", first_in_list, match="expected")

    def keeps_stop(text, stops):  # cuts after the stop string instead of before
        hits = [(text.find(s), s) for s in stops if s in text]
        if not hits:
            return text, False
        i, s = min(hits)
        return text[: i + len(s)], True

    _fails("cut_at_stop", keeps_stop)

    def last_occurrence(text, stops):
        hits = [text.rfind(s) for s in stops if s in text]
        return (text[: min(hits)], True) if hits else (text, False)

    _fails("cut_at_stop", last_occurrence)

    def library(text, stops):
        from minillm.generate import _final_text
        return _final_text, True

    _fails("cut_at_stop", library, match="write it yourself")


# --- 5.4 repetition penalty -----------------------------------------------------------------------


def test_penalty_check_accepts_the_solution():
    _run("my_repetition_penalty")


def test_penalty_check_rejects_wrong_answers():
    def divide_all_seen(logits, history, penalty):  # ignores the sign: raises negative logits
        seen = torch.zeros_like(logits, dtype=torch.bool).scatter(1, history, True)
        return torch.where(seen, logits / penalty, logits)

    _fails("my_repetition_penalty", divide_all_seen, match="penalised logits")

    def every_token(logits, history, penalty):  # penalises the whole vocabulary
        return torch.where(logits > 0, logits / penalty, logits * penalty)

    _fails("my_repetition_penalty", every_token)

    def shared_history(logits, history, penalty):  # one history for all rows
        seen = torch.zeros(logits.size(-1), dtype=torch.bool)
        seen[history.flatten()] = True
        return torch.where(seen, torch.where(logits > 0, logits / penalty, logits * penalty), logits)

    _fails("my_repetition_penalty", shared_history)
    _fails("my_repetition_penalty", lambda logits, history, penalty: logits)      # ignores the penalty

    def library(logits, history, penalty):
        from minillm.generate import repetition_penalty
        return repetition_penalty(logits, history, penalty)

    _fails("my_repetition_penalty", library, match="write it yourself")


# --- 5.5 predictions ------------------------------------------------------------------------------


def test_prediction_check():
    _run("kept_top_p")
    _fails("kept_top_p", 3, match="top-p")
    _fails("kept_top_p", 4, match="top-p")
    _fails("kept_top_p", None, extra={"kept_min_p": 2}, match="min-p")
    _fails("kept_top_p", None, extra={"kept_min_p": 4}, match="min-p")
