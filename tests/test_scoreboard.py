"""The scoreboard of chapter 0 onwards: rows, the check of a measurement, the markdown table."""

from __future__ import annotations

import pytest

from minillm.course import scoreboard


def test_rows_and_perplexity():
    row = scoreboard.get("uniform guess")
    assert row.chapter == 0 and abs(row.perplexity - 75) < 0.05, "a uniform guess over 75 characters has perplexity 75"
    with pytest.raises(KeyError, match="no scoreboard row named 'nope'; rows:"):
        scoreboard.get("nope")


def test_confirm_accepts_the_stored_number_and_refuses_a_different_one():
    assert scoreboard.confirm("gzip -9", 2.4385) == 2.4385
    with pytest.raises(ValueError, match=r"stores 2\.438 bits per character, this run measured 2\.600.*update SCORES"):
        scoreboard.confirm("gzip -9", 2.6)
    with pytest.raises(ValueError, match="finite number"):
        scoreboard.confirm("gzip -9", float("nan"))


def test_table_marks_the_best_model_and_filters_by_chapter(monkeypatch):
    table = scoreboard.table(upto=0)
    assert table.count("\n| ") == len([s for s in scoreboard.SCORES if s.chapter <= 0]) + 1  # rows + header
    best = min((s for s in scoreboard.SCORES if "compressor" not in s.note and s.chapter <= 0), key=lambda s: s.bits_per_char)
    assert f"| {best.model} |" in table and "(best model so far)" in table.split(best.model)[1].split("\n")[0]
    monkeypatch.setattr(scoreboard, "SCORES", scoreboard.SCORES + [scoreboard.Score("transformer", 2, 2.0, "")])
    assert "transformer" not in scoreboard.table(upto=0) and "transformer" in scoreboard.table(upto=2)
