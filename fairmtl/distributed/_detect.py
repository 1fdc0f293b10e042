"""Whether the rows given to ``fit`` live on a Dask cluster (no dask import needed)."""

from __future__ import annotations

import sys

from fairmtl.distributed._data import DaskGroupData

__all__ = ["is_cluster_input"]


def is_cluster_input(X) -> bool:
    """Whether ``X`` is a :class:`DaskGroupData` or a dask collection.

    Dask is not imported here: a dask collection can only exist once dask is.
    """
    if isinstance(X, DaskGroupData):
        return True
    dask = sys.modules.get("dask")
    return dask is not None and dask.is_dask_collection(X)
