"""One fit across a real Dask cluster (loopback) equals the in-memory fit.

Expected values come from the exact path (CLARABEL on the whole problem at once) and from
the in-memory dual path, never from numbers the distributed fit printed. The hospital
mode is checked by watching every result that reaches the client and the workers' own
transfer counters, not by reading fairmtl's message log.
"""

from __future__ import annotations

import os
import signal
import warnings

import numpy as np
import pandas as pd
import pytest

from fairmtl import FairMTLClassifier, FairMTLRegressor
from fairmtl.exceptions import ClusterError, DataValidationError

distributed = pytest.importorskip(
    "distributed", reason="the distributed fit needs dask.distributed"
)
dd = pytest.importorskip("dask.dataframe", reason="the distributed fit needs dask.dataframe")
pytest.importorskip("pyarrow", reason="Parquet input needs pyarrow")

from fairmtl.distributed import from_dask, read_parquet  # noqa: E402
from fairmtl.distributed._data import MSG_MIXED_PARTITION  # noqa: E402
from fairmtl.distributed._estimator import MSG_AUTO_DISTRIBUTED, MSG_DATA_WITH_Y  # noqa: E402
from fairmtl.distributed._rounds import Rounds  # noqa: E402

pytestmark = [pytest.mark.distributed, pytest.mark.timeout(300)]

FEATURES = ["x0", "x1", "x2"]
LABELS = np.array(["north", "south", "east"])
#: accuracy of the exact path's reported objective (interior point, relative)
EXACT_TOL = 1e-6


def make_frame(seed: int = 0, n: int = 600, task: str = "binary") -> pd.DataFrame:
    """Three hospitals of unequal sizes with different models and shifted features."""
    rng = np.random.default_rng(seed)
    g = rng.choice(3, size=n, p=[0.5, 0.3, 0.2])
    X = rng.normal(size=(n, 3)) + rng.normal(size=(3, 3))[g]
    score = np.einsum("nd,nd->n", X, rng.normal(size=(3, 3))[g])
    frame = pd.DataFrame(X * [1.0, 2.0, 0.5], columns=FEATURES)
    frame["hospital"] = LABELS[g]
    if task == "binary":
        frame["y"] = np.where(score + rng.logistic(size=n) > 0, "yes", "no")
    else:
        frame["y"] = score + rng.normal(size=n)
    frame["w"] = rng.uniform(0.5, 2.0, n)
    return frame


def local_cluster(processes: bool):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # dask's notes about ports and memory limits
        # threads in this process talk in-process; worker processes over loopback TCP
        where = {"host": "127.0.0.1"} if processes else {}
        return distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=processes,
            dashboard_address=None,
            **where,
        )


@pytest.fixture(scope="module")
def client():
    cluster = local_cluster(processes=False)
    with distributed.Client(cluster) as c:
        yield c
    cluster.close()


def fit_three(est_class, frame, ddf, **params):
    """The distributed fit, the in-memory dual fit and the exact fit of one setting."""
    params = {"alpha": 1e-2, "sharing_strength": 1.0, **params}
    X, y, g, w = frame[FEATURES], frame["y"], frame["hospital"], frame["w"]
    dist = est_class(solver="dual", **params).fit(
        ddf[FEATURES], ddf["y"], groups=ddf["hospital"], sample_weight=ddf["w"]
    )
    memory = est_class(solver="dual", **params).fit(X, y, groups=g, sample_weight=w)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        exact = est_class(solver="CLARABEL", **params).fit(X, y, groups=g, sample_weight=w)
    return dist, memory, exact


def assert_same_fit(dist, memory, exact):
    """The exact optimum lies within the distributed fit's certified bounds; it reports
    the same certificate as the in-memory dual fit and the same model within its gap."""
    info, mem = dist.solver_info_, memory.solver_info_
    opt = exact.solver_info_.get("stage1_objective", exact.solver_info_["objective"])
    slack = EXACT_TOL * max(1.0, abs(opt))
    assert info["lower_bound"] <= opt + slack
    assert info.get("stage1_objective", info["upper_bound"]) >= opt - slack
    assert info["status"] == "optimal"
    assert set(info) - {"distributed"} == set(mem)
    assert_within_gap(dist, memory)
    # same predictions up to the certified gap: compare on the training rows
    assert list(dist.groups_) == list(memory.groups_)
    assert list(dist.group_sizes_) == list(memory.group_sizes_)


def assert_within_gap(dist, memory):
    """Both fits' objectives lie within each other's certified intervals (the returned
    model of minimax / chebyshev may differ within stage 1's gap: its Pareto stage)."""
    a, b = dist.solver_info_, memory.solver_info_
    for x, z in ((a, b), (b, a)):
        top = x.get("stage1_objective", x["upper_bound"])
        assert x["lower_bound"] - 1e-9 <= z.get("stage1_objective", z["upper_bound"])
        assert z["lower_bound"] - 1e-9 <= top
    assert abs(a["objective"] - b["objective"]) <= a["gap"] + b["gap"] + 1e-9


@pytest.mark.parametrize(
    ("objective", "sharing", "extra"),
    [
        ("average", "shared", {}),
        ("minimax", "offset", {}),
        ("tilted", "independent", {"tilt": 2.0}),
        ("bounded", "offset", {"epsilon": 0.62}),
    ],
)
def test_classifier_equals_in_memory_fit(client, objective, sharing, extra):
    frame = make_frame(1)
    ddf = dd.from_pandas(frame, npartitions=4)
    dist, memory, exact = fit_three(
        FairMTLClassifier, frame, ddf, objective=objective, sharing=sharing, **extra
    )
    assert_same_fit(dist, memory, exact)
    assert list(dist.classes_) == ["no", "yes"]
    assert list(dist.feature_names_in_) == FEATURES
    proba = dist.predict_proba(frame[FEATURES], groups=frame["hospital"])
    expected = memory.predict_proba(frame[FEATURES], groups=frame["hospital"])
    np.testing.assert_allclose(proba, expected, atol=1e-2)


@pytest.mark.parametrize("sharing", ["shared", "offset"])
def test_cluster_minimax_by_the_smooth_stages_is_certified(client, sharing):
    """On a cluster, minimax of a small model runs the exact path's smooth stages (tens of
    rounds instead of the level method's hundreds): its stage-1 bounds enclose the
    in-memory exact path's stage-1 optimum (an independent solver: SLSQP / interior point
    on all rows at once), its gap is within the tolerance, and the returned model is the
    exact path's."""
    from fairmtl.solvers._dual_smooth import SMOOTH_SOLVER

    frame = make_frame(3, n=900)
    ddf = dd.from_pandas(frame, npartitions=3)
    params = {"objective": "minimax", "sharing": sharing, "alpha": 1e-2, "sharing_strength": 1.0}
    X, y, g, w = frame[FEATURES], frame["y"], frame["hospital"], frame["w"]
    dist = FairMTLClassifier(solver="dual", **params).fit(
        ddf[FEATURES], ddf["y"], groups=ddf["hospital"], sample_weight=ddf["w"]
    )
    exact = FairMTLClassifier(solver="auto", **params).fit(X, y, groups=g, sample_weight=w)
    info, ref = dist.solver_info_, exact.solver_info_
    assert info["solver"] == SMOOTH_SOLVER and ref["path"] == "exact"
    assert info["status"] == "optimal" and info["refine_status"] == "optimal"
    opt = ref["stage1_objective"]
    assert info["lower_bound"] <= opt + 1e-9 <= info["stage1_objective"] + 2e-9
    assert info["stage1_relative_gap"] <= 1e-6
    assert info["objective"] == pytest.approx(ref["objective"], rel=1e-7)
    np.testing.assert_allclose(
        dist.predict_proba(X, groups=g), exact.predict_proba(X, groups=g), atol=1e-5
    )


def test_regressor_equals_in_memory_fit(client):
    frame = make_frame(2, task="regression")
    ddf = dd.from_pandas(frame, npartitions=3)
    dist, memory, exact = fit_three(
        FairMTLRegressor, frame, ddf, objective="balanced", sharing="offset"
    )
    assert_same_fit(dist, memory, exact)


def test_dask_array_input(client):
    """Dask Arrays (chunked by rows) fit like the DataFrame they hold."""
    da = pytest.importorskip("dask.array")
    frame = make_frame(3)
    X = da.from_array(frame[FEATURES].to_numpy(), chunks=(200, 3))
    y = da.from_array(frame["y"].to_numpy(), chunks=200)
    g = da.from_array(frame["hospital"].to_numpy(), chunks=200)
    params = {"objective": "minimax", "alpha": 1e-2, "sharing_strength": 1.0, "solver": "dual"}
    dist = FairMTLClassifier(**params).fit(X, y, groups=g)
    memory = FairMTLClassifier(**params).fit(
        frame[FEATURES].to_numpy(), frame["y"], groups=frame["hospital"]
    )
    assert_within_gap(dist, memory)
    assert not hasattr(dist, "feature_names_in_")


def write_hospitals(frame: pd.DataFrame, root) -> None:
    """One hive folder per hospital (hospital=north/part.parquet), two files each."""
    for label, rows in frame.groupby("hospital"):
        folder = root / f"hospital={label}"
        folder.mkdir()
        half = len(rows) // 2
        rows.iloc[:half].drop(columns="hospital").to_parquet(folder / "a.parquet")
        rows.iloc[half:].drop(columns="hospital").to_parquet(folder / "b.parquet")


def test_hospital_mode_sends_no_rows(client, tmp_path, monkeypatch):
    """Each hospital's files are read on its worker and nothing row-level reaches the
    client or another worker; the fit equals the in-memory one."""
    frame = make_frame(4)
    write_hospitals(frame, tmp_path)
    received = []
    gather, actor_result = client.gather, distributed.actor.ActorFuture.result

    def watching_gather(futures, *args, **kwargs):
        received.append(gather(futures, *args, **kwargs))
        return received[-1]

    def watching_actor(self, *args, **kwargs):  # results of calls to a worker's actor
        received.append(actor_result(self, *args, **kwargs))
        return received[-1]

    transfers_before = client.run(
        lambda dask_worker: dask_worker.state.transfer_incoming_count_total
    )
    monkeypatch.setattr(client, "gather", watching_gather)
    monkeypatch.setattr(distributed.actor.ActorFuture, "result", watching_actor)
    rows = read_parquet(
        tmp_path, target="y", group="hospital", features=FEATURES, sample_weight="w",
        client=client, hospitals=True,
    )  # fmt: skip
    params = {"objective": "minimax", "alpha": 1e-2, "sharing_strength": 1.0}
    dist = FairMTLClassifier(solver="dual", **params).fit(rows)
    monkeypatch.undo()
    transfers = client.run(lambda dask_worker: dask_worker.state.transfer_incoming_count_total)
    assert transfers == transfers_before  # no task fetched data from another worker
    smallest = frame["hospital"].value_counts().min() // 2  # rows of the smallest file
    arrays = [a for batch in received for a in _arrays(batch)]
    rounds = dist.solver_info_["distributed"]["rounds"]
    assert len(received) >= rounds, "not every round's results were inspected"
    assert max(a.size for a in arrays) < smallest
    assert all(a.dtype != object or a.size <= 3 for a in arrays)
    memory = FairMTLClassifier(solver="dual", **params).fit(
        frame[FEATURES], frame["y"], groups=frame["hospital"], sample_weight=frame["w"]
    )
    assert_within_gap(dist, memory)
    record = dist.solver_info_["distributed"]
    workers = set(client.scheduler_info(n_workers=-1)["workers"])
    assert record["mode"] == "hospitals"
    assert set(record["placement"]) == set(LABELS)
    assert set(record["placement"].values()) <= workers
    # one task per worker and round, and its answer
    assert record["messages"] == 2 * len(set(record["placement"].values())) * record["rounds"]


def _arrays(obj):
    if isinstance(obj, np.ndarray):
        yield obj
    elif isinstance(obj, (list, tuple)):
        for o in obj:
            yield from _arrays(o)
    elif isinstance(obj, dict):
        for o in obj.values():
            yield from _arrays(o)


def test_hospital_mode_refuses_mixed_partitions(client):
    frame = make_frame(5)
    ddf = dd.from_pandas(frame, npartitions=2)  # both partitions mix the hospitals
    rows = from_dask(ddf[FEATURES], ddf["y"], ddf["hospital"], client=client, hospitals=True)
    est = FairMTLClassifier(objective="average", alpha=1e-2, sharing_strength=1.0)
    with pytest.raises(DataValidationError, match=MSG_MIXED_PARTITION.split("{")[0]):
        est.fit(rows)


def test_auto_knobs_are_refused(client):
    frame = make_frame(6)
    ddf = dd.from_pandas(frame, npartitions=2)
    est = FairMTLClassifier(objective="average", alpha="auto", sharing_strength=1.0)
    message = MSG_AUTO_DISTRIBUTED.format(name="alpha", example="alpha=1e-3")
    with pytest.raises(ValueError, match=message[:60].replace("(", r"\(")):
        est.fit(ddf[FEATURES], ddf["y"], groups=ddf["hospital"])


def test_rows_on_the_cluster_take_no_separate_weights(client):
    frame = make_frame(9)
    ddf = dd.from_pandas(frame, npartitions=2)
    rows = from_dask(ddf[FEATURES], ddf["y"], ddf["hospital"], client=client)
    est = FairMTLClassifier(objective="average", alpha=1e-2, sharing_strength=1.0)
    with pytest.raises(DataValidationError, match="without y, groups and sample_weight"):
        est.fit(rows, sample_weight=frame["w"])
    assert "sample_weight" in MSG_DATA_WITH_Y


# -- a worker killed mid-fit ------------------------------------------------------------------
@pytest.fixture(scope="module")
def process_client():
    cluster = local_cluster(processes=True)
    with distributed.Client(cluster, set_as_default=False) as c:
        yield c
    cluster.close()


def kill_after(monkeypatch, client, rounds: int, worker=None):
    """Kill a worker process (SIGKILL, no goodbye) when the fit reaches round ``rounds``."""
    original, count = Rounds.run, {"n": 0}
    pids = client.run(os.getpid)
    target = worker or sorted(pids)[0]

    def run(self, kind, func, *args):
        count["n"] += 1
        if count["n"] == rounds:
            os.kill(pids[target], signal.SIGKILL)
        return original(self, kind, func, *args)

    monkeypatch.setattr(Rounds, "run", run)
    return target


def test_killed_worker_is_recovered(process_client, monkeypatch):
    """Without pinning, Dask reads the lost partitions again elsewhere: same answer."""
    frame = make_frame(7)
    ddf = dd.from_pandas(frame, npartitions=4)
    rows = from_dask(ddf[FEATURES], ddf["y"], ddf["hospital"], client=process_client)
    params = {"objective": "minimax", "alpha": 1e-2, "sharing_strength": 1.0, "solver": "dual"}
    killed = kill_after(monkeypatch, process_client, rounds=10)
    dist = FairMTLClassifier(**params).fit(rows)
    monkeypatch.undo()
    process_client.wait_for_workers(2, timeout=60)
    assert killed not in process_client.scheduler_info(n_workers=-1)["workers"]
    memory = FairMTLClassifier(**params).fit(frame[FEATURES], frame["y"], groups=frame["hospital"])
    assert_within_gap(dist, memory)


def test_killed_hospital_worker_is_a_clear_error(process_client, monkeypatch, tmp_path):
    """A hospital's rows never move: losing its worker stops the fit with ClusterError."""
    process_client.wait_for_workers(2, timeout=60)
    frame = make_frame(8)
    write_hospitals(frame, tmp_path)
    rows = read_parquet(
        tmp_path, target="y", group="hospital", features=FEATURES, client=process_client,
        hospitals=True,
    )  # fmt: skip
    est = FairMTLClassifier(objective="minimax", alpha=1e-2, sharing_strength=1.0)
    kill_after(monkeypatch, process_client, rounds=5)
    with pytest.raises(ClusterError, match="left the cluster during the fit; it held the rows"):
        est.fit(rows)


def test_cluster_offset_minimax_of_many_groups_by_the_smooth_stages(client):
    """Offset sharing of more parameters than a dense Hessian takes (110 groups x 4): the
    workers' Hessian blocks (fairmtl.solvers._blockhessian) give the in-memory fit,
    itself checked against CLARABEL in test_block_hessian."""
    from fairmtl.distributed._smooth import ClusterModel
    from fairmtl.losses import get_loss
    from fairmtl.solvers._dual_smooth import SMOOTH_SOLVER
    from fairmtl.solvers._grouped import GroupedData
    from fairmtl.solvers._refine import MAX_PARAMS, _Model

    rng = np.random.default_rng(5)
    G, n = 110, 3300
    g = np.concatenate([np.arange(G), rng.integers(0, G, n - G)])
    X = rng.normal(size=(n, 3)) + 0.5 * rng.normal(size=(G, 3))[g]
    score = np.einsum("nd,nd->n", X, rng.normal(size=3) + 0.5 * rng.normal(size=(G, 3))[g])
    frame = pd.DataFrame(X, columns=FEATURES)
    frame["hospital"] = [f"h{k:03d}" for k in g]
    frame["y"] = np.where(score + rng.logistic(size=n) > 0, "yes", "no")
    assert G * (len(FEATURES) + 1) > MAX_PARAMS
    ddf = dd.from_pandas(frame, npartitions=3)
    params = {"objective": "minimax", "sharing": "offset", "alpha": 1e-3, "sharing_strength": 1.0}
    seen = []
    with pytest.MonkeyPatch.context() as mp:
        blocks = ClusterModel.group_blocks

        def spy(self, point, weights):
            seen.append((point, weights, blocks(self, point, weights)))
            return seen[-1][2]

        mp.setattr(ClusterModel, "group_blocks", spy)
        dist = FairMTLClassifier(solver="dual", **params).fit(
            ddf[FEATURES], ddf["y"], groups=ddf["hospital"]
        )
    # the workers' blocks are the in-memory Hessian blocks of the same rows
    y = np.where(frame["y"] == "yes", 1.0, -1.0)
    model = _Model(GroupedData(X, y, g, np.ones(n), G), get_loss("logistic"), None, "offset")
    point, weights, found = seen[-1]
    np.testing.assert_allclose(found, model.group_blocks(point, weights), rtol=1e-10, atol=1e-14)
    memory = FairMTLClassifier(solver="dual", **params).fit(
        frame[FEATURES], frame["y"], groups=frame["hospital"]
    )
    for info in (dist.solver_info_, memory.solver_info_):
        assert info["solver"] == SMOOTH_SOLVER and info["refine_status"] == "optimal"
    assert dist.solver_info_["objective"] == pytest.approx(
        memory.solver_info_["objective"], rel=1e-8
    )
    np.testing.assert_allclose(dist.group_losses_, memory.group_losses_, atol=1e-8)
