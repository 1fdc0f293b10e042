"""``fairmtl fit DATA --scheduler ADDRESS``: a fit whose rows are read by a Dask cluster."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from fairmtl import FairMTLClassifier
from tests.cli_helpers import invoke, ok, one_error_line

distributed = pytest.importorskip("distributed", reason="--scheduler needs dask.distributed")
pytest.importorskip("pyarrow", reason="Parquet input needs pyarrow")

from fairmtl.distributed._files import MSG_CLUSTER_KNOBS  # noqa: E402
from fairmtl.persistence import load_model  # noqa: E402
from tests.test_distributed_fit import FEATURES, make_frame, write_hospitals  # noqa: E402

pytestmark = [pytest.mark.distributed, pytest.mark.timeout(300)]


@pytest.fixture(scope="module")
def scheduler():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cluster = distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
        )
    yield cluster.scheduler_address
    cluster.close()


def test_fit_on_cluster_saves_the_in_memory_model(scheduler, tmp_path):
    frame = make_frame(11)
    data = tmp_path / "visits"
    data.mkdir()
    write_hospitals(frame.drop(columns="w"), data)
    out = tmp_path / "model.skops"
    ok(invoke("fit", data, "--format", "parquet", "--scheduler", scheduler, "--target", "y",
              "--group", "hospital", "--objective", "minimax", "--alpha", "0.01",
              "--sharing-strength", "1", "--hospitals", "-o", out))  # fmt: skip
    est, schema, metadata = load_model(out)
    assert list(schema.features) == FEATURES
    assert metadata["distributed"]["mode"] == "hospitals"
    memory = FairMTLClassifier(
        objective="minimax", alpha=0.01, sharing_strength=1.0, solver="dual"
    ).fit(frame[FEATURES], frame["y"], groups=frame["hospital"])
    proba = est.predict_proba(frame[FEATURES], groups=frame["hospital"])
    expected = memory.predict_proba(frame[FEATURES], groups=frame["hospital"])
    np.testing.assert_allclose(proba, expected, atol=1e-2)


def test_fit_on_cluster_needs_numeric_knobs(scheduler, tmp_path):
    data = tmp_path / "visits"
    data.mkdir()
    write_hospitals(make_frame(12), data)
    result = invoke("fit", data, "--scheduler", scheduler, "--target", "y", "--group",
                    "hospital", "-o", tmp_path / "m.skops")  # fmt: skip
    assert MSG_CLUSTER_KNOBS in one_error_line(result)
