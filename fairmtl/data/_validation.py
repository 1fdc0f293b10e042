"""Checks on single columns: targets, numeric features, missing and infinite values.

Every error names the column, the offending value and its row, and says how to fix it.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from typing import Any, Literal

import numpy as np
import pandas as pd

from fairmtl.exceptions import DataValidationError, DataWarning

__all__ = [
    "NUMERIC_SHARE",
    "check_finite",
    "check_no_missing",
    "check_numeric_values",
    "infer_column_kind",
    "check_magnitude",
    "check_numeric_columns",
    "validate_target",
]

#: An object column whose non-missing values parse as numbers at least this often is a
#: numeric column with a few bad values, not a categorical one.
NUMERIC_SHARE = 0.95

MSG_BAD_TASK = "task must be 'classification' or 'regression'. Got {task!r} instead."
MSG_BAD_ON_MISSING = "on_missing_target must be 'drop' or 'error'. Got {value!r} instead."
MSG_TARGET_EMPTY = "Target column {column!r} has no rows."
MSG_TARGET_ALL_MISSING = (
    "Target column {column!r} is missing in all {n} rows: there is nothing to learn from. "
    "Check that {column!r} is the right target column."
)
MSG_TARGET_MISSING_ERROR = (
    "Target column {column!r} is missing in {count} of {n} rows (first at row {row!r}). "
    "Fill or drop those rows, or let fairmtl drop them (on_missing_target='drop'; on the "
    "command line: --on-missing-target drop)."
)
MSG_TARGET_MISSING_DROPPED = (
    "Dropped {count} of {n} rows because target column {column!r} is missing there "
    "(first at row {row!r}). Pass on_missing_target='error' (on the command line: "
    "--on-missing-target error) to refuse such data instead."
)
MSG_ONE_CLASS = (
    "Target column {column!r} has a single class ({value!r}) in all {n} rows: a classifier "
    "needs at least two. Check the target column, or the filter that selected these rows."
)
MSG_CONTINUOUS_CLASSIFICATION = (
    "Target column {column!r} holds continuous values ({n_unique} distinct, e.g. {value!r}), "
    "not class labels. Use a regressor (FairMTLRegressor, --task regression) or bin the target."
)
MSG_TARGET_NOT_NUMERIC = (
    "Regression target column {column!r} must be numeric, but row {row!r} holds {value!r}. "
    "Clean that value (and others like it) or drop those rows."
)
MSG_TARGET_INFINITE = (
    "Regression target column {column!r} holds an infinite value ({value!r}) at row {row!r} "
    "({count} such rows). Replace or drop them."
)
MSG_NUMERIC_BAD_VALUE = (
    "Column {column!r} is numeric, but row {row!r} holds {value!r}, which is not a number "
    "({count} such values). Clean the value(s), or mark {column!r} as categorical "
    "(Schema(categorical=...) or --categorical {column})."
)
MSG_MISSING_VALUES = (
    "Missing values are not allowed with impute=False, but found: {details}. "
    "Fill or drop those rows, or pass impute=True."
)
MSG_INFINITE_VALUES = (
    "Column {column!r} holds {count} infinite value(s) (first {value!r} at row {row!r}; "
    "a number beyond \u00b11.8e308, such as 1e309, reads as infinite). Replace them with a "
    "finite number or mark them missing."
)
#: Values beyond this magnitude overflow when squared (standardising, solving).
TOO_LARGE_TO_COMPUTE = 1e150
MSG_TOO_LARGE_TO_COMPUTE = (
    "Column {column!r} holds {count} value(s) too large to compute with (first {value!r} "
    "at row {row!r}; beyond \u00b11e150 their squares overflow, so standardising would "
    "turn the column into missing values). Rescale the column (e.g. log or divide), or "
    "mark those values missing."
)
MSG_DATETIME_COLUMN = (
    "Column {column!r} holds dates or times, which fairmtl cannot use directly as a feature. "
    "Derive numeric features from it (year, month, day of week) or drop it."
)


def plain(value: Any) -> Any:
    """A numpy scalar as the Python scalar it holds, so that messages read ``inf``, not
    ``np.float64(inf)``."""
    return value.item() if isinstance(value, np.generic) else value


def _as_series(values: Any, column: str | None = None) -> pd.Series:
    """A Series view of ``values`` whose index gives the row labels used in messages."""
    if isinstance(values, pd.Series):
        return values
    if isinstance(values, pd.DataFrame):
        if values.shape[1] != 1:
            raise DataValidationError(
                f"Expected one column for {column!r}, got {values.shape[1]} columns."
            )
        return values.iloc[:, 0]
    array = values if isinstance(values, np.ndarray) else np.asarray(values, dtype=object)
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 1:
        raise DataValidationError(f"Expected one column for {column!r}, got shape {array.shape}.")
    series = pd.Series(array, name=column)
    return series.infer_objects() if array.dtype == object else series


def _coerce_numeric(series: pd.Series) -> pd.Series:
    """Parse a column as numbers; values that are not numbers become NaN."""
    if pd.api.types.is_bool_dtype(series.dtype):
        return series.astype("float64")
    if pd.api.types.is_numeric_dtype(series.dtype):
        return series.astype("float64")
    return pd.to_numeric(series.astype(object), errors="coerce").astype("float64")


def _bad_numeric(series: pd.Series) -> pd.Series:
    """Boolean mask of values that are present but do not parse as numbers."""
    parsed = _coerce_numeric(series)
    return parsed.isna() & series.notna()


def check_numeric_values(values: Any, *, column: str) -> np.ndarray:
    """Parse a numeric column, refusing values that are not numbers.

    Parameters
    ----------
    values : array-like of shape (n_samples,)
        The column.
    column : str
        Its name, used in the error message.

    Returns
    -------
    parsed : ndarray of shape (n_samples,), dtype float64
        Missing values are NaN.

    Raises
    ------
    DataValidationError
        Naming the column, the first bad value and its row (:data:`MSG_NUMERIC_BAD_VALUE`).
    """
    series = _as_series(values, column)
    parsed = _coerce_numeric(series)
    bad = parsed.isna() & series.notna()
    if bad.any():
        row = plain(bad.idxmax())
        raise DataValidationError(
            MSG_NUMERIC_BAD_VALUE.format(
                column=column, row=row, value=plain(series.loc[row]), count=int(bad.sum())
            )
        )
    return parsed.to_numpy(dtype="float64")


def infer_column_kind(values: Any, *, column: str) -> Literal["numeric", "categorical"]:
    """Decide whether a feature column is numeric or categorical.

    The rule: a column is numeric when pandas holds it in a numeric (or boolean) dtype.
    A text column whose non-missing values are all numbers is numeric too; one whose
    values are numbers at least ``NUMERIC_SHARE`` (95%) of the time, but not always, is a
    numeric column with bad values and is refused. Any other text column is categorical.

    Parameters
    ----------
    values : array-like of shape (n_samples,)
        The column.
    column : str
        Its name, used in messages.

    Returns
    -------
    kind : {"numeric", "categorical"}

    Raises
    ------
    DataValidationError
        For a mostly-numeric column with bad values (:data:`MSG_NUMERIC_BAD_VALUE`) and
        for date/time columns (:data:`MSG_DATETIME_COLUMN`).
    """
    series = _as_series(values, column)
    dtype = series.dtype
    if pd.api.types.is_datetime64_any_dtype(dtype) or pd.api.types.is_timedelta64_dtype(dtype):
        raise DataValidationError(MSG_DATETIME_COLUMN.format(column=column))
    if isinstance(dtype, pd.CategoricalDtype):
        return "categorical"
    if pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_numeric_dtype(dtype):
        return "numeric"
    present = series[series.notna()]
    if len(present) == 0:
        return "categorical"
    bad = _bad_numeric(present)
    share = 1.0 - float(bad.mean())
    if share < NUMERIC_SHARE:
        return "categorical"
    if bad.any():
        check_numeric_values(series, column=column)  # raises, naming the first bad value
    return "numeric"


def check_no_missing(frame: pd.DataFrame) -> None:
    """Refuse missing values, naming each column that has some and how many.

    Parameters
    ----------
    frame : DataFrame
        The columns to check.

    Raises
    ------
    DataValidationError
        :data:`MSG_MISSING_VALUES`, listing ``column: count (first at row r)``.
    """
    missing = frame.isna()
    counts = missing.sum()
    counts = counts[counts > 0]
    if counts.empty:
        return
    details = "; ".join(
        f"{col!r}: {int(n)} missing (first at row {plain(missing[col].idxmax())!r})"
        for col, n in counts.items()
    )
    raise DataValidationError(MSG_MISSING_VALUES.format(details=details))


def check_finite(values: np.ndarray | pd.Series, *, column: str) -> None:
    """Refuse infinite values in a parsed numeric column.

    Parameters
    ----------
    values : ndarray or Series of float
        The parsed column.
    column : str
        Its name, used in the message.

    Raises
    ------
    DataValidationError
        :data:`MSG_INFINITE_VALUES`, naming the column, the count and the first row.
    """
    series = _as_series(values, column)
    inf = pd.Series(np.isinf(series.to_numpy(dtype="float64")), index=series.index)
    if inf.any():
        row = plain(inf.idxmax())
        raise DataValidationError(
            MSG_INFINITE_VALUES.format(
                column=column, count=int(inf.sum()), value=plain(series.loc[row]), row=row
            )
        )


def check_magnitude(values: np.ndarray | pd.Series, *, column: str) -> None:
    """Refuse finite values too large to compute with (beyond :data:`TOO_LARGE_TO_COMPUTE`).

    Parameters
    ----------
    values : ndarray or Series of float
        The parsed column; a Series gives the row labels of the message.
    column : str
        Its name, used in the message.

    Raises
    ------
    DataValidationError
        :data:`MSG_TOO_LARGE_TO_COMPUTE`, naming the column, the count and the first row.
    """
    series = _as_series(values, column)
    array = series.to_numpy(dtype="float64")
    with np.errstate(invalid="ignore"):
        huge = np.isfinite(array) & (np.abs(array) > TOO_LARGE_TO_COMPUTE)
    if huge.any():
        first = int(np.flatnonzero(huge)[0])
        row = plain(series.index[first])
        raise DataValidationError(
            MSG_TOO_LARGE_TO_COMPUTE.format(
                column=column, count=int(huge.sum()), value=plain(array[first]), row=row
            )
        )


def check_numeric_columns(frame: pd.DataFrame, columns: Iterable[str]) -> None:
    """Check numeric feature columns of a whole table, naming the real rows.

    Each column must hold numbers (or missing values), none infinite or too large to
    compute with. Run on the whole table before it is split, so that the row named is
    the first bad one of the file, whatever the split.

    Parameters
    ----------
    frame : DataFrame
        The table; its index gives the row labels of messages.
    columns : iterable of str
        The numeric feature columns.

    Raises
    ------
    DataValidationError
        :data:`MSG_NUMERIC_BAD_VALUE`, :data:`MSG_INFINITE_VALUES` or
        :data:`MSG_TOO_LARGE_TO_COMPUTE`.
    """
    for column in columns:
        parsed = pd.Series(
            check_numeric_values(frame[column], column=str(column)), index=frame.index
        )
        check_finite(parsed, column=str(column))
        check_magnitude(parsed, column=str(column))


def validate_target(
    y: Any,
    *,
    task: Literal["classification", "regression"],
    column: str = "target",
    on_missing_target: Literal["drop", "error"] = "drop",
) -> np.ndarray:
    """Check a target column and say which rows can be used.

    Rows whose target is missing are dropped, with a :class:`DataWarning` saying how many
    and why (never silently), or refused when ``on_missing_target="error"``.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        The target.
    task : {"classification", "regression"}
        What the target is for.
    column : str, default="target"
        The target's name, used in messages.
    on_missing_target : {"drop", "error"}, default="drop"
        What to do with rows whose target is missing.

    Returns
    -------
    keep : ndarray of bool, shape (n_samples,)
        True for the rows to use.

    Raises
    ------
    DataValidationError
        One class only (:data:`MSG_ONE_CLASS`), continuous labels for classification,
        a non-numeric or infinite regression target (:data:`MSG_TARGET_NOT_NUMERIC`),
        missing targets with ``on_missing_target="error"``, or no usable row.

    Examples
    --------
    >>> import numpy as np
    >>> validate_target(np.array([0, 1, 1]), task="classification", column="y")
    array([ True,  True,  True])
    """
    if task not in ("classification", "regression"):
        raise ValueError(MSG_BAD_TASK.format(task=task))
    if on_missing_target not in ("drop", "error"):
        raise ValueError(MSG_BAD_ON_MISSING.format(value=on_missing_target))
    series = _as_series(y, column)
    n = len(series)
    if n == 0:
        raise DataValidationError(MSG_TARGET_EMPTY.format(column=column))
    missing = series.isna()
    n_missing = int(missing.sum())
    if n_missing == n:
        raise DataValidationError(MSG_TARGET_ALL_MISSING.format(column=column, n=n))
    if n_missing:
        fields = {"column": column, "count": n_missing, "n": n, "row": plain(missing.idxmax())}
        if on_missing_target == "error":
            raise DataValidationError(MSG_TARGET_MISSING_ERROR.format(**fields))
        warnings.warn(MSG_TARGET_MISSING_DROPPED.format(**fields), DataWarning, stacklevel=2)
    kept = series[~missing]
    if task == "regression":
        _check_regression_target(kept, column)
    else:
        _check_classification_target(kept, column)
    return (~missing).to_numpy(dtype=bool)


def _check_regression_target(kept: pd.Series, column: str) -> None:
    parsed = _coerce_numeric(kept)
    bad = parsed.isna()
    if bad.any():
        row = plain(bad.idxmax())
        raise DataValidationError(
            MSG_TARGET_NOT_NUMERIC.format(column=column, row=row, value=plain(kept.loc[row]))
        )
    inf = np.isinf(parsed)
    if inf.any():
        row = plain(inf.idxmax())
        raise DataValidationError(
            MSG_TARGET_INFINITE.format(
                column=column, row=row, value=plain(kept.loc[row]), count=int(inf.sum())
            )
        )


def _check_classification_target(kept: pd.Series, column: str) -> None:
    from sklearn.utils.multiclass import type_of_target  # here: group labels need no sklearn

    values = kept.to_numpy(dtype=object)
    uniques = pd.unique(values)
    if len(uniques) == 1:
        raise DataValidationError(
            MSG_ONE_CLASS.format(column=column, value=plain(uniques[0]), n=len(values))
        )
    if pd.api.types.is_float_dtype(kept.dtype) and type_of_target(kept) == "continuous":
        frac = kept[kept != np.round(kept)]
        raise DataValidationError(
            MSG_CONTINUOUS_CLASSIFICATION.format(
                column=column, n_unique=len(uniques), value=plain(frac.iloc[0])
            )
        )
