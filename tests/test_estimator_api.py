"""FairMTLClassifier / FairMTLRegressor as scikit-learn estimators, and their errors."""

from __future__ import annotations

import re
import warnings

import cvxpy as cp
import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from fairmtl import FairMTLClassifier, FairMTLRegressor
from fairmtl.exceptions import (
    DataValidationError,
    DataWarning,
    SolverFailedError,
    SolverFallbackWarning,
    UnseenGroupError,
)

# -- scikit-learn's own estimator checks -----------------------------------------------


@parametrize_with_checks(
    [
        FairMTLClassifier(),
        FairMTLRegressor(),
        FairMTLClassifier(loss="hinge", objective="average", sharing="shared"),
    ],
)
def test_sklearn_compatible(estimator, check):
    check(estimator)


# -- data ------------------------------------------------------------------------------


def hospital_frame(seed=0, n=600, n_hospitals=4):
    """A DataFrame with numeric and categorical features and a 'hospital' column."""
    rng = np.random.default_rng(seed)
    hospital = rng.choice([f"h{k}" for k in range(n_hospitals)], size=n)
    ward = rng.choice(["icu", "general", "surgery"], size=n)
    age = rng.normal(60, 15, size=n)
    los = rng.gamma(2.0, 3.0, size=n)
    offset = {f"h{k}": v for k, v in enumerate(np.linspace(-0.8, 0.8, n_hospitals))}
    score = (
        0.04 * (age - 60)
        + 0.15 * (los - 6)
        + np.where(ward == "icu", 1.0, 0.0)
        + np.vectorize(offset.get)(hospital)
    )
    y = (score + rng.logistic(size=n) > 0).astype(int)
    index = pd.Index(rng.permutation(np.arange(1000, 1000 + n)), name="patient")
    X = pd.DataFrame({"age": age, "los": los, "ward": ward, "hospital": hospital}, index=index)
    return X, pd.Series(y, index=index, name="readmitted")


def numeric_data(seed=0, n=300):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    g = rng.choice(["a", "b", "c"], size=n)
    y = (X @ [1.0, -1.0, 0.5] + np.where(g == "a", 1.0, -0.5) + rng.logistic(size=n) > 0).astype(
        int
    )
    return X, y, g


# -- parameters ------------------------------------------------------------------------


@pytest.mark.parametrize("cls", [FairMTLClassifier, FairMTLRegressor])
def test_clone_get_set_params(cls):
    est = cls(sharing="independent", objective="bounded", epsilon=[0.1, 0.2], alpha=0.5)
    params = est.get_params()
    assert params["sharing"] == "independent" and params["alpha"] == 0.5
    assert params["epsilon"] == [0.1, 0.2]
    copy = clone(est)
    assert copy is not est and copy.get_params() == params
    assert est.set_params(alpha=2.0, objective="minimax") is est
    assert est.alpha == 2.0 and est.objective == "minimax"
    assert copy.alpha == 0.5  # clone is independent


@pytest.mark.parametrize(
    "params",
    [
        {"sharing": "banana"},
        {"objective": "maximin"},
        {"alpha": -1.0},
        {"sharing_strength": -0.1},
        {"tilt": 0.0},
        {"solver": "GUROBI"},
    ],
)
def test_invalid_params_are_refused_at_fit(params):
    X, y, g = numeric_data()
    est = FairMTLClassifier(**params)  # __init__ only stores
    with pytest.raises(ValueError, match=next(iter(params))):
        est.fit(X, y, groups=g)


def test_fit_returns_self_and_fitted_attributes():
    X, y, g = numeric_data()
    est = FairMTLClassifier(objective="minimax")
    assert est.fit(X, y, groups=g) is est
    assert est.n_features_in_ == 3
    np.testing.assert_array_equal(est.classes_, [0, 1])
    np.testing.assert_array_equal(est.groups_, ["a", "b", "c"])
    assert est.coef_.shape == (3, 3) and est.intercept_.shape == (3,)
    assert list(est.group_losses_.index) == ["a", "b", "c"]
    proba = est.predict_proba(X, groups=g)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(est.predict(X, groups=g), (proba[:, 1] > 0.5).astype(int))
    assert 0.5 < est.score(X, y, groups=g) <= 1.0


def test_no_groups_means_one_group():
    X, y, _ = numeric_data()
    est = FairMTLClassifier(objective="minimax").fit(X, y)
    assert est.n_groups_ == 1
    assert est.predict(X).shape == (len(y),)


# -- pipelines and search ---------------------------------------------------------------


def make_pipeline(model):
    prep = ColumnTransformer(
        [
            ("cat", OneHotEncoder(sparse_output=False, handle_unknown="ignore"), ["ward"]),
            ("num", StandardScaler(), ["age", "los"]),
            ("group", "passthrough", ["hospital"]),
        ],
        verbose_feature_names_out=False,
    ).set_output(transform="pandas")
    return Pipeline([("prep", prep), ("model", model)])


def test_pipeline_with_column_transformer_and_group_column():
    X, y = hospital_frame()
    pipe = make_pipeline(
        FairMTLClassifier(sharing="offset", objective="minimax", group_column="hospital")
    )
    pipe.fit(X, y)
    model = pipe.named_steps["model"]
    np.testing.assert_array_equal(model.groups_, ["h0", "h1", "h2", "h3"])
    assert "hospital" not in model.feature_names_in_
    assert set(model.feature_names_in_) == {
        "ward_general",
        "ward_icu",
        "ward_surgery",
        "age",
        "los",
    }
    pred = pipe.predict(X)
    assert pred.shape == (len(y),)
    assert pipe.score(X, y) > 0.6
    # the same as fitting the model by hand on the transformed frame
    Z = pipe.named_steps["prep"].transform(X)
    by_hand = FairMTLClassifier(sharing="offset", objective="minimax").fit(
        Z.drop(columns="hospital"), y, groups=Z["hospital"]
    )
    np.testing.assert_allclose(by_hand.coef_, model.coef_, atol=1e-6)


def test_grid_search_over_alpha_with_group_column():
    X, y = hospital_frame(seed=1)
    pipe = make_pipeline(
        FairMTLClassifier(sharing="offset", objective="average", group_column="hospital")
    )
    search = GridSearchCV(
        pipe,
        {"model__alpha": [1e-4, 1e-1, 10.0]},
        cv=KFold(3, shuffle=True, random_state=0),
        error_score="raise",
    )
    search.fit(X, y)
    assert search.best_params_["model__alpha"] in (1e-4, 1e-1, 10.0)
    scores = search.cv_results_["mean_test_score"]
    assert np.all(np.isfinite(scores))
    assert scores[2] < max(scores[:2])  # a huge penalty is worse: alpha was really varied
    assert search.predict(X).shape == (len(y),)


# -- groups at predict time ---------------------------------------------------------------


def test_unseen_group_offset_uses_shared_part_and_warns():
    X, y, g = numeric_data()
    est = FairMTLClassifier(sharing="offset", objective="average").fit(X, y, groups=g)
    g_new = np.array(["a", "zeta", "b"] * 2)
    with pytest.warns(DataWarning, match="zeta"):
        z = est.decision_function(X[:6], groups=g_new)
    shared_w = est.coef_.mean(axis=0)
    shared_b = est.intercept_.mean()
    unseen = g_new == "zeta"
    np.testing.assert_allclose(z[unseen], X[:6][unseen] @ shared_w + shared_b, atol=1e-10)
    k = {"a": 0, "b": 1}
    for i in np.flatnonzero(~unseen):
        j = k[g_new[i]]
        assert z[i] == pytest.approx(X[i] @ est.coef_[j] + est.intercept_[j], abs=1e-10)


def test_unseen_group_independent_raises_naming_it():
    X, y, g = numeric_data()
    est = FairMTLClassifier(sharing="independent", objective="average").fit(X, y, groups=g)
    with pytest.raises(UnseenGroupError, match="zeta"):
        est.predict(X[:3], groups=["a", "zeta", "b"])


def test_unseen_group_message_does_not_suggest_an_estimator_option_that_does_not_exist():
    """An unseen group under ``sharing="independent"``: the estimator's own message
    (MSG_UNSEEN_INDEPENDENT) suggests ``sharing=``, an estimator option, not GroupEncoder's
    ``unseen='shared'``, which the estimator does not have."""
    X, y, g = numeric_data()
    est = FairMTLClassifier(sharing="independent", objective="average").fit(X, y, groups=g)
    with pytest.raises(UnseenGroupError) as info:
        est.predict(X[:3], groups=["a", "zeta", "b"])
    assert "unseen=" not in str(info.value)
    assert "sharing=" in str(info.value)


def test_predict_without_groups_after_multigroup_fit_raises():
    X, y, g = numeric_data()
    est = FairMTLClassifier(
        objective="average", alpha=0.1, sharing_strength=0.1, solver="CLARABEL"
    ).fit(X, y, groups=g)
    for method in ("predict", "predict_proba", "decision_function"):
        with pytest.raises(DataValidationError, match="groups"):
            getattr(est, method)(X)


def test_misspelled_group_column_suggests_closest_name():
    X, y = hospital_frame()
    X = X.drop(columns="ward")
    est = FairMTLClassifier(objective="average", group_column="hopsital")
    with pytest.raises(DataValidationError, match=re.escape("Did you mean 'hospital'")):
        est.fit(X, y)


def test_nan_feature_names_the_column():
    X, y = hospital_frame()
    X = X.drop(columns="ward")
    X.iloc[7, X.columns.get_loc("los")] = np.nan
    est = FairMTLClassifier(objective="average", group_column="hospital")
    with pytest.raises(DataValidationError, match="'los'"):
        est.fit(X, y)


def test_predictions_line_up_with_rows():
    X, y = hospital_frame()
    X = X.drop(columns="ward")
    est = FairMTLClassifier(objective="minimax", group_column="hospital").fit(X, y)
    z = est.decision_function(X)
    # by hand, row by row, from each row's own group model
    k = {label: i for i, label in enumerate(est.groups_)}
    ids = X["hospital"].map(k).to_numpy()
    feats = X[["age", "los"]].to_numpy()
    expected = np.einsum("nd,nd->n", feats, est.coef_[ids]) + est.intercept_[ids]
    np.testing.assert_allclose(z, expected, atol=1e-8)
    # a shuffled frame gives the shuffled predictions, whatever its index
    perm = np.random.default_rng(3).permutation(len(X))
    shuffled = X.iloc[perm]
    np.testing.assert_allclose(est.decision_function(shuffled), z[perm], atol=1e-12)
    np.testing.assert_array_equal(
        est.predict(shuffled.reset_index(drop=True)), est.predict(X)[perm]
    )


def test_summary_has_one_row_per_group():
    X, y, g = numeric_data()
    est = FairMTLClassifier(objective="minimax").fit(X, y, groups=g)
    table = est.summary()
    assert len(table) == 3
    assert list(table.index) == ["a", "b", "c"]
    np.testing.assert_array_equal(table["n"].to_numpy(), [np.sum(g == v) for v in "abc"])
    np.testing.assert_allclose(table["loss"].to_numpy(), est.group_losses_.to_numpy())
    assert table["worst"].sum() >= 1


def test_regressor_groups_and_score():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 2))
    g = rng.choice(["u", "v"], size=300)
    y = X @ [2.0, -1.0] + np.where(g == "u", 3.0, -3.0) + 0.1 * rng.normal(size=300)
    est = FairMTLRegressor(sharing="offset", objective="minimax", sharing_strength=0.1)
    est.fit(X, y, groups=g)
    assert est.score(X, y, groups=g) > 0.95
    assert est.predict(X, groups=g).shape == (300,)


# -- solver fallback ------------------------------------------------------------------------


@pytest.fixture
def failing_solver(monkeypatch):
    """Make ``cvxpy.Problem.solve`` raise SolverError for the named solvers."""
    original = cp.Problem.solve
    calls = []

    def install(fail):
        def solve(self, *args, **kwargs):
            name = kwargs.get("solver")
            calls.append(name)
            if fail(name, len(calls)):
                raise cp.error.SolverError(f"forced failure of {name}")
            return original(self, *args, **kwargs)

        monkeypatch.setattr(cp.Problem, "solve", solve)
        return calls

    return install


def test_fallback_after_first_solver_fails(failing_solver):
    calls = failing_solver(lambda name, i: i == 1)
    X, y, g = numeric_data()
    with pytest.warns(SolverFallbackWarning) as record:
        est = FairMTLClassifier(
            objective="average", alpha=0.1, sharing_strength=0.1, solver="CLARABEL"
        ).fit(X, y, groups=g)
    assert calls[0] == "CLARABEL"
    info = est.solver_info_
    assert info["status"] == "optimal"
    assert info["fallback_from"] == ["CLARABEL"]
    message = str(record[0].message)
    assert "CLARABEL" in message and info["solver"] in message and "SolverError" in message


def test_fallback_to_another_solver_names_both(failing_solver):
    failing_solver(lambda name, i: name == "CLARABEL")
    X, y, g = numeric_data()
    with pytest.warns(SolverFallbackWarning) as record:
        est = FairMTLClassifier(
            objective="average", alpha=0.1, sharing_strength=0.1, solver="CLARABEL"
        ).fit(X, y, groups=g)
    info = est.solver_info_
    assert info["status"] == "optimal"
    assert info["solver"].startswith("SCS")
    assert len(info["fallback_from"]) >= 1
    messages = [str(r.message) for r in record]
    assert any("CLARABEL" in m and "SCS" in m for m in messages)
    # SCS is a first-order method: still close to the CLARABEL answer
    failing_solver(lambda name, i: False)
    ref = FairMTLClassifier(
        objective="average", alpha=0.1, sharing_strength=0.1, solver="CLARABEL"
    ).fit(X, y, groups=g)
    np.testing.assert_allclose(est.coef_, ref.coef_, atol=1e-3)


def test_every_solver_failing_raises(failing_solver):
    failing_solver(lambda name, i: True)
    X, y, g = numeric_data()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SolverFallbackWarning)
        with pytest.raises(SolverFailedError, match="CLARABEL"):
            FairMTLClassifier(
                objective="average", alpha=0.1, sharing_strength=0.1, solver="CLARABEL"
            ).fit(X, y, groups=g)
