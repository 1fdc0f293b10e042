"""Reading the bundled data files: locating them, dtypes, group labels, subsets.

The files are gzip CSVs shipped inside the package (``fairmtl.datasets._files``, which is
the repository's ``datasets/`` folder); nothing here touches the network. The public
loaders in :mod:`fairmtl.datasets._loaders` call :func:`load`.
"""

from __future__ import annotations

import importlib.resources
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from pandas.api.types import union_categoricals

from fairmtl._suggest import did_you_mean
from fairmtl.datasets._checks import check_bool, check_int
from fairmtl.datasets._registry import DATASETS, DatasetSpec
from fairmtl.exceptions import DataValidationError

if TYPE_CHECKING:  # sklearn is imported on use, to keep `import fairmtl.datasets` light
    from sklearn.utils import Bunch

__all__ = ["dataset_path", "group_labels", "load", "spec_of"]

GROUP_SEPARATOR = "|"
MISSING_GROUP_LABEL = "(missing)"
SPLITS = ("train", "test", "all")

MSG_UNKNOWN_DATASET = "Unknown dataset {name!r}.{hint} Available datasets: {available}."
MSG_UNKNOWN_GROUP_COLUMN = (
    "Group column {column!r} is not a column of the {dataset} dataset.{hint} "
    "Available columns: {columns}."
)
MSG_GROUP_IS_TARGET = (
    "Group column {column!r} is the target of the {dataset} dataset; choose a group "
    "column among the features."
)
MSG_NO_GROUPS = "groups must name at least one column of the {dataset} dataset; got {groups!r}."
MSG_DUPLICATE_GROUPS = "groups names a column more than once: {groups!r}."
MSG_SPLIT_REQUIRED = (
    "The {dataset} dataset has one file per split; pass split='train' or split='test'. "
    "Got {split!r}."
)
MSG_NO_SPLITS = "The {dataset} dataset has a single file; pass split=None. Got {split!r}."
MSG_FILE_MISSING = (
    "The bundled file {file!r} was not found in the installed package nor in {folder}. "
    "Reinstall fairmtl, or in a source checkout run: python scripts/build_datasets.py"
)
MSG_BAD_FILE = (
    "The bundled file {file!r} does not have the expected {what}: expected {expected}, "
    "got {got}. Reinstall fairmtl or rebuild it with scripts/build_datasets.py."
)

_PACKAGE_FILES = "fairmtl.datasets._files"
_SOURCE_FILES = Path(__file__).resolve().parents[2] / "datasets"


def spec_of(name: str) -> DatasetSpec:
    """Return the spec of a dataset by name (case and '-' / '_' do not matter)."""
    key = str(name).strip().lower().replace("-", "_")
    if key not in DATASETS:
        hint = did_you_mean(key, DATASETS, cutoff=0.4)
        raise DataValidationError(
            MSG_UNKNOWN_DATASET.format(name=name, hint=hint, available=", ".join(DATASETS))
        )
    return DATASETS[key]


def dataset_path(name: str, split: str | None = None) -> Path:
    """Return the path of a bundled data file (a gzip CSV with a header row).

    Parameters
    ----------
    name : {'adult', 'compas', 'german', 'census_kdd'}
        The dataset.
    split : {'train', 'test'} or None, default=None
        The file of a dataset with a train and a test file (Adult, Census-KDD); must be
        None (or ``'all'``) for the single-file datasets (COMPAS, German).

    Returns
    -------
    path : pathlib.Path
        The file inside the installed package (or the source checkout's ``datasets/``).

    Examples
    --------
    >>> from fairmtl.datasets import dataset_path
    >>> dataset_path("german").name
    'german.csv.gz'
    >>> dataset_path("adult", "test").name
    'adult_test.csv.gz'
    """
    spec = spec_of(name)
    if "all" in spec.files:
        if split not in (None, "all"):
            raise DataValidationError(MSG_NO_SPLITS.format(dataset=spec.name, split=split))
        file = spec.files["all"]
    else:
        if split not in spec.files:
            raise DataValidationError(MSG_SPLIT_REQUIRED.format(dataset=spec.name, split=split))
        file = spec.files[split]
    return _locate(file)


def _locate(file: str) -> Path:
    """The installed package's copy of ``file``, else the source checkout's ``datasets/``."""
    try:
        resource = importlib.resources.files(_PACKAGE_FILES).joinpath(file)
    except ModuleNotFoundError:  # source checkout or editable install without the mapping
        resource = None
    if resource is not None and resource.is_file():
        return Path(str(resource))
    fallback = _SOURCE_FILES / file
    if fallback.is_file():
        return fallback
    raise FileNotFoundError(MSG_FILE_MISSING.format(file=file, folder=_SOURCE_FILES))


def _read_file(spec: DatasetSpec, split: str) -> pd.DataFrame:
    file = spec.files[split]
    dtypes = {c: (np.float64 if c in spec.numeric else "category") for c in spec.columns}
    frame = pd.read_csv(
        _locate(file),
        compression="gzip",
        dtype=dtypes,
        keep_default_na=False,
        na_values=[""],
        low_memory=False,
    )
    if tuple(frame.columns) != spec.columns:
        raise DataValidationError(
            MSG_BAD_FILE.format(
                file=file, what="columns", expected=list(spec.columns), got=list(frame.columns)
            )
        )
    if len(frame) != spec.rows[split]:
        raise DataValidationError(
            MSG_BAD_FILE.format(
                file=file, what="row count", expected=spec.rows[split], got=len(frame)
            )
        )
    for column in spec.columns:
        # Code columns (KDD's recodes, year) are categorical too; pandas >= 3 infers
        # int categories for them, pandas 2 str ones. Make them str everywhere.
        categorical = column not in spec.numeric
        if categorical and not pd.api.types.is_string_dtype(frame[column].cat.categories):
            frame[column] = frame[column].cat.rename_categories(str)
    return frame


def _read(spec: DatasetSpec, split: str) -> pd.DataFrame:
    parts = [_read_file(spec, s) for s in (spec.files if split == "all" else [split])]
    if len(parts) == 1:
        return parts[0]
    # Train and test observe different categories; give each column their union.
    frame = pd.concat(parts, ignore_index=True)
    for column in spec.columns:
        if column not in spec.numeric:
            frame[column] = union_categoricals(
                [part[column] for part in parts], sort_categories=True
            )
    return frame


def _check_groups(spec: DatasetSpec, groups: str | Sequence[str]) -> list[str]:
    columns = [groups] if isinstance(groups, str) else list(groups)
    if not columns:
        raise DataValidationError(MSG_NO_GROUPS.format(dataset=spec.name, groups=groups))
    if len(set(columns)) != len(columns):
        raise DataValidationError(MSG_DUPLICATE_GROUPS.format(groups=groups))
    for column in columns:
        if column == spec.target or column == spec.target_name:
            raise DataValidationError(MSG_GROUP_IS_TARGET.format(column=column, dataset=spec.name))
        if column not in spec.columns:
            hint = did_you_mean(column, spec.columns, cutoff=0.4)
            raise DataValidationError(
                MSG_UNKNOWN_GROUP_COLUMN.format(
                    column=column, dataset=spec.name, hint=hint, columns=", ".join(spec.columns)
                )
            )
    return columns


def group_labels(frame: pd.DataFrame, columns: Sequence[str]) -> pd.Series:
    """Return one label per row (:func:`fairmtl.data.group_labels`, intersections joined
    with ``'|'``), as a Series named by the joined column names.

    Missing values become ``'(missing)'``.
    """
    from fairmtl.data import group_labels as labels_of  # imports scikit-learn: on use

    labels = labels_of(frame[list(columns)], separator=GROUP_SEPARATOR, missing=MISSING_GROUP_LABEL)
    return pd.Series(labels, index=frame.index, name=GROUP_SEPARATOR.join(columns), dtype=object)


def _stratified_rows(labels: pd.Series, n_samples: int, random_state: Any) -> np.ndarray:
    """Row positions of a random subset whose group shares match the full data."""
    rng = np.random.default_rng(random_state)
    codes, uniques = pd.factorize(labels, sort=True)
    counts = np.bincount(codes, minlength=len(uniques))
    quota = counts * (n_samples / counts.sum())
    alloc = np.floor(quota).astype(np.int64)
    remainder_order = np.argsort(-(quota - alloc), kind="stable")
    alloc[remainder_order[: n_samples - alloc.sum()]] += 1
    chosen = [
        rng.choice(np.flatnonzero(codes == k), size=alloc[k], replace=False)
        for k in range(len(uniques))
        if alloc[k] > 0
    ]
    return np.sort(np.concatenate(chosen))


def load(
    spec: DatasetSpec,
    func: str,
    *,
    split: str,
    groups: str | Sequence[str],
    drop_group_columns: bool,
    return_X_y: bool,
    as_frame: bool,
    n_samples: int | None = None,
    random_state: Any = 0,
) -> Bunch | tuple[Any, Any, Any]:
    """Read ``spec``'s ``split`` and build the Bunch or ``(X, y, groups)`` of a loader.

    ``func`` names the public loader in error messages.
    """
    from sklearn.utils import Bunch

    group_columns = _check_groups(spec, groups)
    check_bool(drop_group_columns, "drop_group_columns", func)
    check_bool(return_X_y, "return_X_y", func)
    check_bool(as_frame, "as_frame", func)
    frame = _read(spec, split)
    if n_samples is not None:
        check_int(n_samples, "n_samples", func, low=1, high=len(frame))
        rows = _stratified_rows(group_labels(frame, group_columns), n_samples, random_state)
        frame = frame.iloc[rows].reset_index(drop=True)

    target = (frame[spec.target] == spec.positive).astype(np.int64).rename(spec.target_name)
    frame = frame.drop(columns=spec.target).assign(**{spec.target_name: target})
    labels = group_labels(frame, group_columns)
    dropped = [spec.target_name, *spec.exclude]
    if spec.weight is not None:
        dropped.append(spec.weight)
    if drop_group_columns:
        dropped += group_columns
    X = frame.drop(columns=dropped)
    feature_names = list(X.columns)

    if not as_frame:
        X, target, labels = X.to_numpy(), target.to_numpy(), labels.to_numpy()
    if return_X_y:
        return X, target, labels
    bunch = Bunch(
        data=X,
        target=target,
        groups=labels,
        frame=frame if as_frame else None,
        feature_names=feature_names,
        target_name=spec.target_name,
        group_columns=group_columns,
        DESCR=spec.descr,
        name=spec.name,
        split=split,
    )
    if spec.weight is not None:
        weight = frame[spec.weight]
        bunch.sample_weight = weight if as_frame else weight.to_numpy()
    return bunch
