"""The chapter 7 labelling widget, driven by clicking its buttons in code."""

import json

import pytest

pytest.importorskip("ipywidgets", reason="the labelling widget needs ipywidgets (the course's notebook extra)")

from minillm.rlhf import load_preferences  # noqa: E402
from minillm.widgets import labelling_widget  # noqa: E402

ITEMS = [("Q1", "a1", "b1"), ("Q2", "a2", "b2"), ("Q3", "a3", "b3"), ("Q4", "a4", "b4")]


def test_buttons_label_skip_and_save_as_they_go(tmp_path):
    path = tmp_path / "labels.json"
    w = labelling_widget(ITEMS, path, show=False)
    assert "Q1" in w.prompt.value and "a1" in w.answers.value and "b1" in w.answers.value
    w.left.click()
    assert [(p.prompt, p.chosen, p.rejected) for p in load_preferences(path)] == [("Q1", "a1", "b1")]
    w.skip.click()
    assert w.skipped == 1 and len(load_preferences(path)) == 1  # a skip writes no label
    assert "Q3" in w.prompt.value
    w.right.click()
    pairs = load_preferences(path)
    assert [(p.prompt, p.chosen, p.rejected) for p in pairs] == [("Q1", "a1", "b1"), ("Q3", "b3", "a3")]
    w.left.click()
    assert w.done and w.left.disabled and w.right.disabled and w.skip.disabled
    assert "3 labelled, 1 skipped" in w.html()
    w.left.click()  # clicking after the end changes nothing
    assert len(json.loads(path.read_text())["pairs"]) == 3


def test_bad_items_are_refused(tmp_path):
    with pytest.raises(ValueError, match="items is empty"):
        labelling_widget([], tmp_path / "x.json", show=False)
    with pytest.raises(ValueError, match="identical answers"):
        labelling_widget([("Q", "same", "same")], tmp_path / "x.json", show=False)
    with pytest.raises(ValueError, match="triple"):
        labelling_widget([("Q", "a")], tmp_path / "x.json", show=False)
