"""Metric functions by name, with their direction and the input they need.

Every function here has the signature ``fn(y_true, y_input, *, labels, sample_weight=None)``
where ``y_input`` is the predicted labels (``needs == "y_pred"``) or the predicted
probabilities (``needs == "y_score"``), and ``labels`` is the sorted array of every class
label (classification) or ``None`` (regression). For binary problems the positive class is
``labels[-1]`` and ``y_score`` is the 1-D probability of it; for multi-class problems
``y_score`` is an ``(n, K)`` matrix whose columns follow ``labels``.

A metric that is undefined on the data it is given (ROC AUC with one class, a true
positive rate without positives, a binary-only rate on a multi-class problem) returns
``nan`` without a warning.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from contextlib import contextmanager
from typing import Any, Literal, NamedTuple

import numpy as np
from fairlearn.metrics import false_positive_rate, selection_rate, true_positive_rate
from scipy.stats import rankdata
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    brier_score_loss,
    log_loss,
    mean_absolute_error,
    mean_squared_error,
    r2_score,
    roc_auc_score,
)

from fairmtl._metric_facts import METRIC_FACTS

__all__ = [
    "METRICS",
    "METRIC_NAMES_CLASSIFICATION",
    "METRIC_NAMES_REGRESSION",
    "N_CALIBRATION_BINS",
    "MetricInfo",
    "calibration_bins",
    "expected_calibration_error",
]

N_CALIBRATION_BINS = 10
"""Number of equal-width bins of :func:`expected_calibration_error`."""


class MetricInfo(NamedTuple):
    """What other layers need to know about a metric.

    Attributes
    ----------
    function : callable
        ``function(y_true, y_input, *, labels, sample_weight=None) -> float``.
    greater_is_better : bool
        The order that names a worst and a best group (``True`` for accuracy, ``False``
        for losses); ``True`` for a metric without a better direction (see ``maximize``).
    needs : {"y_pred", "y_score"}
        Which prediction the function takes as ``y_input``.
    """

    function: Callable[..., float]
    greater_is_better: bool
    needs: Literal["y_pred", "y_score"]

    @classmethod
    def of(cls, name: str, function: Callable[..., float], needs: str) -> MetricInfo:
        """The entry of ``name``, its direction read from :data:`METRIC_FACTS`."""
        return cls(function, METRIC_FACTS[name].maximize is not False, needs)  # type: ignore[arg-type]


@contextmanager
def _quiet() -> Any:
    """Silence the warnings scikit-learn gives for metrics undefined on a slice."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        warnings.filterwarnings("ignore", message="y_pred contains classes not in y_true")
        warnings.filterwarnings("ignore", message="A single label was found")
        yield


def _is_binary(labels: np.ndarray | None) -> bool:
    return labels is not None and len(labels) == 2


def calibration_bins(confidence: np.ndarray, n_bins: int = N_CALIBRATION_BINS) -> np.ndarray:
    """Bin ids of equal-width bins on [0, 1], as :func:`sklearn.calibration.calibration_curve`.

    Bin ``b`` holds ``(b / n_bins, (b + 1) / n_bins]`` (the first bin also holds 0).

    Parameters
    ----------
    confidence : ndarray of shape (n_samples,)
        Probabilities in [0, 1].
    n_bins : int, default=10

    Returns
    -------
    bins : ndarray of int of shape (n_samples,)
    """
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    return np.searchsorted(edges[1:-1], confidence)


def calibration_target(
    y_true: np.ndarray, y_score: np.ndarray, labels: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The (confidence, outcome) pairs whose gap in each bin makes the calibration error.

    Binary: confidence is P(positive class) and outcome is ``y_true == labels[-1]``.
    Multi-class: confidence is the top-label probability and outcome is whether the
    top label is right (Guo et al., 2017).
    """
    if y_score.ndim == 1:
        return y_score, (y_true == labels[-1]).astype(float)
    top = np.argmax(y_score, axis=1)
    return y_score[np.arange(len(top)), top], (labels[top] == y_true).astype(float)


def expected_calibration_error(
    y_true: Any,
    y_score: Any,
    *,
    labels: Any,
    sample_weight: Any = None,
    n_bins: int = N_CALIBRATION_BINS,
) -> float:
    """Expected calibration error with equal-width bins.

    ``ECE = sum_b (W_b / W) * |mean outcome in b - mean confidence in b|``, with weights
    ``W``. For binary problems the confidence is P(positive class) and the bins are those
    of :func:`sklearn.calibration.calibration_curve` (``strategy="uniform"``); for
    multi-class problems it is the top-label confidence and the outcome whether the top
    label is right.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
    y_score : array-like of shape (n_samples,) or (n_samples, n_classes)
    labels : array-like of shape (n_classes,)
        Sorted class labels; the positive class of a binary problem is the last.
    sample_weight : array-like of shape (n_samples,), default=None
    n_bins : int, default=10

    Returns
    -------
    ece : float
        In [0, 1]; ``nan`` for empty input.
    """
    y_true = np.asarray(y_true)
    conf, outcome = calibration_target(y_true, np.asarray(y_score, dtype=float), np.asarray(labels))
    w = np.ones(len(y_true)) if sample_weight is None else np.asarray(sample_weight, float)
    if len(y_true) == 0 or w.sum() == 0:
        return float("nan")
    gap = np.bincount(
        calibration_bins(conf, n_bins), weights=w * (outcome - conf), minlength=n_bins
    )
    return float(np.abs(gap).sum() / w.sum())


def _accuracy(y_true, y_pred, *, labels=None, sample_weight=None) -> float:
    return float(accuracy_score(y_true, y_pred, sample_weight=sample_weight))


def _error_rate(y_true, y_pred, *, labels=None, sample_weight=None) -> float:
    return 1.0 - _accuracy(y_true, y_pred, sample_weight=sample_weight)


def _balanced_accuracy(y_true, y_pred, *, labels=None, sample_weight=None) -> float:
    with _quiet():
        return float(balanced_accuracy_score(y_true, y_pred, sample_weight=sample_weight))


def _log_loss(y_true, y_score, *, labels, sample_weight=None) -> float:
    if len(y_true) == 0:
        return float("nan")
    return float(log_loss(y_true, y_score, labels=labels, sample_weight=sample_weight))


def _brier(y_true, y_score, *, labels, sample_weight=None) -> float:
    if len(y_true) == 0:
        return float("nan")
    if np.ndim(y_score) == 1:
        return float(
            brier_score_loss(y_true, y_score, pos_label=labels[-1], sample_weight=sample_weight)
        )
    # Multi-class: the original (Brier, 1950) sum of squares over classes, range [0, 2].
    return float(
        brier_score_loss(
            y_true, y_score, labels=labels, sample_weight=sample_weight, scale_by_half=False
        )
    )


def binary_roc_auc(positive: np.ndarray, y_score: np.ndarray) -> float:
    """ROC AUC of two classes without sample weights, by the rank-sum formula.

    The Mann-Whitney statistic with average ranks for ties: the area scikit-learn's
    ``roc_auc_score`` computes with its trapezoids (ties count one half), without its
    input checks, which cost a frontier search's evaluation seconds (one call per group,
    model and split). ``positive`` is a boolean mask with both classes present.
    """
    ranks = rankdata(y_score)
    n_pos = int(positive.sum())
    n_neg = len(positive) - n_pos
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def _roc_auc(y_true, y_score, *, labels, sample_weight=None) -> float:
    present = np.unique(y_true)
    if np.ndim(y_score) == 1:
        if len(present) < 2:
            return float("nan")
        positive = np.asarray(y_true) == labels[-1]
        if sample_weight is None:
            return binary_roc_auc(positive, np.asarray(y_score, dtype=float))
        return float(roc_auc_score(positive, y_score, sample_weight=sample_weight))
    if len(present) < len(labels):  # one-vs-rest is undefined for an absent class
        return float("nan")
    with _quiet():
        return float(
            roc_auc_score(
                y_true,
                y_score,
                multi_class="ovr",
                average="macro",
                labels=labels,
                sample_weight=sample_weight,
            )
        )


def _tpr(y_true, y_pred, *, labels, sample_weight=None) -> float:
    if not _is_binary(labels) or not np.any(y_true == labels[-1]):
        return float("nan")
    return float(
        true_positive_rate(y_true, y_pred, pos_label=labels[-1], sample_weight=sample_weight)
    )


def _fpr(y_true, y_pred, *, labels, sample_weight=None) -> float:
    if not _is_binary(labels) or not np.any(y_true != labels[-1]):
        return float("nan")
    return float(
        false_positive_rate(y_true, y_pred, pos_label=labels[-1], sample_weight=sample_weight)
    )


def _selection_rate(y_true, y_pred, *, labels, sample_weight=None) -> float:
    if not _is_binary(labels) or len(y_true) == 0:
        return float("nan")
    return float(selection_rate(y_true, y_pred, pos_label=labels[-1], sample_weight=sample_weight))


def _calibration_error(y_true, y_score, *, labels, sample_weight=None) -> float:
    return expected_calibration_error(y_true, y_score, labels=labels, sample_weight=sample_weight)


def _mse(y_true, y_pred, *, labels=None, sample_weight=None) -> float:
    return float(mean_squared_error(y_true, y_pred, sample_weight=sample_weight))


def _mae(y_true, y_pred, *, labels=None, sample_weight=None) -> float:
    return float(mean_absolute_error(y_true, y_pred, sample_weight=sample_weight))


def _r2(y_true, y_pred, *, labels=None, sample_weight=None) -> float:
    with _quiet():
        return float(r2_score(y_true, y_pred, sample_weight=sample_weight))


METRICS: dict[str, MetricInfo] = {
    "accuracy": MetricInfo.of("accuracy", _accuracy, "y_pred"),
    "balanced_accuracy": MetricInfo.of("balanced_accuracy", _balanced_accuracy, "y_pred"),
    "log_loss": MetricInfo.of("log_loss", _log_loss, "y_score"),
    "brier": MetricInfo.of("brier", _brier, "y_score"),
    "roc_auc": MetricInfo.of("roc_auc", _roc_auc, "y_score"),
    "tpr": MetricInfo.of("tpr", _tpr, "y_pred"),
    "fpr": MetricInfo.of("fpr", _fpr, "y_pred"),
    "selection_rate": MetricInfo.of("selection_rate", _selection_rate, "y_pred"),
    "calibration_error": MetricInfo.of("calibration_error", _calibration_error, "y_score"),
    "error_rate": MetricInfo.of("error_rate", _error_rate, "y_pred"),
    "mse": MetricInfo.of("mse", _mse, "y_pred"),
    "mae": MetricInfo.of("mae", _mae, "y_pred"),
    "r2": MetricInfo.of("r2", _r2, "y_pred"),
}
"""Metric name -> ``MetricInfo(function, greater_is_better, needs)``.

Directions, labels and units are stated once, in :data:`fairmtl._metric_facts.METRIC_FACTS`
(``maximize``): ``selection_rate`` has no better direction (``maximize=None``); its
``greater_is_better`` is ``True`` only so that disparities name its lowest group the worst,
and it is meant for disparities (demographic parity), not for ranking.
"""

METRIC_NAMES_CLASSIFICATION: tuple[str, ...] = (
    "accuracy",
    "balanced_accuracy",
    "log_loss",
    "brier",
    "roc_auc",
    "tpr",
    "fpr",
    "selection_rate",
    "calibration_error",
    "error_rate",
)
"""Default metrics of classification, in report order."""

METRIC_NAMES_REGRESSION: tuple[str, ...] = ("mse", "mae", "r2")
"""Default metrics of regression, in report order."""
