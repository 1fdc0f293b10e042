"""Rows on a Dask cluster: where they come from, and what the client learns of them.

:class:`DaskGroupData` names the rows (a dask DataFrame / Array with its target and
groups, or a folder of Parquet files) and the cluster. :func:`load` reads each partition
on a worker, checks it, and keeps it there; the client receives only sizes, group labels
with counts and weights, the classes, and each group's feature moments.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from fairmtl._optional import import_optional
from fairmtl.distributed._rounds import Rounds
from fairmtl.exceptions import DataValidationError

__all__ = ["DaskGroupData", "from_dask", "read_parquet", "ClusterRows"]

MSG_NO_CLIENT = (
    "A distributed fit needs a dask.distributed Client: create one first "
    "(client = Client('tcp://scheduler:8786'), or Client() for local processes), or pass "
    "client= to fairmtl.distributed.from_dask / read_parquet."
)
MSG_MIXED_PARTITION = (
    "In hospital mode each partition must hold the rows of one group, so that it can stay "
    "on that group's worker; partition {index} holds {groups}. Write the data partitioned "
    "by group (one Parquet file or folder per group), or use hospitals=False."
)
MSG_UNKNOWN_WORKER = (
    "workers= assigns group {group!r} to {worker!r}, which is not a worker of this cluster "
    "(its workers: {known})."
)
MSG_NON_NUMERIC = (
    "Feature column(s) {columns} are not numeric. A distributed fit takes numeric features "
    "only: encode them in the dask DataFrame first (e.g. with dask_ml.preprocessing), or "
    "drop them."
)
MSG_NON_FINITE = (
    "Feature column {column!r} holds {count} missing or infinite value(s) in partition "
    "{index} (first at its row {row}). Impute or drop those rows first."
)
MSG_NO_PARQUET = "No Parquet files found under {path!r}."
MSG_COLUMN_MISSING = "Column {column!r} is not in the Parquet data at {path!r} (columns: {known})."
MSG_TARGET_MISSING = (
    "The target has {count} missing value(s) in partition {index}. Drop those rows first."
)


@dataclass
class DaskGroupData:
    """Training rows held on a Dask cluster, to pass to ``fit`` as ``X``.

    Built by :func:`from_dask` or :func:`read_parquet`.

    Attributes
    ----------
    sources : list
        One loader per partition (dask delayed pieces, or a Parquet file and its keys).
    client : distributed.Client or None
        None: the default client when the fit starts.
    hospitals : bool
        Hospital mode: each group's partitions are read and kept on one worker, and only
        sums of the size of the model leave it.
    workers : dict or None
        Group label -> worker address in hospital mode (default: groups dealt round
        robin to the workers in address order).
    feature_names : list or None
    """

    sources: list
    client: Any = None
    hospitals: bool = False
    workers: dict | None = None
    feature_names: list | None = None
    parquet: dict | None = field(default=None, repr=False)


def from_dask(X, y, groups, *, sample_weight=None, client=None, hospitals=False, workers=None):
    """Rows from dask collections with the same partitions (DataFrame, Series or Array).

    Parameters
    ----------
    X : dask DataFrame or dask Array of shape (n_samples, n_features)
        Numeric features.
    y : dask Series or dask Array of shape (n_samples,)
    groups : dask Series or dask Array of shape (n_samples,)
    sample_weight : dask Series or dask Array of shape (n_samples,), default=None
    client : distributed.Client, default=None
        None: the default client.
    hospitals : bool, default=False
        Keep each group's partitions on one worker (see :class:`DaskGroupData`).
    workers : dict, default=None
        Group label -> worker address, in hospital mode.

    Returns
    -------
    DaskGroupData
    """
    pieces = [_delayed_parts(X, "X")]
    pieces += [_delayed_parts(v, name) for v, name in ((y, "y"), (groups, "groups"))]
    if sample_weight is not None:
        pieces.append(_delayed_parts(sample_weight, "sample_weight"))
    counts = {len(p) for p in pieces}
    if len(counts) != 1:
        raise DataValidationError(
            "X, y, groups (and sample_weight) must have the same partitions; they have "
            f"{[len(p) for p in pieces]} partitions. Rechunk or repartition them alike."
        )
    names = list(X.columns) if hasattr(X, "columns") else None
    sources = [("frames", parts) for parts in zip(*pieces, strict=True)]
    return DaskGroupData(sources, client, hospitals, workers, names)


def read_parquet(
    path, *, target, group, features=None, sample_weight=None, client=None,
    hospitals=False, workers=None,
):  # fmt: skip
    """Rows from a folder of Parquet files, each file read on a worker (out of core).

    Parameters
    ----------
    path : str or path-like
        A Parquet file or a folder of them (hive folders such as ``hospital=A/`` give
        their column's value).
    target, group : str
        Column names.
    features : list of str, default=None
        None: every other column.
    sample_weight : str, default=None
        A column of row weights.
    client, hospitals, workers
        As in :func:`from_dask`.

    Returns
    -------
    DaskGroupData
    """
    ds = import_optional("pyarrow.dataset", "Reading Parquet data")
    path = os.fspath(path)
    dataset = ds.dataset(path, format="parquet", partitioning="hive")
    fragments = list(dataset.get_fragments())
    if not fragments:
        raise DataValidationError(MSG_NO_PARQUET.format(path=path))
    known = list(dataset.schema.names)
    for column in (target, group, sample_weight, *(features or [])):
        if column is not None and column not in known:
            raise DataValidationError(
                MSG_COLUMN_MISSING.format(column=column, path=path, known=known)
            )
    used = {target, group, sample_weight}
    if features is None:  # pandas keeps a non-default index as __index_level_0__
        features = [c for c in known if c not in used and not c.startswith("__index_level_")]
    features = list(features)
    sources = []
    for fragment in fragments:
        keys = ds.get_partition_keys(fragment.partition_expression)
        sources.append(("parquet", (fragment.path, keys)))
    spec = {"target": target, "group": group, "features": features, "weight": sample_weight}
    return DaskGroupData(sources, client, hospitals, workers, features, spec)


def _delayed_parts(collection, name: str) -> list:
    if hasattr(collection, "columns") or hasattr(collection, "to_frame"):
        return list(collection.to_delayed())
    if hasattr(collection, "chunks"):
        if collection.ndim == 2:
            collection = collection.rechunk({1: -1})
        return list(np.ravel(collection.to_delayed()))
    raise DataValidationError(
        f"{name} must be a dask DataFrame, Series or Array like X; got {type(collection).__name__}."
    )


# -- on the cluster ---------------------------------------------------------------------
@dataclass
class ClusterRows:
    """What the client knows of the rows held on the workers (all model-sized).

    The attributes the dual path's oracle reads from
    :class:`~fairmtl.solvers._oracle.GroupedData` (``n_groups``, ``shares``, ``group_mean``,
    ``group_sq``, ``colmax``, ``n``, ``d``), what validation needs (the columns, the
    (group, class) pairs present, the target's largest absolute value), the round
    runner that holds the partitions' futures, and each partition's number of rows.
    """

    rounds: Rounds
    labels: np.ndarray
    sizes: np.ndarray
    group_weight: np.ndarray
    n: int
    d: int
    columns: list = field(default_factory=list)
    pairs: list = field(default_factory=list)
    y_max: float = 0.0
    group_mean: np.ndarray | None = None
    group_sq: np.ndarray | None = None
    colmax: np.ndarray | None = None
    part_rows: list = field(default_factory=list)

    @property
    def n_groups(self) -> int:
        return len(self.labels)

    @property
    def shares(self) -> np.ndarray:
        return self.group_weight / self.group_weight.sum()

    def smooth_model(self, loss, penalty, sharing: str):
        """The smooth stages' model of these rows, their sums computed on the workers
        (:class:`fairmtl.distributed._smooth.ClusterModel`)."""
        from fairmtl.distributed._smooth import ClusterModel

        return ClusterModel(self, loss, penalty, sharing)


def get_client(data: DaskGroupData):
    """The data's client, or the default one."""
    distributed = import_optional("distributed", "A distributed fit")
    if data.client is not None:
        return data.client
    try:
        return distributed.default_client()
    except ValueError as e:
        raise ValueError(MSG_NO_CLIENT) from e
