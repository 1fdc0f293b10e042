"""Tests of train_val_test_split."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
import pytest

from fairmtl.data import SplitResult, train_val_test_split
from fairmtl.data._split import MSG_SIZES_TOO_LARGE, MSG_TOO_SMALL, MSG_Y_LENGTH
from fairmtl.exceptions import DataValidationError, SmallGroupWarning


def msg_regex(template: str) -> str:
    """A regex matching any message built from a ``MSG_*`` template."""
    return ".*".join(re.escape(part) for part in re.split(r"\{[^}]*\}", template))


def _data(n=600, seed=0):
    rng = np.random.default_rng(seed)
    groups = rng.choice(["north", "south", "east", "tiny"], size=n, p=[0.5, 0.3, 0.18, 0.02])
    y = rng.integers(0, 2, size=n)
    return np.zeros((n, 2)), y, groups


def _check_partition(split: SplitResult, n: int) -> None:
    parts = [split.train, split.val, split.test]
    for part in parts:
        assert part.dtype == np.int64
        assert np.all(np.diff(part) > 0)  # sorted, no repeats
    together = np.concatenate(parts)
    assert len(together) == n
    np.testing.assert_array_equal(np.sort(together), np.arange(n))


def test_every_row_once_and_every_group_everywhere():
    X, y, g = _data()
    split = train_val_test_split(X, y, g, random_state=0)
    _check_partition(split, len(y))
    assert split.stratify == "group_label" and split.too_small == ()
    for label in np.unique(g):
        n_group = np.sum(g == label)
        for part, share in ((split.train, 0.6), (split.val, 0.2), (split.test, 0.2)):
            count = np.sum(g[part] == label)
            assert count >= 1
            assert abs(count - share * n_group) <= 2


def test_stratified_by_label_within_groups():
    rng = np.random.default_rng(1)
    g = np.repeat(["a", "b"], 200)
    y = np.where(g == "a", rng.random(400) < 0.1, rng.random(400) < 0.6).astype(int)
    split = train_val_test_split(np.zeros(400), y, g, random_state=3)
    for label in ("a", "b"):
        rate = y[g == label].mean()
        for part in (split.val, split.test):
            mask = g[part] == label
            assert abs(y[part][mask].mean() - rate) < 0.03


def test_deterministic_for_a_seed():
    X, y, g = _data()
    a = train_val_test_split(X, y, g, random_state=7)
    b = train_val_test_split(X, y, g, random_state=7)
    c = train_val_test_split(X, y, g, random_state=8)
    for part in ("train", "val", "test"):
        np.testing.assert_array_equal(getattr(a, part), getattr(b, part))
    assert not np.array_equal(a.test, c.test)


def test_small_group_goes_to_train_with_warning():
    g = np.array(["big"] * 20 + ["small"] * 2)
    with pytest.warns(SmallGroupWarning, match=msg_regex(MSG_TOO_SMALL)) as record:
        split = train_val_test_split(np.zeros(22), None, g, random_state=0)
    assert "'small' (2 rows)" in str(record[0].message)
    assert split.too_small == ("small",)
    assert set(np.flatnonzero(g == "small")) <= set(split.train)
    _check_partition(split, 22)


def test_min_per_split():
    g = np.array(["a"] * 30 + ["b"] * 8)
    with pytest.warns(SmallGroupWarning, match="'b' \\(8 rows\\)"):
        split = train_val_test_split(np.zeros(38), None, g, min_per_split=3, random_state=0)
    assert split.too_small == ("b",)
    for part in (split.train, split.val, split.test):
        assert np.sum(g[part] == "a") >= 3


def test_single_row_classes_handled():
    # In group "a", class 2 has one row: it cannot be stratified, and must not crash.
    g = np.array(["a"] * 11 + ["b"] * 10)
    y = np.array([0] * 5 + [1] * 5 + [2] + [0, 1] * 5)
    split = train_val_test_split(np.zeros(21), y, g, random_state=0)
    _check_partition(split, 21)
    assert split.too_small == ()


def test_group_stratify_for_regression_and_intersections():
    rng = np.random.default_rng(2)
    groups = pd.DataFrame({"race": rng.choice(["B", "W"], 100), "sex": rng.choice(["F", "M"], 100)})
    y = rng.normal(size=100)
    split = train_val_test_split(np.zeros(100), y, groups, random_state=0)
    assert split.stratify == "group"
    _check_partition(split, 100)
    labels = groups["race"] + "|" + groups["sex"]
    for part in (split.train, split.val, split.test):
        assert set(labels.iloc[part]) == set(labels)


def test_no_stratify_and_no_val():
    X, y, g = _data(n=50)
    split = train_val_test_split(X, y, g, stratify=None, val_size=0.0, random_state=0)
    assert split.stratify is None and len(split.val) == 0 and len(split.test) == 10
    _check_partition(split, 50)


def test_no_warning_when_groups_are_large():
    X, y, g = _data()
    keep = g != "tiny"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        train_val_test_split(X[keep], y[keep], g[keep], random_state=0)


def test_errors():
    X, y, g = _data(n=20)
    with pytest.raises(DataValidationError, match="groups has 19 rows but the data has 20"):
        train_val_test_split(X, y, g[:-1])
    with pytest.raises(DataValidationError, match=msg_regex(MSG_Y_LENGTH)):
        train_val_test_split(X, y[:-1], g)
    with pytest.raises(ValueError, match=msg_regex(MSG_SIZES_TOO_LARGE)):
        train_val_test_split(X, y, g, val_size=0.5, test_size=0.5)
    with pytest.raises(ValueError, match="'test_size' parameter"):
        train_val_test_split(X, y, g, test_size=1.5)
    with pytest.raises(ValueError, match="'stratify' parameter"):
        train_val_test_split(X, y, g, stratify="label")
    with pytest.raises(DataValidationError, match="missing"):
        train_val_test_split(X, y, np.where(np.arange(20) == 3, None, g))
