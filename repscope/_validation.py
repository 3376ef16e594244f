"""One error grammar for every public function.

Every message names the argument, the function, what was expected and what arrived::

    The 'x' argument of effective_rank must be a 2-D or 3-D array of shape
    (n_samples, n_features) or (batch, n_samples, n_features); got shape (3,).

Wrong *types* raise :class:`TypeError`, wrong *values* raise :class:`ValueError`.
"""

from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Iterable
from typing import Any, NoReturn


class RepscopeWarning(UserWarning):
    """Base class of the warnings repscope emits (an error in repscope's own tests)."""


class DegenerateInputWarning(RepscopeWarning):
    """Degenerate input (zero variance, too short a spectrum): a documented fallback ran."""


def describe(value: Any) -> str:
    """A short description of a value for an error message."""
    shape = getattr(value, "shape", None)
    if shape is not None and not isinstance(value, numbers.Number):
        return f"{type(value).__name__} of shape {tuple(shape)}"
    if not isinstance(value, (str, bytes, numbers.Number, tuple, list, dict, set, type(None))):
        return f"a {type(value).__name__} object"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def fail(
    name: str, func: str, expected: str, got: str, *, error: type[Exception] = ValueError
) -> NoReturn:
    """Raise ``error`` in the house grammar."""
    raise error(f"The '{name}' argument of {func} must be {expected}; got {got}.")


def warn(message: str, *, category: type[Warning] = DegenerateInputWarning, stacklevel: int = 3):
    warnings.warn(message, category, stacklevel=stacklevel)


def check_option(value: Any, *, name: str, func: str, options: Iterable[str]) -> str:
    """Check that ``value`` is one of a closed set of string options."""
    options = tuple(options)
    if not isinstance(value, str) or value not in options:
        fail(name, func, "one of " + ", ".join(repr(o) for o in options), describe(value))
    return value


def check_real(
    value: Any,
    *,
    name: str,
    func: str,
    low: float | None = None,
    high: float | None = None,
    low_inclusive: bool = True,
    high_inclusive: bool = True,
) -> float:
    """Check that ``value`` is a finite real number in a range; return it as a float."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        fail(name, func, "a real number", describe(value), error=TypeError)
    value = float(value)
    bounds = []
    if low is not None:
        bounds.append(f"{'>=' if low_inclusive else '>'} {low:g}")
    if high is not None:
        bounds.append(f"{'<=' if high_inclusive else '<'} {high:g}")
    expected = "a finite real number" + (" " + " and ".join(bounds) if bounds else "")
    bad = not math.isfinite(value)
    if low is not None:
        bad |= value < low if low_inclusive else value <= low
    if high is not None:
        bad |= value > high if high_inclusive else value >= high
    if bad:
        fail(name, func, expected, repr(value))
    return value


def check_int(
    value: Any, *, name: str, func: str, low: int | None = None, high: int | None = None
) -> int:
    """Check that ``value`` is an integer in ``[low, high]``; return it as an int."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        fail(name, func, "an integer", describe(value), error=TypeError)
    value = int(value)
    if (low is not None and value < low) or (high is not None and value > high):
        if high is None:
            expected = f"an integer >= {low}"
        elif low is None:
            expected = f"an integer <= {high}"
        else:
            expected = f"an integer in [{low}, {high}]"
        fail(name, func, expected, repr(value))
    return value
