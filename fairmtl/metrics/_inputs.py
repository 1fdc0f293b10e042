"""The inputs of the metric functions, validated and normalised once.

:func:`prepare_inputs` checks the names, shapes, class labels and probabilities that
:func:`~fairmtl.metrics.group_metrics` and the bootstrap take, and gives them as one
:class:`PreparedInputs`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.utils import check_array, check_consistent_length, column_or_1d
from sklearn.utils.multiclass import unique_labels

from fairmtl.exceptions import DataValidationError
from fairmtl.metrics._registry import (
    METRIC_NAMES_CLASSIFICATION,
    METRIC_NAMES_REGRESSION,
    METRICS,
)

__all__ = ["OVERALL", "PreparedInputs", "prepare_inputs"]

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
