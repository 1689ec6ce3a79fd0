"""Stored outputs stay fresh: each committed notebook carries a hash of the minillm modules it uses.

``make execute`` writes the stamp (minillm/course/fresh.py); these tests check that every ready
chapter's notebooks carry a stamp that matches the modules as they are now, and that the stamp
reacts to exactly the modules a notebook depends on.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from minillm.cli import main as cli_main
from minillm.course import fresh
from minillm.course.book import load_book
from minillm.course.exercises import make_exercises

ROOT = Path(__file__).resolve().parents[1]
BOOK = load_book(ROOT / "book.yml")


def _nb(*sources, kernelspec=None) -> dict:
    cells = [{"cell_type": "code", "id": f"c{i}", "metadata": {}, "outputs": [], "execution_count": None, "source": s}
             for i, s in enumerate(sources)]
    return {"cells": cells, "metadata": {"kernelspec": kernelspec or dict(fresh.KERNELSPEC)}, "nbformat": 4,
            "nbformat_minor": 5}


@pytest.mark.parametrize("path", fresh.checked_notebooks(BOOK), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_committed_notebooks_are_fresh(path):
    fresh.check_fresh(path, BOOK)  # raises naming the notebook and `make execute NB=...`


def test_dependencies_follow_imports_lazy_names_and_relative_imports():
    mods = fresh.notebook_modules(_nb("from minillm import BPETokenizer, seed_everything", "import torch"))
    assert "minillm.tokenizer" in mods and "minillm" in mods and "minillm.utils" in mods
    assert "minillm.model" not in mods, "a notebook that only tokenizes does not depend on the model"
    # minillm.data imports minillm.world: a transitive dependency
    assert "minillm.world" in fresh.notebook_modules(_nb("from minillm.data import corpus"))
    # relative imports inside the package: course.book imports .exercises
    assert "minillm.course.exercises" in fresh.notebook_modules(_nb("from minillm.course.book import load_book"))
    # book.yml's modules count even when no cell imports them; magics do not break the parser
    assert "minillm.attention" in fresh.notebook_modules(_nb("%matplotlib inline\nx = 1"), extra=["minillm.attention"])


@pytest.fixture
def package_copy(tmp_path, monkeypatch):
    """A copy of the minillm sources that fresh.py hashes instead of the real ones."""
    copy = tmp_path / "minillm"
    shutil.copytree(ROOT / "minillm", copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(fresh, "_package_dir", lambda: copy)
    return copy


def test_a_changed_dependency_makes_the_notebook_stale_and_names_the_fix(package_copy, tmp_path):
    nb = _nb("from minillm import BigramModel\nfrom minillm.data import corpus")
    nb["metadata"]["minillm"] = fresh.stamp(nb)
    path = tmp_path / "chapters" / "00-x.ipynb"
    path.parent.mkdir()
    path.write_text(json.dumps(nb))
    fresh.check_fresh(path)  # fresh as stamped
    # a module it does not use: still fresh
    (package_copy / "model.py").write_text((package_copy / "model.py").read_text() + "\n# edit\n")
    fresh.check_fresh(path)
    # a module it uses only through minillm.data: stale, and the message says what to run
    (package_copy / "world.py").write_text((package_copy / "world.py").read_text() + "\n# edit\n")
    with pytest.raises(fresh.StaleNotebookError, match=r"00-x\.ipynb.*predate.*make execute NB=.*00-x\.ipynb"):
        fresh.check_fresh(path)


def test_an_edited_code_cell_makes_the_notebook_stale(tmp_path):
    path = tmp_path / "b.ipynb"
    nb = _nb("import minillm\nprint(1)")
    nb["metadata"]["minillm"] = fresh.stamp(nb)
    path.write_text(json.dumps(nb))
    fresh.check_fresh(path)
    nb["cells"].append({"cell_type": "markdown", "id": "m", "metadata": {}, "source": "prose may change"})
    path.write_text(json.dumps(nb))
    fresh.check_fresh(path)
    nb["cells"][0]["source"] = "import minillm\nprint(2)"
    path.write_text(json.dumps(nb))
    with pytest.raises(fresh.StaleNotebookError, match="code cells were edited after it was executed"):
        fresh.check_fresh(path)


def test_missing_stamp_and_wrong_kernelspec_are_refused(tmp_path):
    path = tmp_path / "a.ipynb"
    nb = _nb("import minillm")
    path.write_text(json.dumps(nb))
    with pytest.raises(fresh.StaleNotebookError, match="no freshness stamp"):
        fresh.check_fresh(path)
    nb["metadata"]["minillm"] = fresh.stamp(nb)
    nb["metadata"]["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path.write_text(json.dumps(nb))
    with pytest.raises(fresh.StaleNotebookError, match="Python 3 \\(minillm\\).*JupyterLab"):
        fresh.check_fresh(path)


def test_generated_exercises_store_the_installed_kernelspec_and_no_stamp():
    nb = _nb("x = 1", kernelspec={"name": "python3", "display_name": "Python 3", "language": "python"})
    nb["metadata"]["minillm"] = {"modules_hash": "0"}
    out = make_exercises(nb, number=0)
    assert out["metadata"]["kernelspec"] == fresh.KERNELSPEC
    assert "minillm" not in out["metadata"]


def test_execute_runs_stamps_and_keeps_the_kernelspec(tmp_path):
    path = tmp_path / "n.ipynb"
    path.write_text(json.dumps(_nb("from minillm.utils import seed_everything\nprint(6 * 7)",
                                   kernelspec={"name": "python3", "display_name": "Python 3"})))
    fresh.execute(path)
    nb = json.loads(path.read_text())
    assert "".join(nb["cells"][0]["outputs"][0]["text"]) == "42\n"
    assert nb["metadata"]["kernelspec"] == fresh.KERNELSPEC
    fresh.check_fresh(path)


def test_check_book_reports_a_stale_notebook(tmp_path, capsys, monkeypatch):
    stale = [f"{p.name} is stale" for p in fresh.checked_notebooks(BOOK)[:1]]
    monkeypatch.setattr(fresh, "stale_notebooks", lambda book: stale)
    assert cli_main(["check-book", str(ROOT / "book.yml")]) == 1
    assert stale[0] in capsys.readouterr().err
