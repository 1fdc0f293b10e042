"""The model a CLI command fits: a FairMTL estimator, behind a preprocessing pipeline."""

from __future__ import annotations

from typing import Any

from fairmtl.data import Schema, make_preprocessor
from fairmtl.data._table import Task
from fairmtl.exceptions import DataValidationError

__all__ = ["MSG_GROUP_IS_NUMERIC_FEATURE", "build_estimator", "build_pipeline"]

MSG_GROUP_IS_NUMERIC_FEATURE = (
    "Column {column!r} is both a group column and a numeric feature. A group column is "
    "passed to the model untouched; list it as a feature only if it is categorical "
    "(or leave it out of --features)."
)


def build_estimator(
    task: Task, *, group_column: str | list[str] | None = None, **params: Any
) -> Any:
    """A FairMTLClassifier or FairMTLRegressor with the given parameters.

    Parameters
    ----------
    task : {"classification", "regression"}
    group_column : str, list of str or None, default=None
        The group column(s) of the DataFrame the estimator will receive.
    **params
        Estimator parameters; None values are left at the estimator's default.

    Returns
    -------
    estimator : FairMTLClassifier or FairMTLRegressor
    """
    from fairmtl.estimators import FairMTLClassifier, FairMTLRegressor

    cls = FairMTLClassifier if task == "classification" else FairMTLRegressor
    chosen = {k: v for k, v in params.items() if v is not None}
    return cls(group_column=group_column, **chosen)


def build_pipeline(schema: Schema, task: Task, **params: Any) -> Any:
    """``Pipeline([("prep", ColumnTransformer), ("model", FairMTL estimator)])``.

    The ColumnTransformer preprocesses the features (:func:`make_preprocessor`) and
    passes the group column(s) through untouched, as a pandas DataFrame, so that the
    estimator finds them by name (``group_column``).

    Parameters
    ----------
    schema : Schema
        Resolved on the training data.
    task : {"classification", "regression"}
    **params
        Estimator parameters (see :func:`build_estimator`).

    Returns
    -------
    pipeline : sklearn.pipeline.Pipeline
        Unfitted; it takes a DataFrame with the feature and group columns.
    """
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline

    for column in schema.groups:
        if column in schema.numeric_features:
            raise DataValidationError(MSG_GROUP_IS_NUMERIC_FEATURE.format(column=column))
    features = make_preprocessor(schema)
    prep = ColumnTransformer(
        [*features.transformers, ("groups", "passthrough", list(schema.groups))],
        remainder="drop",
        verbose_feature_names_out=False,
    ).set_output(transform="pandas")
    group_column: str | list[str] = (
        schema.groups[0] if len(schema.groups) == 1 else list(schema.groups)
    )
    model = build_estimator(task, group_column=group_column, **params)
    return Pipeline([("prep", prep), ("model", model)])
