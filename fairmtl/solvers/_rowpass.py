"""The smooth stages' passes over many rows, in fixed blocks on several threads.

One pass of :class:`~fairmtl.solvers._refine._Model` (every row's output, loss and
derivative; the group losses, their gradients; the Hessian's Gram products) over dense
rows of a few large groups is cut into blocks of :func:`block_rows` rows whose partial
sums are added in block order. The blocks depend on the data only, never on the thread
count, so a fit gives the same bits on one thread or several (a frontier is
bit-identical in one process or several). numpy's element-wise functions and BLAS
release the GIL, so the blocks run side by side on :func:`pass_threads` threads; BLAS
itself stays on one thread inside each (see :mod:`fairmtl.solvers._sqp`).

The thread count follows the CPUs this process may use and ``OMP_NUM_THREADS`` where it
is set (joblib sets it in its worker processes to their share of the cores).
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import numpy as np
import scipy.sparse as sp

from fairmtl.solvers._grouped import LARGE_GROUP_ROWS, Float64Rows, dense_chunk_rows

__all__ = [
    "add_in_order",
    "block_rows",
    "blocked",
    "float64_block",
    "group_spans",
    "pass_threads",
    "passes_in_blocks",
    "thread_gram_buffer",
]

T = TypeVar("T")

#: most rows of a block (fewer where a float64 block of the rows would pass CHUNK_BYTES)
MAX_BLOCK_ROWS = 65_536
#: most threads of a pass (the blocks' sums are memory-bound beyond a few)
MAX_THREADS = 8

_pool: ThreadPoolExecutor | None = None
_pool_threads = 0
_pool_lock = threading.Lock()
_local = threading.local()
_PREFIX = "fairmtl-pass"


def pass_threads() -> int:
    """Threads for one pass: the CPUs this process may use, at most ``OMP_NUM_THREADS``
    where it is set, at most :data:`MAX_THREADS`."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    limit = os.environ.get("OMP_NUM_THREADS", "")
    cores = min(cores or 1, int(limit)) if limit.isdigit() and int(limit) > 0 else (cores or 1)
    return max(1, min(cores, MAX_THREADS))


def block_rows(d: int) -> int:
    """Rows of one block of ``d`` features (a float64 block stays within CHUNK_BYTES)."""
    return dense_chunk_rows(d, MAX_BLOCK_ROWS)


def passes_in_blocks(data) -> bool:
    """Whether :class:`~fairmtl.solvers._grouped.GroupedData` ``data`` is passed over in
    blocks: dense rows, at least two blocks of them, groups of
    ``LARGE_GROUP_ROWS`` rows on average (many small groups take the products over all
    groups at once instead)."""
    return (
        not sp.issparse(data.X)
        and data.n >= 2 * block_rows(data.d)
        and data.n >= LARGE_GROUP_ROWS * data.n_groups
    )


def _executor(threads: int) -> ThreadPoolExecutor:
    global _pool, _pool_threads
    with _pool_lock:
        if _pool is None or _pool_threads < threads:
            if _pool is not None:
                _pool.shutdown(wait=False)
            _pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix=_PREFIX)
            _pool_threads = threads
        return _pool


def _forget_pool() -> None:
    global _pool, _pool_threads
    _pool, _pool_threads = None, 0  # a forked child has none of the parent's threads


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)


def blocked(n: int, size: int, work: Callable[[int, int], T]) -> list[T]:
    """``work(a, b)`` for each block ``a:b`` of ``size`` rows of ``n``, in block order; on
    :func:`pass_threads` threads where there are several blocks."""
    spans = [(a, min(a + size, n)) for a in range(0, n, size)]
    threads = min(pass_threads(), len(spans))
    if threads < 2 or threading.current_thread().name.startswith(_PREFIX):
        return [work(a, b) for a, b in spans]
    return list(_executor(threads).map(lambda span: work(*span), spans))


def float64_block(data, a: int, b: int):
    """Rows ``a:b`` of ``data`` in float64: a view of float64 rows, float32 rows upcast into
    this thread's own buffer (one per thread, reused by its next block)."""
    if data.dtype == np.float64:
        return data.rows(a, b)
    rows = block_rows(data.d)
    buffer = getattr(_local, "buffer", None)
    if buffer is None or buffer.buffer is None or buffer.buffer.shape != (rows, data.d):
        buffer = _local.buffer = Float64Rows(data.X, rows)
    return buffer.of(data.rows(a, b))


def group_spans(data, a: int, b: int) -> list[tuple[int, int, int]]:
    """``(group, start, stop)`` of the groups with rows in ``a:b`` (rows sorted by group)."""
    g0, g1 = int(data.task[a]), int(data.task[b - 1]) + 1
    starts = data.starts
    return [
        (g, max(a, int(starts[g])), min(b, int(starts[g + 1])))
        for g in range(g0, g1)
        if starts[g + 1] > starts[g]
    ]


def add_in_order(parts: list[tuple]) -> tuple:
    """Element-wise sums of the blocks' tuples of arrays, added in block order."""
    return tuple(functools.reduce(np.add, column) for column in zip(*parts, strict=True))


def thread_gram_buffer(data, rows: int) -> np.ndarray:
    """This thread's buffer of ``rows`` x ``d`` rows in ``data``'s dtype, for the Gram
    products of a block (see :func:`~fairmtl.solvers._interior.weighted_gram`)."""
    buffer = getattr(_local, "gram", None)
    if buffer is None or buffer.shape != (rows, data.d) or buffer.dtype != data.dtype:
        buffer = _local.gram = np.empty((rows, data.d), dtype=data.dtype)
    return buffer
