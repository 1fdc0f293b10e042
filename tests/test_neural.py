"""The neural path: the MLP estimators, their trainer, per-group gradients and the torch extra."""

from __future__ import annotations

import importlib
import sys
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from fairmtl import FairMTLClassifier, FairMTLMLPClassifier, FairMTLMLPRegressor
from fairmtl.datasets import make_hospitals
from fairmtl.exceptions import OptionalDependencyError

pytestmark = [pytest.mark.torch, pytest.mark.usefixtures("torch_one_thread")]


def small_hospitals(seed=0, n=900, n_hospitals=4, **kw):
    data = make_hospitals(n_hospitals, n_samples=n, min_size=60, random_state=seed, **kw)
    return data.data, data.target.to_numpy(), data.groups.to_numpy()


FAST = dict(hidden_layer_sizes=(16,), max_epochs=8, batch_size=128, random_state=0)


# -- without torch -----------------------------------------------------------------------


def test_mlp_without_torch_names_the_extra(monkeypatch):
    X, y, g = small_hospitals()
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` now fails
    with pytest.raises(OptionalDependencyError, match=r'pip install "fairmtl\[torch\]"'):
        FairMTLMLPClassifier(**FAST).fit(X, y, groups=g)
    for name in ("fairmtl.neural._network", "fairmtl.neural._training"):
        monkeypatch.delitem(sys.modules, name, raising=False)
        with pytest.raises(OptionalDependencyError, match="FairMTLMLPClassifier"):
            importlib.import_module(name)
    # the linear path does not need torch
    FairMTLClassifier("shared", objective="average").fit(X, y, groups=g)


def test_importing_fairmtl_does_not_import_torch():
    code = (
        "import sys, fairmtl, fairmtl.solvers, fairmtl.models, fairmtl.neural, fairmtl.estimators; "
        "from fairmtl import FairMTLClassifier, FairMTLMLPClassifier; "
        "FairMTLClassifier(model='mlp'); FairMTLMLPClassifier(); "
        "assert 'torch' not in sys.modules"
    )
    import subprocess

    subprocess.run([sys.executable, "-c", code], check=True)


def test_old_models_names_resolve_with_a_deprecation_warning():
    import fairmtl.models
    import fairmtl.neural

    with pytest.warns(DeprecationWarning, match="moved to fairmtl.neural.GroupNetwork"):
        old = fairmtl.models.GroupNetwork
    assert old is fairmtl.neural.GroupNetwork


# -- the estimator API ---------------------------------------------------------------------


@pytest.mark.parametrize("heads", ["shared", "per_group", "offset"])
def test_classifier_mlp_api(heads):
    X, y, g = small_hospitals()
    clf = FairMTLMLPClassifier(heads=heads, objective="minimax", **FAST).fit(X, y, groups=g)
    proba = clf.predict_proba(X, groups=g)
    assert proba.shape == (len(y), 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert set(clf.predict(X, groups=g)) <= set(clf.classes_)
    assert clf.decision_function(X, groups=g).shape == (len(y),)
    assert list(clf.group_losses_.index) == list(clf.groups_)
    assert clf.solver_info_["solver"] == "torch" and clf.solver_info_["direction"] == "group_dro"
    assert len(clf.history_) == clf.n_iter_ and "val_score" in clf.history_
    assert 0.3 < clf.score(X, y, groups=g) <= 1.0
    # groups unseen in fit use the shared part (mean of the heads, or the shared head)
    with pytest.warns(UserWarning):
        unseen = clf.predict_proba(X[:5], groups=np.array(["elsewhere"] * 5))
    assert np.all(np.isfinite(unseen))


def test_multiclass_regressor_and_categorical_embeddings():
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=600), "ward": rng.integers(0, 4, 600)})
    g = rng.choice(["h1", "h2", "h3"], size=600)
    y3 = np.digitize(X["a"] + 0.5 * X["ward"], [0.5, 1.5])
    clf = FairMTLMLPClassifier(objective="pareto", categorical_features=["ward"], **FAST)
    clf.fit(X, y3, groups=g)
    assert clf.predict_proba(X, groups=g).shape == (600, 3)
    assert clf.network_spec_["cardinalities"] == (4,)
    # a category unseen in fit is embedded with the reserved code
    X_new = X.assign(ward=9)
    assert np.all(np.isfinite(clf.predict_proba(X_new, groups=g)))
    yr = X["a"].to_numpy() * 2 + X["ward"].to_numpy()
    reg = FairMTLMLPRegressor(objective="tilted", tilt=1.0, **{**FAST, "learning_rate": 1e-2})
    reg.fit(X, yr, groups=g)
    assert reg.predict(X, groups=g).shape == (600,)
    assert reg.score(X, yr, groups=g) > 0.5


@pytest.mark.parametrize(
    "objective, extra",
    [
        ("average", {}),
        ("balanced", {}),
        ("bounded", {"epsilon": 0.6}),
        ("chebyshev", {"preference": [1.0, 2.0, 1.0, 1.0]}),
        ("minimax", {"direction": "cvxpy"}),
        ("pareto", {"heads": "shared", "weight_decay": 0.0}),  # a penalty-free network
    ],
)
def test_every_neural_objective_trains(objective, extra):
    X, y, g = small_hospitals()
    clf = FairMTLMLPClassifier(objective=objective, **FAST, **extra).fit(X, y, groups=g)
    assert np.all(np.isfinite(clf.group_losses_)) and clf.group_losses_.max() < 0.8
    assert clf.solver_info_["direction_failures"] == 0


@pytest.mark.parametrize("gradients", ["loop", "representation"])
def test_other_group_gradient_modes_train(gradients):
    from fairmtl.neural import TrainConfig, fit_network

    X, y, g = small_hospitals()
    tasks = np.unique(g, return_inverse=True)[1]
    config = TrainConfig(
        objective="pareto", group_gradients=gradients, hidden_layer_sizes=(8,), max_epochs=3
    )
    fit = fit_network(
        X.to_numpy(),
        np.where(y == 1, 1.0, -1.0),
        tasks,
        np.ones(len(y)),
        4,
        loss_name="logistic",
        n_outputs=1,
        config=config,
    )
    assert fit.solver_info["group_gradients"] == gradients
    assert np.all(np.isfinite(fit.group_losses))


def test_groups_too_small_for_validation_train_without_early_stopping():
    from fairmtl.exceptions import DataWarning

    X, y, g = small_hospitals()
    with pytest.warns(DataWarning, match="training without early stopping"):
        clf = FairMTLMLPClassifier(validation_fraction=0.001, **FAST).fit(X, y, groups=g)
    assert "val_score" not in clf.history_ and clf.n_iter_ == FAST["max_epochs"]


def test_neural_parameter_errors():
    X, y, g = small_hospitals()
    with pytest.raises(ValueError, match="'objective' parameter of FairMTLMLPClassifier"):
        FairMTLMLPClassifier(objective="no_harm", **FAST).fit(X, y, groups=g)
    with pytest.raises(ValueError, match="not available on the neural path"):
        with pytest.warns(FutureWarning):  # the deprecated spelling keeps its message
            FairMTLClassifier(objective="no_harm", model="mlp").fit(X, y, groups=g)
    with pytest.raises(ValueError, match="pareto"):
        FairMTLClassifier(objective="pareto").fit(X, y, groups=g)  # linear path
    with pytest.raises(ValueError, match="dropout"):
        FairMTLMLPClassifier(dropout=1.5, **FAST).fit(X, y, groups=g)
    with pytest.raises(ValueError, match="does not apply"):
        FairMTLMLPClassifier(objective="pareto", direction="group_dro", **FAST).fit(X, y, groups=g)
    est = FairMTLMLPClassifier(**FAST)
    assert clone(est).get_params() == est.get_params()


# -- training behaviour -----------------------------------------------------------------


def test_same_seed_gives_identical_predictions():
    X, y, g = small_hospitals()
    params = dict(FAST, dropout=0.2, objective="pareto", heads="per_group")
    a = FairMTLMLPClassifier(**params).fit(X, y, groups=g).predict_proba(X, groups=g)
    b = FairMTLMLPClassifier(**params).fit(X, y, groups=g).predict_proba(X, groups=g)
    np.testing.assert_array_equal(a, b)
    c = FairMTLMLPClassifier(**{**params, "random_state": 1}).fit(X, y, groups=g)
    assert not np.array_equal(a, c.predict_proba(X, groups=g))


def test_early_stopping_restores_the_best_checkpoint():
    from fairmtl.neural import TrainConfig, fit_network, network_outputs

    X, y, g = small_hospitals(n=1200)
    tasks = np.unique(g, return_inverse=True)[1]
    ys = np.where(y == 1, 1.0, -1.0)
    config = TrainConfig(
        objective="average",
        hidden_layer_sizes=(64, 64),
        learning_rate=0.03,  # large: the validation loss soon rises again
        max_epochs=40,
        n_iter_no_change=5,
        random_state=0,
    )
    fit = fit_network(
        X.to_numpy(),
        ys,
        tasks,
        np.ones(len(y)),
        4,
        loss_name="logistic",
        n_outputs=1,
        config=config,
    )
    history = pd.DataFrame(fit.history)
    info = fit.solver_info
    assert info["stopped"] == "early_stopping" and info["best_epoch"] < info["n_epochs"]
    assert info["best_score"] == pytest.approx(history["val_score"].min())
    # the returned weights are those of the best epoch: recompute its validation score
    val = fit.validation
    z = network_outputs(fit.spec, fit.state, X.to_numpy()[val], tasks[val])[:, 0]
    row_loss = np.logaddexp(0.0, -ys[val] * z)
    worst = max(row_loss[tasks[val] == t].mean() for t in range(4))
    assert worst == pytest.approx(info["best_score"], rel=1e-4)


def test_vmap_group_gradients_match_the_loop():
    torch = pytest.importorskip("torch")
    from fairmtl.neural import GroupNetwork, make_direction
    from fairmtl.neural._config import TrainConfig
    from fairmtl.neural._step import Stepper

    rng = np.random.default_rng(0)
    k, m, d = 3, 7, 4
    net = GroupNetwork(d, k, 1, hidden_layer_sizes=(8,), heads="offset")
    with torch.no_grad():
        net.group_weight.normal_()
    data = {
        "x": torch.as_tensor(rng.normal(size=(k * m, d)), dtype=torch.float32),
        "codes": torch.zeros((k * m, 0), dtype=torch.long),
        "y": torch.as_tensor(rng.choice([-1.0, 1.0], size=k * m), dtype=torch.float32),
        "w": torch.as_tensor(rng.uniform(0.5, 2, size=k * m), dtype=torch.float32),
        "t": torch.as_tensor(np.repeat(np.arange(k), m)),
        "loss": "logistic",
    }
    idx = np.arange(k * m).reshape(k, m)
    mask = np.ones((k, m), dtype=bool)
    mask[2, 5:] = False  # padding rows of a small group carry no weight
    grads = {}
    for mode in ("vmap", "loop"):
        config = TrainConfig(group_gradients=mode)
        stepper = Stepper(net, data, make_direction("pareto", k, np.full(k, 1 / k)), config, None)
        batch = stepper.batch(idx, mask)
        grads[mode] = stepper._group_gradients(*batch)
    for name in grads["vmap"][0]:
        torch.testing.assert_close(
            grads["vmap"][0][name], grads["loop"][0][name], rtol=1e-4, atol=1e-6
        )
    torch.testing.assert_close(grads["vmap"][1], grads["loop"][1])


def test_linear_minimax_reaches_the_exact_convex_optimum():
    """A trunk-free network is the linear model: its minimax fit matches the exact path."""
    data = make_hospitals(4, n_samples=800, random_state=0)
    # standardised features: the network's penalty is on standardised weights
    X = StandardScaler().fit_transform(data.data.to_numpy())
    y, g = data.target.to_numpy(), data.groups.to_numpy()
    exact = FairMTLClassifier("shared", objective="minimax", alpha=1e-3).fit(X, y, groups=g)
    neural = FairMTLMLPClassifier(
        (),
        objective="minimax",
        heads="shared",
        direction="cvxpy",
        weight_decay=1e-3,
        batch_size=len(y),  # full batch
        early_stopping=False,
        max_epochs=300,
        learning_rate=0.1,
        random_state=0,
    ).fit(X, y, groups=g)
    assert neural.group_losses_.max() == pytest.approx(exact.group_losses_.max(), abs=1e-3)


def test_mlp_with_group_heads_beats_the_best_linear_model_held_out():
    worst = compare_on_nonlinear_hospitals(seed=1)
    assert worst["mlp"] < worst["best linear"], worst


# measured margins (best linear - mlp) for seeds 0..4: 0.005, 0.066, 0.072, 0.018, 0.019
@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 2, 3, 4])
def test_mlp_beats_linear_more_seeds(seed):
    worst = compare_on_nonlinear_hospitals(seed=seed)
    assert worst["mlp"] < worst["best linear"], worst


def compare_on_nonlinear_hospitals(seed: int) -> dict[str, float]:
    data = make_hospitals(
        4, n_samples=3000, nonlinear=True, size_skew=0.5, min_size=300, random_state=seed
    )
    X, y, g = data.data, data.target.to_numpy(), data.groups.to_numpy()
    train, test = train_test_split(np.arange(len(y)), test_size=0.3, random_state=seed, stratify=g)

    def worst_group_log_loss(model) -> float:
        p = model.predict_proba(X.iloc[test], groups=g[test])[:, 1].clip(1e-12, 1 - 1e-12)
        yt, gt = y[test], g[test]
        loss = -(yt * np.log(p) + (1 - yt) * np.log(1 - p))
        return max(loss[gt == k].mean() for k in np.unique(gt))

    linear = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for sharing in ("shared", "offset", "independent"):
            for objective in ("average", "minimax"):
                fit = FairMTLClassifier(sharing, objective=objective).fit(
                    X.iloc[train], y[train], groups=g[train]
                )
                linear.append(worst_group_log_loss(fit))
    mlp = FairMTLMLPClassifier(
        heads="per_group",
        objective="minimax",
        hidden_layer_sizes=(64, 64),
        learning_rate=3e-3,
        weight_decay=1e-3,
        batch_size=128,
        max_epochs=100,
        random_state=0,
    ).fit(X.iloc[train], y[train], groups=g[train])
    return {"mlp": worst_group_log_loss(mlp), "best linear": min(linear)}


def test_progress_bar_is_silent_off_a_terminal(capsys):
    X, y, g = small_hospitals()
    FairMTLMLPClassifier(verbose=2, **FAST).fit(X, y, groups=g)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""
