"""The two fast paths of the per-group metrics.

Each metric takes one of two fast paths, which give the values of scikit-learn's (and
fairlearn's) functions on each group's rows, with their ``nan`` rules:

* **Direct, with numpy** (:data:`DIRECT_METRICS`): accuracy, error_rate,
  balanced_accuracy, selection_rate, tpr, fpr, log_loss, brier, calibration_error, mse
  and mae. Each is a weighted mean of a per-row quantity (balanced_accuracy: the mean
  over the classes present of such means; calibration_error: a sum over bins of
  weighted gaps), so the value of every group, and of all rows, is a ratio of
  :func:`numpy.bincount` sums over the group codes: one pass over the rows for all
  groups, without scikit-learn's input validation per metric and per group. Equal to
  scikit-learn's values up to the order of summation (about 1e-15). The bootstrap uses
  the same code on all its replicates at once.
* **scikit-learn on each group's rows**: roc_auc and r2, which are no weighted means.
  The registry's function (:data:`fairmtl.metrics.METRICS`) is called on each group's
  rows, in their order, and on all rows: the calls MetricFrame makes, and the same
  values, without MetricFrame's overhead (tens of milliseconds per frame).

Both are taken only on inputs that scikit-learn's and fairlearn's functions accept
without an error or a warning: positive sample weights, groups without missing values,
class labels that are unique and discrete (binary or multi-class) and hold every value of
``y_true`` and ``y_pred``, probabilities in [0, 1] whose rows sum to one. On any other
input every metric goes through :class:`fairlearn.metrics.MetricFrame`, which raises or
warns as the functions do; ``metric_table(inputs, direct=False)`` (in
:mod:`fairmtl.metrics._group`) takes that path always (the reference the fast paths are
tested against).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from sklearn.utils.multiclass import type_of_target

from fairmtl.metrics._inputs import PreparedInputs
from fairmtl.metrics._registry import (
    METRICS,
    N_CALIBRATION_BINS,
    calibration_bins,
    calibration_target,
)

__all__ = [
    "DIRECT_METRICS",
    "ResampledRows",
    "direct_metric",
    "direct_ok",
    "group_codes",
    "looped_metrics",
]

DIRECT_METRICS = frozenset(
    {
        "accuracy",
        "error_rate",
        "balanced_accuracy",
        "brier",
        "log_loss",
        "selection_rate",
        "tpr",
        "fpr",
        "calibration_error",
        "mse",
        "mae",
    }
)
"""Metrics computed directly with numpy; the others (roc_auc, r2) by scikit-learn per group."""

_SUM_TO_ONE_ATOL = 1e-9  # stricter than scikit-learn's "do not sum to one" warning


def _per_row_terms(inputs: PreparedInputs, name: str) -> list[tuple[np.ndarray, np.ndarray]]:
    """Write a metric as weighted means: pairs (weight per row, value per row).

    The metric of a sample is ``mean_k sum(w_k * v_k) / sum(w_k)`` over the pairs ``k``
    whose weight sum is positive (one pair for most metrics; one per class for balanced
    accuracy). calibration_error is handled apart.
    """
    w = np.ones(len(inputs.y_true)) if inputs.sample_weight is None else inputs.sample_weight
    y, yp, labels = inputs.y_true, inputs.y_pred, inputs.labels
    if name in ("accuracy", "error_rate"):
        correct = (yp == y).astype(float)
        return [(w, correct if name == "accuracy" else 1.0 - correct)]
    if name == "balanced_accuracy":
        return [(w * (y == k), (yp == k).astype(float)) for k in labels]
    if name in ("tpr", "fpr", "selection_rate"):
        if len(labels) != 2:
            return [(np.zeros_like(w), np.zeros_like(w))]  # binary only: nan
        selected = (yp == labels[-1]).astype(float)
        mask = {"tpr": y == labels[-1], "fpr": y != labels[-1], "selection_rate": True}[name]
        return [(w * mask, selected)]
    if name in ("brier", "log_loss"):
        s = inputs.y_score
        onehot = y[:, None] == labels[None, :]
        if s.ndim == 1:
            s = np.column_stack([1.0 - s, s])
        if name == "brier":
            sq = ((onehot - s) ** 2).sum(axis=1)
            return [(w, sq / 2 if inputs.y_score.ndim == 1 else sq)]
        eps = np.finfo(float).eps  # as scikit-learn's log_loss clips
        return [(w, -np.log(np.clip(s[onehot], eps, 1 - eps)))]
    if name == "mse":
        return [(w, (y - yp) ** 2)]
    if name == "mae":
        return [(w, np.abs(y - yp))]
    raise KeyError(name)


class ResampledRows:
    """How often each row is drawn in each sample, with the rows ordered by group.

    The group sums of any per-row values are then one matrix product per group, for
    several value columns at once: the draws are counted once per set of samples, not
    gathered again for every metric (which was most of a frontier search's evaluation).

    Parameters
    ----------
    idx : ndarray of int of shape (b, n_draws)
        Rows drawn by each of ``b`` samples (see :func:`direct_metric`).
    codes : ndarray of int of shape (n_samples,)
        Group code of each row, in ``[0, n_groups)``.
    n_groups : int
    """

    def __init__(self, idx: np.ndarray, codes: np.ndarray, n_groups: int) -> None:
        b, n = idx.shape[0], len(codes)
        draws = np.bincount((np.arange(b)[:, None] * n + idx).ravel(), minlength=b * n)
        self.order = np.argsort(codes, kind="stable")
        self.bounds = np.searchsorted(codes[self.order], np.arange(n_groups + 1))
        self.counts = draws.reshape(b, n)[:, self.order].astype(float)
        self.n_groups = n_groups

    def sums(self, values: np.ndarray) -> np.ndarray:
        """Sums of ``values`` (shape (n,) or (n, k)) over each (sample, group), and over
        each sample's rows in the last group column: shape (b, G + 1) or (b, G + 1, k)."""
        v = values[self.order]
        out = np.empty((self.counts.shape[0], self.n_groups + 1, *v.shape[1:]))
        for g in range(self.n_groups):
            a, c = self.bounds[g], self.bounds[g + 1]
            out[:, g] = self.counts[:, a:c] @ v[a:c]
        out[:, -1] = out[:, :-1].sum(axis=1)
        return out


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)


def _calibration_error(
    inputs: PreparedInputs,
    idx: np.ndarray,
    codes: np.ndarray,
    n_groups: int,
    resampled: ResampledRows,
) -> np.ndarray:
    """Expected calibration error on every replicate: sum over bins of |sum w (y - p)| / sum w."""
    w = np.ones(len(inputs.y_true)) if inputs.sample_weight is None else inputs.sample_weight
    conf, outcome = calibration_target(inputs.y_true, inputs.y_score, inputs.labels)
    bins, b, nb = calibration_bins(conf), idx.shape[0], N_CALIBRATION_BINS
    keys = ((np.arange(b)[:, None] * n_groups + codes[idx]) * nb + bins[idx]).ravel()
    gap = np.bincount(
        keys, weights=(w * (outcome - conf))[idx].ravel(), minlength=b * n_groups * nb
    )
    gap = gap.reshape(b, n_groups, nb)
    num = np.column_stack([np.abs(gap).sum(axis=2), np.abs(gap.sum(axis=1)).sum(axis=1)])
    return _ratio(num, resampled.sums(w))


def direct_metric(
    inputs: PreparedInputs,
    name: str,
    idx: np.ndarray,
    codes: np.ndarray,
    n_groups: int,
    resampled: ResampledRows | None = None,
) -> np.ndarray:
    """One metric of :data:`DIRECT_METRICS` on the rows ``idx`` of each group, with numpy.

    Parameters
    ----------
    inputs : PreparedInputs
    name : str
    idx : ndarray of int of shape (b, n_samples)
        Rows of each of ``b`` samples: a bootstrap replicate each, or
        ``np.arange(n)[None, :]`` for the data itself.
    codes : ndarray of int of shape (n_samples,)
        Group code of each row, in ``[0, n_groups)``.
    n_groups : int
    resampled : ResampledRows, default=None
        The draws of ``idx``, counted once for several metrics (None: counted here).

    Returns
    -------
    values : ndarray of shape (b, n_groups + 1)
        Column ``g`` is group ``g``, the last column all rows; ``nan`` where undefined.
    """
    if resampled is None:
        resampled = ResampledRows(idx, codes, n_groups)
    if name == "calibration_error":
        return _calibration_error(inputs, idx, codes, n_groups, resampled)
    pairs = _per_row_terms(inputs, name)
    sums = resampled.sums(np.column_stack([c for w, v in pairs for c in (w * v, w)]))
    rates = [_ratio(sums[..., 2 * k], sums[..., 2 * k + 1]) for k in range(len(pairs))]
    if len(rates) == 1:
        return rates[0]
    with warnings.catch_warnings():  # a group with no class present: nan, quietly
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(np.stack(rates), axis=0)


def looped_metrics(
    inputs: PreparedInputs, names: list[str], idx: np.ndarray, codes: np.ndarray, n_groups: int
) -> np.ndarray:
    """Metrics by the registry's scikit-learn functions on each group's rows: (b, G + 1, M).

    A loop over the ``b`` samples of ``idx`` (see :func:`direct_metric`) and their groups;
    each function gets the group's rows in their order in the sample, as MetricFrame gives
    them. A group without rows in a sample is ``nan``.
    """
    out = np.full((idx.shape[0], n_groups + 1, len(names)), np.nan)
    s, w = inputs.y_score, inputs.sample_weight
    for b, rows in enumerate(idx):
        order = rows[np.argsort(codes[rows], kind="stable")]
        bounds = np.searchsorted(codes[order], np.arange(n_groups + 1))
        slices = [order[bounds[g] : bounds[g + 1]] for g in range(n_groups)] + [rows]
        for g, r in enumerate(slices):
            if len(r) == 0:
                continue
            for m, name in enumerate(names):
                fn, needs = METRICS[name].function, METRICS[name].needs
                y_input = inputs.y_pred[r] if needs == "y_pred" else s[r]
                out[b, g, m] = fn(
                    inputs.y_true[r],
                    y_input,
                    labels=inputs.labels,
                    sample_weight=None if w is None else w[r],
                )
    return out


def group_codes(groups: np.ndarray) -> tuple[np.ndarray, pd.Index] | None:
    """Group code of each row and the sorted groups, as MetricFrame groups the rows.

    MetricFrame puts the groups, as Python objects, in a DataFrame column and groups it
    with sorting; :func:`pandas.factorize` with ``sort=True`` gives the same groups in the
    same order. ``None`` when a group is missing (MetricFrame rejects that) or the groups
    cannot be sorted.
    """
    try:
        codes, uniques = pd.factorize(pd.Series(list(np.asarray(groups, dtype=object))), sort=True)
    except TypeError:
        return None
    if codes.size and codes.min() < 0:
        return None
    return codes, uniques


def direct_ok(inputs: PreparedInputs) -> bool:
    """Whether scikit-learn's functions take ``inputs`` without an error or a warning.

    Only then does the direct path give their values; otherwise MetricFrame computes
    every metric (and raises or warns as the functions do).
    """
    w = inputs.sample_weight
    if w is not None and not np.all(w > 0):  # zero weights: 0/0 in scikit-learn's ways
        return False
    if inputs.task == "regression":
        return True
    labels = inputs.labels
    try:
        if type_of_target(labels) not in ("binary", "multiclass"):
            return False
        if len(np.unique(labels)) != len(labels):
            return False
        if not (np.isin(inputs.y_true, labels).all() and np.isin(inputs.y_pred, labels).all()):
            return False
    except (TypeError, ValueError):
        return False
    s = inputs.y_score
    if s is not None:
        if s.min() < 0 or s.max() > 1:
            return False
        if s.ndim == 2 and not np.all(np.abs(s.sum(axis=1) - 1.0) <= _SUM_TO_ONE_ATOL):
            return False
    return True
