"""Turning a sweep specification into the list of settings to fit."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from scipy.stats import qmc

__all__ = ["expand_sweep", "preference_points", "AUTO"]

AUTO = "auto"
MSG_SWEEP_KNOB = (
    "Cannot sweep {knob!r}: choose among 'epsilon', 'tilt', 'preference', "
    "'sharing_strength' or 'alpha', with a list of values or 'auto'."
)


def preference_points(n_groups: int, n_points: int, seed: int = 0) -> list[np.ndarray]:
    """Preference vectors spread on the simplex.

    For 2 or 3 groups a regular grid (vertices included); for more groups a scrambled
    Sobol set mapped to the simplex (uniform spacings), plus the equal-weight centre.
    """
    if n_groups == 2:
        return [np.array([a, 1 - a]) for a in np.linspace(0.02, 0.98, n_points)]
    if n_groups == 3:
        m = 1
        while (m + 1) * (m + 2) // 2 < n_points:
            m += 1
        grid = [
            np.array([i, j, m - i - j]) / m + 1e-2 for i in range(m + 1) for j in range(m + 1 - i)
        ]
        return [g / g.sum() for g in grid][:n_points]
    points = [np.full(n_groups, 1.0 / n_groups)]
    u = qmc.Sobol(d=n_groups, scramble=True, seed=seed).random(max(n_points - 1, 1))
    e = -np.log(np.clip(u, 1e-12, 1.0))
    points += [row / row.sum() for row in e]
    return points[:n_points]


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
        if knob not in {"epsilon", "tilt", "preference", "sharing_strength", "alpha"}:
            raise ValueError(MSG_SWEEP_KNOB.format(knob=knob))
        if isinstance(values, str) and values == AUTO:
            values = resolve_auto(knob, n_points)
        grids.append([(knob, v) for v in values])
    return [dict(combo) for combo in itertools.product(*grids)]


def log_grid(low: float, high: float, n_points: int) -> list[float]:
    """``n_points`` values evenly spaced in log scale."""
    return [float(v) for v in np.geomspace(low, high, n_points)]
