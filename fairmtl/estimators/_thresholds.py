"""Per-group decision thresholds that equalise a rate across groups.

The rate objectives' convex surrogate bounds the gap between the groups' *mean scores*;
what a user measures is the gap between their *rates* (selection rates for demographic
parity, true positive rates for equal opportunity), and equal mean scores leave those
apart when the groups' score distributions differ in shape. One threshold per group
closes that gap: each group predicts positive for its top-ranked rows, and the groups'
rates are brought within a tolerance of each other.

:func:`parity_thresholds` chooses them on the training rows, exactly: a group's candidates
are the cuts between its distinct sorted scores (``k`` rows selected, ``k = 0..n_g``), the
weighted correct count of each cut comes from cumulative sums, and for each common rate
``r`` on a grid each group takes its most accurate cut whose rate lies in
``[r - tolerance / 2, r + tolerance / 2]``, or, when its rates jump over that interval,
the nearest cut (as near as the group's size allows). The ``r`` with the most weighted
correct predictions wins. The groups' rates then differ by at most ``tolerance`` plus the
coarsest group's rate step there (one row's weight, or one positive's for true positive
rates). A spread-first rule would be worse: for ``tolerance=0`` the only exactly equal
rates are the trivial ones (nobody or everybody selected). A threshold on the
logit is a shift of the group's intercept, so the post-processed model stays a linear
group model whose probabilities agree with its predictions.
"""

from __future__ import annotations

import numpy as np

__all__ = ["RATES", "parity_thresholds"]

#: the rate each rate objective equalises with thresholds
RATES = {"demographic_parity": "selection", "equal_opportunity": "true_positive"}
#: centres ``r`` of the common rate that are tried
N_GRID = 401


class _GroupCuts:
    """One group's candidate cuts: rate and weighted correct count per ``k`` selected."""

    def __init__(self, z: np.ndarray, positive: np.ndarray, weight: np.ndarray, rate: str):
        order = np.argsort(-z, kind="stable")
        self.z = z[order]
        pos, w = positive[order], weight[order]
        tp = np.concatenate([[0.0], np.cumsum(w * pos)])
        fp = np.concatenate([[0.0], np.cumsum(w * ~pos)])
        self.correct = tp + (fp[-1] - fp)  # positives selected + negatives left out
        if rate == "selection":
            denominator = float(w.sum())
            self.rate = (tp + fp) / denominator if denominator > 0 else None
        else:  # true positive rate: undefined (unconstrained) without positives
            self.rate = tp / tp[-1] if tp[-1] > 0 else None
        # a threshold separates the top k rows from the rest only between distinct scores
        n = len(self.z)
        self.valid = np.ones(n + 1, bool)
        self.valid[1:n] = self.z[:-1] > self.z[1:]
        self.ks = np.flatnonzero(self.valid)

    def best(self, low: float, high: float) -> tuple[int, float]:
        """The most accurate valid cut with a rate in [low, high] (else the nearest):
        its ``k`` and weighted correct count."""
        if self.rate is None:
            k = int(self.ks[np.argmax(self.correct[self.ks])])
            return k, float(self.correct[k])
        rates = self.rate[self.ks]
        a, b = np.searchsorted(rates, low, "left"), np.searchsorted(rates, high, "right")
        if b > a:
            inside = self.ks[a:b]
            k = int(inside[np.argmax(self.correct[inside])])
        else:  # no cut inside: the closer of the two cuts around the interval
            near = [i for i in (a - 1, a) if 0 <= i < len(self.ks)]
            distance = [max(low - rates[i], rates[i] - high, 0.0) for i in near]
            k = int(self.ks[near[int(np.argmin(distance))]])
        return k, float(self.correct[k])

    def threshold(self, k: int) -> float:
        """A value ``t`` with exactly the top ``k`` scores above it."""
        n = len(self.z)
        if n == 0:
            return 0.0
        if k == 0:
            return float(self.z[0]) + 1.0
        if k == n:
            return float(self.z[-1]) - 1.0
        return float(0.5 * (self.z[k - 1] + self.z[k]))


def parity_thresholds(
    z: np.ndarray,
    positive: np.ndarray,
    tasks: np.ndarray,
    weight: np.ndarray,
    n_groups: int,
    *,
    rate: str,
    tolerance: float,
) -> np.ndarray:
    """Per-group thresholds on ``z`` with the groups' rates within ``tolerance``.

    Parameters
    ----------
    z : ndarray of shape (n_samples,)
        Decision values of the training rows.
    positive : ndarray of bool of shape (n_samples,)
        Whether each row's label is the positive class.
    tasks : ndarray of int of shape (n_samples,)
        Group id of each row.
    weight : ndarray of shape (n_samples,)
        Sample weights.
    n_groups : int
    rate : {"selection", "true_positive"}
    tolerance : float
        Largest allowed difference between two groups' rates, plus the coarsest group's
        rate step where its rates jump over the interval (0: as equal as group sizes
        allow).

    Returns
    -------
    thresholds : ndarray of shape (n_groups,)
        Row ``i`` is predicted positive when ``z_i > thresholds[tasks[i]]``.
    """
    positive = np.asarray(positive, dtype=bool)
    cuts = [
        _GroupCuts(z[tasks == g], positive[tasks == g], weight[tasks == g], rate)
        for g in range(n_groups)
    ]
    best_total, best_ks = -np.inf, None
    for r in np.linspace(0.0, 1.0, N_GRID):
        low, high = r - tolerance / 2, r + tolerance / 2
        picks = [c.best(low, high) for c in cuts]
        total = sum(correct for _, correct in picks)
        if total > best_total:
            best_total, best_ks = total, [k for k, _ in picks]
    return np.array([c.threshold(k) for c, k in zip(cuts, best_ks, strict=True)])
