"""The smooth stages' passes over rows in blocks on threads (fairmtl.solvers._rowpass).

Group losses, gradients and Hessians from the blocked passes are checked against numpy
on each group's rows; the answers must be the same bits on one thread or several.
"""

from __future__ import annotations

import numpy as np
import pytest

from fairmtl.losses import get_loss
from fairmtl.solvers import _rowpass
from fairmtl.solvers._certificate import Penalty
from fairmtl.solvers._grouped import GroupedData
from fairmtl.solvers._refine import _Model

G, D = 5, 4


@pytest.fixture(autouse=True)
def small_blocks(monkeypatch):
    """Blocks of 1,024 rows, so that a few thousand rows make many blocks and most groups
    span several."""
    monkeypatch.setattr(_rowpass, "MAX_BLOCK_ROWS", 1024)
    monkeypatch.setattr(_rowpass, "LARGE_GROUP_ROWS", 256)


def rows(dtype, loss_name, n=9000, seed=0):
    rng = np.random.default_rng(seed)
    tasks = rng.choice(G, size=n, p=[0.4, 0.25, 0.2, 0.1, 0.05])
    X = (rng.normal(size=(n, D)) + rng.normal(size=(G, D))[tasks]).astype(dtype)
    if loss_name == "logistic":
        y = np.where(rng.random(n) < 0.5, -1.0, 1.0)
    else:
        y = X.astype(float) @ rng.normal(size=D) + rng.normal(size=n)
    w = rng.uniform(0.2, 3.0, n)
    return X, y, tasks, w


def numpy_sums(X, y, tasks, w, loss_name, coef, intercept, weights):
    """Per group: weighted mean loss, its gradient in (w_g, b_g), weights_g * Hessian."""
    losses, grads, hessians = [], [], []
    for g in range(G):
        m = tasks == g
        Xa = np.column_stack([X[m].astype(np.float64), np.ones(m.sum())])
        rw = w[m] / w[m].sum()
        z = Xa @ np.append(coef[g], intercept[g])
        if loss_name == "logistic":
            ell = np.logaddexp(0.0, -y[m] * z)
            p = 1.0 / (1.0 + np.exp(y[m] * z))  # sigmoid(-y z)
            dz, h = -y[m] * p, p * (1.0 - p)
        else:
            ell, dz, h = (z - y[m]) ** 2, 2.0 * (z - y[m]), np.full(m.sum(), 2.0)
        losses.append(rw @ ell)
        grads.append((rw * dz) @ Xa)
        hessians.append(weights[g] * (Xa.T * (rw * h)) @ Xa)
    return np.array(losses), np.array(grads), np.array(hessians)


def model_of(X, y, tasks, w, loss_name, sharing):
    data = GroupedData(X, y, tasks, w, G)
    assert _rowpass.passes_in_blocks(data)
    penalty = Penalty(sharing, 0.1, 0.0, data.shares)
    return _Model(data, get_loss(loss_name), penalty, sharing)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("loss_name", ["logistic", "squared"])
@pytest.mark.parametrize("sharing", ["shared", "independent"])
def test_blocked_sums_and_hessians_equal_numpy(dtype, loss_name, sharing):
    X, y, tasks, w = rows(dtype, loss_name)
    model = model_of(X, y, tasks, w, loss_name, sharing)
    rng = np.random.default_rng(1)
    P = 1 if sharing == "shared" else G
    coef, intercept = rng.normal(size=(P, D)) * 0.3, rng.normal(size=P)
    full_coef = np.repeat(coef, G // P, axis=0)
    full_intercept = np.repeat(intercept, G // P)
    weights = rng.uniform(0.5, 2.0, G)
    losses, grads, hessians = numpy_sums(
        X, y, tasks, w, loss_name, full_coef, full_intercept, weights
    )
    got, jw, jb = model.evaluate(coef, intercept)[:3]
    np.testing.assert_allclose(got, losses, rtol=1e-12)
    np.testing.assert_allclose(np.column_stack([jw, jb]), grads, rtol=1e-10, atol=1e-13)
    H = model.hessian((coef, intercept), weights, P)
    expected = np.zeros_like(H)
    for g in range(G):
        p = 0 if P == 1 else g
        block = np.r_[p * D : (p + 1) * D, P * D + p]
        expected[np.ix_(block, block)] += hessians[g]
    rtol = 1e-5 if dtype == np.float32 else 1e-11  # float32 rows are not upcast for Hessians
    np.testing.assert_allclose(H, expected, rtol=rtol, atol=rtol * np.abs(expected).max())


@pytest.mark.parametrize("sharing", ["shared", "independent"])
def test_blocked_passes_give_the_same_bits_on_any_number_of_threads(monkeypatch, sharing):
    X, y, tasks, w = rows(np.float64, "logistic", seed=3)
    rng = np.random.default_rng(4)
    P = 1 if sharing == "shared" else G
    coef, intercept = rng.normal(size=(P, D)), rng.normal(size=P)
    weights = rng.uniform(0.5, 2.0, G)
    answers = []
    for threads in (1, 2, 4):
        monkeypatch.setattr(_rowpass, "pass_threads", lambda k=threads: k)
        model = model_of(X, y, tasks, w, "logistic", sharing)
        sums = model.evaluate(coef, intercept)[:3]
        H = model.hessian((coef, intercept), weights, P)
        answers.append(b"".join(a.tobytes() for a in (*sums, H)))
    assert answers[0] == answers[1] == answers[2]


def test_outputs_line_up_with_the_sorted_rows():
    X, y, tasks, w = rows(np.float64, "logistic", seed=5)
    model = model_of(X, y, tasks, w, "logistic", "independent")
    rng = np.random.default_rng(6)
    coef, intercept = rng.normal(size=(G, D)), rng.normal(size=G)
    data = model.data
    expected = np.einsum("nd,nd->n", data.X, coef[data.task]) + intercept[data.task]
    np.testing.assert_allclose(model.outputs(coef, intercept), expected, rtol=1e-13)


def test_thread_count_follows_omp_num_threads(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert _rowpass.pass_threads() == 1
    monkeypatch.setenv("OMP_NUM_THREADS", "not a number")
    assert 1 <= _rowpass.pass_threads() <= _rowpass.MAX_THREADS


def test_blocked_group_blocks_equal_numpy():
    """The per-group Hessian blocks of many-group offset fits, from the blocked passes."""
    X, y, tasks, w = rows(np.float64, "logistic", seed=7)
    model = model_of(X, y, tasks, w, "logistic", "offset")
    rng = np.random.default_rng(8)
    coef, intercept = rng.normal(size=(G, D)) * 0.3, rng.normal(size=G)
    weights = rng.uniform(0.5, 2.0, G)
    weights[2] = 0.0  # a group of weight 0 has a zero block
    hessians = numpy_sums(X, y, tasks, w, "logistic", coef, intercept, weights)[2]
    blocks = model.group_blocks((coef, intercept), weights)
    np.testing.assert_allclose(blocks, hessians, rtol=1e-11, atol=1e-14)
