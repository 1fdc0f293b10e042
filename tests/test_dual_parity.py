"""Rate-parity objectives on the dual path, against the exact path and a direct check.

Expected optima come from :class:`~fairmtl.solvers.ExactProblem` (CLARABEL) on the same
problem; constraint satisfaction is checked from the fitted model's own decision values,
grouped with numpy, not from the solver's matrix of constraints.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_dual import assert_certified, both, make_problem

from fairmtl import FairMTLClassifier, FairMTLRegressor
from fairmtl.datasets import make_hospitals
from fairmtl.losses import get_loss
from fairmtl.solvers import DualProblem, dual_unsupported

PARITY = ["demographic_parity", "equal_opportunity", "equalized_odds"]
SUBSETS = {
    "demographic_parity": (None,),
    "equal_opportunity": (1.0,),
    "equalized_odds": (1.0, -1.0),
}


def score_gaps(z, y, t, w, objective) -> float:
    """Largest |group mean score - mean of group means| over the objective's row subsets."""
    worst = 0.0
    for label in SUBSETS[objective]:
        means = []
        for g in np.unique(t):
            keep = (t == g) if label is None else (t == g) & (y == label)
            if keep.any():
                means.append(np.average(z[keep], weights=w[keep]))
        if len(means) >= 2:
            worst = max(worst, float(np.max(np.abs(np.array(means) - np.mean(means)))))
    return worst


def decision_values(result, X, t):
    coef, intercept = result.coef[:, :, 0], result.intercept[:, 0]
    return np.einsum("nd,nd->n", X, coef[t]) + intercept[t]


@settings(max_examples=20, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])  # fmt: skip
@given(
    seed=st.integers(0, 10_000),
    objective=st.sampled_from(PARITY),
    G=st.integers(2, 5),
    alpha=st.sampled_from([1e-3, 1e-2]),
    share=st.sampled_from([0.0, 0.2, 0.6]),
)
def test_parity_gap_is_a_true_bound_on_random_problems(seed, objective, G, alpha, share):
    X, y, t, w, G = make_problem(seed, n=500, d=4, G=G)
    avg = DualProblem(X, y, t, w, G, loss=get_loss("logistic"), sharing="shared",
                      objective="average").solve(alpha=alpha)  # fmt: skip
    # epsilon a share of the unconstrained model's own score gap: from tight to loose
    eps = share * score_gaps(decision_values(avg, X, t), y, t, w, objective)
    exact, dual = both(X, y, t, w, G, loss="logistic", sharing="shared", objective=objective,
                       alpha=alpha, epsilon=eps)  # fmt: skip
    assert dual.solver_info["status"] == "optimal"
    assert_certified(exact, dual)
    assert score_gaps(decision_values(dual, X, t), y, t, w, objective) <= eps + 1e-9


def test_parity_model_matches_the_exact_model():
    X, y, t, w, G = make_problem(5, n=800, d=4, G=4)
    exact, dual = both(X, y, t, w, G, loss="logistic", sharing="shared",
                       objective="demographic_parity", alpha=1e-2, epsilon=0.05)  # fmt: skip
    assert_certified(exact, dual)
    np.testing.assert_allclose(dual.coef, exact.coef, atol=2e-3)
    np.testing.assert_allclose(dual.group_losses, exact.group_losses, atol=1e-4)
    assert dual.solver_info["solver"].startswith("dual[")
    assert len(dual.solver_info["dual_weights"]) == G  # one multiplier per constraint


def test_a_sweep_warm_started_on_one_problem_equals_fresh_solves():
    X, y, t, w, G = make_problem(8, n=600, d=4, G=3)
    args = dict(loss=get_loss("logistic"), sharing="shared", objective="equalized_odds")
    shared = DualProblem(X, y, t, w, G, **args)
    for eps in (0.4, 0.1, 0.0):
        warm = shared.solve(alpha=1e-2, epsilon=eps)
        fresh = DualProblem(X, y, t, w, G, **args).solve(alpha=1e-2, epsilon=eps)
        both_gaps = warm.solver_info["gap"] + fresh.solver_info["gap"]
        assert abs(warm.solver_info["objective"] - fresh.solver_info["objective"]) <= both_gaps


def test_estimator_dual_and_exact_agree_on_hospitals():
    data = make_hospitals(5, n_samples=3000, random_state=0)
    X, y, g = data.data.to_numpy(), data.target, data.groups
    kw = dict(objective="demographic_parity", epsilon=0.05, alpha=1e-3)
    dual = FairMTLClassifier("shared", solver="dual", **kw).fit(X, y, groups=g)
    exact = FairMTLClassifier("shared", solver="CLARABEL", **kw).fit(X, y, groups=g)
    info = dual.solver_info_
    assert info["path"] == "dual" and info["status"] == "optimal"
    opt = exact.solver_info_["objective"]
    assert info["lower_bound"] - 1e-6 <= opt <= info["upper_bound"] + 1e-6
    # each hospital's mean decision value within epsilon of their mean, seen from outside
    z = dual.decision_function(X, groups=g)
    means = np.array([z[np.asarray(g) == k].mean() for k in dual.groups_])
    assert np.max(np.abs(means - means.mean())) <= 0.05 + 1e-9


def test_parity_needs_one_shared_model_and_a_binary_target():
    why = dual_unsupported(get_loss("logistic"), "offset", "demographic_parity", 1, 1e-3)
    assert "sharing='offset'" in why and "sharing='shared'" in why
    assert dual_unsupported(get_loss("logistic"), "shared", "equalized_odds", 1, 1e-3) is None
    data = make_hospitals(3, n_samples=600, random_state=0, task="regression")
    reg = FairMTLRegressor("shared", objective="demographic_parity", epsilon=0.1, solver="dual")
    with pytest.raises(ValueError, match="classification rates"):
        reg.fit(data.data, data.target, groups=data.groups)
    clf = FairMTLClassifier("shared", objective="demographic_parity", solver="dual")
    data = make_hospitals(3, n_samples=600, random_state=0)
    with pytest.raises(ValueError, match="epsilon"):
        clf.fit(data.data, data.target, groups=data.groups)
