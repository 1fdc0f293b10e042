"""FrontierSearch: sweep settings, honest evaluation, outputs, choice, harm, determinism.

Small simulated data throughout (a few hundred rows, 4 hospitals) so that the file runs
in well under a minute on two cores.
"""

from __future__ import annotations

import copy
import io
import warnings

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import (
    demographic_parity_difference,
    equalized_odds_difference,
    false_positive_rate,
    selection_rate,
    true_positive_rate,
)
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    brier_score_loss,
    log_loss,
    roc_auc_score,
)
from sklearn.pipeline import Pipeline

from fairmtl import FairMTLClassifier, FairMTLMLPClassifier, FrontierSearch
from fairmtl.data import train_val_test_split
from fairmtl.datasets import make_hospitals
from fairmtl.exceptions import FairMTLWarning, FileExistsNoForceError, InfeasibleError
from fairmtl.frontier import preference_points
from fairmtl.frontier._choice import REFIT_EPSILON_MARGIN, refit_best
from fairmtl.frontier._evaluate import fairness_gaps
from fairmtl.frontier._prepare import Rows
from fairmtl.frontier._progress import sweep_progress
from fairmtl.frontier._sweep import MSG_SWEEP_KNOB
from fairmtl.report import load_results, validate_results

N_POINTS = 4


def _quiet_fit(search, X, y, groups):
    with warnings.catch_warnings():
        # fairlearn's GridSearch warns that a small grid explores little: expected here
        warnings.simplefilter("ignore")
        return search.fit(X, y, groups=groups)


HOSPITALS = {"n_hospitals": 4, "n_samples": 800, "random_state": 0}


@pytest.fixture(scope="module")
def messy_hospitals(hospitals):
    """4 hospitals; a text column and missing values make the search preprocess X."""
    data = hospitals
    X = data.data.copy()
    X["ward"] = np.where(X["x0"] > 0, "north", "south")
    X.loc[X.index[::17], "x1"] = np.nan
    return X, data.target, data.groups


@pytest.fixture(scope="module")
def search(messy_hospitals):
    X, y, g = messy_hospitals
    est = FairMTLClassifier(objective="bounded")
    return _quiet_fit(
        FrontierSearch(
            est,
            n_points=N_POINTS,
            baselines=("pooled", "independent", "fairlearn"),
            n_boot=50,
            random_state=0,
        ),
        X,
        y,
        g,
    )


def _split_features(search, X, rows):
    Xs = X.iloc[rows]
    return search.preprocessor_.transform(Xs) if search.preprocessor_ is not None else Xs


# -- sweep settings ----------------------------------------------------------------------


def test_auto_epsilon_spans_minimax_to_average_at_each_strength(search, messy_hospitals):
    """Offset sharing sweeps epsilon x three sharing strengths; at each strength the
    bounds run from just above that strength's minimax loss to its average fit's worst
    group loss (refitted here independently)."""
    X, y, g = messy_hospitals
    rows = search.split_.train
    Xtr, ytr, gtr = _split_features(search, X, rows), y.to_numpy()[rows], g.to_numpy()[rows]
    tuned = search.tuned_params_  # the estimator's "auto" knobs, settled once on train
    strengths = sorted({s["sharing_strength"] for s in search.settings_})
    assert len(strengths) == 3 and len(search.settings_) == 6
    assert strengths[1] == pytest.approx(tuned["sharing_strength"])
    for strength in strengths:
        knobs = {**tuned, "sharing_strength": strength}
        worst = {
            name: FairMTLClassifier(objective=name, **knobs)
            .fit(Xtr, ytr, groups=gtr)
            .group_losses_.max()
            for name in ("minimax", "average")
        }
        eps = sorted(s["epsilon"] for s in search.settings_ if s["sharing_strength"] == strength)
        low, high = worst["minimax"], max(worst.values())
        assert len(eps) == 2 and high - low > 0
        # starts just above the minimax loss (to be feasible), ends at the average fit's
        assert low < eps[0] <= low + 0.01 * (high - low)
        assert eps[-1] == pytest.approx(high, rel=1e-6)


def _small():
    data = make_hospitals(4, n_samples=400, size_skew=0, random_state=1)
    return data.data, data.target, data.groups


@pytest.mark.parametrize(
    ("objective", "knob", "expected"),
    [
        ("tilted", "tilt", np.geomspace(0.1, 100.0, 3)),
        ("average", "sharing_strength", np.geomspace(1e-3, 1e2, 3)),
    ],
)
def test_auto_log_grids(objective, knob, expected):
    X, y, g = _small()
    search = FrontierSearch(
        FairMTLClassifier(objective=objective), sweep={knob: "auto"}, n_points=3,
        baselines=(), n_boot=0,
    ).fit(X, y, groups=g)  # fmt: skip
    np.testing.assert_allclose([s[knob] for s in search.settings_], expected)
    assert [getattr(e, knob) for e in search.estimators_] == [s[knob] for s in search.settings_]
    validate_results(search.results_)


def test_auto_preference_spreads_on_the_simplex():
    X, y, g = _small()
    search = FrontierSearch(
        FairMTLClassifier("shared", objective="chebyshev"), n_points=5, baselines=(), n_boot=0
    ).fit(X, y, groups=g)
    prefs = np.array([s["preference"] for s in search.settings_])
    assert prefs.shape == (5, 4)  # the default knob of "chebyshev", one weight per group
    np.testing.assert_allclose(prefs.sum(axis=1), 1.0)
    assert (prefs > 0).all() and len(np.unique(prefs.round(6), axis=0)) == 5
    np.testing.assert_allclose(prefs[0], 0.25)  # the equal-weight centre comes first
    # the fitted models carry exactly these vectors, and so does the refitted best one
    for est, p in zip(search.estimators_, prefs, strict=True):
        np.testing.assert_array_equal(est.preference, p)
    np.testing.assert_array_equal(
        search.best_estimator_.preference, search.best_params_["preference"]
    )
    # each fit's first stage minimises its own preference's objective
    # max_g p_g (L_g - z_g) + R: no other model of the sweep scores lower on it (R of a
    # model: its own objective minus its max term; z: the shared ideal point)
    losses = np.array([e.group_losses_.to_numpy() for e in search.estimators_])
    z = np.array(search.estimators_[0].solver_info_["extra"]["ideal"])
    own = np.array([e.solver_info_["objective"] for e in search.estimators_])
    penalty = own - np.array([np.max(p * (L - z)) for p, L in zip(prefs, losses, strict=True)])
    for i, est in enumerate(search.estimators_):
        values = [np.max(prefs[i] * (losses[j] - z)) + penalty[j] for j in range(5)]
        assert est.solver_info_["stage1_objective"] <= min(values) + 1e-6


def test_preference_points_grids_for_two_and_three_groups():
    two = np.array(preference_points(2, 5))
    np.testing.assert_allclose(two[:, 0], np.linspace(0.02, 0.98, 5))
    np.testing.assert_allclose(two.sum(axis=1), 1.0)
    for n in (3, 6, 7, 12):
        three = np.array(preference_points(3, n))
        assert three.shape == (n, 3) and (three > 0).all()
        np.testing.assert_allclose(three.sum(axis=1), 1.0)
        assert len(np.unique(three.round(8), axis=0)) == n
        # spread: every group gets nearly all the weight in one vector (the vertices)
        assert (three.max(axis=0) > 0.95).all()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning about Sobol's balance for any n
        many = np.array(preference_points(7, 9, seed=3))
    assert many.shape == (9, 7) and np.allclose(many.sum(axis=1), 1.0)
    np.testing.assert_array_equal(many, np.array(preference_points(7, 9, seed=3)))
    np.testing.assert_allclose(preference_points(5, 1), [np.full(5, 0.2)])


def test_dict_of_knobs_gives_their_product():
    X, y, g = _small()
    sweep = {"tilt": [0.5, 5.0], "sharing_strength": [0.1, 10.0]}
    search = FrontierSearch(
        FairMTLClassifier(objective="tilted"), sweep=sweep, baselines=("pooled",), n_boot=0
    ).fit(X, y, groups=g)
    expected = [
        {"tilt": 0.5, "sharing_strength": 0.1},
        {"tilt": 0.5, "sharing_strength": 10.0},
        {"tilt": 5.0, "sharing_strength": 0.1},
        {"tilt": 5.0, "sharing_strength": 10.0},
    ]
    assert search.settings_ == expected
    ours = [m for m in search.results_["models"] if m["source"] == "fairmtl"]
    assert [{k: m["params"][k] for k in sweep} for m in ours] == expected
    assert [(e.tilt, e.sharing_strength) for e in search.estimators_[:4]] == [
        (s["tilt"], s["sharing_strength"]) for s in expected
    ]


def test_unknown_knob_is_refused():
    X, y, g = _small()
    with pytest.raises(ValueError, match="Cannot sweep 'beta'") as info:
        FrontierSearch(sweep={"beta": [1, 2]}, baselines=()).fit(X, y, groups=g)
    assert str(info.value) == MSG_SWEEP_KNOB.format(knob="beta")


def test_unknown_baseline_is_refused_before_any_fit(monkeypatch):
    X, y, g = _small()
    calls = []
    monkeypatch.setattr(FairMTLClassifier, "fit", lambda *a, **k: calls.append(a))
    with pytest.raises(ValueError, match="Unknown baseline 'torch'.*neural"):
        FrontierSearch(baselines=("pooled", "torch")).fit(X, y, groups=g)
    assert calls == []


def test_cli_and_search_know_the_same_baselines():
    from fairmtl.cli._frontier import BASELINE_NAMES as CLI_NAMES
    from fairmtl.frontier._baselines import BASELINE_NAMES

    assert CLI_NAMES == BASELINE_NAMES


def test_neural_baseline_is_fairmtl_mlp_on_the_same_split():
    pytest.importorskip("torch")
    X, y, g = (v.to_numpy() for v in _small())
    search = FrontierSearch(
        FairMTLClassifier("shared", objective="minimax", alpha=1e-3),
        sweep={"alpha": [1e-3]},
        baselines=("neural",),
        metrics=("accuracy",),
        n_boot=0,
        random_state=3,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        search.fit(X, y, groups=g)
    (row,) = [m for m in search.results_["models"] if m["source"] == "baseline"]
    assert row["method"] == "neural" and "MLP" in row["label"]
    model = search.estimators_[search.results_["models"].index(row)]
    assert isinstance(model, FairMTLMLPClassifier) and model.objective == "minimax"
    # the same network, fitted by hand on the search's training rows with the same seed
    train, test = search.split_.train, search.split_.test
    by_hand = FairMTLMLPClassifier(objective="minimax", heads="shared", random_state=3).fit(
        X[train], y[train], groups=g[train]
    )
    pred = by_hand.predict(X[test], groups=g[test])
    np.testing.assert_array_equal(model.predict(X[test], groups=g[test]), pred)
    assert row["scores"]["overall_accuracy"] == pytest.approx(accuracy_score(y[test], pred))


# -- honest evaluation -------------------------------------------------------------------


def _predictions(model, X, groups):
    """Labels and P(y=1) of any model in ``estimators_``, straight from the model."""
    if isinstance(model, dict):  # the independent baseline: one model per group
        pred = np.empty(len(groups), dtype=np.int64)
        proba = np.empty(len(groups))
        for label, m in model.items():
            rows = groups == label
            if rows.any():
                pred[rows] = m.predict(X[rows])
                proba[rows] = m.predict_proba(X[rows])[:, 1]
        return pred, proba
    if isinstance(model, FairMTLClassifier):
        return model.predict(X, groups=groups), model.predict_proba(X, groups=groups)[:, 1]
    return model.predict(X), model.predict_proba(X)[:, 1]


SKLEARN_METRICS = {
    "accuracy": lambda y, p, s: accuracy_score(y, p),
    "error_rate": lambda y, p, s: 1.0 - accuracy_score(y, p),
    "balanced_accuracy": lambda y, p, s: balanced_accuracy_score(y, p),
    "log_loss": lambda y, p, s: log_loss(y, s, labels=[0, 1]),
    "brier": lambda y, p, s: brier_score_loss(y, s, pos_label=1),
    "roc_auc": lambda y, p, s: roc_auc_score(y, s) if len(np.unique(y)) == 2 else np.nan,
    "tpr": lambda y, p, s: true_positive_rate(y, p, pos_label=1),
    "fpr": lambda y, p, s: false_positive_rate(y, p, pos_label=1),
    "selection_rate": lambda y, p, s: selection_rate(y, p, pos_label=1),
}


def test_every_metric_equals_sklearn_on_the_test_split(search, messy_hospitals):
    X, y, g = messy_hospitals
    rows = search.split_.test
    Xte = np.asarray(_split_features(search, X, rows), dtype=float)
    yte, gte = y.to_numpy()[rows], g.to_numpy()[rows]
    table = search.frontier_.set_index(["model", "group", "metric"])
    models = search.results_["models"]
    n_sweep = len(search.settings_)  # epsilon x sharing strength (offset)
    assert len(models) == len(search.estimators_) == n_sweep + 2 + N_POINTS  # + GridSearch
    checked = 0
    for info, model in zip(models, search.estimators_, strict=True):
        pred, proba = _predictions(model, Xte, gte)
        for group in np.unique(gte):
            r = gte == group
            for metric, fn in SKLEARN_METRICS.items():
                got = table.loc[(info["id"], group, metric)]
                assert got["n"] == r.sum()
                expected = fn(yte[r], pred[r], proba[r])
                np.testing.assert_allclose(got["value"], expected, rtol=1e-9, atol=1e-12)
                checked += 1
        scores = info["scores"]
        assert scores["overall_accuracy"] == pytest.approx(accuracy_score(yte, pred), abs=1e-12)
        # the worst group among those with enough test rows to say (30 by default)
        enough = [k for k in np.unique(gte) if (gte == k).sum() >= search.small_group_threshold]
        worst = min(accuracy_score(yte[gte == k], pred[gte == k]) for k in enough)
        assert 0 < len(enough) < len(np.unique(gte))  # the rule is exercised here
        assert scores["worst_group_accuracy"] == pytest.approx(worst, abs=1e-12)
        # the gaps between groups range over the same groups (fairlearn on their rows)
        among = np.isin(gte, enough)
        kw = {"sensitive_features": gte[among]}
        dp = demographic_parity_difference(yte[among], pred[among], **kw)
        assert scores["demographic_parity_difference"] == pytest.approx(dp, abs=1e-12)
        eo = equalized_odds_difference(yte[among], pred[among], **kw)
        assert scores["equalized_odds_difference"] == pytest.approx(eo, abs=1e-12)
    assert checked == len(models) * 4 * len(SKLEARN_METRICS)


def test_fairness_gaps_equal_fairlearn_on_random_labels():
    rng = np.random.default_rng(0)
    for trial in range(25):
        n, k = int(rng.integers(4, 50)), int(rng.integers(1, 6))
        groups = rng.choice([f"g{i}" for i in range(k)], n)
        y_true = rng.integers(0, 2, n) * (rng.integers(0, 2, n) if trial % 3 == 0 else 1)
        y_pred = rng.integers(0, 2, n)
        gaps = fairness_gaps(y_true, y_pred, groups, pos_label=1)
        kw = {"sensitive_features": groups}
        assert gaps["demographic_parity_difference"] == demographic_parity_difference(
            y_true, y_pred, **kw
        )
        assert gaps["equalized_odds_difference"] == equalized_odds_difference(y_true, y_pred, **kw)


def test_results_are_schema_valid_and_round_trip(search, tmp_path):
    validate_results(search.results_)
    path = search.to_json(tmp_path / "r.json")
    validate_results(load_results(path))
    ids = [m["id"] for m in search.results_["models"]]
    assert list(dict.fromkeys(search.frontier_["model"])) == ids
    assert set(search.pareto_["model"]) == {
        m["id"] for m in search.results_["models"] if m["pareto"]
    }
    assert search.frontier_["lo"].notna().any() and search.frontier_["hi"].notna().any()


def test_outputs_are_written_and_not_overwritten_without_force(search, tmp_path):
    writers = {
        "report.html": search.to_html,
        "results.json": search.to_json,
        "frontier.csv": search.to_csv,
    }
    for name, write in writers.items():
        path = tmp_path / name
        write(path)
        first = path.read_bytes()
        assert first
        with pytest.raises(FileExistsNoForceError):
            write(path)
        assert path.read_bytes() == first
        write(path, force=True)
    assert "<html" in (tmp_path / "report.html").read_text().lower()
    table = pd.read_csv(tmp_path / "frontier.csv")
    assert len(table) == len(search.frontier_)


def test_best_estimator_predicts_raw_rows_and_is_refit_on_train_and_val(search, messy_hospitals):
    X, y, g = messy_hospitals
    best = search.best_estimator_
    assert isinstance(best, Pipeline)  # the text column and NaNs needed preprocessing
    raw = X.iloc[:25]
    pred = best.predict(raw, groups=g.iloc[:25])
    proba = best.predict_proba(raw, groups=g.iloc[:25])
    assert pred.shape == (25,) and proba.shape == (25, 2)
    model = best.named_steps["model"]
    n_refit = len(search.split_.train) + len(search.split_.val)
    assert int(model.group_sizes_.sum()) == n_refit
    chosen = search.settings_[search.best_index_]
    assert search.best_params_ == chosen  # exact values, not the rounded labels
    assert model.epsilon == search.best_refit_params_["epsilon"]
    assert search.results_["chosen"] == search.results_["models"][search.best_index_]["id"]
    assert search.results_["models"][search.best_index_]["source"] == "fairmtl"


def test_refit_raises_an_infeasible_bound_to_the_smallest_feasible(search, messy_hospitals):
    """A bound feasible on train can be infeasible on train + validation: it is raised."""
    X, y, g = messy_hospitals
    rows = np.concatenate([search.split_.train, search.split_.val])
    Xr = search.preprocessor_.fit_transform(X.iloc[rows])
    yr, gr = y.to_numpy()[rows], g.to_numpy()[rows]
    with pytest.raises(InfeasibleError) as info:
        FairMTLClassifier(objective="bounded", epsilon=0.3).fit(Xr, yr, groups=gr)
    lowest = info.value.min_feasible
    template = FairMTLClassifier(objective="bounded")
    raw = Rows(X, y.to_numpy(), g.to_numpy(dtype=object), None)
    with pytest.warns(FairMTLWarning, match="infeasible on train \\+ validation"):
        best, refit = refit_best(template, {"epsilon": 0.3}, raw, rows, search.preprocessor_)
    eps = refit["epsilon"]
    assert eps == pytest.approx(lowest + REFIT_EPSILON_MARGIN, rel=1e-12)
    model = best.named_steps["model"]
    assert model.epsilon == eps and model.group_losses_.max() <= eps + 1e-6


def test_policy_chooses_on_validation_not_test():
    """Negate the validation features: validation then prefers a flat model; test does not."""
    data = make_hospitals(4, n_samples=800, size_skew=0, random_state=2)
    X, y, g = data.data.to_numpy().copy(), data.target.to_numpy(), data.groups.to_numpy()
    split = train_val_test_split(X, y, g, val_size=0.2, test_size=0.2, random_state=0)
    X[split.val] = -X[split.val]  # the split depends on labels and groups only
    seen = []

    def most_accurate(table):
        seen.append(table.copy())
        return int(np.argmax(table["overall"].to_numpy()))

    search = FrontierSearch(
        FairMTLClassifier("shared", objective="average"),
        sweep={"alpha": [1e-4, 1e-1, 1e3]},
        policy=most_accurate,
        baselines=(),
        n_boot=0,
        random_state=0,
    ).fit(X, y, groups=g)
    np.testing.assert_array_equal(search.split_.val, split.val)
    models = search.results_["models"]
    val = [m["val_scores"]["overall_accuracy"] for m in models]
    test = [m["scores"]["overall_accuracy"] for m in models]
    assert int(np.argmax(val)) != int(np.argmax(test))  # the two splits disagree
    assert search.best_index_ == int(np.argmax(val))
    np.testing.assert_allclose(seen[0]["overall"], val)
    assert search.best_params_ == {"alpha": 1e3}
    # the named policies read the same validation table
    named = FrontierSearch(
        FairMTLClassifier("shared", objective="average"),
        sweep={"alpha": [1e-4, 1e-1, 1e3]},
        policy="accuracy_within:1.0",
        baselines=(),
        n_boot=0,
    ).fit(X, y, groups=g)
    assert named.best_index_ == search.best_index_


# -- who gains, who pays; robust frontier points ---------------------------------------


def test_pooling_that_hurts_an_outlier_hospital_is_flagged():
    data = make_hospitals(
        4, n_samples=1600, size_skew=0, n_outliers=1, deviation=0.1, random_state=0
    )
    outlier = str(data.hospitals[np.flatnonzero(data.cluster == -1)[0]])
    search = FrontierSearch(
        FairMTLClassifier(objective="minimax"),
        sweep={"sharing_strength": [1e-3]},
        baselines=("pooled", "independent"),
        n_boot=100,
    ).fit(data.data, data.target, groups=data.groups)
    by_method = {m["method"]: m for m in search.results_["models"]}
    assert outlier in by_method["pooled"]["harm"]["worse_than_own"]
    # a weakly shared fairmtl model does not pay for the others with the outlier
    assert outlier not in by_method["minimax"]["harm"]["worse_than_own"]
    assert outlier not in by_method["minimax"]["harm"]["worse_than_pooled"]
    assert by_method["independent"]["harm"]["worse_than_own"] == []


def test_a_clearly_dominated_model_is_almost_never_on_the_bootstrap_frontier():
    data = make_hospitals(4, n_samples=2000, size_skew=0, base_rate_spread=0, random_state=0)
    search = FrontierSearch(
        FairMTLClassifier(objective="average"),
        sweep={"alpha": [1e-4, 1e3]},  # alpha=1e3: little more than each group's base rate
        baselines=(),
        n_boot=100,
    ).fit(data.data, data.target, groups=data.groups)
    good, flat = search.results_["models"]
    assert good["scores"]["worst_group_accuracy"] > flat["scores"]["overall_accuracy"]
    assert flat["pareto"] is False and flat["pareto_frequency"] <= 0.02
    assert good["pareto"] is True and good["pareto_frequency"] >= 0.98
    np.testing.assert_allclose(search.pareto_frequency_, [good["pareto_frequency"], 0.0], atol=0.02)


# -- determinism -------------------------------------------------------------------------


def _stable(results):
    """The results without what legitimately differs between runs: time and the command."""
    out = copy.deepcopy(results)
    out.pop("created")
    out["reproducibility"].pop("command")
    for model in out["models"]:
        if model["solver_info"]:
            model["solver_info"].pop("time")
    return out


def test_fixed_seed_gives_bit_identical_frontiers_across_runs_and_n_jobs():
    data = make_hospitals(4, n_samples=500, random_state=3)

    def run(n_jobs):
        search = FrontierSearch(
            FairMTLClassifier(objective="bounded"),
            n_points=6,  # two chunks of settings: n_jobs=2 runs them in two processes
            baselines=("pooled", "independent"),
            n_boot=30,
            n_jobs=n_jobs,
            random_state=7,
        )
        return search.fit(data.data, data.target, groups=data.groups)

    first, again, parallel = run(1), run(1), run(2)
    for other in (again, parallel):
        pd.testing.assert_frame_equal(first.frontier_, other.frontier_, check_exact=True)
        assert _stable(first.results_) == _stable(other.results_)
        for a, b in zip(first.estimators_[:6], other.estimators_[:6], strict=True):
            np.testing.assert_array_equal(a.group_coef_, b.group_coef_)
    assert first.best_params_ == parallel.best_params_


# -- progress ------------------------------------------------------------------------


class _FakeTTY(io.StringIO):
    def isatty(self):
        return True


def test_progress_bar_on_a_tty_shows_fits_elapsed_and_eta():
    stream = _FakeTTY()
    with sweep_progress(3, stream=stream) as advance:
        for _ in range(3):
            advance(1)
    text = stream.getvalue()
    assert "fitting the frontier" in text
    assert "3/3" in text and "fits" in text and "ETA" in text
    assert "0:00:0" in text  # elapsed time


def test_no_progress_output_off_a_tty(capsys):
    stream = io.StringIO()
    with sweep_progress(3, stream=stream) as advance:
        advance(3)
    assert stream.getvalue() == ""
    X, y, g = _small()
    FrontierSearch(sweep={"epsilon": [0.7]}, baselines=(), n_boot=0).fit(X, y, groups=g)
    assert "fitting the frontier" not in capsys.readouterr().err
