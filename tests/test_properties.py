"""Property tests: answers that do not depend on accidents of the input.

Hypothesis draws small data sets (2-4 groups of 6-14 rows, 1-3 features) and estimator
settings; the examples are derandomised so that the default run is reproducible and
stays short.

Tolerances: squared-loss problems are solved to ~1e-7, so regressor predictions are
compared to 1e-5. Logistic problems go through exponential cones, which CLARABEL solves to
~1e-5 in the probabilities, so classifier probabilities are compared to 1e-4.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.pipeline import Pipeline

from fairmtl import FairMTLClassifier, FairMTLRegressor
from fairmtl.data import GroupEncoder, make_preprocessor
from fairmtl.solvers import SOLUTION_PRESENT

pytestmark = pytest.mark.filterwarnings(
    "ignore::fairmtl.exceptions.DataWarning",  # single-class groups under independent
)

PROPERTY = settings(
    max_examples=8,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
REG_TOL = 1e-5
CLF_TOL = 1e-4
SHARINGS = ("shared", "independent", "offset", "lowrank")


def make_data(seed: int, n_groups: int, size: int, n_features: int):
    """X, a binary target, a regression target and group labels (both classes per group)."""
    rng = np.random.default_rng(seed)
    n = n_groups * size
    X = rng.normal(size=(n, n_features)) * rng.uniform(0.5, 3.0, size=n_features)
    g = np.array([f"g{k}" for k in range(n_groups)], dtype=object)[np.arange(n) % n_groups]
    offsets = rng.normal(size=n_groups)[np.arange(n) % n_groups]
    score = X @ rng.normal(size=n_features) + offsets
    y = (score + rng.logistic(size=n) > 0).astype(int)
    y[: 2 * n_groups] = np.repeat([0, 1], n_groups)  # every group has both classes
    y_reg = score + 0.5 * rng.normal(size=n)
    return X, y, y_reg, g


datasets = st.builds(
    make_data,
    seed=st.integers(0, 2**31 - 1),
    n_groups=st.integers(2, 4),
    size=st.integers(6, 14),
    n_features=st.integers(1, 3),
)
tasks = st.sampled_from(["classification", "regression"])
sharings = st.sampled_from(SHARINGS)
objectives = st.sampled_from(["average", "balanced", "minimax"])


def model_for(task: str, sharing: str, objective: str, **params):
    """A model with fixed knobs: these properties are the fit's, for given knob values
    (cross-validated "auto" knobs depend on how the rows are dealt into folds)."""
    est = FairMTLClassifier if task == "classification" else FairMTLRegressor
    params = {"alpha": 1e-4, "sharing_strength": 1.0, **params}
    return est(sharing, objective=objective, **params)


def outputs(model, X, groups):
    """Probabilities of a classifier, predictions of a regressor."""
    if isinstance(model, FairMTLClassifier):
        return model.predict_proba(X, groups=groups)
    return model.predict(X, groups=groups)


def assert_same_predictions(a, b, task: str):
    tol = CLF_TOL if task == "classification" else REG_TOL
    np.testing.assert_allclose(a, b, atol=tol, rtol=tol)


# -- invariance to row order and group names ---------------------------------------------
@PROPERTY
@given(data=datasets, task=tasks, sharing=sharings, objective=objectives, seed=st.integers(0, 99))
def test_row_permutation_leaves_predictions_unchanged(data, task, sharing, objective, seed):
    X, y, y_reg, g = data
    target = y if task == "classification" else y_reg
    perm = np.random.default_rng(seed).permutation(len(g))
    fit = model_for(task, sharing, objective).fit(X, target, groups=g)
    fit_perm = model_for(task, sharing, objective).fit(X[perm], target[perm], groups=g[perm])
    assert fit_perm.groups_.tolist() == fit.groups_.tolist()
    assert_same_predictions(outputs(fit_perm, X, g), outputs(fit, X, g), task)
    pd.testing.assert_series_equal(
        fit_perm.group_losses_, fit.group_losses_, atol=10 * REG_TOL, rtol=1e-4
    )


group_names = st.lists(
    st.text(min_size=1, max_size=30).filter(lambda s: s.strip() != ""),
    min_size=4,
    max_size=4,
    unique=True,
)


@PROPERTY
@given(data=datasets, task=tasks, sharing=sharings, objective=objectives, names=group_names)
def test_renaming_groups_leaves_predictions_unchanged(data, task, sharing, objective, names):
    """New names (any unicode) change the task-id order, never the models."""
    X, y, y_reg, g = data
    target = y if task == "classification" else y_reg
    mapping = dict(zip(sorted(set(g)), names, strict=False))
    renamed = np.array([mapping[v] for v in g], dtype=object)
    fit = model_for(task, sharing, objective).fit(X, target, groups=g)
    fit_renamed = model_for(task, sharing, objective).fit(X, target, groups=renamed)
    assert sorted(fit_renamed.groups_.tolist()) == sorted(mapping[v] for v in fit.groups_)
    assert_same_predictions(outputs(fit_renamed, X, renamed), outputs(fit, X, g), task)
    for old, new in mapping.items():
        assert fit_renamed.group_losses_[new] == pytest.approx(
            fit.group_losses_[old], rel=1e-4, abs=10 * REG_TOL
        )


@PROPERTY
@given(data=datasets, task=tasks, sharing=sharings, seed=st.integers(0, 99))
def test_order_of_group_categories_does_not_matter(data, task, sharing, seed):
    """A Categorical's category order (and its unused categories) change nothing.

    An unused category never becomes a group: the encoder's groups are the labels that
    occur in the data, so a group with zero rows cannot exist.
    """
    X, y, y_reg, g = data
    target = y if task == "classification" else y_reg
    categories = [*sorted(set(g)), "never seen", "also unused"]
    shuffled = list(np.random.default_rng(seed).permutation(categories))
    as_cat = pd.Series(pd.Categorical(g, categories=shuffled))
    fit = model_for(task, sharing, "minimax").fit(X, target, groups=g)
    fit_cat = model_for(task, sharing, "minimax").fit(X, target, groups=as_cat)
    assert fit_cat.groups_.tolist() == sorted(set(g))
    assert (fit_cat.group_sizes_ > 0).all()
    assert_same_predictions(outputs(fit_cat, X, as_cat), outputs(fit, X, g), task)


def test_unused_categories_never_become_groups():
    enc = GroupEncoder().fit(pd.Categorical(["b", "a", "b"], categories=["z", "b", "a", "y"]))
    assert enc.labels_.tolist() == ["a", "b"]
    assert enc.sizes_.tolist() == [1, 2]


# -- sample weights ----------------------------------------------------------------------
@PROPERTY
@given(data=datasets, task=tasks, sharing=sharings, objective=objectives, seed=st.integers(0, 99))
def test_integer_weights_equal_duplicated_rows(data, task, sharing, objective, seed):
    X, y, y_reg, g = data
    target = y if task == "classification" else y_reg
    weights = np.random.default_rng(seed).integers(1, 4, size=len(g))
    weighted = model_for(task, sharing, objective).fit(X, target, groups=g, sample_weight=weights)
    rows = np.repeat(np.arange(len(g)), weights)
    duplicated = model_for(task, sharing, objective).fit(X[rows], target[rows], groups=g[rows])
    assert_same_predictions(outputs(weighted, X, g), outputs(duplicated, X, g), task)
    np.testing.assert_allclose(
        weighted.group_losses_, duplicated.group_losses_, rtol=1e-4, atol=10 * REG_TOL
    )


# -- scaling a feature inside a standardising pipeline -----------------------------------
@PROPERTY
@given(
    data=datasets,
    task=tasks,
    sharing=sharings,
    factor=st.sampled_from([1e-3, 0.25, 3.0, 1e4]),
    column=st.integers(0, 2),
)
def test_scaling_a_feature_in_a_standardising_pipeline(data, task, sharing, factor, column):
    X, y, y_reg, g = data
    target = y if task == "classification" else y_reg
    frame = pd.DataFrame(X, columns=[f"f{j}" for j in range(X.shape[1])])
    name = frame.columns[column % X.shape[1]]
    scaled = frame.assign(**{name: frame[name] * factor})

    def fit_predict(df):
        pipe = Pipeline(
            [("prep", make_preprocessor(df)), ("model", model_for(task, sharing, "minimax"))]
        )
        pipe.fit(df, target, model__groups=g)
        if task == "classification":
            return pipe.predict_proba(df, groups=g)
        return pipe.predict(df, groups=g)

    assert_same_predictions(fit_predict(scaled), fit_predict(frame), task)


# -- minimax against the average fit, and bounded at the minimax value --------------------
def _ridge_penalty(model, alpha: float) -> float:
    """alpha * sum_g rho_g ||w_g||^2 (shared: alpha ||w||^2), as in fairmtl.models."""
    rho = model.group_sizes_.to_numpy() / model.group_sizes_.sum()
    norms = (model.group_coef_**2).sum(axis=(1, 2))
    return float(alpha * (norms[0] if model.sharing == "shared" else rho @ norms))


@PROPERTY
@given(data=datasets, sharing=st.sampled_from(["shared", "independent"]))
def test_minimax_worst_group_never_above_average_fit(data, sharing):
    """Without a penalty (alpha=0, squared loss) the plain inequality holds; then the
    bounded objective at epsilon = that minimax value is feasible and meets it."""
    X, _, y_reg, g = data
    minimax = FairMTLRegressor(sharing, objective="minimax", alpha=0.0).fit(X, y_reg, groups=g)
    average = FairMTLRegressor(sharing, objective="average", alpha=0.0).fit(X, y_reg, groups=g)
    worst_mm, worst_avg = minimax.group_losses_.max(), average.group_losses_.max()
    tol = 1e-6 * max(1.0, worst_avg)
    assert worst_mm <= worst_avg + tol
    epsilon = worst_mm + tol
    bounded = FairMTLRegressor(sharing, objective="bounded", epsilon=epsilon, alpha=0.0)
    bounded.fit(X, y_reg, groups=g)  # feasible: no InfeasibleError
    assert bounded.solver_info_["status"] in SOLUTION_PRESENT
    assert bounded.group_losses_.max() <= epsilon + tol


@PROPERTY
@given(data=datasets, sharing=st.sampled_from(["shared", "independent"]))
def test_minimax_worst_group_classifier_with_penalty(data, sharing):
    """With a ridge penalty minimax minimises max_g L_g + penalty, so its worst group
    loss exceeds the average fit's by at most the average fit's penalty."""
    X, y, _, g = data
    alpha = 1e-2
    minimax = FairMTLClassifier(sharing, objective="minimax", alpha=alpha).fit(X, y, groups=g)
    average = FairMTLClassifier(sharing, objective="average", alpha=alpha).fit(X, y, groups=g)
    worst_mm, worst_avg = minimax.group_losses_.max(), average.group_losses_.max()
    assert worst_mm <= worst_avg + _ridge_penalty(average, alpha) + 1e-6
    epsilon = worst_mm + 1e-6 * max(1.0, worst_mm)
    bounded = FairMTLClassifier(sharing, objective="bounded", epsilon=epsilon, alpha=alpha)
    bounded.fit(X, y, groups=g)
    assert bounded.group_losses_.max() <= epsilon + 1e-6


# -- a constant feature --------------------------------------------------------------------
@PROPERTY
@given(
    data=datasets,
    task=tasks,
    sharing=st.sampled_from(["shared", "independent"]),
    value=st.sampled_from([0.0, 1.0, -3.5, 1e3]),
)
def test_constant_feature_changes_nothing(data, task, sharing, value):
    """Its coefficient only enters the penalty, which sets it to 0."""
    X, y, y_reg, g = data
    target = y if task == "classification" else y_reg
    X_const = np.column_stack([X, np.full(len(g), value)])
    fit = model_for(task, sharing, "minimax").fit(X, target, groups=g)
    fit_const = model_for(task, sharing, "minimax").fit(X_const, target, groups=g)
    assert fit_const.solver_info_["status"] in SOLUTION_PRESENT
    assert_same_predictions(outputs(fit_const, X_const, g), outputs(fit, X, g), task)
    np.testing.assert_allclose(fit_const.coef_[:, -1], 0.0, atol=1e-4)


@PROPERTY
@given(data=datasets, task=tasks, value=st.sampled_from([1.0, -3.5, 1e3]))
def test_constant_feature_under_offset_sharing(data, task, value):
    """Raw, a constant column acts as a second, penalised intercept under offset sharing
    (its per-group coefficients trade against the intercept differences), so the fit
    changes slightly but still solves; standardised in a pipeline it changes nothing."""
    X, y, y_reg, g = data
    target = y if task == "classification" else y_reg
    X_const = np.column_stack([X, np.full(len(g), value)])
    raw = model_for(task, "offset", "minimax").fit(X_const, target, groups=g)
    assert raw.solver_info_["status"] in SOLUTION_PRESENT
    assert np.isfinite(outputs(raw, X_const, g)).all()

    def pipeline_outputs(A):
        frame = pd.DataFrame(A, columns=[f"f{j}" for j in range(A.shape[1])])
        pipe = Pipeline(
            [("prep", make_preprocessor(frame)), ("model", model_for(task, "offset", "minimax"))]
        )
        pipe.fit(frame, target, model__groups=g)
        if task == "classification":
            return pipe.predict_proba(frame, groups=g)
        return pipe.predict(frame, groups=g)

    assert_same_predictions(pipeline_outputs(X_const), pipeline_outputs(X), task)
