"""Fixtures shared by several test files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fairmtl.datasets import make_hospitals

#: what the ``hospitals`` fixture returns, by the module's ``HOSPITALS_AS``
HOSPITALS_FORMS = ("bunch", "frame", "numpy")


@pytest.fixture(scope="module")
def hospitals(request: pytest.FixtureRequest):
    """Simulated hospitals, made once per test module with that module's settings.

    A module sets ``HOSPITALS`` (the arguments of :func:`make_hospitals`, e.g.
    ``{"n_hospitals": 5, "n_samples": 600, "random_state": 0}``) and optionally
    ``HOSPITALS_AS``: ``"bunch"`` (default: the Bunch itself), ``"frame"`` (X a
    DataFrame, y and groups arrays) or ``"numpy"`` (X, y and groups arrays).
    """
    settings = getattr(request.module, "HOSPITALS", None)
    form = getattr(request.module, "HOSPITALS_AS", "bunch")
    if settings is None or form not in HOSPITALS_FORMS:
        raise pytest.UsageError(
            f"{request.module.__name__} uses the hospitals fixture: set HOSPITALS (the "
            f"arguments of make_hospitals) and optionally HOSPITALS_AS in {HOSPITALS_FORMS}."
        )
    data = make_hospitals(**settings)
    if form == "bunch":
        return data
    y, groups = data.target.to_numpy(), data.groups.to_numpy()
    if form == "frame":
        return data.data, y, groups
    return np.asarray(data.data, dtype=float), y, groups


@pytest.fixture(scope="module")
def workdir(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder shared by the tests of one module (files made once, read by many tests)."""
    return tmp_path_factory.mktemp(request.module.__name__.rsplit(".", 1)[-1])


@pytest.fixture
def torch_one_thread():
    """One torch thread (skips without torch): the networks are small and the machines
    shared, and one thread is faster there."""
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
