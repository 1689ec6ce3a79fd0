"""Checks that exercise notebooks call after each exercise.

Each check raises ``AssertionError`` with a sentence that tells the learner what is wrong
and, where it can, how to fix it. Teachers grade with ``pytest --nbval-lax`` over the
learners' notebooks: a failing check fails that cell.
"""

from __future__ import annotations

import math


def check(condition: bool, message: str) -> None:
    """Fail with ``message`` unless ``condition`` holds."""
    if not condition:
        raise AssertionError(message)


def check_close(actual, expected, what: str, rtol: float = 1e-5, atol: float = 1e-6) -> None:
    """Compare numbers, numpy arrays or torch tensors, and say which value is off and by how much."""
    import numpy as np

    a = np.asarray(actual.detach().cpu() if hasattr(actual, "detach") else actual, dtype=float)
    e = np.asarray(expected.detach().cpu() if hasattr(expected, "detach") else expected, dtype=float)
    if a.shape != e.shape:
        raise AssertionError(f"{what} has shape {a.shape}, expected {e.shape}")
    off = ~np.isclose(a, e, rtol=rtol, atol=atol, equal_nan=False)
    if off.any():
        # Report the worst value that is off; a NaN counts as worse than any number.
        diff = np.where(off, np.nan_to_num(np.abs(a - e), nan=np.inf), -1.0)
        idx = np.unravel_index(int(np.argmax(diff)), diff.shape) if diff.ndim else ()
        raise AssertionError(
            f"{what} is off: at index {tuple(int(i) for i in idx)} you have {a[idx]:.6g}, "
            f"expected {e[idx]:.6g} (tolerance {atol} + {rtol} x |expected|)"
        )


def check_probabilities(p, what: str = "your probabilities", axis: int = -1) -> None:
    """Check that ``p`` is non-negative and sums to 1 along ``axis``."""
    import numpy as np

    a = np.asarray(p.detach().cpu() if hasattr(p, "detach") else p, dtype=float)
    check(bool(np.all(np.isfinite(a))), f"{what} contain NaN or infinity")
    check(bool(np.all(a >= 0)), f"{what} contain negative values (min {a.min():.3g}); did you forget the softmax or the normalisation?")
    sums = a.sum(axis=axis)
    check(
        bool(np.allclose(sums, 1.0, atol=1e-4)),
        f"{what} do not sum to 1 along axis {axis} (sums range from {sums.min():.4g} to {sums.max():.4g}); normalise along that axis",
    )


def check_finite(x: float, what: str) -> None:
    check(isinstance(x, (int, float)) and math.isfinite(x), f"{what} should be a finite number, got {x!r}")


class _Forbidden(AssertionError):
    """Raised when a learner's function calls a library function it was asked to write itself."""


def _owner_of(obj):
    """The (owner, attribute name) through which ``obj`` is reached: its module, or its class."""
    import sys

    func = getattr(obj, "__func__", obj)  # a classmethod reached through its class is a bound method
    module = sys.modules.get(getattr(func, "__module__", None) or "")
    parts = getattr(func, "__qualname__", getattr(func, "__name__", "")).split(".")
    owner = module
    for part in parts[:-1]:
        owner = getattr(owner, part, None)
    if owner is None or "<locals>" in parts:
        return None
    found = getattr(owner, parts[-1], None)
    if found is not obj and getattr(found, "__func__", found) is not func:
        return None
    return owner, parts[-1]


def own_work(fn, *library, what: str | None = None):
    """Wrap a learner's ``fn`` so that calling it with the library's own version of it fails.

    ``library`` lists the functions (or methods, given as ``Class.method``) the exercise asks the
    learner to write, not to call. The returned function calls ``fn`` while each of them is
    replaced, in its module or class and in ``fn``'s globals, by one that raises ``AssertionError``
    ("... calls minillm.tokenizer.merge_pair, the library's own ..."). Passing the library function
    itself as ``fn`` fails at once. Use it in check cells: ``mine = own_work(merge, merge_pair)``.
    """
    name = what or f"your {getattr(fn, '__name__', 'function')}"
    if not callable(fn):
        raise AssertionError(f"{name} should be a function, got {type(fn).__name__}")
    for lib in library:
        if fn is lib or getattr(fn, "__func__", fn) is getattr(lib, "__func__", lib):
            raise AssertionError(
                f"{name} is the library's own {lib.__module__}.{lib.__qualname__}; write your own version"
            )

    def wrapped(*args, **kwargs):
        patches = []  # (owner-or-dict, key, original)

        def raiser(lib):
            def forbidden(*a, **k):
                raise _Forbidden(
                    f"{name} calls {lib.__module__}.{lib.__qualname__}, the library's own version of what "
                    "the exercise asks you to write; write it yourself"
                )
            return forbidden

        glb = getattr(getattr(fn, "__func__", fn), "__globals__", {})
        for lib in library:
            stand_in = raiser(lib)
            where = _owner_of(lib)
            if where is not None:
                owner, attr = where
                # a class keeps the raw descriptor (classmethod, staticmethod) to put back
                original = vars(owner)[attr] if isinstance(owner, type) and attr in vars(owner) else getattr(owner, attr)
                patches.append((owner, attr, original))
                setattr(owner, attr, stand_in)
            for key, value in list(glb.items()):
                if value is lib:
                    patches.append((glb, key, value))
                    glb[key] = stand_in
            for cell in getattr(getattr(fn, "__func__", fn), "__closure__", None) or ():
                try:
                    if cell.cell_contents is lib:
                        patches.append((cell, "cell_contents", lib))
                        cell.cell_contents = stand_in
                except ValueError:  # an empty cell
                    pass
        try:
            return fn(*args, **kwargs)
        finally:
            for owner, key, original in reversed(patches):
                if isinstance(owner, dict):
                    owner[key] = original
                else:
                    setattr(owner, key, original)

    wrapped.__name__ = getattr(fn, "__name__", "wrapped")
    return wrapped


def check_prediction(prediction, measured: float, what: str, rel: float | None = None,
                     abs_tol: float | None = None) -> None:
    """Compare a learner's written prediction with the measurement; fail if none was written.

    ``prediction`` must be a number (not ``None`` or ``...``). The check fails when it is further
    from ``measured`` than ``rel`` (a fraction of ``measured``) or ``abs_tol``; give neither to only
    require a number. The message shows both numbers, so the learner sees how far off the guess was.
    """
    check(isinstance(prediction, (int, float)) and not isinstance(prediction, bool) and math.isfinite(prediction),
          f"write your prediction for {what} as a number before running the check (got {prediction!r})")
    tol = None
    if rel is not None:
        tol = rel * abs(measured)
    if abs_tol is not None:
        tol = max(tol or 0.0, abs_tol)
    if tol is not None:
        check(abs(prediction - measured) <= tol,
              f"you predicted {prediction:.4g} for {what}, the measurement is {measured:.4g}: more than {tol:.3g} "
              "away. Work out why before moving on; then correct your prediction")


def _names_used(code) -> set[str]:
    """Every global, attribute and method name a code object (and the functions inside it) uses."""
    names = set(code.co_names)
    for const in code.co_consts:
        if hasattr(const, "co_names"):
            names |= _names_used(const)
    return names


def check_own_code(fn, forbidden: dict, exercise: str) -> None:
    """Fail if ``fn`` is, or calls by name, one of the library functions it should replace.

    ``forbidden`` maps names to the library objects (``{"split_heads": split_heads}``). A learner
    who passes the reference off as their answer (``split = split_heads``) or only wraps it
    (``return split_heads(x, h)``, ``F.scaled_dot_product_attention(...)``) is told to write it.
    """
    check(callable(fn), f"{exercise}: expected a function, got {type(fn).__name__}")
    for name, obj in forbidden.items():
        check(fn is not obj, f"{exercise}: your function is the library's own {name}; write it yourself")
    code = getattr(fn, "__code__", None)
    check(code is not None, f"{exercise}: write your answer as a Python function (def ...), not {fn!r}")
    used = sorted(_names_used(code) & set(forbidden))
    check(not used, f"{exercise}: your code calls {', '.join(used)}, the library's answer to this exercise; "
                    "write the computation yourself")
