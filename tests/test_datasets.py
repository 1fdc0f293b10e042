"""Tests of the bundled datasets and their loaders.

Expected numbers come from the sources' own documentation (row counts, rows without
unknowns and class shares from UCI's adult.names, 700/300 good/bad for German Credit) or
are computed directly from the bundled gzip files with the standard library's csv module.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import re
import socket
import sys
import tomllib
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fairmtl._suggest import MSG_DID_YOU_MEAN
from fairmtl.datasets import (
    _reader,
    dataset_path,
    list_datasets,
    load_adult,
    load_census_kdd,
    load_compas,
    load_dataset,
    load_german,
)
from fairmtl.datasets._reader import (
    MISSING_GROUP_LABEL,
    MSG_NO_SPLITS,
    MSG_SPLIT_REQUIRED,
    MSG_UNKNOWN_DATASET,
    MSG_UNKNOWN_GROUP_COLUMN,
)
from fairmtl.exceptions import DataValidationError

REPO = Path(__file__).resolve().parents[1]

# Documented row counts (SOURCES.md of the raw data, UCI's .names files).
ADULT_TRAIN, ADULT_TEST = 32561, 16281
COMPAS_ROWS = 7214
GERMAN_ROWS = 1000
KDD_TRAIN, KDD_TEST = 199523, 99762
# adult.names: "45222 if instances with unknown values are removed (train=30162, test=15060)"
ADULT_TRAIN_COMPLETE, ADULT_TEST_COMPLETE = 30162, 15060


def _raw_rows(name: str, split: str | None = None) -> list[dict[str, str]]:
    """The bundled file read with the csv module only (independent of the loaders)."""
    with gzip.open(dataset_path(name, split), "rt", encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def kdd_test():
    return load_census_kdd(split="test")


@pytest.mark.parametrize(
    ("loader", "kwargs", "n_rows"),
    [
        (load_adult, {}, ADULT_TRAIN),
        (load_adult, {"split": "test"}, ADULT_TEST),
        (load_adult, {"split": "all"}, ADULT_TRAIN + ADULT_TEST),
        (load_compas, {}, COMPAS_ROWS),
        (load_german, {}, GERMAN_ROWS),
    ],
)
def test_row_counts_match_the_sources(loader, kwargs, n_rows):
    data = loader(**kwargs)
    assert len(data.data) == len(data.target) == len(data.groups) == len(data.frame) == n_rows
    assert data.target.isin([0, 1]).all()
    assert data.target_name not in data.data.columns


def test_census_kdd_row_counts(kdd_test):
    assert len(kdd_test.data) == KDD_TEST
    train = load_census_kdd(split="train", return_X_y=True)
    assert all(len(part) == KDD_TRAIN for part in train)


def test_loaders_do_not_touch_the_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a loader tried to open a socket")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    assert len(load_adult(split="test").data) == ADULT_TEST
    assert len(load_compas().data) == COMPAS_ROWS
    assert len(load_german().data) == GERMAN_ROWS
    assert len(load_census_kdd(split="test", n_samples=1000).data) == 1000


def test_adult_default_groups_are_race_by_sex():
    data = load_adult()
    counted = Counter(f"{r['race']}|{r['sex']}" for r in _raw_rows("adult", "train"))
    assert data.group_columns == ["race", "sex"]
    assert data.groups.nunique() == 10
    assert {"White|Male", "Black|Female", "Amer-Indian-Eskimo|Female"} <= set(data.groups)
    assert data.groups.value_counts().to_dict() == dict(counted)
    assert "race" not in data.data.columns and "sex" not in data.data.columns


def test_default_groups_of_the_other_datasets(kdd_test):
    assert load_compas().groups.nunique() == 6
    assert set(load_german().groups) == {"male", "female"}
    assert kdd_test.groups.nunique() == 10
    assert "White|Female" in set(kdd_test.groups)


def test_custom_groups_and_order():
    assert set(load_adult(groups="sex").groups) == {"Male", "Female"}
    data = load_adult(groups=("sex", "race"), split="test")
    assert "Female|Black" in set(data.groups)
    assert data.groups.name == "sex|race"
    kept = load_compas(groups=("race", "sex"), drop_group_columns=False)
    assert {"race", "sex"} <= set(kept.data.columns)
    assert "Caucasian|Female" in set(kept.groups)


def test_misspelled_group_column_names_it_and_suggests():
    with pytest.raises(DataValidationError) as err:
        load_adult(groups=("rase", "sex"))
    message = str(err.value)
    assert "'rase'" in message
    assert MSG_DID_YOU_MEAN.format(suggestion="race") in message
    prefix = MSG_UNKNOWN_GROUP_COLUMN.split("{hint}")[0].format(column="rase", dataset="adult")
    assert message.startswith(prefix)


def test_bad_arguments_raise_clear_errors():
    with pytest.raises(DataValidationError, match="target"):
        load_adult(groups="income")
    with pytest.raises(DataValidationError, match="more than once"):
        load_adult(groups=("sex", "sex"))
    with pytest.raises(DataValidationError, match="'split' parameter of load_adult"):
        load_adult(split="validation")
    with pytest.raises(DataValidationError, match="'n_samples' parameter"):
        load_census_kdd(split="test", n_samples=KDD_TEST + 1)


def test_missing_values_are_nan_and_no_row_is_dropped():
    for split, n_rows, complete in [
        ("train", ADULT_TRAIN, ADULT_TRAIN_COMPLETE),
        ("test", ADULT_TEST, ADULT_TEST_COMPLETE),
    ]:
        frame = load_adult(split=split).frame
        assert len(frame) == n_rows
        assert int(frame.notna().all(axis=1).sum()) == complete
    raw = _raw_rows("adult", "train")
    frame = load_adult(drop_group_columns=False).frame
    for column in ("workclass", "occupation", "native_country"):
        assert int(frame[column].isna().sum()) == sum(r[column] == "" for r in raw) > 0


def test_missing_group_values_get_their_own_label():
    raw = _raw_rows("adult", "train")
    groups = load_adult(groups="native_country").groups
    assert (groups == MISSING_GROUP_LABEL).sum() == sum(r["native_country"] == "" for r in raw)
    assert groups.notna().all()


def test_dtypes_are_explicit():
    data = load_adult(split="all")
    numeric = ["age", "fnlwgt", "education_num", "capital_gain", "capital_loss"]
    assert all(data.data[c].dtype == np.float64 for c in numeric)
    assert all(isinstance(data.data[c].dtype, pd.CategoricalDtype) for c in ("workclass",))
    assert data.target.dtype == np.int64
    # the union of train and test categories
    assert "Holand-Netherlands" in data.data["native_country"].cat.categories


def test_targets_follow_the_documented_coding():
    # adult.names: P(>50K) = 23.93% over train + test
    assert load_adult(split="all").target.mean() == pytest.approx(0.2393, abs=5e-5)
    german = load_german(drop_group_columns=False)
    assert int(german.target.sum()) == 300  # 700 good, 300 bad; 1 = bad
    assert german.target_name == "bad_credit"
    assert "credit_risk" not in german.frame.columns  # replaced by the 0/1 target
    raw = _raw_rows("compas")
    assert int(load_compas().target.sum()) == sum(r["two_year_recid"] == "1" for r in raw)


def test_german_sex_is_derived_from_personal_status():
    data = load_german(drop_group_columns=False)
    female = data.data["personal_status"].isin(["A92", "A95"])
    assert (data.data["sex"] == "female").eq(female).all()
    assert "A11" in set(data.data["checking_account"])


def test_compas_leaves_leaky_columns_out_of_X():
    data = load_compas()
    for column in ("is_recid", "decile_score", "score_text", "two_year_recid"):
        assert column not in data.data.columns
    assert {"is_recid", "decile_score", "score_text"} <= set(data.frame.columns)


def test_census_kdd_weight_and_target(kdd_test):
    raw_weights = np.array([float(r["instance_weight"]) for r in _raw_rows("census_kdd", "test")])
    assert "instance_weight" not in kdd_test.data.columns
    np.testing.assert_allclose(kdd_test.sample_weight.to_numpy(), raw_weights)
    assert kdd_test.target.mean() == pytest.approx(0.062, abs=0.001)  # UCI: about 6.2%
    assert kdd_test.data.shape[1] == 42 - 4  # minus target, race, sex, instance_weight


def test_census_kdd_subset_is_stratified_and_seeded(kdd_test):
    n = 5000
    sub = load_census_kdd(split="test", n_samples=n, random_state=1)
    again = load_census_kdd(split="test", n_samples=n, random_state=1)
    other = load_census_kdd(split="test", n_samples=n, random_state=2)
    assert len(sub.data) == len(sub.sample_weight) == n
    pd.testing.assert_frame_equal(sub.frame, again.frame)
    assert not sub.frame.equals(other.frame)
    share = kdd_test.groups.value_counts(normalize=True)
    counts = sub.groups.value_counts()
    assert set(counts.index) == set(share.index)
    assert (abs(counts - n * share[counts.index]) < 1).all()
    assert set(sub.sample_weight) <= set(kdd_test.sample_weight)


def test_return_X_y_and_numpy_output():
    X, y, groups = load_german(return_X_y=True)
    assert isinstance(X, pd.DataFrame) and isinstance(y, pd.Series)
    assert isinstance(groups, pd.Series) and groups.name == "sex"
    X, y, groups = load_german(return_X_y=True, as_frame=False)
    assert isinstance(X, np.ndarray) and X.shape == (GERMAN_ROWS, 20)
    assert isinstance(y, np.ndarray) and isinstance(groups, np.ndarray)
    assert load_german(as_frame=False).frame is None


def test_load_dataset_dispatches_by_name():
    assert len(load_dataset("Adult", split="test").data) == ADULT_TEST
    assert len(load_dataset("census-kdd", split="test", n_samples=10).data) == 10
    with pytest.raises(DataValidationError) as err:
        load_dataset("compass")
    hint = MSG_DID_YOU_MEAN.format(suggestion="compas")
    available = "adult, compas, german, census_kdd"
    assert str(err.value) == MSG_UNKNOWN_DATASET.format(
        name="compass", hint=hint, available=available
    )


def test_list_datasets_describes_every_dataset():
    table = list_datasets()
    assert list(table["name"]) == ["adult", "compas", "german", "census_kdd"]
    rows = dict(zip(table["name"], table["rows"], strict=True))
    assert rows == {
        "adult": ADULT_TRAIN + ADULT_TEST,
        "compas": COMPAS_ROWS,
        "german": GERMAN_ROWS,
        "census_kdd": KDD_TRAIN + KDD_TEST,
    }
    n_features = dict(zip(table["name"], table["n_features"], strict=True))
    assert n_features["adult"] == load_adult().data.shape[1]
    assert n_features["compas"] == load_compas().data.shape[1]
    assert n_features["german"] == load_german().data.shape[1]
    assert {"target", "default_groups", "description"} <= set(table.columns)


def test_dataset_path_needs_a_split_only_for_split_datasets():
    assert dataset_path("compas").name == "compas.csv.gz"
    assert dataset_path("census_kdd", "train").name == "census_kdd_train.csv.gz"
    with pytest.raises(DataValidationError) as err:
        dataset_path("adult")
    assert str(err.value) == MSG_SPLIT_REQUIRED.format(dataset="adult", split=None)
    with pytest.raises(DataValidationError) as err:
        dataset_path("german", "train")
    assert str(err.value) == MSG_NO_SPLITS.format(dataset="german", split="train")


def _readme_table() -> dict[str, tuple[int, str]]:
    text = (REPO / "datasets" / "README.md").read_text()
    pattern = r"^\| (\S+\.csv\.gz) \| \S+ \| (\d+) \| \d+ \| \d+ \| ([0-9a-f]{64}) \|$"
    return {m[1]: (int(m[2]), m[3]) for m in re.finditer(pattern, text, flags=re.M)}


def test_bundled_files_match_the_readme_checksums():
    table = _readme_table()
    files = {
        "adult_train.csv.gz": ADULT_TRAIN,
        "adult_test.csv.gz": ADULT_TEST,
        "compas.csv.gz": COMPAS_ROWS,
        "german.csv.gz": GERMAN_ROWS,
        "census_kdd_train.csv.gz": KDD_TRAIN,
        "census_kdd_test.csv.gz": KDD_TEST,
    }
    assert set(table) == set(files)
    for file, n_rows in files.items():
        path = REPO / "datasets" / file
        assert table[file] == (n_rows, hashlib.sha256(path.read_bytes()).hexdigest()), file
        assert path.read_bytes()[4:8] == b"\x00\x00\x00\x00", f"{file}: gzip mtime is not 0"


def test_files_are_found_through_the_installed_package(tmp_path, monkeypatch):
    # An installed wheel holds the files in the package fairmtl.datasets._files; stand in
    # for it with a namespace package of the same shape on sys.path.
    package = tmp_path / "fake_fairmtl_files"
    package.mkdir()
    (package / "german.csv.gz").write_bytes((REPO / "datasets" / "german.csv.gz").read_bytes())
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(_reader, "_PACKAGE_FILES", "fake_fairmtl_files")
    assert dataset_path("german") == package / "german.csv.gz"
    assert len(load_german().data) == GERMAN_ROWS
    # a file missing from the package falls back to the source checkout
    assert dataset_path("compas") == REPO / "datasets" / "compas.csv.gz"
    sys.modules.pop("fake_fairmtl_files", None)


def test_missing_file_error_says_how_to_fix(tmp_path, monkeypatch):
    monkeypatch.setattr(_reader, "_SOURCE_FILES", tmp_path)
    with pytest.raises(FileNotFoundError, match="build_datasets.py"):
        dataset_path("german")


def test_pyproject_ships_the_data_files_when_mapped():
    config = tomllib.loads((REPO / "pyproject.toml").read_text()).get("tool", {})
    setuptools = config.get("setuptools", {})
    mapping = setuptools.get("package-dir", {})
    if "fairmtl.datasets._files" not in mapping:
        pytest.skip("pyproject.toml does not map datasets/ to fairmtl.datasets._files yet")
    assert mapping["fairmtl.datasets._files"] == "datasets"
    assert "*.csv.gz" in setuptools["package-data"]["fairmtl.datasets._files"]
    packages = setuptools.get("packages")
    assert isinstance(packages, list), "find cannot discover the mapped package; list packages"
    # every folder of the package that holds files: subpackages and data folders
    # (fairmtl.report.templates), which setuptools warns about unless they are listed
    on_disk = {
        ".".join(p.parent.relative_to(REPO).parts)
        for p in (REPO / "fairmtl").rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and "_files" not in p.parts
    }
    unlisted = (on_disk | {"fairmtl.datasets._files"}) - set(packages)
    assert not unlisted, f"pyproject.toml's packages list misses {sorted(unlisted)}"
