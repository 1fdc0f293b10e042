"""Per-group metrics as a tidy table.

The values are those of scikit-learn's (and fairlearn's) functions on each group's
rows. Most metrics are computed directly with numpy, roc_auc and r2 by the functions on
each group's rows (:mod:`fairmtl.metrics._fast_paths`); on inputs those paths do not
take, and with ``metric_table(inputs, direct=False)``, every metric goes through
:class:`fairlearn.metrics.MetricFrame`.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any, Literal

import numpy as np
import pandas as pd
from fairlearn.metrics import MetricFrame

from fairmtl.metrics._fast_paths import (
    DIRECT_METRICS,
    ResampledRows,
    direct_metric,
    direct_ok,
    group_codes,
    looped_metrics,
)
from fairmtl.metrics._inputs import OVERALL, PreparedInputs, prepare_inputs
from fairmtl.metrics._registry import METRICS

__all__ = ["group_metrics", "metric_table"]


def _call(name: str, labels: Any, y_true, y_input, sample_weight=None) -> float:
    """Adapter from MetricFrame's ``(y_true, y_pred, **sample_params)`` to a registry entry."""
    return METRICS[name].function(y_true, y_input, labels=labels, sample_weight=sample_weight)


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
    grouping = group_codes(inputs.groups) if direct else None
    if grouping is None or not direct_ok(inputs):
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
