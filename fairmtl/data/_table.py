"""Reading the user's table: from a file (or a DataFrame) to a validated training table.

:func:`load_training_table` reads the file (group and id columns as text), resolves the
schema, decides the task (:func:`detect_task`), handles missing targets and warns about
messy columns, all before any split; it returns a :class:`TrainingTable` of plain data.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from fairmtl.data._io import read_table
from fairmtl.data._messy import (
    parse_thousands,
    warn_index_columns,
    warn_similar_labels,
    warn_target_leaks,
)
from fairmtl.data._schema import Schema
from fairmtl.data._validation import check_numeric_columns, validate_target
from fairmtl.exceptions import DataValidationError

__all__ = [
    "REGRESSION_MIN_DISTINCT",
    "Task",
    "TrainingTable",
    "detect_task",
    "file_sha256",
    "load_training_table",
    "read_data",
]

#: A numeric target with more distinct values than this is a regression target.
REGRESSION_MIN_DISTINCT = 20
_PARQUET = (".parquet", ".pq")

Task = Literal["classification", "regression"]

MSG_BAD_TASK = "task must be 'auto', 'classification' or 'regression'. Got {task!r}."
MSG_REGRESSION_NOT_NUMERIC = (
    "Target {column!r} is not numeric, so it cannot be a regression target. "
    "Use --task classification, or pick a numeric target."
)


def file_sha256(path: str | os.PathLike[str]) -> str:
    """The SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _is_parquet(path: Path) -> bool:
    return any(s.lower() in _PARQUET for s in path.suffixes[-1:])


def _as_labels(column: pd.Series) -> pd.Series:
    """A column as text labels, missing values kept missing."""
    return column.astype(object).where(column.isna(), column.astype(str))


def read_data(
    path: str | os.PathLike[str],
    *,
    sep: str | None = None,
    text_columns: Sequence[str] = (),
    na_values: Sequence[str] | None = None,
    encoding: str = "utf-8",
) -> pd.DataFrame:
    """Read a table, keeping group and id columns as text (``"007"`` stays ``"007"``).

    Parameters
    ----------
    path : str or path-like
        CSV, TSV, gzip'd CSV or Parquet (see :func:`fairmtl.data.read_table`).
    sep : str or None, default=None
        The delimiter of a text file; sniffed when None.
    text_columns : sequence of str, default=()
        Columns read as text, so that group labels are the same in every file; only an
        empty field is missing there unless ``na_values`` is given.
    na_values : sequence of str or None, default=None
        The text read as missing (see :func:`fairmtl.data.read_table`).
    encoding : str, default="utf-8"
        The text encoding of a text file, e.g. ``"latin-1"``.

    Returns
    -------
    frame : DataFrame
    """
    path = Path(path)
    if _is_parquet(path):
        frame = read_table(path)
    else:
        frame = read_table(
            path,
            sep=sep,
            dtype=dict.fromkeys(text_columns, str) or None,
            na_values=na_values,
            literal_columns=text_columns,
            encoding=encoding,
        )
    for column in text_columns:
        if column in frame.columns:
            frame[column] = _as_labels(frame[column])
    return parse_thousands(frame, skip=text_columns)


def detect_task(y: pd.Series, task: str = "auto") -> Task:
    """Classification or regression: a numeric target with many values is regression.

    Parameters
    ----------
    y : Series
        The target (missing values are ignored).
    task : {"auto", "classification", "regression"}, default="auto"
        An explicit choice is returned as is (checked for regression).

    Returns
    -------
    task : {"classification", "regression"}
        With "auto": regression when the target is numeric and has more than
        :data:`REGRESSION_MIN_DISTINCT` distinct values.
    """
    if task not in ("auto", "classification", "regression"):
        raise DataValidationError(MSG_BAD_TASK.format(task=task))
    values = y.dropna()
    numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
    if task == "regression":
        if not numeric and pd.to_numeric(values, errors="coerce").isna().any():
            raise DataValidationError(MSG_REGRESSION_NOT_NUMERIC.format(column=y.name))
        return "regression"
    if task == "classification":
        return "classification"
    return (
        "regression" if numeric and values.nunique() > REGRESSION_MIN_DISTINCT else "classification"
    )


@dataclass
class TrainingTable:
    """A validated training table: the rows kept and their parts.

    Attributes
    ----------
    frame : DataFrame
        The rows whose target is present, with their original index.
    schema : Schema
        Resolved on ``frame``.
    task : {"classification", "regression"}
    X : DataFrame
        The raw feature columns (categorical ones as text).
    y : Series
        The target.
    groups : Series or DataFrame
        The group column(s).
    rows_dropped : int
        Rows left out because their target was missing.
    source : str
        Where the data came from (a path or a description).
    sha256 : str or None
        The SHA-256 of the source file.
    """

    frame: pd.DataFrame
    schema: Schema
    task: Task
    X: pd.DataFrame
    y: pd.Series
    groups: pd.Series | pd.DataFrame
    rows_dropped: int
    source: str
    sha256: str | None

    @property
    def model_input(self) -> pd.DataFrame:
        """The features and group columns: what the fit pipeline takes."""
        columns = list(dict.fromkeys([*self.schema.features, *self.schema.groups]))
        return self.frame[columns]


def load_training_table(
    data: str | os.PathLike[str] | pd.DataFrame,
    *,
    target: str,
    groups: Sequence[str],
    features: Sequence[str] | None = None,
    drop: Sequence[str] = (),
    id_column: str | None = None,
    sep: str | None = None,
    task: str = "auto",
    source: str | None = None,
    na_values: Sequence[str] | None = None,
    categorical: Sequence[str] = (),
    encoding: str = "utf-8",
    on_missing_target: str = "drop",
) -> TrainingTable:
    """Read and validate training data: schema, task, and rows with a target.

    Parameters
    ----------
    data : path or DataFrame
        The file to read (see :func:`read_data`) or a table (not modified).
    target : str
        The column to predict.
    groups : sequence of str
        The group column(s); several give intersection groups.
    features : sequence of str or None, default=None
        The features; None: every other column.
    drop : sequence of str, default=()
        Columns to ignore.
    id_column : str or None, default=None
        A row identifier, not a feature.
    sep : str or None, default=None
        The delimiter of a text file.
    task : {"auto", "classification", "regression"}, default="auto"
        See :func:`detect_task`.
    source : str or None, default=None
        Description of the data for reports; the path by default.
    na_values : sequence of str or None, default=None
        The text read as missing in a file (see :func:`fairmtl.data.read_table`).
    categorical : sequence of str, default=()
        Features to treat as categories even though they hold numbers (codes).
    encoding : str, default="utf-8"
        The text encoding of a text file.
    on_missing_target : {"drop", "error"}, default="drop"
        Drop rows without a target (with a warning), or refuse them.

    Returns
    -------
    table : TrainingTable

    Raises
    ------
    DataValidationError
        For a missing column (with the closest name), no usable row, a target with one
        class, or any of :func:`fairmtl.data.read_table`'s errors.
    """
    groups = tuple(groups)
    text_columns = [*groups, *([id_column] if id_column else [])]
    sha256 = None
    if isinstance(data, pd.DataFrame):
        frame = data.copy()  # the caller's table is not modified
        for column in text_columns:
            if column in frame.columns:
                frame[column] = _as_labels(frame[column])
        source = source or "DataFrame"
    else:
        frame = read_data(
            data, sep=sep, text_columns=text_columns, na_values=na_values, encoding=encoding
        )
        sha256 = file_sha256(data)
        source = source or str(data)
    schema = Schema(
        target=target,
        groups=groups,
        features=tuple(features) if features else None,
        drop=tuple(drop),
        id_column=id_column,
        categorical=tuple(categorical),
    )
    schema = schema.resolve(frame)
    y = frame[schema.target]
    kind = detect_task(y, task)
    keep = validate_target(y, task=kind, column=schema.target, on_missing_target=on_missing_target)
    rows_dropped = int((~keep).sum())
    _check_messy(frame, schema, keep, kind)
    frame = frame[keep]
    if kind == "classification":
        frame = frame.assign(**{schema.target: _integral_labels(frame[schema.target])})
    parts = schema.select(frame)
    return TrainingTable(
        frame=frame,
        schema=schema,
        task=kind,
        X=parts.X,
        y=parts.y,
        groups=parts.groups,
        rows_dropped=rows_dropped,
        source=source,
        sha256=sha256,
    )


def _check_messy(frame: pd.DataFrame, schema: Schema, keep: pd.Series, task: Task) -> None:
    """Errors and warnings about the whole table, naming its real rows, before any split:
    bad numbers, saved row indexes, features that give the target away, and labels that
    differ only in form."""
    kept = frame[keep]
    check_numeric_columns(kept, schema.numeric_features)
    warn_index_columns(frame, schema.features)
    warn_target_leaks(kept, schema.target, schema.features, task)
    if task == "classification":
        warn_similar_labels(
            kept[schema.target], column=schema.target, what="Target column", kinds="classes"
        )
    for column in schema.groups:
        warn_similar_labels(kept[column], column=column, what="Group column", kinds="groups")


def _integral_labels(y: pd.Series) -> pd.Series:
    """Float class labels that are whole numbers (1.0, read so because of a missing value)
    as integers, so that classes and output columns read ``1``, not ``1.0``."""
    if pd.api.types.is_float_dtype(y) and np.all(np.mod(y.to_numpy(), 1) == 0):
        return y.astype(np.int64)
    return y
