"""The exact path's smooth stages as small programs: SQP instead of conic solves.

Stage 2 of ``minimax`` and ``chebyshev`` (see :mod:`fairmtl.solvers._pareto_stage`)
minimises ``F(theta) = sum_g p_g L_g(theta) + R(theta)`` subject to ``L_g(theta) <= b_g``
for every group g, from the stage-1 optimum, which satisfies every bound
(:func:`refine_smooth`). As a conic program it is as large as stage 1 (two exponential
cones per row for the logistic loss) and badly conditioned: the bounds of the groups tied
at the stage-1 optimum leave a thin feasible set, where the interior-point solver stalls
(measured: CLARABEL failed on most ``make_hospitals`` problems, with every setting
tried). The problem itself is small and smooth: a handful of constraints on ``(d + 1)``
parameters per model (with ``offset`` sharing of many groups, its Hessian is taken as
per-group blocks and a coupling of low rank: :mod:`fairmtl.solvers._blockhessian`).
Sequential quadratic programming with exact Hessians
(:mod:`fairmtl.solvers._newton_sqp`) solves it from the stage-1 point in about ten
iterations of two passes over the rows; where it fails, a primal-dual interior-point
method with the same Hessians (:mod:`fairmtl.solvers._interior`), then SQP with dense
quasi-Newton steps (scipy's SLSQP) in the oracle's preconditioned coordinates
(:mod:`fairmtl.solvers._precondition`); :mod:`fairmtl.solvers._sqp` runs the engines.

Stage 1 of the same objectives, ``min_theta max_g (c_g L_g(theta) - s_g) + R(theta)``
(``c = 1``, ``s = -adjustment`` for ``minimax``; the preference and its shift for
``chebyshev``), is solved the same way in epigraph form (:func:`minimax_smooth`), from
any start: the conic program's cost grows with the rows, SQP's only through one pass
over them per iteration.

Every answer is checked, not trusted: every bound must hold (to ``FEAS_TOL`` relative) and
the KKT conditions must hold with the multipliers recovered by non-negative least
squares, to ``KKT_TOL`` in the penalty's dual norm (the certificate's measure of
distance to the optimum of the Lagrangian fit), which bounds the duality gap. Otherwise
the functions return None and the caller falls back to the conic program. The exact
path's use of these programs is :mod:`fairmtl.solvers._smooth_stages`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fairmtl.losses import Loss
from fairmtl.solvers._blockhessian import (
    GroupBlockHessian,
    group_grams,
    group_jacobian,
    offset_hessian,
)
from fairmtl.solvers._centred_kkt import CentredNorm
from fairmtl.solvers._certificate import CURVATURE_BOUND, Penalty, _curvature
from fairmtl.solvers._grouped import GroupedData, _loss_and_gradient
from fairmtl.solvers._interior import epigraph_program, lagrangian_hessian, weighted_program
from fairmtl.solvers._multipliers import check_multipliers
from fairmtl.solvers._precondition import Coordinates
from fairmtl.solvers._rowpass import (
    add_in_order,
    block_rows,
    blocked,
    float64_block,
    group_spans,
    passes_in_blocks,
)
from fairmtl.solvers._sqp import SLSQP, run_engines

__all__ = [
    "MAX_PARAMS",
    "MAX_PARAMS_STAGE1",
    "RefineResult",
    "minimax_smooth",
    "refine_smooth",
    "smooth_refinable",
]

#: relative violation of a bound that is accepted (the bounds carry a 1e-6 slack)
FEAS_TOL = 1e-9
#: largest accepted bound on the duality gap, relative to ``1 + |F|`` (SQP goes on
#: towards :data:`fairmtl.solvers._sqp.KKT_AIM` while the bound keeps falling)
KKT_TOL = 1e-9
#: above this many parameters SLSQP's dense quasi-Newton steps (cost growing as the cube
#: of the parameters) may cost more than the conic program or the dual path. Measured on
#: 10,000 rows of 30 groups, offset minimax: stage 1 from zero by SLSQP in 0.18 s (271
#: parameters, 96 iterations) and 0.26-0.31 s (390, 108), with the second stage 0.26-0.41
#: s in all, against 1.26 s for CLARABEL's path and 3.2 s / 5.9 s for the dual path
MAX_PARAMS, MAX_PARAMS_STAGE1 = 400, 400
#: ``offset`` sharing of more parameters is solved with its Hessian as blocks and a
#: coupling (:mod:`fairmtl.solvers._blockhessian`), up to this many groups (the quadratic
#: programs' dual is solved on a dense matrix of one row per group) and this many entries
#: of the constraints' Jacobian (groups x parameters; a limit from when it was held dense,
#: where the programs now hold it sparse, one group's ``d + 1`` entries a row)
MAX_BLOCK_GROUPS, MAX_BLOCK_JACOBIAN = 1000, 20_000_000


@dataclass
class RefineResult:
    """The stage-2 point and how it was found."""

    coef: np.ndarray
    intercept: np.ndarray
    losses: np.ndarray
    value: float
    iterations: int
    kkt: float
    method: str = SLSQP
    #: the multipliers of the bounds (or, in epigraph form, the group weights) that the
    #: KKT check recovered
    multipliers: np.ndarray | None = None


def smooth_refinable(
    loss: Loss, sharing: str, n_outputs: int, alpha: float, n_params: int, n_groups: int = 1
):
    """Whether the stages can be solved by :func:`refine_smooth` and :func:`minimax_smooth`
    (``n_params`` in all, in ``n_groups`` group models or one shared model)."""
    return (
        loss.name in CURVATURE_BOUND
        and sharing in ("shared", "independent", "offset")
        and n_outputs == 1
        and alpha > 0
        and (
            n_params <= MAX_PARAMS
            or (
                sharing == "offset"
                and 1 < n_groups <= MAX_BLOCK_GROUPS
                and n_groups * n_params <= MAX_BLOCK_JACOBIAN
            )
        )
    )


def _structured(sharing: str, data) -> bool:
    """Whether the Hessians are taken as blocks and a coupling (see ``MAX_BLOCK_GROUPS``):
    SQP alone then, without the interior-point method and SLSQP, which need dense ones."""
    return sharing == "offset" and data.n_groups * (data.d + 1) > MAX_PARAMS


class _Model:
    """Group losses, their Jacobian and the penalty of the linear group models."""

    def __init__(self, data: GroupedData, loss: Loss, penalty: Penalty, sharing: str) -> None:
        self.data, self.loss, self.penalty = data, loss, penalty
        self.per_group = sharing != "shared"
        self._cache: tuple[bytes, tuple] | None = None
        # the outputs at the last two points: the Hessian is taken at the accepted point,
        # often the one before the last trial of a line search
        self._outputs: dict[bytes, np.ndarray] = {}

    def _keep_outputs(self, key: bytes, z: np.ndarray) -> np.ndarray:
        if len(self._outputs) >= 2:
            del self._outputs[next(iter(self._outputs))]
        self._outputs[key] = z
        return z

    def outputs(self, w: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Every row's output, exactly in float64 (float32 rows upcast a chunk at a time);
        the last two points' are kept (a Hessian follows the sums at its point)."""
        key = w.tobytes() + b.tobytes()
        if key in self._outputs:
            return self._outputs[key]
        data = self.data
        if passes_in_blocks(data):
            self._block_sums(w, b, key, sums=False)
            return self._outputs[key]
        blocks = data.block_rows() if self.per_group else None
        if not self.per_group:
            z = data.matvec(0, data.n, w[0]) + b[0]
        elif blocks is not None:  # float64 rows of many groups: one sparse product
            z = blocks[0] @ w.ravel()
            z += b[data.task]
        elif data.stacks():  # dense rows of many groups: gathers, not a loop of products
            z = data.group_matvec(w) + b[data.task]
        else:
            z = np.empty(data.n)
            for g in range(data.n_groups):
                a, e = data.starts[g], data.starts[g + 1]
                z[a:e] = data.matvec(a, e, w[g]) + b[g]
        return self._keep_outputs(key, z)

    def evaluate(self, w: np.ndarray, b: np.ndarray):
        """Group losses, their gradients ``(G, d)`` and ``(G,)``, penalty value and grads."""
        key = w.tobytes() + b.tobytes()
        if self._cache is None or self._cache[0] != key:
            self._cache = (key, (*self._sums(w, b), *self.penalty.value_grad(w, b)))
        return self._cache[1]

    def _sums(self, w: np.ndarray, b: np.ndarray):
        """Group losses and their gradients in ``(w_g, b_g)``: one pass over the rows."""
        data = self.data
        if passes_in_blocks(data):
            return self._block_sums(w, b, w.tobytes() + b.tobytes())
        ell, dz = _loss_and_gradient(self.loss, self.outputs(w, b), data.y)
        losses = np.bincount(data.task, weights=data.rw * ell, minlength=data.n_groups)
        r = data.rw * dz
        blocks = data.block_rows()  # every group's X_g' r_g, for any sharing
        jw = data.group_rmatvec(r) if blocks is None else (blocks[1] @ r).reshape(-1, data.d)
        jb = np.bincount(data.task, weights=r, minlength=data.n_groups)
        return losses, jw, jb

    def _block_sums(self, w: np.ndarray, b: np.ndarray, key: bytes, sums: bool = True):
        """:meth:`_sums` (or, ``sums=False``, the outputs alone) in blocks of rows on
        several threads (:mod:`fairmtl.solvers._rowpass`); keeps the outputs."""
        data, loss = self.data, self.loss
        G, d = data.n_groups, data.d
        z = np.empty(data.n)

        def part(a: int, e: int):
            rows = float64_block(data, a, e)
            losses, jw, jb = np.zeros(G), np.zeros((G, d)), np.zeros(G)
            for g, s, t in group_spans(data, a, e):
                k = g if self.per_group else 0
                Xs = rows[s - a : t - a]
                z[s:t] = Xs @ w[k] + b[k]
                if sums:
                    ell, dz = _loss_and_gradient(loss, z[s:t], data.y[s:t])
                    r = data.rw[s:t] * dz
                    losses[g], jw[g], jb[g] = data.rw[s:t] @ ell, r @ Xs, r.sum()
            return losses, jw, jb

        parts = blocked(data.n, block_rows(d), part)
        self._keep_outputs(key, z)
        return add_in_order(parts) if sums else None

    def hessian(self, point: tuple[np.ndarray, np.ndarray], weights: np.ndarray, P: int):
        """``sum_g weights_g * Hessian of L_g`` at ``point`` in the flat original-space
        parameters (see :func:`~fairmtl.solvers._interior.lagrangian_hessian`)."""
        curvature = lambda z, y: _curvature(self.loss, z, y)  # noqa: E731
        return lagrangian_hessian(self.data, curvature, self.outputs(*point), weights, P)

    def group_blocks(self, point: tuple[np.ndarray, np.ndarray], weights: np.ndarray):
        """``weights_g * Hessian of L_g`` in ``(w_g, b_g)`` per group, ``(G, d + 1, d + 1)``
        (one model per group)."""
        curvature = lambda z, y: _curvature(self.loss, z, y)  # noqa: E731
        return group_grams(self.data, curvature, self.outputs(*point), weights)

    def block_hessian(self, point, weights: np.ndarray, level: bool) -> GroupBlockHessian:
        """The Hessian of ``weights @ L + R`` as blocks and a coupling."""
        return offset_hessian(self.group_blocks(point, weights), self.penalty, level)

    def blocks(self, jw: np.ndarray, jb: np.ndarray, weights: np.ndarray):
        """Gradient in ``(w, b)`` of ``weights @ L``."""
        if not self.per_group:
            return (weights @ jw)[None], np.array([weights @ jb])
        return weights[:, None] * jw, weights * jb

    def constraint_rows(self, jw: np.ndarray, jb: np.ndarray, groups: np.ndarray) -> np.ndarray:
        """The gradients of ``L_g`` for ``g`` in ``groups``, one flat row each (``[coef
        (P, d) row by row, intercept (P,)]``): :meth:`constraint_blocks` of every group at
        once (one group's row is zero outside its own model's block)."""
        groups = np.asarray(groups, dtype=np.int64)
        G, d = jw.shape
        if not self.per_group:
            return np.column_stack([jw[groups], jb[groups]])
        rows = np.zeros((len(groups), G * (d + 1)))
        k = np.arange(len(groups))
        rows[k[:, None], groups[:, None] * d + np.arange(d)] = jw[groups]
        rows[k, G * d + groups] = jb[groups]
        return rows

    def jacobian(self, jw, jb, groups, scale: np.ndarray, level: bool = False):
        """:meth:`constraint_rows` times ``scale`` (and a last column of -1 where
        ``level``) as a sparse matrix (per-group models:
        :func:`~fairmtl.solvers._blockhessian.group_jacobian`)."""
        return group_jacobian(jw, jb, groups, scale, level)

    def constraint_blocks(self, jw: np.ndarray, jb: np.ndarray, g: int):
        """Gradient in ``(w, b)`` of ``L_g`` alone."""
        if not self.per_group:
            return jw[g][None], jb[g : g + 1]
        gw, gb = np.zeros_like(jw), np.zeros_like(jb)
        gw[g], gb[g] = jw[g], jb[g]
        return gw, gb


def _setup(data, loss, penalty, sharing, lam):
    # rows held elsewhere (a Dask cluster) bring a model that computes their sums there
    make = getattr(data, "smooth_model", None)
    model = (
        make(loss, penalty, sharing) if make is not None else _Model(data, loss, penalty, sharing)
    )
    coords = Coordinates(data.group_mean, data.group_sq, lam, penalty, CURVATURE_BOUND[loss.name])
    return model, coords


def _check_norm(data, penalty, sharing: str) -> CentredNorm | None:
    """The KKT check's dual norm in centred coefficients where the features are far from
    centred (:mod:`fairmtl.solvers._centred_kkt`; dense Hessians), else None (the
    penalty's own)."""
    if _structured(sharing, data):
        return None
    return CentredNorm.of(data, penalty, 1 if sharing == "shared" else data.n_groups)


def _constraint_jacobian(model, coords, jw, jb, scale) -> np.ndarray:
    """Rows ``scale_g * grad L_g`` in the SQP's coordinates."""
    return np.array(
        [coords.gradient(*model.constraint_blocks(jw * c, jb * c, g)) for g, c in enumerate(scale)]
    )


def refine_smooth(
    data: GroupedData,
    loss: Loss,
    penalty: Penalty,
    sharing: str,
    shares: np.ndarray,
    bounds: np.ndarray,
    start: tuple[np.ndarray, np.ndarray],
    interior: bool = True,
) -> RefineResult | None:
    """Minimise ``shares @ L + R`` subject to ``L <= bounds`` (inf: no bound) from
    ``start`` (stage 2: the stage-1 point, which is feasible; otherwise any point).
    ``interior``: whether the interior-point engine may be tried (see
    :func:`~fairmtl.solvers._sqp.run_engines`).

    ``start`` holds original-space parameters of shape (P, d) and (P,), P = 1 for
    ``shared``. Returns None when the answer fails its checks (see the module docstring).
    """
    model, coords = _setup(data, loss, penalty, sharing, shares)
    norm = _check_norm(data, penalty, sharing)
    ones = np.ones(data.n_groups)

    def objective(x):
        w, b = coords.from_x(x)
        losses, jw, jb, pv, pw, pb = model.evaluate(w, b)
        gw, gb = model.blocks(jw, jb, shares)
        return float(shares @ losses) + pv, coords.gradient(gw + pw, gb + pb)

    bounded = np.isfinite(bounds)

    def slack(x):
        return (bounds - model.evaluate(*coords.from_x(x))[0])[bounded]

    def slack_jac(x):
        _, jw, jb, *_ = model.evaluate(*coords.from_x(x))
        return -_constraint_jacobian(model, coords, jw, jb, ones)[bounded]

    def check(x):
        """The point, its value and KKT bound, and whether it passes both checks."""
        w, b = coords.from_x(x)
        losses, jw, jb, pv, pw, pb = model.evaluate(w, b)
        value = float(shares @ losses) + pv
        margin = bounds - losses
        near = 1e-6 * np.maximum(1.0, np.abs(np.where(bounded, bounds, 0.0)))
        gap, mu = _kkt_gap(model, penalty, (jw, jb, pw, pb), shares, ones, margin, False,
                           near, norm)  # fmt: skip
        feasible = np.all(margin >= -FEAS_TOL * np.maximum(1.0, np.abs(bounds)))
        passed = bool(feasible and gap <= KKT_TOL * (1.0 + abs(value)))
        return RefineResult(w, b, losses, value, 0, gap, multipliers=mu), passed

    cons = (slack, slack_jac) if bounded.any() else None
    blocks = _structured(sharing, data)
    program = weighted_program(model, penalty, shares, bounds, start, coords, blocks)
    x0 = coords.to_x(*start)
    return run_engines(objective, cons, check, x0, program, interior and not blocks, not blocks)


def minimax_smooth(
    data: GroupedData,
    loss: Loss,
    penalty: Penalty,
    sharing: str,
    scale: np.ndarray,
    shift: np.ndarray,
    start: tuple[np.ndarray, np.ndarray],
    interior: bool = True,
) -> RefineResult | None:
    """Minimise ``max_g (scale_g L_g - shift_g) + R`` from ``start`` (any point);
    ``interior`` as :func:`refine_smooth`.

    ``value`` of the result is that objective; None when the answer fails its checks.
    """
    model, coords = _setup(data, loss, penalty, sharing, np.maximum(scale, 1e-3 * scale.max()))
    norm = _check_norm(data, penalty, sharing)
    zeros = np.zeros(data.n_groups)

    def split(xt):
        w, b = coords.from_x(xt[:-1])
        return w, b, xt[-1]

    def objective(xt):
        w, b, t = split(xt)
        pv, pw, pb = model.evaluate(w, b)[3:]
        return t + pv, np.append(coords.gradient(pw, pb), 1.0)

    def slack(xt):
        w, b, t = split(xt)
        return t - (scale * model.evaluate(w, b)[0] - shift)

    def slack_jac(xt):
        w, b, _ = split(xt)
        _, jw, jb, *_ = model.evaluate(w, b)
        J = -_constraint_jacobian(model, coords, jw, jb, scale)
        return np.column_stack([J, np.ones(data.n_groups)])

    def check(xt):
        w, b, _ = split(xt)
        losses, jw, jb, pv, pw, pb = model.evaluate(w, b)
        levels = scale * losses - shift
        value = float(levels.max()) + pv
        margin = levels.max() - levels
        near = 1e-6 * max(1.0, abs(float(levels.max())))
        gap, mu = _kkt_gap(model, penalty, (jw, jb, pw, pb), zeros, scale, margin, True, near,
                           norm)  # fmt: skip
        passed = bool(gap <= KKT_TOL * (1 + abs(value)))
        return RefineResult(w, b, losses, value, 0, gap, multipliers=mu), passed

    x0 = coords.to_x(*start)
    w0, b0 = coords.from_x(x0)
    t0 = float(np.max(scale * model.evaluate(w0, b0)[0] - shift))
    blocks = _structured(sharing, data)
    program = epigraph_program(model, penalty, scale, shift, (w0, b0), t0, coords, blocks)
    engines = (interior and not blocks, not blocks)
    return run_engines(objective, (slack, slack_jac), check, np.append(x0, t0), program, *engines)


def _kkt_gap(model, penalty, grads, base, scale, margin, simplex: bool, near_tol, norm=None):
    """A bound on the duality gap of ``base @ L + R`` under ``scale_g L_g <= ...`` (margin
    ``margin_g`` >= 0): multipliers ``mu`` of the (nearly) active constraints by
    non-negative least squares (summing to 1 when ``simplex``: the epigraph's ``t``), then
    ``1/2 ||grad of the Lagrangian||^2_{H^-1} + mu @ margin``; constraints within
    ``near_tol`` of active may carry a multiplier. The free intercept
    directions' gradient enters squared (zero at the optimum). Returns the bound and
    ``mu``. ``norm``: the dual norm's holder (:func:`_check_norm`), else the penalty."""
    jw, jb, pw, pb = grads
    near = np.flatnonzero(margin <= near_tol)
    gw, gb = model.blocks(jw, jb, base)
    target = -np.concatenate([(gw + pw).ravel(), gb + pb])
    mu = np.zeros(len(base))
    if near.size:  # sum(mu) = 1 where simplex, as a row weighted to dominate
        mu[near] = check_multipliers(model, jw, jb, near, scale[near], target, simplex)
        if simplex and mu.sum() > 0:
            mu /= mu.sum()
    gw, gb = model.blocks(jw, jb, base + mu * scale)
    gw, gb = gw + pw, gb + pb
    if penalty.single_free:  # the free intercept direction: one common shift
        free = float(gb.sum()) ** 2
    else:  # one free intercept per group
        free = float(gb @ gb)
    dual = (penalty if norm is None else norm).dual_norm_sq(gw, gb)
    return 0.5 * dual + free + float(mu[near] @ margin[near]), mu
