"""The bundled datasets from the command line: listing, exporting, and the demo's data."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np
import pandas as pd

from fairmtl.data import TrainingTable, load_training_table
from fairmtl.data._table import file_sha256
from fairmtl.exceptions import DataValidationError

__all__ = ["DEMO_DATASET", "ExportOutcome", "dataset_listing", "demo_table", "export_dataset"]

#: The dataset of ``fairmtl demo``, with its groups.
DEMO_DATASET = "adult"
DEMO_GROUPS = ("race", "sex")

MSG_NO_SPLITS = (
    "The {name} dataset has a single file: leave out --split. (Only datasets with a "
    "train and a test file take --split: {with_splits}.)"
)


def dataset_listing() -> pd.DataFrame:
    """The table of :func:`fairmtl.datasets.list_datasets`."""
    from fairmtl.datasets import list_datasets

    return list_datasets()


def _split_names(row: pd.Series) -> list[str]:
    return [part.split("=")[0].strip() for part in str(row["splits"]).split(",")]


@dataclasses.dataclass
class ExportOutcome:
    """What :func:`export_dataset` wrote.

    Attributes
    ----------
    path : Path
    name : str
        The dataset's canonical name.
    split : str or None
    n_rows : int
    target : str
        The target column of the file.
    groups : tuple of str
        The default group columns.
    not_features : tuple of str
        Columns of the dataset that are not features (a leak of the target, another
        tool's score, a survey weight): left out of the file unless ``all_columns``.
    all_columns : bool
        Whether ``not_features`` were written too.
    """

    path: Path
    name: str
    split: str | None
    n_rows: int
    target: str
    groups: tuple[str, ...]
    not_features: tuple[str, ...] = ()
    all_columns: bool = False


def export_dataset(
    name: str,
    path: str | os.PathLike[str],
    *,
    split: str | None = None,
    force: bool = False,
    all_columns: bool = False,
) -> ExportOutcome:
    """Write a bundled dataset to a file: its features, the 0/1 target and the groups.

    Columns that are not features (COMPAS's ``is_recid``, which leaks the target, and
    the tool's own scores; Census KDD's survey weight) are left out unless
    ``all_columns``: every other column of the file is a feature to ``fairmtl fit``.

    Parameters
    ----------
    name : str
        A bundled dataset (see :func:`fairmtl.datasets.list_datasets`).
    path : str or path-like
        ``.csv``, ``.csv.gz``, ``.tsv`` or ``.parquet``; written atomically.
    split : {"train", "test"} or None, default=None
        For datasets with a train and a test file; None means "train".
    force : bool, default=False
        Overwrite an existing file.
    all_columns : bool, default=False
        Write every column of the dataset, for audits (e.g. of COMPAS's scores).

    Returns
    -------
    outcome : ExportOutcome
    """
    from fairmtl.data import write_table_atomic
    from fairmtl.datasets import load_dataset

    listing = dataset_listing()
    key = str(name).strip().lower().replace("-", "_")
    rows = listing[listing["name"] == key]
    if rows.empty:
        load_dataset(name)  # raises the unknown-dataset error, with a suggestion
    row = rows.iloc[0]
    splits = _split_names(row)
    kwargs = {"drop_group_columns": False}
    if splits == ["all"]:
        if split is not None:
            with_splits = listing[listing["splits"].str.contains("train")]["name"]
            raise DataValidationError(
                MSG_NO_SPLITS.format(name=key, with_splits=", ".join(with_splits))
            )
    else:
        split = split or "train"
        kwargs["split"] = split
    bunch = load_dataset(key, **kwargs)
    frame = bunch.frame
    usable = {*bunch.feature_names, *bunch.group_columns, bunch.target_name}
    not_features = tuple(c for c in frame.columns if c not in usable)
    if not all_columns:
        frame = frame.drop(columns=list(not_features))
    written = write_table_atomic(frame, path, force=force)
    return ExportOutcome(
        written,
        key,
        split,
        len(frame),
        bunch.target_name,
        tuple(bunch.group_columns),
        not_features,
        all_columns,
    )


def demo_table(*, n_samples: int, random_state: int = 0) -> tuple[TrainingTable, int]:
    """The demo's data: a group-stratified sample of Adult's training rows.

    Parameters
    ----------
    n_samples : int
        Rows to keep (all of them when larger than the data).
    random_state : int, default=0
        Seed of the sample.

    Returns
    -------
    table : TrainingTable
        Groups race x sex, target ``income_over_50k``.
    n_total : int
        Rows of the full training file.
    """
    from sklearn.model_selection import train_test_split

    from fairmtl.datasets import dataset_path, load_dataset

    bunch = load_dataset(DEMO_DATASET, split="train", groups=DEMO_GROUPS, drop_group_columns=False)
    frame, n_total = bunch.frame, len(bunch.frame)
    rows = np.arange(n_total)
    if n_samples < n_total:
        rows, _ = train_test_split(
            rows, train_size=n_samples, stratify=bunch.groups, random_state=random_state
        )
        rows = np.sort(rows)
    source = (
        f"fairmtl bundled dataset {DEMO_DATASET} (train split): a group-stratified sample "
        f"of {len(rows):,} of {n_total:,} rows, seed {random_state}"
    )
    table = load_training_table(
        frame.iloc[rows], target=bunch.target_name, groups=DEMO_GROUPS, source=source
    )
    table.sha256 = file_sha256(dataset_path(DEMO_DATASET, "train"))
    return table, n_total
