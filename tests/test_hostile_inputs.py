"""Hostile and degenerate inputs: each has one exact, documented outcome.

Either an error whose message names the problem (column, row, group, size), or a
documented behaviour with a warning. ``tests/README.md`` lists them for users.
"""

from __future__ import annotations

import contextlib
import re
import warnings

import markupsafe
import numpy as np
import pandas as pd
import pytest
from sklearn.pipeline import Pipeline

from fairmtl import FairMTLClassifier, FairMTLRegressor, FrontierSearch
from fairmtl.data import (
    GroupEncoder,
    Schema,
    make_preprocessor,
    read_table,
    validate_target,
)
from fairmtl.data._file_checks import (
    MSG_DUPLICATE_COLUMNS as MSG_IO_DUPLICATE_COLUMNS,
)
from fairmtl.data._file_checks import (
    MSG_EMPTY_FILE,
    MSG_TOO_LARGE,
)
from fairmtl.data._groups import MSG_SMALL_GROUPS
from fairmtl.data._io import MSG_NO_ROWS
from fairmtl.data._labels import MSG_AMBIGUOUS_LABEL, MSG_MISSING_GROUP
from fairmtl.data._schema import MSG_DUPLICATE_COLUMNS as MSG_SCHEMA_DUPLICATE_COLUMNS
from fairmtl.data._validation import MSG_INFINITE_VALUES, MSG_TARGET_MISSING_DROPPED
from fairmtl.estimators._input import (
    HUGE_FEATURE,
    MSG_DUPLICATE_FEATURES,
    MSG_FEATURE_NOT_FINITE,
    MSG_HUGE_FEATURES,
    MSG_ONE_CLASS_GROUP,
)
from fairmtl.exceptions import DataValidationError, DataWarning, SmallGroupWarning
from fairmtl.report import render_html
from fairmtl.solvers import SOLUTION_PRESENT


def exact(message: str) -> str:
    """A regex matching exactly ``message`` (for ``pytest.raises(match=...)``)."""
    return "^" + re.escape(message) + "$"


def make_data(n: int = 60, groups=("a", "b", "c"), seed: int = 0):
    """Small data with both classes in every group (X, y binary, y regression, groups)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    g = np.array(groups, dtype=object)[np.arange(n) % len(groups)]
    y = (X[:, 0] + 0.8 * rng.normal(size=n) > 0).astype(int)
    y[: 2 * len(groups)] = np.repeat([0, 1], len(groups))  # both classes in every group
    y_reg = X @ np.array([1.0, -2.0, 0.5]) + 0.3 * rng.normal(size=n)
    return X, y, y_reg, g


@contextlib.contextmanager
def no_warnings(category=Warning):
    """Turn warnings of ``category`` into errors inside the block."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", category)
        yield


# -- a group with one row --------------------------------------------------------------
@pytest.mark.parametrize("sharing", ["shared", "offset"])
def test_one_row_group_fits_and_predicts(sharing):
    X, y, _, g = make_data()
    X1 = np.vstack([X, [[0.1, 0.2, 0.3]]])
    y1, g1 = np.append(y, 1), np.append(g, "solo")
    with no_warnings(DataWarning):
        clf = FairMTLClassifier(sharing, objective="average").fit(X1, y1, groups=g1)
    assert clf.solver_info_["status"] == "optimal"
    assert clf.group_sizes_["solo"] == 1
    proba = clf.predict_proba(X1[-1:], groups=["solo"])[:, 1]
    # the group borrows from the others: no saturated probability
    assert 0.01 < proba[0] < 0.99


def test_one_row_group_independent_warns_single_class():
    X, y, _, g = make_data()
    X1 = np.vstack([X, [[0.1, 0.2, 0.3]]])
    y1, g1 = np.append(y, 1), np.append(g, "solo")
    message = MSG_ONE_CLASS_GROUP.format(groups="'solo'", sharing="independent")
    with pytest.warns(DataWarning, match=exact(message)):
        clf = FairMTLClassifier("independent", objective="average").fit(X1, y1, groups=g1)
    assert clf.predict_proba(X1[-1:], groups=["solo"])[0, 1] > 1 - 1e-6


def test_one_row_group_small_group_warning_names_it():
    _, _, _, g = make_data()
    g1 = np.append(g, "solo")
    message = MSG_SMALL_GROUPS.format(count=1, min_size=2, details="'solo' (1 rows)")
    with pytest.warns(SmallGroupWarning, match=exact(message)):
        GroupEncoder(min_group_size=2).fit(g1)


def test_one_row_group_regressor():
    X, _, y_reg, g = make_data()
    X1 = np.vstack([X, [[0.1, 0.2, 0.3]]])
    y1, g1 = np.append(y_reg, 5.0), np.append(g, "solo")
    reg = FairMTLRegressor("offset", objective="minimax").fit(X1, y1, groups=g1)
    assert reg.solver_info_["status"] in SOLUTION_PRESENT
    assert np.isfinite(reg.predict(X1, groups=g1)).all()


# -- a group with one class ------------------------------------------------------------
def _one_class_data():
    X, y, _, g = make_data(n=60, groups=("a", "b"))
    y = y.copy()
    y[g == "b"] = 1
    return X, y, g


@pytest.mark.parametrize("sharing", ["shared", "offset"])
def test_one_class_group_borrows_from_others(sharing):
    """A penalised or shared intercept stays finite: the group is predicted sensibly."""
    X, y, g = _one_class_data()
    with no_warnings(DataWarning):
        clf = FairMTLClassifier(sharing, objective="minimax").fit(X, y, groups=g)
    assert clf.solver_info_["status"] == "optimal"
    assert np.all(np.abs(clf.intercept_) < 5)
    proba = clf.predict_proba(X[g == "b"], groups=g[g == "b"])[:, 1]
    assert proba.max() < 1 - 1e-3


@pytest.mark.parametrize(
    ("sharing", "strength"), [("independent", 1.0), ("lowrank", 1.0), ("offset", 0.0)]
)
def test_one_class_group_with_free_intercept_warns(sharing, strength):
    """No finite optimum for the group's intercept; documented and warned."""
    X, y, g = _one_class_data()
    message = MSG_ONE_CLASS_GROUP.format(groups="'b'", sharing=sharing)
    with pytest.warns(DataWarning, match=exact(message)):
        clf = FairMTLClassifier(sharing, objective="average", sharing_strength=strength).fit(
            X, y, groups=g
        )
    proba = clf.predict_proba(X[g == "b"], groups=g[g == "b"])[:, 1]
    assert proba.min() > 1 - 1e-4  # the group's class, with probability ~1
    assert clf.predict(X[g == "b"], groups=g[g == "b"]).tolist() == [1] * int((g == "b").sum())


def test_one_class_warning_lists_five_groups_and_a_count():
    X, y, _, g = make_data(n=80, groups=tuple("abcdefgh"))
    y = np.where(np.isin(g, list("abcdefg")), 1, y)
    names = "'a', 'b', 'c', 'd', 'e' and 2 more"
    message = MSG_ONE_CLASS_GROUP.format(groups=names, sharing="independent")
    with pytest.warns(DataWarning, match=exact(message)):
        FairMTLClassifier("independent", objective="average").fit(X, y, groups=g)


# -- 1000 groups of 5 rows -------------------------------------------------------------
def _many_groups(n_groups: int = 1000, size: int = 5):
    rng = np.random.default_rng(1)
    n = n_groups * size
    X = rng.normal(size=(n, 3))
    y = (X[:, 0] + rng.normal(size=n) > 0).astype(int)
    g = np.repeat([f"g{i:04d}" for i in range(n_groups)], size)
    return X, y, g


def test_many_small_groups_warning_is_short():
    _, _, g = _many_groups()
    details = ", ".join(f"'g{i:04d}' (5 rows)" for i in range(5)) + " and 995 more"
    message = MSG_SMALL_GROUPS.format(count=1000, min_size=20, details=details)
    with pytest.warns(SmallGroupWarning, match=exact(message)):
        enc = GroupEncoder(min_group_size=20).fit(g)
    assert enc.n_groups_ == 1000


def test_many_small_groups_merged_then_fitted():
    X, y, g = _many_groups()
    enc = GroupEncoder(min_group_size=20, small_groups="merge").fit(g)
    assert enc.labels_.tolist() == ["other"]
    assert len(enc.merged_) == 1000 and enc.sizes_["other"] == 5000
    merged = enc.inverse_transform(enc.transform(g))
    clf = FairMTLClassifier("shared", objective="minimax").fit(X, y, groups=merged)
    assert clf.groups_.tolist() == ["other"]
    assert clf.predict(X[:7], groups=merged[:7]).shape == (7,)


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::fairmtl.exceptions.SolverFallbackWarning")
def test_thousand_groups_shared_fit_works():
    """~1 min and ~0.6 GB: compiled without DPP above DPP_MAX_GROUPS (with DPP: out of memory)."""
    X, y, g = _many_groups()
    clf = FairMTLClassifier("shared", objective="minimax").fit(X, y, groups=g)
    assert clf.n_groups_ == 1000
    assert clf.solver_info_["status"] in SOLUTION_PRESENT
    assert clf.predict(X, groups=g).shape == (5000,)


# -- all rows in one group -------------------------------------------------------------
def test_all_rows_in_one_group():
    X, _, y_reg, _ = make_data()
    g = np.full(len(y_reg), "everyone", dtype=object)
    avg = FairMTLRegressor("offset", objective="average").fit(X, y_reg, groups=g)
    mm = FairMTLRegressor("offset", objective="minimax").fit(X, y_reg, groups=g)
    assert mm.groups_.tolist() == ["everyone"] and mm.n_groups_ == 1
    # with one group, the worst group is the average: the same model
    np.testing.assert_allclose(mm.predict(X), avg.predict(X, groups=g), atol=1e-4)
    np.testing.assert_allclose(mm.predict(X), mm.predict(X, groups=g))


# -- NaN and inf in features -----------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "what"), [(np.nan, "missing (NaN)"), (np.inf, "infinite"), (-np.inf, "infinite")]
)
def test_nonfinite_feature_names_column_and_row(value, what):
    X, y, _, g = make_data()
    df = pd.DataFrame(X, columns=["age", "bp", "bmi"], index=np.arange(100, 160))
    df.loc[[107, 131], "bp"] = value
    message = MSG_FEATURE_NOT_FINITE.format(column="bp", count=2, what=what, row=107)
    with pytest.raises(DataValidationError, match=exact(message)):
        FairMTLClassifier().fit(df, y, groups=g)


def test_nonfinite_feature_in_array_is_refused():
    """An unnamed array has no column name to give: scikit-learn's error names the input."""
    X, y, _, g = make_data()
    X[4, 1] = np.nan
    with pytest.raises(ValueError, match="Input X contains NaN"):
        FairMTLClassifier().fit(X, y, groups=g)


def test_preprocessor_imputes_nan_and_refuses_inf():
    df = pd.DataFrame({"age": [30.0, np.nan, 50.0, 41.0], "bp": [1.0, 2.0, np.inf, 3.0]})
    imputed = make_preprocessor(df[["age"]]).fit_transform(df[["age"]])
    assert np.isfinite(imputed).all()
    message = MSG_INFINITE_VALUES.format(column="bp", count=1, value=np.inf, row=2)
    with pytest.raises(DataValidationError, match=exact(message)):
        make_preprocessor(df).fit_transform(df)


# -- NaN in the target or the group column ---------------------------------------------
def test_nan_target_dropped_with_count():
    y = pd.Series([1, 0, np.nan, 1, np.nan, 0], name="readmitted")
    message = MSG_TARGET_MISSING_DROPPED.format(column="readmitted", count=2, n=6, row=2)
    with pytest.warns(DataWarning, match=exact(message)):
        keep = validate_target(y, task="classification", column="readmitted")
    assert keep.tolist() == [True, True, False, True, False, True]


def test_nan_target_refused_by_estimator():
    X, y, _, g = make_data()
    y = y.astype(float)
    y[3] = np.nan
    with pytest.raises(ValueError, match="Input y contains NaN"):
        FairMTLClassifier().fit(X, y, groups=g)


def test_nan_target_dropped_by_frontier_search_with_count():
    X, y, _, g = make_data(n=120)
    y = pd.Series(y.astype(float), name="readmitted")
    y[[5, 17]] = np.nan
    message = MSG_TARGET_MISSING_DROPPED.format(column="readmitted", count=2, n=120, row=5)
    search = FrontierSearch(
        FairMTLClassifier(objective="bounded"), n_points=2, baselines=(), n_boot=0
    )
    with pytest.warns(DataWarning, match=exact(message)):
        search.fit(X, y, groups=g, data_info={"rows_dropped": 3})
    assert search.results_["data"]["rows_dropped"] == 5  # 3 upstream + 2 here
    assert search.results_["data"]["n_rows"] == 118


def test_nan_group_names_column_and_row():
    X, y, _, g = make_data()
    df = pd.DataFrame(X, columns=["age", "bp", "bmi"])
    df["hospital"] = g
    df.loc[9, "hospital"] = None
    message = MSG_MISSING_GROUP.format(column="'hospital'", count=1, row=9)
    with pytest.raises(DataValidationError, match=exact(message)):
        FairMTLClassifier(group_column="hospital").fit(df, y)


def test_mixed_type_group_labels_that_clash_are_refused():
    X, y, _, _ = make_data()
    g = np.array([1, "1", 2] * 20, dtype=object)
    message = MSG_AMBIGUOUS_LABEL.format(column="'groups'", values="1, '1'", label="1", rows="0, 1")
    with pytest.raises(DataValidationError, match=exact(message)):
        FairMTLClassifier().fit(X, y, groups=g)


def test_mixed_type_group_labels_that_differ_are_groups():
    X, y, _, _ = make_data()
    g = np.array([1, "2", 3.5] * 20, dtype=object)
    clf = FairMTLClassifier().fit(X, y, groups=g)
    assert clf.groups_.tolist() == ["1", "2", "3.5"]
    np.testing.assert_array_equal(clf.predict(X, groups=g), clf.predict(X, groups=g.astype(str)))


# -- unicode and very long group names -------------------------------------------------
NAMES = [
    '<script>alert("x")</script>',
    "Hôpital Saint-Éloi & Cie",
    "病院" + "長" * 300,
]


def test_unicode_and_long_group_names_round_trip():
    X, y, _, g = make_data(groups=tuple(NAMES))
    clf = FairMTLClassifier().fit(X, y, groups=g)
    assert clf.groups_.tolist() == sorted(NAMES)
    assert clf.group_losses_.index.tolist() == sorted(NAMES)
    X_new = X[:6][::-1]
    expected = [clf.predict(X_new[i : i + 1], groups=[name]) for i, name in enumerate(g[:6][::-1])]
    np.testing.assert_array_equal(clf.predict(X_new, groups=g[:6][::-1]), np.concatenate(expected))


@pytest.mark.filterwarnings("ignore:The chosen epsilon:fairmtl.exceptions.FairMTLWarning")
def test_unicode_and_long_group_names_escaped_in_report():
    X, y, _, g = make_data(n=240, groups=tuple(NAMES))
    search = FrontierSearch(
        FairMTLClassifier(objective="bounded"), n_points=2, baselines=("pooled",), n_boot=10
    ).fit(X, y, groups=g)
    assert set(search.frontier_["group"]) >= set(NAMES)
    page = render_html(search.results_)
    assert "<script>alert" not in page
    for name in NAMES:
        assert str(markupsafe.escape(name)) in page  # Jinja2's autoescaping


# -- duplicated column names, empty and header-only CSVs, size limit -------------------
def test_duplicated_columns_in_csv(tmp_path):
    path = tmp_path / "dup.csv"
    path.write_text("age,age,y\n1,2,0\n")
    message = MSG_IO_DUPLICATE_COLUMNS.format(path=path, names="'age'")
    with pytest.raises(DataValidationError, match=exact(message)):
        read_table(path)


def test_duplicated_columns_in_frame():
    X, y, _, g = make_data()
    df = pd.DataFrame(X, columns=["age", "bp", "age"])
    with pytest.raises(
        DataValidationError, match=exact(MSG_DUPLICATE_FEATURES.format(names="'age'"))
    ):
        FairMTLClassifier().fit(df, y, groups=g)
    df["y"], df["site"] = y, g
    message = MSG_SCHEMA_DUPLICATE_COLUMNS.format(names="'age'")
    with pytest.raises(DataValidationError, match=exact(message)):
        Schema(target="y", groups="site").resolve(df)


@pytest.mark.parametrize("text", ["", "\n\n"])
def test_empty_csv(tmp_path, text):
    path = tmp_path / "empty.csv"
    path.write_text(text)
    with pytest.raises(DataValidationError, match=exact(MSG_EMPTY_FILE.format(path=path))):
        read_table(path)


def test_header_only_csv(tmp_path):
    path = tmp_path / "header.csv"
    path.write_text("age,hospital,y\n")
    message = MSG_NO_ROWS.format(path=path, n_columns=3, columns="'age', 'hospital', 'y'")
    with pytest.raises(DataValidationError, match=exact(message)):
        read_table(path)


def test_file_over_the_size_limit_is_refused(tmp_path):
    path = tmp_path / "big.csv"
    path.write_text("age,y\n" + "30,1\n" * 400)  # 2006 bytes
    message = MSG_TOO_LARGE.format(path=path, size="2.0 KiB", limit="1000 bytes")
    with pytest.raises(DataValidationError, match=exact(message)):
        read_table(path, max_bytes=1000)
    assert len(read_table(path, max_bytes=4096)) == 400


# -- features of huge magnitude --------------------------------------------------------
def test_huge_features_warn_naming_the_column():
    X, y, _, g = make_data()
    df = pd.DataFrame(X, columns=["age", "income", "bmi"])
    df["income"] *= 1e12
    value = float(np.abs(df["income"]).max())
    message = MSG_HUGE_FEATURES.format(columns="'income'", value=value)
    with pytest.warns(DataWarning, match=exact(message)):
        FairMTLClassifier().fit(df, y, groups=g)
    assert value > HUGE_FEATURE


@pytest.mark.parametrize("sharing", ["shared", "independent"])
@pytest.mark.parametrize("objective", ["average", "minimax"])
def test_huge_features_fit_is_still_correct(sharing, objective):
    """X * 1e12 with alpha is the problem of X with alpha / 1e24: the same predictions.

    (alpha penalises coefficients in the features' units; offset and lowrank also penalise
    intercept differences, which do not scale, so only these two schemes are equivariant.)
    """
    X, y, _, g = make_data(n=80)
    small = FairMTLClassifier(sharing, objective=objective, alpha=1e-28).fit(X, y, groups=g)
    with pytest.warns(DataWarning):
        huge = FairMTLClassifier(sharing, objective=objective, alpha=1e-4).fit(
            X * 1e12, y, groups=g
        )
    assert huge.solver_info_["status"] == "optimal"
    np.testing.assert_allclose(
        huge.predict_proba(X * 1e12, groups=g), small.predict_proba(X, groups=g), atol=1e-4
    )


def test_huge_features_standardised_in_a_pipeline():
    X, y, _, g = make_data(n=80)
    df = pd.DataFrame(X, columns=["age", "income", "bmi"])
    big = df.assign(income=df["income"] * 1e12)

    def fit(frame):
        pipe = Pipeline([("prep", make_preprocessor(frame)), ("model", FairMTLClassifier())])
        return pipe.fit(frame, y, model__groups=g).predict_proba(frame, groups=g)

    with no_warnings(DataWarning):
        np.testing.assert_allclose(fit(big), fit(df), atol=1e-4)
