"""Choosing ``alpha``, ``sharing_strength`` and the Group DRO adjustment by cross-validation.

The estimators' defaults (``alpha="auto"``, ``sharing_strength="auto"``,
``adjustment="auto"``) are settled here, the way scikit-learn's ``LogisticRegressionCV``
settles ``C``: K folds stratified by group and class (:func:`fairmtl.data.group_label_folds`),
a path of candidate values solved on each fold's training rows (each solve warm-started
from the fold's answer for the nearest candidate solved before: :mod:`._cv_search`), and
the held-out loss of every row, scored by the selection rule of :mod:`._selection` (the
worst group's held-out loss, each group's estimate shrunk towards the overall one by its
share of noise).

Order of the search: ``sharing_strength`` by a walk over decades (0.1, then 1 and 0.01,
then on in the direction that scores better until a value scores worse, within 1e-4 to
10), then one half-decade step from the best towards its better neighbour (both ways at
an end of the range); at ``alpha=1e-3`` when alpha is tuned too. Then ``alpha`` by the
same walk over half-decades from 1e-3 (within 3e-5 to 0.03) at the chosen strength; of
the values walked, the largest whose score is within half a standard error of the
best (a milder one-standard-error rule: :mod:`._selection`). Both
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
from fairmtl.estimators._cv_search import (
    START_ALPHA,
    START_ALPHA_EXPONENT,
    Search,
    solver_strength,
)
from fairmtl.estimators._selection import heldout_group_stats, shrinkage_weights, shrunk_worst
from fairmtl.exceptions import DataWarning
from fairmtl.objectives import objective_class

__all__ = [
    "ADJUSTMENT_GRID",
    "ALPHA_EXPONENTS",
    "ALPHA_SE",
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
#: alpha: the largest value whose score is within this many standard errors of the best
#: (a milder one-standard-error rule; see :mod:`._selection`)
ALPHA_SE = 0.5
#: candidate values of the Group DRO adjustment C (each group's loss + C / sqrt(n_g))
ADJUSTMENT_GRID = (0.0, 0.25, 0.5, 1.0, 2.0, 4.0)


def adjustment_vector(C: float, group_weight: np.ndarray) -> np.ndarray:
    """Group DRO's generalisation adjustment ``C / sqrt(n_g)`` of every group.

    ``n_g`` is the group's total sample weight (its row count with unit weights), so
    integer weights act as duplicated rows.
    """
    return float(C) / np.sqrt(np.asarray(group_weight, dtype=float))


@dataclass
class Tuned:
    """The chosen values and the scores of every candidate (``cv_results_``)."""

    alpha: float
    sharing_strength: float
    adjustment: float
    cv_results: dict[str, Any] = field(default_factory=dict)
    best_index: int = 0


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
    objective = objective_class(est.objective)
    tune_C = est.adjustment == "auto" and objective.takes_adjustment and G > 1
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
    search = Search(est, prepared, folds)
    # the objective's own solves serve the alpha / strength search where they are cheap
    base = est.objective if objective_class(est.objective).weighted_fit else "average"
    if tune_strength:
        to_strength = lambda v: (alpha, v, 0.0)  # noqa: E731
        e = search.walk(base, to_strength, STRENGTH_START_EXPONENT, 1.0, STRENGTH_EXPONENTS)
        strength = 10.0 ** search.refine(base, to_strength, e, 0.5)
    if tune_alpha:
        to_alpha = lambda v: (v, strength, 0.0)  # noqa: E731
        search.walk(base, to_alpha, START_ALPHA_EXPONENT, 0.5, ALPHA_EXPONENTS)
        alpha = 10.0 ** search.most_regularised_within_se(search.walked, ALPHA_SE)
    search.drop_row_losses()
    if tune_C:
        C = search.path(est.objective, list(ADJUSTMENT_GRID), lambda c: (alpha, strength, c))
    return Tuned(alpha, strength, C, search.results(prepared.encoder.labels_), search.best)


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
