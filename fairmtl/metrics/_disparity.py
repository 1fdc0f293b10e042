"""How far apart the groups are: worst and best group of a metric, and fairness gaps."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from fairlearn.metrics import (
    demographic_parity_difference,
    demographic_parity_ratio,
    equal_opportunity_difference,
    equal_opportunity_ratio,
    equalized_odds_difference,
    equalized_odds_ratio,
)
from sklearn.utils import check_consistent_length, column_or_1d
from sklearn.utils.multiclass import unique_labels

from fairmtl.exceptions import DataValidationError
from fairmtl.metrics._inputs import OVERALL
from fairmtl.metrics._registry import METRICS

__all__ = ["disparities", "fairness_disparities"]

MSG_TABLE_COLUMNS = (
    "The per-group table needs the columns 'group', 'metric' and 'value' (as made by "
    "group_metrics). Missing: {missing}."
)
MSG_METRIC_NOT_IN_TABLE = "Metric {metric!r} is not in the table. It has: {present}."
MSG_DIRECTION_UNKNOWN = (
    "Metric {metric!r} is not in fairmtl.metrics.METRICS, so its direction is unknown: "
    "pass greater_is_better=True or False."
)
MSG_NOT_BINARY = (
    "Fairness disparities need a binary problem; y_true and y_pred hold {n} labels "
    "{labels}. Binarise the labels first (one class against the rest)."
)
MSG_POS_LABEL = "pos_label {pos_label!r} is not one of the labels {labels}."


def disparities(
    per_group: pd.DataFrame, metric: str, *, greater_is_better: bool | None = None
) -> dict[str, Any]:
    """Worst and best group of one metric, and the gap and ratio between them.

    Parameters
    ----------
    per_group : pandas.DataFrame
        A table of :func:`group_metrics` or :func:`bootstrap_group_metrics` (columns
        ``group``, ``metric``, ``value``). The ``"overall"`` rows are ignored, and so are
        groups whose value is ``nan``.
    metric : str
        The metric to compare groups on.
    greater_is_better : bool, default=None
        Direction of the metric; by default taken from :data:`METRICS`.

    Returns
    -------
    result : dict
        ``metric``; ``worst_group``, ``worst_value``, ``best_group``, ``best_value``
        (worst and best by the metric's direction; the first group in table order wins a
        tie); ``gap = |best_value - worst_value|`` (0 when all groups are equal);
        ``ratio``, in [0, 1] for non-negative metrics: ``worst / best`` when greater is
        better, ``best / worst`` otherwise, 1 when they are equal and ``nan`` when the
        denominator is 0 otherwise. With no group value, every value is ``nan`` and the
        groups are ``None``.

    Examples
    --------
    >>> import pandas as pd
    >>> from fairmtl.metrics import disparities
    >>> table = pd.DataFrame({"group": ["a", "b", "overall"], "metric": ["accuracy"] * 3,
    ...                       "value": [0.9, 0.6, 0.8]})
    >>> d = disparities(table, "accuracy")
    >>> d["worst_group"], d["best_group"], round(d["gap"], 3), round(d["ratio"], 3)
    ('b', 'a', 0.3, 0.667)
    """
    missing = {"group", "metric", "value"} - set(per_group.columns)
    if missing:
        raise DataValidationError(MSG_TABLE_COLUMNS.format(missing=sorted(missing)))
    if greater_is_better is None:
        if metric not in METRICS:
            raise DataValidationError(MSG_DIRECTION_UNKNOWN.format(metric=metric))
        greater_is_better = METRICS[metric].greater_is_better
    rows = per_group[per_group["metric"] == metric]
    if rows.empty:
        present = sorted(per_group["metric"].unique().tolist())
        raise DataValidationError(MSG_METRIC_NOT_IN_TABLE.format(metric=metric, present=present))
    rows = rows[(rows["group"].astype(str) != OVERALL) & rows["value"].notna()]
    result: dict[str, Any] = {"metric": metric}
    if rows.empty:
        nan = float("nan")
        result.update(worst_group=None, worst_value=nan, best_group=None, best_value=nan)
        result.update(gap=nan, ratio=nan)
        return result
    values = rows["value"].to_numpy(dtype=float)
    sign = 1.0 if greater_is_better else -1.0
    worst, best = int(np.argmin(sign * values)), int(np.argmax(sign * values))
    worst_value, best_value = float(values[worst]), float(values[best])
    num, den = (worst_value, best_value) if greater_is_better else (best_value, worst_value)
    if worst_value == best_value:
        ratio = 1.0
    elif den == 0:
        ratio = float("nan")
    else:
        ratio = num / den
    result.update(
        worst_group=rows["group"].iloc[worst],
        worst_value=worst_value,
        best_group=rows["group"].iloc[best],
        best_value=best_value,
        gap=abs(best_value - worst_value),
        ratio=ratio,
    )
    return result


def fairness_disparities(
    y_true: Any,
    y_pred: Any,
    groups: Any,
    sample_weight: Any = None,
    *,
    pos_label: Any = None,
) -> dict[str, float]:
    """Group fairness measures of a binary classifier, with fairlearn's functions.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
    y_pred : array-like of shape (n_samples,)
        Predicted labels.
    groups : array-like of shape (n_samples,)
    sample_weight : array-like of shape (n_samples,), default=None
    pos_label : scalar, default=None
        The positive class; by default the greatest label.

    Returns
    -------
    result : dict of str to float
        ``demographic_parity_difference`` and ``_ratio`` (selection rates),
        ``equalized_odds_difference`` and ``_ratio`` (worst of the true and false
        positive rate gaps), ``equal_opportunity_difference`` and ``_ratio`` (true
        positive rates): each the fairlearn function of the same name, between groups.
        Differences are 0 and ratios 1 when groups are treated alike. As in fairlearn, a
        group without positives (negatives) has a true (false) positive rate of 0 here.

    See Also
    --------
    fairlearn.metrics.demographic_parity_difference
    fairlearn.metrics.equalized_odds_difference
    fairlearn.metrics.equal_opportunity_difference

    Examples
    --------
    >>> from fairmtl.metrics import fairness_disparities
    >>> d = fairness_disparities([0, 1, 0, 1], [0, 1, 1, 1], ["a", "a", "b", "b"])
    >>> d["demographic_parity_difference"], d["equal_opportunity_difference"]
    (0.5, 0.0)
    """
    y_true, y_pred = column_or_1d(y_true), column_or_1d(y_pred)
    groups = np.asarray(groups)
    arrays = [a for a in (y_true, y_pred, groups, sample_weight) if a is not None]
    check_consistent_length(*arrays)
    labels = unique_labels(y_true, y_pred)
    if len(labels) > 2:
        raise DataValidationError(MSG_NOT_BINARY.format(n=len(labels), labels=labels.tolist()))
    if pos_label is None:
        pos_label = labels[-1]
    elif pos_label not in labels:
        raise DataValidationError(MSG_POS_LABEL.format(pos_label=pos_label, labels=labels.tolist()))
    # fairlearn's rates take 1 as the positive label: binarise without touching the inputs.
    yt, yp = (y_true == pos_label).astype(int), (y_pred == pos_label).astype(int)
    kw = {"sensitive_features": groups, "sample_weight": sample_weight}
    functions = {
        "demographic_parity_difference": demographic_parity_difference,
        "demographic_parity_ratio": demographic_parity_ratio,
        "equalized_odds_difference": equalized_odds_difference,
        "equalized_odds_ratio": equalized_odds_ratio,
        "equal_opportunity_difference": equal_opportunity_difference,
        "equal_opportunity_ratio": equal_opportunity_ratio,
    }
    return {name: float(fn(yt, yp, **kw)) for name, fn in functions.items()}
