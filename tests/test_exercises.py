"""The exercise generator: solution regions become NotImplementedError, markers are checked."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

from minillm.course.exercises import (
    ExerciseError,
    exercise_notebook_text,
    generate_all,
    make_exercises,
)

ROOT = Path(__file__).resolve().parents[1]


def nb(*cells):
    out = nbformat.v4.new_notebook()
    out.cells = list(cells)
    return json.loads(nbformat.writes(out))


def code(src, outputs=True):
    c = nbformat.v4.new_code_cell(src)
    if outputs:
        c.execution_count = 3
        c.outputs = [nbformat.v4.new_output("stream", text="hi\n")]
    return c


md = nbformat.v4.new_markdown_cell


def sources(notebook):
    return [c["source"] for c in notebook["cells"]]


def test_regions_replaced_with_indentation_and_numbering():
    src = nb(
        md("### Exercise 3.1: two regions"),
        code(
            "def f(x):\n    y = 1\n    ### BEGIN SOLUTION\n    y = x * 2\n    ### END SOLUTION\n"
            "    return y\n\n### BEGIN SOLUTION\nz = f(2)\n### END SOLUTION\nprint(z)"
        ),
        code("assert f(2) == 4, 'f should double its input'"),
        md("### Exercise 3.2: another"),
        code("if True:\n        ### BEGIN SOLUTION\n        pass\n        ### END SOLUTION"),
    )
    out = make_exercises(src, number=3)
    s = sources(out)
    assert s[2] == (
        'def f(x):\n    y = 1\n    raise NotImplementedError("Exercise 3.1")\n    return y\n\n'
        'raise NotImplementedError("Exercise 3.1")\nprint(z)'
    )
    assert s[3] == "assert f(2) == 4, 'f should double its input'"
    assert s[5] == 'if True:\n        raise NotImplementedError("Exercise 3.2")'
    assert "Exercises." in s[0] and "generated" in s[0]


def test_region_before_any_exercise_heading_is_stripped_and_numbered():
    src = nb(code("x = 1\n### BEGIN SOLUTION\ny = 2\n### END SOLUTION\nprint(y)"))
    s = sources(make_exercises(src, number=5))
    assert s[1] == 'x = 1\nraise NotImplementedError("Exercise 5.1")\nprint(y)', "the solution leaked"


def test_outputs_are_cleared_and_source_is_untouched():
    src = nb(md("### Exercise 1.1: x"), code("### BEGIN SOLUTION\nx = 1\n### END SOLUTION"))
    before = json.dumps(src)
    out = make_exercises(src, number=1)
    assert json.dumps(src) == before, "the generator must not modify its input"
    cell = out["cells"][2]
    assert cell["outputs"] == [] and cell["execution_count"] is None


def test_markdown_answers_become_a_prompt():
    src = nb(md("### Exercise 2.4: why?\n\n<!-- BEGIN SOLUTION -->\nBecause of **this**.\n<!-- END SOLUTION -->\nEnd."))
    text = sources(make_exercises(src, number=2))[1]
    assert "Because" not in text and "*Your answer: write it here.*" in text and text.endswith("End.")


@pytest.mark.parametrize(
    "cell,where",
    [
        ("x = 1\n### BEGIN SOLUTION\ny = 2", "cell 1, line 2: BEGIN SOLUTION is never closed"),
        ("x = 1\n### END SOLUTION", "cell 1, line 2: END SOLUTION without a BEGIN"),
        ("### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION", "cell 1, line 2: BEGIN SOLUTION inside the region opened at line 1"),
    ],
)
def test_unbalanced_markers_name_file_cell_and_line(cell, where):
    src = nb(md("### Exercise 1.1: x"), code(cell))
    with pytest.raises(ExerciseError, match=f"solutions/01-x.ipynb, {where}"):
        make_exercises(src, source="solutions/01-x.ipynb", number=1)


def test_heading_number_must_match_chapter():
    src = nb(md("### Exercise 2.1: x"), code("### BEGIN SOLUTION\n### END SOLUTION"))
    with pytest.raises(ExerciseError, match="Exercise 2.1, but this is chapter 1"):
        make_exercises(src, number=1)


def test_generate_all_writes_then_reports_in_sync(tmp_path):
    sol, ex = tmp_path / "solutions", tmp_path / "exercises"
    sol.mkdir()
    nbformat.write(
        nbformat.from_dict(nb(md("### Exercise 7.1: x"), code("### BEGIN SOLUTION\nx = 1\n### END SOLUTION"))),
        sol / "07-x.ipynb",
    )
    assert generate_all(sol, ex, check=True) == [str(ex / "07-x.ipynb")]
    assert generate_all(sol, ex) == [str(ex / "07-x.ipynb")]
    assert generate_all(sol, ex, check=True) == []
    assert 'NotImplementedError(\\"Exercise 7.1\\")' in (ex / "07-x.ipynb").read_text()


@pytest.mark.parametrize("solution", sorted((ROOT / "solutions").glob("*.ipynb")), ids=lambda p: p.name)
def test_committed_exercises_match_the_generator(solution):
    from minillm.course.book import load_book

    chapter = load_book(ROOT / "book.yml").by_notebook(solution)
    committed = ROOT / "exercises" / solution.name
    assert committed.is_file(), f"{committed} is missing; run `make exercises`"
    expected = exercise_notebook_text(solution, number=chapter.number if chapter else None)
    assert committed.read_text(encoding="utf-8") == expected, (
        f"{committed.relative_to(ROOT)} differs from what the generator makes from {solution.name}; "
        "run `make exercises` and commit"
    )
    assert "BEGIN SOLUTION" not in committed.read_text(encoding="utf-8")


def test_cells_without_headings_are_numbered_one_per_cell():
    src = nb(
        code("### BEGIN SOLUTION\na = 1\n### END SOLUTION"),
        code("### BEGIN SOLUTION\nb = 2\n### END SOLUTION"),
        md("### Exercise 4.7: headed"),
        code("### BEGIN SOLUTION\nc = 3\n### END SOLUTION"),
    )
    s = sources(make_exercises(src, number=4))
    assert s[1:] == [
        'raise NotImplementedError("Exercise 4.1")',
        'raise NotImplementedError("Exercise 4.2")',
        "### Exercise 4.7: headed",
        'raise NotImplementedError("Exercise 4.7")',
    ]
