"""The folds' solves of the cross-validation: each candidate solved on every fold's
training rows (warm-started), scored on its held-out rows (:mod:`._selection`), and the
walks over a knob's values that :func:`fairmtl.estimators._tuning.tune` runs."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from fairmtl.estimators._selection import (
    difference_se,
    heldout_group_stats,
    shrinkage_weights,
    shrunk_worst_row,
)
from fairmtl.exceptions import InfeasibleError, SolverFailedError
from fairmtl.objectives import objective_class
from fairmtl.solvers import (
    DualProblem,
    dual_unsupported,
    group_outputs,
    make_problem,
    one_blas_thread,
)

__all__ = [
    "CV_TOL",
    "CV_TOL_WEIGHTED",
    "START_ALPHA",
    "Search",
    "solver_strength",
]

#: relative optimality gap of the fold solves of minimax and bounded (adjustment search)
CV_TOL = 0.1
#: the fold solves of the average and balanced objectives (one weighted fit each) stop
#: once their certified error bound is under ``1e-3 * CV_TOL_WEIGHTED`` = 0.01 in units
#: of mean loss: the bound is pessimistic (the fits are far closer), the held-out losses
#: that decide the choice move far less, and solving them tighter (the final fit's
#: tolerance) made tuning cost 30x one fit on a sample of Census KDD without changing the
#: choice on held-out rows (measured on eight datasets)
CV_TOL_WEIGHTED = 10.0
#: alpha used while sharing_strength is searched, when both are tuned, and where alpha's
#: walk starts (the value the search most often ends at; solves at 1e-4 are
#: ill-conditioned and take twice as long)
START_ALPHA_EXPONENT = -3.0
START_ALPHA = 10.0**START_ALPHA_EXPONENT
#: held-out rows up to this many entries are scored with gathered coefficients (a
#: temporary of their size) rather than one product per group
GATHER_ENTRIES = 1 << 20


def solver_strength(sharing: str, strength: float, n_groups: int) -> float:
    """The solvers' coupling for a user's ``sharing_strength``.

    For ``offset`` the estimators define ``sharing_strength`` per group of average size:
    the fit minimises ``sum_g rho_g L_g + (s / G) sum_g ||theta_g - theta_bar||^2``, so a
    group of ``n_g`` rows trades its own mean loss against ``s * (n / G) / n_g`` times its
    squared distance from the shared core. The solvers state the penalty without the
    ``1 / G``; this converts.
    """
    if sharing == "offset" and n_groups > 0:
        return float(strength) / n_groups
    return float(strength)


@dataclass
class _Fold:
    """One fold: its training problems (:class:`fairmtl.solvers.Problem`, one per
    objective, built once and re-solved along the paths)."""

    train: np.ndarray
    test: np.ndarray
    train_tasks: np.ndarray  # fold-local group id of each training row
    local: np.ndarray  # fold-local group id of each held-out row, -1 if unseen in training
    n_groups: int
    group_weight: np.ndarray
    problems: dict = field(default_factory=dict)
    held: tuple | None = None  # the held-out rows (X, y), once gathered


class Search:
    """Solves candidates on every fold and scores their held-out losses."""

    def __init__(self, est, prepared, folds) -> None:
        self.est, self.prep = est, prepared
        self.folds = []
        for train, test in folds:
            present = np.unique(prepared.tasks[train])
            lookup = np.full(prepared.encoder.n_groups_, -1)
            lookup[present] = np.arange(len(present))
            tasks = lookup[prepared.tasks[train]]
            weight = np.bincount(
                tasks, weights=prepared.sample_weight[train], minlength=len(present)
            )
            self.folds.append(
                _Fold(train, test, tasks, lookup[prepared.tasks[test]], len(present), weight)
            )
        self.rows: list[dict[str, Any]] = []
        self.cache: dict[tuple, dict[str, Any]] = {}
        self.keep: np.ndarray | None = None
        self.best = 0
        self.walked: dict[float, dict] = {}  # the last walk's candidates by exponent
        self.answers: dict[tuple, list] = {}  # each fold's answer of each solved candidate

    def _problem(self, fold: _Fold, objective: str):
        if objective in fold.problems:
            return fold.problems[objective]
        p, est = self.prep, self.est
        why = dual_unsupported(p.loss, est.sharing, objective, p.n_outputs, START_ALPHA)
        path = "exact" if why or est.solver not in ("auto", "dual") else "dual"
        tol = CV_TOL_WEIGHTED if objective_class(objective).weighted_fit else CV_TOL
        fold.problems[objective] = make_problem(
            path,
            p.X[fold.train],
            p.y[fold.train],
            fold.train_tasks,
            p.sample_weight[fold.train],
            fold.n_groups,
            loss=p.loss,
            sharing=est.sharing,
            objective=objective,
            n_outputs=p.n_outputs,
            task=p.task,
            **({"tol": tol} if path == "dual" else {}),
        )
        return fold.problems[objective]

    def _heldout_loss(self, fold: _Fold, coef: np.ndarray, intercept: np.ndarray) -> np.ndarray:
        p = self.prep
        if fold.held is None:  # the held-out rows, gathered once for every candidate
            fold.held = (p.X[fold.test], p.y[fold.test])
        (X, y), local = fold.held, fold.local
        seen = local >= 0
        if seen.all() and isinstance(X, np.ndarray) and X.size <= GATHER_ENTRIES:
            # one product for all groups: each row with its group's coefficients
            z = np.einsum("nd,ndk->nk", X, coef[local]) + intercept[local]
        elif seen.all():
            z = group_outputs(X, local, coef, intercept)
        else:  # a group with no training rows in this fold: the shared core
            z = np.empty((len(local), coef.shape[2]))
            z[seen] = group_outputs(X[seen], local[seen], coef, intercept)
            z[~seen] = X[~seen] @ coef.mean(axis=0) + intercept.mean(axis=0)
        if coef.shape[2] == 1 and not p.loss.multi_output:
            z = z[:, 0]
        return p.loss.numpy(z, y)

    def _solve_folds(self, key: tuple, answers: list, row_loss: np.ndarray) -> tuple[int, bool]:
        """Solve candidate ``key`` on each fold (its answers appended to ``answers``, the
        held-out rows' losses written into ``row_loss``); the number of folds solved
        inaccurately, and whether every fold could be fitted."""
        objective, alpha, strength, C = key
        est, near, n_inaccurate = self.est, self._nearest(key), 0
        for k, fold in enumerate(self.folds):
            knobs = est._objective_knobs(fold.group_weight, C)
            problem = self._problem(fold, objective)
            dual = isinstance(problem, DualProblem)
            if dual and k > 0 or near is not None:
                problem.warm_start = self._warm_start(near, k, answers)
            try:
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    fit = problem.solve(
                        alpha=alpha,
                        sharing_strength=solver_strength(est.sharing, strength, fold.n_groups),
                        solver="CLARABEL" if est.solver in ("auto", "dual") else est.solver,
                        reference=est.reference,
                        **knobs,
                    )
            except (InfeasibleError, SolverFailedError):
                # a candidate no fold can fit (a bound below the fold's minimax loss, or
                # every solver failing at its penalties) is scored inf, never chosen
                return n_inaccurate, False
            n_inaccurate += int(fit.solver_info.get("status") != "optimal" or bool(caught))
            answers.append(problem.warm_start if dual else None)
            row_loss[fold.test] = self._heldout_loss(fold, fit.coef, fit.intercept)
        return n_inaccurate, True

    def evaluate(self, objective: str, alpha: float, strength: float, C: float) -> dict:
        """Solve one candidate on every fold; its held-out statistics (cached)."""
        key = (objective, alpha, strength, C)
        if key in self.cache:
            return self.cache[key]
        p = self.prep
        row_loss = np.empty(len(p.y))
        answers: list = []  # each fold's answer for this candidate (dual path)
        with one_blas_thread():  # taken once for the folds' solves, not once per solve
            n_inaccurate, feasible = self._solve_folds(key, answers, row_loss)
        G = p.encoder.n_groups_
        if feasible:
            overall, groups, se2 = heldout_group_stats(row_loss, p.tasks, p.sample_weight, G)
        else:
            overall, groups, se2 = np.inf, np.full(G, np.inf), np.full(G, np.inf)
        row = {
            "objective": objective,
            "alpha": alpha,
            "sharing_strength": strength,
            "adjustment": C,
            "mean_test_loss": overall,
            "group_test_loss": groups,
            "se2": se2,
            "n_inaccurate_folds": n_inaccurate,
            "feasible": feasible,
            # every row's held-out loss, for the paired standard errors of the alpha rule
            # (dropped once alpha is chosen: :meth:`drop_row_losses`)
            "row_loss": row_loss if feasible else None,
            "score_diff_se": np.nan,
        }
        self.cache[key] = row
        self.rows.append(row)
        if feasible and any(a is not None for a in answers):
            self.answers[key] = answers
        return row

    def _nearest(self, key: tuple):
        """The solved candidate of the same objective closest to ``key`` (in decades of
        alpha and strength, and in C), or None."""
        objective, *knobs = key
        best, distance = None, np.inf
        for other in self.answers:
            if other[0] != objective:
                continue
            d = _decades(knobs[0], other[1]) + _decades(knobs[1], other[2])
            d += abs(knobs[2] - other[3])
            if d < distance:
                best, distance = other, d
        return best

    def _warm_start(self, near: tuple, k: int, answers: list):
        """Fold ``k``'s start: its answer for the nearest solved candidate, moved as the
        previous fold's answer moved between that candidate and this one (the folds'
        answers move alike along a path: a third fewer L-BFGS steps than starting from
        the last answer). Without a solved candidate: the previous fold's answer."""
        alike = k > 0 and self.folds[k - 1].n_groups == self.folds[k].n_groups
        after = answers[k - 1] if alike else None
        if near is None:
            return after
        start, before = self.answers[near][k], self.answers[near][k - 1] if alike else None
        if start is None or before is None or after is None:
            return start
        return tuple(x + b - a for x, a, b in zip(start, before, after, strict=True))

    def _score(self, row: dict) -> float:
        return shrunk_worst_row(row, self.keep)

    def path(self, objective: str, values, make) -> float:
        """Evaluate every value of a path; return the best one (first of ties)."""
        rows = [self.evaluate(objective, *make(v)) for v in values]
        if self.keep is None:
            self.keep = self._weights(rows)
        scores = [self._score(r) for r in rows]
        best = int(np.argmin(scores))
        self.best = self.rows.index(rows[best])
        return values[best]

    def walk(self, objective: str, make, start: float, step: float, span) -> float:
        """Walk the exponents ``start + k * step`` (within ``span``) of ``10 ** e``: the
        start and its two neighbours, then on past whichever end scores best until a
        value scores worse; return the best exponent (first evaluated of ties).

        ``make(value)`` gives the candidate's ``(alpha, strength, C)``. The shrinkage
        weights are estimated on the first walk and kept for the rest.
        """
        rows: dict[float, dict] = {}

        def visit(e: float) -> None:
            if span[0] - 1e-9 <= e <= span[1] + 1e-9 and e not in rows:
                rows[e] = self.evaluate(objective, *make(10.0**e))

        for e in (start, start + step, start - step):
            visit(e)
        while True:
            best = self._best(rows)
            n = len(rows)
            if best == max(rows):
                visit(best + step)
            elif best == min(rows):
                visit(best - step)
            if len(rows) == n:
                break
        if self.keep is None:
            self.keep = self._weights(list(rows.values()))
        best = self._best(rows)
        self.best = self.rows.index(rows[best])
        self.walked = rows
        return best

    def _scores_of(self, rows: dict[float, dict]) -> tuple[np.ndarray, dict[float, float]]:
        """The shrinkage weights and each candidate's score (see :mod:`._selection`)."""
        keep = self._weights(list(rows.values()))
        return keep, {e: shrunk_worst_row(r, keep) for e, r in rows.items()}

    def _best(self, rows: dict[float, dict]) -> float:
        scores = self._scores_of(rows)[1]
        return min(scores, key=scores.__getitem__)

    def refine(self, objective: str, make, best: float, step: float) -> float:
        """One step of ``step`` (half the walk's) from ``best`` towards its better
        neighbour of the last walk, or both ways where it had one neighbour only;
        the best exponent of all."""
        walked = self.walked
        sides = [e for e in (best - 2 * step, best + 2 * step) if e in walked]
        if len(sides) == 2:
            lower_wins = self._score(walked[sides[0]]) <= self._score(walked[sides[1]])
            tries = [best - step if lower_wins else best + step]
        else:
            tries = [best + step, best - step]
        rows = {best: walked[best]}
        for e in tries:
            rows[e] = self.evaluate(objective, *make(10.0**e))
        best = self._best(rows)
        self.best = self.rows.index(rows[best])
        return best

    def most_regularised_within_se(self, rows: dict[float, dict], n_se: float) -> float:
        """The largest exponent of ``rows`` (an ``alpha`` walk's candidates) whose score
        is within ``n_se`` standard errors of the best score, the standard error of
        their paired difference over the held-out rows (see :mod:`._selection`); each
        candidate's standard error is kept in its row (``score_diff_se``)."""
        keep, scores = self._scores_of(rows)
        best = min(scores, key=scores.__getitem__)
        if not np.isfinite(scores[best]):
            return best
        p, chosen = self.prep, best
        for e, row in rows.items():
            if not np.isfinite(scores[e]) or row["row_loss"] is None:
                continue
            se = difference_se(row, rows[best], keep, p.tasks, p.sample_weight)
            row["score_diff_se"] = se
            if e > chosen and scores[e] <= scores[best] + n_se * se:
                chosen = e
        self.best = self.rows.index(rows[chosen])
        return chosen

    def drop_row_losses(self) -> None:
        """Free the candidates' per-row held-out losses (n floats each)."""
        for row in self.rows:
            row["row_loss"] = None

    def _weights(self, rows: list[dict]) -> np.ndarray:
        """The shrinkage weights: kept ones, or estimated on ``rows`` (feasible ones)."""
        if self.keep is not None:
            return self.keep
        ok = [r for r in rows if r["feasible"]] or rows
        means = np.array([r["group_test_loss"] for r in ok])
        return shrinkage_weights(means, np.array([r["se2"] for r in ok]))

    def results(self, group_names) -> dict[str, Any]:
        rows = self.rows
        scores = np.array([self._score(r) for r in rows])
        out: dict[str, Any] = {
            "params": [
                {k: r[k] for k in ("alpha", "sharing_strength", "adjustment")} for r in rows
            ],
        }
        for key in ("objective", "alpha", "sharing_strength", "adjustment"):
            out[f"param_{key}"] = np.array([r[key] for r in rows], dtype=object)
        out["score"] = scores
        out["rank_score"] = scores.argsort(kind="stable").argsort() + 1
        out["mean_test_loss"] = np.array([r["mean_test_loss"] for r in rows], dtype=float)
        out["worst_group_test_loss"] = np.array([np.max(r["group_test_loss"]) for r in rows])
        out["n_inaccurate_folds"] = np.array([r["n_inaccurate_folds"] for r in rows])
        out["score_diff_se"] = np.array([r["score_diff_se"] for r in rows], dtype=float)
        for g, name in enumerate(group_names):
            out[f"test_loss[{name}]"] = np.array([r["group_test_loss"][g] for r in rows])
            out[f"shrinkage[{name}]"] = np.full(len(rows), self.keep[g])
        return out


def _decades(a: float, b: float) -> float:
    """How many decades apart two values are (inf when one of them only is 0)."""
    if a == b:
        return 0.0
    return abs(float(np.log10(a / b))) if a > 0 and b > 0 else np.inf
