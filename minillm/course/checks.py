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
