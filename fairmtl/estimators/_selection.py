"""The selection rule of the cross-validation: a worst-group held-out loss, each group's
estimate shrunk towards the overall one by its share of noise.

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

``alpha``: the most regularised candidate within half a standard error
---------------------------------------------------------------------
Of the ``alpha`` values the search visits, the fit takes the **largest whose score is
within half a standard error of the best score**, the standard error of the two
candidates' difference, paired over the held-out rows (:func:`difference_se`): a
milder form of the one-standard-error rule of Breiman et al. (1984) and Hastie,
Tibshirani & Friedman (*The Elements of Statistical Learning*, 7.10). Near its minimum
the held-out score is flat in ``alpha`` and the lowest point is decided by which rows
fell in which fold; of the values the data cannot tell apart, the most regularised one
generalises at least as well and varies less. Measured on the generalisation
benchmark's data (8 datasets, 20 repeated splits each), against the lowest score: the
held-out worst-group log loss was lower on seven (many related hospitals: -0.013) and
higher on one (Adult: +0.001, within noise). A whole standard error did about as well
on worst-group loss but cost Adult 0.19 points of overall accuracy (half of one: 0.16
against 0.04 for the lowest score).
``sharing_strength`` keeps the lowest score: a larger strength is not a safer choice
but a different one (it moves each group's model towards the others'), and the same rule
applied to it raised the worst-group loss where the groups are unrelated.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = [
    "difference_se",
    "heldout_group_stats",
    "shrinkage_weights",
    "shrunk_worst",
    "shrunk_worst_row",
]


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


def _score_coefficients(
    overall: float, mean: np.ndarray, keep: np.ndarray, share: np.ndarray
) -> np.ndarray:
    """``beta_g`` of the score written as ``sum_g beta_g L_g`` (``L = sum_g share_g L_g``)."""
    worst = int(np.argmax(overall + keep * (mean - overall)))
    beta = (1.0 - keep[worst]) * share
    beta[worst] += keep[worst]
    return beta


def difference_se(
    a: dict[str, Any],
    b: dict[str, Any],
    keep: np.ndarray,
    tasks: np.ndarray,
    weights: np.ndarray,
) -> float:
    """Standard error of ``score(a) - score(b)``, paired over the same held-out rows.

    Each score is ``L + keep_g* (L_g* - L)`` for its worst group ``g*``, a weighted sum
    ``sum_g beta_g L_g`` of the group means (``L`` is ``sum_g (W_g / W) L_g``). So the
    difference is ``sum_g`` of the group means of the per-row values
    ``beta_a[g] * loss_a - beta_b[g] * loss_b``, whose squared standard errors
    (:func:`heldout_group_stats`: the groups' rows are independent) add up.

    ``a`` and ``b`` are candidates' rows with their per-row held-out losses
    (``row_loss``) and group means.
    """
    n_groups = len(keep)
    w = np.asarray(weights, dtype=float)
    share = np.bincount(tasks, weights=w, minlength=n_groups) / w.sum()
    beta_a = _score_coefficients(a["mean_test_loss"], a["group_test_loss"], keep, share)
    beta_b = _score_coefficients(b["mean_test_loss"], b["group_test_loss"], keep, share)
    paired = beta_a[tasks] * a["row_loss"] - beta_b[tasks] * b["row_loss"]
    _, _, se2 = heldout_group_stats(paired, tasks, w, n_groups)
    return float(np.sqrt(se2.sum()))
