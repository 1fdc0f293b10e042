"""The automatic epsilon range of a sweep, read from a few plain fits on the training rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import clone

__all__ = ["RATE_OBJECTIVES", "auto_epsilon"]

#: objectives whose epsilon bounds a gap between group rates, not a group loss
RATE_OBJECTIVES = ("demographic_parity", "equal_opportunity", "equalized_odds")


def auto_epsilon(template, X, y, groups, w, n: int, *, pooled: bool = True) -> list[float]:
    """``n`` bounds for ``template``'s epsilon, from the most equal fit to a plain one.

    For a loss bound: from the minimax fit's worst group loss to the average fit's (and,
    with ``pooled``, the pooled model's, when higher). For a rate objective: from 0 to
    the average fit's largest gap between a group's mean score and the mean of those.

    Parameters
    ----------
    template : FairMTLClassifier or FairMTLRegressor
        The estimator of the sweep (not fitted; cloned for each fit).
    X, y, groups, w : ndarray
        The training rows, their target, group labels and sample weights (or None).
    n : int
        Number of bounds.
    pooled : bool, default=True
        Let the pooled model's worst group raise the upper end.

    Returns
    -------
    bounds : list of float
    """
    # the range comes from plain fits: no per-group thresholds (a rate objective's)
    plain = clone(template)
    if "rate_tolerance" in plain.get_params():
        plain.set_params(rate_tolerance=None)
    if template.objective in RATE_OBJECTIVES:
        avg = clone(plain).set_params(objective="average").fit(X, y, groups=groups, sample_weight=w)
        scores = avg.decision_function(X, groups=groups)
        means = pd.Series(scores).groupby(groups).mean()
        gap = float((means - means.mean()).abs().max())
        return [float(v) for v in np.linspace(0.0, gap, n)]
    # from the most equal model (minimax) to the worst group of the pooled model and of
    # the average fit, whichever is higher: the whole range between them
    worst = {}
    for name, change in (
        ("minimax", {"objective": "minimax"}),
        ("average", {"objective": "average"}),
        ("pooled", {"objective": "average", _sharing_param(plain): "shared"}),
    ):
        if name == "pooled" and not pooled:
            continue
        fit = clone(plain).set_params(**change).fit(X, y, groups=groups, sample_weight=w)
        worst[name] = float(fit.group_losses_.max())
    low, high = worst["minimax"], max(worst.values())
    start = low + 0.002 * (high - low) + 1e-6 * max(1.0, low)
    return [float(v) for v in np.linspace(start, high, n)]


def _sharing_param(template) -> str:
    """What makes one model for all groups: ``sharing``, or an MLP estimator's ``heads``."""
    return "sharing" if "sharing" in template.get_params() else "heads"
