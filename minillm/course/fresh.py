"""Keep the stored outputs of the notebooks fresh: execute them with a stamp, and check the stamp.

A committed notebook's outputs are what a reader of the repository and of the book sees, so they
must be what the current code produces. ``make execute`` runs each notebook in place and writes a
*stamp* into its metadata, ``metadata.minillm.modules_hash``: a hash of the source of every
``minillm`` module the notebook depends on, plus ``code_hash``, a hash of its code cells.
``minillm check-book`` (and ``tests/test_fresh.py``) recompute both and fail, naming the notebook
and the command that fixes it, when a module or a code cell has changed since the notebook was
executed (editing markdown cells needs no re-run).

Which modules a notebook depends on (the rule):

1. every ``minillm`` module its code cells import (``import minillm.x``, ``from minillm.x import
   y``, ``from minillm import Name``: a name of ``minillm._LAZY`` counts as the module defining it,
   a submodule name as that submodule), plus the ``modules`` its chapter lists in ``book.yml``;
2. then, transitively, every ``minillm`` module those modules import (absolute or relative imports,
   at module level or inside functions: a lazy import inside a function is still a dependency);
3. ``minillm/__init__.py`` and ``minillm/utils.py`` always (``import minillm`` runs them).

The hash is sha256 over the sorted module names and their source (line endings normalised), so it
does not depend on the machine, the clock or the order of imports.

The execution stores the kernelspec that ``make setup`` installs (name ``python3``, display name
``Python 3 (minillm)``), so opening a notebook in JupyterLab does not rewrite it.

    python -m minillm execute                                # every ready chapter and solutions notebook
    python -m minillm execute chapters/01-tokenization.ipynb # one notebook
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import time
from pathlib import Path

KERNELSPEC = {"name": "python3", "display_name": "Python 3 (minillm)", "language": "python"}
PACKAGE = "minillm"
ALWAYS = ("minillm", "minillm.utils")


class StaleNotebookError(ValueError):
    """A notebook's stored outputs predate a change to a ``minillm`` module it depends on."""


def _package_dir() -> Path:
    return Path(__file__).resolve().parents[1]


def module_file(name: str) -> Path | None:
    """The source file of ``minillm`` module ``name`` (without importing it), or None."""
    if name != PACKAGE and not name.startswith(PACKAGE + "."):
        return None
    rel = Path(*name.split(".")[1:])
    base = _package_dir() / rel
    for cand in (base.with_suffix(".py") if rel.parts else None, base / "__init__.py"):
        if cand is not None and cand.is_file():
            return cand
    return None


def _lazy_names() -> dict[str, str]:
    """``minillm._LAZY``, read from the source so that nothing is imported."""
    tree = ast.parse(module_file(PACKAGE).read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id == "_LAZY" for t in targets):
                return ast.literal_eval(node.value)
    return {}


def _resolve(node: ast.ImportFrom, current: str | None) -> str | None:
    if node.level == 0:
        return node.module
    if current is None:
        return None
    is_pkg = module_file(current) is not None and module_file(current).name == "__init__.py"
    parts = current.split(".") if is_pkg else current.split(".")[:-1]
    if node.level > 1:
        parts = parts[: len(parts) - (node.level - 1)]
    return ".".join(parts + ([node.module] if node.module else []))


def imported_modules(source: str, current: str | None = None) -> set[str]:
    """The ``minillm`` modules that ``source`` imports (see the module docstring for the rule)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    lazy = _lazy_names()
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == PACKAGE:
                    found.add(alias.name)
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(node, current)
            if not base or base.split(".")[0] != PACKAGE:
                continue
            found.add(base)
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                if module_file(sub) is not None:
                    found.add(sub)
                elif base == PACKAGE and alias.name in lazy:
                    found.add(lazy[alias.name])
    return {m for m in found if module_file(m) is not None}


def dependencies(roots) -> list[str]:
    """``roots`` plus every ``minillm`` module they import, transitively, and the package itself."""
    todo = [r for r in roots if module_file(r) is not None] + list(ALWAYS)
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        path = module_file(name)
        todo.extend(imported_modules(path.read_text(encoding="utf-8"), current=name) - seen)
        # importing a.b.c runs a/__init__ and a/b/__init__ first
        parts = name.split(".")
        todo.extend(".".join(parts[:i]) for i in range(1, len(parts)) if ".".join(parts[:i]) not in seen)
    return sorted(seen)


def _code_cells(nb: dict) -> list[str]:
    out = []
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "code":
            src = cell.get("source", "")
            src = "".join(src) if isinstance(src, list) else src
            # IPython magics and shell lines are not Python; drop them before parsing
            out.append("\n".join(line for line in src.split("\n") if not line.lstrip().startswith(("%", "!"))))
    return out


def notebook_modules(nb: dict, extra=()) -> list[str]:
    """Every ``minillm`` module notebook ``nb`` depends on (``extra``: book.yml's ``modules``)."""
    roots: set[str] = set(extra)
    for src in _code_cells(nb):
        roots |= imported_modules(src)
    return dependencies(roots)


def modules_hash(modules) -> str:
    """sha256 over the names and sources of ``modules`` (sorted; line endings normalised)."""
    h = hashlib.sha256()
    for name in sorted(modules):
        text = module_file(name).read_bytes().replace(b"\r\n", b"\n")
        h.update(name.encode() + b"\0" + text + b"\0")
    return h.hexdigest()


def code_hash(nb: dict) -> str:
    """sha256 of the notebook's code cells (their sources, in order): outputs are stale when it changes."""
    h = hashlib.sha256()
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "code":
            src = cell.get("source", "")
            h.update(("".join(src) if isinstance(src, list) else src).encode("utf-8") + b"\0")
    return h.hexdigest()


def stamp(nb: dict, extra=()) -> dict:
    """The ``metadata.minillm`` stamp for ``nb`` as the modules and its code cells are now."""
    mods = notebook_modules(nb, extra)
    return {"modules_hash": modules_hash(mods), "modules": mods, "code_hash": code_hash(nb)}


def _extra_for(path: Path, book=None) -> list[str]:
    if book is None:
        return []
    chapter = book.by_notebook(path)
    return list(chapter.modules) if chapter else []


def check_fresh(path: str | Path, book=None) -> None:
    """Raise :class:`StaleNotebookError` unless ``path``'s stamp matches the current modules."""
    path = Path(path)
    nb = json.loads(path.read_text(encoding="utf-8"))
    rel = _rel(path, book)
    stored = nb.get("metadata", {}).get("minillm", {})
    fix = f"run `make execute NB={rel}` and commit the result"
    if "modules_hash" not in stored:
        raise StaleNotebookError(f"{rel} was not executed by `make execute` (no freshness stamp in its metadata); {fix}")
    now = stamp(nb, _extra_for(path, book))
    if stored["modules_hash"] != now["modules_hash"]:
        changed = sorted(set(now["modules"]) ^ set(stored.get("modules", []))) or now["modules"]
        raise StaleNotebookError(
            f"{rel}'s stored outputs predate a change to the minillm modules it depends on "
            f"({', '.join(changed)}); {fix}"
        )
    if stored.get("code_hash") != now["code_hash"]:
        raise StaleNotebookError(f"{rel}'s code cells were edited after it was executed, so its outputs are stale; {fix}")
    if nb.get("metadata", {}).get("kernelspec", {}) != KERNELSPEC:
        raise StaleNotebookError(
            f"{rel} stores kernelspec {nb.get('metadata', {}).get('kernelspec')}, not the one `make setup` installs "
            f"({KERNELSPEC}), so JupyterLab would rewrite it on opening; {fix}"
        )


def _rel(path: Path, book=None) -> str:
    root = book.root if book is not None else Path.cwd()
    try:
        return path.resolve().relative_to(Path(root).resolve()).as_posix()
    except ValueError:
        return str(path)


def checked_notebooks(book) -> list[Path]:
    """The chapter and solutions notebooks of every ready chapter of ``book`` that exist."""
    out = []
    for c in book.ready():
        for key in ("chapter", "solutions"):
            p = book.root / getattr(c, key)
            if p.is_file():
                out.append(p)
    return out


def stale_notebooks(book) -> list[str]:
    """One message per stale notebook of ``book`` (empty when all are fresh)."""
    out = []
    for p in checked_notebooks(book):
        try:
            check_fresh(p, book)
        except StaleNotebookError as exc:
            out.append(str(exc))
    return out


def execute(path: str | Path, book=None, timeout: int = 1800, kernel_name: str = "python3") -> float:
    """Execute ``path`` in place with the course's kernel, stamp it, and return the seconds it took.

    The notebook runs from its own folder (as JupyterLab runs it). On an error the file is left
    untouched and the error is raised.
    """
    import nbformat
    from nbclient import NotebookClient

    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name=kernel_name,
                            resources={"metadata": {"path": str(path.parent)}})
    # A non-interactive MPLBACKEND (Agg, set for tests) would make plt.show() draw nothing, and the
    # stored notebook would lose its figures: let the kernel use its inline backend.
    saved = os.environ.pop("MPLBACKEND", None)
    t0 = time.perf_counter()
    try:
        client.execute()
    finally:
        if saved is not None:
            os.environ["MPLBACKEND"] = saved
    seconds = time.perf_counter() - t0
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    nb.metadata["minillm"] = stamp(nb, _extra_for(path, book))
    from ..utils import atomic_write

    with atomic_write(path, "wb") as f:
        f.write((nbformat.writes(nb) + "\n").encode("utf-8"))
    return seconds


def main_execute(paths, book) -> int:
    """``minillm execute``: run the given notebooks (default: every checked one of ``book``) and stamp them."""
    targets = [Path(p) for p in paths] if paths else checked_notebooks(book)
    for p in targets:
        if not p.is_file():
            raise FileNotFoundError(f"{p}: no such notebook; give a path like chapters/01-tokenization.ipynb")
        chapter = book.by_notebook(p)
        seconds = execute(p, book)
        budget = f" (budget {chapter.budget_minutes:g} min)" if chapter and chapter.budget_minutes else ""
        print(f"executed {_rel(p, book)} in {seconds:.0f} s{budget}", flush=True)
    return 0
