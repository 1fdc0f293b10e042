"""The dual path's master programs (fairmtl.solvers._master), checked against scipy's
linear programming (HiGHS): masters share compiled programs, so each one's answers must
not depend on which master solved last."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import linprog

from fairmtl.solvers._master import DualForm, LevelMaster

N, CAP = 6, 2.5


def slope_form(simplex: bool) -> DualForm:
    """Weights ``0 + 1 * y``: the cut of losses ``L_k`` and penalty ``R_k`` is
    ``L_k @ y + R_k``; ``y`` on the simplex or in ``{y >= 0, sum y <= CAP}``."""
    return DualForm(np.zeros(N), np.ones(N), np.zeros(N), simplex, lambda L, R: 0.0, cap=CAP)


def scipy_model_max(L: np.ndarray, R: np.ndarray, simplex: bool) -> float:
    """``max_y min_k L_k @ y + R_k``: a linear program in ``(t, y)``."""
    A_ub = np.column_stack([np.ones(len(R)), -L])  # t - L_k @ y <= R_k
    total = np.r_[0.0, np.ones(N)][None]
    if simplex:
        kw = dict(A_ub=A_ub, b_ub=R, A_eq=total, b_eq=[1.0])
    else:
        kw = dict(A_ub=np.vstack([A_ub, total]), b_ub=np.append(R, CAP))
    res = linprog(np.r_[-1.0, np.zeros(N)], bounds=[(None, None)] + [(0, None)] * N, **kw)
    assert res.status == 0
    return -res.fun


@pytest.mark.parametrize(
    "solver, rel",
    [("CLARABEL", 1e-6), ("SCS", 1e-3)],  # Clarabel's own programs; SCS's through cvxpy
)
def test_masters_solve_their_own_cuts_whichever_solved_last(solver, rel):
    rng = np.random.default_rng(0)
    domains = [True, True, False]  # two of one shape, one of another domain
    masters = [LevelMaster(N, simplex, False, 30, lambda p, w: None, solver) for simplex in domains]
    cuts: list[list] = [[], [], []]
    for _ in range(4):  # the masters interleaved
        for i, (master, simplex) in enumerate(zip(masters, domains, strict=True)):
            losses, penalty = rng.uniform(0.1, 3.0, N), float(rng.uniform(0, 1))
            master.add(losses, penalty, None)
            cuts[i].append((losses, penalty))
            L, R = np.stack([c[0] for c in cuts[i]]), np.array([c[1] for c in cuts[i]])
            value, y, mu = master.model_max(slope_form(simplex))
            assert value == pytest.approx(scipy_model_max(L, R, simplex), rel=rel)
            assert (L @ y + R).min() == pytest.approx(value, rel=rel)
            assert len(mu) == len(R) and mu.sum() == pytest.approx(1.0)
            # the multipliers sit on cuts that hold with equality at the maximum
            active = np.isclose(L @ y + R, value, rtol=10 * rel)
            assert np.all(active | (mu <= 10 * rel))
            # the level set's nearest point to the centre lies in the level set and the domain
            level = 0.5 * value
            y = master.project(slope_form(simplex), np.full(N, 1.0 / N), level)
            assert (L @ y + R).min() >= level - rel and y.min() >= 0.0
            assert y.sum() == pytest.approx(1.0, rel=rel) if simplex else y.sum() <= CAP + rel
