"""Small argument checks shared by the dataset loaders and the simulator.

Messages follow scikit-learn's wording: "The 'n_samples' parameter of make_hospitals must
be an int in [1, inf). Got 0 instead." Errors are :class:`DataValidationError`, which is
also a ``ValueError``.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np

from fairmtl.exceptions import DataValidationError

MSG_INVALID_PARAM = "The {name!r} parameter of {func} must be {constraint}. Got {value!r} instead."


def _fail(name: str, func: str, constraint: str, value: Any) -> DataValidationError:
    return DataValidationError(
        MSG_INVALID_PARAM.format(name=name, func=func, constraint=constraint, value=value)
    )


def check_int(value: Any, name: str, func: str, *, low: int, high: int | None = None) -> int:
    """Return ``value`` as an int in ``[low, high]``, or raise with the uniform message."""
    is_int = isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if not is_int or value < low or (high is not None and value > high):
        upper = "inf)" if high is None else f"{high}]"
        raise _fail(name, func, f"an int in [{low}, {upper}", value)
    return int(value)


def check_float(
    value: Any, name: str, func: str, *, low: float = 0.0, high: float | None = None
) -> float:
    """Return ``value`` as a finite float in ``[low, high]``, or raise."""
    is_real = isinstance(value, numbers.Real) and not isinstance(value, bool)
    ok = is_real and np.isfinite(value) and value >= low and (high is None or value <= high)
    if not ok:
        upper = "inf)" if high is None else f"{high}]"
        raise _fail(name, func, f"a finite float in [{low}, {upper}", value)
    return float(value)


def check_bool(value: Any, name: str, func: str) -> bool:
    """Return ``value`` if it is a bool (numpy bools included), or raise."""
    if not isinstance(value, bool | np.bool_):
        raise _fail(name, func, "a bool", value)
    return bool(value)


def check_option(value: Any, name: str, func: str, options: Sequence[str]) -> str:
    """Return ``value`` if it is one of ``options``, or raise listing them."""
    if not isinstance(value, str) or value not in options:
        listed = ", ".join(repr(o) for o in options)
        raise _fail(name, func, f"a str among {{{listed}}}", value)
    return value
