"""The "did you mean" hint of every error about an unknown name (column, dataset, option)."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any

__all__ = ["MSG_DID_YOU_MEAN", "closest", "did_you_mean"]

MSG_DID_YOU_MEAN = " Did you mean {suggestion!r}?"


def closest(name: Any, choices: Iterable[Any], *, cutoff: float = 0.6) -> str | None:
    """The choice closest to ``name``, or None when none is close enough.

    Parameters
    ----------
    name : object
        The name that was not found (compared as text).
    choices : iterable
        The available names (compared as text).
    cutoff : float, default=0.6
        The least similarity (:func:`difflib.get_close_matches`) of a suggestion; a
        choice that differs only in case is suggested whatever its similarity.

    Returns
    -------
    suggestion : str or None

    Examples
    --------
    >>> closest("hospitl", ["age", "hospital"])
    'hospital'
    >>> closest("AGE", ["age", "hospital"])
    'age'
    """
    strings = [str(c) for c in choices]
    close = difflib.get_close_matches(str(name), strings, n=1, cutoff=cutoff)
    if close:
        return close[0]
    lowered = {s.lower(): s for s in strings}
    return lowered.get(str(name).lower())


def did_you_mean(name: Any, choices: Iterable[Any], *, cutoff: float = 0.6) -> str:
    """A ``" Did you mean 'x'?"`` hint (:data:`MSG_DID_YOU_MEAN`) for a misspelled name, or ``""``.

    Parameters
    ----------
    name : object
        The name that was not found.
    choices : iterable
        The available names.
    cutoff : float, default=0.6
        See :func:`closest`.

    Returns
    -------
    hint : str
        Empty when nothing is close enough.
    """
    suggestion = closest(name, choices, cutoff=cutoff)
    return MSG_DID_YOU_MEAN.format(suggestion=suggestion) if suggestion is not None else ""
