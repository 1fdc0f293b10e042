"""The smooth stages' KKT check in centred coefficients (fairmtl.solvers._centred_kkt).

The dual norm is checked against the penalty's own formula (no change of variables) and,
for features far from centred, the smooth stages' answer against the conic program's.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from fairmtl import FairMTLClassifier
from fairmtl.datasets import make_hospitals
from fairmtl.solvers._centred_kkt import CentredNorm
from fairmtl.solvers._certificate import Penalty
from fairmtl.solvers._interior import penalty_hessian_original


@pytest.mark.parametrize("sharing", ["shared", "independent", "offset"])
def test_without_a_change_of_variables_the_norm_is_the_penaltys(sharing):
    rng = np.random.default_rng(0)
    G, d = 4, 3
    P = 1 if sharing == "shared" else G
    shares = rng.dirichlet(np.ones(G))
    penalty = Penalty(sharing, 0.3, 0.7, shares)
    norm = CentredNorm(np.eye(P * (d + 1)), penalty_hessian_original(penalty, P, d))
    for _ in range(3):
        gw, gb = rng.normal(size=(P, d)), rng.normal(size=P)
        if sharing == "offset":
            gb -= gb.mean()  # the common intercept is free: outside the norm
        assert norm.dual_norm_sq(gw, gb) == pytest.approx(penalty.dual_norm_sq(gw, gb), rel=1e-10)


@pytest.mark.parametrize("sharing", ["shared", "offset"])
def test_features_far_from_centred_are_fitted_by_the_smooth_stages(sharing):
    """Features shifted by +1000: the answer is SQP's, equal to the conic program's."""
    data = make_hospitals(10, n_samples=20_000, random_state=0)
    X = data.data.to_numpy(float) + 1000.0
    y, g = data.target.to_numpy(), data.groups.to_numpy()
    params = dict(objective="minimax", alpha=1e-3, sharing=sharing, sharing_strength=1.0)
    smooth = FairMTLClassifier(**params).fit(X, y, groups=g)
    assert smooth.solver_info_["solver"] == "SQP (exact Hessians)"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # CLARABEL may retry on these shifted rows
        conic = FairMTLClassifier(**params, solver="CLARABEL").fit(X, y, groups=g)
    assert smooth.solver_info_["objective"] <= conic.solver_info_["objective"] * (1 + 1e-7)
    np.testing.assert_allclose(smooth.group_losses_, conic.group_losses_, rtol=1e-6)
