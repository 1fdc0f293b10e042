"""Choosing ``alpha``, ``sharing_strength`` and the Group DRO adjustment by cross-validation.

The estimators' defaults (``alpha="auto"``, ``sharing_strength="auto"``,
``adjustment="auto"``) are settled here, the way scikit-learn's ``LogisticRegressionCV``
settles ``C``: K folds stratified by group and class (:func:`fairmtl.data.group_label_folds`),
a path of candidate values solved on each fold's training rows (each solve warm-started
from the fold's answer for the nearest candidate solved before), and the held-out loss of
every row.

The selection rule
------------------
A candidate is scored by the **worst group's held-out loss, after shrinking each group's
estimate towards the overall held-out loss in proportion to its noise** (an empirical-Bayes
estimate of each group's expected loss on new rows; lower is better):

- ``L_g``: group g's mean held-out loss over its rows (every row is held out once, so each
  group's estimate uses all its rows), ``v_g``: the squared standard error of that mean,
  ``L``: the mean held-out loss of all rows.
- ``tau2 = max(0, var_g(L_g) - mean_g(v_g))``: how much the groups' true losses differ
  beyond the noise of their estimates (method of moments).
- ``L~_g = L + tau2 / (tau2 + v_g) * (L_g - L)``, and the score is ``max_g L~_g``.

Why: the user judges the model by its worst-off group on new rows, so the score is a
worst-group loss. Taken raw, the worst group's loss is decided by the smallest group's
noise (a group of 8 rows has the highest loss of the day by chance, and the choice chases
it). The shrinkage pulls each group's estimate towards the mean by exactly the share of
it that is noise: a large group keeps its own figure, a tiny one counts for little, and
when the groups do not differ beyond noise the score is the average held-out loss.

Order of the search: ``sharing_strength`` by a walk over decades (0.1, then 1 and 0.01,
then on in the direction that scores better until a value scores worse, within 1e-4 to
10), then one half-decade step from the best towards its better neighbour (both ways at
an end of the range); at ``alpha=1e-3`` when alpha is tuned too. Then ``alpha`` by the
same walk over half-decades from 1e-3 (within 3e-5 to 0.03) at the chosen strength. Both
on the average loss (the objective does not change which model complexity generalises;
the average-loss solves are the cheap ones); then, for ``minimax`` and ``bounded``, the
adjustment ``C`` on the stated objective. A held-out score along a regularisation path
falls to one minimum and rises past it, so a walk that stops at the first rise finds
the grid's best with a third fewer solves than the whole grid. Fold solves use the
dual path (L-BFGS, warm-started) wherever it applies.
"""

from __future__ import annotations

import numbers
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from fairmtl.data import group_label_folds, row_keys
from fairmtl.exceptions import DataWarning, InfeasibleError, SolverFailedError
from fairmtl.solvers import DualProblem, dual_unsupported, group_outputs, make_problem

__all__ = [
    "ADJUSTMENT_GRID",
    "ALPHA_EXPONENTS",
    "STRENGTH_EXPONENTS",
    "Tuned",
    "adjustment_vector",
    "heldout_group_stats",
    "shrinkage_weights",
    "shrunk_worst",
    "solver_strength",
    "tune",
]

MSG_TOO_SMALL_TO_TUNE = (
    "Too few distinct rows ({n}) to cross-validate the 'auto' hyper-parameters (a class needs at "
    "least 2 rows): the fit uses alpha={alpha:g} and sharing_strength={strength:g}. Pass "
    "them as numbers to choose them yourself."
)
MSG_EMPTY_FOLD = (
    "cv gave a fold with no training or no held-out rows: every fold needs both. Pass "
    "an int (that many folds stratified by group and class) or other splits."
)
MSG_UNCOVERED = (
    "cv holds out {n} row(s) in no fold: the held-out loss of every row decides the "
    "choice, so every row must be held out once. Pass an int, or a splitter such as "
    "KFold, whose folds cover every row."
)
#: alpha's walk: powers of ten, exponents from START_ALPHA's by half-decades in this range
ALPHA_EXPONENTS = (-4.5, -1.5)
#: sharing_strength's walk: decades from 10 ** STRENGTH_START_EXPONENT within this
#: range, then one half-decade step (so 3e-5 to 30 can be chosen)
STRENGTH_EXPONENTS = (-4.0, 1.0)
STRENGTH_START_EXPONENT = -1.0
#: relative optimality gap of the fold solves of minimax and bounded (adjustment search)
CV_TOL = 0.1
#: the fold solves of the average and balanced objectives (one weighted fit each) stop
#: once their certified error bound is under ``1e-3 * CV_TOL_WEIGHTED`` = 0.01 in units
#: of mean loss: the bound is pessimistic (the fits are far closer), the held-out losses
#: that decide the choice move far less, and solving them tighter (the final fit's
#: tolerance) made tuning cost 30x one fit on a sample of Census KDD without changing the
#: choice on held-out rows (measured on eight datasets)
CV_TOL_WEIGHTED = 10.0
#: candidate values of the Group DRO adjustment C (each group's loss + C / sqrt(n_g))
ADJUSTMENT_GRID = (0.0, 0.25, 0.5, 1.0, 2.0, 4.0)
#: alpha used while sharing_strength is searched, when both are tuned, and where alpha's
#: walk starts (the value the search most often ends at; solves at 1e-4 are
#: ill-conditioned and take twice as long)
START_ALPHA_EXPONENT = -3.0
START_ALPHA = 10.0**START_ALPHA_EXPONENT
#: held-out rows up to this many entries are scored with gathered coefficients (a
#: temporary of their size) rather than one product per group
GATHER_ENTRIES = 1 << 20
#: objectives that take the adjustment C
ADJUSTED_OBJECTIVES = frozenset({"minimax", "bounded"})
#: objectives whose own solves serve the alpha / strength search
CHEAP_OBJECTIVES = frozenset({"average", "balanced"})


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


def adjustment_vector(C: float, group_weight: np.ndarray) -> np.ndarray:
    """Group DRO's generalisation adjustment ``C / sqrt(n_g)`` of every group.

    ``n_g`` is the group's total sample weight (its row count with unit weights), so
    integer weights act as duplicated rows.
    """
    return float(C) / np.sqrt(np.asarray(group_weight, dtype=float))


def heldout_group_stats(
    row_loss: np.ndarray, tasks: np.ndarray, weights: np.ndarray, n_groups: int
) -> tuple[float, np.ndarray, np.ndarray]:
    """Overall mean held-out loss, each group's mean, and its squared standard error.

    Integer weights count repeated rows (scikit-learn's convention: a group's size is its
    total weight, so weights and repeated rows give the same errors); other weights are
    importances, whose effective size is Kish's ``W**2 / sum(w**2)``.
    """
    w = np.asarray(weights, dtype=float)
    W = np.bincount(tasks, weights=w, minlength=n_groups)
    mean = np.bincount(tasks, weights=w * row_loss, minlength=n_groups) / W
    dev2 = np.bincount(tasks, weights=w * (row_loss - mean[tasks]) ** 2, minlength=n_groups)
    if np.array_equal(w, np.round(w)):
        n_eff = W
    else:
        n_eff = W**2 / np.bincount(tasks, weights=w**2, minlength=n_groups)
    se2 = dev2 / W / np.maximum(n_eff - 1.0, 1.0)
    return float(w @ row_loss / w.sum()), mean, se2


def shrinkage_weights(means: np.ndarray, se2: np.ndarray) -> np.ndarray:
    """Each group's share ``tau2 / (tau2 + v_g)`` of its own held-out estimate.

    ``means`` and ``se2`` have shape (n_candidates, n_groups): ``tau2`` and ``v_g`` are
    averaged over the candidates, so every candidate is scored with the same weights
    (estimated per candidate, they would move with it and decide the choice themselves).
    """
    means, se2 = np.atleast_2d(means), np.atleast_2d(se2)
    if means.shape[1] < 2:
        return np.ones(means.shape[1])
    tau2 = float(np.mean(np.maximum(0.0, np.var(means, axis=1, ddof=1) - se2.mean(axis=1))))
    v = se2.mean(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(tau2 + v > 0, tau2 / (tau2 + v), 1.0)


def shrunk_worst(overall: float, mean: np.ndarray, keep: np.ndarray) -> float:
    """The selection score: ``max_g (L + keep_g * (L_g - L))``."""
    return float(np.max(overall + keep * (mean - overall)))


def shrunk_worst_row(row: dict[str, Any], keep: np.ndarray) -> float:
    """A candidate's selection score (inf when a fold could not fit it)."""
    if not row["feasible"]:
        return np.inf
    return shrunk_worst(row["mean_test_loss"], row["group_test_loss"], keep)


@dataclass
class Tuned:
    """The chosen values and the scores of every candidate (``cv_results_``)."""

    alpha: float
    sharing_strength: float
    adjustment: float
    cv_results: dict[str, Any] = field(default_factory=dict)
    best_index: int = 0


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


class _Search:
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
        tol = CV_TOL_WEIGHTED if objective in CHEAP_OBJECTIVES else CV_TOL
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

    def evaluate(self, objective: str, alpha: float, strength: float, C: float) -> dict:
        """Solve one candidate on every fold; its held-out statistics (cached)."""
        key = (objective, alpha, strength, C)
        if key in self.cache:
            return self.cache[key]
        p, est = self.prep, self.est
        row_loss = np.empty(len(p.y))
        n_inaccurate, feasible = 0, True
        near = self._nearest(key)
        answers: list = []  # each fold's answer for this candidate (dual path)
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
                feasible = False
                break
            n_inaccurate += int(fit.solver_info.get("status") != "optimal" or bool(caught))
            answers.append(problem.warm_start if dual else None)
            row_loss[fold.test] = self._heldout_loss(fold, fit.coef, fit.intercept)
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

    def _best(self, rows: dict[float, dict]) -> float:
        keep = self._weights(list(rows.values()))
        scores = {e: shrunk_worst_row(r, keep) for e, r in rows.items()}
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
        for g, name in enumerate(group_names):
            out[f"test_loss[{name}]"] = np.array([r["group_test_loss"][g] for r in rows])
            out[f"shrinkage[{name}]"] = np.full(len(rows), self.keep[g])
        return out


def tune(est, prepared) -> Tuned:
    """Settle the estimator's "auto" knobs by cross-validation (see the module docstring).

    Parameters
    ----------
    est : FairMTLBase
        Read for its parameters only.
    prepared : Prepared
        The validated training data.

    Returns
    -------
    Tuned
    """
    G = prepared.encoder.n_groups_
    tune_alpha = est.alpha == "auto"
    tune_strength = (
        est.sharing_strength == "auto" and est.sharing in ("offset", "lowrank") and G > 1
    )
    tune_C = est.adjustment == "auto" and est.objective in ADJUSTED_OBJECTIVES and G > 1
    alpha = START_ALPHA if tune_alpha else float(est.alpha)
    strength = _fixed_strength(est.sharing_strength)
    C = 0.0 if est.adjustment == "auto" else float(est.adjustment)
    if not (tune_alpha or tune_strength or tune_C):
        return Tuned(alpha, strength, C)
    labels = None if prepared.task == "regression" else prepared.y
    if not isinstance(est.cv, numbers.Integral):
        folds = _given_folds(est.cv, prepared)
        return _search_all(
            est, prepared, folds, (tune_alpha, tune_strength, tune_C), alpha, strength, C
        )
    # folds of distinct rows: integer weights cross-validate as repeated rows do, and
    # neither the order of the rows nor the names of the groups matter
    keys = row_keys(prepared.X, prepared.y)
    counted = prepared.sample_weight > 0
    distinct = np.unique(keys[counted], return_index=True)[1]
    n_distinct = len(distinct)
    n_splits = _feasible_splits(
        est.cv, None if labels is None else labels[counted][distinct], n_distinct
    )
    if n_splits < 2:
        warnings.warn(
            MSG_TOO_SMALL_TO_TUNE.format(n=n_distinct, alpha=alpha, strength=strength),
            DataWarning,
            stacklevel=4,
        )
        return Tuned(alpha, strength, C)
    seed = 0 if est.random_state is None else est.random_state
    folds = group_label_folds(
        prepared.tasks,
        labels,
        n_splits,
        random_state=seed,
        keys=keys,
        weights=prepared.sample_weight,
    )
    return _search_all(
        est, prepared, folds, (tune_alpha, tune_strength, tune_C), alpha, strength, C
    )


def _given_folds(cv, prepared) -> list[tuple[np.ndarray, np.ndarray]]:
    """The user's splitter or iterable of splits, as ``(train, test)`` position arrays."""
    from sklearn.model_selection import check_cv

    splitter = check_cv(cv, prepared.y, classifier=prepared.task != "regression")
    n = len(prepared.y)
    folds = []
    for train, test in splitter.split(np.zeros((n, 1)), prepared.y, groups=prepared.tasks):
        train, test = np.asarray(train), np.asarray(test)
        if train.dtype == bool or test.dtype == bool:  # boolean masks
            train, test = np.flatnonzero(train), np.flatnonzero(test)
        if not (len(train) and len(test)):
            raise ValueError(MSG_EMPTY_FOLD)
        folds.append((train, test))
    if not folds:
        raise ValueError(MSG_EMPTY_FOLD)
    covered = np.zeros(n, bool)
    for _, test in folds:
        covered[test] = True
    if not covered.all():
        raise ValueError(MSG_UNCOVERED.format(n=int((~covered).sum())))
    return folds


def _search_all(est, prepared, folds, tuned, alpha, strength, C) -> Tuned:
    """Walk the paths of the knobs to tune (see the module docstring) over ``folds``."""
    tune_alpha, tune_strength, tune_C = tuned
    search = _Search(est, prepared, folds)
    base = est.objective if est.objective in CHEAP_OBJECTIVES else "average"
    if tune_strength:
        to_strength = lambda v: (alpha, v, 0.0)  # noqa: E731
        e = search.walk(base, to_strength, STRENGTH_START_EXPONENT, 1.0, STRENGTH_EXPONENTS)
        strength = 10.0 ** search.refine(base, to_strength, e, 0.5)
    if tune_alpha:
        to_alpha = lambda v: (v, strength, 0.0)  # noqa: E731
        alpha = 10.0 ** search.walk(base, to_alpha, START_ALPHA_EXPONENT, 0.5, ALPHA_EXPONENTS)
    if tune_C:
        C = search.path(est.objective, list(ADJUSTMENT_GRID), lambda c: (alpha, strength, c))
    return Tuned(alpha, strength, C, search.results(prepared.encoder.labels_), search.best)


def _decades(a: float, b: float) -> float:
    """How many decades apart two values are (inf when one of them only is 0)."""
    if a == b:
        return 0.0
    return abs(float(np.log10(a / b))) if a > 0 and b > 0 else np.inf


def _feasible_splits(cv: int, labels: np.ndarray | None, n: int) -> int:
    """``cv``, or fewer folds where a class (or the data) has fewer rows than folds."""
    limit = n // 2
    if labels is not None:
        limit = min(limit, int(np.unique(labels, return_counts=True)[1].min()))
    return min(cv, limit)


#: sharing_strength used when "auto" cannot be tuned (one group, or no coupling to tune)
DEFAULT_STRENGTH = 0.1


def _fixed_strength(value) -> float:
    return DEFAULT_STRENGTH if value == "auto" else float(value)
