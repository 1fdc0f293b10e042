"""Reading the partitions on the workers, checking them, and encoding them in place.

:func:`open_rows` reads every partition on a worker (in hospital mode, on its group's
worker) and returns what the client needs to validate them: a :class:`ClusterRows` of sizes,
group labels with counts and weights, classes or the target's scale. :func:`encode_rows`
then encodes each partition where it is (task ids, +-1 targets, rows sorted by group)
and gathers each group's feature moments.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from fairmtl._optional import import_optional
from fairmtl.distributed import _parts
from fairmtl.distributed._data import (
    MSG_MIXED_PARTITION,
    MSG_NON_FINITE,
    MSG_NON_NUMERIC,
    MSG_TARGET_MISSING,
    MSG_UNKNOWN_WORKER,
    ClusterRows,
    DaskGroupData,
    get_client,
)
from fairmtl.distributed._rounds import RETRIES, Rounds
from fairmtl.estimators._base import MSG_NEGATIVE_WEIGHT
from fairmtl.exceptions import DataValidationError

__all__ = ["encode_rows", "open_rows"]


def open_rows(data: DaskGroupData, classification: bool) -> ClusterRows:
    """Read and check every partition on the workers."""
    client = get_client(data)
    pinned, owners = _placement(client, data)
    raw = [_submit_load(client, src, data, None if pinned is None else pinned[k])
           for k, src in enumerate(data.sources)]  # fmt: skip
    rounds = Rounds(client, raw, pinned, owners)
    found = rounds.run("read", _parts.summarise, classification)
    return _combine(rounds, found)


def encode_rows(summary: ClusterRows, labels, positive) -> ClusterRows:
    """Encode every partition where it is; gather each group's feature moments."""
    rounds, G = summary.rounds, len(labels)
    order = {label: k for k, label in enumerate(summary.labels)}
    weight = np.array([summary.group_weight[order[label]] for label in labels])
    sizes = np.array([summary.sizes[order[label]] for label in labels])
    labels = np.asarray(labels, dtype=object)
    encoded = rounds.submit_each(_parts.encode, labels, positive, weight)
    rounds.hold(encoded)  # the raw partitions are released: Dask keeps how to remake them
    found = rounds.run("moments", _parts.moments, G)
    mean = sum(m for m, _, _ in found)
    sq = sum(s for _, s, _ in found)
    colmax = np.max([c for _, _, c in found], axis=0)
    rows = replace(summary, labels=labels, sizes=sizes, group_weight=weight)
    rows.group_mean, rows.group_sq, rows.colmax = mean, sq, colmax
    return rows


# -- placement ----------------------------------------------------------------------------
def _placement(client, data: DaskGroupData):
    """The worker of each partition in hospital mode (None otherwise), and each
    partition's groups (named in errors)."""
    if not data.hospitals:
        return None, [f"partition {k}" for k in range(len(data.sources))]
    groups = _probe_groups(client, data)
    for k, found in enumerate(groups):
        if len(found) != 1:
            raise DataValidationError(MSG_MIXED_PARTITION.format(index=k, groups=list(found)))
    labels = sorted({g[0] for g in groups})
    workers = sorted(client.scheduler_info(n_workers=-1)["workers"])
    assignment = dict(data.workers or {})
    for label, worker in assignment.items():
        if worker not in workers:
            raise DataValidationError(
                MSG_UNKNOWN_WORKER.format(group=label, worker=worker, known=workers)
            )
    for k, label in enumerate(label for label in labels if label not in assignment):
        assignment[label] = workers[k % len(workers)]
    return [assignment[g[0]] for g in groups], [g[0] for g in groups]


def _probe_groups(client, data: DaskGroupData) -> list[list[str]]:
    """The group labels of each partition, read without its other columns."""
    dask = import_optional("dask", "A distributed fit")
    out: list = [None] * len(data.sources)
    todo = {}
    for k, (kind, src) in enumerate(data.sources):
        if kind == "parquet" and data.parquet["group"] in src[1]:
            out[k] = _parts.unique_labels([src[1][data.parquet["group"]]])
        elif kind == "parquet":
            todo[k] = client.submit(
                _parts.parquet_labels, src[0], data.parquet["group"], pure=False
            )
        else:
            todo[k] = client.compute(dask.delayed(_parts.unique_labels)(src[2]))
    for k, labels in zip(todo, client.gather(list(todo.values())), strict=True):
        out[k] = labels
    return out


def _submit_load(client, source, data: DaskGroupData, worker: str | None):
    dask = import_optional("dask", "A distributed fit")
    place = {} if worker is None else {"workers": [worker], "allow_other_workers": False}
    kind, src = source
    if kind == "parquet":
        spec = data.parquet
        return client.submit(
            _parts.raw_from_parquet, src[0], src[1], spec["target"], spec["group"],
            spec["features"], spec["weight"], pure=False, retries=RETRIES, **place,
        )  # fmt: skip
    task = dask.delayed(_parts.raw_from_frames)(*src)
    return client.compute(task, retries=RETRIES, **place)


# -- checks -------------------------------------------------------------------------------
def _combine(rounds: Rounds, found: list[dict]) -> ClusterRows:
    """Check each partition's summary and add them up."""
    totals: dict[str, list] = {}
    offset, pairs, y_max, columns, d = 0, set(), 0.0, None, None
    for k, s in enumerate(found):
        if "non_numeric" in s:
            raise DataValidationError(MSG_NON_NUMERIC.format(columns=s["non_numeric"]))
        if "non_finite" in s:
            count, row, column = s["non_finite"]
            raise DataValidationError(
                MSG_NON_FINITE.format(column=column, count=count, index=k, row=row)
            )
        if "negative" in s:
            count, row, value = s["negative"]
            raise DataValidationError(
                MSG_NEGATIVE_WEIGHT.format(count=count, row=offset + row, value=value)
            )
        if s.get("y_missing"):
            raise DataValidationError(MSG_TARGET_MISSING.format(count=s["y_missing"], index=k))
        if d is not None and s["d"] != d:
            raise DataValidationError(
                f"Partition {k} has {s['d']} feature columns, partition 0 has {d}."
            )
        d, columns = s["d"], s["columns"]
        for label, count, weight in zip(s["labels"], s["counts"], s["weights"], strict=True):
            entry = totals.setdefault(label, [0, 0.0])
            entry[0] += int(count)
            entry[1] += float(weight)
        pairs.update(s.get("pairs", []))
        y_max = max(y_max, s.get("y_max", 0.0))
        offset += s["n"]
    labels = np.array(sorted(totals), dtype=object)
    sizes = np.array([totals[g][0] for g in labels])
    weight = np.array([totals[g][1] for g in labels])
    rows = ClusterRows(
        rounds, labels, sizes, weight, offset, d or 0, columns or [], sorted(pairs, key=str), y_max
    )
    rows.part_rows = [s["n"] for s in found]
    return rows
