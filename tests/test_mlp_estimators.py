"""FairMTLMLPClassifier / FairMTLMLPRegressor, and the deprecated model="mlp" spelling."""

from __future__ import annotations

import re
import sys
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.utils.estimator_checks import parametrize_with_checks

from fairmtl import (
    FairMTLClassifier,
    FairMTLMLPClassifier,
    FairMTLMLPRegressor,
    FairMTLRegressor,
    FrontierSearch,
)
from fairmtl.datasets import make_hospitals

pytestmark = [pytest.mark.torch, pytest.mark.usefixtures("torch_one_thread")]

#: few epochs, small networks: the tests check wiring, not accuracy
FAST = dict(hidden_layer_sizes=(8,), max_epochs=4, batch_size=64, random_state=0)
#: numbers for the linear estimators' "auto" knobs (cross-validation is slow)
KNOBS = dict(objective="average", alpha=1e-2, sharing_strength=1.0)
SAMPLE_WEIGHT_REASON = (
    "stochastic training: rows are drawn uniformly within each group and weights enter the "
    "loss, so weighting a row is not the same as repeating it to rtol=1e-7 (as for "
    "scikit-learn's MLPClassifier)"
)


def hospitals(task="classification", seed=0, n=400):
    data = make_hospitals(3, n_samples=n, min_size=60, task=task, random_state=seed)
    return data.data, data.target.to_numpy(), data.groups.to_numpy()


# -- scikit-learn's estimator checks ---------------------------------------------------


def _expected_failures(estimator):
    return {"check_sample_weight_equivalence_on_dense_data": SAMPLE_WEIGHT_REASON}


_CHECKED = dict(max_epochs=100, learning_rate=1e-2, batch_size=32, hidden_layer_sizes=(16,))


@pytest.mark.slow
@parametrize_with_checks(
    [FairMTLMLPClassifier(**_CHECKED), FairMTLMLPRegressor(**_CHECKED)],
    expected_failed_checks=_expected_failures,
)
def test_sklearn_compatible(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check(estimator)


def test_parameters_are_the_network_s_only():
    for cls in (FairMTLMLPClassifier, FairMTLMLPRegressor):
        params = cls().get_params()
        assert not {"model", "sharing", "alpha", "cv", "solver", "adjustment"} & set(params)
        assert {"hidden_layer_sizes", "heads", "max_epochs", "learning_rate"} <= set(params)
        assert set(cls._parameter_constraints) == set(params)
        est = cls(heads="per_group", **FAST)
        assert clone(est).get_params() == est.get_params()
    with pytest.raises(ValueError, match="'heads' parameter of FairMTLMLPRegressor"):
        FairMTLMLPRegressor(heads="auto").fit(*hospitals("regression")[:2])


def test_importing_them_does_not_import_torch():
    import subprocess

    code = (
        "import sys; from fairmtl import FairMTLMLPClassifier, FairMTLMLPRegressor; "
        "FairMTLMLPClassifier(); FairMTLMLPRegressor(); assert 'torch' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_rows_on_a_dask_cluster_are_refused_saying_what_to_do():
    dd = pytest.importorskip("dask.dataframe")
    X, y, g = hospitals()
    with pytest.raises(ValueError, match=r"FairMTLMLPClassifier trains in memory.*compute\(\)"):
        FairMTLMLPClassifier(**FAST).fit(dd.from_pandas(X, npartitions=2), y, groups=g)


# -- the same network as the deprecated spelling ---------------------------------------


@pytest.mark.parametrize(
    "sharing, heads", [("offset", "offset"), ("shared", "shared"), ("independent", "per_group")]
)
def test_classifier_trains_what_model_mlp_trained(sharing, heads):
    X, y, g = hospitals()
    new = FairMTLMLPClassifier(objective="minimax", heads=heads, **FAST).fit(X, y, groups=g)
    with pytest.warns(FutureWarning, match=r"use FairMTLMLPClassifier\("):
        old = FairMTLClassifier(sharing, objective="minimax", model="mlp", **FAST)
        old.fit(X, y, groups=g)
    np.testing.assert_array_equal(new.predict_proba(X, groups=g), old.predict_proba(X, groups=g))
    np.testing.assert_array_equal(new.predict(X, groups=g), old.predict(X, groups=g))
    pd.testing.assert_series_equal(new.group_losses_, old.group_losses_)
    assert new.network_spec_ == old.network_spec_ and new.n_iter_ == old.n_iter_


def test_regressor_trains_what_model_mlp_trained():
    X, y, g = hospitals("regression")
    params = dict(objective="tilted", tilt=2.0, **FAST)
    new = FairMTLMLPRegressor(sharing_strength=0.5, **params).fit(X, y, groups=g)
    with pytest.warns(FutureWarning, match=r"use FairMTLMLPRegressor\("):
        old = FairMTLRegressor(model="mlp", sharing_strength=0.5, **params).fit(X, y, groups=g)
    np.testing.assert_array_equal(new.predict(X, groups=g), old.predict(X, groups=g))
    assert new.score(X, y, groups=g) == old.score(X, y, groups=g)


def test_the_warning_spells_out_the_same_estimator():
    """The replacement the warning names, run as written, trains the same network."""
    X, y, g = hospitals()
    old = FairMTLClassifier("shared", model="mlp", objective="pareto", dropout=0.1, **FAST)
    with pytest.warns(FutureWarning) as record:
        old.fit(X, y, groups=g)
    (message,) = [str(w.message) for w in record if w.category is FutureWarning]
    assert "FairMTLClassifier(model='mlp') is deprecated" in message
    call = re.search(r"use (FairMTLMLPClassifier\(.*?\)) instead", message).group(1)
    assert call == (
        "FairMTLMLPClassifier(hidden_layer_sizes=(8,), objective='pareto', heads='shared', "
        "dropout=0.1, max_epochs=4, batch_size=64, random_state=0)"
    )
    new = eval(call, {"FairMTLMLPClassifier": FairMTLMLPClassifier})  # noqa: S307
    new.fit(X, y, groups=g)
    np.testing.assert_array_equal(new.predict_proba(X, groups=g), old.predict_proba(X, groups=g))


def test_fit_path_of_an_mlp_template_is_the_same_network():
    from fairmtl.estimators import fit_path

    X, y, g = hospitals()
    est = FairMTLMLPClassifier(objective="bounded", **FAST)
    fits = fit_path(est, [{"epsilon": 0.6}, {"epsilon": 0.7}], X, y, groups=g)
    alone = clone(est).set_params(epsilon=0.7).fit(X, y, groups=g)
    np.testing.assert_array_equal(
        fits[1].predict_proba(X, groups=g), alone.predict_proba(X, groups=g)
    )


def test_frontier_search_takes_an_mlp_template_as_it_took_model_mlp():
    """The same sweep (epsilon's range from the template's own fits), the same table."""
    X, y, g = hospitals()
    X = X.to_numpy()
    search = dict(
        sweep={"epsilon": "auto"},
        n_points=2,
        baselines=("pooled",),
        metrics=("accuracy",),
        n_boot=0,
        random_state=0,
    )
    new = FrontierSearch(FairMTLMLPClassifier(objective="bounded", **FAST), **search)
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        new.fit(X, y, groups=g)
    old = FrontierSearch(FairMTLClassifier(objective="bounded", model="mlp", **FAST), **search)
    with pytest.warns(FutureWarning, match="use FairMTLMLPClassifier"):
        old.fit(X, y, groups=g)
    kinds = [type(m).__name__ for m in new.estimators_]
    assert kinds == ["FairMTLMLPClassifier", "FairMTLMLPClassifier", "LogisticRegression"]
    pd.testing.assert_frame_equal(new.frontier_, old.frontier_)
    assert new.results_["method"]["sharing"] == "offset heads"


# -- warnings ------------------------------------------------------------------------


@pytest.mark.parametrize("cls", [FairMTLClassifier, FairMTLRegressor])
def test_network_settings_on_a_linear_model_warn_and_change_nothing(cls):
    X, y, g = hospitals("regression" if cls is FairMTLRegressor else "classification")
    plain = cls(**KNOBS).fit(X, y, groups=g)
    with pytest.warns(FutureWarning, match=r"ignores max_epochs, direction .*use FairMTLMLP"):
        ignored = cls(max_epochs=3, direction="cvxpy", **KNOBS).fit(X, y, groups=g)
    np.testing.assert_array_equal(ignored.coef_, plain.coef_)
    np.testing.assert_array_equal(ignored.predict(X, groups=g), plain.predict(X, groups=g))


@pytest.mark.parametrize("cls", [FairMTLClassifier, FairMTLRegressor])
def test_linear_models_with_default_network_settings_do_not_warn(cls):
    X, y, g = hospitals("regression" if cls is FairMTLRegressor else "classification")
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        cls(**KNOBS).fit(X, y, groups=g)
        # the defaults given again, a list for the tuple default included
        cls(hidden_layer_sizes=[64, 64], heads="auto", early_stopping=True, **KNOBS).fit(
            X, y, groups=g
        )


def test_the_package_uses_the_mlp_estimators_without_future_warnings():
    from fairmtl.frontier._baselines import fit_baselines
    from fairmtl.transfer import CovarianceAlignedMTL

    X, y, g = hospitals()
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        (neural,) = fit_baselines(("neural",), X.to_numpy(), y, g, task="binary",
                                  objective="minimax", alpha=1e-3, n_points=2,
                                  classes=np.unique(y))  # fmt: skip
        assert isinstance(neural.model, FairMTLMLPClassifier)
        Xr, yr, gr = hospitals("regression")
        template = FairMTLMLPRegressor(heads="per_group", **FAST)
        CovarianceAlignedMTL(template, max_epochs=3).fit(Xr.to_numpy(), yr, groups=gr)


# -- model files -------------------------------------------------------------------------


def test_save_and_load_a_fitted_mlp_classifier(tmp_path):
    from fairmtl.data import Schema
    from fairmtl.persistence import load_model, save_model

    X, y, g = hospitals()
    frame = X.assign(hospital=g, y=y)
    schema = Schema(target="y", groups="hospital").resolve(frame)
    model = FairMTLMLPClassifier(objective="minimax", group_column="hospital", **FAST)
    model.fit(frame.drop(columns="y"), y)
    path = save_model(model, tmp_path / "mlp.skops", schema=schema)
    loaded, schema2, _ = load_model(path)
    assert type(loaded) is FairMTLMLPClassifier and schema2 == schema
    rows = frame.drop(columns="y")
    np.testing.assert_array_equal(loaded.predict_proba(rows), model.predict_proba(rows))
    pd.testing.assert_series_equal(loaded.group_losses_, model.group_losses_)
    assert loaded.get_params() == model.get_params()
