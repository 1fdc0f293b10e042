"""A fitted model's state as a skops file can hold it: values replaced all through it.

:func:`walk` replaces values all through a fitted model (its dicts, lists, tuples and
the attributes of fairmtl and scikit-learn objects); :func:`as_array` and :func:`typed`
turn pandas columns into plain arrays and back, for
:class:`fairmtl.persistence.PandasState`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["as_array", "plain", "typed", "walk"]

#: Packages whose objects' ``__dict__`` is walked (where fitted state lives).
_STATE_PACKAGES = ("fairmtl", "sklearn")


def plain(value: Any) -> Any:
    """A numpy scalar as the Python value it holds; anything else as it is."""
    return value.item() if isinstance(value, np.generic) else value


def as_array(values: pd.Series | pd.Index) -> np.ndarray:
    """The values as a numpy array: an object array of Python values for text and categories."""
    if isinstance(values.dtype, pd.CategoricalDtype) or values.dtype == object:
        return np.array([plain(v) for v in values], dtype=object)
    return np.asarray(values.to_numpy())


def typed(values: np.ndarray, dtype: str) -> Any:
    """The values back in their pandas dtype (as they are when it cannot be rebuilt)."""
    try:
        return values if dtype == "object" else pd.array(values, dtype=dtype)
    except (TypeError, ValueError):
        return values


def walk(obj: Any, convert: Callable[[Any], Any], seen: set[int]) -> Any:
    """Replace every value for which ``convert`` gives a new one, in place where possible.

    Descends into dicts, lists, tuples and the ``__dict__`` of fairmtl and scikit-learn
    objects (estimators and their helpers), which is where fitted state lives.
    """
    new = convert(obj)
    if new is not obj or id(obj) in seen:
        return new
    seen.add(id(obj))
    if isinstance(obj, tuple):
        items = [walk(v, convert, seen) for v in obj]
        if any(a is not b for a, b in zip(items, obj, strict=True)):
            return type(obj)(*items) if hasattr(obj, "_fields") else tuple(items)
        return obj
    if isinstance(obj, list):
        entries: Any = enumerate(list(obj))
    elif isinstance(obj, dict):
        entries = list(obj.items())
    elif hasattr(obj, "__dict__") and type(obj).__module__.split(".")[0] in _STATE_PACKAGES:
        for key, value in list(vars(obj).items()):
            if (changed := walk(value, convert, seen)) is not value:
                setattr(obj, key, changed)
        return obj
    else:
        return obj
    for key, value in entries:
        if (changed := walk(value, convert, seen)) is not value:
            obj[key] = changed
    return obj
