"""Distributed suite: one fit across a Dask cluster, rows read from Parquet where they are.

Simulated hospitals (50 features, 50 hospitals of unequal sizes, each with its own model)
are written to a Parquet folder, one hive folder per hospital (``hospital=h07/``), in
files of at most 250,000 rows; nothing holds all rows at once while writing. On a real
``LocalCluster`` of worker processes (one thread each, a memory limit per worker) the
suite times, in one run:

- the in-memory dual path (``FairMTLClassifier(solver="dual")`` on the rows read with
  pandas; the reading is timed apart), average-loss and minimax;
- the distributed fit (``fairmtl.distributed.read_parquet``; each worker reads its files),
  average-loss and minimax on 4 workers, minimax in hospital mode (each hospital's files
  on one worker), and the average-loss fit on 1 and 2 workers (scaling);
- dask-ml's ``LogisticRegression(solver="lbfgs")`` on the same rows, 4 workers of a
  cluster of its own (its workers need more memory than fairmtl's limit), the peer a
  Dask user would pick for the average-loss model (``C = 1 / (2 alpha n)``, the same
  penalty as ``alpha``; dask-ml also penalises its intercept).

Every fit's own objective (mean log loss + ``alpha ||w||^2``, or worst group loss +
penalty) is computed from its coefficients, so the models are compared as well as the
times. Rows report messages and bytes between the client and the workers (fairmtl's
record) and each fit's own memory per worker: before the fit every worker's kernel
high-water mark is reset (``/proc/self/clear_refs``; where it cannot be, the row says
so and the peak is the worker's whole life) and its resident memory read; after it, the
row reports the largest peak (``VmHWM``) of a worker during the fit, the largest growth
of a worker over its memory before the fit, and the largest share of features a worker
held (fairmtl's ``rows_per_worker``; dask-ml's chunks of ``X``). dask-ml is measured
from its reading (``read_parquet`` and ``persist``), as fairmtl's fits include theirs.

Sizes: ``--smoke`` 20,000 rows x 10 features x 5 hospitals; ``--quick`` 200,000 rows; a
full run ``FULL_ROWS`` = 3,000,000 rows (set ``FAIRMTL_BENCH_DISTRIBUTED_ROWS`` to change
it), the smallest round size at which each 4-worker limit is below the data's size (see
below). A scale run (``FAIRMTL_BENCH_DISTRIBUTED_SCALE=1``, e.g. with
``FAIRMTL_BENCH_DISTRIBUTED_ROWS=20000000``: 3.7 GiB of float32 features) fits the rows on
4 workers alone (average, minimax, minimax in hospital mode) and computes each model's
objectives on all rows afterwards: no in-memory fit, no 1- and 2-worker fits, no dask-ml
(whose workers would need about 5 GiB each there); its rows join the full run's as a
table of their own.

Memory, measured on this suite's ``LocalCluster`` (200,000 rows, 2 workers): a worker
holds ``WORKER_BASE_MB`` = 152 MiB once fairmtl's worker side is imported (numpy,
pandas, pyarrow, scipy, Dask itself; not cvxpy or scikit-learn); its first fit leaves
about 35 MiB whatever its rows; a fit then grows it by about 1.2 times the features it
holds (float32 features read one column at a time into one array, which encoding keeps;
the target, weights and task ids; a round's per-row sums; products in 1 MiB chunks).
Each cluster's limit per worker is that need for 1.25 times the average share (Dask
deals partitions unevenly), over ``PAUSE``: Dask's pause is moved to 90% of the limit
and nothing is spilled (``DASK_MEMORY``; fairmtl's partitions are held by actors, so
spilling them would free nothing). dask-ml's workers grew by 280 MiB for 19 MiB of
features (its imports, its persisted table, X and y): its own cluster's limit comes
from ``DASK_ML_GROWTH``.

With 4 workers the limit ``(152 + 35 + 8 + 1.3 x 1.25 x D / 4) / 0.9`` is below the
data's size D from about 395 MiB of features, 2,070,000 rows of 50 float32 features
(``limit_below_data`` says whether it was): at 1,000,000 rows (191 MiB) it is not (about
303 MiB; the base alone, 152 MiB plus 35 MiB after a first fit, is most of the data's
size); at 3,000,000 rows (572 MiB) it is (about 475 MiB).
"""

from __future__ import annotations

import gc
import os
import resource
import shutil
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks._common import _reset_hwm, _status_kb, markdown_table
from fairmtl.data import write_table_atomic

ALPHA = 1e-4
FEATURES = 50
HOSPITALS = 50
FULL_ROWS = 3_000_000
FILE_ROWS = 250_000
#: a worker process's resident memory once fairmtl's worker side (and pyarrow.parquet) is
#: imported: measured 151.5 MiB (226 MiB before the worker side stopped importing cvxpy
#: and scikit-learn; a bare Dask worker holds about 60 MiB)
WORKER_BASE_MB = 152
#: what a worker's first fit leaves resident whatever its rows (Dask's records of its
#: tasks and its actor): measured 34 MiB (first fits' growth 46.6 MiB with 10.1 MiB of
#: features, 59.0 MiB with 20.3 MiB; later fits 24 to 28 MiB with 20 to 23 MiB)
FIRST_FIT_MB = 35
#: a fit's growth of a worker's memory: (MiB per MiB of features it holds, MiB beside
#: them); measured slope 1.2 (features, target, weights, task ids, a round's per-row sums)
FAIRMTL_GROWTH = (1.3, 8.0)
#: dask-ml's growth above the base and first-fit constant, from its reading to the end
#: of its fit (its imports, its persisted table, X and y, its fit's temporaries):
#: measured peaks 424.5 MiB with 19.2 MiB of features per worker (and, with the earlier
#: 226 MiB base that held scikit-learn, 414 and 449 MiB with 9.6 and 20.4 MiB: slope 2.8);
#: extrapolated with a margin
DASK_ML_GROWTH = (3.5, 220.0)
#: Dask deals partitions to workers unevenly: the largest share is taken this much above
#: the average (measured up to 1.19: 22.7 MiB of 38.1 MiB on 2 workers)
IMBALANCE = 1.25
#: Dask pauses a worker at this share of its limit (set for the suite; Dask's default 0.8)
PAUSE = 0.9
#: the suite's Dask memory settings: nothing spilled (fairmtl's partitions are held by its
#: actors, so spilling them would free nothing) and a later pause
DASK_MEMORY = {"distributed.worker.memory.target": False,
               "distributed.worker.memory.spill": False,
               "distributed.worker.memory.pause": PAUSE,
               "distributed.worker.memory.terminate": 0.98}  # fmt: skip


def worker_limit(share_mb: float, growth: tuple[float, float]) -> int:
    """Bytes of memory limit per worker: its measured base, its first fit's constant and
    its growth for ``share_mb`` of features, below the pause threshold."""
    need = WORKER_BASE_MB + FIRST_FIT_MB + growth[0] * IMBALANCE * share_mb + growth[1]
    return int(need / PAUSE * 2**20)


# -- data -----------------------------------------------------------------------------------
def write_parquet(root: Path, n_rows: int, d: int, n_groups: int, seed: int = 0) -> int:
    """Simulated hospitals as Parquet (float32 features, 0/1 target); bytes of features."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    sizes = np.maximum(rng.dirichlet(np.full(n_groups, 2.0)) * n_rows, 200).astype(int)
    core = rng.normal(size=d) / np.sqrt(d)
    columns = [f"x{j:02d}" for j in range(d)]
    for g, size in enumerate(sizes):
        folder = root / f"hospital=h{g:02d}"
        folder.mkdir(parents=True)
        coef = core + rng.normal(scale=0.5, size=d) / np.sqrt(d)
        shift = rng.normal(scale=0.5, size=d)
        for k, start in enumerate(range(0, size, FILE_ROWS)):
            m = min(FILE_ROWS, size - start)
            X = (rng.normal(size=(m, d)) + shift).astype(np.float32)
            y = (X @ coef + rng.logistic(size=m) > 0).astype(np.int8)
            frame = pd.DataFrame(X, columns=columns)
            frame["y"] = y
            write_table_atomic(frame, folder / f"part-{k:03d}.parquet")
    return int(sizes.sum()) * d * 4


def read_all(root: Path):
    """Every row in memory (the in-memory fit's input)."""
    import pandas as pd

    frame = pd.read_parquet(root)
    groups = frame.pop("hospital").astype(str).to_numpy()
    y = frame.pop("y").to_numpy()
    return frame, y, groups


# -- objectives from coefficients ---------------------------------------------------------------
def group_losses(coef, intercept, X, y, groups, labels) -> np.ndarray:
    """Each hospital's mean log loss of a shared linear model (rows taken in float64
    a million at a time)."""
    X = X.to_numpy() if hasattr(X, "to_numpy") else np.asarray(X)
    code = np.searchsorted(labels, groups)
    sums = np.zeros(len(labels))
    for a in range(0, len(y), 1_000_000):
        z = X[a : a + 1_000_000].astype(np.float64) @ np.asarray(coef, float) + intercept
        ell = np.logaddexp(0.0, -np.where(y[a : a + 1_000_000] > 0, 1.0, -1.0) * z)
        sums += np.bincount(code[a : a + 1_000_000], weights=ell, minlength=len(labels))
    return sums / np.bincount(code, minlength=len(labels))


# -- the cluster ---------------------------------------------------------------------------------
def cluster(n_workers: int, memory_limit: int):
    import dask
    import distributed

    with warnings.catch_warnings(), dask.config.set(DASK_MEMORY):
        warnings.simplefilter("ignore")
        return distributed.LocalCluster(
            n_workers=n_workers, threads_per_worker=1, processes=True, host="127.0.0.1",
            dashboard_address=None, memory_limit=memory_limit, silence_logs=50,
        )  # fmt: skip


def _status_mb(key: str) -> float | None:
    """``VmRSS`` / ``VmHWM`` of this process (MiB), None where unreadable."""
    kb = _status_kb(key)
    return None if kb is None else kb / 1024.0


def _reset_peak() -> tuple[float, bool]:
    """On a worker: its resident MiB now, and whether its high-water mark was reset."""
    gc.collect()
    reset = _reset_hwm()
    rss = _status_mb("VmRSS")
    return (rss if rss is not None else _maxrss_mb()), reset


def _peak() -> float:
    """On a worker: its peak resident MiB since the last reset (or over its life)."""
    peak = _status_mb("VmHWM")
    return peak if peak is not None else _maxrss_mb()


def _maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def reset_peaks(client) -> dict[str, tuple[float, bool]]:
    """Before a fit: each worker's resident MiB, its high-water mark reset."""
    return client.run(_reset_peak)


def fit_memory(client, before: dict[str, tuple[float, bool]], share_mb: float) -> dict:
    """After a fit: the largest peak of a worker during it, the largest growth of a
    worker over its resident memory before it, and the largest share of rows (MiB of
    features) a worker held."""
    peaks = client.run(_peak)
    out = {
        "fit_peak_mb": max(peaks.values()),
        "fit_growth_mb": max(peaks[w] - before[w][0] for w in peaks if w in before),
        "pre_fit_mb": max(rss for rss, _ in before.values()),
        "share_mb": share_mb,
    }
    if not all(reset for _, reset in before.values()):
        out["note"] = "memory: peak over the worker's life (/proc/self/clear_refs not writable)"
    return out


def fairmtl_fit(root: Path, client, objective: str, hospitals: bool = False):
    from fairmtl import FairMTLClassifier
    from fairmtl.distributed import read_parquet

    rows = read_parquet(root, target="y", group="hospital", client=client, hospitals=hospitals)
    est = FairMTLClassifier(
        sharing="shared", objective=objective, alpha=ALPHA, sharing_strength=0.0, solver="dual"
    )
    t0 = time.perf_counter()
    est.fit(rows)
    return est, time.perf_counter() - t0


def distributed_wait(*collections) -> None:
    import distributed

    distributed.wait(list(collections))


def warm_up(client) -> float:
    """Import fairmtl on every worker (seconds): a worker's first task pays for it once."""
    t0 = time.perf_counter()
    client.run(lambda: [__import__(m) for m in ("fairmtl.distributed._parts", "pyarrow.parquet")])
    return time.perf_counter() - t0


def dask_ml_fit(root: Path, client, n: int):
    """dask-ml's LogisticRegression on the same rows: (coef, intercept, seconds, note,
    memory of its workers from its reading to the end of its fit)."""
    try:
        import dask.dataframe as dd
        from dask_ml.linear_model import LogisticRegression
    except ImportError as e:  # reported in the row, never a silent skip
        return None, None, None, f"dask-ml not importable: {e}", {}
    before = reset_peaks(client)
    frame = dd.read_parquet(str(root))
    features = [c for c in frame.columns if c.startswith("x")]
    # persisted first: dask's to_dask_array(lengths=True) on a column selection of a hive
    # folder counts partitions before and after combining them (a ValueError otherwise)
    table = frame[[*features, "y"]].persist()
    rows = table.to_dask_array(lengths=True)
    X, y = rows[:, :-1].persist(), rows[:, -1].astype(np.int64).persist()
    distributed_wait(X, y)
    model = LogisticRegression(solver="lbfgs", C=1.0 / (2 * ALPHA * n), max_iter=1000)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X, y)
    seconds = time.perf_counter() - t0
    memory = fit_memory(client, before, _dask_share_mb(client, X))
    return np.asarray(model.coef_).ravel(), float(model.intercept_), seconds, "", memory


def _dask_share_mb(client, X) -> float:
    """The largest MiB of ``X``'s chunks held by one worker."""
    from dask.core import flatten

    keys = list(flatten(X.__dask_keys__()))
    rows = [r for r in X.chunks[0] for _ in X.chunks[1]]
    where = {str(k): list(v) for k, v in client.who_has(X).items()}
    held: dict[str, int] = {}
    for key, m in zip(keys, rows, strict=True):
        for worker in where.get(str(key), [])[:1]:
            held[worker] = held.get(worker, 0) + m
    return max(held.values(), default=0) * X.shape[1] * X.dtype.itemsize / 2**20


# -- rows ----------------------------------------------------------------------------------------
def run(quick: bool, repeats: int = 1, smoke: bool = False, log=print) -> list[dict[str, Any]]:
    """Rows of the distributed suite; see the module docstring."""
    n = 20_000 if smoke else 200_000 if quick else int(
        os.environ.get("FAIRMTL_BENCH_DISTRIBUTED_ROWS", FULL_ROWS)
    )  # fmt: skip
    d, G = (10, 5) if smoke else (FEATURES, HOSPITALS)
    root = Path(tempfile.mkdtemp(prefix="fairmtl-bench-parquet-"))
    try:
        if os.environ.get("FAIRMTL_BENCH_DISTRIBUTED_SCALE"):
            return _scale_rows(root, n, d, G, log)
        return _rows(root, n, d, G, log)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _write(root: Path, n: int, d: int, G: int, log) -> tuple[int, int, int]:
    """Write the rows (:func:`write_parquet`): rows written, bytes of features, files."""
    t0 = time.perf_counter()
    data_bytes = write_parquet(root, n, d, G)
    n = data_bytes // (4 * d)
    files = len(list(root.rglob("*.parquet")))
    log(f"distributed: wrote {n:,} rows in {files} files ({data_bytes / 2**20:.0f} MiB "
        f"of features) in {time.perf_counter() - t0:.0f} s")  # fmt: skip
    return n, data_bytes, files


def _cluster_fit(root, client, objective: str, hospitals: bool, workers: int, limit: int,
                 data_bytes: int, base: dict, log):  # fmt: skip
    """One distributed fit on ``client``'s cluster: the fitted estimator and its row
    (time, rounds, messages, memory; no objectives yet)."""
    before = reset_peaks(client)
    est, seconds = fairmtl_fit(root, client, objective, hospitals)
    info = est.solver_info_
    record = info["distributed"]
    d = est.coef_.shape[-1]
    held = max(record["rows_per_worker"].values()) * d * 4 / 2**20
    mode = ", hospital mode" if hospitals else ""
    row = {
        **base, "seconds": seconds, "workers": workers,
        "memory_limit_mb": limit / 2**20, "limit_below_data": limit < data_bytes,
        "method": f"fairmtl distributed {objective}{mode} ({workers} workers)",
        "rounds": record["rounds"], "messages": record["messages"],
        "sent_mb": record["bytes_sent"] / 2**20,
        "received_mb": record["bytes_received"] / 2**20,
        "largest_result_values": record["largest_result_values"],
        "gap": info["gap"], **fit_memory(client, before, held),
    }  # fmt: skip
    log(f"distributed: {row['method']}: {seconds:.1f} s, {record['rounds']} rounds, "
        f"worker peak {row['fit_peak_mb']:.0f} MiB")  # fmt: skip
    return est, row


def _scale_rows(root: Path, n: int, d: int, G: int, log) -> list[dict[str, Any]]:
    """The scale run (``FAIRMTL_BENCH_DISTRIBUTED_SCALE``): the 4-worker fits alone
    (average, minimax, minimax in hospital mode), each model's objectives computed on all
    rows read afterwards; no in-memory fit, scaling or dask-ml (the full run's table)."""
    import distributed

    n, data_bytes, files = _write(root, n, d, G, log)
    data_mb = data_bytes / 2**20
    limit = worker_limit(data_mb / 4, FAIRMTL_GROWTH)
    dataset = (f"simulated {n:,} rows x {d} features x {G} hospitals, Parquet "
               f"({files} files, {data_mb:.0f} MiB): the 4-worker fits alone")  # fmt: skip
    base = {"dataset": dataset, "n_rows": n, "data_mb": data_mb}
    rows, models = [], []
    with cluster(4, limit) as c, distributed.Client(c) as client:
        log(f"distributed: 4 workers imported fairmtl in {warm_up(client):.1f} s")
        for objective, hospitals in (("average", False), ("minimax", False), ("minimax", True)):
            est, row = _cluster_fit(root, client, objective, hospitals, 4, limit, data_bytes,
                                    base, log)  # fmt: skip
            rows.append(row)
            models.append((est.coef_[0], est.intercept_[0]))
    X, y, groups = read_all(root)
    X = X.to_numpy()  # the frame's columns as one array, once
    labels = np.unique(groups)
    for row, (coef, intercept) in zip(rows, models, strict=True):
        row.update(_quality(coef, intercept, X, y, groups, labels))
    _compare(rows)
    return rows


def _rows(root: Path, n: int, d: int, G: int, log) -> list[dict[str, Any]]:
    import distributed

    n, data_bytes, files = _write(root, n, d, G, log)
    data_mb = data_bytes / 2**20
    limits = {w: worker_limit(data_mb / w, FAIRMTL_GROWTH) for w in (4, 2, 1)}
    dataset = (f"simulated {n:,} rows x {d} features x {G} hospitals, Parquet "
               f"({files} files, {data_mb:.0f} MiB)")  # fmt: skip
    base = {"dataset": dataset, "n_rows": n, "data_mb": data_mb}
    rows: list[dict[str, Any]] = []

    # in memory
    t = time.perf_counter()
    X, y, groups = read_all(root)
    read_s = time.perf_counter() - t
    labels = np.unique(groups)
    memory: dict[str, Any] = {}
    for objective in ("average", "minimax"):
        from fairmtl import FairMTLClassifier

        est = FairMTLClassifier(sharing="shared", objective=objective, alpha=ALPHA,
                                sharing_strength=0.0, solver="dual")  # fmt: skip
        t = time.perf_counter()
        est.fit(X, y, groups=groups)
        memory[objective] = row = {
            **base, "method": f"fairmtl in-memory dual {objective} (one process)",
            "seconds": time.perf_counter() - t, "read_seconds": read_s, "workers": 0,
            **_quality(est.coef_[0], est.intercept_[0], X, y, groups, labels),
            "gap": est.solver_info_["gap"],
        }  # fmt: skip
        row["ratio"] = 1.0
        rows.append(row)
        log(f"distributed: {row['method']}: {row['seconds']:.1f} s")

    # on the cluster
    for workers in (4, 2, 1):
        limit = limits[workers]
        with cluster(workers, limit) as c, distributed.Client(c) as client:
            log(f"distributed: {workers} workers imported fairmtl in {warm_up(client):.1f} s")
            fits = [("average", False)]
            if workers == 4:
                fits += [("minimax", False), ("minimax", True)]
            for objective, hospitals in fits:
                est, row = _cluster_fit(root, client, objective, hospitals, workers, limit,
                                        data_bytes, base, log)  # fmt: skip
                row["ratio"] = row["seconds"] / memory[objective]["seconds"]
                row.update(_quality(est.coef_[0], est.intercept_[0], X, y, groups, labels))
                rows.append(row)
    # dask-ml on a cluster of its own: its workers need more than fairmtl's limit
    peer_limit = worker_limit(data_mb / 4, DASK_ML_GROWTH)
    with cluster(4, peer_limit) as c, distributed.Client(c) as client:
        warm_up(client)
        try:
            coef, intercept, seconds, note, used = dask_ml_fit(root, client, n)
        except Exception as e:  # noqa: BLE001 - e.g. a worker past its limit: said in the row
            coef, intercept, seconds, used = None, None, None, {}
            note = f"dask-ml failed within a {peer_limit / 2**20:.0f} MiB limit: {e!r}"[:300]
    note = "; ".join(
        x for x in (note or f"own 4-worker cluster, limit {peer_limit / 2**20:.0f} MiB per "
                    "worker", used.pop("note", "")) if x
    )  # fmt: skip
    row = {**base, "method": "dask-ml LogisticRegression lbfgs (4 workers)", "workers": 4,
           "seconds": seconds, "note": note, "memory_limit_mb": peer_limit / 2**20,
           "limit_below_data": peer_limit < data_bytes, **used}  # fmt: skip
    if seconds is not None:
        row["ratio"] = seconds / memory["average"]["seconds"]
        row.update(_quality(coef, intercept, X, y, groups, labels))
    rows.append(row)
    log(f"distributed: {row['method']}: {seconds} s {note}")
    _compare(rows)
    return rows


def _quality(coef, intercept, X, y, groups, labels) -> dict[str, float]:
    """The average-loss and minimax objectives of a shared linear model."""
    losses = group_losses(np.asarray(coef), float(intercept), X, y, groups, labels)
    counts = np.bincount(np.searchsorted(labels, groups), minlength=len(labels))
    penalty = ALPHA * float(np.asarray(coef) @ np.asarray(coef))
    return {
        "average_objective": float(losses @ counts / counts.sum()) + penalty,
        "worst_objective": float(losses.max()) + penalty,
    }


def _compare(rows: list[dict[str, Any]]) -> None:
    """The goals' ratios: distributed average / dask-ml, minimax / average (4 workers)."""
    avg = _find(rows, "fairmtl distributed average (4")
    mm = _find(rows, "fairmtl distributed minimax (4")
    peer = _find(rows, "dask-ml")
    if avg and peer and peer.get("seconds"):
        avg["vs_dask_ml"] = avg["seconds"] / peer["seconds"]
    if avg and mm:
        mm["vs_distributed_average"] = mm["seconds"] / avg["seconds"]


def _find(rows, prefix: str):
    return next((r for r in rows if r["method"].startswith(prefix)), None)


#: the end of a scale run's dataset label (:func:`_scale_rows`)
SCALE_LABEL = "the 4-worker fits alone"


def headline(rows: list[dict[str, Any]]) -> list[str]:
    """Headline sentences from this suite's rows (a scale run's rows: one more)."""
    scale = [r for r in rows if r["dataset"].endswith(SCALE_LABEL)]
    rows = [r for r in rows if not r["dataset"].endswith(SCALE_LABEL)]
    return _full_headline(rows) + _scale_headline(scale)


def _scale_headline(rows: list[dict[str, Any]]) -> list[str]:
    avg = _find(rows, "fairmtl distributed average (4")
    mm = _find(rows, "fairmtl distributed minimax (4")
    if not (avg and mm):
        return []
    return [
        f"At {avg['n_rows']:,} Parquet rows ({avg['data_mb'] / 1024:.1f} GiB of features; 4 "
        f"workers, memory limit {avg['memory_limit_mb']:.0f} MiB each): average loss "
        f"{avg['seconds']:.0f} s, minimax {mm['seconds']:.0f} s in {mm['rounds']} rounds "
        f"({mm['vs_distributed_average']:.1f}x the average fit); a worker peaked at "
        f"{max(r['fit_peak_mb'] for r in rows):.0f} MiB (scale run)."
    ]


def _full_headline(rows: list[dict[str, Any]]) -> list[str]:
    avg = _find(rows, "fairmtl distributed average (4")
    mm = _find(rows, "fairmtl distributed minimax (4")
    peer = _find(rows, "dask-ml")
    if not (avg and mm):
        return []
    text = (
        f"Distributed fit on {avg['n_rows']:,} Parquet rows (4 worker processes, memory "
        f"limit {avg['memory_limit_mb']:.0f} MiB each): average loss {avg['seconds']:.1f} s "
        f"({avg.get('ratio', float('nan')):.2f}x the in-memory dual fit), minimax {mm['seconds']:.1f} s "
        f"({mm['vs_distributed_average']:.1f}x the distributed average fit)"
    )
    if peer and peer.get("seconds"):
        text += (
            f"; dask-ml's LogisticRegression {peer['seconds']:.1f} s on 4 workers "
            f"(objective {peer['average_objective']:.5f} against fairmtl's "
            f"{avg['average_objective']:.5f})"
        )
    if "fit_peak_mb" not in avg:  # results of an earlier version of this suite
        return [text + f"; peak worker memory {avg.get('peak_worker_mb', float('nan')):.0f} MiB."]
    return [
        text + f"; during the average fit a worker peaked at {avg['fit_peak_mb']:.0f} MiB, "
        f"{avg['fit_growth_mb']:.0f} MiB above its memory before the fit, holding at most "
        f"{avg['share_mb']:.0f} MiB of features."
    ]


COLUMNS = [
    ("method", "method"), ("seconds", "seconds"), ("ratio", "x in-memory"),
    ("average_objective", "average objective"), ("worst_objective", "worst-group objective"),
    ("gap", "certified gap"), ("rounds", "rounds"), ("messages", "messages"),
    ("sent_mb", "MiB sent"), ("received_mb", "MiB received"),
    ("largest_result_values", "largest result (values)"),
    ("memory_limit_mb", "limit MiB per worker"), ("share_mb", "largest share MiB"),
    ("fit_peak_mb", "fit's peak MiB per worker"), ("fit_growth_mb", "fit's growth MiB"),
    ("note", "note"),
]  # fmt: skip


def markdown(rows: list[dict[str, Any]]) -> str:
    """The suite's section of RESULTS.md: one table per dataset."""
    parts = []
    for dataset in dict.fromkeys(r["dataset"] for r in rows):
        block = [r for r in rows if r["dataset"] == dataset]
        first = _find(block, "fairmtl distributed average (4") or block[0]
        parts.append(
            f"**{dataset}**; worker memory limit {first['memory_limit_mb']:.0f} MiB on 4 "
            f"workers ({'below' if first['limit_below_data'] else 'not below'} the data's "
            f"size); "
            + (
                f"in-memory read {block[0]['read_seconds']:.1f} s (not in its fit times; "
                if "read_seconds" in block[0]
                else "no in-memory fit, scaling or dask-ml at this size (the full run's table "
                "has them; "
            )
            + "the distributed times include each worker's reading). Memory "
            "per fit: each worker's kernel high-water mark (VmHWM) reset before the fit "
            "(dask-ml: before its reading) and read after it; growth: above the worker's "
            "resident memory before the fit (largest over the workers); share: the most "
            "MiB of features one worker held."
        )
        parts.append(markdown_table(block, COLUMNS))
    return "\n\n".join(parts)
