"""The oracle of FairMTLReduction: ensemble members fitted at the master's group weights.

Each round of :class:`~fairmtl.estimators.FairMTLReduction`'s level method asks the
oracle for a best response to a vector of group weights: :class:`ReductionOracle` fits a
new member (the wrapped estimator, cloned or warm-started from the previous member) with
those weights as ``sample_weight``, keeps the per-row score its group loss needs, and
answers with the member's group losses (a cut of the master). It also evaluates the
group losses of a mixture of members (the ensemble the master's primal recovery gives):
averaged scores for ``log_loss`` and ``squared``, expected losses for ``zero_one``.
"""

from __future__ import annotations

import copy

import numpy as np
from sklearn.base import clone

from fairmtl.solvers._master import OraclePoint

__all__ = ["ReductionOracle", "mixture"]

_PROBA_FLOOR = 1e-15


def mixture(points: list, weights: np.ndarray) -> dict[int, float]:
    """The weighted sum of sparse mixtures ``{member: weight}``, without zero weights.

    Parameters
    ----------
    points : list of dict
        Mixtures over the members.
    weights : ndarray of shape (len(points),)

    Returns
    -------
    point : dict of int to float
    """
    out: dict[int, float] = {}
    for point, w in zip(points, weights, strict=True):
        for k, v in point.items():
            out[k] = out.get(k, 0.0) + float(w) * v
    return {k: v for k, v in out.items() if v > 0}


class ReductionOracle:
    """Fits the reduction's members and gives the group losses of them and their mixtures.

    Parameters
    ----------
    estimator : estimator object
        The unfitted estimator each member is cloned from.
    X : array-like of shape (n_samples, n_features)
    y : ndarray of shape (n_samples,)
    loss : {"log_loss", "zero_one", "squared"}
        The group loss (resolved).
    tasks : ndarray of shape (n_samples,)
        Task id of each row.
    row_weights : ndarray of shape (n_samples,)
        Each row's sample weight divided by its group's total.
    n_groups : int
    y_index : ndarray of shape (n_samples,) or None
        Index of each row's class in ``classes_`` (for ``log_loss``).
    warm : bool
        Start each fit from a copy of the previous member (``warm_start=True``).

    Attributes
    ----------
    members : list of estimators
        Every fitted member, in the order of the fits.
    repeated : bool
        Whether the master asked again for weights already fitted (a refit would add the
        same cut, so the rounds should stop).
    """

    def __init__(self, estimator, X, y, *, loss, tasks, row_weights, n_groups, y_index, warm):
        self.estimator, self.X, self.y = estimator, X, y
        self.loss, self.tasks, self.row_weights = loss, tasks, row_weights
        self.n_groups, self.y_index, self.warm = n_groups, y_index, warm
        self.members: list = []
        self.scores: list[np.ndarray] = []  # per-row score each member's loss needs
        self.losses: list[np.ndarray] = []  # group losses of each member
        self.fit_weights: list[np.ndarray] = []  # group weights each member was fitted with
        self.repeated = False

    def fit(self, group_weights: np.ndarray) -> OraclePoint:
        """Fit a member at these group weights (unless one was) and answer with its cut.

        Parameters
        ----------
        group_weights : ndarray of shape (n_groups,)

        Returns
        -------
        point : OraclePoint
        """
        for k, seen in enumerate(self.fit_weights):
            if np.allclose(group_weights, seen, rtol=1e-9, atol=1e-12):
                # the master repeats itself: a refit would add the same cut, so stop
                self.repeated = True
                return self._answer(k, group_weights)
        row = group_weights[self.tasks] * self.row_weights
        row = row * (len(row) / row.sum())  # mean 1: estimators' defaults assume that scale
        member = self._new_member()
        member.fit(self.X, self.y, sample_weight=row)
        if self.warm:
            member.set_params(warm_start=self.estimator.get_params()["warm_start"])
        self.members.append(member)
        self.fit_weights.append(group_weights.copy())
        self.scores.append(self._member_scores(member))
        self.losses.append(self._group_losses(self._per_row_loss(self.scores[-1])))
        return self._answer(len(self.members) - 1, group_weights)

    def evaluate(self, point: dict[int, float]) -> tuple[np.ndarray, float]:
        """Group losses of the mixture ``{member: weight}`` (and 0.0, its penalty).

        Parameters
        ----------
        point : dict of int to float

        Returns
        -------
        losses : ndarray of shape (n_groups,)
        penalty : float
        """
        # averaged: the mixture's scores are the weighted mean of the members' (the true
        # class's averaged probability, or the averaged prediction); randomised: the
        # expected per-row loss is the weighted mean of the members' losses
        score = sum(w * self.scores[k] for k, w in point.items())
        return self._group_losses(self._per_row_loss(score)), 0.0

    def _answer(self, k: int, group_weights: np.ndarray) -> OraclePoint:
        # the value is the best response's among all members, not member k's: a heuristic
        # oracle may fit worse at these weights than an earlier member does, and a value
        # above the cutting-plane model would end the rounds early
        value = min(float(group_weights @ L) for L in self.losses)
        return OraclePoint(self.losses[k], 0.0, value, 0.0, {k: 1.0})

    def _new_member(self):
        if not (self.warm and self.members):
            return clone(self.estimator)
        # a copy, so that fitting it leaves the previous member (kept in the ensemble) as it is
        return copy.deepcopy(self.members[-1]).set_params(warm_start=True)

    def _member_scores(self, member) -> np.ndarray:
        if self.loss == "log_loss":
            proba = member.predict_proba(self.X)
            return proba[np.arange(len(self.y)), self.y_index]  # probability of the true class
        if self.loss == "zero_one":
            return (member.predict(self.X) == self.y).astype(float)
        return np.asarray(member.predict(self.X), dtype=float)

    def _per_row_loss(self, score: np.ndarray) -> np.ndarray:
        if self.loss == "log_loss":
            return -np.log(np.maximum(score, _PROBA_FLOOR))
        if self.loss == "zero_one":
            return 1.0 - score
        return (score - np.asarray(self.y, dtype=float)) ** 2

    def _group_losses(self, per_row: np.ndarray) -> np.ndarray:
        weights = self.row_weights * per_row
        return np.bincount(self.tasks, weights=weights, minlength=self.n_groups)
