"""Tests of GroupEncoder, group_labels and check_groups_length."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from fairmtl.data import UNSEEN, GroupEncoder, check_groups_length, group_labels
from fairmtl.data._groups import (
    MSG_COLUMNS_MISMATCH,
    MSG_MERGED_STILL_SMALL,
    MSG_OTHER_LABEL_TAKEN,
    MSG_SMALL_GROUPS,
    MSG_UNSEEN_ERROR,
    MSG_UNSEEN_SHARED,
)
from fairmtl.data._labels import (
    MSG_AMBIGUOUS_LABEL,
    MSG_EMPTY_GROUPS,
    MSG_GROUPS_LENGTH,
    MSG_MISSING_GROUP,
    MSG_SEPARATOR_IN_LABEL,
)
from fairmtl.exceptions import (
    DataValidationError,
    DataWarning,
    SmallGroupWarning,
    UnseenGroupError,
)


def msg_regex(template: str) -> str:
    """A regex matching any message built from a ``MSG_*`` template."""
    return ".*".join(re.escape(part) for part in re.split(r"\{[^}]*\}", template))


SITES = pd.Series(["b", "a", "c", "a", "b", "a"], name="site")


def test_fit_attributes_follow_sorted_labels():
    enc = GroupEncoder().fit(SITES)
    assert enc.labels_.tolist() == ["a", "b", "c"]
    assert enc.sizes_.to_dict() == {"a": 3, "b": 2, "c": 1}
    assert enc.sizes_.index.tolist() == enc.labels_.tolist()
    assert enc.n_groups_ == 3
    assert enc.columns_ == ["site"]
    assert enc.merged_ == []
    ids = enc.transform(SITES)
    assert ids.dtype == np.int64
    assert ids.tolist() == [1, 0, 2, 0, 1, 0]
    assert enc.inverse_transform(ids).tolist() == SITES.tolist()


def test_unnamed_inputs():
    for groups in (["x", "y", "x"], np.array(["x", "y", "x"]), np.array([["x"], ["y"], ["x"]])):
        enc = GroupEncoder().fit(groups)
        assert enc.columns_ is None
        assert enc.transform(groups).tolist() == [0, 1, 0]


def test_row_permutation_does_not_change_ids():
    rng = np.random.default_rng(0)
    labels = rng.choice(["north", "south", "east", "west"], size=50)
    perm = rng.permutation(50)
    enc = GroupEncoder().fit(labels)
    enc_perm = GroupEncoder().fit(labels[perm])
    assert enc.labels_.tolist() == enc_perm.labels_.tolist()
    assert enc.sizes_.equals(enc_perm.sizes_)
    np.testing.assert_array_equal(enc.transform(labels)[perm], enc_perm.transform(labels[perm]))


def test_renaming_labels_reorders_ids_by_sorted_name():
    enc = GroupEncoder().fit(["b", "a", "b"])
    renamed = GroupEncoder().fit(["b", "z", "b"])  # "a" -> "z" now sorts after "b"
    assert enc.transform(["a", "b"]).tolist() == [0, 1]
    assert renamed.transform(["z", "b"]).tolist() == [1, 0]


def test_intersections_in_column_order():
    frame = pd.DataFrame({"race": ["Black", "White", "Black"], "sex": ["Female", "Male", "Male"]})
    enc = GroupEncoder().fit(frame)
    assert enc.labels_.tolist() == ["Black|Female", "Black|Male", "White|Male"]
    assert enc.columns_ == ["race", "sex"]
    # Columns given in another order are put back in fit's order.
    assert enc.transform(frame[["sex", "race"]]).tolist() == [0, 2, 1]
    assert GroupEncoder(separator=" x ").fit(frame).labels_[0] == "Black x Female"
    assert group_labels(frame).tolist() == ["Black|Female", "White|Male", "Black|Male"]


def test_intersection_from_2d_array():
    enc = GroupEncoder().fit(np.array([[1, 2], [3, 4], [1, 2]]))
    assert enc.labels_.tolist() == ["1|2", "3|4"]


def test_separator_inside_label_is_refused():
    frame = pd.DataFrame({"a": ["x|y", "z"], "b": ["u", "v"]})
    with pytest.raises(DataValidationError, match=msg_regex(MSG_SEPARATOR_IN_LABEL)) as e:
        GroupEncoder().fit(frame)
    assert "'x|y'" in str(e.value) and "'a'" in str(e.value)


def test_wrong_columns_at_transform():
    frame = pd.DataFrame({"race": ["B", "W"], "sex": ["F", "M"]})
    enc = GroupEncoder().fit(frame)
    with pytest.raises(DataValidationError, match=msg_regex(MSG_COLUMNS_MISMATCH)):
        enc.transform(frame[["sex"]])
    with pytest.raises(DataValidationError, match="race"):
        GroupEncoder().fit(SITES).transform(frame)


def test_long_and_unicode_labels_untouched():
    long_label = "Krankenhaus " + "\u00fc" * 500 + " \u6771\u4eac \U0001f3e5"
    labels = [long_label, "\u00c9cole", long_label]
    enc = GroupEncoder().fit(labels)
    assert set(enc.labels_.tolist()) == {long_label, "\u00c9cole"}
    assert enc.inverse_transform(enc.transform(labels)).tolist() == labels


def test_numbers_become_strings():
    enc = GroupEncoder().fit(pd.Series([10, 2, 10], name="hospital_id"))
    assert enc.labels_.tolist() == ["10", "2"]  # sorted as strings
    assert enc.transform(pd.Series([2, 10])).tolist() == [1, 0]


def test_missing_group_names_column_and_row():
    groups = pd.Series(["a", None, "b", np.nan], name="site", index=[10, 11, 12, 13])
    with pytest.raises(DataValidationError, match=msg_regex(MSG_MISSING_GROUP)) as e:
        GroupEncoder().fit(groups)
    message = str(e.value)
    assert "'site'" in message and "2 row(s)" in message and "row 11" in message


def test_missing_group_at_transform():
    enc = GroupEncoder().fit(SITES)
    with pytest.raises(DataValidationError, match="missing"):
        enc.transform(pd.Series(["a", None], name="site"))


def test_mixed_types_that_clash():
    groups = pd.Series([1, "1", 2], dtype=object, name="ward")
    with pytest.raises(DataValidationError, match=msg_regex(MSG_AMBIGUOUS_LABEL)) as e:
        GroupEncoder().fit(groups)
    assert "'ward'" in str(e.value) and "'1'" in str(e.value)
    # Mixed types that do not clash are fine.
    assert GroupEncoder().fit(pd.Series([1, "x"], dtype=object)).labels_.tolist() == ["1", "x"]


def test_empty_groups():
    for empty in ([], pd.Series([], dtype=object), np.empty((0, 2))):
        with pytest.raises(DataValidationError, match=msg_regex(MSG_EMPTY_GROUPS)):
            GroupEncoder().fit(empty)


def test_check_groups_length():
    check_groups_length(SITES, 6)
    with pytest.raises(DataValidationError, match=msg_regex(MSG_GROUPS_LENGTH)) as e:
        check_groups_length(SITES, 5)
    assert "6" in str(e.value) and "5" in str(e.value)
    check_groups_length(["a", "b"], 2)


def test_small_groups_warn():
    with pytest.warns(SmallGroupWarning, match=r"'c' \(1 rows\)") as record:
        enc = GroupEncoder(min_group_size=2).fit(SITES)
    assert "'b'" not in str(record[0].message)
    assert enc.n_groups_ == 3


def test_small_groups_error():
    with pytest.raises(DataValidationError, match=msg_regex(MSG_SMALL_GROUPS)) as e:
        GroupEncoder(min_group_size=3, small_groups="error").fit(SITES)
    assert "'b' (2 rows)" in str(e.value) and "'c' (1 rows)" in str(e.value)


def test_small_groups_merge_and_transform():
    enc = GroupEncoder(min_group_size=3, small_groups="merge", other_label="rest").fit(SITES)
    assert enc.labels_.tolist() == ["a", "rest"]
    assert enc.merged_ == ["b", "c"]
    assert enc.sizes_.to_dict() == {"a": 3, "rest": 3}
    assert enc.transform(["c", "b", "a"]).tolist() == [1, 1, 0]


def test_merged_group_still_small_warns():
    with pytest.warns(SmallGroupWarning, match=msg_regex(MSG_MERGED_STILL_SMALL)):
        GroupEncoder(min_group_size=2, small_groups="merge").fit(SITES)


def test_merge_into_existing_label_is_refused():
    groups = ["other"] * 5 + ["a"]
    with pytest.raises(DataValidationError, match=msg_regex(MSG_OTHER_LABEL_TAKEN)):
        GroupEncoder(min_group_size=2, small_groups="merge").fit(groups)


def test_unseen_shared_warns_and_gives_minus_one():
    enc = GroupEncoder().fit(SITES)
    with pytest.warns(DataWarning, match=msg_regex(MSG_UNSEEN_SHARED)) as record:
        ids = enc.transform(["a", "zz", "zz", "yy"])
    assert ids.tolist() == [0, UNSEEN, UNSEEN, UNSEEN]
    assert UNSEEN == -1
    assert "3 row(s)" in str(record[0].message) and "'zz'" in str(record[0].message)
    assert enc.inverse_transform(ids).tolist() == ["a", None, None, None]


def test_unseen_error_names_up_to_five():
    enc = GroupEncoder(unseen="error").fit(SITES)
    new = [f"new{i}" for i in range(8)]
    with pytest.raises(UnseenGroupError, match=msg_regex(MSG_UNSEEN_ERROR)) as e:
        enc.transform(["a", *new])
    message = str(e.value)
    assert "'new0'" in message and "'new4'" in message and "'new5'" not in message
    assert "and 3 more" in message and "8 row(s)" in message


def test_seen_groups_raise_no_warning():
    enc = GroupEncoder(unseen="error").fit(SITES)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        enc.transform(SITES)


def test_inverse_transform_rejects_bad_ids():
    enc = GroupEncoder().fit(SITES)
    with pytest.raises(DataValidationError, match="from -1 to 2"):
        enc.inverse_transform([3])
    with pytest.raises(DataValidationError):
        enc.inverse_transform([0.5])
    assert enc.inverse_transform([]).shape == (0,)
    assert enc.transform(pd.Series([], dtype=object, name="site")).shape == (0,)


def test_sklearn_contract():
    enc = GroupEncoder(min_group_size=4, small_groups="merge")
    assert clone(enc).get_params() == enc.get_params()
    ids = GroupEncoder().fit_transform(SITES)
    assert ids.tolist() == [1, 0, 2, 0, 1, 0]
    with pytest.raises(ValueError, match="'small_groups' parameter of GroupEncoder"):
        GroupEncoder(small_groups="drop").fit(SITES)
    with pytest.raises(ValueError, match="min_group_size"):
        GroupEncoder(min_group_size=0).fit(SITES)


def test_mixed_types_keyed_by_type():
    # 1, 1.0 and True are equal in Python, yet are three distinct labels here.
    groups = pd.Series([1, 1.0, True, "a"], dtype=object)
    enc = GroupEncoder().fit(groups)
    assert enc.labels_.tolist() == ["1", "1.0", "True", "a"]
    assert enc.transform(groups).tolist() == [0, 1, 2, 3]
    assert group_labels(groups).tolist() == ["1", "1.0", "True", "a"]


def test_large_intersection_matches_joined_strings():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.choice(["x", "y", "z"], 5000), "b": rng.integers(0, 40, 5000)})
    enc = GroupEncoder().fit(frame)
    expected = (frame["a"] + "|" + frame["b"].astype(str)).to_numpy()
    np.testing.assert_array_equal(enc.labels_[enc.transform(frame)], expected)
    assert enc.labels_.tolist() == sorted(set(expected))


# -- groups unseen in fit (fairmtl.data.route_groups) ----------------------------------


@pytest.mark.parametrize("shared", [True, False])
def test_route_groups_follows_the_unseen_group_policy(shared):
    from fairmtl.data import (
        MISSING_GROUP,
        SHARED_GROUP,
        UNPREDICTED_GROUP,
        route_groups,
    )

    frame = pd.DataFrame({"site": ["a", "b", None, "a", "b"], "sex": ["F", "F", "M", "M", "M"]})
    before = frame.copy()
    routing = route_groups(frame, ["site", "sex"], ["a|F", "a|M"], has_shared_part=shared)
    # written out by hand, row by row: seen, unseen, missing site, seen, unseen
    assert routing.seen.tolist() == [True, False, False, True, False]
    assert routing.usable.tolist() == [True, shared, shared, True, shared]
    other = SHARED_GROUP if shared else UNPREDICTED_GROUP
    assert routing.output_groups().tolist() == ["a|F", other, other, "a|M", other]
    assert routing.unseen_counts() == {"b|F": 1, f"{MISSING_GROUP}|M": 1, "b|M": 1}
    pd.testing.assert_frame_equal(frame, before)  # the caller's frame is not modified


def test_group_labels_missing_rule():
    column = pd.Series([67.0, np.nan, 3.0], name="age")
    with pytest.raises(DataValidationError, match="missing in 1 row"):
        group_labels(column)  # fitting needs every row's group
    # a label for missing values; whole floats (integer codes with gaps) read as integers
    assert group_labels(column, missing="(missing)").tolist() == ["67", "(missing)", "3"]
    both = pd.DataFrame({"age": column, "site": ["a", "b", None]})
    assert group_labels(both, missing="?").tolist() == ["67|a", "?|b", "3|?"]


@pytest.mark.parametrize(
    ("groups", "params"),
    [
        (np.array(["b", "a", "c", "a", "b", "a", "z"], dtype=object), {}),
        (
            np.array(["b", "a", "c", "a", "b", "a", "z"], dtype=object),
            {"min_group_size": 2, "small_groups": "merge"},
        ),  # fmt: skip
        (pd.DataFrame({"race": ["x", "y", "x", "y"], "sex": ["f", "f", "m", "m"]}), {}),
        (np.array([3, 1, 2, 3, 1.0]), {}),
    ],
)
def test_fit_transform_equals_fit_then_transform(groups, params):
    """Reading the groups once gives the ids (and the fitted state) of fit, then transform."""
    once = GroupEncoder(**params)
    ids = once.fit_transform(groups)
    twice = GroupEncoder(**params).fit(groups)
    np.testing.assert_array_equal(ids, twice.transform(groups))
    np.testing.assert_array_equal(once.labels_, twice.labels_)
    assert once.merged_ == twice.merged_
