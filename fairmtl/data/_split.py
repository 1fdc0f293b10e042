"""Train / validation / test splits that keep every group in every split."""

from __future__ import annotations

import dataclasses
import numbers
import warnings
from typing import Any, Literal

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions, validate_params
from sklearn.utils.multiclass import type_of_target

from fairmtl.data._labels import SHOW, check_groups_length, group_labels
from fairmtl.exceptions import DataValidationError, SmallGroupWarning

__all__ = ["SplitResult", "train_val_test_split"]

MSG_SIZES_TOO_LARGE = (
    "val_size + test_size must be below 1 so that rows are left to train on. "
    "Got val_size={val_size} and test_size={test_size}."
)
MSG_Y_LENGTH = "y has {n_y} rows but X has {n_samples}. Pass one target value per row."
MSG_TOO_SMALL = (
    "{count} group(s) have too few rows to appear in every split with "
    "min_per_split={min_per_split}: {details}. All their rows go to the training split; "
    "their validation and test metrics will be missing."
)
MSG_TOO_FEW_ROWS = "Cannot split {n_samples} row(s) into train, validation and test sets."
_CLASS_TARGETS = ("binary", "multiclass")


@dataclasses.dataclass(frozen=True, eq=False)
class SplitResult:
    """Row positions of a train / validation / test split.

    Attributes
    ----------
    train, val, test : ndarray of int64
        Positions into the original rows, sorted; every row is in exactly one.
    too_small : tuple of str
        Groups with too few rows for every split; all their rows are in ``train``.
    stratify : {"group", "group_label"} or None
        The stratification used.
    """

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    too_small: tuple[str, ...] = ()
    stratify: str | None = None


def _n_rows(X: Any) -> int:
    return int(X.shape[0]) if hasattr(X, "shape") else len(X)


def _count(size: float, n: int, minimum: int) -> int:
    return 0 if size == 0 else max(minimum, int(np.floor(size * n + 0.5)))


def _merge_rare(strata: np.ndarray) -> np.ndarray | None:
    """Strata codes where single-row strata are pooled; None when stratifying is moot."""
    codes, uniques = pd.factorize(strata)
    if len(uniques) < 2:
        return None
    counts = np.bincount(codes)
    rare = counts[codes] == 1
    if rare.sum() == 1:
        codes = np.where(rare, int(np.argmax(counts)), codes)
    elif rare.any():
        codes = np.where(rare, len(uniques), codes)
    return codes


def _split_off(
    positions: np.ndarray, k: int, strata: np.ndarray | None, rng: np.random.RandomState
) -> tuple[np.ndarray, np.ndarray]:
    """Take ``k`` of ``positions`` (stratified where possible); return (taken, rest)."""
    if k == 0:
        return positions[:0], positions
    seed = rng.randint(np.iinfo(np.int32).max)
    codes = None if strata is None else _merge_rare(strata)
    if codes is not None:
        try:
            rest, taken = train_test_split(
                positions, test_size=k, stratify=codes, random_state=seed
            )
            return taken, rest
        except ValueError:
            pass  # too few rows per stratum for sklearn: fall back to a plain shuffle
    rest, taken = train_test_split(positions, test_size=k, random_state=seed)
    return taken, rest


def _resolve_stratify(stratify: str | None, y: Any) -> str | None:
    if stratify != "auto":
        return stratify
    if y is None:
        return "group"
    values = (y if isinstance(y, pd.Series) else pd.Series(np.asarray(y))).dropna()
    kind = type_of_target(values.to_numpy()) if len(values) else "unknown"
    return "group_label" if kind in _CLASS_TARGETS else "group"


@validate_params(
    {
        "X": ["array-like"],
        "y": ["array-like", None],
        "groups": ["array-like"],
        "val_size": [Interval(numbers.Real, 0, 1, closed="left")],
        "test_size": [Interval(numbers.Real, 0, 1, closed="left")],
        "random_state": ["random_state"],
        "min_per_split": [Interval(numbers.Integral, 1, None, closed="left")],
        "stratify": [StrOptions({"auto", "group", "group_label"}), None],
        "separator": [str],
    },
    prefer_skip_nested_validation=True,
)
def train_val_test_split(
    X: Any,
    y: Any,
    groups: Any,
    *,
    val_size: float = 0.2,
    test_size: float = 0.2,
    random_state: int | np.random.RandomState | None = None,
    min_per_split: int = 1,
    stratify: Literal["auto", "group", "group_label"] | None = "auto",
    separator: str = "|",
) -> SplitResult:
    """Split rows into train, validation and test sets, keeping every group in each.

    Each group is split on its own, stratified by label within the group for
    classification, so every group appears in every split with about the same share of
    each class. A group with too few rows for all splits (fewer than ``min_per_split``
    rows left for one of them) goes wholly to train and is listed in ``too_small``,
    with a :class:`SmallGroupWarning`.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        The features (only their number of rows is used).
    y : array-like of shape (n_samples,) or None
        The target; needed to stratify by label.
    groups : array-like of shape (n_samples,) or (n_samples, n_columns)
        The group column(s); several give intersection groups.
    val_size, test_size : float in [0, 1), default=0.2
        Share of each group's rows in the validation / test split (0: no such split).
    random_state : int, RandomState or None, default=None
        Seed; the same seed and data give the same split.
    min_per_split : int, default=1
        Fewest rows of a group in each non-empty split.
    stratify : {"auto", "group", "group_label"} or None, default="auto"
        "group_label": by group and class; "group": by group; None: plain random split
        that ignores groups; "auto": "group_label" for a class target, else "group".
    separator : str, default="|"
        Joins the values of several group columns.

    Returns
    -------
    split : SplitResult
        Sorted positions ``train``, ``val``, ``test`` and the ``too_small`` groups.

    Examples
    --------
    >>> import numpy as np
    >>> g = np.repeat(["a", "b"], 10)
    >>> s = train_val_test_split(np.zeros((20, 1)), None, g, random_state=0)
    >>> len(s.train), len(s.val), len(s.test)
    (12, 4, 4)
    """
    if val_size + test_size >= 1:
        raise ValueError(MSG_SIZES_TOO_LARGE.format(val_size=val_size, test_size=test_size))
    n_samples = _n_rows(X)
    check_groups_length(groups, n_samples)
    if y is not None and _n_rows(y) != n_samples:
        raise DataValidationError(MSG_Y_LENGTH.format(n_y=_n_rows(y), n_samples=n_samples))
    rng = check_random_state(random_state)
    mode = _resolve_stratify(stratify, y)
    positions = np.arange(n_samples, dtype=np.int64)
    if mode is None:
        n_test, n_val = _count(test_size, n_samples, 1), _count(val_size, n_samples, 1)
        if n_samples - n_test - n_val < 1:
            raise DataValidationError(MSG_TOO_FEW_ROWS.format(n_samples=n_samples))
        test, rest = _split_off(positions, n_test, None, rng)
        val, train = _split_off(rest, n_val, None, rng)
        return SplitResult(np.sort(train), np.sort(val), np.sort(test), (), None)

    labels = group_labels(groups, separator=separator)
    strata_all = None
    if mode == "group_label":
        strata_all = pd.Series(np.asarray(y, dtype=object)).astype(str).to_numpy(dtype=object)
    parts: dict[str, list[np.ndarray]] = {"train": [], "val": [], "test": []}
    too_small: dict[str, int] = {}
    by_group = pd.Series(labels).groupby(labels, sort=True).indices
    for label, rows in by_group.items():
        rows = positions[np.sort(rows)]
        n_test = _count(test_size, len(rows), min_per_split)
        n_val = _count(val_size, len(rows), min_per_split)
        if len(rows) - n_test - n_val < min_per_split:
            too_small[str(label)] = len(rows)
            parts["train"].append(rows)
            continue
        strata = None if strata_all is None else strata_all[rows]
        test, rest = _split_off(rows, n_test, strata, rng)
        strata = None if strata_all is None else strata_all[rest]
        val, train = _split_off(rest, n_val, strata, rng)
        for name, chosen in (("train", train), ("val", val), ("test", test)):
            parts[name].append(chosen)
    if too_small:
        shown = list(too_small.items())[:SHOW]
        details = ", ".join(f"{label!r} ({n} rows)" for label, n in shown)
        details += f" and {len(too_small) - SHOW} more" if len(too_small) > SHOW else ""
        warnings.warn(
            MSG_TOO_SMALL.format(
                count=len(too_small), min_per_split=min_per_split, details=details
            ),
            SmallGroupWarning,
            stacklevel=3,  # past sklearn's validate_params wrapper
        )
    train, val, test = (
        np.sort(np.concatenate(parts[k])) if parts[k] else positions[:0] for k in parts
    )
    return SplitResult(train, val, test, tuple(too_small), mode)
