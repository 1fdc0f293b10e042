"""Rate-parity objectives on the dual path: the average loss under linear score constraints.

``demographic_parity``, ``equal_opportunity`` and ``equalized_odds`` bound each group's mean
decision value (over all rows, the positives, or the positives and the negatives) to
within ``epsilon`` of the mean over groups (:mod:`fairmtl.objectives._rates`). For one
shared linear model these are linear constraints ``|A w| <= epsilon`` on the coefficients
(the intercept cancels), so the problem is

    min_theta  F(theta) = sum_g rho_g L_g(theta) + R(theta)   s.t.  -epsilon <= A w <= epsilon.

How it is solved. Its Lagrangian dual ``q(nu) = min_theta F(theta) + nu^T A w -
epsilon ||nu||_1`` is concave and smooth (the ridge penalty makes the inner problem
strongly convex), with gradient ``A w(nu) - epsilon sign(nu)``. Writing ``nu = nu+ - nu-``
with both parts non-negative, scipy's L-BFGS-B maximises it over at most ``2 x rows(A)``
multipliers; each evaluation is one warm-started oracle fit with the linear term added to
the penalty (:class:`LinearTermPenalty`). A quasi-Newton ascent needs no bundle of cuts:
measured on Adult (19,536 rows, 10 groups), 25 to 50 oracle fits reach a 1e-5 relative
gap, 3 to 4x faster than one conic solve.

What is certified. Every evaluation gives a lower bound (weak duality, less the oracle's
proven error) and, after making its model feasible, an upper bound: the model's
coefficients lose the part of their row-space component of ``A`` that exceeds the bound
(``w - (1 - s) P w`` with ``P`` the projector onto the row space and ``s = min(1,
epsilon / max |A w|)``, so that ``A w`` shrinks to ``s A w``). The solve stops when the best
upper and lower bounds are within ``tol`` relative.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize

from fairmtl.objectives import OBJECTIVES, objectives_with
from fairmtl.solvers._certificate import Penalty
from fairmtl.solvers._dualrun import gap_closed
from fairmtl.solvers._grouped import GroupedData
from fairmtl.solvers._oracle import LinearOracle

__all__ = ["PARITY_OBJECTIVES", "LinearTermPenalty", "ParityResult", "parity_rows", "solve_parity"]

#: the rate objectives the dual path solves (for sharing="shared")
PARITY_OBJECTIVES = frozenset(objectives_with("constrains_rates"))


class LinearTermPenalty(Penalty):
    """A sharing penalty plus the linear term ``<c, w>`` of the Lagrangian.

    The term does not change the penalty's curvature, so the oracle's certificate (which
    uses the gradient of the whole objective and the penalty's strong convexity) stays
    valid for ``F(theta) + <c, w>``.

    Parameters
    ----------
    base : Penalty
        The penalty of ``shared`` sharing.
    c : ndarray of shape (1, n_features)
    """

    def __init__(self, base: Penalty, c: np.ndarray) -> None:
        self.__dict__.update(base.__dict__)
        self.c = np.asarray(c, dtype=float)

    def value_grad(self, w: np.ndarray, b: np.ndarray):
        value, gw, gb = super().value_grad(w, b)
        return value + float(np.sum(self.c * w)), gw + self.c, gb


def parity_rows(data: GroupedData, objective: str) -> np.ndarray:
    """The matrix ``A``: one row per constrained group mean score, minus their mean.

    Mirrors :class:`fairmtl.objectives._rates._RateParity`: for each subset of rows
    (all, positives, negatives), each group's weighted mean feature vector over its rows
    in the subset, less the mean of those vectors over the groups that have such rows.

    Parameters
    ----------
    data : GroupedData
    objective : {"demographic_parity", "equal_opportunity", "equalized_odds"}

    Returns
    -------
    A : ndarray of shape (n_constraints, n_features)
    """
    rows = []
    for label in OBJECTIVES[objective].label_subsets:
        means = []
        for g in range(data.n_groups):
            a, b = data.starts[g], data.starts[g + 1]
            weight = data.rw[a:b] if label is None else data.rw[a:b] * (data.y[a:b] == label)
            mass = float(weight.sum())
            if mass > 0:
                means.append(data.rmatvec(a, b, weight) / mass)
        if len(means) >= 2:
            M = np.asarray(means)
            rows.append(M - M.mean(axis=0))
    return np.concatenate(rows) if rows else np.zeros((0, data.d))


@dataclass
class ParityResult:
    """The best certified point of a parity solve.

    Attributes
    ----------
    point : tuple of ndarray
        ``(coef, intercept)`` of shapes (1, n_features) and (1,), feasible.
    losses : ndarray of shape (n_groups,)
    upper, lower : float
        Objective of ``point`` and a certified lower bound on the optimum.
    multipliers : ndarray of shape (n_constraints,)
        The signed multipliers ``nu`` of the best lower bound.
    converged : bool
    calls : int
        Oracle fits.
    state : tuple
        ``(u, (coef, intercept))``: the warm start of a next solve (another epsilon).
    """

    point: tuple[np.ndarray, np.ndarray]
    losses: np.ndarray
    upper: float
    lower: float
    multipliers: np.ndarray
    converged: bool
    calls: int
    evaluations: int
    state: tuple


class _Stop(Exception):
    """Raised inside the objective to end L-BFGS-B: the bounds met, or the budget is spent."""


def _row_space_projector(A: np.ndarray) -> np.ndarray:
    """``P`` with ``P w`` the projection of ``w`` onto the row space of ``A`` (d x d)."""
    if A.shape[0] == 0:
        return np.zeros((A.shape[1], A.shape[1]))
    _, s, Vt = np.linalg.svd(A, full_matrices=False)
    keep = s > s.max() * 1e-10
    V = Vt[keep]
    return V.T @ V


def solve_parity(
    oracle: LinearOracle,
    shares: np.ndarray,
    A: np.ndarray,
    epsilon: float,
    *,
    tol: float,
    max_calls: int,
    deadline: float,
    warm: tuple | None = None,
) -> ParityResult:
    """Minimise ``shares @ L + R`` subject to ``|A w| <= epsilon``; see the module docstring.

    Parameters
    ----------
    oracle : LinearOracle
        With ``shared`` sharing and its penalty set (it is restored on return).
    shares : ndarray of shape (n_groups,)
    A : ndarray of shape (n_constraints, n_features)
    epsilon : float
    tol : float
        Relative gap at which to stop.
    max_calls : int
        Most oracle fits.
    deadline : float
        ``time.perf_counter()`` value after which to stop with the best bounds so far.
    warm : tuple, optional
        The ``state`` of an earlier result on the same data and penalty.

    Returns
    -------
    ParityResult
    """
    base = oracle.penalty
    K = A.shape[0]
    P = _row_space_projector(A)
    target = 1e-6 * tol
    u0, start = (np.zeros(2 * K), None) if warm is None else (warm[0].copy(), warm[1])
    best = {"upper": np.inf, "lower": -np.inf, "point": None, "losses": None, "nu": None}
    count = {"calls": 0, "evaluations": 0, "start": start, "u": u0}

    def feasible(coef: np.ndarray, intercept: np.ndarray) -> None:
        w = coef[0]
        excess = float(np.max(np.abs(A @ w))) if K else 0.0
        s = 1.0 if excess <= epsilon else epsilon / excess
        point = ((w - (1.0 - s) * (P @ w))[None], intercept.copy())
        losses = oracle.evaluate(*point)[0]
        upper = float(shares @ losses) + base.value_grad(*point)[0]
        if upper < best["upper"]:
            best.update(upper=upper, point=point, losses=losses)

    def negative_dual(u: np.ndarray):
        nu = u[:K] - u[K:]
        oracle.penalty = LinearTermPenalty(base, (nu @ A)[None])
        answer = oracle.solve(shares, count["start"], target=target)
        count["start"] = (answer.coef, answer.intercept)
        count["calls"] += 1
        count["evaluations"] += answer.evaluations
        count["u"] = u.copy()
        lower = answer.value - answer.error - epsilon * float(u.sum())
        if lower > best["lower"]:
            best.update(lower=lower, nu=nu.copy())
        oracle.penalty = base
        feasible(answer.coef, answer.intercept)
        if gap_closed(best["upper"], best["lower"], tol):
            raise _Stop
        if count["calls"] >= max_calls or time.perf_counter() > deadline:
            raise _Stop
        slope = A @ answer.coef[0]
        return -lower, -np.concatenate([slope - epsilon, -slope - epsilon])

    try:
        minimize(
            negative_dual,
            u0,
            jac=True,
            method="L-BFGS-B",
            bounds=[(0.0, None)] * (2 * K),
            options={"maxiter": max_calls, "maxfun": max_calls, "gtol": 1e-12, "ftol": 1e-15},
        )
    except _Stop:
        pass
    finally:
        oracle.penalty = base
    return ParityResult(
        point=best["point"],
        losses=best["losses"],
        upper=best["upper"],
        lower=best["lower"],
        multipliers=best["nu"] if best["nu"] is not None else np.zeros(K),
        converged=gap_closed(best["upper"], best["lower"], tol),
        calls=count["calls"],
        evaluations=count["evaluations"],
        state=(count["u"], count["start"]),
    )
