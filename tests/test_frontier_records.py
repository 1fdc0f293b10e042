"""The frontier's records: every model usable on new raw data in one way, declared
parameters and fields."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from sklearn.metrics import accuracy_score
from sklearn.utils._param_validation import InvalidParameterError

from fairmtl import FairMTLClassifier, FrontierSearch
from fairmtl.frontier._baselines import Fitted
from fairmtl.frontier._records import SplitData

HOSPITALS = {"n_hospitals": 3, "n_samples": 600, "random_state": 0}
HOSPITALS_AS = "frame"


@pytest.fixture(scope="module")
def search_and_data(hospitals):
    X, y, g = hospitals
    X = X.copy()
    # a text column: the search must preprocess, and so must every model on new data
    X["ward"] = np.where(X.iloc[:, 0].to_numpy() > 0, "north", "south")
    search = FrontierSearch(
        FairMTLClassifier(objective="bounded", alpha=1e-2, sharing_strength=1.0),
        n_points=2,
        baselines=("pooled", "independent"),
        metrics=("accuracy",),
        n_boot=0,
    ).fit(X, y, groups=g)
    return search, X, y, g


def test_every_model_predicts_raw_data_in_one_way(search_and_data):
    search, X, y, g = search_and_data
    assert search.preprocessor_ is not None
    test = search.split_.test
    X_new, g_new = X.iloc[test], g[test]
    Z = search.preprocessor_.transform(X_new)
    assert len(search.models_) == len(search.estimators_) == len(search.results_["models"])
    for model, fitted, row in zip(
        search.models_, search.estimators_, search.results_["models"], strict=True
    ):
        assert model.estimator is fitted and model.label == row["label"]
        pred = model.predict(X_new, g_new)
        # each model's own calling convention, by hand
        if row["source"] == "fairmtl":
            expected = fitted.predict(Z, groups=g_new)
        elif row["method"] == "independent":
            expected = np.empty(len(test), dtype=y.dtype)
            for label, member in fitted.items():
                rows = g_new == label
                expected[rows] = member.predict(Z[rows])
        else:
            expected = fitted.predict(Z)
        np.testing.assert_array_equal(pred, expected)
        assert row["scores"]["overall_accuracy"] == pytest.approx(accuracy_score(y[test], pred))
        assert model.predict_proba(X_new, g_new).shape == (len(test), 2)


def test_parameters_are_declared_and_checked_in_fit(hospitals):
    X, y, g = hospitals
    assert set(FrontierSearch._parameter_constraints) == set(FrontierSearch().get_params())
    with pytest.raises(InvalidParameterError, match="'n_points' parameter of FrontierSearch"):
        FrontierSearch(n_points=0).fit(X, y, groups=g)
    with pytest.raises(InvalidParameterError, match="'cv' parameter of FrontierSearch"):
        FrontierSearch(cv=1).fit(X, y, groups=g)


def test_fitted_declares_its_evaluations_and_documented_attributes():
    names = {f.name for f in dataclasses.fields(Fitted)}
    assert {"val", "test", "predictor"} <= names
    assert SplitData._fields == ("X", "y", "groups", "weights")
    doc = FrontierSearch.__doc__
    for attr in (
        "task_",
        "classes_",
        "boot_indices_",
        "most_accurate_index_",
        "preprocessor_",
        "feature_names_out_",
        "target_name_",
        "models_",
    ):
        assert f"\n    {attr} :" in doc, attr


def test_split_data_join_keeps_rows_in_order():
    a = SplitData(np.zeros((2, 1)), np.array([0, 1]), np.array(["a", "b"]), None)
    b = SplitData(np.ones((1, 1)), np.array([1]), np.array(["c"]), None)
    both = a.join(b)
    assert both.X.shape == (3, 1) and list(both.groups) == ["a", "b", "c"]
    assert both.weights is None
