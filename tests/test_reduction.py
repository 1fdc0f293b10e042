"""FairMTLReduction: the dual path's master around any estimator that takes sample_weight."""

from __future__ import annotations

import re

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.neighbors import KNeighborsClassifier

from fairmtl import FairMTLReduction
from fairmtl.datasets import make_hospitals
from fairmtl.estimators._reduction_settings import MSG_WARM_START
from fairmtl.exceptions import DataValidationError
from fairmtl.objectives import MSG_KNOB_REQUIRED

HOSPITALS = {"n_hospitals": 8, "n_samples": 2000, "random_state": 0}
HOSPITALS_AS = "frame"


def group_log_loss(model, X, y, g):
    p = model.predict_proba(X)[np.arange(len(y)), y]
    return np.array([-np.log(p[g == k]).mean() for k in np.unique(g)])


@pytest.mark.filterwarnings("ignore:FairMTLReduction stopped after max_rounds")  # kept small: fast
def test_gradient_boosting_minimax_lowers_the_worst_group_loss(hospitals):
    X, y, g = hospitals
    hgb = HistGradientBoostingClassifier(max_iter=20, random_state=0)
    plain = clone(hgb).fit(X, y)
    model = FairMTLReduction(hgb, objective="minimax", max_rounds=6).fit(X, y, groups=g)
    ours = group_log_loss(model, X, y, g)
    assert ours.max() < group_log_loss(plain, X, y, g).max() - 0.01
    np.testing.assert_allclose(ours, model.group_losses_.to_numpy(), rtol=1e-9)
    assert model.ensemble_ == "averaged" and model.loss_ == "log_loss"
    assert model.solver_info_["gap"] is None and model.solver_info_["certified"] is False
    assert model.weights_.sum() == pytest.approx(1.0) and np.all(model.weights_ > 0)
    assert len(model.estimators_) == len(model.weights_) <= 6
    np.testing.assert_allclose(model.predict_proba(X[:50]).sum(axis=1), 1.0)
    assert set(model.predict(X[:50])) <= set(model.classes_)


@pytest.mark.filterwarnings("ignore:FairMTLReduction stopped after max_rounds")  # kept small: fast
def test_zero_one_loss_gives_a_randomised_ensemble(hospitals):
    X, y, g = hospitals
    hgb = HistGradientBoostingClassifier(max_iter=10, random_state=0)
    model = FairMTLReduction(hgb, loss="zero_one", max_rounds=4, random_state=3)
    model.fit(X, y, groups=g)
    assert model.ensemble_ == "randomized"
    np.testing.assert_array_equal(model.predict(X[:200]), model.predict(X[:200]))
    proba = model.predict_proba(X[:200])
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    # each row's probability is the weight of the members that predict that class
    preds = np.stack([m.predict(X[:200]) for m in model.estimators_])
    np.testing.assert_allclose(proba[:, 1], model.weights_ @ (preds == model.classes_[1]))


def test_regressor_and_bounded_report_the_violation():
    data = make_hospitals(5, n_samples=1500, task="regression", random_state=1)
    X, y, g = data.data, data.target.to_numpy(), data.groups.to_numpy()
    plain = Ridge().fit(X, y)
    mse = np.array([np.mean((plain.predict(X)[g == k] - y[g == k]) ** 2) for k in np.unique(g)])
    model = FairMTLReduction(Ridge(), max_rounds=10).fit(X, y, groups=g)
    assert model.loss_ == "squared" and model.group_losses_.max() < mse.max()
    eps = 0.5 * (model.group_losses_.max() + mse.max())
    bounded = FairMTLReduction(Ridge(), objective="bounded", epsilon=eps, max_rounds=10)
    bounded.fit(X, y, groups=g)
    assert bounded.solver_info_["max_violation"] <= 1e-3
    assert bounded.score(X, y) > 0.0


def test_rejects_estimators_without_sample_weight_and_wrong_losses(hospitals):
    X, y, g = hospitals
    needs_epsilon = MSG_KNOB_REQUIRED.format(objective="bounded", knob="epsilon")
    with pytest.raises(DataValidationError, match="sample_weight"):
        FairMTLReduction(KNeighborsClassifier()).fit(X, y, groups=g)
    with pytest.raises(ValueError, match="does not fit a classifier"):
        FairMTLReduction(LogisticRegression(), loss="squared").fit(X, y, groups=g)
    with pytest.raises(ValueError, match=re.escape(needs_epsilon)):
        FairMTLReduction(LogisticRegression(), objective="bounded").fit(X, y, groups=g)


@pytest.mark.filterwarnings("ignore:FairMTLReduction stopped after max_rounds")  # kept small: fast
def test_is_a_well_behaved_meta_estimator(hospitals):
    X, y, g = hospitals
    model = FairMTLReduction(LogisticRegression(), max_rounds=5, tol=1e-2)
    assert clone(model).get_params()["max_rounds"] == 5
    model.fit(X, y, groups=g)
    assert 0.5 < model.score(X, y) <= 1.0
    assert list(model.groups_) == sorted(set(g))


@pytest.fixture(scope="module")
def four_hospitals():
    data = make_hospitals(4, n_samples=2000, random_state=0)
    return data.data.to_numpy(float), data.target.to_numpy(), data.groups.to_numpy()


def test_warm_started_fits_reach_the_cold_objective(four_hospitals):
    X, y, g = four_hospitals
    lr = LogisticRegression(max_iter=1000)
    fits = {
        warm: FairMTLReduction(lr, warm_start=warm, max_rounds=15).fit(X, y, groups=g)
        for warm in ("auto", False)
    }
    assert fits["auto"].solver_info_["warm_start"] is True
    assert fits[False].solver_info_["warm_start"] is False
    warm, cold = (fits[k].solver_info_["objective"] for k in ("auto", False))
    assert warm == pytest.approx(cold, rel=2e-3)
    assert lr.get_params()["warm_start"] is False and not hasattr(lr, "coef_")  # not mutated


def test_warm_started_members_are_independent_models(four_hospitals):
    X, y, g = four_hospitals
    model = FairMTLReduction(LogisticRegression(max_iter=1000), max_rounds=15, tol=1e-4)
    model.fit(X, y, groups=g)
    members = model.estimators_
    assert len(members) >= 2 and len({id(m) for m in members}) == len(members)
    coefs = np.stack([m.coef_.ravel() for m in members])
    assert all(
        np.abs(coefs[i] - coefs[j]).max() > 1e-6 for i in range(len(coefs)) for j in range(i)
    )
    # each member still predicts what it did when its cut was made: a later warm-started
    # fit did not change it
    np.testing.assert_allclose(group_log_loss(model, X, y, g), model.group_losses_, rtol=1e-9)
    assert all(m.get_params()["warm_start"] is False for m in members)


@pytest.mark.filterwarnings("ignore:FairMTLReduction stopped after max_rounds")  # kept small: fast
def test_warm_start_is_not_used_for_ensembles(four_hospitals):
    X, y, g = four_hospitals
    hgb = HistGradientBoostingClassifier(max_iter=5, random_state=0)
    model = FairMTLReduction(hgb, max_rounds=3).fit(X, y, groups=g)
    assert model.solver_info_["warm_start"] is False
    assert all(m.get_params()["warm_start"] is False for m in model.estimators_)
    msg = MSG_WARM_START.format(
        name="HistGradientBoostingClassifier", why="is an ensemble, whose warm_start adds trees"
    )
    with pytest.raises(ValueError, match=re.escape(msg)):
        FairMTLReduction(hgb, warm_start=True, max_rounds=3).fit(X, y, groups=g)
    msg = MSG_WARM_START.format(name="Ridge", why="has no warm_start")
    with pytest.raises(ValueError, match=re.escape(msg)):
        FairMTLReduction(Ridge(), warm_start=True).fit(X, y.astype(float), groups=g)


def test_warm_start_is_validated(four_hospitals):
    X, y, g = four_hospitals
    msg = "The 'warm_start' parameter of FairMTLReduction must be a str among {'auto'} or"
    with pytest.raises(ValueError, match=msg):
        FairMTLReduction(LogisticRegression(), warm_start="always").fit(X, y, groups=g)
