"""Compile once, solve many: the Problem protocol and fit_path."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone

from fairmtl import FairMTLClassifier, FairMTLMLPClassifier, FairMTLRegressor
from fairmtl.estimators import fit_path
from fairmtl.exceptions import InfeasibleError
from fairmtl.losses import get_loss
from fairmtl.solvers import DualProblem, ExactProblem, Problem, make_problem

HOSPITALS = {"n_hospitals": 3, "n_samples": 300, "random_state": 0}
HOSPITALS_AS = "numpy"

KNOBS = dict(alpha=1e-2, sharing_strength=1.0, adjustment=0.0)


def _problem_inputs(X, y, g):
    tasks = np.unique(g, return_inverse=True)[1]
    y_enc = np.where(y == 1, 1.0, -1.0)
    return X.astype(float), y_enc, tasks, np.ones(len(y)), int(tasks.max()) + 1


@pytest.mark.parametrize("path, cls", [("exact", ExactProblem), ("dual", DualProblem)])
def test_both_paths_implement_the_protocol(hospitals, path, cls):
    X, y, tasks, w, G = _problem_inputs(*hospitals)
    problem = make_problem(
        path, X, y, tasks, w, G, loss=get_loss("logistic"), sharing="shared", objective="minimax"
    )
    assert isinstance(problem, cls) and isinstance(problem, Problem)
    assert problem.n_groups == G and problem.shares.sum() == pytest.approx(1.0)


def test_the_two_paths_solve_the_same_problem_alike(hospitals):
    """Two independent formulations (one conic program; the dual with an oracle)."""
    X, y, tasks, w, G = _problem_inputs(*hospitals)
    fits = [
        make_problem(
            path,
            X,
            y,
            tasks,
            w,
            G,
            loss=get_loss("logistic"),
            sharing="offset",
            objective="minimax",
        ).solve(alpha=1e-2, sharing_strength=0.3)
        for path in ("exact", "dual")
    ]
    np.testing.assert_allclose(fits[0].group_losses, fits[1].group_losses, atol=1e-3)
    assert fits[0].solver_info["path"] == "exact" and fits[1].solver_info["path"] == "dual"


def test_unknown_path_is_refused(hospitals):
    X, y, tasks, w, G = _problem_inputs(*hospitals)
    with pytest.raises(ValueError, match="'exact' or 'dual'"):
        make_problem(
            "fast",
            X,
            y,
            tasks,
            w,
            G,
            loss=get_loss("logistic"),
            sharing="shared",
            objective="average",
        )


def test_fit_path_matches_separate_fits_and_prepares_once(hospitals, monkeypatch):
    X, y, g = hospitals
    est = FairMTLClassifier(objective="bounded", **KNOBS)
    settings = [{"epsilon": 0.68}, {"epsilon": 0.75}, {"objective": "minimax"}]
    calls = []
    original = FairMTLClassifier._prepare

    def counting(self, *args):
        calls.append(self.objective)
        return original(self, *args)

    monkeypatch.setattr(FairMTLClassifier, "_prepare", counting)
    fits = fit_path(est, settings, X, y, groups=g)
    # one preparation per problem structure: bounded (twice solved), then minimax
    assert calls == ["bounded", "minimax"]
    monkeypatch.setattr(FairMTLClassifier, "_prepare", original)
    assert est.epsilon is None  # the template is not changed
    for setting, fit in zip(settings, fits, strict=True):
        alone = clone(est).set_params(**setting).fit(X, y, groups=g)
        assert fit.get_params() == alone.get_params()
        np.testing.assert_allclose(fit.group_losses_, alone.group_losses_, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(
            fit.predict_proba(X, groups=g), alone.predict_proba(X, groups=g), atol=1e-4
        )
        assert fit.n_features_in_ == X.shape[1] and list(fit.classes_) == [0, 1]


def test_fit_path_infeasible_setting_raises_or_is_returned(hospitals):
    X, y, g = hospitals
    est = FairMTLRegressor(objective="bounded", **KNOBS)
    yr = y + 0.1 * X[:, 0]
    settings = [{"epsilon": 1e-6}, {"epsilon": 10.0}]
    with pytest.raises(InfeasibleError):
        fit_path(est, settings, X, yr, groups=g)
    fits = fit_path(est, settings, X, yr, groups=g, errors="return")
    assert isinstance(fits[0], InfeasibleError) and fits[1].epsilon == 10.0


def test_settings_that_differ_in_threshold_share_one_solve(hospitals):
    X, y, g = hospitals
    est = FairMTLClassifier(objective="average", **KNOBS)
    solves = []
    fits = fit_path(
        est, [{"threshold": 0.3}, {"threshold": 0.7}], X, y, groups=g, on_fit=solves.append
    )
    assert solves == [1]
    assert fits[0].group_coef_ is fits[1].group_coef_
    proba = fits[0].predict_proba(X, groups=g)[:, 1]
    np.testing.assert_array_equal(fits[0].predict(X, groups=g), (proba >= 0.3).astype(int))
    np.testing.assert_array_equal(fits[1].predict(X, groups=g), (proba >= 0.7).astype(int))


def test_fit_path_trains_the_network_of_an_mlp_template(hospitals):
    """A neural template is trained per setting (a linear solve would leave it unfitted)."""
    pytest.importorskip("torch")
    X, y, g = hospitals
    est = FairMTLMLPClassifier(objective="tilted", heads="shared", max_epochs=2, random_state=0)
    fits = fit_path(est, [{"tilt": 1.0}, {"tilt": 5.0}], X, y, groups=g)
    alone = clone(est).set_params(tilt=5.0).fit(X, y, groups=g)
    assert [f.solver_info_["path"] for f in fits] == ["neural", "neural"]
    np.testing.assert_allclose(
        fits[1].predict_proba(X, groups=g), alone.predict_proba(X, groups=g), atol=1e-6
    )


def test_fit_path_prepares_again_where_a_setting_changes_the_solver_path(hospitals, monkeypatch):
    """solver="auto" takes the dual path for large data, the exact one where the dual
    path cannot solve (alpha=0): each setting gets the problem of its own path."""
    import fairmtl.estimators._linear as linear

    monkeypatch.setattr(linear, "DUAL_AUTO_SIZE", 0)  # every problem counts as large
    X, y, g = hospitals
    yr = y + 0.1 * X[:, 0]
    est = FairMTLRegressor(objective="average", **KNOBS)
    settings = [{"alpha": 1e-2}, {"alpha": 0.0}, {"alpha": 1e-3}]
    fits = fit_path(est, settings, X, yr, groups=g)
    assert [f.solver_info_["path"] for f in fits] == ["dual", "exact", "dual"]
    for setting, fit in zip(settings, fits, strict=True):
        alone = clone(est).set_params(**setting).fit(X, yr, groups=g)
        assert alone.solver_info_["path"] == fit.solver_info_["path"]
        np.testing.assert_allclose(fit.predict(X, groups=g), alone.predict(X, groups=g), atol=1e-4)
