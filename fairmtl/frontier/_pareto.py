"""Pareto sets, hypervolume, knee points and the policies that pick one model.

Pure functions on arrays of criteria (one row per model, one column per criterion). A
point *dominates* another when it is at least as good in every criterion and better in
one; identical points do not dominate each other, so duplicates are kept together.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from fairmtl.exceptions import DataValidationError

__all__ = [
    "DEFAULT_POLICY_DELTA",
    "OVERALL_COLUMN",
    "POLICIES",
    "WORST_COLUMN",
    "hypervolume",
    "knee_point",
    "pareto_mask",
    "robust_pareto_frequency",
    "select",
    "select_best_worst_within",
    "select_most_accurate_within",
]

DEFAULT_POLICY_DELTA = 0.01
"""Tolerance of the ``*_within`` policies when a policy string gives none (1 point)."""
OVERALL_COLUMN = "overall"
"""Column of a policy table holding each model's overall metric."""
WORST_COLUMN = "worst"
"""Column of a policy table holding each model's worst-group metric."""

MSG_POINTS_SHAPE = "points must be a 2-D array (n_points, n_criteria). Got shape {shape}."
MSG_MAXIMIZE_LENGTH = "maximize has {got} entries but there are {n} criteria."
MSG_REFERENCE_SHAPE = "reference must have one value per criterion ({n}). Got shape {shape}."
MSG_HV_DIMENSION = (
    "hypervolume is exact for 1 to 3 criteria only; got {n}. Compare fewer criteria "
    "(for example overall and worst-group metrics)."
)
MSG_EMPTY = "{what} needs at least one point without nan. Got none."
MSG_DELTA = "delta must be a non-negative number. Got {delta!r} instead."
MSG_UNKNOWN_POLICY = (
    "Unknown policy {policy!r}. Choose from {choices}, optionally with a tolerance as in "
    "'accuracy_within:0.02', or pass a callable table -> int."
)
MSG_POLICY_TABLE = "A policy table needs the columns {columns}. Missing: {missing}."
MSG_POLICY_RESULT = "The policy returned {result!r}, which is not a row position in 0..{last}."
MSG_BOOT_SHAPE = "values_boot must have shape (n_boot, n_models, n_criteria). Got shape {shape}."


def _as_minimisation(points: Any, maximize: bool | Sequence[bool]) -> np.ndarray:
    """Validated float copy of ``points`` with every criterion turned into 'lower is better'."""
    pts = np.array(points, dtype=float)  # a copy: the caller's array is not changed
    if pts.ndim != 2:
        raise DataValidationError(MSG_POINTS_SHAPE.format(shape=pts.shape))
    flags = np.asarray(maximize, dtype=bool)
    if flags.ndim == 1 and len(flags) != pts.shape[1]:
        raise DataValidationError(MSG_MAXIMIZE_LENGTH.format(got=len(flags), n=pts.shape[1]))
    return pts * np.where(flags, -1.0, 1.0)


def _dominated(a: np.ndarray, b: np.ndarray, valid_b: np.ndarray) -> np.ndarray:
    """Whether each row of ``a`` (..., n, d) is dominated by a valid row of ``b`` (..., m, d).

    Minimising; rows with nan compare False everywhere, so they dominate nothing.
    """
    x, y = a[..., :, None, :], b[..., None, :, :]
    return ((y <= x).all(axis=-1) & (y < x).any(axis=-1) & valid_b[..., None, :]).any(axis=-1)


def pareto_mask(points: Any, *, maximize: bool | Sequence[bool]) -> np.ndarray:
    """Which points are not dominated by any other.

    Parameters
    ----------
    points : array-like of shape (n_points, n_criteria)
    maximize : bool or sequence of bool
        Whether greater is better, for all criteria or per criterion.

    Returns
    -------
    mask : ndarray of bool of shape (n_points,)
        ``True`` for the Pareto set. Identical points are both kept (neither dominates
        the other). A point with a ``nan`` criterion is never in the set and dominates
        nothing.

    Examples
    --------
    >>> from fairmtl.frontier._pareto import pareto_mask
    >>> pareto_mask([[0.9, 0.7], [0.8, 0.8], [0.8, 0.6], [0.9, 0.7]], maximize=True)
    array([ True,  True, False,  True])
    """
    pts = _as_minimisation(points, maximize)
    valid = ~np.isnan(pts).any(axis=1)
    mask = np.zeros(len(pts), dtype=bool)
    step = max(1, 2_000_000 // max(1, len(pts) * pts.shape[1]))  # bound the n x n x d block
    for start in range(0, len(pts), step):
        chunk = slice(start, start + step)
        mask[chunk] = valid[chunk] & ~_dominated(pts[chunk], pts, valid)
    return mask


def _area_2d(pts: np.ndarray, ref: np.ndarray) -> float:
    """Area dominated by 2-D points (minimising) inside the box below ``ref``."""
    pts = pts[np.lexsort((pts[:, 1], pts[:, 0]))]
    area, best_y = 0.0, ref[1]
    xs = np.append(pts[:, 0], ref[0])
    for i, (_, y) in enumerate(pts):  # sweep in x; the staircase lowers as y improves
        best_y = min(best_y, y)
        area += (xs[i + 1] - xs[i]) * (ref[1] - best_y)
    return float(area)


def hypervolume(points: Any, reference: Any, *, maximize: bool | Sequence[bool]) -> float:
    """Volume of the region dominated by the points and bounded by the reference point.

    Exact for 1, 2 (a sweep) and 3 criteria (slices along the third criterion, each a
    2-D sweep).

    Parameters
    ----------
    points : array-like of shape (n_points, n_criteria)
    reference : array-like of shape (n_criteria,)
        A point worse than every point of interest; points not strictly better than it
        in every criterion add nothing. Rows with ``nan`` are ignored.
    maximize : bool or sequence of bool

    Returns
    -------
    volume : float
        0.0 when no point is better than the reference.

    Examples
    --------
    >>> from fairmtl.frontier._pareto import hypervolume
    >>> hypervolume([[1, 3], [2, 2], [3, 1]], [0, 0], maximize=True)
    6.0
    """
    pts = _as_minimisation(points, maximize)
    ref = _as_minimisation(np.reshape(np.asarray(reference, dtype=float), (1, -1)), maximize)[0]
    if ref.shape != (pts.shape[1],):
        raise DataValidationError(MSG_REFERENCE_SHAPE.format(n=pts.shape[1], shape=ref.shape))
    if not 1 <= pts.shape[1] <= 3:
        raise DataValidationError(MSG_HV_DIMENSION.format(n=pts.shape[1]))
    pts = pts[~np.isnan(pts).any(axis=1) & (pts < ref).all(axis=1)]
    if len(pts) == 0:
        return 0.0
    if pts.shape[1] == 1:
        return float(ref[0] - pts[:, 0].min())
    if pts.shape[1] == 2:
        return _area_2d(pts, ref)
    levels = np.append(np.unique(pts[:, 2]), ref[2])
    volume = 0.0
    for z, z_next in zip(levels[:-1], levels[1:], strict=True):
        volume += _area_2d(pts[pts[:, 2] <= z, :2], ref[:2]) * (z_next - z)
    return float(volume)


def knee_point(points: Any, *, maximize: bool | Sequence[bool]) -> int:
    """Index of the knee of the Pareto set: the best compromise between its extremes.

    The Pareto points are normalised so that each criterion spans [0, 1] over the set,
    1 being best. The extremes are, per criterion, the Pareto point best in it (ties go
    to the greater sum of normalised criteria). The knee is the Pareto point farthest
    from the line (2 criteria) or (hyper)plane through the extremes, on the side of the
    ideal point (all ones). In two criteria that line is ``x + y = 1``, so the knee
    maximises ``x + y``. When the extremes do not span a hyperplane, the normal
    ``(1, ..., 1)`` is used. Ties go to the lowest index.

    Parameters
    ----------
    points : array-like of shape (n_points, n_criteria)
    maximize : bool or sequence of bool

    Returns
    -------
    index : int
        Row of ``points`` (it is on the Pareto set).

    Examples
    --------
    >>> from fairmtl.frontier._pareto import knee_point
    >>> knee_point([[1.0, 0.0], [0.8, 0.7], [0.5, 0.8], [0.0, 1.0]], maximize=True)
    1
    """
    mask = pareto_mask(points, maximize=maximize)
    if not mask.any():
        raise DataValidationError(MSG_EMPTY.format(what="knee_point"))
    rows = np.flatnonzero(mask)
    good = -_as_minimisation(points, maximize)[rows]  # greater is better
    span = good.max(axis=0) - good.min(axis=0)
    norm = (good - good.min(axis=0)) / np.where(span > 0, span, 1.0)
    d = norm.shape[1]
    extremes = norm[[np.lexsort((norm.sum(axis=1), norm[:, k]))[-1] for k in range(d)]]
    normal = np.ones(d)
    if d > 1:
        # Normal of the hyperplane through the extremes: null space of their differences.
        _, sing, vt = np.linalg.svd(extremes[1:] - extremes[0])
        if len(sing) == d - 1 and sing[-1] > 1e-12 * max(1.0, sing[0]):
            normal = vt[-1] if vt[-1] @ np.ones(d) > 0 else -vt[-1]
    score = norm @ normal
    return int(rows[np.flatnonzero(score >= score.max() - 1e-12)[0]])


def _check_delta(delta: float) -> float:
    if not isinstance(delta, int | float) or not delta >= 0:
        raise DataValidationError(MSG_DELTA.format(delta=delta))
    return float(delta)


def _best_within(primary: Any, secondary: Any, delta: float, greater_is_better: bool) -> int:
    """Best ``primary`` among points whose ``secondary`` is within delta of its best."""
    sign = 1.0 if greater_is_better else -1.0
    p, s = sign * np.asarray(primary, float), sign * np.asarray(secondary, float)
    valid = ~(np.isnan(p) | np.isnan(s))
    if not valid.any():
        raise DataValidationError(MSG_EMPTY.format(what="a selection policy"))
    # Inclusive, with a rounding allowance: 0.85 is within 0.05 of 0.90.
    ok = valid & (s >= s[valid].max() - _check_delta(delta) - 1e-12)
    # Best primary; ties go to the better secondary, then to the lowest index.
    order = np.lexsort((-np.arange(len(p)), s, p))
    return int([i for i in order if ok[i]][-1])


def select_most_accurate_within(
    overall: Any, worst: Any, delta: float, *, greater_is_better: bool = True
) -> int:
    """The most accurate model whose worst group is within ``delta`` of the best worst group.

    Parameters
    ----------
    overall : array-like of shape (n_models,)
        Overall metric of each model.
    worst : array-like of shape (n_models,)
        Worst-group metric of each model.
    delta : float
        Tolerance on the worst-group metric, in the metric's units.
    greater_is_better : bool, default=True
        Direction of the metric (``False`` for losses).

    Returns
    -------
    index : int
        Position of the chosen model; ties go to the better worst group, then the first.
    """
    return _best_within(overall, worst, delta, greater_is_better)


def select_best_worst_within(
    overall: Any, worst: Any, delta: float, *, greater_is_better: bool = True
) -> int:
    """The model with the best worst group among those within ``delta`` of the best overall.

    Parameters and return as in :func:`select_most_accurate_within`, with the roles of
    ``overall`` and ``worst`` swapped.
    """
    return _best_within(worst, overall, delta, greater_is_better)


def _knee_policy(overall: Any, worst: Any, *, greater_is_better: bool = True) -> int:
    return knee_point(np.column_stack([overall, worst]), maximize=greater_is_better)


POLICIES: dict[str, Callable[..., int]] = {
    "accuracy_within": select_most_accurate_within,
    "worst_group_within": select_best_worst_within,
    "knee": _knee_policy,
}
"""Policy name -> function ``(overall, worst, [delta,] *, greater_is_better) -> int``."""


def select(
    policy: str | Callable[[pd.DataFrame], int],
    table: pd.DataFrame,
    *,
    greater_is_better: bool = True,
) -> int:
    """Pick one model of a frontier by a policy.

    Parameters
    ----------
    policy : str or callable
        ``"accuracy_within[:delta]"`` (:func:`select_most_accurate_within`),
        ``"worst_group_within[:delta]"`` (:func:`select_best_worst_within`) or ``"knee"``
        (:func:`knee_point` of (overall, worst)). ``delta`` defaults to
        :data:`DEFAULT_POLICY_DELTA`, e.g. ``"worst_group_within:0.02"``. A callable is
        called as ``policy(table)`` and returns a row position.
    table : pandas.DataFrame
        One row per candidate model with columns ``"overall"`` and ``"worst"`` (the
        overall and worst-group value of the metric the policy is about).
    greater_is_better : bool, default=True
        Direction of that metric.

    Returns
    -------
    position : int
        Row position (not index label) of the chosen model in ``table``.

    Examples
    --------
    >>> import pandas as pd
    >>> from fairmtl.frontier._pareto import select
    >>> table = pd.DataFrame({"overall": [0.90, 0.88, 0.85], "worst": [0.70, 0.79, 0.80]})
    >>> select("accuracy_within:0.01", table), select("worst_group_within:0.03", table)
    (1, 1)
    """
    if callable(policy):
        result = policy(table)
    else:
        name, _, arg = str(policy).partition(":")
        if name not in POLICIES or (name == "knee" and arg):
            raise DataValidationError(
                MSG_UNKNOWN_POLICY.format(policy=policy, choices=sorted(POLICIES))
            )
        missing = sorted({OVERALL_COLUMN, WORST_COLUMN} - set(table.columns))
        if missing:
            raise DataValidationError(
                MSG_POLICY_TABLE.format(columns=[OVERALL_COLUMN, WORST_COLUMN], missing=missing)
            )
        args = [table[OVERALL_COLUMN].to_numpy(float), table[WORST_COLUMN].to_numpy(float)]
        if name != "knee":
            try:
                args.append(float(arg) if arg else DEFAULT_POLICY_DELTA)
            except ValueError as e:
                raise DataValidationError(MSG_DELTA.format(delta=arg)) from e
        result = POLICIES[name](*args, greater_is_better=greater_is_better)
    if isinstance(result, bool) or not isinstance(result, int | np.integer):
        raise DataValidationError(MSG_POLICY_RESULT.format(result=result, last=len(table) - 1))
    if not 0 <= result < len(table):
        raise DataValidationError(MSG_POLICY_RESULT.format(result=result, last=len(table) - 1))
    return int(result)


def robust_pareto_frequency(values_boot: Any, maximize: bool | Sequence[bool]) -> np.ndarray:
    """Fraction of bootstrap resamples in which each model is non-dominated.

    Parameters
    ----------
    values_boot : array-like of shape (n_boot, n_models, n_criteria)
        Criteria of every model on every resample (the same resamples for all models,
        e.g. from :func:`fairmtl.metrics.bootstrap_indices`).
    maximize : bool or sequence of bool

    Returns
    -------
    frequency : ndarray of shape (n_models,)
        In [0, 1]; a model with ``nan`` criteria in a resample counts as dominated there.
    """
    vals = np.asarray(values_boot, dtype=float)
    if vals.ndim != 3:
        raise DataValidationError(MSG_BOOT_SHAPE.format(shape=vals.shape))
    n_boot, n_models, d = vals.shape
    pts = _as_minimisation(vals.reshape(-1, d), maximize).reshape(vals.shape)
    if n_boot == 0:
        return np.full(n_models, np.nan)
    count = np.zeros(n_models)
    step = max(1, 4_000_000 // max(1, n_models * n_models * d))
    for start in range(0, n_boot, step):
        block = pts[start : start + step]
        valid = ~np.isnan(block).any(axis=-1)
        count += (valid & ~_dominated(block, block, valid)).sum(axis=0)
    return count / n_boot
