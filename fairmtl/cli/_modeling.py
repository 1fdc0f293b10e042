"""Fitting a model on a table and predicting new rows, whatever their group.

Plain functions that return data; the typer commands in :mod:`fairmtl.cli._commands`
only display it.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from fairmtl.cli._tabular import Task, TrainingTable, build_pipeline
from fairmtl.data import Schema, SplitResult, group_labels, train_val_test_split
from fairmtl.exceptions import DataValidationError, DataWarning
from fairmtl.persistence import check_schema

__all__ = [
    "FitOutcome",
    "PredictOutcome",
    "Predicted",
    "SHARED_GROUP",
    "UNPREDICTED_GROUP",
    "fit_table",
    "predict_rows",
    "predict_table",
]

#: The ``group`` of a row whose group was not seen in fit, predicted by the shared part.
SHARED_GROUP = "<shared>"
#: The ``group`` of a row left without a prediction (unseen group, no shared part).
UNPREDICTED_GROUP = "<none>"
#: The label given to a missing group value at predict time (an unseen group).
MISSING_GROUP = "(missing)"
#: Metrics shown after fitting, per task (the first is the headline).
FIT_METRICS = {"classification": ("accuracy", "log_loss"), "regression": ("mse", "r2")}

MSG_ID_COLUMN_MISSING = (
    "Id column {column!r} is not in the data.{hint} Available columns: {available}."
)
MSG_UNSEEN_ROWS = "{count} row(s) belong to group(s) not seen in fit: {names}."
MSG_UNSEEN_SHARED = " {count} were predicted with the shared part (group {label})."
MSG_UNSEEN_UNPREDICTED = (
    " {count} have no prediction: the model (sharing='independent') has no shared part "
    "(group {label}). Refit with --sharing offset to predict them."
)
_UNSEEN_WARNING = r".*not seen in fit.*"


@dataclass
class FitOutcome:
    """A fitted pipeline and what it scored on its training and validation rows.

    Attributes
    ----------
    model : Pipeline
        Fitted on the training split.
    table : TrainingTable
    split : SplitResult
        Positions into ``table.frame``.
    metrics : DataFrame
        Columns ``split`` ("train" / "validation"), ``group``, ``metric``, ``value``, ``n``.
    headline : str
        The metric whose worst group is reported.
    worst : dict
        Split -> ``{"group", "value"}``: the worst group by ``headline``.
    """

    model: Any
    table: TrainingTable
    split: SplitResult
    metrics: pd.DataFrame
    headline: str
    worst: dict[str, dict[str, Any]] = field(default_factory=dict)


def _scores(model: Any, X: pd.DataFrame) -> np.ndarray | None:
    if not hasattr(model, "predict_proba"):
        return None
    return model.predict_proba(X)


def _split_metrics(
    model: Any, X: pd.DataFrame, y: pd.Series, labels: np.ndarray, task: Task
) -> pd.DataFrame:
    from fairmtl.metrics import group_metrics

    names = list(FIT_METRICS[task])
    y_score = _scores(model, X) if task == "classification" else None
    if task == "classification" and y_score is None:
        names = [n for n in names if n != "log_loss"]
    return group_metrics(
        y.to_numpy(),
        groups=labels,
        y_pred=model.predict(X),
        y_score=y_score,
        metrics=names,
        task=task,
        labels=getattr(model, "classes_", None),
    )


def _worst(metrics: pd.DataFrame, metric: str) -> dict[str, Any]:
    from fairmtl.metrics import disparities

    found = disparities(metrics, metric)
    return {"group": found["worst_group"], "value": found["worst_value"]}


def fit_table(
    table: TrainingTable,
    *,
    val_size: float = 0.2,
    seed: int = 0,
    min_group_size: int = 1,
    **params: Any,
) -> FitOutcome:
    """Split, fit the pipeline on the training rows and score both splits per group.

    Parameters
    ----------
    table : TrainingTable
        From :func:`fairmtl.cli._tabular.load_training_table`.
    val_size : float, default=0.2
        Share of each group's rows held out for validation (stratified by group and, for
        classification, label); 0 fits on every row.
    seed : int, default=0
        Seed of the split.
    min_group_size : int, default=1
        Groups with fewer rows draw a :class:`SmallGroupWarning`.
    **params
        Estimator parameters (objective, sharing, epsilon, alpha, ...).

    Returns
    -------
    outcome : FitOutcome
    """
    from fairmtl.data import GroupEncoder

    GroupEncoder(min_group_size=min_group_size).fit(table.groups)  # warns about small groups
    split = train_val_test_split(
        table.X, table.y, table.groups, val_size=val_size, test_size=0, random_state=seed
    )
    model = build_pipeline(table.schema, table.task, **params)
    X, y = table.model_input, table.y
    labels = group_labels(table.groups)
    model.fit(X.iloc[split.train], y.iloc[split.train])
    parts = []
    for name, rows in (("train", split.train), ("validation", split.val)):
        if len(rows) == 0:
            continue
        scored = _split_metrics(model, X.iloc[rows], y.iloc[rows], labels[rows], table.task)
        parts.append(scored.assign(split=name))
    metrics = pd.concat(parts, ignore_index=True)
    metrics = metrics[["split", "group", "metric", "value", "n"]]
    headline = FIT_METRICS[table.task][0]
    worst = {
        name: _worst(metrics[metrics["split"] == name], headline)
        for name in metrics["split"].unique()
    }
    return FitOutcome(model, table, split, metrics, headline, worst)


@dataclass
class PredictOutcome:
    """Predictions for every input row, in input order.

    Attributes
    ----------
    predictions : DataFrame
        One row per input row: the id (or ``row``), ``prediction``, ``proba_<class>``
        for classifiers with probabilities, and ``group`` (the group's label, or
        :data:`SHARED_GROUP`, or :data:`UNPREDICTED_GROUP`).
    unseen : dict of str to int
        Groups not seen in fit and their row counts.
    n_shared : int
        Rows predicted with the shared part.
    n_unpredicted : int
        Rows left without a prediction (unseen group, model without a shared part).
    n_imputed : int
        Rows with at least one missing feature value (imputed by the pipeline).
    extra_columns : list of str
        Input columns the model does not use.
    """

    predictions: pd.DataFrame
    unseen: dict[str, int]
    n_shared: int
    n_unpredicted: int
    n_imputed: int
    extra_columns: list[str]

    def unseen_message(self) -> str:
        """One line on the rows of unseen groups and how they were predicted."""
        names = ", ".join(f"{k!r} ({v})" for k, v in list(self.unseen.items())[:5])
        text = MSG_UNSEEN_ROWS.format(count=sum(self.unseen.values()), names=names)
        if self.n_shared:
            text += MSG_UNSEEN_SHARED.format(count=self.n_shared, label=SHARED_GROUP)
        if self.n_unpredicted:
            text += MSG_UNSEEN_UNPREDICTED.format(count=self.n_unpredicted, label=UNPREDICTED_GROUP)
        return text


@dataclass
class Predicted:
    """Predictions for the rows a model can predict (``usable``), with their groups."""

    labels: np.ndarray
    seen: np.ndarray
    usable: np.ndarray
    y_pred: np.ndarray | None
    proba: np.ndarray | None
    classes: np.ndarray | None


def _estimator(model: Any) -> Any:
    return model.steps[-1][1] if hasattr(model, "steps") else model


def predict_rows(model: Any, schema: Schema, df: pd.DataFrame) -> Predicted:
    groups = df[list(schema.groups)].copy()  # missing groups are relabelled in a copy
    for column in groups.columns:
        groups[column] = groups[column].astype(object).where(groups[column].notna(), MISSING_GROUP)
    labels = group_labels(groups)
    estimator = _estimator(model)
    seen = np.isin(labels, np.asarray(estimator.groups_, dtype=object))
    shared = bool(getattr(estimator, "has_shared_part_", True))
    usable = seen | shared
    X = df.copy()  # the caller's frame is not modified
    X[list(schema.groups)] = groups
    X = X[list(dict.fromkeys([*schema.features, *schema.groups]))].iloc[np.flatnonzero(usable)]
    classes = getattr(model, "classes_", None)
    y_pred = proba = None
    if len(X):
        with warnings.catch_warnings():
            # Unseen groups are counted and reported by the caller, once.
            warnings.filterwarnings("ignore", message=_UNSEEN_WARNING, category=DataWarning)
            y_pred = model.predict(X)
            proba = _scores(model, X) if classes is not None else None
    return Predicted(labels, seen, usable, y_pred, proba, classes)


def _id_values(df: pd.DataFrame, id_column: str | None) -> tuple[str, pd.Series]:
    from fairmtl.data._validation import did_you_mean

    if id_column is None:
        return "row", pd.Series(np.arange(len(df)), index=df.index)
    if id_column not in df.columns:
        raise DataValidationError(
            MSG_ID_COLUMN_MISSING.format(
                column=id_column,
                hint=did_you_mean(id_column, df.columns),
                available=", ".join(map(repr, df.columns[:20])),
            )
        )
    return id_column, df[id_column]


def predict_table(
    model: Any, schema: Schema, df: pd.DataFrame, *, id_column: str | None = None
) -> PredictOutcome:
    """Predict every row of ``df``, in order, whatever its group or missing values.

    Rows of groups not seen in fit are predicted with the model's shared part; a model
    without one (``sharing="independent"``) leaves them without a prediction (empty
    ``prediction`` and probabilities, ``group`` = :data:`UNPREDICTED_GROUP`). A missing
    group value counts as an unseen group. Missing feature values are imputed by the
    pipeline; no row is dropped.

    Parameters
    ----------
    model : Pipeline
        A fitted pipeline from :func:`fit_table` (loaded with ``load_model``).
    schema : Schema
        Its schema.
    df : DataFrame
        New rows with the feature and group columns.
    id_column : str or None, default=None
        A column copied into the output to identify rows; None uses the schema's id
        column when the data has it, else a ``row`` number (0-based).

    Returns
    -------
    outcome : PredictOutcome
    """
    extra = check_schema(df, schema)
    if id_column is None and schema.id_column in df.columns:
        id_column = schema.id_column
    id_name, ids = _id_values(df, id_column)
    extra = [c for c in extra if c != id_column]
    found = predict_rows(model, schema, df)
    n = len(df)
    out = pd.DataFrame({id_name: ids.to_numpy()})
    prediction = np.full(n, None, dtype=object)
    if found.y_pred is not None:
        prediction[found.usable] = found.y_pred
    out["prediction"] = pd.Series(prediction).infer_objects()
    if found.classes is not None and found.proba is not None:
        for k, label in enumerate(found.classes):
            column = np.full(n, np.nan)
            column[found.usable] = found.proba[:, k]
            out[f"proba_{label}"] = column
    group = np.where(found.seen, found.labels, SHARED_GROUP).astype(object)
    group[~found.usable] = UNPREDICTED_GROUP
    out["group"] = group
    unseen_labels = pd.Series(found.labels[~found.seen])
    unseen = {str(k): int(v) for k, v in unseen_labels.value_counts(sort=False).items()}
    n_imputed = int(df[list(schema.features)].isna().any(axis=1).sum())
    return PredictOutcome(
        predictions=out,
        unseen=unseen,
        n_shared=int((~found.seen & found.usable).sum()),
        n_unpredicted=int((~found.usable).sum()),
        n_imputed=n_imputed,
        extra_columns=extra,
    )
