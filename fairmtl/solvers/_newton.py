"""A final Newton polish of the exact path's answer for smooth, unconstrained objectives.

The interior-point solver and the SQP stages stop at a tolerance on the duality gap. A gap
of ``eps`` leaves the parameters up to ``sqrt(2 eps / alpha)`` from the optimum along the
objective's flattest directions: with a small ``alpha`` two formulations of one problem
(integer sample weights and repeated rows; rows in another order) then give outputs
that differ at ~1e-6. For ``min_theta sum_g lam_g L_g(theta) + R(theta)`` with a
twice-differentiable loss (logistic, multinomial, squared; huber piecewise) and the
quadratic penalty of ``shared``, ``independent`` or ``offset`` sharing, Newton's method
from that answer converges quadratically: a few steps bring the Newton decrement
``g' H^-1 g`` (twice the suboptimality of the local quadratic model) down to rounding.

The steps are taken in the solver's own coordinates (centred and scaled features; see
:class:`fairmtl.models.Scaling`), where the Hessian is well conditioned, with the exact
Hessian of the loss and of the penalty (stated, as in :mod:`fairmtl.models._sharing`, on
the original features' parameters). The multinomial intercepts keep summing to zero.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.linalg import LinAlgError, cho_factor, cho_solve, null_space
from scipy.special import softmax

from fairmtl.losses import Loss
from fairmtl.solvers._activeset import HINGE_LOSSES, hinge_polish
from fairmtl.solvers._threads import with_one_blas_thread

__all__ = [
    "NewtonResult",
    "PolishRows",
    "newton_polish",
    "newton_stage",
    "penalty_hessian",
    "polishable_by_newton",
]

#: losses with a second derivative (huber's is piecewise constant)
SMOOTH_LOSSES = frozenset({"logistic", "multinomial", "squared", "huber"})
SHARINGS = frozenset({"shared", "independent", "offset"})
#: above this many parameters the dense Newton system costs more than it is worth
MAX_PARAMS = 1500
MAX_ITER = 30
#: converged when the Newton decrement is below this, relative to ``1 + |f|``
DECREMENT_TOL = 1e-24
#: below this relative decrement the full step is taken (quadratic convergence region:
#: the change of f is below its rounding, so a line search could not judge it)
FULL_STEP = 1e-12


@dataclass
class NewtonResult:
    """The polished point, in the solver's coordinates, and how it was found.

    Attributes
    ----------
    theta : ndarray of shape (P, n_features + 1, K)
        Scaled-space coefficients with the intercept as the last row, per block.
    value : float
        ``lam @ L + R`` at ``theta``.
    decrement, start_decrement : float
        The Newton decrement ``g' H^-1 g`` at ``theta`` and at the start.
    iterations : int
    time : float
    """

    theta: np.ndarray
    value: float
    decrement: float
    start_decrement: float
    iterations: int
    time: float


def polishable_by_newton(loss: Loss, sharing: str, alpha: float, n_params: int) -> bool:
    """Whether :func:`newton_polish` applies (smooth loss, quadratic penalty, ``alpha > 0``)."""
    return (
        loss.name in SMOOTH_LOSSES and sharing in SHARINGS and alpha > 0 and n_params <= MAX_PARAMS
    )


class PolishRows:
    """The rows in the solver's coordinates, grouped by block, made once per problem.

    Parameters
    ----------
    Xs : ndarray or sparse matrix of shape (n_samples, n_features)
        Scaled features.
    y : ndarray of shape (n_samples,)
    tasks : ndarray of shape (n_samples,)
    sample_weight : ndarray of shape (n_samples,)
    n_groups : int
    shared : bool
        One block for all rows (``shared`` sharing), else one block per group.
    """

    def __init__(self, Xs, y, tasks, sample_weight, n_groups: int, shared: bool) -> None:
        tasks = np.asarray(tasks)
        weight = np.asarray(sample_weight, dtype=float)
        group_weight = np.bincount(tasks, weights=weight, minlength=n_groups)
        rw = weight / np.where(group_weight > 0, group_weight, 1.0)[tasks]
        block = np.zeros_like(tasks) if shared else tasks
        self.n_blocks = 1 if shared else n_groups
        ones = np.ones((Xs.shape[0], 1))
        A = sp.hstack([Xs, ones], format="csr") if sp.issparse(Xs) else np.hstack([Xs, ones])
        self.blocks = []
        for p in range(self.n_blocks):
            rows = np.flatnonzero((block == p) & (rw > 0))
            self.blocks.append((A[rows], np.asarray(y)[rows], tasks[rows], rw[rows]))


def _loss_parts(loss: Loss, z: np.ndarray, y: np.ndarray):
    """Per-row loss, its derivative in ``z`` and its curvature: ``(n,)`` for one output,
    ``(n, K, K)`` for the multinomial loss."""
    ell, dz = loss.numpy(z, y), loss.gradient(z, y)
    if loss.name == "multinomial":
        p = softmax(z, axis=1)
        h = np.einsum("nk,kl->nkl", p, np.eye(z.shape[1])) - p[:, :, None] * p[:, None, :]
    elif loss.name == "logistic":
        s = 0.5 * (1.0 + np.tanh(0.5 * y * z))  # sigmoid(y z), without overflow
        h = s * (1.0 - s)
    elif loss.name == "squared":
        h = np.full_like(z, 2.0)
    else:  # huber, delta = 1
        h = np.where(np.abs(z - y) <= 1.0, 2.0, 0.0)
    return ell, dz, h


def _gram(A, v: np.ndarray) -> np.ndarray:
    """``A' diag(v) A`` as a dense array."""
    out = A.T @ (A.multiply(v[:, None]) if sp.issparse(A) else A * v[:, None])
    return out.toarray() if sp.issparse(out) else np.asarray(out)


class _Objective:
    """``lam @ L + R`` with its gradient and Hessian in flat scaled-space parameters."""

    def __init__(self, rows: PolishRows, loss: Loss, lam, K: int, penalty_hessian, basis):
        self.rows, self.loss, self.K = rows, loss, K
        self.c = [lam[tasks] * rw for _, _, tasks, rw in rows.blocks]
        self.Hpen, self.E = penalty_hessian, basis

    def value(self, theta: np.ndarray) -> float:
        total = 0.5 * float(theta.ravel() @ self.Hpen @ theta.ravel())
        for (A, y, _, _), c, th in zip(self.rows.blocks, self.c, theta, strict=True):
            total += float(c @ self.loss.numpy(self._outputs(A, th), y))
        return total

    def _outputs(self, A, th: np.ndarray) -> np.ndarray:
        z = np.asarray(A @ th)
        return z[:, 0] if self.K == 1 else z

    def derivatives(self, theta: np.ndarray):
        """Value, gradient and Hessian, both in the reduced coordinates of ``E``."""
        flat = theta.ravel()
        grad = self.Hpen @ flat
        hess = self.Hpen.copy()
        value = 0.5 * float(flat @ grad)
        size = theta[0].size
        for p, ((A, y, _, _), c) in enumerate(zip(self.rows.blocks, self.c, strict=True)):
            if len(y) == 0:
                continue
            ell, dz, h = _loss_parts(self.loss, self._outputs(A, theta[p]), y)
            value += float(c @ ell)
            r = (c * dz) if self.K == 1 else c[:, None] * dz
            g = np.asarray(A.T @ r).reshape(size)
            part = slice(p * size, (p + 1) * size)
            grad[part] += g
            hess[part, part] += self._block_hessian(A, c, h)
        E = self.E
        if E is None:
            return value, grad, hess
        # E sparse: E' H E by two sparse-dense products (H is symmetric)
        return value, E.T @ grad, np.asarray(E.T @ np.asarray(E.T @ hess).T)

    def _block_hessian(self, A, c: np.ndarray, h: np.ndarray) -> np.ndarray:
        K = self.K
        if K == 1:
            return _gram(A, c * h)
        m = A.shape[1]
        H = np.empty((m, K, m, K))
        for k in range(K):
            for j in range(k, K):
                M = _gram(A, c * h[:, k, j])
                H[:, k, :, j] = M
                H[:, j, :, k] = M.T
        return H.reshape(m * K, m * K)


def penalty_hessian(sharing: str, alpha: float, strength: float, shares, scaling, K: int):
    """The Hessian of the sharing penalty in flat scaled-space parameters ``(P, d+1, K)``:
    ``T' H_orig T`` with ``T`` the map to original-feature parameters (see
    :class:`fairmtl.models.Sharing`)."""
    d = len(scaling.scale)
    inv = 1.0 / scaling.scale
    T0 = np.zeros((d + 1, d + 1))
    T0[:d, :d] = np.diag(inv)
    T0[d, :d] = -scaling.mean * inv
    T0[d, d] = 1.0
    Tb = np.kron(T0, np.eye(K))
    coef_rows = np.kron(np.diag(np.r_[np.ones(d), 0.0]), np.eye(K))
    ridge = np.ones(1) if sharing == "shared" else np.asarray(shares, dtype=float)
    # T is block diagonal with the blocks Tb: T' (A x B) T = A x (Tb' B Tb)
    H = 2 * float(alpha) * np.kron(np.diag(ridge), Tb.T @ coef_rows @ Tb)
    P = len(ridge)
    if sharing == "offset" and strength > 0 and P > 1:
        H += 2 * float(strength) * np.kron(np.eye(P) - 1.0 / P, Tb.T @ Tb)
    return H


def _basis(P: int, d: int, K: int):
    """Columns spanning the parameters whose intercepts sum to zero over the K outputs
    (None for one output: no constraint)."""
    if K == 1:
        return None
    block = np.zeros(((d + 1) * K, (d + 1) * K - 1))
    block[: d * K, : d * K] = np.eye(d * K)
    block[d * K :, d * K :] = null_space(np.ones((1, K)))
    return sp.kron(sp.eye(P), sp.csr_matrix(block), format="csr")


def newton_polish(
    rows: PolishRows,
    loss: Loss,
    lam: np.ndarray,
    hessian_of_penalty: np.ndarray,
    theta: np.ndarray,
) -> NewtonResult | None:
    """Newton's method on ``lam @ L + R`` from ``theta`` (shape ``(P, d + 1, K)``, scaled
    space, intercepts last); the best point met, or None when the Hessian could not be
    factored at the start or the start is not finite."""
    t0 = time.perf_counter()
    P, m, K = theta.shape
    theta = theta.astype(float, copy=True)
    if K > 1:  # the intercepts' constraint, exactly
        theta[:, -1, :] -= theta[:, -1, :].mean(axis=1, keepdims=True)
    E = _basis(P, m - 1, K)
    objective = _Objective(rows, loss, np.asarray(lam, dtype=float), K, hessian_of_penalty, E)
    best: tuple[float, np.ndarray, float] | None = None
    start_decrement, previous, iterations = np.inf, np.inf, 0
    for iterations in range(MAX_ITER + 1):
        value, grad, hess = objective.derivatives(theta)
        if not (np.isfinite(value) and np.all(np.isfinite(grad))):
            break
        try:
            step = -cho_solve(cho_factor(hess), grad)
        except (LinAlgError, ValueError):
            break
        decrement = max(-float(grad @ step), 0.0)
        if iterations == 0:
            start_decrement = decrement
        if best is None or decrement < best[0]:
            best = (decrement, theta.copy(), value)
        scale = 1.0 + abs(value)
        stalled = iterations > 2 and decrement >= 0.25 * previous
        if decrement <= DECREMENT_TOL * scale or stalled or iterations == MAX_ITER:
            break
        previous = decrement
        move = (step if E is None else E @ step).reshape(theta.shape)
        t = 1.0
        if decrement > FULL_STEP * scale:  # damped: backtrack until f falls enough
            while t > 1e-10 and objective.value(theta + t * move) > value - 0.25 * t * decrement:
                t *= 0.5
        theta = theta + t * move
    if best is None:
        return None
    decrement, point, value = best
    return NewtonResult(
        point, value, decrement, start_decrement, iterations, time.perf_counter() - t0
    )


# -- the exact path's use ------------------------------------------------------------------
@with_one_blas_thread  # an answer must not depend on the process's thread count
def newton_stage(problem, info: dict) -> None:
    """Polish the answer of an :class:`~fairmtl.solvers.ExactProblem` whose objective is
    an unconstrained weighted sum (average, balanced, weighted) by :func:`newton_polish`
    (smooth losses) or :func:`~fairmtl.solvers._activeset.hinge_polish` (hinge losses),
    where it applies; the variables then hold the polished point, ``info["objective"]``
    its value, and the last attempt of ``info`` records it as ``"newton"``. An answer the
    polish could not improve, or verify, stays as it is."""
    weighted = problem.objective.weighted_terms(problem.shares)
    if weighted is None or np.isfinite(weighted[1]).any():
        return
    shared = problem.sharing_name == "shared"
    P = 1 if shared else problem.n_groups
    d, K = problem.X.shape[1], problem.n_outputs
    alpha, strength = float(problem.alpha.value), float(problem.strength.value)
    hinge = problem.loss.name in HINGE_LOSSES
    if not polishable_by_newton(problem.loss, problem.sharing_name, alpha, P * (d + 1) * K):
        if not (hinge and problem.sharing_name in SHARINGS and P * (d + 1) * K <= MAX_PARAMS):
            return
    sharing = problem.sharing
    rows = getattr(problem, "_newton_rows", None)
    if rows is None:  # made once per problem: the knobs change, the rows do not
        Xs = sharing.scaling.transform(problem.X)
        rows = PolishRows(Xs, problem.y, problem.tasks, problem.w, problem.n_groups, shared)
        problem._newton_rows = rows
    H = penalty_hessian(problem.sharing_name, alpha, strength, problem.shares, sharing.scaling, K)
    W = np.asarray(sharing.coef_var.value).reshape(P, d, K)
    b = np.asarray(sharing.intercept_var.value).reshape(P, 1, K)
    theta = np.concatenate([W, b], axis=1)
    t0 = time.perf_counter()
    if hinge:
        found = hinge_polish(rows, np.asarray(weighted[0], float), H, theta, _basis(P, d, K))
        if found is None:
            return
        record = {"method": "active set", "time": time.perf_counter() - t0}
        theta, value = found
    else:
        result = newton_polish(rows, problem.loss, weighted[0], H, theta)
        if result is None or not result.decrement <= result.start_decrement:
            return
        theta, value = result.theta, result.value
        record = {
            "method": "newton",
            "iterations": result.iterations,
            "decrement": result.decrement,
            "start_decrement": result.start_decrement,
            "time": result.time,
        }
    sharing.coef_var.value = theta[:, :d, :].reshape(P * d, K)
    sharing.intercept_var.value = theta[:, d, :]
    info["objective"] = value
    info["time"] += record["time"]
    if info.get("attempts"):
        info["attempts"][-1]["newton"] = record
