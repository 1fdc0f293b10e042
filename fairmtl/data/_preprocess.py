"""Turning feature columns into numbers: a scikit-learn ColumnTransformer."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from fairmtl._suggest import did_you_mean
from fairmtl.data._schema import MSG_NOT_RESOLVED, ColumnKind, Schema
from fairmtl.data._validation import (
    check_finite,
    check_magnitude,
    check_no_missing,
    check_numeric_values,
    infer_column_kind,
)
from fairmtl.exceptions import DataValidationError

__all__ = ["ColumnValidator", "make_preprocessor"]

#: The category that missing categorical values become with ``categorical_impute="constant"``.
MISSING_CATEGORY = "missing"

MSG_NO_COLUMNS = "make_preprocessor has no feature column to transform."
MSG_BOTH_KINDS = "Column {column!r} is listed both as numeric and as categorical."
MSG_UNKNOWN_FEATURE = (
    "Column {column!r} (listed as {kind}) is not a feature.{hint} Features: {features}."
)
MSG_NOT_A_SOURCE = (
    "make_preprocessor needs a resolved Schema, a DataFrame of features, or None with "
    "explicit numeric/categorical lists. Got {type}."
)


class ColumnValidator(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Check feature values and give them a uniform type, naming any bad column.

    The first step of each branch of :func:`make_preprocessor`. Numeric columns are
    parsed to float64 (a value that is not a number, or an infinite one, is an error
    naming the column, the value and the row); categorical columns become an object
    array of strings. Missing values stay NaN, or are an error when not allowed.

    Parameters
    ----------
    kind : {"numeric", "categorical"}, default="numeric"
        How to read the columns.
    allow_missing : bool, default=True
        When False, missing values raise a :class:`DataValidationError` listing each
        column with missing values and how many.

    Attributes
    ----------
    n_features_in_ : int
        Number of columns seen in fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Their names, when fit on a DataFrame.

    Examples
    --------
    >>> import pandas as pd
    >>> ColumnValidator("numeric").fit_transform(pd.DataFrame({"a": ["1", "2.5"]}))
    array([[1. ],
           [2.5]])
    """

    _parameter_constraints: dict[str, list[Any]] = {
        "kind": [StrOptions({"numeric", "categorical"})],
        "allow_missing": ["boolean"],
    }

    def __init__(
        self, kind: Literal["numeric", "categorical"] = "numeric", *, allow_missing: bool = True
    ) -> None:
        self.kind = kind
        self.allow_missing = allow_missing

    def fit(self, X: Any, y: Any = None) -> ColumnValidator:
        """Record the columns.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            The columns.
        y : None
            Ignored.

        Returns
        -------
        self : ColumnValidator
        """
        self._validate_params()
        validate_data(self, X, skip_check_array=True)
        return self

    def transform(self, X: Any) -> np.ndarray:
        """Check the values and convert them.

        Parameters
        ----------
        X : array-like or DataFrame of shape (n_samples, n_features)
            The columns.

        Returns
        -------
        values : ndarray of shape (n_samples, n_features)
            float64 for numeric columns, object (str or NaN) for categorical ones.
        """
        check_is_fitted(self, "n_features_in_")
        validate_data(self, X, reset=False, skip_check_array=True)
        frame = self._as_frame(X)
        if not self.allow_missing:
            check_no_missing(frame)
        if self.kind == "numeric":
            columns = []
            for name in frame.columns:
                parsed = check_numeric_values(frame[name], column=str(name))
                rows = pd.Series(parsed, index=frame.index)  # messages name the real rows
                check_finite(rows, column=str(name))
                check_magnitude(rows, column=str(name))
                columns.append(parsed)
            return np.column_stack(columns) if columns else np.empty((len(frame), 0))
        texts = frame.astype(object).apply(lambda col: col.map(str, na_action="ignore"))
        return texts.where(frame.notna(), np.nan).to_numpy(dtype=object)

    def _as_frame(self, X: Any) -> pd.DataFrame:
        if isinstance(X, pd.DataFrame):
            return X
        array = np.asarray(X, dtype=object)
        if array.ndim == 1:
            array = array.reshape(-1, 1)
        names = getattr(self, "feature_names_in_", None)
        if names is None:
            names = [f"x{i}" for i in range(array.shape[1])]
        return pd.DataFrame(array, columns=list(names)).infer_objects()


def _kinds_from(source: Schema | pd.DataFrame | None) -> dict[str, ColumnKind]:
    if source is None:
        return {}
    if isinstance(source, Schema):
        if not source.is_resolved:
            raise DataValidationError(MSG_NOT_RESOLVED)
        return dict(source.feature_dtypes or {})
    if isinstance(source, pd.DataFrame):
        return {str(c): infer_column_kind(source[c], column=str(c)) for c in source.columns}
    raise DataValidationError(MSG_NOT_A_SOURCE.format(type=type(source).__name__))


def _apply_overrides(
    kinds: dict[str, ColumnKind],
    numeric: Sequence[str] | None,
    categorical: Sequence[str] | None,
) -> dict[str, ColumnKind]:
    numeric = list(numeric or ())
    categorical = list(categorical or ())
    for column in set(numeric) & set(categorical):
        raise DataValidationError(MSG_BOTH_KINDS.format(column=column))
    if not kinds:  # no schema or frame: the lists are the features
        return {**dict.fromkeys(numeric, "numeric"), **dict.fromkeys(categorical, "categorical")}
    for kind, names in (("numeric", numeric), ("categorical", categorical)):
        for column in names:
            if column not in kinds:
                raise DataValidationError(
                    MSG_UNKNOWN_FEATURE.format(
                        column=column,
                        kind=kind,
                        hint=did_you_mean(column, kinds),
                        features=", ".join(repr(c) for c in kinds),
                    )
                )
            kinds[column] = kind  # type: ignore[assignment]
    return kinds


def make_preprocessor(
    schema_or_frame: Schema | pd.DataFrame | None,
    *,
    numeric: Sequence[str] | None = None,
    categorical: Sequence[str] | None = None,
    impute: bool = True,
    scale: bool = True,
    categorical_impute: Literal["constant", "most_frequent"] = "constant",
) -> ColumnTransformer:
    """Build the preprocessing ColumnTransformer for a table's features.

    Numeric columns: :class:`ColumnValidator` -> ``SimpleImputer(strategy="median")``
    -> ``StandardScaler``. Categorical columns: :class:`ColumnValidator` ->
    ``SimpleImputer`` (the constant ``"missing"`` or the most frequent value) ->
    ``OneHotEncoder(handle_unknown="ignore", sparse_output=False)``. Other columns of
    the input (group, target, id columns) are dropped. Constant columns are kept.

    Parameters
    ----------
    schema_or_frame : Schema, DataFrame or None
        A resolved :class:`Schema` (its ``feature_dtypes`` say which features are
        numeric), a DataFrame of features only (kinds inferred with
        :func:`infer_column_kind`), or None when ``numeric``/``categorical`` list them all.
    numeric, categorical : sequence of str or None, default=None
        Features to treat as numeric / categorical, overriding the inferred kind.
    impute : bool, default=True
        Impute missing values. When False, a missing value raises a
        :class:`DataValidationError` naming the columns and counts.
    scale : bool, default=True
        Standardise numeric columns.
    categorical_impute : {"constant", "most_frequent"}, default="constant"
        Fill missing categories with ``"missing"`` or with the most frequent category.

    Returns
    -------
    preprocessor : ColumnTransformer
        Unfitted; after ``fit``, ``get_feature_names_out()`` names the output columns
        (``"age"``, ``"sex_F"``).

    Raises
    ------
    DataValidationError
        For an unresolved schema, no features, a column listed as both kinds, or a
        listed column that is not a feature.

    Examples
    --------
    >>> import pandas as pd
    >>> X = pd.DataFrame({"age": [30.0, None, 50.0], "sex": ["F", "M", None]})
    >>> pre = make_preprocessor(X).fit(X)
    >>> list(pre.get_feature_names_out())
    ['age', 'sex_F', 'sex_M', 'sex_missing']
    """
    kinds = _apply_overrides(_kinds_from(schema_or_frame), numeric, categorical)
    numeric_cols = [c for c, k in kinds.items() if k == "numeric"]
    categorical_cols = [c for c, k in kinds.items() if k == "categorical"]
    if not numeric_cols and not categorical_cols:
        raise DataValidationError(MSG_NO_COLUMNS)
    transformers = []
    if numeric_cols:
        steps: list[tuple[str, Any]] = [("check", ColumnValidator("numeric", allow_missing=impute))]
        if impute:
            steps.append(("impute", SimpleImputer(strategy="median", keep_empty_features=True)))
        if scale:
            steps.append(("scale", StandardScaler()))
        transformers.append(("numeric", Pipeline(steps), numeric_cols))
    if categorical_cols:
        steps = [("check", ColumnValidator("categorical", allow_missing=impute))]
        if impute:
            steps.append(
                (
                    "impute",
                    SimpleImputer(
                        strategy=categorical_impute,
                        fill_value=MISSING_CATEGORY,
                        keep_empty_features=True,
                    ),
                )
            )
        steps.append(("onehot", OneHotEncoder(handle_unknown="ignore", sparse_output=False)))
        transformers.append(("categorical", Pipeline(steps), categorical_cols))
    return ColumnTransformer(transformers, remainder="drop", verbose_feature_names_out=False)
