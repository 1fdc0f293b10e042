"""Determinism and data integrity.

The same data and seed give bit-identical frontier tables, whatever the run or n_jobs;
no path drops or reorders rows without saying so.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from sklearn.pipeline import Pipeline

from fairmtl import FairMTLClassifier, FairMTLRegressor, FrontierSearch
from fairmtl.cli._model import SHARED_GROUP, UNPREDICTED_GROUP, fit_table, predict_table
from fairmtl.data import (
    GroupEncoder,
    Schema,
    load_training_table,
    make_preprocessor,
    train_val_test_split,
)
from fairmtl.data._groups import MSG_UNSEEN_SHARED
from fairmtl.data._validation import MSG_TARGET_MISSING_DROPPED
from fairmtl.datasets import make_hospitals
from fairmtl.exceptions import DataWarning, SmallGroupWarning

pytestmark = pytest.mark.filterwarnings(
    "ignore:The chosen epsilon:fairmtl.exceptions.FairMTLWarning",
)


def exact(message: str) -> str:
    return "^" + re.escape(message) + "$"


HOSPITALS = {"n_hospitals": 3, "n_samples": 240, "n_features": 4, "random_state": 0}


def search(data, **params):
    params = {
        "n_points": 3,
        "baselines": ("pooled", "independent"),
        "n_boot": 10,
        "random_state": 3,
        **params,
    }
    estimator = FairMTLClassifier(objective="bounded")
    return FrontierSearch(estimator, **params).fit(data.data, data.target, groups=data.groups)


# -- determinism -------------------------------------------------------------------------------
def test_frontier_is_bit_identical_across_runs_and_n_jobs(hospitals):
    first, again, parallel = search(hospitals), search(hospitals), search(hospitals, n_jobs=2)
    for other in (again, parallel):
        pd.testing.assert_frame_equal(first.frontier_, other.frontier_, check_exact=True)
        pd.testing.assert_frame_equal(first.pareto_, other.pareto_, check_exact=True)
        assert first.best_params_ == other.best_params_
        for part in ("train", "val", "test"):
            np.testing.assert_array_equal(getattr(first.split_, part), getattr(other.split_, part))
        for a, b in zip(first.estimators_, other.estimators_, strict=True):
            if hasattr(a, "group_coef_"):
                np.testing.assert_array_equal(a.group_coef_, b.group_coef_)


def test_another_seed_gives_another_split(hospitals):
    a = train_val_test_split(hospitals.data, hospitals.target, hospitals.groups, random_state=0)
    b = train_val_test_split(hospitals.data, hospitals.target, hospitals.groups, random_state=0)
    c = train_val_test_split(hospitals.data, hospitals.target, hospitals.groups, random_state=1)
    np.testing.assert_array_equal(a.test, b.test)
    assert not np.array_equal(a.test, c.test)


def test_refit_is_bit_identical(hospitals):
    X, y, g = hospitals.data, hospitals.target, hospitals.groups
    a = FairMTLClassifier(objective="minimax").fit(X, y, groups=g)
    b = FairMTLClassifier(objective="minimax").fit(X, y, groups=g)
    np.testing.assert_array_equal(a.group_coef_, b.group_coef_)
    np.testing.assert_array_equal(a.predict_proba(X, groups=g), b.predict_proba(X, groups=g))


# -- rows are neither dropped nor reordered -----------------------------------------------------
def test_predict_is_aligned_with_input_rows(hospitals):
    X = hospitals.data.copy()
    X["hospital"] = np.asarray(hospitals.groups)
    rng = np.random.default_rng(0)
    X.index = rng.permutation(len(X)) * 7 + 1000  # an arbitrary, unsorted index
    clf = FairMTLClassifier(objective="minimax", group_column="hospital")
    clf.fit(X, hospitals.target)
    proba = clf.predict_proba(X)
    order = rng.permutation(len(X))
    np.testing.assert_array_equal(clf.predict_proba(X.iloc[order]), proba[order])
    one_by_one = np.vstack([clf.predict_proba(X.iloc[[i]]) for i in range(0, len(X), 37)])
    np.testing.assert_allclose(one_by_one, proba[::37], rtol=0, atol=1e-12)


def test_pipeline_keeps_rows_in_order(hospitals):
    X = hospitals.data.copy()
    X.iloc[::9, 0] = np.nan  # imputed, not dropped
    g = np.asarray(hospitals.groups)
    pipe = Pipeline([("prep", make_preprocessor(X)), ("model", FairMTLRegressor())])
    y = np.asarray(hospitals.data.iloc[:, 1] * 2.0)
    pipe.fit(X, y, model__groups=g)
    pred = pipe.predict(X, groups=g)
    assert pred.shape == (len(X),)
    reverse = np.arange(len(X))[::-1]
    np.testing.assert_allclose(pipe.predict(X.iloc[reverse], groups=g[reverse]), pred[reverse])


def test_unseen_groups_are_predicted_and_counted(hospitals):
    X, y, g = hospitals.data, hospitals.target, np.asarray(hospitals.groups, dtype=object)
    clf = FairMTLClassifier(objective="average").fit(X, y, groups=g)
    new = g.copy()
    new[[3, 50, 51]] = "new hospital"
    message = MSG_UNSEEN_SHARED.format(count=3, names="'new hospital'")
    with pytest.warns(DataWarning, match=exact(message)):
        pred = clf.decision_function(X, groups=new)
    assert pred.shape == (len(X),)
    shared = np.asarray(X)[[3, 50, 51]] @ clf.shared_coef_[:, 0] + clf.shared_intercept_[0]
    np.testing.assert_allclose(pred[[3, 50, 51]], shared)


def test_group_encoding_keeps_row_order():
    g = pd.Series(["b", "a", "c", "a", "b"], index=[10, 3, 7, 1, 0])
    enc = GroupEncoder().fit(g)
    np.testing.assert_array_equal(enc.inverse_transform(enc.transform(g)), g.to_numpy())


def test_split_puts_every_row_in_exactly_one_part():
    rng = np.random.default_rng(0)
    g = np.array(["big"] * 40 + ["tiny"] * 2, dtype=object)
    y = rng.integers(0, 2, size=42)
    with pytest.warns(SmallGroupWarning):
        split = train_val_test_split(np.zeros((42, 1)), y, g, random_state=0)
    parts = np.concatenate([split.train, split.val, split.test])
    np.testing.assert_array_equal(np.sort(parts), np.arange(42))
    assert split.too_small == ("tiny",)
    assert set(np.flatnonzero(g == "tiny")) <= set(split.train)


def test_schema_select_keeps_rows_and_index():
    df = pd.DataFrame(
        {"age": [3.0, 1.0, 2.0], "site": ["x", "y", "x"], "y": [1, 0, 1]}, index=[9, 4, 6]
    )
    parts = Schema(target="y", groups="site").resolve(df).select(df)
    for part in (parts.X, parts.y, parts.groups):
        assert part.index.tolist() == [9, 4, 6]


def test_missing_targets_are_dropped_with_a_count_and_predictions_keep_ids(tmp_path):
    """The CLI's library path: rows without a target are reported, and every row of new
    data gets an output row, in input order, under its id (unseen groups included)."""
    data = make_hospitals(3, n_samples=150, n_features=3, random_state=1)
    df = data.data.assign(hospital=np.asarray(data.groups), readmitted=data.target)
    df["visit"] = [f"v{i:03d}" for i in range(len(df))]
    df.loc[[4, 9], "readmitted"] = np.nan
    message = MSG_TARGET_MISSING_DROPPED.format(column="readmitted", count=2, n=150, row=4)
    with pytest.warns(DataWarning, match=exact(message)):
        table = load_training_table(df, target="readmitted", groups=["hospital"], id_column="visit")
    assert table.rows_dropped == 2 and len(table.frame) == 148
    for sharing, unseen_label in (("offset", SHARED_GROUP), ("independent", UNPREDICTED_GROUP)):
        model = fit_table(table, cv=0, sharing=sharing, objective="average").model
        new = df.drop(columns="readmitted").sample(frac=1.0, random_state=0)
        new.iloc[:4, new.columns.get_loc("hospital")] = "a new hospital"
        outcome = predict_table(model, table.schema, new)
        out = outcome.predictions
        assert out["visit"].tolist() == new["visit"].tolist()
        assert out["group"].iloc[:4].tolist() == [unseen_label] * 4
        assert outcome.unseen == {"a new hospital": 4}
        assert len(out) == len(new)
