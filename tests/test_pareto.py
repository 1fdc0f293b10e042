"""Pareto sets, hypervolume, knee and policies against brute force and hand-built cases."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from fairmtl.exceptions import DataValidationError
from fairmtl.frontier._pareto import (
    MSG_HV_DIMENSION,
    MSG_UNKNOWN_POLICY,
    hypervolume,
    knee_point,
    pareto_mask,
    robust_pareto_frequency,
    select,
    select_best_worst_within,
    select_most_accurate_within,
)


def _brute_pareto(points: np.ndarray, maximize: list[bool]) -> np.ndarray:
    """O(n^2) definition: i is kept unless some j is >= everywhere and > somewhere."""
    better_eq = [(lambda a, b, m=m: a >= b if m else a <= b) for m in maximize]
    strictly = [(lambda a, b, m=m: a > b if m else a < b) for m in maximize]
    keep = []
    for i, p in enumerate(points):
        dominated = False
        for j, q in enumerate(points):
            if j == i:
                continue
            ge = all(f(q[k], p[k]) for k, f in enumerate(better_eq))
            gt = any(f(q[k], p[k]) for k, f in enumerate(strictly))
            dominated |= ge and gt
        keep.append(not dominated)
    return np.array(keep, dtype=bool)


@st.composite
def point_sets(draw, max_dim: int = 4):
    d = draw(st.integers(1, max_dim))
    n = draw(st.integers(0, 25))
    pts = draw(arrays(np.int64, (n, d), elements=st.integers(0, 4)))  # small range: many ties
    maximize = draw(st.lists(st.booleans(), min_size=d, max_size=d))
    return pts, maximize


@settings(max_examples=200, deadline=None)
@given(point_sets())
def test_pareto_mask_equals_brute_force(case):
    pts, maximize = case
    np.testing.assert_array_equal(pareto_mask(pts, maximize=maximize), _brute_pareto(pts, maximize))
    if all(maximize) or not any(maximize):
        np.testing.assert_array_equal(
            pareto_mask(pts, maximize=maximize[0]), _brute_pareto(pts, maximize)
        )


def test_pareto_mask_duplicates_and_nan():
    pts = np.array([[1.0, 2.0], [1.0, 2.0], [0.0, 1.0], [np.nan, 9.0], [2.0, 0.0]])
    np.testing.assert_array_equal(pareto_mask(pts, maximize=True), [True, True, False, False, True])
    np.testing.assert_array_equal(
        pareto_mask(pts, maximize=[False, False]), [False, False, True, False, True]
    )


def _grid_volume(pts: np.ndarray, ref: np.ndarray) -> int:
    """Unit cells [c, c + 1]^d (integer c, minimising) dominated by a point, below ref."""
    count = 0
    for cell in itertools.product(*[range(int(r)) for r in ref]):
        count += bool(len(pts)) and bool(np.any(np.all(pts <= np.array(cell), axis=1)))
    return count


@settings(max_examples=150, deadline=None)
@given(
    st.integers(2, 3).flatmap(
        lambda d: st.tuples(
            arrays(np.int64, st.tuples(st.integers(0, 12), st.just(d)), elements=st.integers(0, 7)),
            st.lists(st.integers(1, 7), min_size=d, max_size=d),
        )
    )
)
def test_hypervolume_counts_unit_cells(case):
    pts, ref = case
    ref = np.array(ref)
    expected = _grid_volume(pts, ref)  # points outside the box count nothing
    assert hypervolume(pts, ref, maximize=False) == expected
    # The same set seen as maximisation: negate points and reference.
    assert hypervolume(-pts, -ref, maximize=True) == expected
    mixed = [True] + [False] * (pts.shape[1] - 1)
    flipped, ref_flipped = pts.copy(), ref.copy()
    flipped[:, 0], ref_flipped[0] = -flipped[:, 0], -ref_flipped[0]
    assert hypervolume(flipped, ref_flipped, maximize=mixed) == expected


def test_hypervolume_hand_cases_and_errors():
    assert hypervolume([[0.9, 0.7], [0.8, 0.8]], [0.0, 0.0], maximize=True) == pytest.approx(
        0.9 * 0.7 + 0.8 * 0.1
    )
    assert hypervolume(np.empty((0, 3)), [1, 1, 1], maximize=True) == 0.0
    assert hypervolume([[2.0]], [5.0], maximize=False) == 3.0
    assert hypervolume([[1, 1, 1]], [0, 0, 0], maximize=True) == 1.0
    with pytest.raises(DataValidationError) as e:
        hypervolume(np.ones((2, 4)), np.zeros(4), maximize=True)
    assert str(e.value) == MSG_HV_DIMENSION.format(n=4)


def test_knee_point_hand_built():
    # Convex front in (accuracy, worst-group accuracy): the bend is at (0.85, 0.80).
    front = np.array([[0.90, 0.60], [0.88, 0.75], [0.85, 0.80], [0.75, 0.82], [0.70, 0.83]])
    pts = np.vstack([front, [[0.80, 0.70]]])  # a dominated point is never the knee
    assert knee_point(pts, maximize=True) == 2
    assert knee_point(-pts, maximize=False) == 2  # the same front as losses
    assert knee_point(pts * [1, -1], maximize=[True, False]) == 2
    # 3-D: the extremes are the unit vectors; the knee is the balanced point.
    pts3 = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [0.5, 0.5, 0.5], [0.7, 0.3, 0.1]])
    assert knee_point(pts3, maximize=True) == 3
    assert knee_point([[1.0, 2.0]], maximize=True) == 0


def test_most_accurate_within_and_best_worst_within():
    overall = np.array([0.90, 0.89, 0.87, 0.80, np.nan])
    worst = np.array([0.60, 0.74, 0.75, 0.76, 0.99])
    # Best worst group is 0.76; within 0.01 -> rows 2 and 3; most accurate is row 2.
    assert select_most_accurate_within(overall, worst, 0.01) == 2
    assert select_most_accurate_within(overall, worst, 0.02) == 1
    assert select_most_accurate_within(overall, worst, 1.0) == 0
    # Best overall is 0.90; within 0.01 -> rows 0, 1; best worst group is row 1.
    assert select_best_worst_within(overall, worst, 0.01) == 1
    assert select_best_worst_within(overall, worst, 0.0) == 0
    # Losses: smaller is better.
    assert select_most_accurate_within(1 - overall, 1 - worst, 0.01, greater_is_better=False) == 2


def test_select_dispatches_by_name_and_callable():
    table = pd.DataFrame(
        {"overall": [0.90, 0.89, 0.87, 0.80], "worst": [0.60, 0.74, 0.75, 0.76]},
        index=[10, 11, 12, 13],
    )
    assert select("accuracy_within", table) == 2  # default delta 0.01
    assert select("accuracy_within:0.02", table) == 1
    assert select("worst_group_within:0.02", table) == 1
    assert select("worst_group_within:0.2", table) == 3
    assert select("knee", table) == knee_point(table.to_numpy(), maximize=True)
    assert select(lambda t: int(np.argmax(t["worst"])), table) == 3
    with pytest.raises(DataValidationError) as e:
        select("fastest", table)
    assert str(e.value) == MSG_UNKNOWN_POLICY.format(
        policy="fastest", choices=["accuracy_within", "knee", "worst_group_within"]
    )
    with pytest.raises(DataValidationError):
        select("accuracy_within:abc", table)
    with pytest.raises(DataValidationError):
        select(lambda t: 99, table)


@settings(max_examples=40, deadline=None)
@given(
    arrays(
        np.float64,
        st.tuples(st.integers(1, 6), st.integers(1, 7), st.integers(1, 3)),
        elements=st.sampled_from([0.0, 0.5, 1.0, 1.5, np.nan]),
    )
)
def test_robust_pareto_frequency_equals_loop(values):
    freq = robust_pareto_frequency(values, maximize=True)
    expected = np.mean([pareto_mask(v, maximize=True) for v in values], axis=0)
    np.testing.assert_allclose(freq, expected)


def test_robust_pareto_frequency_hand_case():
    # Model 0 always on the front; model 1 dominated in one resample of two.
    values = np.array([[[1.0, 1.0], [0.5, 2.0]], [[1.0, 1.0], [0.5, 0.5]]])
    np.testing.assert_allclose(robust_pareto_frequency(values, maximize=True), [1.0, 0.5])
    np.testing.assert_allclose(robust_pareto_frequency(-values, maximize=False), [1.0, 0.5])
