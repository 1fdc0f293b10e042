"""K-fold splits stratified by group and label, for cross-validation inside a fit.

With ``keys`` (:func:`row_keys`: a hash of each row's features and target), the rows
are dealt into folds as distinct rows: copies of one row always share a fold, rows
of zero weight do not count, and the folds do not depend on the order of the rows. A fit
with integer sample weights then cross-validates exactly as the same fit on the rows
repeated, as scikit-learn's weight-equivalence contract asks.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.model_selection import StratifiedKFold

from fairmtl.exceptions import DataValidationError

__all__ = ["group_label_folds", "row_keys"]

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


def row_keys(X, y: np.ndarray) -> np.ndarray:
    """A 64-bit hash of each row's features and target (equal rows, equal keys).

    The group is left out, so that renaming the groups does not move a row to another
    fold (the folds are dealt in the order of the keys), and the features are hashed at
    single precision, so that rounding noise (the same data standardised from another
    scale) does not either.

    Parameters
    ----------
    X : ndarray or sparse matrix of shape (n_samples, n_features)
    y : ndarray of shape (n_samples,) or (n_samples, n_outputs)

    Returns
    -------
    keys : ndarray of uint64, shape (n_samples,)
    """
    n = X.shape[0]
    if sp.issparse(X):
        csr = sp.csr_matrix(X)
        if not csr.has_canonical_format:  # merge repeated cells on a copy, not the input
            csr = csr.copy()
            csr.sum_duplicates()
        cols = csr.indices.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
        cells = pd.util.hash_array(csr.data.astype(np.float32)) ^ cols
        features = np.zeros(n, dtype=np.uint64)
        filled = np.diff(csr.indptr) > 0
        if cells.size:
            # a row's cells summed (wrapping): their order inside the row does not matter
            features[filled] = np.add.reduceat(cells, csr.indptr[:-1][filled])
    else:
        frame = pd.DataFrame(np.asarray(X, dtype=np.float32).reshape(n, -1))
        features = pd.util.hash_pandas_object(frame, index=False).to_numpy()
    target = pd.DataFrame(np.asarray(y).reshape(n, -1))
    others = pd.util.hash_pandas_object(target, index=False).to_numpy()
    return pd.util.hash_array(features ^ (others * np.uint64(31)))


def group_label_folds(
    tasks: np.ndarray,
    labels: np.ndarray | None,
    n_splits: int,
    random_state: int | np.random.RandomState | None = 0,
    *,
    keys: np.ndarray | None = None,
    weights: np.ndarray | None = None,
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
    keys : ndarray of shape (n_samples,), default=None
        :func:`row_keys` of the rows: rows with equal keys are dealt as one (into one
        fold), in the order of their keys, so the folds depend neither on the rows' order
        nor on the groups' names.
    weights : ndarray of shape (n_samples,), default=None
        With ``keys``: rows of zero weight are left out of the dealing (each is put in
        the fold its key points to) and out of the counts below.

    Returns
    -------
    folds : list of (ndarray, ndarray)
        Sorted training and held-out positions of each fold.

    Raises
    ------
    DataValidationError
        When there are fewer rows than folds, or a class has fewer rows than folds.
    """
    tasks = np.asarray(tasks)
    labels = None if labels is None else np.asarray(labels)
    if keys is None:
        fold = _deal(tasks, labels, n_splits, random_state)
    else:
        keys = np.asarray(keys, dtype=np.uint64)
        counted = np.ones(len(keys), bool) if weights is None else np.asarray(weights) > 0
        unique, first = np.unique(keys[counted], return_index=True)
        rows = np.flatnonzero(counted)[first]
        dealt = _deal(tasks[rows], None if labels is None else labels[rows], n_splits, random_state)
        fold = (keys % np.uint64(n_splits)).astype(np.int64)
        where = np.searchsorted(unique, keys[counted])
        fold[counted] = dealt[where]
    positions = np.arange(len(tasks))
    return [(positions[fold != k], positions[fold == k]) for k in range(n_splits)]


def _deal(tasks: np.ndarray, labels: np.ndarray | None, n_splits: int, random_state) -> np.ndarray:
    """The fold of each row (stratified K-fold over the rows given)."""
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
    strata = _strata(tasks, labels, n_splits)
    splitter = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=random_state)
    fold = np.empty(n, dtype=np.int64)
    with warnings.catch_warnings():
        # the pooled stratum of small groups may hold fewer rows than folds: by design
        warnings.filterwarnings("ignore", message="The least populated class", category=UserWarning)
        for k, (_, test) in enumerate(splitter.split(np.zeros(n), strata)):
            fold[test] = k
    return fold
