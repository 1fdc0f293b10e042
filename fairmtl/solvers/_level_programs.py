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
    col_t = (np.arange(cuts, cuts + m), np.ones(m))
    cols_y = [
        _column_of_y(i, first + i, cuts, -A[:, i], 0 if simplex else rows - 1) for i in range(n)
    ]
    matrix = _csc([col_t, *cols_y], rows)
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
    cols_u = [(np.array([i]), np.array([-1.0])) for i in range(n)]
    cols_y = [
        _column_of_y(i, zero + i, cuts, -A[:, i], n if simplex else domain, defines=i)
        for i in range(n)
    ]
    col_t = (np.r_[np.arange(cuts, cuts + m), rows - 1], np.r_[np.ones(m), -1.0])
    matrix = _csc([*cols_u, *cols_y, col_t], rows)
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


def _column_of_y(i: int, nonneg_row: int, cuts: int, slopes: np.ndarray, total_row: int,
                 defines: int | None = None):  # fmt: skip
    """Rows and values of ``y_i``'s column: ``u_i``'s definition (``defines``), the
    domain's sum, ``-y_i <= 0`` and the cuts' ``-A[:, i]``, rows in order."""
    rows = [nonneg_row, *range(cuts, cuts + len(slopes)), total_row]
    values = [-1.0, *slopes, 1.0]
    if defines is not None:
        rows.insert(0, defines)
        values.insert(0, 1.0)
    rows, values = np.asarray(rows), np.asarray(values, dtype=float)
    order = np.argsort(rows, kind="stable")
    return rows[order], values[order]


def _csc(columns: list[tuple[np.ndarray, np.ndarray]], n_rows: int) -> sp.csc_array:
    """A CSC matrix from each column's (sorted) rows and values, zeros held."""
    indptr = np.zeros(len(columns) + 1, dtype=np.int64)
    np.cumsum([len(rows) for rows, _ in columns], out=indptr[1:])
    indices = np.concatenate([rows for rows, _ in columns])
    data = np.concatenate([values for _, values in columns])
    return sp.csc_array((data, indices, indptr), shape=(n_rows, len(columns)))


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
