"""Gradient programs: the neural path's direction programs on the groups' Gram matrix.

A step of the neural path may combine the groups' gradients through their k x k Gram
matrix ``G`` (each gradient with the penalty's gradient added). The programs here turn
``G`` (and the group objectives' values) into weights of the groups:

- :func:`min_norm_weights`: MGDA's min-norm point of the convex hull of the gradients
  (Sener & Koltun 2018), exact by one NNLS problem on a factor of ``G``
  (:func:`gram_factor`);
- :class:`PreferenceProgram`: a cvxpy QP compiled once with DPP parameters, the
  proximal-linear step on ``max_g r_g f_g``, optionally restricted to directions that do
  not increase any group's loss to first order (in the spirit of Pareto MTL / EPO).

Everything here is numpy, scipy and cvxpy on k numbers or a k x k matrix: no torch, so
the programs are tested on their own. :mod:`fairmtl.neural._directions` wraps them as
directions.
"""

from __future__ import annotations

import warnings

import cvxpy as cp
import numpy as np
from scipy.optimize import nnls

from fairmtl.solvers._quiet import solver_output_captured
from fairmtl.solvers._status import ERROR, SOLUTION_PRESENT, status_group

__all__ = ["PreferenceProgram", "gram_factor", "min_norm_weights"]


def gram_factor(gram: np.ndarray) -> np.ndarray:
    """A square matrix ``R`` with ``R.T @ R == gram`` (Cholesky, eigen-factor if singular).

    Parameters
    ----------
    gram : ndarray of shape (k, k)
        Symmetric positive semi-definite.

    Returns
    -------
    R : ndarray of shape (k, k)
    """
    gram = 0.5 * (gram + gram.T)
    try:
        return np.linalg.cholesky(gram).T
    except np.linalg.LinAlgError:
        values, vectors = np.linalg.eigh(gram)
        return np.sqrt(np.clip(values, 0.0, None))[:, None] * vectors.T


def _normalised(gram: np.ndarray) -> tuple[np.ndarray, float]:
    scale = float(np.mean(np.diag(gram)))
    if not np.isfinite(scale) or scale <= 0:
        return np.zeros_like(gram), 0.0
    return gram / scale, scale


def min_norm_weights(gram: np.ndarray) -> np.ndarray:
    """Weights of the min-norm point of the convex hull of k vectors, from their Gram matrix.

    Solves ``min_{lam in simplex} lam @ gram @ lam`` exactly by one non-negative least
    squares problem: with ``gram = R.T R``, ``min_{u >= 0} ||R u||^2 + (1 - sum(u))^2``
    has the solution ``u = s * lam*`` with ``s = 1 / (1 + lam* @ gram @ lam*)``, so
    ``lam* = u / sum(u)`` (Lawson & Hanson's least-distance programming, on a k x k
    factor instead of the raw gradients).

    Parameters
    ----------
    gram : ndarray of shape (k, k)

    Returns
    -------
    lam : ndarray of shape (k,)
        Non-negative, summing to 1.
    """
    k = gram.shape[0]
    if k == 1:
        return np.ones(1)
    normalised, scale = _normalised(np.asarray(gram, dtype=float))
    if scale == 0.0:
        return np.full(k, 1.0 / k)
    R = gram_factor(normalised)
    A = np.vstack([R, np.ones((1, k))])
    b = np.zeros(k + 1)
    b[-1] = 1.0
    u, _ = nnls(A, b, maxiter=50 * k)
    total = u.sum()
    if not total > 0:
        return np.full(k, 1.0 / k)
    return u / total


class PreferenceProgram:
    """Proximal-linear direction for ``max_g r_g f_g``, compiled once in cvxpy (DPP).

    With ``f`` the group objectives, ``g_g`` their gradients, ``r`` the preference and
    ``eta`` the step size, the step ``d`` minimising
    ``max_g r_g (f_g + g_g @ d) + ||d||^2 / (2 eta)`` is ``d = -eta sum_g r_g lam_g g_g``
    where ``lam`` solves the dual

        maximise_{lam in simplex}  (r * f) @ lam - (eta / 2) ||R diag(r) lam||^2
        [subject to  G diag(r) lam >= 0]

    with ``G = R.T R`` the Gram matrix of the gradients. The optional constraint keeps
    only directions along which no group's objective increases to first order (a common
    descent direction, as in Pareto MTL and EPO); it is always feasible when every
    ``r_g > 0`` (the min-norm point satisfies it). With ``r = 1`` and no constraint this is
    the minimax direction. Small ``eta`` gives all weight to the worst weighted group;
    large ``eta`` tends to the min-norm (MGDA) weights of ``r_g g_g``.

    Parameters
    ----------
    n_groups : int
    descent : bool, default=True
        Add the common-descent constraint.
    solvers : tuple of str, default=("OSQP", "CLARABEL")
        Tried in order until one returns a solution. OSQP (a cvxpy dependency) is the
        fast path: measured 5-10x faster than CLARABEL on this dense k x k QP (k = 100).
    """

    def __init__(
        self,
        n_groups: int,
        *,
        descent: bool = True,
        solvers: tuple[str, ...] = ("OSQP", "CLARABEL"),
    ):
        k = n_groups
        self.n_groups, self.descent, self.solvers = k, descent, tuple(solvers)
        self.lam = cp.Variable(k, nonneg=True, name="lam")
        self.factor = cp.Parameter((k, k), name="scaled_factor")
        self.linear = cp.Parameter(k, name="weighted_values")
        objective = self.linear @ self.lam - 0.5 * cp.sum_squares(self.factor @ self.lam)
        constraints = [cp.sum(self.lam) == 1]
        if descent:
            self.slopes = cp.Parameter((k, k), name="weighted_gram")
            constraints.append(self.slopes @ self.lam >= 0)
        self.problem = cp.Problem(cp.Maximize(objective), constraints)
        if not self.problem.is_dcp(dpp=True):  # pragma: no cover - a programming error
            raise RuntimeError("PreferenceProgram must be DPP")

    def solve(
        self, gram: np.ndarray, values: np.ndarray, preference: np.ndarray, step: float
    ) -> tuple[np.ndarray, str]:
        """Weights ``r * lam`` normalised to sum 1, and the status group of the solve.

        Parameters
        ----------
        gram : ndarray of shape (k, k)
            Gram matrix of the groups' gradients.
        values : ndarray of shape (k,)
            The groups' current objective values.
        preference : ndarray of shape (k,)
            Non-negative weights ``r``.
        step : float
            ``eta``, the step size the optimizer is about to take (in the units of a
            plain gradient step).

        Returns
        -------
        weights : ndarray of shape (k,)
        status : str
            A fairmtl status group; on failure the weights are the worst weighted group's.
        """
        r = np.asarray(preference, dtype=float)
        normalised, scale = _normalised(np.asarray(gram, dtype=float))
        R = gram_factor(normalised)
        self.factor.value = np.sqrt(max(step, 0.0) * scale) * R * r[None, :]
        self.linear.value = r * np.asarray(values, dtype=float)
        if self.descent:
            self.slopes.value = normalised * r[None, :]
        status = ERROR
        for solver in self.solvers:
            try:
                with warnings.catch_warnings(), solver_output_captured([]):
                    # "may be inaccurate": the status says so, and is handled below
                    warnings.simplefilter("ignore", UserWarning)
                    self.problem.solve(solver=solver)
                status = status_group(self.problem.status)
            except cp.error.SolverError:
                status = ERROR
            if status in SOLUTION_PRESENT:
                break
        if status not in SOLUTION_PRESENT or self.lam.value is None:
            fallback = np.zeros(self.n_groups)
            fallback[int(np.argmax(r * values))] = 1.0
            return fallback, status
        weights = r * np.clip(self.lam.value, 0.0, None)
        total = weights.sum()
        if not total > 0:
            return np.full(self.n_groups, 1.0 / self.n_groups), status
        return weights / total, status
