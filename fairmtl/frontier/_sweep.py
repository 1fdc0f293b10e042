"""Turning a sweep specification into the list of settings to fit."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from scipy.stats import qmc

from fairmtl.estimators._path import PREDICT_ONLY_PARAMS

__all__ = [
    "expand_sweep",
    "preference_points",
    "threshold_grid",
    "distinct_fits",
    "AUTO",
    "PREDICT_ONLY_KNOBS",
]

AUTO = "auto"
#: the estimator parameters a sweep may vary
SWEEP_KNOBS = frozenset(
    {
        "epsilon",
        "tilt",
        "preference",
        "sharing_strength",
        "alpha",
        "adjustment",
        "rate_tolerance",
        "threshold",
    }
)
#: knobs that change predictions, not the fit: their values share one fit
PREDICT_ONLY_KNOBS = PREDICT_ONLY_PARAMS
#: most values of an "auto" threshold sweep (each is a model to evaluate, not a fit)
MAX_AUTO_THRESHOLDS = 5
MSG_SWEEP_KNOB = (
    "Cannot sweep {knob!r}: choose among 'epsilon', 'tilt', 'preference', "
    "'sharing_strength', 'alpha', 'adjustment', 'rate_tolerance' or 'threshold', with a "
    "list of values "
    "or 'auto'."
)


def preference_points(n_groups: int, n_points: int, seed: int = 0) -> list[np.ndarray]:
    """Preference vectors spread on the simplex.

    For 2 groups, evenly spaced weights; for 3 groups, the points of the smallest regular
    grid with at least ``n_points`` points (vertices included), thinned by farthest-point
    selection from the vertices when the grid has more; for more groups, the
    equal-weight centre and a scrambled Sobol set mapped to the simplex (uniform
    spacings). Every vector is positive and sums to 1.

    Examples
    --------
    >>> from fairmtl.frontier import preference_points
    >>> [p.round(2).tolist() for p in preference_points(2, 3)]
    [[0.02, 0.98], [0.5, 0.5], [0.98, 0.02]]
    """
    if n_points < 1:
        return []
    if n_groups == 1 or n_points == 1:
        return [np.full(n_groups, 1.0 / n_groups)]
    if n_groups == 2:
        return [np.array([a, 1 - a]) for a in np.linspace(0.02, 0.98, n_points)]
    if n_groups == 3:
        m = 1
        while (m + 1) * (m + 2) // 2 < n_points:
            m += 1
        grid = np.array(
            [[i, j, m - i - j] for i in range(m + 1) for j in range(m + 1 - i)], dtype=float
        )
        grid = (grid / m + 1e-2) / (1.0 + 3e-2)
        keep = _farthest_points(grid, n_points)
        return [grid[i] for i in keep]
    points = [np.full(n_groups, 1.0 / n_groups)]
    sobol = qmc.Sobol(d=n_groups, scramble=True, seed=seed)
    # a power of 2 keeps Sobol's balance (and scipy quiet); the first n_points - 1 are used
    u = sobol.random_base2(max(0, int(np.ceil(np.log2(max(n_points - 1, 1))))))
    e = -np.log(np.clip(u[: n_points - 1], 1e-12, 1.0))
    points += [row / row.sum() for row in e]
    return points[:n_points]


def _farthest_points(points: np.ndarray, n: int) -> list[int]:
    """``n`` row indices spread out: vertices first, then each farthest from those chosen.

    Ties go to the lowest index; the indices are returned in grid order.
    """
    if n >= len(points):
        return list(range(len(points)))
    chosen = [int(np.argmax(points[:, k])) for k in range(points.shape[1])][:n]
    dist = np.min(np.linalg.norm(points[:, None, :] - points[chosen][None], axis=-1), axis=1)
    while len(chosen) < n:
        nxt = int(np.argmax(dist))
        chosen.append(nxt)
        dist = np.minimum(dist, np.linalg.norm(points - points[nxt], axis=1))
    return sorted(chosen)


def expand_sweep(
    sweep: Mapping[str, Any],
    n_points: int,
    resolve_auto: Callable[[str, int], list[Any]],
) -> list[dict[str, Any]]:
    """All settings of a sweep: the product of each knob's values.

    Parameters
    ----------
    sweep : mapping of knob -> list of values or "auto"
    n_points : int
        Values per knob when it is "auto".
    resolve_auto : callable(knob, n_points) -> list
        Gives the automatic values of a knob (it may need fits, e.g. epsilon).

    Returns
    -------
    settings : list of dict
    """
    grids = []
    for knob, values in sweep.items():
        if knob not in SWEEP_KNOBS:
            raise ValueError(MSG_SWEEP_KNOB.format(knob=knob))
        if isinstance(values, str) and values == AUTO:
            values = resolve_auto(knob, n_points)
        grids.append([(knob, v) for v in values])
    return [dict(combo) for combo in itertools.product(*grids)]


def log_grid(low: float, high: float, n_points: int) -> list[float]:
    """``n_points`` values evenly spaced in log scale."""
    return [float(v) for v in np.geomspace(low, high, n_points)]


def threshold_grid(n_points: int, positive_is_minority: bool) -> list[float]:
    """Decision thresholds from 0.5 towards the majority class (0.95 or 0.05).

    At most :data:`MAX_AUTO_THRESHOLDS` values. Moving the cut-off towards the majority
    class predicts the minority class less often, which costs the least accuracy, and
    brings every group's rate of the minority class towards 0: the rate gaps between
    groups (demographic parity, equalised odds) narrow, most where groups are small.

    Examples
    --------
    >>> threshold_grid(5, positive_is_minority=True)
    [0.5, 0.6125, 0.725, 0.8375, 0.95]
    """
    end = 0.95 if positive_is_minority else 0.05
    n = max(1, min(n_points, MAX_AUTO_THRESHOLDS))
    return [round(float(v), 6) for v in np.linspace(0.5, end, n)]


def distinct_fits(settings: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[int]]:
    """The fits a sweep needs: its settings without the predict-only knobs, deduplicated.

    Returns
    -------
    fits : list of dict
        Distinct settings to fit, in order of first appearance.
    position : list of int
        For each setting, the index in ``fits`` of the fit it uses.
    """
    fits: list[dict[str, Any]] = []
    index: dict[str, int] = {}
    position = []
    for setting in settings:
        fit = {k: v for k, v in setting.items() if k not in PREDICT_ONLY_KNOBS}
        key = repr(sorted(fit.items()))
        if key not in index:
            index[key] = len(fits)
            fits.append(fit)
        position.append(index[key])
    return fits, position
