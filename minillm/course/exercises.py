"""Make exercise notebooks from solution notebooks.

In ``solutions/NN-slug.ipynb`` the part a learner writes sits between two marker lines:

    ### BEGIN SOLUTION
    ...
    ### END SOLUTION

In code cells the region becomes ``raise NotImplementedError("Exercise N.M")``, indented like
the marker; in markdown cells (markers written as ``<!-- BEGIN SOLUTION -->`` or as above)
it becomes a prompt for the learner's own answer. ``N.M`` comes from the latest markdown
heading ``Exercise N.M`` above the cell. Outputs are cleared. ``make exercises`` runs this.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

from .fresh import KERNELSPEC

BEGIN = re.compile(r"^(?P<indent>[ \t]*)(?:###|<!--)\s*BEGIN SOLUTION\s*(?:-->)?\s*$")
END = re.compile(r"^[ \t]*(?:###|<!--)\s*END SOLUTION\s*(?:-->)?\s*$")
HEADING = re.compile(r"^#+\s.*?Exercise\s+(?P<n>[0-9A-Z]+)\.(?P<m>\d+)", re.MULTILINE)
MARKDOWN_PROMPT = "*Your answer: write it here.*"
BANNER = (
    "> **Exercises.** This notebook is generated from `{src}` by `make exercises`; do not edit "
    "the generated file by hand. Replace each `raise NotImplementedError(...)` with your code and "
    "run the check cell after it; it tells you, in words, what is still wrong."
)


class ExerciseError(ValueError):
    """Solution markers are malformed; the message names the file, cell and line."""


def _source(cell) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def strip_regions(text: str, replacement, where: str) -> tuple[str, int]:
    """Replace each BEGIN/END SOLUTION region of ``text``; return (new text, regions found).

    ``replacement(indent)`` gives the replacement line for a region whose marker had ``indent``.
    """
    out: list[str] = []
    lines = text.split("\n")
    open_at = None
    indent = ""
    count = 0
    for lineno, line in enumerate(lines, start=1):
        if BEGIN.match(line):
            if open_at is not None:
                raise ExerciseError(
                    f"{where}, line {lineno}: BEGIN SOLUTION inside the region opened at line {open_at}; "
                    "close that region with ### END SOLUTION first"
                )
            open_at, indent = lineno, BEGIN.match(line)["indent"]
            count += 1
        elif END.match(line):
            if open_at is None:
                raise ExerciseError(f"{where}, line {lineno}: END SOLUTION without a BEGIN SOLUTION before it")
            out.append(replacement(indent))
            open_at = None
        elif open_at is None:
            out.append(line)
    if open_at is not None:
        raise ExerciseError(f"{where}, line {open_at}: BEGIN SOLUTION is never closed; add ### END SOLUTION")
    return "\n".join(out), count


def make_exercises(nb: dict, source: str = "<notebook>", number: int | str | None = None) -> dict:
    """Return a copy of the solutions notebook ``nb`` with every solution region stripped."""
    nb = copy.deepcopy(nb)
    label = None
    auto = False  # True while the label was numbered by counting cells, not by a heading
    counter = 0
    for i, cell in enumerate(nb.get("cells", [])):
        text = _source(cell)
        where = f"{source}, cell {i}"
        if cell.get("cell_type") == "markdown":
            for m in HEADING.finditer(text):
                label, auto = f"{m['n']}.{m['m']}", False
                if number is not None and m["n"] != str(number):
                    raise ExerciseError(
                        f"{where}: heading says Exercise {label}, but this is chapter {number}; renumber it"
                    )
            new, _ = strip_regions(text, lambda indent: indent + MARKDOWN_PROMPT, where)
        elif cell.get("cell_type") == "code":
            if (label is None or auto) and any(BEGIN.match(x) for x in text.split("\n")):
                counter += 1  # regions with no "Exercise N.M" heading above: one number per cell
                label, auto = f"{number if number is not None else '?'}.{counter}", True
            new, _ = strip_regions(
                text, lambda indent, ex=label: f'{indent}raise NotImplementedError("Exercise {ex}")', where
            )
            cell["outputs"] = []
            cell["execution_count"] = None
            meta = cell.get("metadata", {})
            meta.pop("execution", None)
        else:
            new = text
        cell["source"] = new
    nb.setdefault("cells", []).insert(
        0,
        {"cell_type": "markdown", "metadata": {}, "source": BANNER.format(src=source)},
    )
    for cell in nb["cells"]:
        cell.pop("id", None)
    nb["nbformat"], nb["nbformat_minor"] = 4, 4
    meta = nb.setdefault("metadata", {})
    meta["kernelspec"] = dict(KERNELSPEC)  # what `make setup` installs: JupyterLab keeps the file clean
    meta.pop("minillm", None)  # the freshness stamp belongs to executed notebooks; exercises are not run
    return nb


def dumps(nb: dict) -> str:
    """Serialise a notebook the way the committed exercises are stored (stable, diff-friendly)."""
    return json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def exercise_notebook_text(solutions_path: str | Path, number: int | str | None = None) -> str:
    """The exact text that ``exercises/`` should hold for ``solutions_path``."""
    path = Path(solutions_path)
    try:
        nb = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ExerciseError(f"{path}: not valid notebook JSON ({exc})") from exc
    if number is None:
        m = re.match(r"([0-9]+|[A-Z])", path.name)
        number = (int(m[1]) if m[1].isdigit() else m[1]) if m else None
    rel = f"solutions/{path.name}"
    return dumps(make_exercises(nb, source=rel, number=number))


def generate_all(solutions: str | Path = "solutions", exercises: str | Path = "exercises", check: bool = False,
                 numbers: dict[str, int | str] | None = None) -> list[str]:
    """Regenerate every exercise notebook. Returns the paths written (or, with ``check``, stale).

    ``numbers`` maps a solutions file name to its chapter number (``book.yml`` knows them:
    :func:`minillm.course.book.exercise_numbers`); without it the number is read from the file
    name's prefix.
    """
    solutions, exercises = Path(solutions), Path(exercises)
    numbers = numbers or {}
    changed = []
    for src in sorted(solutions.glob("*.ipynb")):
        text = exercise_notebook_text(src, number=numbers.get(src.name))
        dst = exercises / src.name
        if dst.is_file() and dst.read_text(encoding="utf-8") == text:
            continue
        changed.append(str(dst))
        if not check:
            dst.parent.mkdir(parents=True, exist_ok=True)
            dst.write_text(text, encoding="utf-8")
    return changed
