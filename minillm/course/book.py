"""The course manifest, ``book.yml``: load it, validate it, and answer questions about it.

Every error names the entry at fault and says how to fix it. Chapter 0 and the README
explain the manifest; ``minillm check-book`` runs the full validation.
"""

from __future__ import annotations

import importlib
import math
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .exercises import exercise_notebook_text

REQUIRED = {
    "id": str,
    "number": (int, str),
    "title": str,
    "stage": str,
    "chapter": str,
    "exercises": str,
    "solutions": str,
    "modules": list,
    "objectives": list,
    "budget_minutes": (int, float),
}
PLANNED_REQUIRED = {"id": str, "number": (int, str), "title": str, "stage": str}
OPTIONAL = {"status": str, "summary": str}


class BookError(ValueError):
    """``book.yml`` is malformed; the message names the entry and the fix."""


@dataclass
class Chapter:
    """One entry of ``book.yml``."""

    id: str
    number: int | str
    title: str
    stage: str
    status: str = "ready"
    chapter: str | None = None
    exercises: str | None = None
    solutions: str | None = None
    modules: list[str] = field(default_factory=list)
    objectives: list[str] = field(default_factory=list)
    budget_minutes: float | None = None
    summary: str | None = None

    @property
    def ready(self) -> bool:
        return self.status == "ready"

    @property
    def label(self) -> str:
        """``"Chapter 3"`` or ``"Appendix A"``."""
        return f"Appendix {self.number}" if isinstance(self.number, str) else f"Chapter {self.number}"


@dataclass
class Book:
    title: str
    stages: list[dict]
    chapters: list[Chapter]
    root: Path

    def ready(self) -> list[Chapter]:
        """Chapters that exist (not ``status: planned``), in book order."""
        return [c for c in self.chapters if c.ready]

    def by_notebook(self, path: str | Path) -> Chapter | None:
        """The chapter whose chapter, exercises or solutions notebook is ``path``."""
        name = Path(path).name
        for c in self.ready():
            if name in {Path(p).name for p in (c.chapter, c.exercises, c.solutions)}:
                return c
        return None


def _type_name(t) -> str:
    if isinstance(t, tuple):
        return " or ".join(x.__name__ for x in t)
    return t.__name__


def _entry_name(i: int, entry) -> str:
    if isinstance(entry, dict) and isinstance(entry.get("id"), str):
        return f"chapter {entry['id']!r} (entry {i + 1})"
    return f"chapter entry {i + 1}"


def parse_book(data, root: str | Path = ".", source: str = "book.yml") -> Book:
    """Check the structure of an already-loaded manifest (no file system access)."""
    if not isinstance(data, dict):
        raise BookError(f"{source}: the top level must be a mapping with 'title' and 'chapters'")
    for key in ("title", "chapters"):
        if key not in data:
            raise BookError(f"{source}: missing top-level key {key!r}; add it (see the comment at the top of book.yml)")
    if not isinstance(data["title"], str) or not data["title"].strip():
        raise BookError(f"{source}: 'title' is {data['title']!r}; it must be the course's title, a string")
    stages = data.get("stages") or []
    if not isinstance(stages, list) or not all(isinstance(s, dict) and "id" in s and "title" in s for s in stages):
        raise BookError(f"{source}: 'stages' must be a list of {{id, title}} mappings")
    stage_ids = [s["id"] for s in stages]
    entries = data["chapters"]
    if not isinstance(entries, list) or not entries:
        raise BookError(f"{source}: 'chapters' must be a non-empty list of chapter entries")

    chapters: list[Chapter] = []
    seen_ids: dict[str, str] = {}
    seen_numbers: dict[str, str] = {}
    for i, entry in enumerate(entries):
        name = _entry_name(i, entry)
        if not isinstance(entry, dict):
            raise BookError(f"{source}: {name} must be a mapping of keys, got {type(entry).__name__}")
        status = entry.get("status", "ready")
        if status not in ("ready", "planned"):
            raise BookError(f"{source}: {name} has status {status!r}; use 'ready' or 'planned'")
        required = REQUIRED if status == "ready" else PLANNED_REQUIRED
        for key, typ in required.items():
            if key not in entry:
                raise BookError(
                    f"{source}: {name} is missing the key {key!r} ({_type_name(typ)}); add it"
                    + ("" if status == "planned" else ", or mark the chapter 'status: planned'")
                )
            value = entry[key]
            if isinstance(value, bool) or not isinstance(value, typ):
                raise BookError(
                    f"{source}: {name} has {key}: {value!r} of type {type(value).__name__}; "
                    f"it must be {_type_name(typ)}"
                )
        allowed = set(REQUIRED) | set(OPTIONAL)
        unknown = sorted(set(entry) - allowed)
        if unknown:
            raise BookError(f"{source}: {name} has unknown key(s) {unknown}; allowed keys are {sorted(allowed)}")
        if status == "ready":
            for key in ("modules", "objectives"):
                if not entry[key] or not all(isinstance(x, str) for x in entry[key]):
                    raise BookError(f"{source}: {name}: {key!r} must be a non-empty list of strings")
            if not math.isfinite(entry["budget_minutes"]) or entry["budget_minutes"] <= 0:
                raise BookError(f"{source}: {name}: budget_minutes must be positive, got {entry['budget_minutes']}")
        cid = entry["id"]
        if cid in seen_ids:
            raise BookError(f"{source}: duplicate id {cid!r} in {name} and {seen_ids[cid]}; give each chapter its own id")
        seen_ids[cid] = name
        num = str(entry["number"])
        if num in seen_numbers:
            raise BookError(f"{source}: {name} reuses number {num} of {seen_numbers[num]}; numbers must be unique")
        seen_numbers[num] = name
        if stage_ids and entry["stage"] not in stage_ids:
            raise BookError(f"{source}: {name} has stage {entry['stage']!r}; use one of {stage_ids}")
        chapters.append(Chapter(**entry))

    # Notebook paths: folder and file name conventions.
    for c in chapters:
        if not c.ready:
            continue
        for key, folder in (("chapter", "chapters"), ("exercises", "exercises"), ("solutions", "solutions")):
            p = Path(getattr(c, key))
            if p.parent.as_posix() != folder or p.suffix != ".ipynb":
                raise BookError(
                    f"{source}: chapter {c.id!r}: {key} is {p.as_posix()!r}; it must be a notebook in {folder}/"
                )
        names = {Path(c.chapter).name, Path(c.exercises).name, Path(c.solutions).name}
        if len(names) != 1:
            raise BookError(
                f"{source}: chapter {c.id!r}: chapter, exercises and solutions must share one file name "
                f"(e.g. NN-slug.ipynb), got {sorted(names)}"
            )
    return Book(title=data["title"], stages=stages, chapters=chapters, root=Path(root))


def validate_files(book: Book, source: str = "book.yml", check_sync: bool = True) -> None:
    """Check that every path exists, every module imports and the exercises are in sync."""
    for c in book.ready():
        for key in ("chapter", "exercises", "solutions"):
            path = book.root / getattr(c, key)
            if not path.is_file():
                hint = "run `make exercises`" if key == "exercises" else "create it or fix the path"
                raise BookError(f"{source}: chapter {c.id!r}: {key} file {getattr(c, key)!r} does not exist; {hint}")
        for mod in c.modules:
            try:
                importlib.import_module(mod)
            except ImportError as exc:
                raise BookError(
                    f"{source}: chapter {c.id!r} lists module {mod!r}, which does not import ({exc}); "
                    "fix the name or add the module to minillm/"
                ) from exc
        if check_sync:
            expected = exercise_notebook_text(book.root / c.solutions, number=c.number)
            actual = (book.root / c.exercises).read_text(encoding="utf-8", errors="replace")
            if expected != actual:
                raise BookError(
                    f"{source}: chapter {c.id!r}: {c.exercises} is out of date with {c.solutions}; "
                    "run `make exercises` and commit the result"
                )
    # Notebooks on disk that the manifest does not know.
    known = {Path(getattr(c, k)).name for c in book.ready() for k in ("chapter", "exercises", "solutions")}
    for folder in ("chapters", "exercises", "solutions"):
        for nb in sorted((book.root / folder).glob("*.ipynb")):
            if nb.name not in known:
                raise BookError(
                    f"{source}: {folder}/{nb.name} is not listed in book.yml; add a chapter entry for it or delete it"
                )


def load_book(path: str | Path = "book.yml", check_files: bool = False) -> Book:
    """Read and validate ``book.yml``. With ``check_files``, also check paths, modules and exercises."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found; run from the repository root or pass the manifest's path")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise BookError(f"{path}: not a YAML manifest (the file holds binary data, not text)") from None
    except yaml.YAMLError as exc:
        raise BookError(f"{path}: not valid YAML: {' '.join(str(exc).split())}") from exc
    book = parse_book(data, root=path.parent, source=str(path))
    if check_files:
        validate_files(book, source=str(path))
    return book



def stage_title(book: Book, stage: str) -> str:
    return next((s["title"] for s in book.stages if s["id"] == stage), stage)


def course_map_markdown(book: Book, link=lambda c: c.chapter) -> str:
    """The course map as a markdown table: one row per chapter, linked where it exists."""
    rows = ["| | Chapter | Stage | Status |", "|---|---|---|---|"]
    for c in book.chapters:
        title = f"[{c.title}]({link(c)})" if c.ready else c.title
        status = f"ready (CPU budget: {c.budget_minutes:g} min)" if c.ready else "planned"
        rows.append(f"| {c.number} | {title} | {stage_title(book, c.stage)} | {status} |")
    return "\n".join(rows)


MAP_START, MAP_END = "<!-- course-map: generated from book.yml by `make exercises` -->", "<!-- end of course-map -->"


def sync_readme(book: Book, readme: str | Path, check: bool = False) -> bool:
    """Write the course map from ``book`` into the README between its markers.

    Returns True when the README was (or, with ``check``, would be) changed.
    """
    readme = Path(readme)
    text = readme.read_text(encoding="utf-8")
    if MAP_START not in text or MAP_END not in text:
        raise BookError(f"{readme} has no course-map markers; put {MAP_START!r} and {MAP_END!r} where the map goes")
    head, rest = text.split(MAP_START, 1)
    _, tail = rest.split(MAP_END, 1)
    new = f"{head}{MAP_START}\n{course_map_markdown(book)}\n{MAP_END}{tail}"
    if new == text:
        return False
    if not check:
        readme.write_text(new, encoding="utf-8")
    return True


def find_root(start: str | Path | None = None) -> Path:
    """The repository root: the nearest folder upwards that holds ``book.yml``."""
    here = Path(start or Path.cwd()).resolve()
    for p in (here, *here.parents):
        if (p / "book.yml").is_file():
            return p
    raise FileNotFoundError(f"no book.yml in {here} or above; run from inside the minillm repository")


def exercise_numbers(book: Book) -> dict[str, int | str]:
    """Solutions file name -> chapter number, for :func:`minillm.course.exercises.generate_all`."""
    return {Path(c.solutions).name: c.number for c in book.ready()}
