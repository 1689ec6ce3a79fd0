"""Measuring what a computation costs: the memory its tensors take (chapter 2).

A leaf of the core: it imports only torch and the standard library.
"""

from __future__ import annotations

import torch


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

        if self._mode is not None:
            raise RuntimeError("this PeakMemory is already measuring (nested `with` on the same object); "
                               "use a second PeakMemory() for the inner block")
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
