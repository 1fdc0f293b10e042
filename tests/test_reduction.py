"""FairMTLReduction: the dual path's master around any estimator that takes sample_weight."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.neighbors import KNeighborsClassifier

from fairmtl import FairMTLReduction
from fairmtl.datasets import make_hospitals
from fairmtl.exceptions import DataValidationError


@pytest.fixture(scope="module")
def hospitals():
    data = make_hospitals(8, n_samples=2000, random_state=0)
    return data.data, data.target.to_numpy(), data.groups.to_numpy()


def group_log_loss(model, X, y, g):
    p = model.predict_proba(X)[np.arange(len(y)), y]
    return np.array([-np.log(p[g == k]).mean() for k in np.unique(g)])


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
    with pytest.raises(DataValidationError, match="sample_weight"):
        FairMTLReduction(KNeighborsClassifier()).fit(X, y, groups=g)
    with pytest.raises(ValueError, match="does not fit a classifier"):
        FairMTLReduction(LogisticRegression(), loss="squared").fit(X, y, groups=g)
    with pytest.raises(ValueError, match="needs epsilon"):
        FairMTLReduction(LogisticRegression(), objective="bounded").fit(X, y, groups=g)


def test_is_a_well_behaved_meta_estimator(hospitals):
    X, y, g = hospitals
    model = FairMTLReduction(LogisticRegression(), max_rounds=5, tol=1e-2)
    assert clone(model).get_params()["max_rounds"] == 5
    model.fit(X, y, groups=g)
    assert 0.5 < model.score(X, y) <= 1.0
    assert list(model.groups_) == sorted(set(g))
