"""Input handling shared by the estimators: splitting out groups, clear feature errors."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

from fairmtl._suggest import did_you_mean
from fairmtl.data._validation import MSG_DATETIME_COLUMN, plain
from fairmtl.exceptions import DataValidationError, DataWarning

__all__ = [
    "split_group_columns",
    "check_groups_index",
    "check_feature_frame",
    "warn_huge_features",
    "warn_one_class_groups",
]

#: features with values larger than this in magnitude draw a DataWarning
HUGE_FEATURE = 1e8

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
MSG_DUPLICATE_FEATURES = (
    "X has duplicated column names: {names}. Rename them so that every column name is unique."
)
MSG_HUGE_FEATURES = (
    "Feature column(s) {columns} hold values as large as {value:.3g}. alpha and "
    "sharing_strength penalise coefficients in the features' own units, so the fit depends "
    "on those units, and such magnitudes strain the solver's accuracy. Standardise the "
    "features, e.g. Pipeline([('prep', fairmtl.data.make_preprocessor(X)), ('model', ...)])."
)
MSG_ONE_CLASS_GROUP = (
    "Group(s) {groups} have a single class in the training data. With sharing={sharing!r} "
    "a group's intercept is not penalised and its loss has no finite optimum: the fit "
    "raises that intercept until the solver stops, so the model predicts that class with "
    "probability ~1 for every row of the group. Use sharing='offset' (sharing_strength > 0) "
    "or 'shared' to borrow strength from the other groups, or collect rows of other classes."
)
MSG_GROUPS_INDEX = (
    "groups is a pandas {kind} whose index differs from X's (at position {position}: X "
    "has {x!r}, groups has {g!r}). Rows are matched to groups by position, so this would "
    "pair rows with the wrong groups. Align them first (groups.reindex(X.index)), or "
    "pass groups.to_numpy() if the order is right."
)
MSG_ABSENT_CLASS = (
    "Some groups have no training rows of some classes ({details}). With "
    "sharing={sharing!r} each group's model learns from its own rows, so it gives those "
    "classes a probability near 0 for every row of the group. Use sharing='offset' "
    "(sharing_strength > 0) or 'shared' to borrow from the other groups, or collect rows "
    "of those classes."
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
        check_groups_index(X, groups)
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
            hint = did_you_mean(column, X.columns)
            raise DataValidationError(
                MSG_GROUP_COLUMN_MISSING.format(
                    column=column, hint=hint, columns=", ".join(map(str, X.columns[:20]))
                )
            )
    group_values = X[columns[0]] if len(columns) == 1 else X[columns]
    return X.drop(columns=columns), group_values


def check_groups_index(X: Any, groups: Any) -> None:
    """Refuse pandas groups whose index disagrees with a DataFrame X's (rows would be
    paired with groups by position, silently wrong)."""
    if not (isinstance(X, pd.DataFrame) and isinstance(groups, pd.Series | pd.DataFrame)):
        return
    if len(groups) != len(X) or groups.index.equals(X.index):
        return  # a length mismatch has its own error, naming both lengths
    differs = np.flatnonzero(np.asarray(groups.index != X.index))
    position = int(differs[0]) if differs.size else 0
    raise DataValidationError(
        MSG_GROUPS_INDEX.format(
            kind=type(groups).__name__,
            position=position,
            x=plain(X.index[position]),
            g=plain(groups.index[position]),
        )
    )


def check_feature_frame(X: Any) -> None:
    """Name the culprit column when a DataFrame holds non-numeric or non-finite features."""
    if not isinstance(X, pd.DataFrame):
        return
    duplicated = X.columns[X.columns.duplicated()].unique().tolist()
    if duplicated:
        raise DataValidationError(
            MSG_DUPLICATE_FEATURES.format(names=", ".join(map(repr, duplicated[:20])))
        )
    for column in X.columns:
        values = X[column]
        if pd.api.types.is_datetime64_any_dtype(values) or pd.api.types.is_timedelta64_dtype(
            values
        ):
            raise DataValidationError(MSG_DATETIME_COLUMN.format(column=column))
        if not (pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values)):
            bad = pd.to_numeric(values, errors="coerce").isna() & values.notna()
            if bad.any():
                row = plain(values.index[np.flatnonzero(bad.to_numpy())[0]])
                raise DataValidationError(
                    MSG_FEATURE_NOT_NUMERIC.format(column=column, value=values[row], row=row)
                )
            values = pd.to_numeric(values, errors="coerce")
        array = np.asarray(values, dtype=float)
        for what, mask in (("missing (NaN)", np.isnan(array)), ("infinite", np.isinf(array))):
            if mask.any():
                row = plain(values.index[np.flatnonzero(mask)[0]])
                raise DataValidationError(
                    MSG_FEATURE_NOT_FINITE.format(
                        column=column, count=int(mask.sum()), what=what, row=row
                    )
                )


def warn_huge_features(X: np.ndarray, names: Any = None) -> None:
    """Warn (DataWarning) about feature columns with values beyond ``HUGE_FEATURE``."""
    if X.size == 0:
        return
    peak = np.abs(X).max(axis=0)
    huge = np.flatnonzero(peak > HUGE_FEATURE)
    if huge.size:
        columns = ", ".join(repr(str(names[j]) if names is not None else f"x{j}") for j in huge)
        warnings.warn(
            MSG_HUGE_FEATURES.format(columns=columns, value=float(peak[huge].max())),
            DataWarning,
            stacklevel=4,
        )


def warn_one_class_groups(
    y, tasks, labels, sharing: str, strength: float, classes: Any = None
) -> None:
    """Warn (DataWarning) about groups whose intercept is unpenalised and that lack a
    class: a single-class group, or (3+ classes) a group without rows of some class."""
    if not (sharing in ("independent", "lowrank") or (sharing == "offset" and strength == 0)):
        return
    y = np.asarray(y)
    n_classes = pd.Series(y).groupby(np.asarray(tasks)).nunique()
    single = n_classes.index[n_classes.to_numpy() == 1].tolist()
    if single:
        names = ", ".join(repr(str(labels[g])) for g in single[:5])
        names += f" and {len(single) - 5} more" if len(single) > 5 else ""
        warnings.warn(
            MSG_ONE_CLASS_GROUP.format(groups=names, sharing=sharing), DataWarning, stacklevel=4
        )
    all_codes = np.unique(y)
    if all_codes.size < 3:
        return
    present = pd.Series(y).groupby(np.asarray(tasks)).unique()
    lacking = {g: np.setdiff1d(all_codes, codes) for g, codes in present.items() if g not in single}
    lacking = {g: codes for g, codes in lacking.items() if codes.size}
    if lacking:
        shown = list(lacking.items())[:5]
        names = "; ".join(
            f"{str(labels[g])!r} has none of "
            + ", ".join(repr(plain(classes[c]) if classes is not None else int(c)) for c in codes)
            for g, codes in shown
        )
        names += f"; and {len(lacking) - 5} more groups" if len(lacking) > 5 else ""
        warnings.warn(
            MSG_ABSENT_CLASS.format(details=names, sharing=sharing), DataWarning, stacklevel=4
        )
