"""K-fold splits stratified by group and label, for cross-validation inside a fit."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedKFold

from fairmtl.exceptions import DataValidationError

__all__ = ["group_label_folds"]

MSG_TOO_FEW_FOR_FOLDS = (
    "Cannot cross-validate with cv={n_splits}: {detail}. Pass a smaller cv, or give the "
    "hyper-parameters as numbers (e.g. alpha=1e-4, sharing_strength=0.1) so that no "
    "cross-validation runs."
)


def _strata(tasks: np.ndarray, labels: np.ndarray | None, n_splits: int) -> np.ndarray:
    """One stratum per (group, class) cell with at least ``n_splits`` rows.

    Smaller cells fall back to their group; groups with fewer than ``n_splits`` rows
    share one stratum, so every stratum can be spread over the folds.
    """
    group_codes = pd.factorize(tasks)[0]
    if labels is None:
        codes = group_codes
    else:
        cell = pd.factorize(pd.MultiIndex.from_arrays([tasks, labels]))[0]
        small_cell = np.bincount(cell)[cell] < n_splits
        codes = np.where(small_cell, -1 - group_codes, cell)
    codes = pd.factorize(codes)[0]
    small_group = np.bincount(group_codes)[group_codes] < n_splits
    return np.where(small_group, -1, codes)


def group_label_folds(
    tasks: np.ndarray,
    labels: np.ndarray | None,
    n_splits: int,
    random_state: int | np.random.RandomState | None = 0,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """``(train, test)`` row positions of K folds stratified by group (and class).

    Each group's rows are spread evenly over the folds, and within a group each class's
    rows too, so every fold's held-out rows stand for every group in proportion to its
    size. Every row is held out exactly once; a fold's training and held-out rows never
    overlap.

    Parameters
    ----------
    tasks : ndarray of shape (n_samples,)
        Group ids.
    labels : ndarray of shape (n_samples,) or None
        Class of each row (classification), or None (regression: groups only).
    n_splits : int
        Number of folds, at least 2.
    random_state : int, RandomState instance or None, default=0
        Seeds the shuffle before the rows are dealt into folds.

    Returns
    -------
    folds : list of (ndarray, ndarray)
        Sorted training and held-out positions of each fold.

    Raises
    ------
    DataValidationError
        When there are fewer rows than folds, or a class has fewer rows than folds.
    """
    n = len(tasks)
    if n < 2 * n_splits:
        detail = f"{n} row(s) are too few for {n_splits} folds"
        raise DataValidationError(MSG_TOO_FEW_FOR_FOLDS.format(n_splits=n_splits, detail=detail))
    if labels is not None:
        values, counts = np.unique(labels, return_counts=True)
        if counts.min() < n_splits:
            detail = f"class {values[np.argmin(counts)].item()!r} has only {counts.min()} row(s)"
            raise DataValidationError(
                MSG_TOO_FEW_FOR_FOLDS.format(n_splits=n_splits, detail=detail)
            )
    strata = _strata(np.asarray(tasks), None if labels is None else np.asarray(labels), n_splits)
    splitter = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=random_state)
    with warnings.catch_warnings():
        # the pooled stratum of small groups may hold fewer rows than folds: by design
        warnings.filterwarnings("ignore", message="The least populated class", category=UserWarning)
        return [(np.sort(a), np.sort(b)) for a, b in splitter.split(np.zeros(n), strata)]
