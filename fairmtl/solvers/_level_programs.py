"""The level master's linear and quadratic programs: handed to Clarabel directly, or
compiled by cvxpy (tilted's exponential cones, other solvers) once per shape.

:class:`~fairmtl.solvers._master.LevelMaster` solves two small programs per round over
``y`` (the group weights) and ``t`` (the model's value), with cuts ``t <= a0 + A @ y``:

- ``max t`` over the cuts and ``Y`` (the model's maximum);
- ``min ||y - center||^2`` over the cuts, ``Y`` and ``t >= level`` (the projection).

Through cvxpy each solve first re-applies the parameters to the compiled program, which
costs ten times Clarabel's solve at this size (30 cut slots, 10 groups: a bounded
regression spent 60% of its fit there). Here the programs are built as the arrays cvxpy
hands to Clarabel for them: the same variables (the projection's ``u = y - center``
included), rows, cones, sparsity pattern (every cut slot's slopes held, zero or not)
and settings, so Clarabel takes the same steps and returns the same answers as through
cvxpy (``y`` clipped at 0 as cvxpy clips a nonnegative variable's value).

Every solve, either way, is of its own program alone: cvxpy's warm start would hand
Clarabel the new data scaled as the program's first data was (a history-dependent
answer, ~1e-8 apart), so the cvxpy programs are solved with ``warm_start=False``.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import cvxpy as cp
import numpy as np
import scipy.sparse as sp

__all__ = ["Programs", "cvxpy_programs", "level_lp", "level_qp"]

#: Clarabel's statuses whose answer cvxpy reports (optimal, optimal_inaccurate)
_ANSWERED = ("Solved", "AlmostSolved")


def level_lp(
    A: np.ndarray, a0: np.ndarray, cap: float, simplex: bool, options: dict[str, Any]
) -> tuple[float, np.ndarray, np.ndarray] | None:
    """``max t`` s.t. ``t <= a0 + A @ y``, ``y >= 0`` and ``sum y = 1`` (``simplex``) or
    ``sum y <= cap``: ``(t, y, multipliers of the cuts)``, or None where Clarabel gives
    no answer. ``options``: Clarabel settings."""
    m, n = A.shape
    # variables (t, y); rows: [sum y = 1], y >= 0, the cuts, [sum y <= cap]
    first = 1 if simplex else 0  # the row of y_0 >= 0
    cuts = first + n
    rows = cuts + m + (0 if simplex else 1)
    i = np.arange(n)[:, None]
    if simplex:  # y_i: the sum, y_i >= 0, the cuts
        y = _y_columns(A, cuts, (np.hstack([0 * i, first + i]), [1.0, -1.0]), ([], []))
    else:  # y_i >= 0, the cuts, the sum
        y = _y_columns(A, cuts, (first + i, [-1.0]), ([rows - 1], [1.0]))
    matrix = _csc([(np.arange(cuts, cuts + m)[None], np.ones((1, m))), y], rows)
    b = np.zeros(rows)
    b[cuts : cuts + m] = a0
    if simplex:
        b[0] = 1.0
    else:
        b[-1] = cap
    q = np.zeros(1 + n)
    q[0] = -1.0
    found = _solve(sp.csc_array((1 + n, 1 + n)), q, matrix, b, first, rows - first, options)
    if found is None:
        return None
    x, z, objective = found
    return -objective, np.maximum(x[1:], 0.0), z[cuts : cuts + m]  # y >= 0 held exactly


def level_qp(
    A: np.ndarray,
    a0: np.ndarray,
    cap: float,
    simplex: bool,
    center: np.ndarray,
    level: float,
    options: dict[str, Any],
) -> np.ndarray | None:
    """``argmin ||y - center||^2`` s.t. the cuts, ``y``'s domain (as :func:`level_lp`)
    and ``t >= level``, or None where Clarabel gives no answer."""
    m, n = A.shape
    # variables (u, y, t), u = y - center; rows: u's definition, [sum y = 1], y >= 0,
    # the cuts, [sum y <= cap], -t <= -level
    zero = n + (1 if simplex else 0)
    cuts = zero + n
    domain = cuts + m
    rows = domain + (1 if simplex else 2)
    i = np.arange(n)[:, None]
    if simplex:  # y_i: u_i's definition, the sum, y_i >= 0, the cuts
        y = _y_columns(A, cuts, (np.hstack([i, n + 0 * i, zero + i]), [1.0, 1.0, -1.0]), ([], []))
    else:  # y_i: u_i's definition, y_i >= 0, the cuts, the sum
        y = _y_columns(A, cuts, (np.hstack([i, zero + i]), [1.0, -1.0]), ([domain], [1.0]))
    u = (i, np.full((n, 1), -1.0))
    t = (np.r_[np.arange(cuts, cuts + m), rows - 1][None], np.r_[np.ones(m), -1.0][None])
    matrix = _csc([u, y, t], rows)
    b = np.zeros(rows)
    b[:n] = center
    b[cuts : cuts + m] = a0
    b[n if simplex else domain] = 1.0 if simplex else cap
    b[-1] = -level
    size = 2 * n + 1
    P = sp.csc_array((np.full(n, 2.0), np.arange(n), np.r_[np.arange(n + 1), np.full(n + 1, n)]),
                     shape=(size, size))  # fmt: skip
    found = _solve(P, np.zeros(size), matrix, b, zero, rows - zero, options)
    return None if found is None else np.maximum(found[0][n : 2 * n], 0.0)


def _y_columns(A: np.ndarray, cuts: int, before, after) -> tuple[np.ndarray, np.ndarray]:
    """Rows and values of ``y``'s columns, one row of the result per column: the entries
    ``before`` (rows of shape ``(n, k)`` or broadcast, one value per entry), the cuts'
    ``-A[:, i]`` (rows from ``cuts``), then the entries ``after``."""
    m, n = A.shape
    rows_before = np.broadcast_to(np.asarray(before[0], dtype=np.int64), (n, len(before[1])))
    rows_after = np.broadcast_to(np.asarray(after[0], dtype=np.int64), (n, len(after[1])))
    rows = np.hstack([rows_before, np.broadcast_to(np.arange(cuts, cuts + m), (n, m)), rows_after])
    values = np.hstack([
        np.broadcast_to(np.asarray(before[1], dtype=float), rows_before.shape),
        -A.T,
        np.broadcast_to(np.asarray(after[1], dtype=float), rows_after.shape),
    ])  # fmt: skip
    return rows, values


def _csc(blocks: list[tuple[np.ndarray, np.ndarray]], n_rows: int) -> sp.csc_array:
    """A CSC matrix from blocks of columns, each the rows and values of its columns (one
    row of the block per column, rows in order), zeros held."""
    rows = [np.asarray(r) for r, _ in blocks]
    indptr = np.zeros(sum(r.shape[0] for r in rows) + 1, dtype=np.int64)
    np.cumsum(np.concatenate([np.full(r.shape[0], r.shape[1]) for r in rows]), out=indptr[1:])
    indices = np.concatenate([r.ravel() for r in rows])
    data = np.concatenate([np.asarray(v, dtype=float).ravel() for _, v in blocks])
    return sp.csc_array((data, indices, indptr), shape=(n_rows, len(indptr) - 1))


def _solve(P, q, A, b, n_zero: int, n_nonneg: int, options: dict[str, Any]):
    """Clarabel's ``(x, z, objective)`` (cvxpy's defaults: quiet, ``options`` set), or
    None without an answer."""
    import clarabel

    settings = clarabel.DefaultSettings()
    settings.verbose = False
    for name, value in options.items():
        setattr(settings, name, value)
    cones = [clarabel.ZeroConeT(n_zero)] if n_zero else []
    cones.append(clarabel.NonnegativeConeT(n_nonneg))
    try:
        solution = clarabel.DefaultSolver(P, q, A, b, cones, settings).solve()
    except (ValueError, ArithmeticError, RuntimeError):
        return None
    if str(solution.status) not in _ANSWERED:
        return None
    return np.asarray(solution.x, float), np.asarray(solution.z, float), float(solution.obj_val)


@dataclass
class Programs:
    """The master's two programs over their shared variables and parameters."""

    y: cp.Variable
    A: cp.Parameter
    a0: cp.Parameter
    cap: cp.Parameter
    center: cp.Parameter
    level: cp.Parameter
    inv_tilt: cp.Parameter | None
    cut_cons: cp.Constraint
    lp: cp.Problem
    qp: cp.Problem


#: compiled programs kept per thread (a program's solve writes its variables' values)
_COMPILED = threading.local()
#: the most shapes kept per thread
_KEEP = 8


def cvxpy_programs(n: int, m: int, simplex: bool, entropy: bool, solver: str) -> Programs:
    """The programs of a master over ``n`` groups with ``m`` cut slots, reused by the
    masters that follow in the same thread: cvxpy compiles a parametrised program at its
    first solve, which cost more than the solves of a fit's master. Each solve sets
    every parameter it reads first and starts afresh (module docstring), so masters
    that share the programs, even interleaved, solve the same programs as their own."""
    cache = _COMPILED.__dict__.setdefault("programs", OrderedDict())
    key = (n, m, simplex, entropy, solver)
    if key in cache:
        cache.move_to_end(key)
        return cache[key]
    y = cp.Variable(n, nonneg=True, name="group_weights")
    t = cp.Variable(name="model_value")
    A = cp.Parameter((m, n), name="cut_slopes")
    a0 = cp.Parameter(m, name="cut_offsets")
    cap = cp.Parameter(nonneg=True, name="weight_cap")
    center = cp.Parameter(n, name="center")
    level = cp.Parameter(name="level")
    h, inv_tilt = 0, None
    if entropy:
        inv_tilt = cp.Parameter(nonneg=True, name="inverse_tilt")
        h = inv_tilt * (np.log(n) * cp.sum(y) - cp.sum(cp.entr(y)))
    cut_cons = t <= a0 + A @ y
    domain = [cp.sum(y) == 1] if simplex else [cp.sum(y) <= cap]
    lp = cp.Problem(cp.Maximize(t - h), [cut_cons, *domain])
    qp = cp.Problem(cp.Minimize(cp.sum_squares(y - center)), [cut_cons, *domain, t - h >= level])
    cache[key] = Programs(y, A, a0, cap, center, level, inv_tilt, cut_cons, lp, qp)
    if len(cache) > _KEEP:
        cache.popitem(last=False)
    return cache[key]
