"""The dual path's master problem: a level method over group weights.

Every objective the dual path solves has a dual function of one shape,

    q(y) = min_theta (a + b * y) . L(theta) + R(theta) + c . y - h(y),   y in Y,

with ``Y`` the simplex (minimax, tilted, chebyshev) or ``{y >= 0, sum y <= cap}``
(loss bounds), and ``h`` zero or ``(1/tilt) sum_g y_g log(G y_g)`` (tilted). Any point
``theta_k`` met by the oracle gives a *cut*: since ``q`` is a minimum over theta,
``q(y) <= (a + b y) . L_k + R_k + c . y - h(y)`` for every ``y``, whatever the oracle's
accuracy. The cutting-plane model ``q_hat`` (the minimum of the cuts) is a concave upper
model of ``q``:

- ``max q_hat`` (a linear program, or an exponential-cone program for tilted) is an
  upper bound on the dual optimum; its multipliers ``mu`` over the cuts are the weights
  of the **primal recovery** ``theta_bar = sum_k mu_k theta_k``, whose objective is at
  most ``max q_hat`` by convexity;
- the next weights are the projection of the current ones onto the level set
  ``{q_hat >= level}`` (the proximal step of the level method of Lemarechal, Nemirovski
  and Nesterov, 1995), which keeps the iterates stable where plain cutting planes zig-zag.

Both programs are re-solved each round with the round's cuts
(:mod:`fairmtl.solvers._level_programs`): handed to Clarabel directly, or, for tilted's
exponential cones and other solvers, built once with ``cp.Parameter``s (DPP). The
bundle has a fixed capacity; when it is full, unused cuts are dropped and, if every cut
is in use, they are merged into one aggregate cut (still valid by convexity).
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import cvxpy as cp
import numpy as np

from fairmtl.objectives import ObjectiveForm
from fairmtl.solvers._level_programs import cvxpy_programs, level_lp, level_qp
from fairmtl.solvers._quiet import solver_output_captured

__all__ = ["Cut", "DualForm", "LevelMaster", "LevelResult", "OraclePoint", "run_level"]

#: the level sits this share of the way from the best lower bound to the model's maximum
#: (1 - 1 / (2 + sqrt 2), the optimal constant of Lemarechal, Nemirovski and Nesterov)
LEVEL_SHARE = 0.71


@dataclass
class DualForm:
    """The objective-specific pieces of ``q``; see the module docstring.

    Attributes
    ----------
    a, b : ndarray of shape (n_groups,)
        Group weights ``a + b * y`` given to the oracle.
    c : ndarray of shape (n_groups,)
        Linear term of ``q``.
    simplex : bool
        ``Y`` is the simplex; otherwise ``{y >= 0, sum y <= cap}``.
    primal : callable
        ``primal(L, R)``: the primal objective at a point with group losses ``L`` and
        penalty ``R`` (``inf`` when the point violates the constraints).
    cap : float
    inv_tilt : float
        ``1 / tilt`` for tilted, else 0.
    bounds : ndarray or None
        Loss bounds ``L <= bounds`` of a constrained form.
    cap_rule : callable or None
        ``cap_rule(lower)``: a valid cap given a lower bound on the optimum; the cap
        shrinks as the lower bound rises (Slater's bound).
    """

    a: np.ndarray
    b: np.ndarray
    c: np.ndarray
    simplex: bool
    primal: Callable[[np.ndarray, float], float]
    cap: float = 1.0
    inv_tilt: float = 0.0
    bounds: np.ndarray | None = None
    cap_rule: Callable[[float], float] | None = None

    @classmethod
    def of(cls, form: ObjectiveForm) -> DualForm:
        """The level method's form of an objective's "fixed", "max" or "tilted" form:
        weights ``w + c * y`` over the simplex, ``q``'s linear term ``-s``.

        Parameters
        ----------
        form : ObjectiveForm

        Returns
        -------
        dual_form : DualForm
        """
        if form.kind not in ("fixed", "max", "tilted"):
            raise ValueError(f"A {form.kind!r} form is not a weighting over the simplex.")
        return cls(form.weights, form.scale, 0.0 - form.shift, True, form.primal,
                   inv_tilt=form.inv_tilt)  # fmt: skip

    def weights(self, y: np.ndarray) -> np.ndarray:
        return self.a + self.b * y

    def entropy(self, y: np.ndarray) -> float:
        if not self.inv_tilt:
            return 0.0
        pos = y[y > 0]
        return float(self.inv_tilt * np.sum(pos * np.log(len(y) * pos)))

    def dual_value(self, oracle_value: float, y: np.ndarray) -> float:
        """``q``-value from the oracle's value at weights ``weights(y)``."""
        return oracle_value + float(self.c @ y) - self.entropy(y)

    def clean(self, y: np.ndarray) -> np.ndarray:
        """Project a master solution exactly into ``Y``, zeroing negligible weights."""
        y = np.maximum(np.asarray(y, dtype=float), 0.0)
        y[y < 1e-9 * max(float(y.sum()), 1e-300)] = 0.0
        if self.simplex:
            return y / y.sum() if y.sum() > 0 else np.full(len(y), 1.0 / len(y))
        total = y.sum()
        return y * (self.cap / total) if total > self.cap else y


@dataclass
class Cut:
    """What one oracle point (or an aggregate of points) says: losses, penalty, point."""

    losses: np.ndarray
    penalty: float
    point: Any
    born: int = 0


@dataclass
class LevelMaster:
    """Cutting-plane model, its maximum and the level projection (see module docstring).

    Parameters
    ----------
    n : int
        Dimension of ``y`` (the number of groups).
    simplex : bool
    entropy : bool
        Whether ``h`` is the tilted entropy term.
    capacity : int
        Most cuts held at once.
    combine : callable
        ``combine(points, weights)``: the convex combination of points.
    solver : str
        Solver of the master programs (a cvxpy solver name; CLARABEL's programs without
        entropy are handed to it directly).
    """

    n: int
    simplex: bool
    entropy: bool
    capacity: int
    combine: Callable[[list, np.ndarray], Any]
    solver: str = "CLARABEL"
    cuts: list[Cut] = field(default_factory=list)
    solves: int = 0
    time: float = 0.0

    def __post_init__(self) -> None:
        # Clarabel's programs go to it directly (fairmtl.solvers._level_programs): the
        # same arrays cvxpy would hand it, without cvxpy's cost per solve; tilted's
        # exponential cones and other solvers go through cvxpy
        self._direct = self.solver == "CLARABEL" and not self.entropy
        if not self._direct:
            p = cvxpy_programs(self.n, self.capacity, self.simplex, self.entropy, self.solver)
            self._y, self._A, self._a0, self._cap = p.y, p.A, p.a0, p.cap
            self._center, self._level, self._inv_tilt = p.center, p.level, p.inv_tilt
            self._cut_cons, self._lp, self._qp = p.cut_cons, p.lp, p.qp
        self._mu: np.ndarray | None = None
        self._born = 0

    # -- the bundle ------------------------------------------------------------------
    def add(self, losses: np.ndarray, penalty: float, point: Any) -> None:
        if len(self.cuts) >= self.capacity:
            self._make_room()
        self._born += 1
        self.cuts.append(Cut(np.asarray(losses, float), float(penalty), point, self._born))
        self._mu = None

    def _make_room(self) -> None:
        mu = self._mu if self._mu is not None else np.zeros(len(self.cuts))
        newest = max(c.born for c in self.cuts)
        unused = [i for i, c in enumerate(self.cuts) if mu[i] <= 1e-9 and c.born != newest]
        if unused:
            # the oldest unused half goes (at least one)
            unused.sort(key=lambda i: self.cuts[i].born)
            drop = set(unused[: max(1, len(unused) // 2)])
            self.cuts = [c for i, c in enumerate(self.cuts) if i not in drop]
            return
        keep = int(np.argmax([c.born for c in self.cuts]))
        w = mu / mu.sum()
        merged = Cut(
            losses=np.tensordot(w, np.stack([c.losses for c in self.cuts]), axes=1),
            penalty=float(w @ np.array([c.penalty for c in self.cuts])),
            point=self.combine([c.point for c in self.cuts], w),
            born=0,
        )
        self.cuts = [merged, self.cuts[keep]]

    def _set(self, form: DualForm) -> tuple[np.ndarray, np.ndarray]:
        """The cut slots' slopes and offsets (given to the cvxpy programs)."""
        m, k = self.capacity, len(self.cuts)
        L = np.stack([c.losses for c in self.cuts])
        R = np.array([c.penalty for c in self.cuts])
        slopes = L * form.b + form.c
        offsets = L @ form.a + R
        span = float(np.abs(offsets).max() + np.abs(slopes).max() * max(form.cap, 1.0))
        A = np.zeros((m, self.n))
        a0 = np.full(m, 10.0 * (1.0 + span))  # inactive slots never bind
        A[:k], a0[:k] = slopes, offsets
        if not self._direct:
            self._A.value, self._a0.value = A, a0
            self._cap.value = float(form.cap)
            if self.entropy:
                self._inv_tilt.value = float(form.inv_tilt)
        return A, a0

    # -- the two programs ---------------------------------------------------------------
    def model_max(self, form: DualForm) -> tuple[float, np.ndarray, np.ndarray] | None:
        """``(max q_hat, its maximiser, cut multipliers mu)``, or None if the solve failed."""
        A, a0 = self._set(form)
        if self._direct:
            found = self._solve(lambda opts: level_lp(A, a0, form.cap, self.simplex, opts))
        else:
            found = self._solve(lambda opts: self._cvxpy(self._lp, opts))
            if found is not None:
                found = (self._lp.value, self._y.value, self._cut_cons.dual_value)
        if found is None:
            return None
        k = len(self.cuts)
        mu = np.maximum(np.asarray(found[2], float)[:k], 0.0)
        if mu.sum() <= 0:
            return None
        mu = mu / mu.sum()
        self._mu = mu
        return float(found[0]), np.asarray(found[1], float), mu

    def project(self, form: DualForm, center: np.ndarray, level: float) -> np.ndarray | None:
        """The point of ``{q_hat >= level}`` nearest to ``center``, or None on failure."""
        A, a0 = self._set(form)
        center, level = np.asarray(center, float), float(level)
        if self._direct:
            return self._solve(
                lambda opts: level_qp(A, a0, form.cap, self.simplex, center, level, opts)
            )
        self._center.value, self._level.value = center, level
        if self._solve(lambda opts: self._cvxpy(self._qp, opts)) is None:
            return None
        return np.asarray(self._y.value, float)

    def recover(self, mu: np.ndarray) -> Any:
        """The primal recovery ``sum_k mu_k point_k``."""
        return self.combine([c.point for c in self.cuts], mu)

    def _solve(self, attempt: Callable[[dict[str, Any]], Any]) -> Any:
        """The first answer of ``attempt(options)``: the solver's defaults, then (with
        Clarabel) shorter steps; None when neither answers."""
        t0 = time.perf_counter()
        attempts: list[dict[str, Any]] = [{}]
        if self.solver == "CLARABEL":
            attempts.append({"max_step_fraction": 0.9})
        found = None
        for options in attempts:
            found = attempt(options)
            if found is not None:
                break
        self.solves += 1
        self.time += time.perf_counter() - t0
        return found

    def _cvxpy(self, problem: cp.Problem, options: dict[str, Any]) -> bool | None:
        """Solve one of the cvxpy programs: True where it has an answer, else None."""
        try:
            with warnings.catch_warnings(), solver_output_captured([]):
                warnings.simplefilter("ignore")
                problem.solve(solver=self.solver, warm_start=False, **options)
        except (cp.error.SolverError, ValueError, ArithmeticError):
            return None
        if problem.status in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE) and self._y.value is not None:
            return True
        return None


# -- the level loop, shared by the linear dual path and the reduction --------------------


@dataclass
class OraclePoint:
    """One oracle answer: group losses, penalty, oracle value, its error bound, the point."""

    losses: np.ndarray
    penalty: float
    value: float
    error: float
    point: Any


@dataclass
class LevelResult:
    """Outcome of :func:`run_level`: bounds, the best primal point and the best weights."""

    lower: float
    upper: float
    point: Any
    losses: np.ndarray | None
    penalty: float
    weights: np.ndarray
    rounds: int
    converged: bool
    model_gap: float
    #: why the loop ended: "converged", "rounds" (max_rounds), "time" (the deadline),
    #: "master" (the master's cvxpy solve failed) or "stop" (the caller's stop rule)
    stopped: str = "converged"

    @property
    def gap(self) -> float:
        return self.upper - self.lower


#: absolute gap under which any problem counts as solved (floating-point noise)
ABS_GAP = 1e-10


#: the share of the terms' size below which a gap is noise: the master's linear programs
#: compare cuts to ~1e-8 relative (measured: a certificate stalls ~5e-10 from the optimum
#: on group losses of ~0.3)
TERM_NOISE = 1e-8


def gap_closed(upper: float, lower: float, tol: float, scale: float = 0.0) -> bool:
    """Whether ``upper - lower`` is below ``tol`` relative, or negligible in absolute:
    under ``ABS_GAP``, or under ``TERM_NOISE`` times ``scale``, the size of the
    objective's terms (the group losses). An objective shifted by constants (chebyshev's
    ideal point) can sit near 0 while its terms, and the accuracy they are compared to,
    do not."""
    gap = upper - lower
    negligible = max(ABS_GAP, TERM_NOISE * scale)
    return bool(gap <= tol * max(abs(upper), abs(lower)) or gap <= negligible)


def _bounds_met(upper: float, lower: float, tol: float) -> bool:
    """The gap is closed and the bounds agree (a lower bound far above the upper one is
    no certificate: an uncertified oracle that did not converge)."""
    slack = tol * max(abs(upper), abs(lower)) + ABS_GAP
    return gap_closed(upper, lower, tol) and lower <= upper + slack


def run_level(
    master: LevelMaster,
    form: DualForm,
    oracle: Callable[[np.ndarray, float], OraclePoint],
    evaluate: Callable[[Any], tuple[np.ndarray, float]],
    y0: np.ndarray | None,
    *,
    tol: float,
    max_rounds: int,
    deadline: float = np.inf,
    certified: bool = True,
    repair: Callable[[Any, np.ndarray, float], tuple[Any, np.ndarray, float]] | None = None,
    incumbent: tuple[Any, np.ndarray, float] | None = None,
    on_point: Callable[[Any, np.ndarray, float], None] | None = None,
    stop: Callable[[float, float], bool] | None = None,
    first: OraclePoint | None = None,
) -> LevelResult:
    """Maximise ``q`` by the level method until the certified gap is below ``tol``.

    ``oracle(weights, target)`` answers with an error bound aimed at ``target``;
    ``evaluate(point)`` gives the losses and penalty of a recovered point; ``repair``
    makes a recovered point feasible for a constrained form. The lower bound is
    ``max_k q(y_k) - error_k`` (without the error when not ``certified``), the upper
    bound the best primal objective met (oracle points and recoveries). ``y0=None``
    starts at the maximiser of the model of the cuts already held. ``first`` is the
    oracle's answer at ``y0`` when the caller already has it.
    """
    if y0 is None:
        found = master.model_max(form) if master.cuts else None
        y0 = found[1] if found is not None else np.zeros(master.n)
    y = form.clean(y0)
    lower, best_y = -np.inf, y
    best: list[Any] = [None, None, 0.0]
    upper = np.inf

    def consider(point, losses, penalty) -> None:
        nonlocal upper
        if on_point is not None:
            on_point(point, losses, penalty)
        value = form.primal(losses, penalty)
        if not np.isfinite(value) and repair is not None:
            point, losses, penalty = repair(point, losses, penalty)
            value = form.primal(losses, penalty)
        if value < upper:
            upper, best[:] = value, [point, losses, penalty]

    if incumbent is not None:
        consider(*incumbent)
    model_gap, rounds, converged, stopped = np.inf, 0, False, "rounds"
    for rounds in range(1, max_rounds + 1):
        scale = max(
            abs(upper) if np.isfinite(upper) else 0.0, abs(lower) if np.isfinite(lower) else 0.0
        )
        gap_now = min(model_gap, upper - lower if np.isfinite(upper - lower) else np.inf)
        if np.isfinite(gap_now):
            target = max(0.05 * gap_now, 0.05 * tol * scale, 1e-13)
        else:
            target = tol
        if first is not None and rounds == 1:
            answer = first
        else:
            answer = oracle(form.weights(y), target)
        q = form.dual_value(answer.value, y) - (answer.error if certified else 0.0)
        if q > lower:
            lower, best_y = q, y
            if form.cap_rule is not None:
                form.cap = min(form.cap, form.cap_rule(lower))
        master.add(answer.losses, answer.penalty, answer.point)
        consider(answer.point, answer.losses, answer.penalty)
        if _bounds_met(upper, lower, tol):
            converged = True
            break
        if time.perf_counter() > deadline:
            stopped = "time"
            break
        if stop is not None and stop(lower, upper):
            stopped = "stop"
            break
        found = master.model_max(form)
        if found is None:
            stopped = "master"
            break
        model_max, y_max, mu = found
        model_gap = max(model_max - lower, 0.0)
        if model_gap <= 10 * tol * max(abs(model_max), abs(lower)) or rounds % 5 == 0:
            point = master.recover(mu)
            consider(point, *evaluate(point))
            if _bounds_met(upper, lower, tol):
                converged = True
                break
        level = lower + LEVEL_SHARE * (model_max - lower)
        projected = master.project(form, y, level)
        # a failed projection (a badly scaled QP) falls back to the model's maximiser:
        # a plain cutting-plane step, slower but always available
        y = form.clean(y_max if projected is None else projected)
    return LevelResult(
        lower=lower,
        upper=upper,
        point=best[0],
        losses=best[1],
        penalty=best[2],
        weights=best_y,
        rounds=rounds,
        converged=converged,
        model_gap=model_gap,
        stopped="converged" if converged else stopped,
    )
