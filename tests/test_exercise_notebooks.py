"""Each exercise notebook runs cleanly up to its first unsolved exercise.

A learner opens ``exercises/NN-slug.ipynb`` and runs it top to bottom: every cell before the first
exercise must work, and the first failure must be that exercise's ``NotImplementedError``.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

ROOT = Path(__file__).resolve().parents[1]
EXERCISES = sorted((ROOT / "exercises").glob("*.ipynb"))


@pytest.mark.parametrize("path", EXERCISES, ids=lambda p: p.name)
def test_exercises_run_until_the_first_exercise(path):
    nb = nbformat.read(path, as_version=4)
    first = next(
        (i for i, c in enumerate(nb.cells) if c.cell_type == "code" and "raise NotImplementedError(\"Exercise" in c.source),
        None,
    )
    assert first is not None, f"{path.name} has no exercise left for the learner"
    client = NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}})
    with pytest.raises(CellExecutionError) as info:
        client.execute()  # stops at the first failing cell
    assert info.value.ename == "NotImplementedError", (
        f"{path.name}: a cell failed before the first exercise:\n{info.value}"
    )
    assert "Exercise" in info.value.evalue
