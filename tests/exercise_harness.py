"""Run wrong answers through an exercise's check cells and expect the checks to reject them.

A check that no wrong answer can make fail is a defect (issue 9, section 4). This module takes a
solutions notebook, swaps the code between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` in one
exercise for a wrong answer, runs the exercise's cells, and reports whether its check failed with
the expected message.

How an exercise is found: the markdown heading ``### Exercise N.M`` starts it; it runs up to the next
such heading (or the end). Its *solution cells* are the code cells of that span holding a solution
region; its other code cells (check cells, prints) run as they are. Before the span, every code cell
of the notebook runs once with its correct solution (the *setup*: imports, data, and the functions of
earlier exercises that later ones use). That namespace is computed once per notebook and copied
(a shallow copy of the globals dict) for each wrong answer, so a wrong answer never sees another's
definitions. Cells run with ``exec`` in this process, ``MPLBACKEND=Agg``; magics are not supported.

Usage, in a test file (one per chapter group, e.g. ``tests/test_exercise_checks_ch234.py``)::

    import pytest
    from exercise_harness import Wrong, notebook, run_wrong, ids

    WRONG = [
        # exercise, replacement for the solution region, regex the check's message must match
        Wrong("0.2", "return [1 / len(vocab)] * len(vocab)", "P\\(next"),
        # a cell with two regions: give a list (None keeps that region's solution)
        Wrong("1.1", ["return {}", None], "count_pairs", name="empty counts"),
        # the check may raise another error type (e.g. a ValueError from a library function)
        Wrong("1.6", "return ''", "format_chat gave", error=AssertionError),
        # an exercise with several solution cells: pick one with cell=1 (0 = the first)
        Wrong("1.4", "curve = [900, 800, 700, 600]", "curve", cell=1),
    ]

    @pytest.mark.parametrize("wrong", WRONG, ids=ids(WRONG))
    def test_wrong_answer_is_rejected(wrong):
        run_wrong("solutions/00-what-is-an-llm.ipynb", wrong)

``run_wrong`` raises ``AssertionError`` (the test fails) when the check accepts the wrong answer,
fails with another error type, or with a message that does not match ``expect``; it names the
exercise and the wrong answer. A replacement is dedented and re-indented like the marker line.
``setup_skip`` on the ``Wrong`` lists exercises whose cells the setup should not run (slow mini
projects that later exercises do not need); pass it as ``skip=`` to :func:`notebook` instead to
apply it to the whole notebook. ``exercise_span(path, "1.3")`` returns the cell indices, useful
when writing new wrong answers. ``count_wrong(WRONG)`` counts them per chapter.

Keep wrong answers cheap: the setup runs once per notebook and test session, but each wrong answer
re-runs its exercise's cells (including a slow check cell).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sys
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from minillm.course.exercises import BEGIN, END, HEADING  # noqa: E402


@dataclass(frozen=True)
class Wrong:
    """One wrong answer to one exercise.

    ``code``: the replacement for the solution region (a string), or a list with one entry per
    region of the solution cell (``None`` keeps that region's solution). ``expect``: a regular
    expression searched for in the check's error message. ``cell``: which solution cell of the
    exercise (0 = first). ``error``: the exception type the check must raise. ``name``: a short
    label for test ids (defaults to the first line of the code).
    """

    exercise: str
    code: str | tuple | list
    expect: str
    cell: int = 0
    error: type = AssertionError
    name: str = ""
    setup_skip: tuple = field(default_factory=tuple)

    @property
    def label(self) -> str:
        if self.name:
            return f"{self.exercise}: {self.name}"
        first = self.code if isinstance(self.code, str) else next((c for c in self.code if c), "")
        line = next((x.strip() for x in first.splitlines() if x.strip()), "")
        return f"{self.exercise}: {line[:50]}"


def ids(wrongs) -> list[str]:
    """Test ids for ``pytest.mark.parametrize``: ``"0.2: return [1 / len(vocab)] * len(vocab)"``."""
    return [w.label for w in wrongs]


def count_wrong(wrongs) -> dict[str, int]:
    """How many wrong answers each chapter has: ``{"0": 12, "1": 14, ...}``."""
    out: dict[str, int] = {}
    for w in wrongs:
        ch = w.exercise.split(".")[0]
        out[ch] = out.get(ch, 0) + 1
    return out


def _source(cell) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def _regions(text: str) -> list[tuple[int, int, str]]:
    """(begin line index, end line index, indent) of each solution region in ``text``."""
    out, start, indent = [], None, ""
    for i, line in enumerate(text.split("\n")):
        m = BEGIN.match(line)
        if m:
            start, indent = i, m["indent"]
        elif END.match(line) and start is not None:
            out.append((start, i, indent))
            start = None
    return out


def replace_regions(text: str, replacements) -> str:
    """Replace the solution regions of a code cell; ``None`` keeps a region's solution."""
    regions = _regions(text)
    if isinstance(replacements, str):
        replacements = [replacements]
    replacements = list(replacements)
    if len(replacements) > len(regions):
        raise ValueError(f"{len(replacements)} replacements for a cell with {len(regions)} solution regions")
    replacements += [None] * (len(regions) - len(replacements))
    lines = text.split("\n")
    for (start, end, indent), new in reversed(list(zip(regions, replacements))):
        if new is None:
            body = lines[start + 1:end]
        else:
            body = textwrap.indent(textwrap.dedent(new).strip("\n"), indent, lambda _: True).split("\n")
        lines[start:end + 1] = body
    return "\n".join(lines)


def _cells(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def exercise_span(path: str | Path, exercise: str) -> tuple[int, int]:
    """Cell indices ``(first, stop)`` of ``exercise`` ("1.3"): its heading cell up to the next one."""
    cells = _cells(notebook(path))
    start = None
    for i, cell in enumerate(cells):
        if cell.get("cell_type") != "markdown":
            continue
        for m in HEADING.finditer(_source(cell)):
            label = f"{m['n']}.{m['m']}"
            if start is not None:
                return start, i
            if label == exercise:
                start = i
    if start is None:
        raise KeyError(f"{path}: no markdown heading 'Exercise {exercise}'")
    return start, len(cells)


def _exec(code: str, ns: dict, where: str) -> None:
    exec(compile(code, where, "exec"), ns)


def _fresh_namespace() -> dict:
    ns = {"__name__": "__main__", "__builtins__": __builtins__}
    try:
        from IPython.display import display

        ns["display"] = display
    except ImportError:  # pragma: no cover - IPython is a course dependency
        pass
    return ns


def _span_of_exercises(cells) -> dict[int, str]:
    """Map each cell index to the exercise it belongs to ('' before the first heading)."""
    out, current = {}, ""
    for i, cell in enumerate(cells):
        if cell.get("cell_type") == "markdown":
            for m in HEADING.finditer(_source(cell)):
                current = f"{m['n']}.{m['m']}"
        out[i] = current
    return out


_SNAPSHOTS: dict[tuple, dict[int, dict]] = {}


@contextlib.contextmanager
def _in_notebook_folder(path):
    """Run cells from the notebook's folder (its relative paths), as Jupyter does; afterwards
    return to the old working directory and close the figures the cells opened."""
    cwd = os.getcwd()
    os.chdir(Path(path).parent)
    try:
        yield
    finally:
        os.chdir(cwd)
        try:
            import matplotlib.pyplot as plt

            plt.close("all")
        except ImportError:  # pragma: no cover
            pass


def _setup(path: str, upto: int, skip: tuple) -> dict:
    """The namespace after running every code cell before ``upto`` (correct solutions).

    Snapshots are kept per (notebook, skip): the setup of a later exercise starts from the latest
    snapshot before it, so a notebook's cells run once per test session, not once per exercise.
    """
    os.environ.setdefault("MPLBACKEND", "Agg")
    cells = _cells(Path(path))
    owner = _span_of_exercises(cells)
    snaps = _SNAPSHOTS.setdefault((path, skip), {})
    if upto in snaps:
        return snaps[upto]
    start = max((k for k in snaps if k < upto), default=0)
    ns = dict(snaps[start]) if start in snaps else _fresh_namespace()
    with _in_notebook_folder(path):
        for i in range(start, upto):
            cell = cells[i]
            if cell.get("cell_type") != "code" or owner[i] in skip:
                continue
            _exec(_source(cell), ns, f"{Path(path).name}[cell {i}]")
    snaps[upto] = ns
    return dict(ns)


def notebook(path: str | Path, skip=()) -> Path:
    """Resolve ``path`` against the repository root; ``skip`` is kept for :func:`run_wrong`."""
    p = Path(path)
    return p if p.is_absolute() else ROOT / p


def run_wrong(path: str | Path, wrong: Wrong, skip=()) -> str:
    """Run ``wrong`` through its exercise's check; return the check's message.

    Fails (``AssertionError`` naming the exercise and the wrong answer) when the check accepts the
    wrong answer, raises another error type, or says something that does not match ``wrong.expect``.
    """
    path = notebook(path)
    cells = _cells(path)
    first, stop = exercise_span(path, wrong.exercise)
    solution_cells = [i for i in range(first, stop)
                      if cells[i].get("cell_type") == "code" and _regions(_source(cells[i]))]
    if not solution_cells:
        raise ValueError(f"{path.name}: exercise {wrong.exercise} has no code cell with a solution region")
    target = solution_cells[wrong.cell]
    skip = tuple(sorted(set(skip) | set(wrong.setup_skip)))
    ns = dict(_setup(str(path), first, skip))
    raised = None
    with _in_notebook_folder(path):
        for i in range(first, stop):
            cell = cells[i]
            if cell.get("cell_type") != "code":
                continue
            code = _source(cell)
            if i == target:
                code = replace_regions(code, wrong.code)
            try:
                _exec(code, ns, f"{path.name}[cell {i}]")
            except BaseException as exc:  # noqa: BLE001 - we report every kind
                if i <= target:
                    raise AssertionError(
                        f"exercise {wrong.exercise}, wrong answer {wrong.label!r}: cell {i} (the answer or a cell "
                        f"before its check) raised {type(exc).__name__}: {exc}; a wrong answer should run and "
                        "be rejected by the check"
                    ) from exc
                raised = exc
                break
    if raised is None:
        raise AssertionError(f"exercise {wrong.exercise}: the check ACCEPTED the wrong answer {wrong.label!r}")
    if not isinstance(raised, wrong.error):
        raise AssertionError(
            f"exercise {wrong.exercise}, wrong answer {wrong.label!r}: the check raised "
            f"{type(raised).__name__}: {raised}, expected {wrong.error.__name__} (a check should explain in words)"
        ) from raised
    message = str(raised)
    if not re.search(wrong.expect, message):
        raise AssertionError(
            f"exercise {wrong.exercise}, wrong answer {wrong.label!r}: the check failed with {message!r}, "
            f"which does not match {wrong.expect!r}"
        )
    return message


def run_right(path: str | Path, exercise: str, skip=()) -> None:
    """Run the exercise's cells with the committed solution; they must pass (a sanity check)."""
    path = notebook(path)
    cells = _cells(path)
    first, stop = exercise_span(path, exercise)
    ns = dict(_setup(str(path), first, tuple(sorted(skip))))
    with _in_notebook_folder(path):
        for i in range(first, stop):
            if cells[i].get("cell_type") == "code":
                _exec(_source(cells[i]), ns, f"{path.name}[cell {i}]")
