"""The second, lexicographic stage for smooth losses: a small SQP instead of a conic solve.

Stage 2 of ``minimax`` and ``chebyshev`` (see :meth:`ExactProblem._refine`) minimises
``F(theta) = sum_g p_g L_g(theta) + R(theta)`` subject to ``L_g(theta) <= b_g`` for every
group g, from the stage-1 optimum, which satisfies every bound. As a conic program it
is as large as stage 1 (two exponential cones per row for the logistic loss) and badly
conditioned: the bounds of the groups tied at the stage-1 optimum leave a thin feasible
set, where the interior-point solver stalls (measured: CLARABEL failed on most
``make_hospitals`` problems, with every setting tried). The problem itself is small and
smooth: a handful of constraints on ``(d + 1)`` parameters per model. Sequential
quadratic programming (scipy's SLSQP) solves it from the stage-1 point in a few dozen
passes over the rows, in the oracle's preconditioned coordinates
(:mod:`fairmtl.solvers._precondition`).

The answer is checked, not trusted: every bound must hold (to ``FEAS_TOL`` relative) and
the KKT conditions must hold with the multipliers recovered by non-negative least
squares, to ``KKT_TOL`` in the penalty's dual norm (the certificate's measure of
distance to the optimum of the Lagrangian fit). Otherwise :func:`refine_smooth` returns
None and the caller falls back to the conic stage.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.optimize import minimize, nnls

from fairmtl.losses import Loss
from fairmtl.solvers._certificate import CURVATURE_BOUND, Penalty
from fairmtl.solvers._oracle import GroupedData, _loss_and_gradient, _transpose
from fairmtl.solvers._precondition import Coordinates

__all__ = ["RefineResult", "refine_smooth", "smooth_refinable"]

#: relative violation of a bound that is accepted (the bounds carry a 1e-6 slack)
FEAS_TOL = 1e-9
#: largest accepted KKT residual ``1/2 ||grad||^2_{H^-1}`` relative to ``1 + |F|``
KKT_TOL = 1e-9
#: SLSQP's iteration limit and tolerance on the objective
MAX_ITER, FTOL = 500, 1e-15
#: above this many parameters SLSQP's dense quasi-Newton matrix is too costly
MAX_PARAMS = 2_000


@dataclass
class RefineResult:
    """The stage-2 point and how it was found."""

    coef: np.ndarray
    intercept: np.ndarray
    losses: np.ndarray
    value: float
    iterations: int
    kkt: float


def smooth_refinable(loss: Loss, sharing: str, n_outputs: int, alpha: float, n_params: int):
    """Whether stage 2 can be solved by :func:`refine_smooth`."""
    return (
        loss.name in CURVATURE_BOUND
        and sharing in ("shared", "independent", "offset")
        and n_outputs == 1
        and alpha > 0
        and n_params <= MAX_PARAMS
    )


class _Model:
    """Group losses, their Jacobian and the penalty of the linear group models."""

    def __init__(self, data: GroupedData, loss: Loss, penalty: Penalty, sharing: str) -> None:
        self.data, self.loss, self.penalty = data, loss, penalty
        self.per_group = sharing != "shared"
        self.XT = _transpose(data.X)
        self._cache: tuple[bytes, tuple] | None = None

    def outputs(self, w: np.ndarray, b: np.ndarray) -> np.ndarray:
        data = self.data
        if not self.per_group:
            return np.asarray(data.X @ w[0], dtype=float) + b[0]
        z = np.empty(data.n)
        for g in range(data.n_groups):
            a, e = data.starts[g], data.starts[g + 1]
            z[a:e] = np.asarray(data.rows(a, e) @ w[g], dtype=float) + b[g]
        return z

    def evaluate(self, w: np.ndarray, b: np.ndarray):
        """Group losses, their gradients ``(G, d)`` and ``(G,)``, penalty value and grads."""
        key = w.tobytes() + b.tobytes()
        if self._cache is not None and self._cache[0] == key:
            return self._cache[1]
        data = self.data
        ell, dz = _loss_and_gradient(self.loss, self.outputs(w, b), data.y)
        losses = np.bincount(data.task, weights=data.rw * ell, minlength=data.n_groups)
        r = data.rw * dz
        spread = sp.csr_matrix((r, (np.arange(data.n), data.task)), (data.n, data.n_groups))
        jw = np.asarray((self.XT @ spread).T, dtype=float)
        if sp.issparse(jw):
            jw = jw.toarray()
        jb = np.bincount(data.task, weights=r, minlength=data.n_groups)
        out = (losses, np.asarray(jw), jb, *self.penalty.value_grad(w, b))
        self._cache = (key, out)
        return out

    def blocks(self, jw: np.ndarray, jb: np.ndarray, weights: np.ndarray):
        """Gradient in ``(w, b)`` of ``weights @ L``."""
        if not self.per_group:
            return (weights @ jw)[None], np.array([weights @ jb])
        return weights[:, None] * jw, weights * jb

    def constraint_blocks(self, jw: np.ndarray, jb: np.ndarray, g: int):
        """Gradient in ``(w, b)`` of ``L_g`` alone."""
        if not self.per_group:
            return jw[g][None], jb[g : g + 1]
        gw, gb = np.zeros_like(jw), np.zeros_like(jb)
        gw[g], gb[g] = jw[g], jb[g]
        return gw, gb


def refine_smooth(
    data: GroupedData,
    loss: Loss,
    penalty: Penalty,
    sharing: str,
    shares: np.ndarray,
    bounds: np.ndarray,
    start: tuple[np.ndarray, np.ndarray],
) -> RefineResult | None:
    """Minimise ``shares @ L + R`` subject to ``L <= bounds`` from ``start`` (feasible).

    ``start`` holds original-space parameters of shape (P, d) and (P,), P = 1 for
    ``shared``. Returns None when the answer fails its checks (see the module docstring).
    """
    model = _Model(data, loss, penalty, sharing)
    curvature = CURVATURE_BOUND[loss.name]
    coords = Coordinates(data.group_mean, data.group_sq, shares, penalty, curvature)
    G = data.n_groups

    def objective(x):
        w, b = coords.from_x(x)
        losses, jw, jb, pv, pw, pb = model.evaluate(w, b)
        gw, gb = model.blocks(jw, jb, shares)
        return float(shares @ losses) + pv, coords.gradient(gw + pw, gb + pb)

    def slack(x):
        w, b = coords.from_x(x)
        return bounds - model.evaluate(w, b)[0]

    def slack_jac(x):
        w, b = coords.from_x(x)
        _, jw, jb, *_ = model.evaluate(w, b)
        return -np.array([coords.gradient(*model.constraint_blocks(jw, jb, g)) for g in range(G)])

    def check(x):
        """The point, its value and KKT bound, and whether it passes both checks."""
        w, b = coords.from_x(x)
        losses, jw, jb, pv, pw, pb = model.evaluate(w, b)
        value = float(shares @ losses) + pv
        gap = _kkt_residual(model, penalty, shares, bounds, losses, jw, jb, pw, pb)
        feasible = np.all(losses <= bounds + FEAS_TOL * np.maximum(1.0, np.abs(bounds)))
        passed = bool(feasible and gap <= KKT_TOL * (1.0 + abs(value)))
        return RefineResult(w, b, losses, value, 0, gap), passed

    def stop_when_certified(xk):
        if check(xk)[1]:
            raise StopIteration

    opt = minimize(
        objective,
        coords.to_x(*start),
        jac=True,
        method="SLSQP",
        constraints=[{"type": "ineq", "fun": slack, "jac": slack_jac}],
        options={"maxiter": MAX_ITER, "ftol": FTOL},
        callback=stop_when_certified,
    )
    result, passed = check(opt.x)
    result.iterations = int(opt.nit)
    return result if passed else None


def _kkt_residual(model, penalty, shares, bounds, losses, jw, jb, pw, pb) -> float:
    """``1/2 ||grad of the Lagrangian||^2_{H^-1}`` at the best multipliers of the groups
    whose bound is (nearly) active, plus their complementarity ``mu @ (bounds - L)``."""
    near = np.flatnonzero(bounds - losses <= 1e-6 * np.maximum(1.0, np.abs(bounds)))
    gw, gb = model.blocks(jw, jb, shares)
    base = np.concatenate([(gw + pw).ravel(), gb + pb])
    mu = np.zeros(len(shares))
    if near.size:
        cols = []
        for g in near:
            cw, cb = model.constraint_blocks(jw, jb, g)
            cols.append(np.concatenate([cw.ravel(), cb]))
        A = np.column_stack(cols)
        mu[near] = nnls(A, -base)[0]
    weights = shares + mu
    gw, gb = model.blocks(jw, jb, weights)
    gw, gb = gw + pw, gb + pb
    if penalty.single_free:  # the free intercept direction: one common shift
        free = float(gb.sum()) ** 2
    else:  # one free intercept per group
        free = float(gb @ gb)
    residual = 0.5 * penalty.dual_norm_sq(gw, gb) + free
    return residual + float(mu @ (bounds - losses))
