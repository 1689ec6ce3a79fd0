"""Make exercise notebooks from solution notebooks.

In ``solutions/NN-slug.ipynb`` the part a learner writes sits between two marker lines:

    ### BEGIN SOLUTION
    ...
    ### END SOLUTION

In code cells the region becomes ``raise NotImplementedError("Exercise N.M")``, indented like
the marker; in markdown cells (markers written as ``<!-- BEGIN SOLUTION -->`` or as above)
it becomes a prompt for the learner's own answer. ``N.M`` comes from the latest markdown
heading ``Exercise N.M`` above the cell. Outputs are cleared. ``make exercises`` runs this.

Learners work in ``exercises/``, so regenerating must never destroy their answers. Each
generated notebook carries a fingerprint in its metadata (``metadata["minillm-exercise"].sources_sha256``,
the sha256 of every cell's type and source, see :func:`learner_content_hash`). On the next run
a notebook whose cells still match its fingerprint (untouched, or only executed) is updated
freely; one whose cells differ (a learner wrote in it) is skipped and listed, unless
``force=True`` (``python -m minillm exercises --force``). A notebook without a fingerprint
(written by an older minillm) is updated only if its cells equal the new ones.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from pathlib import Path

from ..utils import atomic_write
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


STAMP = "minillm-exercise"
"""The key of the generator's entry in a notebook's metadata."""


def _source(cell) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def learner_content_hash(nb: dict) -> str:
    """sha256 of what a learner can change in a notebook: each cell's type and source.

    Outputs, execution counts, cell ids and metadata are left out, so running a notebook does
    not change it, and Jupyter's way of storing a source (one string or a list of lines) neither.
    """
    cells = [[c.get("cell_type"), _source(c)] for c in nb.get("cells", []) if isinstance(c, dict)]
    return hashlib.sha256(json.dumps(cells, ensure_ascii=False).encode("utf-8")).hexdigest()


def _check_notebook(nb, where: str) -> None:
    """Refuse a notebook whose structure is not nbformat 4's, naming the file and the field."""
    if not isinstance(nb, dict):
        raise ExerciseError(f"{where}: holds a JSON {type(nb).__name__}, but a notebook is a JSON "
                            "object with a 'cells' list")
    cells = nb.get("cells")
    if not isinstance(cells, list):
        raise ExerciseError(f"{where}: 'cells' is {type(cells).__name__}, expected a list of cells; "
                            "is it a Jupyter notebook (nbformat 4)?")
    for i, cell in enumerate(cells):
        if not isinstance(cell, dict):
            raise ExerciseError(f"{where}, cell {i}: a cell must be a JSON object, got {type(cell).__name__}")
        kind = cell.get("cell_type")
        if kind not in ("code", "markdown", "raw"):
            raise ExerciseError(f"{where}, cell {i}: cell_type is {kind!r}, expected 'code', "
                                "'markdown' or 'raw'")
        src = cell.get("source", "")
        if not (isinstance(src, str) or (isinstance(src, list) and all(isinstance(x, str) for x in src))):
            raise ExerciseError(f"{where}, cell {i}: source must be a string or a list of strings, "
                                f"got {type(src).__name__}")


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
    """Return a copy of the solutions notebook ``nb`` with every solution region stripped.

    The copy's metadata carries the fingerprint of its cells (see the module docstring).
    """
    _check_notebook(nb, source)
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
    if not isinstance(nb.get("metadata"), dict):
        nb["metadata"] = {}
    meta = nb["metadata"]
    meta["kernelspec"] = dict(KERNELSPEC)  # what `make setup` installs: JupyterLab keeps the file clean
    meta.pop("minillm", None)  # the freshness stamp belongs to executed notebooks; exercises are not run
    meta[STAMP] = {"generated_from": source, "sources_sha256": learner_content_hash(nb)}
    return nb


def dumps(nb: dict) -> str:
    """Serialise a notebook the way the committed exercises are stored (stable, diff-friendly)."""
    return json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def exercise_notebook_text(solutions_path: str | Path, number: int | str | None = None) -> str:
    """The exact text that ``exercises/`` should hold for ``solutions_path``."""
    path = Path(solutions_path)
    try:
        nb = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise ExerciseError(f"{path}: not a notebook (the file holds binary data, not JSON text)") from None
    except json.JSONDecodeError as exc:
        raise ExerciseError(f"{path}: not valid notebook JSON ({exc}); it is truncated or damaged") from exc
    _check_notebook(nb, str(path))
    if number is None:
        m = re.match(r"([0-9]+|[A-Z])", path.name)
        number = (int(m[1]) if m[1].isdigit() else m[1]) if m else None
    rel = f"solutions/{path.name}"
    return dumps(make_exercises(nb, source=rel, number=number))


def learner_changes(path: str | Path, generated_text: str) -> str | None:
    """Why the exercise notebook at ``path`` must not be overwritten, or ``None`` if it may be.

    ``None``: the file is missing, or its cells match the fingerprint it was generated with, or
    (no fingerprint) the cells of ``generated_text``. Otherwise a short reason for the message.
    """
    path = Path(path)
    if not path.exists():
        return None
    try:
        current = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, OSError):
        return "it is not a readable notebook, so nothing proves it holds no work"
    if not isinstance(current, dict):
        return "it is not a notebook (JSON object), so nothing proves it holds no work"
    meta = current.get("metadata")
    stamp = meta.get(STAMP) if isinstance(meta, dict) else None
    have = learner_content_hash(current)
    if isinstance(stamp, dict) and isinstance(stamp.get("sources_sha256"), str):
        return None if have == stamp["sources_sha256"] else "its cells were edited since it was generated"
    if have == learner_content_hash(json.loads(generated_text)):
        return None
    return "its cells differ from the generated ones and it has no generator fingerprint"


def generate_all(solutions: str | Path = "solutions", exercises: str | Path = "exercises", check: bool = False,
                 numbers: dict[str, int | str] | None = None, *, force: bool = False,
                 skipped: list | None = None) -> list[str]:
    """Regenerate every exercise notebook. Returns the paths written (or, with ``check``, stale).

    ``numbers`` maps a solutions file name to its chapter number (``book.yml`` knows them:
    :func:`minillm.course.book.exercise_numbers`); without it the number is read from the file
    name's prefix. A notebook a learner has edited (:func:`learner_changes`) is not written
    unless ``force``; pass a list as ``skipped`` to receive ``(path, reason)`` for each.
    A missing or empty ``solutions`` folder raises (a typo must not look like success).
    """
    from ..utils import check_output_dir

    solutions, exercises = Path(solutions), Path(exercises)
    if not solutions.is_dir():
        raise FileNotFoundError(f"solutions folder {str(solutions)!r} not found"
                                + (" (it is a file)" if solutions.exists() else "")
                                + "; pass the folder of the solution notebooks, e.g. --solutions solutions")
    sources = sorted(solutions.glob("*.ipynb"))
    if not sources:
        raise ValueError(f"solutions folder {str(solutions)!r} holds no .ipynb notebooks; "
                         "is it the right folder?")
    if not check:
        check_output_dir(exercises, "the exercises folder")
    numbers = numbers or {}
    changed = []
    for src in sources:
        text = exercise_notebook_text(src, number=numbers.get(src.name))
        dst = exercises / src.name
        if dst.is_file() and dst.read_text(encoding="utf-8", errors="replace") == text:
            continue
        if not check and not force:
            reason = learner_changes(dst, text)
            if reason is not None:
                if skipped is not None:
                    skipped.append((str(dst), reason))
                continue
        changed.append(str(dst))
        if not check:
            with atomic_write(dst, "w") as f:
                f.write(text)
    return changed
