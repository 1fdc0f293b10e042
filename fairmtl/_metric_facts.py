"""Facts about metric names, stated once: label, direction and unit.

A plain table with no imports, read by :mod:`fairmtl.metrics` (which computes the
metrics) and by :mod:`fairmtl.report` (which labels results built elsewhere too, so it
also knows a few names fairmtl does not compute, such as ``precision`` and ``f1``).
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["METRIC_FACTS", "MetricFacts"]


class MetricFacts(NamedTuple):
    """What a metric's name says.

    Attributes
    ----------
    label : str
        Its name for people ("True positive rate").
    maximize : bool or None
        True when greater is better, False when lower is better, None when neither is
        (``selection_rate``: a rate compared across groups, not a score).
    percent : bool
        Shown as a percentage.
    """

    label: str
    maximize: bool | None
    percent: bool


METRIC_FACTS: dict[str, MetricFacts] = {
    "accuracy": MetricFacts("Accuracy", True, True),
    "balanced_accuracy": MetricFacts("Balanced accuracy", True, True),
    "error_rate": MetricFacts("Error rate", False, True),
    "selection_rate": MetricFacts("Selection rate", None, True),
    "true_positive_rate": MetricFacts("True positive rate", True, True),
    "tpr": MetricFacts("True positive rate", True, True),
    "false_positive_rate": MetricFacts("False positive rate", False, True),
    "fpr": MetricFacts("False positive rate", False, True),
    "false_negative_rate": MetricFacts("False negative rate", False, True),
    "recall": MetricFacts("Recall", True, True),
    "precision": MetricFacts("Precision", True, True),
    "f1": MetricFacts("F1 score", True, False),
    "log_loss": MetricFacts("Log loss", False, False),
    "brier": MetricFacts("Brier score", False, False),
    "roc_auc": MetricFacts("ROC AUC", True, False),
    "auc": MetricFacts("ROC AUC", True, False),
    "calibration_error": MetricFacts("Calibration error", False, False),
    "mse": MetricFacts("Mean squared error", False, False),
    "rmse": MetricFacts("Root mean squared error", False, False),
    "mae": MetricFacts("Mean absolute error", False, False),
    "r2": MetricFacts("R²", True, False),
}
