"""What a worker holds during a distributed fit: one float32 copy of its rows, nothing raw.

Expected rows come from pandas (``pd.read_parquet`` and a stable sort by group), expected
sums from plain numpy formulas over all rows at once, and what the workers hold from
their own data stores and actors, never from fairmtl's record of itself.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

from fairmtl import FairMTLClassifier
from fairmtl.exceptions import DataValidationError

distributed = pytest.importorskip(
    "distributed", reason="the distributed fit needs dask.distributed"
)
pytest.importorskip("pyarrow", reason="Parquet input needs pyarrow")

from fairmtl.distributed import _parts, read_parquet  # noqa: E402
from fairmtl.distributed._load import encode_rows, open_rows  # noqa: E402
from tests import test_distributed_fit  # noqa: E402

pytestmark = [pytest.mark.distributed, pytest.mark.timeout(300)]

FEATURES = [f"x{j}" for j in range(6)]


def mixed_file(path, n: int = 500, seed: int = 0) -> pd.DataFrame:
    """One Parquet file whose rows mix three hospitals in no order (float32 features)."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(rng.normal(size=(n, len(FEATURES))).astype(np.float32), columns=FEATURES)
    frame["hospital"] = rng.choice(["c", "a", "b"], size=n)
    frame["y"] = rng.integers(0, 2, size=n)
    frame["w"] = rng.uniform(0.5, 2.0, size=n)
    frame.to_parquet(path)
    return frame


def read(path) -> _parts.RawPart:
    return _parts.raw_from_parquet(str(path), {}, "y", "hospital", FEATURES, "w")


def test_parquet_partition_is_one_float32_array_sorted_by_group(tmp_path):
    frame = mixed_file(tmp_path / "part.parquet")
    raw = read(tmp_path / "part.parquet")
    expected = pd.read_parquet(tmp_path / "part.parquet").sort_values("hospital", kind="stable")
    assert raw.X.dtype == np.float32  # not upcast to float64
    assert raw.X.base is None  # its own array, not a view of a pandas or arrow table
    np.testing.assert_array_equal(raw.X, expected[FEATURES].to_numpy())
    np.testing.assert_array_equal(raw.labels, expected["hospital"].to_numpy())
    np.testing.assert_array_equal(raw.w, expected["w"].to_numpy())
    np.testing.assert_array_equal(raw.rows, expected.index.to_numpy())
    assert len(frame) == raw.X.shape[0]


def test_mixed_feature_types_are_float64_and_text_is_refused(tmp_path):
    frame = mixed_file(tmp_path / "part.parquet")
    frame["x0"] = frame["x0"].astype(np.float64) / 3
    frame["x1"] = np.arange(len(frame))
    frame.to_parquet(tmp_path / "mixed.parquet")
    raw = read(tmp_path / "mixed.parquet")
    assert raw.X.dtype == np.float64
    expected = frame.sort_values("hospital", kind="stable")[FEATURES].to_numpy(np.float64)
    np.testing.assert_array_equal(raw.X, expected)
    frame["x2"] = "text"
    frame.to_parquet(tmp_path / "text.parquet")
    assert read(tmp_path / "text.parquet").non_numeric == ["x2"]


def test_nullable_features_of_a_dask_partition_are_nan_at_their_row():
    X = pd.DataFrame({"a": pd.array([1, None, 3, 4], dtype="Int64"), "b": [0.5, 1.5, 2.5, 3.5]})
    raw = _parts.raw_from_frames(X, np.array([0, 1, 0, 1]), np.array(["q", "p", "q", "p"]))
    assert raw.X.dtype == np.float64
    np.testing.assert_array_equal(raw.labels, ["p", "p", "q", "q"])
    np.testing.assert_array_equal(raw.X, [[np.nan, 1.5], [4, 3.5], [1, 0.5], [3, 2.5]])
    assert _parts.summarise(raw, True)["non_finite"] == (1, 1, "a")


def test_encoding_keeps_the_raw_array_and_groups_each_task(tmp_path):
    mixed_file(tmp_path / "part.parquet")
    raw = read(tmp_path / "part.parquet")
    labels = np.array(["b", "c", "a"], dtype=object)  # task order unlike the sort order
    weight = np.array([2.0, 3.0, 5.0])
    part = _parts.encode(raw, labels, 1, weight)
    assert part.X is raw.X  # no copy of the features
    for k, g in enumerate(part.tasks):
        a, b = part.starts[k], part.starts[k + 1]
        assert set(raw.labels[a:b]) == {labels[g]}
        assert (part.task[a:b] == g).all()
        np.testing.assert_allclose(part.rw[a:b], raw.w[a:b] / weight[g])
    assert part.starts[-1] == len(raw.labels)


def test_a_bad_value_is_named_by_its_row_in_the_file(tmp_path):
    """Rows are sorted as read; messages still name the row of the source file."""
    frame = mixed_file(tmp_path / "part.parquet", n=50)
    frame.loc[17, "x3"] = np.nan
    frame.loc[9, "w"] = -1.0
    frame.to_parquet(tmp_path / "bad.parquet")
    found = _parts.summarise(read(tmp_path / "bad.parquet"), True)
    assert found["non_finite"] == (1, 17, "x3")
    assert found["negative"] == (1, 9, -1.0)


def test_chunked_sums_equal_numpy_over_all_rows(monkeypatch):
    rng = np.random.default_rng(3)
    n, d = 5000, 4
    X = np.asfortranarray(rng.normal(size=(n, d)).astype(np.float32))
    labels = np.sort(rng.choice(["a", "b"], size=n))
    raw = _parts.RawPart(X, rng.integers(0, 2, n), labels, np.ones(n), FEATURES[:d], [])
    part = _parts.encode(raw, np.array(["a", "b"], dtype=object), 1, np.ones(2))
    monkeypatch.setattr(_parts, "CHUNK_BYTES", 8 * d)  # one row's bytes: MIN_CHUNK rules
    monkeypatch.setattr(_parts, "MIN_CHUNK", 700)  # chunks that split both groups
    assert len(_parts._pieces(0, n, d)) > 4
    w, b = rng.normal(size=(1, d)), np.array([0.3])
    tasks, losses, jw, jb = _parts.group_gradients(part, w, b, "logistic")
    Xd = X.astype(np.float64)
    for k, g in enumerate(tasks):
        rows = part.task == g
        z = Xd[rows] @ w[0] + b[0]
        yy = part.y[rows]
        np.testing.assert_allclose(losses[k], np.logaddexp(0, -yy * z) @ part.rw[rows])
        r = -yy * expit(-yy * z) * part.rw[rows]
        np.testing.assert_allclose(jw[k], Xd[rows].T @ r, rtol=1e-10)
        np.testing.assert_allclose(jb[k], r.sum(), rtol=1e-10)
    _, blocks = _parts.group_hessians(part, w, b, "logistic", np.ones(2))
    rows = part.task == tasks[0]
    p = expit(Xd[rows] @ w[0] + b[0])
    A = np.c_[Xd[rows], np.ones(rows.sum())]
    expected = A.T @ (A * (p * (1 - p) * part.rw[rows])[:, None])
    # float32 rows' Hessians are summed in float32 (they only steer Newton's steps)
    np.testing.assert_allclose(blocks[0], expected, rtol=1e-5, atol=1e-6)
    _, _, colmax = _parts.moments(part, 2)
    np.testing.assert_array_equal(colmax, np.abs(Xd).max(axis=0))


# -- on a cluster ---------------------------------------------------------------------------
#: the fixture: test_distributed_fit's in-process cluster of 2 workers
client = test_distributed_fit.client


def write_files(root, frame: pd.DataFrame, files: int = 4) -> None:
    for k, index in enumerate(np.array_split(np.arange(len(frame)), files)):
        frame.iloc[index].to_parquet(root / f"part-{k}.parquet")


def held(client) -> dict:
    """Per worker: the type names of the values in its data store, and the number of
    partitions its actors hold."""

    def look(dask_worker):
        kinds = sorted({type(v).__name__ for v in dask_worker.data.values()})
        actors = dask_worker.state.actors.values()
        return kinds, sum(len(getattr(a, "parts", [])) for a in actors)

    return client.run(look)


def settled(client, want, timeout: float = 10.0) -> dict:
    """``held(client)`` once ``want`` accepts it (releases are asynchronous), or the last."""
    stop = time.monotonic() + timeout
    while True:
        found = held(client)
        if want(found) or time.monotonic() > stop:
            return found
        time.sleep(0.1)


def test_no_raw_partition_is_kept_after_encoding(client, tmp_path):
    write_files(tmp_path, mixed_file(tmp_path / "all.parquet.tmp", n=2000))
    (tmp_path / "all.parquet.tmp").unlink()
    rows = read_parquet(tmp_path, target="y", group="hospital", features=FEATURES, client=client)
    summary = open_rows(rows, classification=True)
    encoded = encode_rows(summary, np.array(["a", "b", "c"], dtype=object), 1)
    try:
        found = settled(client, lambda f: all(kinds == ["Part"] for kinds, _ in f.values()))
        assert {tuple(kinds) for kinds, _ in found.values()} == {("Part",)}
        assert sum(encoded.part_rows) == 2000 and len(encoded.part_rows) == 4
    finally:
        summary.rounds.close()
    found = settled(client, lambda f: all(not k and not n for k, n in f.values()))
    assert all(not kinds and not parts for kinds, parts in found.values())


def test_fit_reports_rows_per_worker_and_leaves_nothing_behind(client, tmp_path):
    frame = mixed_file(tmp_path / "all.parquet.tmp", n=3000, seed=1)
    (tmp_path / "all.parquet.tmp").unlink()
    write_files(tmp_path, frame)
    rows = read_parquet(tmp_path, target="y", group="hospital", features=FEATURES, client=client)
    est = FairMTLClassifier(objective="average", alpha=1e-2, sharing_strength=0.0, solver="dual")
    est.fit(rows)
    per_worker = est.solver_info_["distributed"]["rows_per_worker"]
    assert sum(per_worker.values()) == len(frame)
    assert set(per_worker) <= set(client.scheduler_info(n_workers=-1)["workers"])
    found = settled(client, lambda f: all(not k and not n for k, n in f.values()))
    assert all(not kinds and not parts for kinds, parts in found.values())


def test_non_finite_value_message_names_the_file_row(client, tmp_path):
    frame = mixed_file(tmp_path / "one.parquet.tmp", n=40, seed=2)
    (tmp_path / "one.parquet.tmp").unlink()
    frame.loc[23, "x1"] = np.inf
    frame.to_parquet(tmp_path / "part-0.parquet")
    rows = read_parquet(tmp_path, target="y", group="hospital", features=FEATURES, client=client)
    est = FairMTLClassifier(objective="average", alpha=1e-2, sharing_strength=0.0, solver="dual")
    with pytest.raises(DataValidationError, match=r"'x1'.*first at its row 23"):
        est.fit(rows)


def test_row_sums_in_chunks_equal_the_in_memory_sums(monkeypatch):
    """Each round's sums over rows, taken in chunks that cut groups, equal the in-memory
    path's ``RowSums`` over all rows at once (outputs computed here with numpy)."""
    from fairmtl.losses import get_loss
    from fairmtl.solvers._certificate import RowSums

    rng = np.random.default_rng(5)
    n, d, G = 3000, 3, 3
    labels = np.sort(rng.choice(["a", "b", "c"], size=n, p=[0.5, 0.3, 0.2]))
    raw = _parts.RawPart(
        np.asfortranarray(rng.normal(size=(n, d))), rng.integers(0, 2, n), labels,
        rng.uniform(0.5, 2, n), FEATURES[:d], [],
    )  # fmt: skip
    part = _parts.encode(raw, np.array(["c", "a", "b"], dtype=object), 1, np.full(G, n / G))
    monkeypatch.setattr(_parts, "CHUNK_BYTES", 8)  # MIN_CHUNK rows a chunk
    monkeypatch.setattr(_parts, "MIN_CHUNK", 700)
    w, b, lam = rng.normal(size=(G, d)), rng.normal(size=G), np.array([0.2, 0.0, 0.8])
    z = np.einsum("nd,nd->n", part.X, w[part.task]) + b[part.task]
    whole = RowSums(get_loss("logistic"), z, part.y, lam[part.task] * part.rw, part.task, G)
    t = rng.normal(size=G)
    d1, d2 = _parts.derivatives(part, lam, w, b, False, "logistic", t)
    np.testing.assert_allclose(d1, whole.derivatives(t)[0], rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(d2, whole.derivatives(t)[1](), rtol=1e-12, atol=1e-15)
    sign, which = np.array([1.0, -1.0, 1.0]), np.array([True, True, True])
    np.testing.assert_array_equal(
        _parts.min_margin(part, lam, w, b, False, "logistic", sign, which),
        whole.min_margin(sign, which),
    )
    counts = zip(_parts.class_counts(part, lam, False), whole.class_counts(), strict=True)
    for mine, theirs in counts:
        np.testing.assert_array_equal(mine, theirs)
    losses, gw, gb, phi = _parts.loss_sums(part, lam, w, b, False, "logistic", True)
    ell = np.logaddexp(0, -part.y * z)
    np.testing.assert_allclose(losses, np.bincount(part.task, part.rw * ell, G), rtol=1e-12)
    np.testing.assert_allclose(phi, np.bincount(part.task, whole.c * ell, G), rtol=1e-12)
    r = whole.c * -part.y * expit(-part.y * z)
    expected = np.array([part.X[part.task == g].T @ r[part.task == g] for g in range(G)])
    np.testing.assert_allclose(gw, expected, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(gb, np.bincount(part.task, r, G), rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(_parts.group_losses(part, w, b, "logistic", G), losses, rtol=1e-12)
