"""FrontierSearch on a real Dask cluster (two worker processes on loopback) equals the local run."""

from __future__ import annotations

import copy
import time
import warnings

import numpy as np
import pandas as pd
import pytest

from fairmtl import FairMTLClassifier, FrontierSearch
from fairmtl.datasets import make_hospitals

distributed = pytest.importorskip("distributed")

pytestmark = [pytest.mark.distributed, pytest.mark.timeout(180)]


@pytest.fixture(scope="module")
def cluster():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # dask's notes about ports and memory limits
        cluster = distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        )
    yield cluster
    cluster.close()


@pytest.fixture(scope="module")
def data():
    d = make_hospitals(4, n_samples=500, random_state=5)
    return d.data, d.target, d.groups


def _search(client=None):
    return FrontierSearch(
        FairMTLClassifier(objective="bounded"),
        n_points=6,  # two chunks of settings, one per worker
        baselines=("pooled",),
        n_boot=30,
        client=client,
        random_state=0,
    )


def _stable(results):
    out = copy.deepcopy(results)
    out.pop("created")
    out["reproducibility"].pop("command")
    for model in out["models"]:
        if model["solver_info"]:
            model["solver_info"].pop("time")
    return out


def _assert_same(local, remote):
    pd.testing.assert_frame_equal(local.frontier_, remote.frontier_, check_exact=True)
    assert _stable(local.results_) == _stable(remote.results_)
    assert local.settings_ == remote.settings_
    for a, b in zip(local.estimators_[:6], remote.estimators_[:6], strict=True):
        np.testing.assert_array_equal(a.group_coef_, b.group_coef_)
        np.testing.assert_array_equal(a.group_intercept_, b.group_intercept_)
    assert local.best_params_ == remote.best_params_


@pytest.mark.filterwarnings("ignore:The chosen epsilon")  # the same note in both runs
def test_dask_client_gives_the_local_results(cluster, data):
    X, y, g = data
    local = _search().fit(X, y, groups=g)
    with distributed.Client(cluster) as client:
        remote = _search(client).fit(X, y, groups=g)
        # both workers took part: the settings were cut into two tasks
        assert len(client.nthreads()) == 2
    _assert_same(local, remote)


@pytest.mark.filterwarnings("ignore:The chosen epsilon")  # the same note in both runs
def test_scheduler_address_gives_the_local_results(cluster, data):
    X, y, g = data
    local = _search().fit(X, y, groups=g)
    address = cluster.scheduler_address
    assert address.startswith("tcp://127.0.0.1:")
    before = set(cluster.scheduler.clients)
    remote = _search(address).fit(X, y, groups=g)
    _assert_same(local, remote)
    assert remote.client == address  # the parameter is left as given
    # the search closed the client it opened for the address
    deadline = time.monotonic() + 10
    while set(cluster.scheduler.clients) != before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert set(cluster.scheduler.clients) == before
