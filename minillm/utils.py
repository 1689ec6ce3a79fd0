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


class PeakMemory:
    """Measure the memory that tensor operations allocate inside a ``with`` block.

    ``with PeakMemory() as mem: f(x)`` counts the bytes of every new tensor storage an operation
    creates (views and in-place results share their input's storage and add nothing), and
    subtracts them again when the storage is freed. Afterwards ``mem.peak`` is the largest number
    of bytes alive at once and ``mem.live`` what is still alive (e.g. the result). Inputs that
    existed before the block are not counted. Works on any device, through PyTorch's dispatcher;
    memory a fused kernel uses internally, without creating tensors, is invisible to it.
    Chapter 2 uses it to measure attention's ``T x T`` matrices.
    """

    def __init__(self) -> None:
        self.live = 0
        self.peak = 0
        self._sizes: dict[int, int] = {}
        self._mode = None

    def _free(self, key: int) -> None:
        self.live -= self._sizes.pop(key, 0)

    def _record(self, inputs: set, out) -> None:
        import weakref

        from torch.utils._pytree import tree_flatten

        for t in tree_flatten(out)[0]:
            if not isinstance(t, torch.Tensor):
                continue
            storage = t.untyped_storage()
            key, nbytes = storage.data_ptr(), storage.nbytes()
            if nbytes == 0 or key in inputs or key in self._sizes:
                continue
            self._sizes[key] = nbytes
            self.live += nbytes
            self.peak = max(self.peak, self.live)
            weakref.finalize(storage, self._free, key)

    def __enter__(self) -> PeakMemory:
        from torch.utils._python_dispatch import TorchDispatchMode
        from torch.utils._pytree import tree_flatten

        tracker = self

        class _Mode(TorchDispatchMode):
            def __torch_dispatch__(self, func, types, args=(), kwargs=None):
                out = func(*args, **(kwargs or {}))
                inputs = {a.untyped_storage().data_ptr() for a in tree_flatten((args, kwargs))[0]
                          if isinstance(a, torch.Tensor)}
                tracker._record(inputs, out)
                return out

        self.live = self.peak = 0
        self._sizes = {}
        self._mode = _Mode()
        self._mode.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self._mode.__exit__(*exc)
        self._mode = None
