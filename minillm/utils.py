"""Small helpers every chapter uses: device choice, seeding, atomic files, the cache folder,
and the checks that turn a user's bad input into a clear error.

Chapter 0 introduces them; nothing here imports more than torch, numpy and the standard library.

Rules for bad input
-------------------

Every module of minillm follows them; new modules too.

1. Check a value where it enters -- at the top of the public function, in a config
   dataclass's ``__post_init__``, in the loader of a file -- before any work, download or
   allocation. Never let it reach torch, numpy or a comparison deep inside.
2. The message names the argument or field (``TrainConfig.lr``, ``top_k``, ``--steps``,
   ``runs/x/run.json: train.steps``), shows the bad value with ``!r``, says what was expected
   and, where there is one, how to fix it. One line: the command line prints it as is.
3. A wrong type raises :class:`InputTypeError` (a ``TypeError`` that is also a
   ``ValueError``); a wrong value -- out of range, NaN, infinity, an unknown choice --
   ``ValueError``; a missing file ``FileNotFoundError``. ``True`` is not an int here, a
   string is never a number, NaN and infinity are never valid unless a field says so.
4. Files: read JSON with :func:`read_json` (binary, truncated or wrong-type files name the
   file); check each field's type and name it as ``file: field``; safetensors and
   ``torch.load(weights_only=True)`` only; say which file is damaged and how to remake it.
5. Sizes: before allocating something that grows with a user's number (a vocabulary, a
   context, a batch), estimate its bytes and call :func:`check_memory`.
6. Devices go through :func:`device` (it names the devices there are); output folders through
   :func:`check_output_dir` before any training starts.
7. Nothing is clipped or ignored silently: an option that does not apply raises, an option
   whose value means "no limit" says so in its docstring.
8. Never overwrite a user's work (a finished run, an edited notebook) without an explicit
   ``overwrite``/``--force``; say what was skipped. Remove your own temporary files
   (:func:`remove_stale_temporaries`) on the next run.
9. Command line: use :func:`positive_int`, :func:`nonnegative_int`, :func:`positive_float`,
   ... as argparse ``type=``; ``minillm.cli.main`` turns ``ValueError``, ``TypeError`` and
   ``OSError`` into one line on stderr and exit status 2.
10. Test each bad input (``tests/test_bad_input.py``): the exception type and that the
   message names the input.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch


def device(prefer: str | None = None) -> torch.device:
    """Pick where tensors live: ``cuda`` if available, then ``mps``, then ``cpu``.

    ``prefer`` (or the ``MINILLM_DEVICE`` environment variable) forces a choice, e.g. ``"cpu"``.
    """
    choice = prefer or os.environ.get("MINILLM_DEVICE")
    if choice:
        where = "" if prefer else " (from MINILLM_DEVICE)"
        if not isinstance(choice, (str, torch.device)):
            raise InputTypeError(f"device must be a str such as 'cpu' or 'cuda', or a torch.device, "
                                 f"got {choice!r}")
        there = ", ".join(map(repr, available_devices()))
        try:
            dev = torch.device(choice)
        except (RuntimeError, ValueError):
            raise ValueError(f"device {str(choice)!r}{where} is not a device name; "
                             f"this machine has {there}") from None
        if dev.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(
                f"device {str(choice)!r}{where} was asked for, but torch sees no CUDA GPU; this "
                f"machine has {there}: use device('cpu') or unset MINILLM_DEVICE"
            )
        if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(f"device {str(choice)!r}{where} does not exist: this machine has {there}")
        mps = getattr(torch.backends, "mps", None)
        if dev.type == "mps" and not (mps is not None and mps.is_available()):
            raise ValueError(
                f"device {str(choice)!r}{where} was asked for, but torch sees no Apple GPU (MPS); "
                f"this machine has {there}: use device('cpu') or unset MINILLM_DEVICE"
            )
        if dev.type not in ("cpu", "cuda", "mps"):
            raise ValueError(f"device {str(choice)!r}{where} is not supported by minillm; "
                             f"this machine has {there}")
        return dev
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def available_devices() -> list[str]:
    """The devices torch can use here: ``["cpu"]``, plus ``"cuda:0"``... and ``"mps"`` if present."""
    out = ["cpu"]
    if torch.cuda.is_available():
        out += [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        out.append("mps")
    return out


def seed_everything(seed: int = 0) -> None:
    """Seed Python's, numpy's and torch's random generators so a run repeats exactly."""
    seed = check_int("seed", seed, 0, 2**63 - 1)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "wb") -> Iterator:
    """Open a temporary file next to ``path``; on success rename it over ``path``.

    A crash half-way leaves the old file (or nothing) in place, never a truncated one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600 files; give the usual permissions
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def cache_dir() -> Path:
    """The folder for downloads and cached models: ``$MINILLM_CACHE`` or ``~/.cache/minillm``."""
    root = Path(os.environ.get("MINILLM_CACHE", Path.home() / ".cache" / "minillm")).expanduser()
    root.mkdir(parents=True, exist_ok=True)
    return root


# --- checking what a user passes in ------------------------------------------------------------
# The rules every module follows are in this module's docstring ("Rules for bad input").


class InputTypeError(TypeError, ValueError):
    """An argument has the wrong type (``"8"`` or ``8.0`` where an int is expected).

    It is both a ``TypeError`` and a ``ValueError``, so code that catches either catches it.
    """


def _is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def check_int(name: str, value, minimum: int | None = None, maximum: int | None = None, *,
              allow_none: bool = False) -> int | None:
    """``value`` as an int, or an error naming ``name``: ``check_int("batch_size", b, 1)``.

    Rejects bools, floats (even ``8.0``) and strings with :class:`InputTypeError`, and values
    below ``minimum`` or above ``maximum`` with ``ValueError``. ``allow_none`` lets ``None`` through.
    """
    if value is None and allow_none:
        return None
    if not _is_int(value):
        hint = " (None is allowed)" if allow_none else ""
        raise InputTypeError(f"{name} must be an int{hint}, got {value!r} of type {type(value).__name__}")
    value = int(value)
    if minimum is not None and value < minimum:
        want = {1: "a positive int", 0: "a non-negative int"}.get(minimum, f"an int >= {minimum}")
        raise ValueError(f"{name} must be {want}, got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be <= {maximum}, got {value}")
    return value


def check_float(name: str, value, minimum: float | None = None, maximum: float | None = None, *,
                allow_none: bool = False, exclusive_minimum: bool = False,
                exclusive_maximum: bool = False) -> float | None:
    """``value`` as a finite float, or an error naming ``name``: ``check_float("lr", lr, 0, exclusive_minimum=True)``.

    Ints are fine; bools and strings raise :class:`InputTypeError`; NaN and infinity raise
    ``ValueError``, as do values outside ``[minimum, maximum]`` (open ends with ``exclusive_*``).
    """
    if value is None and allow_none:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        hint = " (None is allowed)" if allow_none else ""
        raise InputTypeError(f"{name} must be a number{hint}, got {value!r} of type {type(value).__name__}")
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    if minimum is not None and (value <= minimum if exclusive_minimum else value < minimum):
        raise ValueError(f"{name} must be {'>' if exclusive_minimum else '>='} {minimum:g}, got {value!r}")
    if maximum is not None and (value >= maximum if exclusive_maximum else value > maximum):
        raise ValueError(f"{name} must be {'<' if exclusive_maximum else '<='} {maximum:g}, got {value!r}")
    return value


def check_finite_float(name: str, value, **kwargs) -> float | None:
    """The same as :func:`check_float` (kept for the name the other modules use)."""
    return check_float(name, value, **kwargs)


def check_bool(name: str, value) -> bool:
    """``value`` if it is a bool (numpy's too), else :class:`InputTypeError` naming ``name``."""
    if not isinstance(value, (bool, np.bool_)):
        raise InputTypeError(f"{name} must be True or False, got {value!r} of type {type(value).__name__}")
    return bool(value)


def check_items(name: str, value, cls: type, what: str) -> list:
    """``value`` as a list whose every item is a ``cls``, else :class:`InputTypeError` naming
    ``name`` (or ``name[i]``). ``what`` describes one item for the message, e.g.
    ``"a PreferencePair"`` or ``"an ArithmeticProblem (make_problems)"``. A str, bytes or dict is
    refused as a whole (iterating one would give characters or keys)."""
    if isinstance(value, (str, bytes, dict)) or not hasattr(value, "__iter__"):
        raise InputTypeError(f"{name} must be a list of items, each {what}; got {type(value).__name__} "
                             f"{value!r:.40}")
    items = list(value)
    for i, x in enumerate(items):
        if not isinstance(x, cls):
            raise InputTypeError(f"{name}[{i}] must be {what}, got {type(x).__name__} {x!r:.40}")
    return items


def check_choice(name: str, value, choices) -> object:
    """``value`` if it is one of ``choices``, else ``ValueError`` listing them."""
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}, got {value!r}")
    return value


def memory_bytes() -> int | None:
    """The machine's physical memory in bytes (``None`` where the OS does not say)."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):  # pragma: no cover - Windows
        return None


def format_bytes(n: float) -> str:
    """``1536`` -> ``'1.5 KB'``; for messages about sizes."""
    for unit in ("bytes", "KB", "MB", "GB", "TB", "PB"):
        if abs(n) < 1024 or unit == "PB":
            return f"{n:,.0f} {unit}" if unit == "bytes" else f"{n:,.1f} {unit}"
        n /= 1024
    return f"{n:.1f} PB"  # pragma: no cover


def check_memory(nbytes: float, what: str, device=None) -> None:
    """Raise ``ValueError`` if ``what`` would need more than the memory there is.

    ``nbytes`` is an estimate made *before* allocating; ``device`` picks a GPU's memory
    instead of the machine's. The message gives both sizes, so the user sees how far off it is.
    """
    total = None
    try:
        dev = torch.device(device) if device is not None else None
    except (RuntimeError, TypeError, ValueError):  # not a device: the caller's own check says so
        dev = None
    if dev is not None and dev.type == "cuda" and torch.cuda.is_available():
        total = torch.cuda.get_device_properties(dev.index or 0).total_memory
        where = f"the GPU ({dev})"
    else:
        total = memory_bytes()
        where = "this machine"
    if total is not None and nbytes > total:
        raise ValueError(f"{what} would need about {format_bytes(nbytes)} of memory, but {where} "
                         f"has {format_bytes(total)}; choose smaller sizes")


def check_output_dir(path, what: str = "the output folder") -> Path:
    """Check, before any work, that ``path`` can be a folder we write into; return it as a Path.

    Raises ``NotADirectoryError`` if it (or a parent) is a file and ``PermissionError`` if it
    cannot be written. Creates nothing: the first write creates the folder.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise InputTypeError(f"{what} must be a path (str or Path), got {path!r}")
    path = Path(path)
    for p in (path, *path.parents):
        if p.exists():
            if not p.is_dir():
                raise NotADirectoryError(
                    f"{what} {str(path)!r} cannot be created: {str(p)!r} is a file, not a folder; "
                    "choose another path")
            if not os.access(p, os.W_OK | os.X_OK):
                raise PermissionError(f"{what} {str(path)!r} is not writable ({str(p)!r} does not "
                                      "allow writing); choose a folder you own")
            break
    return path


def read_json(path, expected: type | tuple = dict, what: str | None = None):
    """Read a JSON file; every failure names the file and what was expected.

    Missing -> ``FileNotFoundError``; binary, truncated or not JSON -> ``ValueError``; a top
    level that is not ``expected`` (e.g. a list where an object is expected) -> ``ValueError``.
    """
    path = Path(path)
    what = what or "a JSON file"
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found ({what})")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise ValueError(f"{path} is not text (it holds binary data), so it is not {what}; "
                         "the file is damaged or the wrong file") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path} is not valid JSON ({exc}); it is truncated or damaged, so it is "
                         f"not {what}") from None
    if not isinstance(data, expected):
        names = expected.__name__ if isinstance(expected, type) else " or ".join(t.__name__ for t in expected)
        kinds = {"dict": "a JSON object {...}", "list": "a JSON array [...]"}
        raise ValueError(f"{path} holds a JSON {type(data).__name__}, but {what} must be "
                         f"{kinds.get(names, names)}")
    return data


def remove_stale_temporaries(folder, name: str | None = None, min_age_s: float = 0.0) -> list[Path]:
    """Delete the ``.NAME.*.tmp`` files an interrupted :func:`atomic_write` left in ``folder``.

    ``name=None`` removes every such file. Call it when a run starts or resumes (one process
    per folder writes there); where another process may be writing the same file right now (a
    shared cache), pass ``min_age_s`` so that only old leftovers go. Returns what was removed.
    """
    import time

    folder = Path(folder)
    if not folder.is_dir():
        return []
    removed = []
    now = time.time()
    for p in folder.glob(f".{name}.*.tmp" if name else ".*.tmp"):
        with contextlib.suppress(OSError):
            if min_age_s and now - p.stat().st_mtime < min_age_s:
                continue
        if p.is_file():
            with contextlib.suppress(OSError):
                p.unlink()
                removed.append(p)
    return removed


# argparse ``type=`` validators: each raises argparse.ArgumentTypeError, which argparse turns into
# "argument --steps: ..." and exit status 2.


def _arg(convert, check, kind):
    import argparse

    def parse(text: str):
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {kind}") from None
        try:
            return check(value)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(f"{text!r} is not {kind} ({exc})") from None

    parse.__name__ = kind.replace(" ", "_")
    return parse


positive_int = _arg(int, lambda v: check_int("the value", v, 1), "a positive integer")
nonnegative_int = _arg(int, lambda v: check_int("the value", v, 0), "an integer >= 0")
positive_float = _arg(float, lambda v: check_float("the value", v, 0, exclusive_minimum=True),
                      "a positive number")
nonnegative_float = _arg(float, lambda v: check_float("the value", v, 0), "a number >= 0")
