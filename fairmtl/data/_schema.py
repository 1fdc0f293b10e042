"""The schema of a table: which column is the target, which are groups and features."""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Iterable, Mapping
from typing import Any, Literal, NamedTuple

import numpy as np
import pandas as pd

from fairmtl._suggest import did_you_mean
from fairmtl.data._validation import (
    check_finite,
    check_numeric_values,
    infer_column_kind,
    plain,
)
from fairmtl.exceptions import DataValidationError, DataWarning

__all__ = ["Schema", "SchemaColumns"]

ColumnKind = Literal["numeric", "categorical"]

#: A categorical feature with more distinct values than this, and more than half of the
#: rows distinct, looks like an identifier and draws a DataWarning.
ID_LIKE_MIN_LEVELS = 100

MSG_NOT_A_NAME = "Schema field {field!r} must hold column names (str). Got {value!r} instead."
MSG_NO_GROUPS = (
    "A schema needs at least one group column (groups=('hospital',)): each group is a task."
)
MSG_DUPLICATE_IN_ROLE = "Column {column!r} is listed more than once in {field!r}."
MSG_ROLE_CONFLICT = (
    "Column {column!r} is used both as {first} and as {second}. Give each column one role."
)
MSG_NOT_A_FRAME = "Schema.resolve needs a pandas DataFrame with named columns. Got {type}."
MSG_COLUMN_NAMES_NOT_STR = (
    "Column names must be strings, but these are not: {names}. Give the columns names "
    "(df.columns = [...]) or read the file with a header row."
)
MSG_DUPLICATE_COLUMNS = "The data has duplicated column names: {names}. Make them unique."
MSG_MISSING_COLUMN = (
    "Column {column!r} (the {role}) is not in the data.{hint} Available columns: {available}."
)
MSG_NO_FEATURES = (
    "No feature columns are left once the target, group, id, weight and dropped columns "
    "are set aside. Available columns: {available}."
)
MSG_CATEGORICAL_NOT_FEATURE = (
    "Column {column!r} is marked categorical but is not a feature. "
    "Mark only feature columns as categorical."
)
MSG_NOT_RESOLVED = (
    "This schema has no recorded feature types yet. Call schema.resolve(df) on the "
    "training data first."
)
MSG_DTYPE_MISMATCH = (
    "Column {column!r} was numeric in the training data but is not numeric here "
    "(e.g. {value!r}). Clean the column so that it holds numbers, as in training."
)
MSG_BAD_WEIGHTS = (
    "Weight column {column!r} must hold finite numbers >= 0 with no missing value; "
    "row {row!r} holds {value!r}."
)
MSG_ID_LIKE = (
    "Categorical feature {column!r} has {n_levels} distinct values in {n_rows} rows: it "
    "looks like an identifier, and one-hot encoding it will not generalise. Pass it as "
    "id_column, drop it, or mark it otherwise."
)
MSG_BAD_DICT = "Cannot read a schema from this dict: {reason}."


def _names(value: Any, field: str) -> tuple[str, ...]:
    """Normalise a column or a sequence of columns to a tuple of str."""
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, Iterable):
        raise DataValidationError(MSG_NOT_A_NAME.format(field=field, value=value))
    names = tuple(value)
    for name in names:
        if not isinstance(name, str):
            raise DataValidationError(MSG_NOT_A_NAME.format(field=field, value=name))
    return names


class SchemaColumns(NamedTuple):
    """The parts of a table a schema selects; see :meth:`Schema.select`."""

    X: pd.DataFrame
    y: pd.Series | None
    groups: pd.Series | pd.DataFrame
    sample_weight: pd.Series | None
    ids: pd.Series | None


@dataclasses.dataclass(frozen=True)
class Schema:
    """Which column of a table is the target, which are groups, features and the rest.

    Parameters
    ----------
    target : str
        The column to predict.
    groups : str or tuple of str
        The group column(s); several give intersection groups (``("race", "sex")``).
    features : tuple of str or None, default=None
        The feature columns. None: every column that has no other role. Group columns
        are features only when listed here.
    drop : tuple of str, default=()
        Columns to ignore.
    id_column : str or None, default=None
        A row identifier, kept out of the features and carried into predictions.
    weight_column : str or None, default=None
        Sample weights (finite, >= 0).
    categorical : tuple of str, default=()
        Features to treat as categorical even if they hold numbers (codes, zip codes).
    feature_dtypes : dict of str to {"numeric", "categorical"} or None, default=None
        Set by :meth:`resolve`: the kind of each feature in the training data.

    See Also
    --------
    make_preprocessor : Build the ColumnTransformer for a resolved schema.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"age": [30, 40], "sex": ["F", "M"], "site": ["a", "b"], "y": [0, 1]})
    >>> schema = Schema(target="y", groups="site").resolve(df)
    >>> schema.features
    ('age', 'sex')
    >>> schema.feature_dtypes
    {'age': 'numeric', 'sex': 'categorical'}
    """

    target: str
    groups: tuple[str, ...]
    features: tuple[str, ...] | None = None
    drop: tuple[str, ...] = ()
    id_column: str | None = None
    weight_column: str | None = None
    categorical: tuple[str, ...] = ()
    feature_dtypes: dict[str, ColumnKind] | None = dataclasses.field(default=None, hash=False)

    def __post_init__(self) -> None:
        # A frozen dataclass: normalised values are set with object.__setattr__.
        set_ = object.__setattr__
        set_(self, "target", _names(self.target, "target")[0])
        set_(self, "groups", _names(self.groups, "groups"))
        if self.features is not None:
            set_(self, "features", _names(self.features, "features"))
        set_(self, "drop", _names(self.drop, "drop"))
        set_(self, "categorical", _names(self.categorical, "categorical"))
        for field in ("id_column", "weight_column"):
            value = getattr(self, field)
            if value is not None and not isinstance(value, str):
                raise DataValidationError(MSG_NOT_A_NAME.format(field=field, value=value))
        if self.feature_dtypes is not None:
            set_(self, "feature_dtypes", dict(self.feature_dtypes))
        if not self.groups:
            raise DataValidationError(MSG_NO_GROUPS)
        self._check_roles()

    def _roles(self) -> list[tuple[str, str]]:
        roles = [("the target", self.target)]
        roles += [("a group column", g) for g in self.groups]
        roles += [("a feature", f) for f in self.features or ()]
        roles += [("a dropped column", d) for d in self.drop]
        if self.id_column is not None:
            roles.append(("the id column", self.id_column))
        if self.weight_column is not None:
            roles.append(("the weight column", self.weight_column))
        return roles

    def _check_roles(self) -> None:
        for field in ("groups", "features", "drop", "categorical"):
            names = pd.Series(getattr(self, field) or (), dtype=object)
            if names.duplicated().any():
                column = names[names.duplicated()].iloc[0]
                raise DataValidationError(MSG_DUPLICATE_IN_ROLE.format(column=column, field=field))
        seen: dict[str, str] = {}
        for role, column in self._roles():
            first = seen.setdefault(column, role)
            if first == role or {first, role} == {"a group column", "a feature"}:
                continue
            raise DataValidationError(
                MSG_ROLE_CONFLICT.format(column=column, first=first, second=role)
            )
        if self.features is not None:
            for column in self.categorical:
                if column not in self.features:
                    raise DataValidationError(MSG_CATEGORICAL_NOT_FEATURE.format(column=column))

    @property
    def is_resolved(self) -> bool:
        """Whether :meth:`resolve` has recorded the features and their kinds."""
        return self.features is not None and self.feature_dtypes is not None

    @property
    def numeric_features(self) -> tuple[str, ...]:
        """The numeric features of a resolved schema, in feature order."""
        return tuple(c for c, k in self._dtypes().items() if k == "numeric")

    @property
    def categorical_features(self) -> tuple[str, ...]:
        """The categorical features of a resolved schema, in feature order."""
        return tuple(c for c, k in self._dtypes().items() if k == "categorical")

    def _dtypes(self) -> dict[str, ColumnKind]:
        if self.feature_dtypes is None:
            raise DataValidationError(MSG_NOT_RESOLVED)
        return self.feature_dtypes

    def resolve(self, df: pd.DataFrame) -> Schema:
        """Check the schema against a table and record the features and their kinds.

        Parameters
        ----------
        df : DataFrame
            The training table.

        Returns
        -------
        schema : Schema
            A new schema with ``features`` and ``feature_dtypes`` set.

        Raises
        ------
        DataValidationError
            For a missing column (naming it and the closest available name), no
            features left, bad weights, or a numeric feature with a non-numeric value.
        """
        _check_frame_columns(df)
        self._check_present(
            df, self._roles() + [("a column marked categorical", c) for c in self.categorical]
        )
        features = self.features
        if features is None:
            taken = {column for _, column in self._roles()}
            features = tuple(c for c in df.columns if c not in taken)
        if not features:
            raise DataValidationError(MSG_NO_FEATURES.format(available=_listing(df.columns)))
        resolved = dataclasses.replace(self, features=features, feature_dtypes=None)
        kinds: dict[str, ColumnKind] = {}
        for column in features:
            if column in self.categorical:
                kinds[column] = "categorical"
            else:
                kinds[column] = infer_column_kind(df[column], column=column)
            if kinds[column] == "categorical":
                _warn_if_id_like(df[column], column)
        if self.weight_column is not None:
            _check_weights(df[self.weight_column], self.weight_column)
        return dataclasses.replace(resolved, feature_dtypes=kinds)

    def _check_present(self, df: pd.DataFrame, roles: list[tuple[str, str]]) -> None:
        for role, column in roles:
            if column not in df.columns:
                raise DataValidationError(
                    MSG_MISSING_COLUMN.format(
                        column=column,
                        role=role.removeprefix("the ").removeprefix("a "),
                        hint=did_you_mean(column, df.columns),
                        available=_listing(df.columns),
                    )
                )

    def check_frame(self, df: pd.DataFrame, *, require_target: bool = False) -> None:
        """Check that new data (e.g. to predict on) matches this resolved schema.

        Parameters
        ----------
        df : DataFrame
            The new table.
        require_target : bool, default=False
            Also require the target column.

        Raises
        ------
        DataValidationError
            For a missing column, or a feature numeric at training time that is not now.
        """
        kinds = self._dtypes()
        _check_frame_columns(df)
        roles = [("group column", g) for g in self.groups]
        roles += [("feature", f) for f in kinds]
        if require_target:
            roles.append(("target", self.target))
        self._check_present(df, roles)
        for column, kind in kinds.items():
            if kind != "numeric":
                continue
            if infer_column_kind(df[column], column=column) != "numeric":
                values = df[column].dropna()
                example = plain(values.iloc[0]) if len(values) else None
                raise DataValidationError(MSG_DTYPE_MISMATCH.format(column=column, value=example))

    def select(self, df: pd.DataFrame, *, require_target: bool = True) -> SchemaColumns:
        """Split a table into features, target, groups, weights and ids.

        Parameters
        ----------
        df : DataFrame
            The table; it is not modified.
        require_target : bool, default=True
            When False and the target column is absent, ``y`` is None (prediction).

        Returns
        -------
        columns : SchemaColumns
            ``X`` (the features, in feature order), ``y``, ``groups`` (a Series for one
            group column, a DataFrame for several), ``sample_weight`` and ``ids``.
        """
        self.check_frame(df, require_target=require_target)
        features = list(self._dtypes())
        y = df[self.target] if self.target in df.columns else None
        groups = df[self.groups[0]] if len(self.groups) == 1 else df[list(self.groups)]
        weight = df[self.weight_column] if self.weight_column in df.columns else None
        ids = df[self.id_column] if self.id_column in df.columns else None
        return SchemaColumns(df[features], y, groups, weight, ids)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of this schema; :meth:`from_dict` reads it back."""
        return {
            "target": self.target,
            "groups": list(self.groups),
            "features": None if self.features is None else list(self.features),
            "drop": list(self.drop),
            "id_column": self.id_column,
            "weight_column": self.weight_column,
            "categorical": list(self.categorical),
            "feature_dtypes": None if self.feature_dtypes is None else dict(self.feature_dtypes),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Schema:
        """Build a schema from the output of :meth:`to_dict`.

        Parameters
        ----------
        data : mapping
            At least ``target`` and ``groups``.

        Returns
        -------
        schema : Schema
        """
        if not isinstance(data, Mapping):
            raise DataValidationError(MSG_BAD_DICT.format(reason=f"got {type(data).__name__}"))
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise DataValidationError(MSG_BAD_DICT.format(reason=f"unknown keys {unknown}"))
        missing = [k for k in ("target", "groups") if k not in data]
        if missing:
            raise DataValidationError(MSG_BAD_DICT.format(reason=f"missing keys {missing}"))
        dtypes = data.get("feature_dtypes")
        if dtypes is not None:
            bad = {k: v for k, v in dtypes.items() if v not in ("numeric", "categorical")}
            if bad:
                raise DataValidationError(MSG_BAD_DICT.format(reason=f"bad feature_dtypes {bad}"))
        return cls(**{k: v for k, v in data.items() if k in known})


def _listing(columns: Iterable[Any], limit: int = 20) -> str:
    columns = list(columns)
    shown = ", ".join(repr(c) for c in columns[:limit])
    return shown + (f", ... ({len(columns)} in all)" if len(columns) > limit else "")


def _check_frame_columns(df: Any) -> None:
    if not isinstance(df, pd.DataFrame):
        raise DataValidationError(MSG_NOT_A_FRAME.format(type=type(df).__name__))
    not_str = [c for c in df.columns if not isinstance(c, str)]
    if not_str:
        raise DataValidationError(MSG_COLUMN_NAMES_NOT_STR.format(names=_listing(not_str)))
    duplicated = df.columns[df.columns.duplicated()].unique().tolist()
    if duplicated:
        raise DataValidationError(MSG_DUPLICATE_COLUMNS.format(names=_listing(duplicated)))


def _warn_if_id_like(values: pd.Series, column: str) -> None:
    n_levels = values.nunique(dropna=True)
    if n_levels > ID_LIKE_MIN_LEVELS and n_levels > 0.5 * len(values):
        warnings.warn(
            MSG_ID_LIKE.format(column=column, n_levels=n_levels, n_rows=len(values)),
            DataWarning,
            stacklevel=3,
        )


def _check_weights(values: pd.Series, column: str) -> None:
    parsed = check_numeric_values(values, column=column)
    check_finite(parsed, column=column)
    bad = np.isnan(parsed) | (parsed < 0)
    if bad.any():
        row = plain(values.index[int(np.argmax(bad))])
        raise DataValidationError(
            MSG_BAD_WEIGHTS.format(column=column, row=row, value=plain(values.loc[row]))
        )
