"""What runs on the workers: one partition's rows, and the sums the dual path asks of them.

Every function here takes a partition held on a worker and returns numbers of the size of
the model (per-group sums, a gradient, a few counts), never a row-level array: that is
what lets a hospital's rows stay on its own worker. The in-memory oracle
(:mod:`fairmtl.solvers._oracle`) computes the same sums over all rows at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from fairmtl.data import group_labels
from fairmtl.losses import get_loss
from fairmtl.solvers._certificate import RowSums, _curvature
from fairmtl.solvers._grouped import Float64Rows, _loss_and_gradient
from fairmtl.solvers._interior import gram_buffer, weighted_gram

__all__ = ["Part", "RawPart"]

#: bytes of a chunk of rows as float64: products and their temporaries are computed this
#: many bytes of rows at a time (sums are added in float64 chunk by chunk), so that a
#: round's temporaries do not grow with the partition
CHUNK_BYTES = 1 << 20
#: fewest rows in a chunk
MIN_CHUNK = 1024
#: per-row float64 vectors a round's sums over rows hold at once (chunks of rows for them)
ROW_VALUES = 8


@dataclass
class RawPart:
    """One partition as read: features, raw target, group labels (strings), weights.

    Rows are sorted by group label as they are read (so that encoding needs no copy of
    ``X``); ``rows`` gives each row's position in the source (None: in source order),
    which is what messages about a row name.
    """

    X: np.ndarray
    y: np.ndarray
    labels: np.ndarray
    w: np.ndarray
    columns: list
    non_numeric: list
    rows: np.ndarray | None = None


@dataclass
class Part:
    """One partition ready for the oracle: the rows of each task together.

    ``rw`` are the row weights within each group (each group's sum over all partitions is
    1); ``tasks`` the task ids present and ``starts`` where their rows begin.
    """

    X: np.ndarray
    y: np.ndarray
    task: np.ndarray
    rw: np.ndarray
    tasks: np.ndarray
    starts: np.ndarray


# -- reading ------------------------------------------------------------------------------
def raw_from_frames(X, y, groups, w=None) -> RawPart:
    """A partition from pandas / numpy pieces of a dask collection."""
    frame = X if isinstance(X, pd.DataFrame) else pd.DataFrame(np.asarray(X))
    columns = list(frame.columns) if isinstance(X, pd.DataFrame) else list(range(frame.shape[1]))
    labels = group_labels(np.asarray(groups))
    return _raw(list(frame.dtypes), lambda j: frame.iloc[:, j], np.asarray(y), labels, w, columns)


def raw_from_parquet(path: str, keys: dict, target: str, group: str, features, weight):
    """A partition read from one Parquet file (``keys``: its hive partition values).

    Feature columns are read one at a time into one float array, so that reading holds
    at most one column beside the partition's features (a whole table and its pandas
    copy would hold three to four times the features).
    """
    import pyarrow.parquet as pq

    file = pq.ParquetFile(path, pre_buffer=False)
    small = [c for c in dict.fromkeys([target, group, weight]) if c is not None and c not in keys]
    frame = file.read(columns=small, use_threads=False).to_pandas()
    for name, value in keys.items():
        frame[name] = value
    dtypes = file.schema_arrow.empty_table().to_pandas().dtypes
    features = list(features)
    kinds = [pd.Series([keys[c]]).dtype if c in keys else dtypes[c] for c in features]

    def column(j: int) -> pd.Series:
        name = features[j]
        if name in keys:
            return pd.Series(np.full(len(frame), keys[name]))
        return file.read(columns=[name], use_threads=False).column(0).to_pandas()

    w = None if weight is None else frame[weight]
    labels = group_labels(np.asarray(frame[group]))
    return _raw(kinds, column, frame[target].to_numpy(), labels, w, features)


def _raw(dtypes, column, y, labels, w, columns: list) -> RawPart:
    """A :class:`RawPart` sorted by label, its features filled one column at a time
    (``column(j)``: the j-th feature column in source order, a Series) in column-major
    order; missing values (nullable types) become NaN.

    Features of one float dtype keep it (float32 stays float32); others become float64.
    """
    bad = [c for c, t in zip(columns, dtypes, strict=True) if not pd.api.types.is_numeric_dtype(t)]
    n = len(labels)
    weights = np.ones(n) if w is None else np.asarray(w, dtype=np.float64)
    order = None
    if n and np.any(labels[1:] != labels[:-1]):
        order = np.argsort(labels, kind="stable")
        if np.all(order[1:] > order[:-1]):
            order = None
    sort = (lambda v: v) if order is None else (lambda v: np.asarray(v)[order])
    if bad:
        X = np.zeros((n, 0))
    else:
        dtype = np.float32 if all(str(t) == "float32" for t in dtypes) else np.float64
        X = np.empty((n, len(columns)), dtype=dtype, order="F")
        for j in range(len(columns)):
            X[:, j] = sort(column(j).to_numpy(dtype=dtype, na_value=np.nan))
    return RawPart(X, sort(y), sort(labels), sort(weights), columns, bad, order)


def unique_labels(groups) -> list[str]:
    """The sorted group labels of ``groups``."""
    return sorted(set(group_labels(np.asarray(groups)).tolist()))


def parquet_labels(path: str, column: str) -> list[str]:
    """The group labels of one Parquet file, read without its other columns."""
    import pyarrow.parquet as pq

    return unique_labels(pq.read_table(path, columns=[column]).column(0).to_numpy())


# -- checks and encoding ------------------------------------------------------------------
def summarise(raw: RawPart, classification: bool) -> dict:
    """Sizes, group labels with counts and weights, classes, and the first bad value."""
    if raw.non_numeric:
        return {"non_numeric": raw.non_numeric}
    out: dict = {"n": raw.X.shape[0], "d": raw.X.shape[1], "columns": raw.columns}
    cols = [j for j in range(raw.X.shape[1]) if not np.isfinite(raw.X[:, j]).all()]
    if cols:
        bad = ~np.isfinite(raw.X[:, cols])
        row, source = _first(raw, np.flatnonzero(bad.any(axis=1)))
        out["non_finite"] = (int(bad.sum()), source, raw.columns[cols[np.argmax(bad[row])]])
    negative = np.flatnonzero(raw.w < 0)
    if negative.size:
        row, source = _first(raw, negative)
        out["negative"] = (int(negative.size), source, float(raw.w[row]))
    labels, codes = np.unique(raw.labels, return_inverse=True)
    out["labels"] = labels
    out["counts"] = np.bincount(codes, minlength=len(labels))
    out["weights"] = np.bincount(codes, weights=raw.w, minlength=len(labels))
    if classification:
        pairs = pd.DataFrame({"g": raw.labels, "y": raw.y}).drop_duplicates()
        out["pairs"] = list(pairs.itertuples(index=False, name=None))
    else:
        y = np.asarray(raw.y, dtype=float)
        out["y_missing"] = int(np.isnan(y).sum())
        out["y_max"] = float(np.nanmax(np.abs(y))) if y.size else 0.0
    return out


def encode(raw: RawPart, labels: np.ndarray, positive, group_weight: np.ndarray) -> Part:
    """Task ids from the labels' order, the target as the solver wants it (+-1 for
    ``positive`` given, else floats), each task's rows together.

    The rows as read are sorted by label, so each task's rows are already together and
    ``X`` is the raw partition's own array, not a copy.
    """
    task = pd.Index(labels).get_indexer(raw.labels).astype(np.int64)
    y = np.asarray(raw.y)
    y = np.where(y == positive, 1.0, -1.0) if positive is not None else y.astype(float)
    starts = np.flatnonzero(np.diff(task)) + 1 if len(task) else np.zeros(0, np.int64)
    tasks = task[np.append(0, starts)] if len(task) else np.zeros(0, np.int64)
    X = raw.X
    if len(np.unique(tasks)) < len(tasks):  # a task's rows apart: sort them (a copy)
        order = np.argsort(task, kind="stable")
        X, y, task, w = X[order], y[order], task[order], raw.w[order]
        tasks, first = np.unique(task, return_index=True)
        starts = first[1:]
    else:
        w = raw.w
    return Part(
        X=X,
        y=y,
        task=task,
        rw=w / group_weight[task],
        tasks=tasks,
        starts=np.concatenate([[0], starts, [len(task)] if len(task) else []]).astype(np.int64),
    )


def moments(part: Part, n_groups: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Weighted sums of each group's features and squares, and each column's largest
    absolute value."""
    d = part.X.shape[1]
    mean, sq = np.zeros((n_groups, d)), np.zeros((n_groups, d))
    upcast = _float64_rows(part.X)
    for g, a, b in _groups(part):
        for s, e in _pieces(a, b, part.X.shape[1]):
            Xs = upcast.of(part.X[s:e])
            mean[g] += Xs.T @ part.rw[s:e]
            sq[g] += (Xs * Xs).T @ part.rw[s:e]
    colmax = np.zeros(d)
    for s, e in _pieces(0, len(part.y), d):
        colmax = np.maximum(colmax, np.abs(part.X[s:e]).max(axis=0))
    return mean, sq, colmax


# -- the oracle's sums --------------------------------------------------------------------
def outputs(
    part: Part, w: np.ndarray, b: np.ndarray, exact: bool = True, upcast=None
) -> np.ndarray:
    """Decision values of the partition's rows (kept on the worker); ``upcast``: the
    :class:`~fairmtl.solvers._grouped.Float64Rows` to reuse (exact values)."""
    z = np.empty(len(part.y))
    shared = w.shape[0] == 1
    if exact and upcast is None:
        upcast = _float64_rows(part.X)
    for g, a, c in _groups(part):
        p = 0 if shared else g
        for s, e in _pieces(a, c, part.X.shape[1]):
            Xs = upcast.of(part.X[s:e]) if exact else part.X[s:e]
            z[s:e] = _dot(Xs, w[p])
        z[a:c] += b[p]
    return z


def value_grad(part: Part, lam, w, b, loss_name: str, exact: bool):
    """The partition's part of ``sum_g lam_g L_g`` and of its gradient in ``(w, b)``:
    ``(value, blocks, gradient rows of those blocks, intercept gradient of them)``."""
    loss, shared = get_loss(loss_name), w.shape[0] == 1
    keep = [(g, a, c) for g, a, c in _groups(part) if lam[g] > 0]
    blocks = np.array([0] if shared else [g for g, _, _ in keep], dtype=np.int64)
    gw, gb = np.zeros((len(blocks), w.shape[1])), np.zeros(len(blocks))
    value = 0.0
    upcast = _float64_rows(part.X) if exact else None
    for k, (g, a, c) in enumerate(keep):
        row = 0 if shared else k
        p = 0 if shared else g
        for s, e in _pieces(a, c, part.X.shape[1]):
            Xs = part.X[s:e] if upcast is None else upcast.of(part.X[s:e])
            z = _dot(Xs, w[p]) + b[p]
            ell, dz = _loss_and_gradient(loss, z, part.y[s:e])
            cw = lam[g] * part.rw[s:e]
            value += float(cw @ ell)
            r = cw * dz
            gw[row] += _tdot(Xs, r)
            gb[row] += r.sum()
    return value, blocks, gw, gb


def _row_sums(part: Part, lam, w, b, single: bool, loss_name: str, upcast) -> RowSums:
    pid = np.zeros(len(part.y), np.int64) if single else part.task
    n_prob = 1 if single else len(lam)
    c = lam[part.task] * part.rw
    z = outputs(part, w, b, upcast=upcast)
    return RowSums(get_loss(loss_name), z, part.y, c, pid, n_prob)


def class_counts(part: Part, lam, single: bool) -> tuple[np.ndarray, np.ndarray]:
    """Rows of positive weight of each class per free direction (see ``RowSums``)."""
    found = [_row_sums_no_z(sub, lam, single).class_counts() for sub in _slices(part)]
    n = 1 if single else len(lam)
    return sum((f[0] for f in found), np.zeros(n)), sum((f[1] for f in found), np.zeros(n))


def min_margin(part: Part, lam, w, b, single: bool, loss_name: str, sign, which):
    """Smallest signed output per free direction (see ``RowSums.min_margin``)."""
    margin = np.full(1 if single else len(lam), np.inf)
    upcast = _float64_rows(part.X)
    for sub in _slices(part):
        sums = _row_sums(sub, lam, w, b, single, loss_name, upcast)
        margin = np.minimum(margin, sums.min_margin(sign, which))
    return margin


def derivatives(part: Part, lam, w, b, single: bool, loss_name: str, t):
    """First and second derivatives of each free direction's loss at shift ``t``."""
    d1, d2 = np.zeros(1 if single else len(lam)), np.zeros(1 if single else len(lam))
    upcast = _float64_rows(part.X)
    for sub in _slices(part):
        first, second = _row_sums(sub, lam, w, b, single, loss_name, upcast).derivatives(t)
        d1, d2 = d1 + first, d2 + second()
    return d1, d2


def loss_sums(part: Part, lam, w, b, single: bool, loss_name: str, certify: bool):
    """At ``(w, b)``: the partition's part of the group losses, of the loss gradient in
    ``(w, b)`` (when ``certify``) and of each free direction's weighted loss."""
    G, shared = len(lam), w.shape[0] == 1
    losses, phi = np.zeros(G), np.zeros(1 if single else G)
    gw, gb = np.zeros_like(w), np.zeros(w.shape[0])
    upcast = _float64_rows(part.X)
    for sub in _slices(part):
        sums = _row_sums(sub, lam, w, b, single, loss_name, upcast)
        ell = sums.loss.numpy(sums.z, sub.y)
        losses += np.bincount(sub.task, weights=sub.rw * ell, minlength=G)
        phi += np.bincount(sums.pid, weights=sums.c * ell, minlength=sums.n_prob)
        if not certify:
            continue
        r = sums.c * sums.loss.gradient(sums.z, sub.y)
        for g, a, c in _groups(sub):
            for s, e in _pieces(a, c, sub.X.shape[1]) if lam[g] > 0 else []:
                gw[0 if shared else g] += upcast.of(sub.X[s:e]).T @ r[s:e]
        if not shared:
            gb += np.bincount(sub.task, weights=r, minlength=G)
    return losses, gw, gb, phi


def group_losses(part: Part, w, b, loss_name: str, n_groups: int) -> np.ndarray:
    """The partition's part of every group's mean loss."""
    out = np.zeros(n_groups)
    upcast = _float64_rows(part.X)
    for sub in _slices(part):
        ell = get_loss(loss_name).numpy(outputs(sub, w, b, upcast=upcast), sub.y)
        out += np.bincount(sub.task, weights=sub.rw * ell, minlength=n_groups)
    return out


# -- the smooth stages' sums (fairmtl.solvers._refine, fairmtl.distributed._smooth) -------
def group_gradients(part: Part, w, b, loss_name: str):
    """For each group of the partition: its part of the group's mean loss and of that
    loss's gradient in the group's model, ``(tasks, losses, jw, jb)`` (float64)."""
    loss, shared = get_loss(loss_name), w.shape[0] == 1
    k = len(part.tasks)
    losses, jw, jb = np.zeros(k), np.zeros((k, w.shape[1])), np.zeros(k)
    exact = _float64_rows(part.X)
    for row, (g, a, c) in enumerate(_groups(part)):
        p = 0 if shared else g
        for s, e in _pieces(a, c, part.X.shape[1]):
            Xs = exact.of(part.X[s:e])
            ell, dz = _loss_and_gradient(loss, Xs @ w[p] + b[p], part.y[s:e])
            r = part.rw[s:e] * dz
            losses[row] += float(part.rw[s:e] @ ell)
            jw[row] += Xs.T @ r
            jb[row] += r.sum()
    return part.tasks, losses, jw, jb


def group_hessians(part: Part, w, b, loss_name: str, weights):
    """For each group of the partition: its part of ``weights_g`` times the Hessian of
    the group's mean loss in ``(w_g, b_g)``, ``(tasks, blocks (k, d + 1, d + 1))``; the
    rows in their stored dtype (see :func:`~fairmtl.solvers._interior.weighted_gram`)."""
    loss, shared = get_loss(loss_name), w.shape[0] == 1
    d = w.shape[1]
    blocks = np.zeros((len(part.tasks), d + 1, d + 1))
    buffer = gram_buffer(part.X)
    for row, (g, a, c) in enumerate(_groups(part)):
        p = 0 if shared else g
        ce = np.empty(c - a)
        for s, e in _pieces(a, c, part.X.shape[1]):
            z = _dot(part.X[s:e], w[p]) + b[p]
            ce[s - a : e - a] = weights[g] * part.rw[s:e] * _curvature(loss, z, part.y[s:e])
        ww, wb, cs = weighted_gram(part.X[a:c], ce, buffer)
        blocks[row, :d, :d] = ww
        blocks[row, :d, d] = blocks[row, d, :d] = wb
        blocks[row, d, d] = cs
    return part.tasks, blocks


# -- helpers ------------------------------------------------------------------------------
def _row_sums_no_z(part: Part, lam, single: bool) -> RowSums:
    pid = np.zeros(len(part.y), np.int64) if single else part.task
    c = lam[part.task] * part.rw
    return RowSums(None, None, part.y, c, pid, 1 if single else len(lam))


def _first(raw: RawPart, rows: np.ndarray) -> tuple[int, int]:
    """Of ``rows`` (positions in the partition, not empty), the one first in the
    source: its position and its row number in the source."""
    source = rows if raw.rows is None else raw.rows[rows]
    k = int(np.argmin(source))
    return int(rows[k]), int(source[k])


def _slices(part: Part):
    """The partition in pieces of rows (views) whose per-row float64 vectors of a round
    (outputs, weights, losses, gradients) take at most ``CHUNK_BYTES`` each."""
    for s, e in _pieces(0, len(part.y), ROW_VALUES):
        k0 = int(np.searchsorted(part.starts, s, side="right")) - 1
        k1 = int(np.searchsorted(part.starts, e, side="left"))
        starts = np.clip(part.starts[k0 : k1 + 1], s, e) - s
        yield Part(part.X[s:e], part.y[s:e], part.task[s:e], part.rw[s:e],
                   part.tasks[k0:k1], starts)  # fmt: skip


def _groups(part: Part):
    """``(task id, first row, stop row)`` of each group in the partition."""
    return [
        (int(g), int(part.starts[k]), int(part.starts[k + 1])) for k, g in enumerate(part.tasks)
    ]


def _pieces(a: int, b: int, d: int):
    """``a:b`` in ranges whose float64 copy takes at most ``CHUNK_BYTES`` (d features)."""
    step = _chunk_rows(d)
    return [(s, min(s + step, b)) for s in range(a, b, step)]


def _chunk_rows(d: int) -> int:
    """Rows of a chunk of ``d`` features: ``CHUNK_BYTES`` as float64."""
    return max(MIN_CHUNK, CHUNK_BYTES // (8 * max(d, 1)))


def _float64_rows(X: np.ndarray) -> Float64Rows:
    """One buffer for a round's float64 chunks of ``X`` (:func:`_pieces`' sizes)."""
    return Float64Rows(X, _chunk_rows(X.shape[1]))


def _dot(X: np.ndarray, v: np.ndarray) -> np.ndarray:
    """``X @ v`` in float64 (float32 rows: computed in float32)."""
    if X.dtype == np.float64:
        return X @ v
    return (X @ v.astype(np.float32)).astype(np.float64)


def _tdot(X: np.ndarray, r: np.ndarray) -> np.ndarray:
    """``X.T @ r`` in float64 (float32 rows: computed in float32)."""
    if X.dtype == np.float64:
        return X.T @ r
    return (X.T @ r.astype(np.float32)).astype(np.float64)
