"""Group labels: one column, or the intersection of several, as one string per row."""

from __future__ import annotations

import numbers
from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from fairmtl.data._validation import plain
from fairmtl.exceptions import DataValidationError

__all__ = ["check_groups_length", "group_labels"]

SHOW = 5  # how many groups or rows a message names

MSG_EMPTY_GROUPS = "The groups are empty: there is no row to assign to a group."
MSG_GROUPS_NDIM = "groups must be one column (1-D) or several columns (2-D). Got shape {shape}."
MSG_GROUPS_LENGTH = (
    "groups has {n_groups} rows but the data has {n_samples}. Pass one group label per row."
)
MSG_MISSING_GROUP = (
    "Group column {column} is missing in {count} row(s) (first at row {row!r}). Every row "
    "needs a group: fill the missing values (e.g. with 'unknown') or drop those rows."
)
MSG_AMBIGUOUS_LABEL = (
    "Group column {column} mixes types: the values {values} are different but all read as "
    "the label {label!r} (rows {rows}). Convert the column to one type (all text or all numbers)."
)
MSG_SEPARATOR_IN_LABEL = (
    "Group label {label!r} in column {column} contains the separator {separator!r}, which "
    "makes intersection labels ambiguous. Replace {separator!r} in that column's values, "
    "or, with GroupEncoder or group_labels, pass another separator (separator=' & ')."
)


def listing(values: Sequence[Any], total: int | None = None) -> str:
    total = len(values) if total is None else total
    shown = ", ".join(repr(v) for v in list(values)[:SHOW])
    return shown + (f" and {total - SHOW} more" if total > SHOW else "")


def to_frame(groups: Any) -> tuple[pd.DataFrame, list[Hashable] | None]:
    """The group columns as a DataFrame, and their names (None when unnamed)."""
    if isinstance(groups, pd.DataFrame):
        return groups, list(groups.columns)
    if isinstance(groups, pd.Series):
        return groups.to_frame(), None if groups.name is None else [groups.name]
    array = groups if isinstance(groups, np.ndarray) else np.asarray(groups, dtype=object)
    if array.ndim == 1:
        array = array.reshape(-1, 1)
    if array.ndim != 2:
        raise DataValidationError(MSG_GROUPS_NDIM.format(shape=array.shape))
    if array.dtype == object and _all_text(array):
        # kept as object: pandas would copy every str into its own string dtype (the
        # most of encoding 100,000 rows), and the labels are the same str either way
        return pd.DataFrame(array, dtype=object), None
    frame = pd.DataFrame(array)
    return (frame.infer_objects() if array.dtype == object else frame), None


def _all_text(array: np.ndarray) -> bool:
    """Whether every column of the 2-D object ``array`` holds str values only."""
    return all(pd.api.types.infer_dtype(column, skipna=False) == "string" for column in array.T)


def _column_name(names: list[Hashable] | None, position: int, n_columns: int) -> str:
    if names is not None:
        return repr(names[position])
    return "'groups'" if n_columns == 1 else f"{position} (unnamed)"


def _kind(value: Any) -> str:
    if isinstance(value, bool | np.bool_):
        return "bool"
    if isinstance(value, numbers.Integral):
        return "int"
    if isinstance(value, numbers.Real):
        return "float"
    return type(value).__name__


def _factorize_column(column: pd.Series, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Codes of one group column and the str label of each code.

    Refuses missing values, and different raw values that read as the same label
    (1 and "1"): they would merge two groups silently.
    """
    if pd.api.types.is_float_dtype(column.dtype):
        column = column + 0.0  # -0.0 and 0.0 are one group, labelled "0.0"
    inferred = pd.api.types.infer_dtype(column, skipna=False)
    if inferred in ("string", "integer", "floating", "boolean", "categorical", "empty"):
        codes, uniques = pd.factorize(column)
        if (codes < 0).any():  # factorize codes the missing values -1
            _refuse_missing(column, name)
        labels = pd.Series(np.asarray(uniques, dtype=object)).astype(str)
    else:  # mixed types: 1 == 1.0 == True in Python, so key each value by its type too
        _refuse_missing(column, name)
        codes, keys = pd.factorize(column.map(lambda v: (_kind(v), v)))
        labels = pd.Series([str(value) for _, value in keys], dtype=object)
    labels = labels.to_numpy(dtype=object)
    clash = pd.Series(labels).duplicated(keep=False).to_numpy()
    if clash.any():
        label = labels[clash][0]
        same = np.flatnonzero(labels == label)
        first = [int(np.argmax(codes == k)) for k in same]  # positions of first rows
        raise DataValidationError(
            MSG_AMBIGUOUS_LABEL.format(
                column=name,
                values=listing([plain(column.iloc[i]) for i in first]),
                label=label,
                rows=listing([plain(column.index[i]) for i in first]),
            )
        )
    return codes, labels


def _refuse_missing(column: pd.Series, name: str) -> None:
    """Raise :data:`MSG_MISSING_GROUP` where ``column`` has missing values."""
    missing = column.isna()
    if missing.any():
        raise DataValidationError(
            MSG_MISSING_GROUP.format(
                column=name, count=int(missing.sum()), row=plain(missing.idxmax())
            )
        )


def encode(
    frame: pd.DataFrame, names: list[Hashable] | None, separator: str
) -> tuple[np.ndarray, np.ndarray]:
    """Per-row codes into an array of distinct labels (intersections joined by separator).

    Labels are built once per distinct combination, not once per row.
    """
    n_columns = frame.shape[1]
    codes, labels = None, None
    for i in range(n_columns):
        name = _column_name(names, i, n_columns)
        col_codes, col_labels = _factorize_column(frame.iloc[:, i], name)
        if n_columns > 1:
            has_sep = pd.Series(col_labels).str.contains(separator, regex=False).to_numpy()
            if has_sep.any():
                raise DataValidationError(
                    MSG_SEPARATOR_IN_LABEL.format(
                        label=col_labels[has_sep][0], separator=separator, column=name
                    )
                )
        if codes is None:
            codes, labels = col_codes, col_labels
            continue
        width = len(col_labels)
        codes, keys = pd.factorize(codes.astype(np.int64) * width + col_codes)
        keys = np.asarray(keys)
        joined = pd.Series(labels[keys // width]) + separator + pd.Series(col_labels[keys % width])
        labels = joined.to_numpy(dtype=object)
    return np.asarray(codes, dtype=np.int64), labels


def group_labels(groups: Any, *, separator: str = "|", missing: str | None = None) -> np.ndarray:
    """The group label of each row, as a string; several columns give intersections.

    The one labelling of groups in fairmtl: estimators, the CLI, frontier tables and the
    bundled datasets all name a row's group with it.

    Parameters
    ----------
    groups : array-like of shape (n_samples,) or (n_samples, n_columns)
        One group column, or several (a DataFrame or 2-D array).
    separator : str, default="|"
        Joins the values of several columns, in column order (``"Black|Female"``).
    missing : str or None, default=None
        None: a missing group value is an error (fitting needs every row's group).
        A label: missing values get it (``"(missing)"``, for rows that are only
        predicted or described), and a float column of whole numbers, which is how a
        column of integer codes with gaps is read, is labelled as integers (``67``,
        not ``67.0``).

    Returns
    -------
    labels : ndarray of str (object dtype), shape (n_samples,)

    Raises
    ------
    DataValidationError
        For empty or missing groups, mixed types that clash, or a value containing
        the separator.
    """
    frame, names = to_frame(groups)
    if frame.shape[0] == 0 or frame.shape[1] == 0:
        raise DataValidationError(MSG_EMPTY_GROUPS)
    if missing is not None:
        frame = frame.apply(_with_missing_label, label=missing)  # a copy
    codes, labels = encode(frame, names, separator)
    return labels[codes]


def _with_missing_label(column: pd.Series, label: str) -> pd.Series:
    values = column
    if pd.api.types.is_float_dtype(values):
        observed = values.dropna()
        if (observed == np.round(observed)).all():
            values = values.astype("Int64")  # 67.0 -> 67, labelled '67'
    return values.astype(object).where(column.notna(), label)


def check_groups_length(groups: Any, n_samples: int) -> None:
    """Refuse groups whose number of rows differs from the data's.

    Parameters
    ----------
    groups : array-like of shape (n_groups_rows,) or (n_groups_rows, n_columns)
        The groups.
    n_samples : int
        The number of rows of X.

    Raises
    ------
    DataValidationError
        :data:`MSG_GROUPS_LENGTH`, giving both lengths.
    """
    n_groups = groups.shape[0] if hasattr(groups, "shape") else len(groups)
    if n_groups != n_samples:
        raise DataValidationError(MSG_GROUPS_LENGTH.format(n_groups=n_groups, n_samples=n_samples))
