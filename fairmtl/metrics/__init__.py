"""Per-group metrics, bootstrap confidence intervals and disparities.

Pure functions on arrays: they know nothing of models or solvers.
"""

from fairmtl.metrics._bootstrap import (
    VECTORISED_METRICS,
    bootstrap_group_metrics,
    bootstrap_indices,
    bootstrap_replicates,
)
from fairmtl.metrics._disparity import disparities, fairness_disparities
from fairmtl.metrics._group import group_metrics
from fairmtl.metrics._inputs import OVERALL
from fairmtl.metrics._registry import (
    METRIC_NAMES_CLASSIFICATION,
    METRIC_NAMES_REGRESSION,
    METRICS,
    MetricInfo,
    expected_calibration_error,
)

__all__ = [
    "METRICS",
    "METRIC_NAMES_CLASSIFICATION",
    "METRIC_NAMES_REGRESSION",
    "OVERALL",
    "VECTORISED_METRICS",
    "MetricInfo",
    "bootstrap_group_metrics",
    "bootstrap_indices",
    "bootstrap_replicates",
    "disparities",
    "expected_calibration_error",
    "fairness_disparities",
    "group_metrics",
]
