"""One fit across a Dask cluster, each partition's rows staying on its worker.

The dual path needs, at each step, only sums over rows of the size of the model (group
losses, gradients); here each worker computes its partitions' sums where the rows are.
Pass a dask collection to ``fit`` (the default client is used), or build the rows with
:func:`from_dask` / :func:`read_parquet` to choose the client or the hospital mode::

    from dask.distributed import Client
    from fairmtl import FairMTLClassifier
    from fairmtl.distributed import read_parquet

    client = Client("tcp://scheduler:8786")
    rows = read_parquet("visits/", target="readmitted", group="hospital", hospitals=True)
    clf = FairMTLClassifier(objective="minimax", alpha=1e-3, sharing_strength=1.0)
    clf.fit(rows)
    clf.solver_info_["distributed"]   # messages and bytes per round

In hospital mode each group's partitions are read and kept on one worker, and only
model-sized sums leave it. ``alpha`` and ``sharing_strength`` must be numbers: a
distributed fit does not run the cross-validation that chooses them.
"""

from fairmtl.distributed._data import DaskGroupData, from_dask, read_parquet
from fairmtl.distributed._rounds import MessageLog

__all__ = ["DaskGroupData", "MessageLog", "from_dask", "read_parquet"]
