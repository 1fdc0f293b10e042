"""The search's data: rows without a target dropped, the split, the preprocessing.

The rows are split by group x label into train, validation and test; the preprocessing
(when the features need one) is fitted on the training rows only.
"""

from __future__ import annotations

import warnings
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer

from fairmtl.data import (
    SplitResult,
    group_labels,
    make_preprocessor,
    train_val_test_split,
    validate_target,
)
from fairmtl.exceptions import DataWarning
from fairmtl.frontier._records import SplitData

__all__ = ["MSG_CHOSEN_ON_TEST", "Prepared", "Rows", "preprocess", "search_rows", "split_rows"]

MSG_CHOSEN_ON_TEST = (
    "val_size=0: there are no validation rows, so the model is chosen on the test rows, "
    "and its test scores are optimistic (they took part in the choice). Keep validation "
    "rows (e.g. val_size=0.2) for honest test scores."
)


class Rows(NamedTuple):
    """The raw rows of a search, each with a target."""

    X: Any
    """The raw features (a DataFrame or an array)."""
    y: np.ndarray
    labels: np.ndarray
    """Each row's group label (object array; several columns merged)."""
    weights: np.ndarray | None


class Prepared(NamedTuple):
    """The split's rows, preprocessed, and the preprocessing."""

    data: dict[str, SplitData]
    """"train", "val" and "test"."""
    preprocessor: ColumnTransformer | None
    feature_names: list[str] | None


def search_rows(
    X, y, groups, sample_weight, *, task: str, column: str, data_info: dict[str, Any] | None
) -> tuple[Rows, dict[str, Any] | None]:
    """The rows with a target, and ``data_info`` with the rows dropped added up.

    Rows without a target are dropped with a DataWarning giving the count
    (:func:`fairmtl.data.validate_target`).
    """
    labels = np.asarray(group_labels(groups), dtype=object)
    y = np.asarray(y)
    weights = None if sample_weight is None else np.asarray(sample_weight, dtype=float)
    keep = validate_target(y, task=task, column=column)
    if not keep.all():
        X = X[keep] if isinstance(X, pd.DataFrame) else np.asarray(X)[keep]
        y, labels = y[keep], labels[keep]
        weights = None if weights is None else weights[keep]
        data_info = dict(data_info or {})
        data_info["rows_dropped"] = int(data_info.get("rows_dropped", 0)) + int((~keep).sum())
    return Rows(X, y, labels, weights), data_info


def split_rows(rows: Rows, *, val_size: float, test_size: float, random_state) -> SplitResult:
    """Train, validation and test rows, by group x label; warns when nothing validates."""
    split = train_val_test_split(
        rows.X,
        rows.y,
        rows.labels,
        val_size=val_size,
        test_size=test_size,
        random_state=random_state,
    )
    if len(split.val) == 0 and len(split.test):
        warnings.warn(MSG_CHOSEN_ON_TEST, DataWarning, stacklevel=3)
    return split


def preprocess(rows: Rows, split: SplitResult) -> Prepared:
    """Each split's rows as numbers: preprocessed when the features need it.

    A DataFrame with non-numeric or missing values gets :func:`fairmtl.data.make_preprocessor`,
    fitted on the training rows; other features are taken as they are.
    """
    X = rows.X
    frame = isinstance(X, pd.DataFrame)
    needs = frame and (
        any(not pd.api.types.is_numeric_dtype(X[c]) for c in X.columns)
        or bool(X.isna().to_numpy().any())
    )
    preprocessor = None
    parts = {"train": split.train, "val": split.val, "test": split.test}
    if needs:
        preprocessor = make_preprocessor(X).fit(X.iloc[split.train])
        transform = preprocessor.transform
    else:
        transform = lambda A: np.asarray(A, dtype=float)  # noqa: E731
    data: dict[str, SplitData] = {}
    for name, at in parts.items():
        Xp = transform(X.iloc[at] if frame else np.asarray(X)[at])
        w = None if rows.weights is None else rows.weights[at]
        data[name] = SplitData(np.asarray(Xp, dtype=float), rows.y[at], rows.labels[at], w)
    names = list(preprocessor.get_feature_names_out()) if needs else None
    return Prepared(data, preprocessor, names)
