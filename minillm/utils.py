"""Small helpers every chapter uses: device choice, seeding, atomic files, the cache folder.

Chapter 0 introduces them; nothing here imports more than torch, numpy and the standard library.
"""

from __future__ import annotations

import contextlib
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
        dev = torch.device(choice)
        if dev.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(
                f"device {choice!r} was asked for, but torch sees no CUDA GPU; "
                "use device('cpu') or unset MINILLM_DEVICE"
            )
        mps = getattr(torch.backends, "mps", None)
        if dev.type == "mps" and not (mps is not None and mps.is_available()):
            raise ValueError(
                f"device {choice!r} was asked for, but torch sees no Apple GPU (MPS); "
                "use device('cpu') or unset MINILLM_DEVICE"
            )
        return dev
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def seed_everything(seed: int = 0) -> None:
    """Seed Python's, numpy's and torch's random generators so a run repeats exactly."""
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
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
