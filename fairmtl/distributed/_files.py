"""Fit a model on a Parquet folder with a Dask cluster: what ``fairmtl fit --scheduler`` runs.

The command line only parses its options and calls :func:`fit_parquet`, which returns
the fitted estimator and the schema saved with it; the rows are read by the workers,
file by file, and never by this process.
"""

from __future__ import annotations

import os
from typing import Any

from fairmtl._optional import import_optional
from fairmtl.data import Schema
from fairmtl.distributed._data import read_parquet
from fairmtl.exceptions import DataValidationError

__all__ = ["fit_parquet"]

MSG_CLUSTER_KNOBS = (
    "A fit on a Dask cluster (--scheduler) does not run the cross-validation that chooses "
    "--alpha and --sharing-strength: give both as numbers (e.g. --alpha 1e-3 "
    "--sharing-strength 1), or fit in memory without --scheduler."
)
MSG_CLUSTER_FORMAT = (
    "A fit on a Dask cluster (--scheduler) reads Parquet: {path} is not a Parquet file or "
    "a folder of them. Convert it (e.g. pandas' to_parquet) or fit without --scheduler."
)


def fit_parquet(
    path, *, target: str, groups: list[str], scheduler: str, features=None,
    task: str = "auto", hospitals: bool = False, data_format: str = "auto", **params: Any,
):  # fmt: skip
    """Fit a FairMTLClassifier / FairMTLRegressor on Parquet rows read by a cluster.

    Parameters
    ----------
    path : path-like
        A Parquet file or a folder of them (hive folders give their column's value).
    target : str
    groups : list of str
        One group column.
    scheduler : str
        The Dask scheduler's address (``tcp://host:8786``).
    features : list of str, default=None
        None: every column but the target and the group.
    task : {"auto", "classification", "regression"}, default="auto"
        "auto": regression for a floating-point target, classification otherwise.
    hospitals : bool, default=False
        Keep each group's files on one worker (see :mod:`fairmtl.distributed`).
    data_format : {"auto", "parquet"}, default="auto"
        "auto": ``path`` must be a folder or a ``.parquet`` / ``.pq`` file.
    **params
        Estimator parameters; ``alpha`` and ``sharing_strength`` must be numbers.

    Returns
    -------
    model : FairMTLClassifier or FairMTLRegressor
    schema : Schema
        The columns the model reads, all numeric.
    """
    from fairmtl import FairMTLClassifier, FairMTLRegressor

    if params.get("alpha") is None or params.get("sharing_strength") is None:
        raise DataValidationError(MSG_CLUSTER_KNOBS)
    if len(groups) != 1:
        raise DataValidationError(
            f"A fit on a Dask cluster takes one group column; got {len(groups)}: {groups}."
        )
    path = os.fspath(path)
    named = os.path.isdir(path) or path.endswith((".parquet", ".pq"))
    if not (named or data_format == "parquet"):
        raise DataValidationError(MSG_CLUSTER_FORMAT.format(path=path))
    distributed = import_optional("distributed", "A fit on a Dask cluster (--scheduler)")
    if task == "auto":
        task = _task_of(path, target)
    est_class = FairMTLRegressor if task == "regression" else FairMTLClassifier
    params = {k: v for k, v in params.items() if v is not None}
    with distributed.Client(scheduler, set_as_default=False) as client:
        rows = read_parquet(path, target=target, group=groups[0], features=features,
                            client=client, hospitals=hospitals)  # fmt: skip
        model = est_class(solver="dual", **params).fit(rows)
    names = tuple(rows.feature_names)
    schema = Schema(target=target, groups=(groups[0],), features=names,
                    feature_dtypes=dict.fromkeys(names, "numeric"))  # fmt: skip
    return model, schema


def _task_of(path: str, target: str) -> str:
    """Regression for a floating-point target column, classification otherwise."""
    ds = import_optional("pyarrow.dataset", "Reading Parquet data")
    pa = import_optional("pyarrow", "Reading Parquet data")
    kind = ds.dataset(path, format="parquet", partitioning="hive").schema.field(target).type
    return "regression" if pa.types.is_floating(kind) else "classification"
