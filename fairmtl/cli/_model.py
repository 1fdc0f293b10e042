"""Fitting a model on a table and predicting new rows, whatever their group.

Plain functions that return data; the typer commands in :mod:`fairmtl.cli._commands_fit`
and :mod:`fairmtl.cli._commands_model` only display it.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from fairmtl.cli._fingerprint import row_fingerprint
from fairmtl.cli._pipeline import build_pipeline
from fairmtl.data import Schema, TrainingTable, group_labels
from fairmtl.data._table import Task
from fairmtl.data._unseen import SHARED_GROUP, UNPREDICTED_GROUP, GroupRouting, route_groups
from fairmtl.exceptions import DataValidationError, DataWarning, SmallGroupWarning
from fairmtl.frontier import _progress as progress
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
MSG_SMALL_GROUPS = (
    "{count} group(s) have fewer than {least} rows (--min-group-size): {names}. Their "
    "fit and figures are uncertain: collect more rows, or leave those groups out."
)


@dataclass
class FitOutcome:
    """A pipeline fitted on every row and its per-group figures.

    Attributes
    ----------
    model : Pipeline
        Fitted on all rows of the table.
    table : TrainingTable
    metrics : DataFrame
        Columns ``split`` ("train": the model on its own training rows, "validation":
        out-of-fold predictions of the cross-validation), ``group``, ``metric``,
        ``value``, ``n``.
    headline : str
        The metric whose worst group is reported.
    worst : dict
        Split -> ``{"group", "value"}``: the worst group by ``headline``.
    cv : int
        Folds of the cross-validation (0: none, no validation figures).
    fingerprint : dict
        :func:`row_fingerprint` of the training rows, saved with the model.
    """

    model: Any
    table: TrainingTable
    metrics: pd.DataFrame
    headline: str
    worst: dict[str, dict[str, Any]] = field(default_factory=dict)
    cv: int = 0
    fingerprint: dict[str, Any] = field(default_factory=dict)


def _scores(model: Any, X: pd.DataFrame) -> np.ndarray | None:
    if not hasattr(model, "predict_proba"):
        return None
    return model.predict_proba(X)


def _split_metrics(
    y: pd.Series,
    labels: np.ndarray,
    task: Task,
    y_pred: np.ndarray,
    y_score: np.ndarray | None,
    classes: np.ndarray | None,
) -> pd.DataFrame:
    from fairmtl.metrics import group_metrics

    names = list(FIT_METRICS[task])
    if task == "classification" and y_score is None:
        names = [n for n in names if n != "log_loss"]
    return group_metrics(
        y.to_numpy(),
        groups=labels,
        y_pred=y_pred,
        y_score=y_score,
        metrics=names,
        task=task,
        labels=classes,
    )


def _worst(metrics: pd.DataFrame, metric: str) -> dict[str, Any]:
    from fairmtl.metrics import disparities

    found = disparities(metrics, metric)
    return {"group": found["worst_group"], "value": found["worst_value"]}


def _folds(table: TrainingTable, labels: np.ndarray, cv: int, seed: int) -> list[tuple]:
    """Folds stratified by group (and label, for classification), shuffled by ``seed``."""
    from sklearn.model_selection import StratifiedKFold

    key = pd.Series(labels, dtype=object)
    if table.task == "classification":
        key = key + "\x1f" + table.y.astype(str).to_numpy()
    with warnings.catch_warnings():
        # strata smaller than cv (a tiny group) are spread over fewer folds: expected
        warnings.filterwarnings("ignore", message=".*least populated class.*")
        splitter = StratifiedKFold(n_splits=cv, shuffle=True, random_state=seed)
        return list(splitter.split(np.zeros(len(key)), key.to_numpy()))


def _cross_validated(
    table: TrainingTable, labels: np.ndarray, cv: int, seed: int, params: dict[str, Any]
) -> pd.DataFrame:
    """Per-group figures of out-of-fold predictions (each row predicted by a model that
    did not see it)."""
    X, y = table.model_input, table.y
    y_pred = np.empty(len(y), dtype=object)
    y_score: np.ndarray | None = None
    classes = None
    folds = _folds(table, labels, cv, seed)
    for k, (train, held) in enumerate(folds):
        progress.stage(f"cross-validation fit {k + 1} of {len(folds)}")
        model = build_pipeline(table.schema, table.task, **params)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=_UNSEEN_WARNING, category=DataWarning)
            warnings.filterwarnings("ignore", category=SmallGroupWarning)
            model.fit(X.iloc[train], y.iloc[train])
            y_pred[held] = model.predict(X.iloc[held])
            proba = _scores(model, X.iloc[held])
        classes = getattr(model, "classes_", None)
        if proba is not None:
            if y_score is None:
                y_score = np.zeros((len(y), proba.shape[1]))
            if proba.shape[1] == y_score.shape[1]:
                y_score[held] = proba
            else:  # a fold without some class: no probabilities for this split
                y_score = None
                break
    y_pred = pd.Series(y_pred).infer_objects().to_numpy()
    score = y_score
    if score is not None and classes is not None and len(classes) == 2:
        score = score[:, 1]
    return _split_metrics(y, labels, table.task, y_pred, score, classes)


def _warn_small_groups(labels: np.ndarray, min_group_size: int) -> None:
    """Name the groups with fewer rows than ``--min-group-size``, with the options the
    command line has (the library's own warning names Python arguments)."""
    counts = pd.Series(labels).value_counts(sort=False)
    small = counts[counts < min_group_size].sort_values()
    if small.empty:
        return
    names = ", ".join(f"{g!r} ({n} rows)" for g, n in list(small.items())[:5])
    more = f" and {len(small) - 5} more" if len(small) > 5 else ""
    warnings.warn(
        MSG_SMALL_GROUPS.format(count=len(small), least=min_group_size, names=names + more),
        SmallGroupWarning,
        stacklevel=3,
    )


def fit_table(
    table: TrainingTable,
    *,
    cv: int = 5,
    seed: int = 0,
    min_group_size: int = 1,
    **params: Any,
) -> FitOutcome:
    """Fit the pipeline on every row; validation figures from cross-validation.

    The saved model is the one a scikit-learn user expects: fitted on all the rows it
    was given, so that it does not depend on a random split or on the rows' order.
    Its validation figures come from ``cv``-fold cross-validation stratified by group
    (and label): each row is predicted by a model that did not see it.

    Parameters
    ----------
    table : TrainingTable
        From :func:`fairmtl.data.load_training_table`.
    cv : int, default=5
        Folds of the cross-validation (``cv + 1`` fits in all); 0 skips it.
    seed : int, default=0
        Seed of the folds.
    min_group_size : int, default=1
        Groups with fewer rows draw a :class:`SmallGroupWarning`.
    **params
        Estimator parameters (objective, sharing, epsilon, alpha, ...).

    Returns
    -------
    outcome : FitOutcome
    """
    labels = group_labels(table.groups)
    _warn_small_groups(labels, min_group_size)
    model = build_pipeline(table.schema, table.task, **params)
    X, y = table.model_input, table.y
    progress.stage(f"fitting the model on all {len(y):,} rows")
    model.fit(X, y)
    y_score = _scores(model, X) if table.task == "classification" else None
    classes = getattr(model, "classes_", None)
    if y_score is not None and classes is not None and len(classes) == 2:
        y_score = y_score[:, 1]
    parts = [
        _split_metrics(y, labels, table.task, model.predict(X), y_score, classes).assign(
            split="train"
        )
    ]
    if cv >= 2:
        parts.append(_cross_validated(table, labels, cv, seed, params).assign(split="validation"))
    metrics = pd.concat(parts, ignore_index=True)
    metrics = metrics[["split", "group", "metric", "value", "n"]]
    headline = FIT_METRICS[table.task][0]
    worst = {
        name: _worst(metrics[metrics["split"] == name], headline)
        for name in metrics["split"].unique()
    }
    fingerprint = row_fingerprint(table.frame, table.model_input.columns, seed=seed)
    return FitOutcome(model, table, metrics, headline, worst, cv if cv >= 2 else 0, fingerprint)


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

    routing: GroupRouting
    y_pred: np.ndarray | None
    proba: np.ndarray | None
    classes: np.ndarray | None


def _estimator(model: Any) -> Any:
    return model.steps[-1][1] if hasattr(model, "steps") else model


def predict_rows(model: Any, schema: Schema, df: pd.DataFrame) -> Predicted:
    estimator = _estimator(model)
    routing = route_groups(
        df,
        schema.groups,
        estimator.groups_,
        has_shared_part=bool(getattr(estimator, "has_shared_part_", True)),
    )
    X = df.copy()  # the caller's frame is not modified
    X[list(schema.groups)] = routing.groups
    columns = list(dict.fromkeys([*schema.features, *schema.groups]))
    X = X[columns].iloc[np.flatnonzero(routing.usable)]
    classes = getattr(model, "classes_", None)
    y_pred = proba = None
    if len(X):
        with warnings.catch_warnings():
            # Unseen groups are counted and reported by the caller, once.
            warnings.filterwarnings("ignore", message=_UNSEEN_WARNING, category=DataWarning)
            y_pred = model.predict(X)
            proba = _scores(model, X) if classes is not None else None
    return Predicted(routing, y_pred, proba, classes)


def _id_values(df: pd.DataFrame, id_column: str | None) -> tuple[str, pd.Series]:
    from fairmtl._suggest import did_you_mean

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
    routing = found.routing
    n = len(df)
    out = pd.DataFrame({id_name: ids.to_numpy()})
    prediction = np.full(n, None, dtype=object)
    if found.y_pred is not None:
        prediction[routing.usable] = found.y_pred
    out["prediction"] = pd.Series(prediction).infer_objects()
    if found.classes is not None and found.proba is not None:
        for k, label in enumerate(found.classes):
            column = np.full(n, np.nan)
            column[routing.usable] = found.proba[:, k]
            out[f"proba_{label}"] = column
    out["group"] = routing.output_groups()
    n_imputed = int(df[list(schema.features)].isna().any(axis=1).sum())
    return PredictOutcome(
        predictions=out,
        unseen=routing.unseen_counts(),
        n_shared=int((~routing.seen & routing.usable).sum()),
        n_unpredicted=int((~routing.usable).sum()),
        n_imputed=n_imputed,
        extra_columns=extra,
    )
