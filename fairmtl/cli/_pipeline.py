"""What a CLI command fits: the training table its data options describe
(:class:`TableOptions`), and a FairMTL estimator behind a preprocessing pipeline."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fairmtl.cli._options import split_names
from fairmtl.data import Schema, TrainingTable, load_training_table, make_preprocessor
from fairmtl.data._table import Task
from fairmtl.exceptions import DataValidationError

__all__ = ["MSG_GROUP_IS_NUMERIC_FEATURE", "TableOptions", "build_estimator", "build_pipeline"]

MSG_GROUP_IS_NUMERIC_FEATURE = (
    "Column {column!r} is both a group column and a numeric feature. A group column is "
    "passed to the model untouched; list it as a feature only if it is categorical "
    "(or leave it out of --features)."
)


@dataclass
class TableOptions:
    """The data options of ``fit``, ``transfer``, ``frontier`` and ``run``: how to read
    the training table, with column names already split.

    The fields are the arguments of :func:`fairmtl.data.load_training_table` (``groups``
    for ``--group``); :class:`fairmtl.cli._frontier.FrontierConfig` adds the options of
    a frontier run to them.
    """

    data: Path
    target: str
    groups: tuple[str, ...]
    features: tuple[str, ...] = ()
    drop: tuple[str, ...] = ()
    sep: str | None = None
    na_values: tuple[str, ...] | None = None
    id_column: str | None = None
    task: str = "auto"
    categorical: tuple[str, ...] = ()
    encoding: str = "utf-8"
    on_missing_target: str = "drop"

    @classmethod
    def from_cli(
        cls,
        data: Path,
        target: str,
        group: Sequence[str] | str | None,
        *,
        features: Sequence[str] | None = None,
        drop: Sequence[str] | None = None,
        categorical: Sequence[str] | None = None,
        na_values: Sequence[str] | None = None,
        **options: Any,
    ) -> TableOptions:
        """The options as the command line gives them: column names from repeated,
        comma-separated options (:func:`fairmtl.cli._options.split_names`)."""
        return cls(
            data,
            target,
            split_names(group),
            features=split_names(features),
            drop=split_names(drop),
            categorical=split_names(categorical),
            na_values=tuple(na_values) if na_values is not None else None,
            **options,
        )

    @classmethod
    def from_context(cls, ctx: Any) -> TableOptions:
        """:meth:`from_cli` on the data options of a command's parsed parameters
        (``ctx.params`` of typer / click: the command's options under their own names).
        click keeps a repeatable option that was not given as ``()`` where typer passes
        None; for ``--na-values`` the two differ (None: the default markers)."""
        p = ctx.params
        names = ("features", "drop", "sep", "id_column", "task", "categorical", "encoding",
                 "on_missing_target")  # fmt: skip
        options = {n: p[n] for n in names}
        return cls.from_cli(
            p["data"], p["target"], p["group"], na_values=p["na_values"] or None, **options
        )

    def read(self) -> TrainingTable:
        """Read and check the table (:func:`fairmtl.data.load_training_table`).

        Returns
        -------
        table : TrainingTable
        """
        return load_training_table(
            self.data,
            target=self.target,
            groups=self.groups,
            features=self.features or None,
            drop=self.drop,
            id_column=self.id_column,
            sep=self.sep,
            na_values=self.na_values,
            task=self.task,
            categorical=self.categorical,
            encoding=self.encoding,
            on_missing_target=self.on_missing_target,
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
