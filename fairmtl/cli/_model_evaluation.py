"""Evaluating a saved model per group: bootstrap intervals, disparities, fairness gaps."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from fairmtl.cli._model import predict_rows
from fairmtl.data import Schema
from fairmtl.data._table import Task
from fairmtl.exceptions import DataValidationError
from fairmtl.persistence import check_schema

__all__ = ["EvaluateOutcome", "evaluate_table"]

MSG_NOTHING_TO_EVALUATE = (
    "No row can be evaluated: every row belongs to a group not seen in fit and the model "
    "(sharing='independent') has no shared part. Evaluate on data from the training groups."
)
MSG_UNKNOWN_LABELS = (
    "Target {column!r} holds value(s) {values} that are not among the model's classes "
    "{classes}. Evaluate on data labelled like the training data."
)


def _as_classes(y: np.ndarray, classes: np.ndarray, column: str) -> np.ndarray:
    """The labels in the dtype of the model's classes (``1.0`` read from a file -> ``1``)."""
    known = pd.Index(classes)
    values = pd.Series(y, dtype=object)
    if pd.api.types.is_numeric_dtype(known):
        values = pd.to_numeric(values, errors="coerce").fillna(values)
    unknown = pd.unique(values[~values.isin(known)])
    if len(unknown):
        shown = ", ".join(repr(v) for v in unknown[:5])
        raise DataValidationError(
            MSG_UNKNOWN_LABELS.format(column=column, values=shown, classes=classes.tolist())
        )
    return values.to_numpy(dtype=known.dtype)


@dataclass
class EvaluateOutcome:
    """Per-group metrics with intervals, and how far apart the groups are.

    Attributes
    ----------
    per_group : DataFrame
        Columns ``group``, ``metric``, ``value``, ``lo``, ``hi``, ``n``.
    disparities : list of dict
        One per metric: worst and best group, gap and ratio.
    fairness : dict or None
        fairlearn's demographic parity / equalised odds / equal opportunity
        differences and ratios (binary classification only).
    task : {"classification", "regression"}
    n_rows : int
        Rows evaluated.
    rows_dropped : int
        Rows without a target.
    n_unpredicted : int
        Rows left out: unseen group and no shared part.
    unseen : dict of str to int
    """

    per_group: pd.DataFrame
    disparities: list[dict[str, Any]]
    fairness: dict[str, float] | None
    task: Task
    n_rows: int
    rows_dropped: int
    n_unpredicted: int
    unseen: dict[str, int]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of the outcome."""
        return {
            "task": self.task,
            "n_rows": self.n_rows,
            "rows_dropped": self.rows_dropped,
            "rows_not_predicted": self.n_unpredicted,
            "unseen_groups": self.unseen,
            "per_group": self.per_group.to_dict("records"),
            "disparities": self.disparities,
            "fairness": self.fairness,
        }


#: Groups with fewer rows get no bootstrap interval (the report's small-group rule).
SMALL_ROWS = 30


def honest_intervals(per_group: pd.DataFrame, confidence: float) -> pd.DataFrame:
    """The frontier report's interval rule, applied to evaluate's table.

    Shares of a group's rows (accuracy, error rate, selection rate) get exact
    Clopper-Pearson intervals; other metrics of groups with fewer than
    :data:`SMALL_ROWS` rows get none; the rest keep their bootstrap intervals. The
    ``interval`` column says which.
    """
    from fairmtl.frontier._results import group_interval

    out = per_group.copy()
    found = [
        group_interval(r.metric, r.value, int(r.n), (r.lo, r.hi), int(r.n) < SMALL_ROWS, confidence)
        for r in out.itertuples(index=False)
    ]
    out["lo"] = [f[0] if f[0] is not None else np.nan for f in found]
    out["hi"] = [f[1] if f[1] is not None else np.nan for f in found]
    out["interval"] = [f[2] for f in found]
    return out


def evaluate_table(
    model: Any,
    schema: Schema,
    df: pd.DataFrame,
    *,
    n_boot: int = 200,
    confidence: float = 0.95,
    random_state: int = 0,
) -> EvaluateOutcome:
    """Metrics of each group with bootstrap intervals, and the gaps between groups.

    Parameters
    ----------
    model : Pipeline
        A fitted pipeline (loaded with ``load_model``).
    schema : Schema
        Its schema; the data must hold the target.
    df : DataFrame
        Labelled rows.
    n_boot : int, default=200
        Bootstrap replicates.
    confidence : float, default=0.95
        Coverage of the intervals.
    random_state : int, default=0
        Seed of the bootstrap.

    Returns
    -------
    outcome : EvaluateOutcome
    """
    from fairmtl.data import validate_target
    from fairmtl.metrics import bootstrap_group_metrics, disparities, fairness_disparities

    check_schema(df, schema, require_target=True)
    classes = getattr(model, "classes_", None)
    task: Task = "classification" if classes is not None else "regression"
    keep = validate_target(df[schema.target], task=task, column=schema.target)
    rows = df[keep]
    found = predict_rows(model, schema, rows)
    routing = found.routing
    if not routing.usable.any():
        raise DataValidationError(MSG_NOTHING_TO_EVALUATE)
    y_true = rows[schema.target].to_numpy()[routing.usable]
    if classes is not None:
        y_true = _as_classes(y_true, np.asarray(classes), schema.target)
    labels = routing.labels[routing.usable]
    per_group = bootstrap_group_metrics(
        y_true,
        groups=labels,
        y_pred=found.y_pred,
        y_score=found.proba,
        task=task,
        labels=classes,
        n_boot=n_boot,
        confidence=confidence,
        random_state=random_state,
    )
    per_group = honest_intervals(per_group, confidence)
    gaps = [disparities(per_group, m) for m in per_group["metric"].unique()]
    fairness = None
    if classes is not None and len(classes) == 2:
        fairness = fairness_disparities(y_true, found.y_pred, labels)
    return EvaluateOutcome(
        per_group=per_group,
        disparities=gaps,
        fairness=fairness,
        task=task,
        n_rows=int(routing.usable.sum()),
        rows_dropped=int((~keep).sum()),
        n_unpredicted=int((~routing.usable).sum()),
        unseen=routing.unseen_counts(),
    )
