"""The ``fairmtl`` command line with typer's CliRunner: every command and error path.

The frontier wiring tests use a fake search (:class:`FakeSearch`) so that they check the
CLI alone; ``test_frontier_real_search`` runs the real :class:`fairmtl.FrontierSearch`.
"""

from __future__ import annotations

import json
import pickle
import shlex
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from cli_helpers import invoke, ok, one_error_line
from report_fixtures import make_results

from fairmtl.cli import _frontier as frontier_module
from fairmtl.cli._experiment import read_experiment
from fairmtl.cli._frontier import FrontierConfig, headline, parse_baselines, parse_sweep
from fairmtl.cli._model import SHARED_GROUP, UNPREDICTED_GROUP, fit_table, predict_table
from fairmtl.cli._options import OBJECTIVE_NAMES, SHARING_NAMES, split_names
from fairmtl.data import detect_task, load_training_table
from fairmtl.exceptions import DataValidationError, DataWarning
from fairmtl.persistence import load_model

COMMANDS = ["fit", "predict", "evaluate", "frontier", "run", "demo", "report", "datasets"]


def make_visits(n: int = 360, seed: int = 0) -> pd.DataFrame:
    """Hospital visits: an id with leading zeros, 4 hospitals, a categorical feature."""
    rng = np.random.default_rng(seed)
    hospital = rng.choice(["north", "south", "east", "west"], size=n, p=[0.4, 0.3, 0.2, 0.1])
    age = rng.normal(60, 12, size=n).round(1)
    ward = rng.choice(["cardio", "ortho", "neuro"], size=n)
    los = rng.gamma(2.0, 2.0, size=n).round(1)
    logit = 0.05 * (age - 60) + 0.2 * los - 1 + (ward == "cardio") - 0.6 * (hospital == "west")
    readmitted = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    cost = (1000 + 40 * age + 300 * los + rng.normal(0, 200, size=n)).round(2)
    frame = pd.DataFrame(
        {
            "visit_id": [f"{i:05d}" for i in range(n)],
            "hospital": hospital,
            "age": age,
            "ward": ward,
            "los": los,
            "readmitted": readmitted.astype(float),
            "cost": cost,
        }
    )
    frame.loc[[3, 17], "age"] = np.nan
    frame.loc[[5], "ward"] = np.nan
    frame.loc[[11], "readmitted"] = np.nan
    return frame


@pytest.fixture(scope="module")
def visits(workdir) -> Path:
    path = workdir / "visits.csv"
    make_visits().to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def model(workdir, visits) -> Path:
    path = workdir / "model.skops"
    ok(
        invoke(
            "fit", visits, "--target", "readmitted", "--group", "hospital", "--drop", "cost",
            "--id-column", "visit_id", "-o", path, "--objective", "average",
        )
    )  # fmt: skip
    return path


@pytest.fixture
def new_visits(tmp_path) -> Path:
    """Rows to predict: an unseen group, a missing group and missing feature values."""
    frame = make_visits(40, seed=1).drop(columns=["readmitted", "cost"])
    frame.loc[0, "hospital"] = "mars"
    frame.loc[1, "hospital"] = np.nan
    frame.loc[2, ["age", "los"]] = np.nan
    frame.loc[3, "ward"] = np.nan
    path = tmp_path / "new.csv"
    frame.to_csv(path, index=False)
    return path


# -- help, version, choices -----------------------------------------------------------


def test_help_lists_commands_with_examples():
    result = ok(invoke("-h"))
    for command in COMMANDS:
        assert command in result.output
    assert "Example" in result.output


@pytest.mark.parametrize("command", [*COMMANDS, "datasets export"])
def test_each_command_help_shows_an_example(command):
    result = ok(invoke(*command.split(), "--help"))
    assert "Example" in result.output
    assert "fairmtl " + command.split()[0] in result.output


def test_version():
    from fairmtl import __version__

    assert ok(invoke("--version")).output.strip() == f"fairmtl {__version__}"


def test_choices_match_the_library():
    from fairmtl.models import SHARING_SCHEMES
    from fairmtl.objectives import OBJECTIVES

    assert set(OBJECTIVE_NAMES) == set(OBJECTIVES)
    assert set(SHARING_NAMES) == set(SHARING_SCHEMES)


# -- fit ------------------------------------------------------------------------------


def test_fit_saves_model_with_schema_and_reports_metrics(model, visits):
    fitted, schema, metadata = load_model(model)
    assert schema.groups == ("hospital",)
    assert schema.id_column == "visit_id"
    assert set(schema.features) == {"age", "ward", "los"}
    assert schema.feature_dtypes == {"age": "numeric", "ward": "categorical", "los": "numeric"}
    assert metadata["task"] == "classification"
    assert metadata["rows_dropped"] == 1
    assert metadata["command"].startswith("fairmtl fit ")
    assert {"train", "validation"} == {m["split"] for m in metadata["metrics"]}
    assert list(fitted.classes_) == [0, 1]


def test_fit_output_table_json_and_dropped_rows(tmp_path, visits):
    result = ok(
        invoke("fit", visits, "-t", "readmitted", "-g", "hospital", "--drop", "cost,visit_id",
               "-o", tmp_path / "m.skops")
    )  # fmt: skip
    assert "Per-group metrics" in result.stdout
    assert "north" in result.stdout and "worst" in result.stdout
    assert "Dropped 1 of 360 rows" in result.stderr
    assert "Saved the model to" in result.stderr
    result = ok(
        invoke("fit", visits, "-t", "readmitted", "-g", "hospital", "--drop", "cost,visit_id",
               "-o", tmp_path / "m.skops", "--force", "--json", "--quiet")
    )  # fmt: skip
    payload = json.loads(result.stdout)
    assert payload["rows_dropped"] == 1
    assert payload["n_rows"] == 359 and payload["cv"] == 5  # fitted on every row
    assert result.stderr == ""


def test_fit_regression_is_detected(tmp_path, visits, new_visits):
    path = tmp_path / "reg.skops"
    ok(invoke("fit", visits, "-t", "cost", "-g", "hospital", "--drop", "readmitted",
              "--id-column", "visit_id", "-o", path, "--objective", "average", "-q"))  # fmt: skip
    assert load_model(path)[2]["task"] == "regression"
    out = tmp_path / "pred.csv"
    ok(invoke("predict", path, new_visits, "-o", out))
    predictions = pd.read_csv(out, dtype={"visit_id": str})
    assert list(predictions.columns) == ["visit_id", "prediction", "group"]
    assert predictions["prediction"].notna().all()


def test_fit_intersection_groups(tmp_path):
    frame = make_visits()
    frame["sex"] = np.where(np.arange(len(frame)) % 2, "F", "M")
    path = tmp_path / "v.csv"
    frame.to_csv(path, index=False)
    model_path = tmp_path / "m.skops"
    ok(invoke("fit", path, "-t", "readmitted", "-g", "hospital,sex", "--drop", "cost,visit_id",
              "-o", model_path, "--objective", "average", "--min-group-size", "5"))  # fmt: skip
    fitted, schema, _ = load_model(model_path)
    assert schema.groups == ("hospital", "sex")
    assert "north|F" in list(fitted.steps[-1][1].groups_)


def test_fit_missing_column_suggests_the_name(tmp_path, visits):
    line = one_error_line(
        invoke("fit", visits, "-t", "readmitted", "-g", "hopital", "-o", tmp_path / "m.skops")
    )
    assert "'hopital'" in line and "Did you mean 'hospital'?" in line
    assert not (tmp_path / "m.skops").exists()


def test_fit_refuses_to_overwrite_without_force(tmp_path, visits):
    path = tmp_path / "m.skops"
    path.write_text("keep me")
    line = one_error_line(invoke("fit", visits, "-t", "readmitted", "-g", "hospital", "-o", path))
    assert "already exists" in line and "--force" in line
    assert path.read_text() == "keep me"


@pytest.mark.parametrize(
    "bad",
    [["--objective", "fastest"], ["--epsilon", "-1"], ["--task", "ranking"], ["--sharing", "x"]],
)
def test_fit_bad_option_value_is_usage_error(tmp_path, visits, bad):
    result = invoke("fit", visits, "-t", "readmitted", "-g", "hospital", "-o", tmp_path / "m", *bad)
    assert result.exit_code == 2, result.output
    assert "Invalid value" in result.output


def test_fit_missing_required_option_is_usage_error(tmp_path, visits):
    result = invoke("fit", visits, "-t", "readmitted", "-o", tmp_path / "m.skops")
    assert result.exit_code == 2
    assert "--group" in result.output


def test_library_error_is_one_line_and_debug_shows_traceback(tmp_path, visits):
    args = ["fit", visits, "-t", "readmitted", "-g", "nope", "-o", tmp_path / "m.skops"]
    one_error_line(invoke(*args))
    for debug in (["--debug", *args], [*args, "--debug"]):
        result = invoke(*debug)
        assert result.exit_code == 1
        assert "Traceback" in result.stderr
        assert "DataValidationError" in result.stderr


def test_missing_input_file_is_one_line(tmp_path):
    line = one_error_line(
        invoke("fit", tmp_path / "none.csv", "-t", "y", "-g", "g", "-o", tmp_path / "m.skops")
    )
    assert "does not exist" in line


# -- predict ----------------------------------------------------------------------------


def test_predict_one_row_per_input_row_in_order(tmp_path, model, new_visits):
    out = tmp_path / "out" / "pred.csv"
    result = ok(invoke("predict", model, new_visits, "-o", out))
    source = pd.read_csv(new_visits, dtype={"visit_id": str})
    predictions = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert len(predictions) == len(source)
    assert predictions["visit_id"].tolist() == source["visit_id"].tolist()
    assert predictions["visit_id"].iloc[0] == "00000"  # leading zeros kept
    assert list(predictions.columns) == ["visit_id", "prediction", "proba_0", "proba_1", "group"]
    assert set(predictions["prediction"]) <= {"0", "1"}
    assert predictions.loc[0, "group"] == SHARED_GROUP
    assert predictions.loc[1, "group"] == SHARED_GROUP
    assert predictions.loc[2, "group"] == source.loc[2, "hospital"]
    proba = predictions[["proba_0", "proba_1"]].astype(float).to_numpy()
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert "2 row(s) belong to group(s) not seen in fit" in result.stderr
    assert "'mars' (1)" in result.stderr
    assert "missing feature values" in result.stderr


def test_predict_independent_model_leaves_unseen_rows_empty(tmp_path, visits, new_visits):
    path = tmp_path / "ind.skops"
    ok(invoke("fit", visits, "-t", "readmitted", "-g", "hospital", "--drop", "cost",
              "--id-column", "visit_id", "--sharing", "independent", "--objective", "average",
              "-o", path, "-q"))  # fmt: skip
    out = tmp_path / "pred.csv"
    result = ok(invoke("predict", path, new_visits, "-o", out))
    predictions = pd.read_csv(out, dtype={"visit_id": str})
    assert len(predictions) == 40
    assert predictions.loc[:1, "prediction"].isna().all()
    assert predictions.loc[:1, "group"].tolist() == [UNPREDICTED_GROUP, UNPREDICTED_GROUP]
    assert predictions.loc[2:, "prediction"].notna().all()
    assert "2 have no prediction" in result.stderr


def test_predict_refuses_pickle_and_missing_columns(tmp_path, model, new_visits):
    marker = tmp_path / "marker"
    evil = tmp_path / "evil.skops"
    evil.write_bytes(pickle.dumps(_Evil(marker)))
    line = one_error_line(invoke("predict", evil, new_visits, "-o", tmp_path / "p.csv"))
    assert "pickle" in line
    assert not marker.exists()
    frame = pd.read_csv(new_visits).rename(columns={"ward": "wards"})
    frame.to_csv(tmp_path / "bad.csv", index=False)
    line = one_error_line(invoke("predict", model, tmp_path / "bad.csv", "-o", tmp_path / "p.csv"))
    assert "'ward'" in line and "Did you mean 'wards'?" in line


def test_predict_refuses_to_overwrite(tmp_path, model, new_visits):
    out = tmp_path / "pred.csv"
    out.write_text("old")
    one_error_line(invoke("predict", model, new_visits, "-o", out))
    assert out.read_text() == "old"
    ok(invoke("predict", model, new_visits, "-o", out, "--force"))


class _Evil:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


# -- evaluate -------------------------------------------------------------------------


def test_evaluate_formats(model, visits, tmp_path):
    table = ok(invoke("evaluate", model, visits, "--n-boot", "20"))
    assert "Per-group metrics" in table.stdout and "Disparities" in table.stdout
    assert "demographic parity difference" in table.stdout
    assert "Dropped 1 of 360 rows" in table.stderr
    payload = json.loads(
        ok(invoke("evaluate", model, visits, "--format", "json", "--n-boot", "20")).stdout
    )
    assert payload["n_rows"] == 359 and payload["rows_dropped"] == 1
    assert {"demographic_parity_difference", "equalized_odds_difference"} <= set(
        payload["fairness"]
    )
    groups = {row["group"] for row in payload["per_group"]}
    assert groups == {"east", "north", "south", "west", "overall"}
    assert {d["metric"] for d in payload["disparities"]} >= {"accuracy", "log_loss"}
    assert json.loads(ok(invoke("evaluate", model, visits, "--json", "--n-boot", "5")).stdout)
    csv_out = ok(invoke("evaluate", model, visits, "--format", "csv", "--n-boot", "20")).stdout
    frame = pd.read_csv(pd.io.common.StringIO(csv_out))
    assert list(frame.columns) == ["group", "metric", "value", "n", "lo", "hi", "interval"]
    out = tmp_path / "metrics.csv"
    ok(invoke("evaluate", model, visits, "--format", "csv", "-o", out, "--n-boot", "5"))
    assert pd.read_csv(out).shape == frame.shape


def test_evaluate_refuses_unknown_labels(model, tmp_path):
    frame = make_visits(60, seed=2)
    frame["readmitted"] = frame["readmitted"].map({0.0: "no", 1.0: "yes"})
    frame.to_csv(tmp_path / "labels.csv", index=False)
    line = one_error_line(invoke("evaluate", model, tmp_path / "labels.csv", "--n-boot", "5"))
    assert "not among the model's classes [0, 1]" in line


@pytest.mark.parametrize(
    ("name", "extra"),
    [("v.parquet", []), ("v.tsv", []), ("v.csv.gz", []), ("v.txt", ["--sep", ";"])],
)
def test_input_formats(tmp_path, model, name, extra):
    frame = make_visits(30, seed=3).drop(columns=["readmitted"])
    path = tmp_path / name
    if name.endswith(".parquet"):
        frame.to_parquet(path)
    else:
        sep = ";" if extra else ("\t" if name.endswith(".tsv") else ",")
        frame.to_csv(path, index=False, sep=sep)
    out = tmp_path / "pred.parquet"
    ok(invoke("predict", model, path, "-o", out, *extra))
    predictions = pd.read_parquet(out)
    assert predictions["visit_id"].tolist() == frame["visit_id"].tolist()


def test_evaluate_needs_the_target_and_a_known_format(model, new_visits):
    line = one_error_line(invoke("evaluate", model, new_visits, "--n-boot", "5"))
    assert "'readmitted' (the target)" in line
    assert invoke("evaluate", model, new_visits, "--format", "xml").exit_code == 2


# -- frontier, run, demo, report (fake search: the CLI's wiring only) -------------------


class FakeSearch:
    """Stands in for FrontierSearch: records its arguments, writes schema-valid results."""

    instances: list[FakeSearch] = []

    def __init__(self, estimator: Any, **kwargs: Any) -> None:
        self.estimator, self.kwargs = estimator, kwargs
        self.fit_args: dict[str, Any] | None = None
        FakeSearch.instances.append(self)

    def fit(self, X, y, *, groups=None, sample_weight=None, data_info=None):
        self.fit_args = {"X": X, "y": y, "groups": groups, "data_info": data_info}
        self.results_ = make_results(n_models=5, n_groups=3)
        return self

    def to_html(self, path, *, force=False):
        from fairmtl.report import write_report

        return write_report(self.results_, path, force=force)

    def to_json(self, path, *, force=False):
        from fairmtl.report import save_results

        return save_results(self.results_, path, force=force)


@pytest.fixture
def fake_search(monkeypatch):
    FakeSearch.instances = []
    monkeypatch.setattr(frontier_module, "frontier_search_class", lambda: FakeSearch)
    return FakeSearch


def test_frontier_writes_report_and_json(tmp_path, visits, fake_search):
    out = tmp_path / "reports" / "v.html"
    result = ok(
        invoke("frontier", visits, "-t", "readmitted", "-g", "hospital", "--drop", "cost",
               "--id-column", "visit_id", "--points", "7", "--sweep", "epsilon=0.5,0.6",
               "--sweep", "threshold", "--baselines", "pooled", "--policy", "knee",
               "--seed", "3", "-o", out)
    )  # fmt: skip
    assert out.is_file() and out.with_suffix(".json").is_file()
    assert f"Wrote the report to {out}" in result.stdout  # results on stdout
    assert "Chosen model" in result.stdout
    (search,) = fake_search.instances
    assert search.kwargs["n_points"] == 7
    assert search.kwargs["sweep"] == {"epsilon": [0.5, 0.6], "threshold": "auto"}
    assert search.kwargs["baselines"] == ("pooled",)
    assert search.kwargs["policy"] == "knee" and search.kwargs["random_state"] == 3
    assert search.estimator.objective == "bounded"
    X, info = search.fit_args["X"], search.fit_args["data_info"]
    assert list(X.columns) == ["age", "ward", "los"]  # raw features, categorical kept
    assert len(X) == 359 and info["rows_dropped"] == 1
    assert info["source"] == str(visits) and len(info["sha256"]) == 64
    assert shlex.split(info["command"])[:2] == ["fairmtl", "frontier"]
    assert info["experiment"] is None


def test_frontier_json_output_and_defaults(tmp_path, visits, fake_search):
    out = tmp_path / "v.html"
    result = ok(invoke("frontier", visits, "-t", "readmitted", "-g", "hospital", "-o", out,
                       "--json", "-q", "--baselines", "none"))  # fmt: skip
    payload = json.loads(result.stdout)
    assert payload["report"] == str(out) and payload["results"] == str(out.with_suffix(".json"))
    assert payload["chosen"]["chosen"] is True
    (search,) = fake_search.instances
    assert search.kwargs["sweep"] is None and search.kwargs["baselines"] == ()


def test_frontier_refuses_existing_outputs_before_fitting(tmp_path, visits, fake_search):
    out = tmp_path / "v.html"
    out.with_suffix(".json").write_text("{}")
    line = one_error_line(
        invoke("frontier", visits, "-t", "readmitted", "-g", "hospital", "-o", out)
    )
    assert "v.json" in line and "--force" in line
    assert fake_search.instances == []
    ok(invoke("frontier", visits, "-t", "readmitted", "-g", "hospital", "-o", out, "--force"))


@pytest.mark.parametrize(
    ("option", "match"),
    [(["--sweep", "epsilon=a"], "not a number"), (["--baselines", "magic"], "Unknown baseline")],
)
def test_frontier_bad_values_are_one_line(tmp_path, visits, fake_search, option, match):
    args = ["frontier", visits, "-t", "readmitted", "-g", "hospital", "-o", tmp_path / "v.html"]
    assert match in one_error_line(invoke(*args, *option))


EXPERIMENT = """
[data]
path = "visits.csv"
target = "readmitted"
groups = ["hospital"]
drop = ["cost"]
id_column = "visit_id"

[frontier]
points = 5
objective = "tilted"
sweep = {tilt = [0.5, 2.0]}
baselines = ["pooled", "independent"]
seed = 2
output = "out/study.html"
"""


def test_run_experiment_file(tmp_path, fake_search):
    make_visits().to_csv(tmp_path / "visits.csv", index=False)
    experiment = tmp_path / "study.toml"
    experiment.write_text(EXPERIMENT)
    result = ok(invoke("run", experiment))
    assert (tmp_path / "out" / "study.html").is_file()
    assert (tmp_path / "out" / "study.json").is_file()
    assert "Chosen model" in result.stdout
    (search,) = fake_search.instances
    assert search.kwargs["sweep"] == {"tilt": [0.5, 2.0]} and search.kwargs["n_points"] == 5
    assert search.estimator.objective == "tilted"
    assert search.fit_args["data_info"]["experiment"] == EXPERIMENT


def test_run_unknown_keys_are_named(tmp_path, fake_search):
    experiment = tmp_path / "study.toml"
    experiment.write_text(EXPERIMENT.replace("points = 5", "pionts = 5"))
    line = one_error_line(invoke("run", experiment))
    assert "'pionts'" in line and "Did you mean 'points'?" in line
    experiment.write_text(EXPERIMENT + "\n[model]\nx = 1\n")
    assert "unknown table(s) 'model'" in one_error_line(invoke("run", experiment))
    experiment.write_text(EXPERIMENT.replace("points = 5", 'points = "five"'))
    assert "points must be an integer" in one_error_line(invoke("run", experiment))
    experiment.write_text("[data\n")
    assert "not valid TOML" in one_error_line(invoke("run", experiment))
    assert "does not exist" in one_error_line(invoke("run", tmp_path / "none.toml"))


def test_read_experiment_defaults_and_required_keys(tmp_path):
    path = tmp_path / "e.toml"
    path.write_text('[data]\npath = "d.csv"\ntarget = "y"\ngroups = "g"\n')
    config, text = read_experiment(path)
    assert config == FrontierConfig(
        data=tmp_path / "d.csv", target="y", groups=("g",), output=tmp_path / "reports/e.html"
    )
    assert text.startswith("[data]")
    path.write_text('[data]\npath = "d.csv"\ngroups = "g"\n')
    with pytest.raises(DataValidationError, match="needs 'target' in \\[data\\]"):
        read_experiment(path)


def test_report_rerenders_saved_results(tmp_path):
    from fairmtl.report import save_results

    results = save_results(make_results(n_models=4, n_groups=3), tmp_path / "r.json")
    out = tmp_path / "html" / "r.html"
    result = ok(invoke("report", results, "-o", out))
    assert out.read_text().lstrip().lower().startswith("<!doctype html")
    assert f"Wrote the report to {out}" in result.stdout  # results on stdout
    assert "already exists" in one_error_line(invoke("report", results, "-o", out))
    ok(invoke("report", results, "-o", out, "--force"))
    assert "does not exist" in one_error_line(invoke("report", tmp_path / "x.json", "-o", out))
    (tmp_path / "bad.json").write_text("{not json")
    one_error_line(invoke("report", tmp_path / "bad.json", "-o", tmp_path / "b.html"))


def test_demo_overwrites_its_own_report_only(tmp_path, monkeypatch, fake_search):
    monkeypatch.chdir(tmp_path)
    for _ in range(2):  # the demo's own file is replaced
        result = ok(invoke("demo", "--points", "3", "--n-samples", "600"))
    assert Path("reports/demo.html").is_file() and Path("reports/demo.json").is_file()
    assert "sample of 600 of its 32,561" in result.stderr
    X = fake_search.instances[-1].fit_args["X"]
    assert len(X) == 600 and "race" not in X.columns
    assert fake_search.instances[-1].fit_args["data_info"]["sha256"]
    other = tmp_path / "mine.html"
    other.write_text("mine")
    one_error_line(invoke("demo", "-o", other, "--n-samples", "600"))
    assert other.read_text() == "mine"


def test_frontier_real_search(tmp_path, visits):
    out = tmp_path / "real.html"
    result = ok(
        invoke("frontier", visits, "-t", "readmitted", "-g", "hospital", "--drop", "cost",
               "--id-column", "visit_id", "--points", "3", "--n-boot", "10",
               "--baselines", "pooled", "-o", out, "--json", "-q")
    )  # fmt: skip
    payload = json.loads(result.stdout)
    assert payload["chosen"]["source"] == "fairmtl"
    saved = json.loads(out.with_suffix(".json").read_text())
    assert saved["reproducibility"]["command"].startswith("fairmtl frontier")
    assert saved["data"]["rows_dropped"] == 1


# -- datasets -------------------------------------------------------------------------


def test_datasets_list_and_json():
    result = ok(invoke("datasets"))
    for name in ("adult", "compas", "german", "census_kdd"):
        assert name in result.stdout
    listing = json.loads(ok(invoke("datasets", "--json")).stdout)
    assert {d["name"] for d in listing} == {"adult", "compas", "german", "census_kdd"}


def test_datasets_export(tmp_path):
    out = tmp_path / "data" / "german.csv"
    result = ok(invoke("datasets", "export", "german", "-o", out))
    frame = pd.read_csv(out)
    assert len(frame) == 1000 and {"bad_credit", "sex"} <= set(frame.columns)
    assert "--target bad_credit --group sex" in result.stderr
    assert "already exists" in one_error_line(invoke("datasets", "export", "german", "-o", out))
    assert "single file" in one_error_line(
        invoke("datasets", "export", "german", "-o", tmp_path / "g.csv", "--split", "test")
    )
    assert "Did you mean 'adult'?" in one_error_line(
        invoke("datasets", "export", "adlt", "-o", tmp_path / "a.csv")
    )
    assert (
        invoke("datasets", "export", "adult", "-o", tmp_path / "a.csv", "--split", "x").exit_code
        == 2
    )


def test_datasets_export_leaves_out_columns_that_are_not_features(tmp_path):
    """COMPAS's is_recid leaks the target (every two-year re-offender has is_recid=1)."""
    out = tmp_path / "compas.csv"
    result = ok(invoke("datasets", "export", "compas", "-o", out))
    frame = pd.read_csv(out)
    audit = {"is_recid", "decile_score", "score_text"}
    assert not audit & set(frame.columns)
    assert {"two_year_recid", "race", "priors_count"} <= set(frame.columns)
    assert "Left out is_recid, decile_score, score_text" in result.stderr
    full = tmp_path / "compas-all.csv"
    result = ok(invoke("datasets", "export", "compas", "-o", full, "--all-columns"))
    everything = pd.read_csv(full)
    assert audit <= set(everything.columns)
    assert (everything.loc[everything["two_year_recid"] == 1, "is_recid"] == 1).all()
    assert "--drop is_recid,decile_score,score_text" in result.stderr


# -- the library functions behind the commands -----------------------------------------


def test_split_names_and_detect_task():
    assert split_names(["race,sex", " age "]) == ("race", "sex", "age")
    assert split_names(None) == ()
    assert detect_task(pd.Series([0, 1, 1, None])) == "classification"
    assert detect_task(pd.Series(np.arange(50.0))) == "regression"
    assert detect_task(pd.Series(list("ab") * 30)) == "classification"
    assert detect_task(pd.Series(np.arange(50.0)), "classification") == "classification"
    with pytest.raises(DataValidationError, match="not numeric"):
        detect_task(pd.Series(["a", "b"]), "regression")


def test_parse_sweep_and_baselines():
    assert parse_sweep("epsilon") == {"epsilon": "auto"}
    assert parse_sweep("tilt=0.5,2") == {"tilt": [0.5, 2.0]}
    assert parse_sweep({"epsilon": [0.1]}) == {"epsilon": [0.1]}
    assert parse_sweep(("epsilon", "threshold=0.5,0.9")) == {
        "epsilon": "auto",
        "threshold": [0.5, 0.9],
    }
    with pytest.raises(DataValidationError):
        parse_sweep("1x")
    with pytest.raises(DataValidationError, match="swept twice"):
        parse_sweep(["epsilon", "epsilon=0.1"])
    assert parse_baselines("pooled, fairlearn") == ("pooled", "fairlearn")
    assert parse_baselines("none") == () and parse_baselines(["none"]) == ()


def test_headline_names_each_criterion():
    results = make_results(n_models=4, n_groups=3)
    chosen = next(m for m in results["models"] if m["chosen"])
    line = headline(results, chosen)
    assert line.startswith(chosen["label"]) and "Worst-group accuracy" in line
    assert headline(results, None) == "No model was chosen."


def test_predict_table_keeps_rows_and_order():
    frame = make_visits()
    with pytest.warns(DataWarning, match="Dropped 1 of 360 rows"):
        table = load_training_table(frame, target="readmitted", groups=["hospital"],
                                    drop=["cost"], id_column="visit_id")  # fmt: skip
    assert table.rows_dropped == 1 and table.y.dtype == np.int64
    outcome = fit_table(table, objective="average", cv=0)
    assert set(outcome.metrics["split"]) == {"train"}
    new = make_visits(25, seed=4).iloc[::-1].assign(note="x")  # reversed: order is kept
    new.loc[new.index[0], "hospital"] = "moon"
    new.loc[new.index[1], "age"] = np.nan
    found = predict_table(outcome.model, table.schema, new)
    assert found.predictions["visit_id"].tolist() == new["visit_id"].tolist()
    assert found.unseen == {"moon": 1} and found.n_shared == 1 and found.n_imputed >= 1
    assert found.extra_columns == ["note"]  # dropped and id columns are known ones
    assert frame.equals(make_visits())  # the caller's frame is not modified
