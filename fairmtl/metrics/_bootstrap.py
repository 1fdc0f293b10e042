"""Bootstrap confidence intervals of per-group metrics, vectorised over replicates.

One matrix of row indices holds every replicate (:func:`bootstrap_indices`); the simple
metrics are weighted means of a per-row quantity, so each replicate's value in each group
is a ratio of two :func:`numpy.bincount` sums over (replicate, group) keys: the direct
path of :func:`group_metrics` (:data:`DIRECT_METRICS`), run on every replicate at once.
Metrics without such a form (roc_auc, r2) are computed by a loop over replicates with
scikit-learn.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

from fairmtl.exceptions import DataValidationError
from fairmtl.metrics._fast_paths import (
    DIRECT_METRICS,
    ResampledRows,
    direct_metric,
    looped_metrics,
)
from fairmtl.metrics._group import group_metrics
from fairmtl.metrics._inputs import OVERALL, PreparedInputs, prepare_inputs

__all__ = ["bootstrap_group_metrics", "bootstrap_indices", "bootstrap_replicates"]

MSG_N_BOOT = "n_boot must be a positive integer. Got {n_boot!r} instead."
MSG_CONFIDENCE = "confidence must be a float in (0, 1). Got {confidence!r} instead."
MSG_INDICES_SHAPE = (
    "indices must be an integer matrix of shape (n_boot, {n}) with values in [0, {n}). "
    "Got shape {shape}. Make it with bootstrap_indices(groups, n_boot, rng)."
)

VECTORISED_METRICS = DIRECT_METRICS
"""Metrics computed on all replicates at once; the others loop over replicates."""

_CHUNK_ELEMENTS = 2_000_000  # replicates x rows gathered at a time (memory bound)


def bootstrap_indices(
    groups: Any,
    n_boot: int,
    rng: np.random.Generator | int | None = None,
    *,
    stratify_by_group: bool = True,
) -> np.ndarray:
    """Row indices of bootstrap resamples, one replicate per row of the result.

    Parameters
    ----------
    groups : array-like of shape (n_samples,)
        Group label of each row.
    n_boot : int
        Number of replicates.
    rng : numpy.random.Generator, int or None, default=None
        Source of randomness (a seed is passed to :func:`numpy.random.default_rng`).
    stratify_by_group : bool, default=True
        Resample within each group, so that every replicate keeps each group's size:
        column ``j`` of the result is a row of the same group as row ``j``. When
        ``False``, rows are drawn from all the data (group sizes vary).

    Returns
    -------
    indices : ndarray of shape (n_boot, n_samples)
        ``indices[b]`` are the rows of replicate ``b``; int32 when it fits, to halve the
        memory (``n_boot * n_samples`` integers).

    Examples
    --------
    >>> import numpy as np
    >>> from fairmtl.metrics import bootstrap_indices
    >>> groups = np.array(["a", "a", "b", "b", "b"])
    >>> idx = bootstrap_indices(groups, 3, rng=0)
    >>> idx.shape, bool((groups[idx] == groups).all())
    ((3, 5), True)
    """
    if isinstance(n_boot, bool) or not isinstance(n_boot, int | np.integer) or n_boot < 1:
        raise DataValidationError(MSG_N_BOOT.format(n_boot=n_boot))
    rng = np.random.default_rng(rng)
    groups = np.asarray(groups)
    n = len(groups)
    dtype = np.int32 if n < np.iinfo(np.int32).max else np.int64
    if not stratify_by_group:
        return rng.integers(0, n, size=(n_boot, n), dtype=dtype)
    _, codes = np.unique(groups, return_inverse=True)
    out = np.empty((n_boot, n), dtype=dtype)
    for g in range(codes.max() + 1 if n else 0):
        members = np.flatnonzero(codes == g)
        out[:, members] = members[rng.integers(0, len(members), size=(n_boot, len(members)))]
    return out


def _replicate_values(
    inputs: PreparedInputs, indices: np.ndarray, vectorize: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Metric values of every replicate: (n_boot, G + 1, M), and the sorted group labels."""
    uniques, codes = np.unique(inputs.groups, return_inverse=True)
    n_groups, names = len(uniques), list(inputs.metrics)
    out = np.empty((indices.shape[0], n_groups + 1, len(names)))
    fast = [m for m, name in enumerate(names) if vectorize and name in VECTORISED_METRICS]
    slow = [m for m in range(len(names)) if m not in fast]
    chunk = max(1, _CHUNK_ELEMENTS // max(1, indices.shape[1]))
    for start in range(0, indices.shape[0], chunk):
        idx = indices[start : start + chunk]
        resampled = ResampledRows(idx, codes, n_groups) if fast else None
        for m in fast:
            out[start : start + len(idx), :, m] = direct_metric(
                inputs, names[m], idx, codes, n_groups, resampled
            )
    if slow:
        out[:, :, slow] = looped_metrics(inputs, [names[m] for m in slow], indices, codes, n_groups)
    return out, uniques


def bootstrap_replicates(
    y_true: Any,
    *,
    groups: Any,
    indices: np.ndarray,
    y_pred: Any = None,
    y_score: Any = None,
    metrics: Sequence[str] | str | None = None,
    task: Literal["classification", "regression"] = "classification",
    sample_weight: Any = None,
    labels: Any = None,
    vectorize: bool = True,
) -> pd.DataFrame:
    """Per-group metrics on each bootstrap replicate given by ``indices``.

    Reusing the same ``indices`` for several models (as the frontier does) compares them
    on the same resamples.

    Parameters
    ----------
    y_true, groups, y_pred, y_score, metrics, task, sample_weight, labels
        As in :func:`group_metrics`.
    indices : ndarray of int of shape (n_boot, n_samples)
        Rows of each replicate, from :func:`bootstrap_indices`.
    vectorize : bool, default=True
        Compute the metrics of :data:`VECTORISED_METRICS` on all replicates at once.
        ``False`` loops over replicates with scikit-learn's functions (slow; a check).

    Returns
    -------
    values : pandas.DataFrame of shape (n_boot, (n_groups + 1) * n_metrics)
        One row per replicate; columns are a MultiIndex ``(group, metric)``, groups sorted
        and then ``"overall"``. A metric undefined on a replicate's group is ``nan``.
    """
    inputs = prepare_inputs(
        y_true,
        groups=groups,
        y_pred=y_pred,
        y_score=y_score,
        metrics=metrics,
        task=task,
        sample_weight=sample_weight,
        labels=labels,
    )
    indices = np.asarray(indices)
    n = len(inputs.y_true)
    if (
        indices.ndim != 2
        or indices.shape[1] != n
        or not np.issubdtype(indices.dtype, np.integer)
        or (indices.size and (indices.min() < 0 or indices.max() >= n))
    ):
        raise DataValidationError(MSG_INDICES_SHAPE.format(n=n, shape=indices.shape))
    values, uniques = _replicate_values(inputs, indices, vectorize)
    columns = pd.MultiIndex.from_product(
        [[*uniques.tolist(), OVERALL], list(inputs.metrics)], names=["group", "metric"]
    )
    return pd.DataFrame(values.reshape(len(indices), -1), columns=columns)


def bootstrap_group_metrics(
    y_true: Any,
    *,
    groups: Any,
    y_pred: Any = None,
    y_score: Any = None,
    metrics: Sequence[str] | str | None = None,
    task: Literal["classification", "regression"] = "classification",
    sample_weight: Any = None,
    labels: Any = None,
    n_boot: int = 200,
    confidence: float = 0.95,
    random_state: np.random.Generator | int | None = None,
    stratify_by_group: bool = True,
    vectorize: bool = True,
) -> pd.DataFrame:
    """Per-group metrics with bootstrap percentile confidence intervals.

    Parameters
    ----------
    y_true, groups, y_pred, y_score, metrics, task, sample_weight, labels
        As in :func:`group_metrics`.
    n_boot : int, default=200
        Number of bootstrap replicates.
    confidence : float, default=0.95
        Coverage of the intervals.
    random_state : int, numpy.random.Generator or None, default=None
        Seed of the resampling; the same seed gives the same table.
    stratify_by_group : bool, default=True
        Resample within each group so that each keeps its size (see
        :func:`bootstrap_indices`).
    vectorize : bool, default=True
        See :func:`bootstrap_replicates`.

    Returns
    -------
    table : pandas.DataFrame
        The table of :func:`group_metrics` (``group``, ``metric``, ``value``, ``n``, where
        ``value`` is the estimate on the full data) with ``lo`` and ``hi``: the
        ``(1 - confidence) / 2`` and ``(1 + confidence) / 2`` percentiles of the replicate
        values (the percentile bootstrap interval).

    Notes
    -----
    Replicates on which a metric is undefined (roc_auc on a resample with one class) are
    left out of that metric's percentiles; when all are, ``lo`` and ``hi`` are ``nan``.

    See Also
    --------
    bootstrap_indices : the resamples, reusable across models.
    bootstrap_replicates : the metric value of every replicate.

    Examples
    --------
    >>> from fairmtl.metrics import bootstrap_group_metrics
    >>> table = bootstrap_group_metrics([0, 1, 1, 0, 1, 1], groups=list("aaabbb"),
    ...                                 y_pred=[0, 1, 0, 0, 1, 1], metrics=["accuracy"],
    ...                                 n_boot=50, random_state=0)
    >>> list(table.columns)
    ['group', 'metric', 'value', 'n', 'lo', 'hi']
    """
    if not isinstance(confidence, float | int) or not 0 < confidence < 1:
        raise DataValidationError(MSG_CONFIDENCE.format(confidence=confidence))
    common = dict(
        groups=groups,
        y_pred=y_pred,
        y_score=y_score,
        metrics=metrics,
        task=task,
        sample_weight=sample_weight,
        labels=labels,
    )
    point = group_metrics(y_true, **common)
    indices = bootstrap_indices(
        np.asarray(groups), n_boot, random_state, stratify_by_group=stratify_by_group
    )
    reps = bootstrap_replicates(y_true, indices=indices, vectorize=vectorize, **common)
    alpha = (1.0 - confidence) / 2
    with warnings.catch_warnings():  # all replicates nan: nan interval, quietly
        warnings.simplefilter("ignore", RuntimeWarning)
        lo = np.nanquantile(reps.to_numpy(), alpha, axis=0)
        hi = np.nanquantile(reps.to_numpy(), 1 - alpha, axis=0)
    bounds = pd.DataFrame({"lo": lo, "hi": hi}, index=reps.columns)
    keys = pd.MultiIndex.from_arrays([point["group"], point["metric"]])
    point[["lo", "hi"]] = bounds.reindex(keys).to_numpy()
    return point
