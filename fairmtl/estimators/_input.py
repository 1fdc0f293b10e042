"""Input handling shared by the estimators: splitting out groups, clear feature errors."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from fairmtl.exceptions import DataValidationError

__all__ = ["split_group_columns", "check_feature_frame"]

MSG_GROUP_COLUMN_NEEDS_FRAME = (
    "group_column={column!r} needs X as a pandas DataFrame with that column; got {kind}. "
    "Pass groups= instead, or a DataFrame."
)
MSG_GROUP_COLUMN_MISSING = "Group column {column!r} is not in X.{hint} Columns: {columns}."
MSG_GROUPS_TWICE = "Pass the groups either as groups= or through group_column={column!r}, not both."
MSG_GROUPS_REQUIRED = (
    "This model was fitted on {n_groups} groups; pass groups= (or a DataFrame with the "
    "group column) to {method} so that each row gets its group's model."
)
MSG_FEATURE_NOT_NUMERIC = (
    "Feature column {column!r} is not numeric (e.g. {value!r} at row {row!r}). Encode it "
    "first, e.g. Pipeline([('prep', fairmtl.data.make_preprocessor(...)), ('model', ...)])."
)
MSG_FEATURE_NOT_FINITE = (
    "Feature column {column!r} has {count} {what} value(s) (first at row {row!r}). Impute "
    "or drop them, e.g. with fairmtl.data.make_preprocessor (imputes by default)."
)


def split_group_columns(X: Any, groups: Any, group_column: str | list[str] | None):
    """Return ``(X without the group columns, groups)``.

    With ``group_column`` set, X must be a DataFrame holding those columns; they are
    taken out of the features. X itself is never modified (a copy is made).
    """
    if group_column is None:
        return X, groups
    columns = [group_column] if isinstance(group_column, str) else list(group_column)
    if not isinstance(X, pd.DataFrame):
        raise DataValidationError(
            MSG_GROUP_COLUMN_NEEDS_FRAME.format(column=group_column, kind=type(X).__name__)
        )
    if groups is not None:
        raise DataValidationError(MSG_GROUPS_TWICE.format(column=group_column))
    for column in columns:
        if column not in X.columns:
            import difflib

            close = difflib.get_close_matches(str(column), [str(c) for c in X.columns], n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise DataValidationError(
                MSG_GROUP_COLUMN_MISSING.format(
                    column=column, hint=hint, columns=", ".join(map(str, X.columns[:20]))
                )
            )
    group_values = X[columns[0]] if len(columns) == 1 else X[columns]
    return X.drop(columns=columns), group_values


def check_feature_frame(X: Any) -> None:
    """Name the culprit column when a DataFrame holds non-numeric or non-finite features."""
    if not isinstance(X, pd.DataFrame):
        return
    for column in X.columns:
        values = X[column]
        if not (pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values)):
            bad = pd.to_numeric(values, errors="coerce").isna() & values.notna()
            if bad.any():
                row = values.index[np.flatnonzero(bad.to_numpy())[0]]
                raise DataValidationError(
                    MSG_FEATURE_NOT_NUMERIC.format(column=column, value=values[row], row=row)
                )
            values = pd.to_numeric(values, errors="coerce")
        array = np.asarray(values, dtype=float)
        for what, mask in (("missing (NaN)", np.isnan(array)), ("infinite", np.isinf(array))):
            if mask.any():
                row = values.index[np.flatnonzero(mask)[0]]
                raise DataValidationError(
                    MSG_FEATURE_NOT_FINITE.format(
                        column=column, count=int(mask.sum()), what=what, row=row
                    )
                )
