"""Per-group metrics as a tidy table.

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
warns as the functions do; ``metric_table(inputs, direct=False)`` takes that path always
(the reference the fast paths are tested against).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, Literal

import numpy as np
import pandas as pd
from fairlearn.metrics import MetricFrame
from sklearn.utils import check_array, check_consistent_length, column_or_1d
from sklearn.utils.multiclass import type_of_target, unique_labels

from fairmtl.exceptions import DataValidationError
from fairmtl.metrics._registry import (
    METRIC_NAMES_CLASSIFICATION,
    METRIC_NAMES_REGRESSION,
    METRICS,
    N_CALIBRATION_BINS,
    calibration_bins,
    calibration_target,
)

__all__ = ["DIRECT_METRICS", "OVERALL", "group_metrics"]

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

OVERALL = "overall"
"""Label of the rows that describe all groups together."""

MSG_UNKNOWN_METRIC = "Unknown metric {name!r} for task {task!r}. Choose from: {choices}."
MSG_UNKNOWN_TASK = "task must be 'classification' or 'regression'. Got {task!r} instead."
MSG_NO_PREDICTION = "Pass y_pred or y_score: metrics need predictions."
MSG_NEEDS_SCORE = (
    "Metric {name!r} needs predicted probabilities: pass y_score (P(y=1) for binary "
    "problems or an (n, K) matrix of class probabilities)."
)
MSG_REGRESSION_NEEDS_PRED = "Regression metrics need y_pred."
MSG_SCORE_SHAPE = (
    "y_score has {n_cols} columns but there are {n_labels} class labels {labels}. "
    "Pass labels= with every class, in the order of y_score's columns."
)
MSG_SCORE_1D_MULTICLASS = (
    "y_score is 1-D but there are {n_labels} class labels {labels}: for multi-class "
    "problems pass the (n, K) matrix of class probabilities."
)
MSG_ONE_CLASS = (
    "Only one class label ({labels}) appears in y_true and y_pred. Pass labels= with "
    "every class of the problem, e.g. labels=[0, 1]."
)
MSG_GROUP_NAMED_OVERALL = (
    "A group is named {overall!r}, which is reserved for the rows over all groups. "
    "Rename that group."
)
MSG_GROUPS_1D = "groups must be one label per row (1-D). Got shape {shape}."


@dataclass
class PreparedInputs:
    """Validated arrays shared by :func:`group_metrics` and the bootstrap."""

    y_true: np.ndarray
    y_pred: np.ndarray
    y_score: np.ndarray | None
    groups: np.ndarray
    sample_weight: np.ndarray | None
    labels: np.ndarray | None
    metrics: tuple[str, ...]
    task: str


def _check_metric_names(metrics: Sequence[str] | str | None, task: str, has_score: bool):
    allowed = METRIC_NAMES_CLASSIFICATION if task == "classification" else METRIC_NAMES_REGRESSION
    if metrics is None:
        return tuple(m for m in allowed if has_score or METRICS[m].needs == "y_pred")
    names = (metrics,) if isinstance(metrics, str) else tuple(metrics)
    for name in names:
        if name not in allowed:
            raise DataValidationError(
                MSG_UNKNOWN_METRIC.format(name=name, task=task, choices=", ".join(allowed))
            )
        if METRICS[name].needs == "y_score" and not has_score:
            raise DataValidationError(MSG_NEEDS_SCORE.format(name=name))
    return names


def _check_classification(
    y_true: np.ndarray, y_pred: Any, y_score: Any, labels: Any
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    if labels is None:
        labels = unique_labels(y_true) if y_pred is None else unique_labels(y_true, y_pred)
    labels = np.sort(np.asarray(labels))
    if len(labels) < 2:
        raise DataValidationError(MSG_ONE_CLASS.format(labels=labels.tolist()))
    if y_score is not None:
        y_score = check_array(y_score, ensure_2d=False, dtype=float)
        if y_score.ndim == 2 and y_score.shape[1] == 2 and len(labels) == 2:
            y_score = y_score[:, 1]  # a predict_proba matrix of a binary problem
        if y_score.ndim == 1 and len(labels) > 2:
            raise DataValidationError(
                MSG_SCORE_1D_MULTICLASS.format(n_labels=len(labels), labels=labels.tolist())
            )
        if y_score.ndim == 2 and y_score.shape[1] != len(labels):
            raise DataValidationError(
                MSG_SCORE_SHAPE.format(
                    n_cols=y_score.shape[1], n_labels=len(labels), labels=labels.tolist()
                )
            )
    if y_pred is None:
        # Derived as scikit-learn's classifiers predict: P(positive) > 0.5, else argmax.
        if y_score.ndim == 1:
            y_pred = labels[(y_score > 0.5).astype(int)]
        else:
            y_pred = labels[np.argmax(y_score, axis=1)]
    return column_or_1d(y_pred), y_score, labels


def prepare_inputs(
    y_true: Any,
    *,
    groups: Any,
    y_pred: Any = None,
    y_score: Any = None,
    metrics: Sequence[str] | str | None = None,
    task: str = "classification",
    sample_weight: Any = None,
    labels: Any = None,
) -> PreparedInputs:
    """Validate and normalise the inputs of the metric functions (see :func:`group_metrics`).

    Returns
    -------
    inputs : PreparedInputs
    """
    if task not in ("classification", "regression"):
        raise DataValidationError(MSG_UNKNOWN_TASK.format(task=task))
    if y_pred is None and y_score is None:
        raise DataValidationError(MSG_NO_PREDICTION)
    groups = np.asarray(groups)
    if groups.ndim != 1:
        raise DataValidationError(MSG_GROUPS_1D.format(shape=groups.shape))
    if np.any(groups.astype(str) == OVERALL):
        raise DataValidationError(MSG_GROUP_NAMED_OVERALL.format(overall=OVERALL))
    y_true = column_or_1d(y_true)
    arrays = [a for a in (y_true, groups, y_pred, y_score, sample_weight) if a is not None]
    check_consistent_length(*arrays)
    if sample_weight is not None:
        sample_weight = column_or_1d(check_array(sample_weight, ensure_2d=False, dtype=float))
    if task == "regression":
        if y_pred is None:
            raise DataValidationError(MSG_REGRESSION_NEEDS_PRED)
        y_true = check_array(y_true, ensure_2d=False, dtype=float)
        y_pred = column_or_1d(check_array(y_pred, ensure_2d=False, dtype=float))
        y_score, labels = None, None
    else:
        y_pred, y_score, labels = _check_classification(y_true, y_pred, y_score, labels)
    names = _check_metric_names(metrics, task, y_score is not None)
    return PreparedInputs(y_true, y_pred, y_score, groups, sample_weight, labels, names, task)


def _call(name: str, labels: Any, y_true, y_input, sample_weight=None) -> float:
    """Adapter from MetricFrame's ``(y_true, y_pred, **sample_params)`` to a registry entry."""
    return METRICS[name].function(y_true, y_input, labels=labels, sample_weight=sample_weight)


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


def _group_codes(groups: np.ndarray) -> tuple[np.ndarray, pd.Index] | None:
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


def _direct_ok(inputs: PreparedInputs) -> bool:
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


def _metricframe_table(
    inputs: PreparedInputs, names: Sequence[str]
) -> tuple[pd.DataFrame, pd.Series]:
    """Metrics ``names`` by group and overall, with fairlearn's MetricFrame.

    Metrics on labels and metrics on probabilities go through two frames: MetricFrame
    splits its ``y_pred`` by group whatever its width, but sample parameters only when
    they are 1-D.
    """
    by_group, overall = [], []
    for needs, y_input in (("y_pred", inputs.y_pred), ("y_score", inputs.y_score)):
        fns = {}
        for name in names:
            if METRICS[name].needs == needs:
                fns[name] = partial(_call, name, inputs.labels)
                fns[name].__name__ = name  # MetricFrame wants a named function
        if not fns:
            continue
        params = None
        if inputs.sample_weight is not None:
            params = {name: {"sample_weight": inputs.sample_weight} for name in fns}
        frame = MetricFrame(
            metrics=fns,
            y_true=inputs.y_true,
            y_pred=y_input,
            sensitive_features=inputs.groups,
            sample_params=params,
        )
        by_group.append(frame.by_group)
        overall.append(frame.overall)
    names = list(names)
    return pd.concat(by_group, axis=1)[names], pd.concat(overall)[names]


def metric_table(inputs: PreparedInputs, *, direct: bool = True) -> tuple[pd.DataFrame, pd.Series]:
    """Every metric of ``inputs`` by group and overall.

    Parameters
    ----------
    inputs : PreparedInputs
    direct : bool, default=True
        Compute the metrics without MetricFrame when the inputs allow it (see the module
        docstring). ``False`` computes every metric with fairlearn's MetricFrame (slow;
        the reference the fast paths are checked against).

    Returns
    -------
    by_group : pandas.DataFrame
        Index: sorted groups; columns: metrics in the order of ``inputs.metrics``.
    overall : pandas.Series
    """
    names = list(inputs.metrics)
    grouping = _group_codes(inputs.groups) if direct else None
    if grouping is None or not _direct_ok(inputs):
        return _metricframe_table(inputs, names)
    codes, index = grouping
    rows = np.arange(len(inputs.y_true))[None, :]
    values = np.empty((len(index) + 1, len(names)))
    looped = [m for m, name in enumerate(names) if name not in DIRECT_METRICS]
    if looped:
        values[:, looped] = looped_metrics(
            inputs, [names[m] for m in looped], rows, codes, len(index)
        )[0]
    resampled = ResampledRows(rows, codes, len(index))
    for m, name in enumerate(names):
        if name in DIRECT_METRICS:
            values[:, m] = direct_metric(inputs, name, rows, codes, len(index), resampled)[0]
    by_group = pd.DataFrame(values[:-1], index=index, columns=names)
    return by_group, pd.Series(values[-1], index=names)


def group_metrics(
    y_true: Any,
    *,
    groups: Any,
    y_pred: Any = None,
    y_score: Any = None,
    metrics: Sequence[str] | str | None = None,
    task: Literal["classification", "regression"] = "classification",
    sample_weight: Any = None,
    labels: Any = None,
) -> pd.DataFrame:
    """Metrics of each group and of all groups together, as a tidy table.

    The values are those of scikit-learn's (and fairlearn's) metric functions
    (:data:`fairmtl.metrics.METRICS`) on each group's rows, as
    :class:`fairlearn.metrics.MetricFrame` gives them: most are computed directly with
    numpy, roc_auc and r2 by the functions on each group's rows (see the module
    docstring).

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels or targets.
    groups : array-like of shape (n_samples,)
        Group label of each row. The name ``"overall"`` is reserved.
    y_pred : array-like of shape (n_samples,), default=None
        Predicted labels or values. For classification, when ``None``, it is derived from
        ``y_score`` as scikit-learn's classifiers do (P(positive) > 0.5, else argmax).
    y_score : array-like of shape (n_samples,) or (n_samples, n_classes), default=None
        Predicted probabilities: P(positive class) for binary problems (a two-column
        ``predict_proba`` matrix is accepted too), or one column per class, in the order
        of ``labels``, for multi-class problems. Needed by log_loss, brier, roc_auc and
        calibration_error.
    metrics : sequence of str, default=None
        Metric names, all of the task's (:data:`METRIC_NAMES_CLASSIFICATION` or
        :data:`METRIC_NAMES_REGRESSION`) by default, less those needing ``y_score`` when
        it is not given.
    task : {"classification", "regression"}, default="classification"
    sample_weight : array-like of shape (n_samples,), default=None
    labels : array-like, default=None
        Every class label. Inferred from ``y_true`` and ``y_pred`` by default; sorted.
        The positive class of a binary problem is the last (greatest) label.

    Returns
    -------
    table : pandas.DataFrame
        Columns ``group``, ``metric``, ``value``, ``n`` (rows of the group): one row per
        (group, metric), groups in sorted order followed by ``"overall"``.

    Notes
    -----
    Metrics undefined for a group give ``nan`` without a warning: roc_auc with one class
    (or, multi-class, a class absent from the group), tpr without positives, fpr without
    negatives. tpr, fpr and selection_rate are binary notions and are ``nan`` for
    multi-class problems. Multi-class roc_auc is one-vs-rest, macro-averaged; multi-class
    brier is the sum of squares over classes (range [0, 2]); binary brier is the usual
    mean squared error of P(positive). calibration_error is the expected calibration error
    over 10 equal-width bins (see :func:`expected_calibration_error`).

    See Also
    --------
    bootstrap_group_metrics : the same table with confidence intervals.
    disparities : worst and best group of one metric.

    Examples
    --------
    >>> from fairmtl.metrics import group_metrics
    >>> table = group_metrics([0, 1, 1, 0], groups=["a", "a", "b", "b"],
    ...                       y_pred=[0, 1, 0, 0], metrics=["accuracy"])
    >>> table.to_dict("records")[0]
    {'group': 'a', 'metric': 'accuracy', 'value': 1.0, 'n': 2}
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
    by_group, overall = metric_table(inputs)
    return _tidy(inputs, by_group, overall)


def _tidy(inputs: PreparedInputs, by_group: pd.DataFrame, overall: pd.Series) -> pd.DataFrame:
    """The long table of :func:`group_metrics` from the output of :func:`metric_table`."""
    sizes = pd.Series(inputs.groups).value_counts()
    values, names = by_group.to_numpy(dtype=float), list(inputs.metrics)
    rows = []
    for i, group in enumerate(by_group.index):
        n = int(sizes[group])
        rows.extend((group, name, float(values[i, m]), n) for m, name in enumerate(names))
    for name in names:
        rows.append((OVERALL, name, float(overall[name]), len(inputs.y_true)))
    return pd.DataFrame(rows, columns=["group", "metric", "value", "n"])
