"""Tests of Schema, the column checks, validate_target and make_preprocessor."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from fairmtl.data import (
    ColumnValidator,
    Schema,
    infer_column_kind,
    make_preprocessor,
    validate_target,
)
from fairmtl.data._preprocess import MSG_BOTH_KINDS, MSG_NO_COLUMNS
from fairmtl.data._schema import (
    MSG_BAD_WEIGHTS,
    MSG_DTYPE_MISMATCH,
    MSG_MISSING_COLUMN,
    MSG_NO_FEATURES,
    MSG_NO_GROUPS,
    MSG_NOT_RESOLVED,
    MSG_ROLE_CONFLICT,
)
from fairmtl.data._validation import (
    MSG_DATETIME_COLUMN,
    MSG_INFINITE_VALUES,
    MSG_MISSING_VALUES,
    MSG_NUMERIC_BAD_VALUE,
    MSG_ONE_CLASS,
    MSG_TARGET_ALL_MISSING,
    MSG_TARGET_INFINITE,
    MSG_TARGET_MISSING_DROPPED,
    MSG_TARGET_MISSING_ERROR,
    MSG_TARGET_NOT_NUMERIC,
)
from fairmtl.exceptions import DataValidationError, DataWarning


def msg_regex(template: str) -> str:
    """A regex matching any message built from a ``MSG_*`` template."""
    return ".*".join(re.escape(part) for part in re.split(r"\{[^}]*\}", template))


@pytest.fixture
def frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "age": [30.0, 40.0, np.nan, 50.0, 61.0, 35.0],
            "sex": ["F", "M", None, "F", "M", "F"],
            "constant": [1.0] * 6,
            "zip": [1001, 1002, 1001, 1003, 1002, 1001],
            "site": list("ababab"),
            "row_id": range(6),
            "w": [1.0, 2.0, 1.0, 1.0, 0.5, 1.0],
            "y": [0, 1, 1, 0, 1, 0],
        }
    )


# -- Schema ---------------------------------------------------------------------------


def test_resolve_defaults(frame):
    schema = Schema(
        target="y", groups="site", id_column="row_id", weight_column="w", categorical=["zip"]
    ).resolve(frame)
    assert schema.groups == ("site",) and schema.categorical == ("zip",)
    assert schema.features == ("age", "sex", "constant", "zip")
    assert schema.feature_dtypes == {
        "age": "numeric",
        "sex": "categorical",
        "constant": "numeric",
        "zip": "categorical",
    }
    assert schema.numeric_features == ("age", "constant")
    assert schema.categorical_features == ("sex", "zip")
    assert schema.is_resolved


def test_round_trip_dict(frame):
    schema = Schema(target="y", groups=("site", "sex"), drop=("zip",)).resolve(frame)
    data = json.loads(json.dumps(schema.to_dict()))
    assert Schema.from_dict(data) == schema
    assert Schema.from_dict(Schema(target="y", groups="site").to_dict()).features is None
    hash(schema)  # frozen and hashable


def test_from_dict_errors():
    with pytest.raises(DataValidationError, match="unknown keys.*'groupz'"):
        Schema.from_dict({"target": "y", "groupz": ["a"]})
    with pytest.raises(DataValidationError, match="missing keys.*'groups'"):
        Schema.from_dict({"target": "y"})
    with pytest.raises(DataValidationError, match="bad feature_dtypes"):
        Schema.from_dict({"target": "y", "groups": ["g"], "feature_dtypes": {"a": "text"}})


@pytest.mark.parametrize(
    ("kwargs", "column", "role"),
    [
        ({"target": "yy", "groups": "site"}, "yy", "target"),
        ({"target": "y", "groups": "sites"}, "sites", "group column"),
        ({"target": "y", "groups": "site", "features": ("agee",)}, "agee", "feature"),
        ({"target": "y", "groups": "site", "weight_column": "W"}, "W", "weight column"),
    ],
)
def test_missing_column_suggests_closest(frame, kwargs, column, role):
    with pytest.raises(DataValidationError, match=msg_regex(MSG_MISSING_COLUMN)) as e:
        Schema(**kwargs).resolve(frame)
    message = str(e.value)
    assert f"{column!r} (the {role})" in message
    assert "Did you mean" in message and "'age'" in message


def test_missing_column_without_close_name(frame):
    with pytest.raises(DataValidationError) as e:
        Schema(target="qqqqqq", groups="site").resolve(frame)
    assert "Did you mean" not in str(e.value) and "Available columns" in str(e.value)


@pytest.mark.parametrize(
    ("kwargs", "column"),
    [
        ({"target": "y", "groups": ("site", "y")}, "y"),
        ({"target": "y", "groups": "site", "features": ("age", "y")}, "y"),
        ({"target": "y", "groups": "site", "drop": ("site",)}, "site"),
        ({"target": "y", "groups": "site", "id_column": "y"}, "y"),
        ({"target": "y", "groups": "site", "id_column": "w", "weight_column": "w"}, "w"),
    ],
)
def test_role_conflicts(kwargs, column):
    with pytest.raises(DataValidationError, match=msg_regex(MSG_ROLE_CONFLICT)) as e:
        Schema(**kwargs)
    assert repr(column) in str(e.value)


def test_group_may_be_a_listed_feature(frame):
    schema = Schema(target="y", groups="sex", features=("age", "sex")).resolve(frame)
    assert schema.features == ("age", "sex")


def test_schema_field_errors(frame):
    with pytest.raises(DataValidationError, match=msg_regex(MSG_NO_GROUPS)):
        Schema(target="y", groups=())
    with pytest.raises(DataValidationError, match="listed more than once"):
        Schema(target="y", groups=("site", "site"))
    with pytest.raises(DataValidationError, match="must hold column names"):
        Schema(target="y", groups=(1,))
    with pytest.raises(DataValidationError, match="'zip' is marked categorical"):
        Schema(target="y", groups="site", features=("age",), categorical=("zip",))
    with pytest.raises(DataValidationError, match=msg_regex(MSG_NO_FEATURES)):
        Schema(target="y", groups="site").resolve(frame[["site", "y"]])
    with pytest.raises(DataValidationError, match="names must be strings"):
        Schema(target="y", groups="site").resolve(pd.DataFrame(np.zeros((2, 2))))


def test_bad_weights_named(frame):
    frame.loc[3, "w"] = -1.0
    with pytest.raises(DataValidationError, match=msg_regex(MSG_BAD_WEIGHTS)) as e:
        Schema(target="y", groups="site", weight_column="w").resolve(frame)
    assert "'w'" in str(e.value) and "row 3" in str(e.value)


def test_id_like_categorical_warns():
    df = pd.DataFrame({"name": [f"p{i}" for i in range(300)], "g": ["a"] * 300, "y": [0, 1] * 150})
    with pytest.warns(DataWarning, match="'name' has 300 distinct values"):
        Schema(target="y", groups="g").resolve(df)


def test_check_frame_and_select(frame):
    schema = Schema(target="y", groups="site", id_column="row_id", weight_column="w")
    schema = schema.resolve(frame)
    cols = schema.select(frame)
    assert list(cols.X.columns) == list(schema.features)
    assert cols.y.name == "y" and cols.groups.name == "site"
    assert cols.sample_weight.name == "w" and cols.ids.name == "row_id"
    new = frame.drop(columns=["y"])
    assert schema.select(new, require_target=False).y is None
    with pytest.raises(DataValidationError, match="'y' \\(the target\\)"):
        schema.select(new)
    with pytest.raises(DataValidationError, match=msg_regex(MSG_DTYPE_MISMATCH)):
        schema.check_frame(frame.assign(age=["old", "young"] * 3))
    with pytest.raises(DataValidationError, match=msg_regex(MSG_NOT_RESOLVED)):
        Schema(target="y", groups="site").check_frame(frame)


# -- column kinds, numeric columns with bad values -------------------------------------


def test_numeric_rule():
    numbers = [str(i) for i in range(40)]
    assert infer_column_kind(pd.Series([1, 2]), column="a") == "numeric"
    assert infer_column_kind(pd.Series([True, False]), column="a") == "numeric"
    assert infer_column_kind(pd.Series(numbers, dtype=object), column="a") == "numeric"
    assert infer_column_kind(pd.Series(["1", "x", "y"]), column="a") == "categorical"
    assert infer_column_kind(pd.Series(["a", "b"], dtype="category"), column="a") == "categorical"
    with pytest.raises(DataValidationError, match=msg_regex(MSG_DATETIME_COLUMN)):
        infer_column_kind(pd.Series(pd.to_datetime(["2020-01-01"])), column="when")


def test_mostly_numeric_column_with_bad_value(frame):
    df = pd.DataFrame(
        {"income": [str(i) for i in range(30)] + ["12a"], "g": ["a"] * 31, "y": [0, 1] * 15 + [0]}
    )
    with pytest.raises(DataValidationError, match=msg_regex(MSG_NUMERIC_BAD_VALUE)) as e:
        Schema(target="y", groups="g").resolve(df)
    message = str(e.value)
    assert "'income'" in message and "'12a'" in message and "row 30" in message
    assert "categorical" in message
    # Marking it categorical is the fix.
    schema = Schema(target="y", groups="g", categorical=("income",)).resolve(df)
    assert schema.feature_dtypes == {"income": "categorical"}


# -- validate_target --------------------------------------------------------------------


def test_target_single_class_names_column_and_class():
    with pytest.raises(DataValidationError, match=msg_regex(MSG_ONE_CLASS)) as e:
        validate_target(pd.Series(["yes"] * 4), task="classification", column="readmitted")
    assert "'readmitted'" in str(e.value) and "'yes'" in str(e.value)


def test_target_missing_dropped_with_warning():
    y = pd.Series([0, np.nan, 1, None, 1], dtype=object)
    with pytest.warns(DataWarning, match=msg_regex(MSG_TARGET_MISSING_DROPPED)) as rec:
        keep = validate_target(y, task="classification", column="label")
    assert keep.tolist() == [True, False, True, False, True]
    assert "2 of 5 rows" in str(rec[0].message) and "'label'" in str(rec[0].message)


def test_target_missing_error():
    y = [1.0, np.nan, 2.0]
    with pytest.raises(DataValidationError, match=msg_regex(MSG_TARGET_MISSING_ERROR)):
        validate_target(y, task="regression", column="cost", on_missing_target="error")
    with pytest.raises(DataValidationError, match=msg_regex(MSG_TARGET_ALL_MISSING)):
        validate_target([np.nan, np.nan], task="regression", column="cost")


def test_regression_target_not_numeric():
    y = pd.Series(["1.5", "2", "abc", "x"], index=[5, 6, 7, 8])
    with pytest.raises(DataValidationError, match=msg_regex(MSG_TARGET_NOT_NUMERIC)) as e:
        validate_target(y, task="regression", column="cost")
    message = str(e.value)
    assert "'cost'" in message and "'abc'" in message and "row 7" in message
    assert validate_target(["1.5", "2"], task="regression", column="cost").all()
    with pytest.raises(DataValidationError, match=msg_regex(MSG_TARGET_INFINITE)):
        validate_target([1.0, np.inf], task="regression", column="cost")


def test_continuous_classification_target():
    with pytest.raises(DataValidationError, match="continuous values"):
        validate_target([0.5, 1.25, 3.0], task="classification", column="score")
    assert validate_target([0.0, 1.0, 1.0], task="classification", column="y").all()


def test_validate_target_parameters():
    with pytest.raises(ValueError, match="task must be"):
        validate_target([0, 1], task="ranking", column="y")


# -- make_preprocessor -------------------------------------------------------------------


def test_preprocessor_from_schema(frame):
    schema = Schema(target="y", groups="site", drop=("row_id", "w")).resolve(frame)
    pre = make_preprocessor(schema, categorical=["zip"])
    out = pre.fit_transform(frame)  # extra columns (site, y) are dropped
    names = pre.get_feature_names_out().tolist()
    assert names == [
        "age", "constant", "sex_F", "sex_M", "sex_missing", "zip_1001", "zip_1002", "zip_1003"
    ]  # fmt: skip
    assert out.shape == (6, len(names)) and np.isfinite(out).all()
    assert np.allclose(out[:, 1], 0.0)  # a constant column is kept, not a crash
    unseen = frame.assign(sex=["X"] * 6, zip=[9999] * 6)
    assert np.isfinite(pre.transform(unseen)).all()


def test_preprocessor_from_frame_and_in_pipeline(frame):
    X = frame[["age", "sex"]]
    pipe = make_pipeline(
        make_preprocessor(X, categorical_impute="most_frequent"), LogisticRegression()
    )
    pipe.fit(X, frame["y"])
    assert pipe.predict(X).shape == (6,)
    assert "sex_missing" not in pipe[0].get_feature_names_out()
    clone(pipe)


def test_preprocessor_no_impute_names_missing_columns(frame):
    frame.loc[4, "age"] = np.nan
    frame["city"] = ["x", None, "y", "y", None, None]
    pre = make_preprocessor(frame[["age", "constant", "sex", "city"]], impute=False, scale=False)
    with pytest.raises(DataValidationError, match=msg_regex(MSG_MISSING_VALUES)) as e:
        pre.fit(frame)
    message = str(e.value)  # the numeric branch is checked first
    assert "'age': 2 missing (first at row 2)" in message and "'constant'" not in message
    pre = make_preprocessor(frame[["sex", "city"]], impute=False)
    with pytest.raises(DataValidationError, match="'sex': 1 missing.*'city': 3 missing"):
        pre.fit(frame)


def test_preprocessor_infinite_values(frame):
    frame.loc[4, "age"] = -np.inf
    pre = make_preprocessor(frame[["age"]])
    with pytest.raises(DataValidationError, match=msg_regex(MSG_INFINITE_VALUES)) as e:
        pre.fit(frame)
    assert "'age'" in str(e.value) and "row 4" in str(e.value)


def test_preprocessor_rejects_text_in_numeric_at_transform(frame):
    pre = make_preprocessor(frame[["age"]]).fit(frame)
    bad = frame.assign(age=["1", "2", "3", "oops", "5", "6"])
    with pytest.raises(DataValidationError, match="'oops'"):
        pre.transform(bad)


def test_preprocessor_errors(frame):
    with pytest.raises(DataValidationError, match=msg_regex(MSG_NOT_RESOLVED)):
        make_preprocessor(Schema(target="y", groups="site"))
    with pytest.raises(DataValidationError, match=msg_regex(MSG_BOTH_KINDS)):
        make_preprocessor(frame[["age"]], numeric=["age"], categorical=["age"])
    with pytest.raises(DataValidationError, match="'agee'.*Did you mean 'age'"):
        make_preprocessor(frame[["age"]], numeric=["agee"])
    with pytest.raises(DataValidationError, match=msg_regex(MSG_NO_COLUMNS)):
        make_preprocessor(None)
    pre = make_preprocessor(None, numeric=["age"], categorical=["sex"]).fit(frame)
    assert pre.get_feature_names_out().tolist()[0] == "age"


def test_column_validator_on_arrays():
    checker = ColumnValidator("categorical").fit(np.array([[1, "a"], [2, None]], dtype=object))
    out = checker.transform(np.array([[1, "a"], [2, None]], dtype=object))
    assert out[0].tolist() == ["1", "a"] and out[1, 0] == "2" and pd.isna(out[1, 1])
    assert checker.get_feature_names_out().tolist() == ["x0", "x1"]
