"""Every option that fairmtl's messages and help texts suggest exists.

The messages (every ``MSG_*`` string constant of every fairmtl module) and the help of
every command and option are scanned for suggestions: ``--name`` must be an option of
the ``fairmtl`` command line, and ``name=`` (a Python keyword) an option ``--name`` or
a parameter of one of fairmtl's public classes and functions. Then the options users
need are checked end to end.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
import warnings
from pathlib import Path
from typing import Any

import click
import numpy as np
import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

import fairmtl
from fairmtl import FairMTLClassifier, FrontierSearch
from fairmtl.cli import app

runner = CliRunner()
OPTION = re.compile(r"(?<![\w-])--([a-z][a-z0-9-]*)")
KEYWORD = re.compile(r"(?<![\w.\[])([a-z][a-z0-9_]*)=(?=['\"\w{(\[.-])")
# Words followed by "=" that are not suggestions of a keyword argument.
NOT_KEYWORDS = {"e", "k", "v", "got"}


def _modules() -> list[Any]:
    out = []
    for info in pkgutil.walk_packages(fairmtl.__path__, "fairmtl."):
        if info.name.startswith(("fairmtl.datasets._files", "fairmtl.cli.__main__")):
            continue
        try:
            out.append(importlib.import_module(info.name))
        except ImportError:  # an optional extra that is not installed (torch, dask)
            continue
    return out


def _messages() -> dict[str, str]:
    found = {}
    for module in _modules():
        for name, value in vars(module).items():
            if name.startswith("MSG_") and isinstance(value, str):
                found[f"{module.__name__}.{name}"] = value
    return found


def _commands() -> dict[str, click.Command]:
    root = typer.main.get_command(app)
    out: dict[str, click.Command] = {"fairmtl": root}

    def walk(prefix: str, group: click.Command) -> None:
        for name, cmd in getattr(group, "commands", {}).items():
            out[f"{prefix} {name}"] = cmd
            walk(f"{prefix} {name}", cmd)

    walk("fairmtl", root)
    return out


def _cli_options() -> dict[str, set[str]]:
    """Command -> its long options (without the dashes)."""
    return {
        name: {o[2:] for p in cmd.params for o in [*p.opts, *p.secondary_opts] if o[:2] == "--"}
        | {"help", "debug"}
        for name, cmd in _commands().items()
    }


def _help_texts() -> dict[str, str]:
    texts = {}
    for name, cmd in _commands().items():
        texts[f"{name} (command)"] = cmd.help or ""
        for p in cmd.params:
            texts[f"{name} {p.name}"] = getattr(p, "help", None) or ""
    return texts


def _python_parameters() -> set[str]:
    names: set[str] = set()
    for module in _modules():
        for public in getattr(module, "__all__", ()):
            obj = getattr(module, public, None)
            target = obj.__init__ if inspect.isclass(obj) else obj
            if not callable(target):
                continue
            try:
                names |= set(inspect.signature(target).parameters)
            except (TypeError, ValueError):
                continue
    return names


def test_every_suggested_option_exists() -> None:
    every_option = set().union(*_cli_options().values())
    python = _python_parameters()
    texts = {**_messages(), **_help_texts()}
    assert len(texts) > 150
    missing = []
    for where, text in texts.items():
        for option in OPTION.findall(text):
            if option not in every_option:
                missing.append(f"{where}: --{option}")
        for word in KEYWORD.findall(text):
            if word in NOT_KEYWORDS:
                continue
            if word.replace("_", "-") not in every_option and word not in python:
                missing.append(f"{where}: {word}=")
    assert not missing, "suggested but not an option:\n" + "\n".join(missing)


def test_command_line_messages_name_the_command_line_option() -> None:
    """A data-reading message that suggests a Python keyword also names the CLI option."""
    from fairmtl.data import _text_files, _validation

    for message, option in (
        (_text_files.MSG_ENCODING, "--encoding"),
        (_validation.MSG_TARGET_MISSING_DROPPED, "--on-missing-target"),
        (_validation.MSG_TARGET_MISSING_ERROR, "--on-missing-target"),
        (_validation.MSG_NUMERIC_BAD_VALUE, "--categorical"),
    ):
        assert option in message


@pytest.mark.parametrize("command", ["fit", "frontier", "transfer"])
def test_data_options_on_every_training_command(command: str) -> None:
    options = _cli_options()[f"fairmtl {command}"]
    assert {"categorical", "encoding", "on-missing-target"} <= options
    if command == "transfer":
        assert "sharing" in options


def test_help_examples_fit_their_command() -> None:
    predict = _commands()["fairmtl predict"]
    output = next(p for p in predict.params if p.name == "output")
    assert ".skops" not in (output.help or "")  # predict writes predictions, not a model


def test_solver_fallback_does_not_suggest_cvxpy_options() -> None:
    from fairmtl.solvers._chain import _reason

    text = _reason(
        "SolverError: Solver 'CLARABEL' failed. Try another solver, or solve with "
        "verbose=True for more information.",
        None,
    )
    assert "verbose" not in text and "CLARABEL" in text


def _heart(path: Path, encoding: str = "utf-8") -> Path:
    """Integer-coded chest pain type, a latin-1 group name and two missing targets."""
    rng = np.random.default_rng(0)
    n = 240
    cp = rng.integers(1, 5, size=n)
    age = rng.normal(55, 8, size=n).round(3)
    y = ((cp == 4) ^ (rng.random(n) < 0.15)).astype(float)
    y[[3, 7]] = np.nan
    frame = pd.DataFrame(
        {
            "age": age,
            "chest_pain_type": cp,
            "site": np.where(np.arange(n) % 2, "Zürich", "Genève"),
            "disease": y,
        }
    )
    frame.to_csv(path, index=False, encoding=encoding)
    return path


def test_categorical_encoding_and_missing_targets_end_to_end(tmp_path: Path) -> None:
    data = _heart(tmp_path / "heart.csv", encoding="latin-1")
    base = ["fit", str(data), "--target", "disease", "--group", "site"]
    model = ["--objective", "average", "--alpha", "0.001", "--sharing-strength", "1"]
    refused = runner.invoke(app, [*base, *model, "-o", str(tmp_path / "m0.skops")])
    assert refused.exit_code == 1 and "--encoding latin-1" in refused.output
    strict = runner.invoke(
        app,
        [*base, *model, "--encoding", "latin-1", "--on-missing-target", "error"]
        + ["-o", str(tmp_path / "m1.skops")],
    )
    assert strict.exit_code == 1 and "missing in 2 of 240 rows" in strict.output
    ok = runner.invoke(
        app,
        [*base, *model, "--encoding", "latin-1", "--categorical", "chest_pain_type"]
        + ["-o", str(tmp_path / "m2.skops"), "--json"],
    )
    assert ok.exit_code == 0, ok.output
    from fairmtl.persistence import load_model

    fitted, schema, _ = load_model(tmp_path / "m2.skops")
    assert schema.categorical == ("chest_pain_type",)
    names = list(fitted[0].get_feature_names_out())
    assert sum("chest_pain_type" in n for n in names) == 4  # one column per code


def test_transfer_sharing_option(tmp_path: Path) -> None:
    data = _heart(tmp_path / "heart.csv")
    out = tmp_path / "t.html"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        done = runner.invoke(
            app,
            ["transfer", str(data), "--target", "disease", "--group", "site"]
            + ["--sharing", "shared", "--n-boot", "20", "-o", str(out), "--json"],
        )
    assert done.exit_code == 0, done.output
    import json

    summary = json.loads(out.with_suffix(".json").read_text())
    assert summary["schemes"] == ["shared"] and summary["reference"] == "shared"


# -- honest evaluation: the saved model is fitted on every row and knows its rows --------


def _fit(tmp_path: Path, data: Path, name: str, *extra: str) -> Path:
    out = tmp_path / name
    done = runner.invoke(
        app,
        ["fit", str(data), "--target", "disease", "--group", "site", "--categorical"]
        + ["chest_pain_type", "--objective", "average", "--alpha", "0.001"]
        + ["--sharing-strength", "1", "-o", str(out), "-q", *extra],
    )
    assert done.exit_code == 0, done.output
    return out


def test_fit_uses_every_row_whatever_their_order(tmp_path: Path) -> None:
    data = _heart(tmp_path / "heart.csv")
    shuffled = tmp_path / "shuffled.csv"
    pd.read_csv(data).sample(frac=1.0, random_state=3).to_csv(shuffled, index=False)
    a, b = _fit(tmp_path, data, "a.skops"), _fit(tmp_path, shuffled, "b.skops")
    from fairmtl.persistence import load_model

    (ma, schema, meta), (mb, _, _) = load_model(a), load_model(b)
    assert meta["n_rows"] == 238 and meta["cv"] == 5  # every row with a target
    frame = pd.read_csv(data)
    X = frame[[*schema.features, *schema.groups]].astype({"site": str})
    np.testing.assert_allclose(ma.predict_proba(X), mb.predict_proba(X), atol=1e-5)
    assert (ma.predict(X) == mb.predict(X)).all()
    # the same model as one fitted directly on all rows with the same pipeline
    from fairmtl.cli._pipeline import build_pipeline
    from fairmtl.data import load_training_table

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = load_training_table(
            data, target="disease", groups=["site"], categorical=["chest_pain_type"]
        )
    direct = build_pipeline(
        table.schema, "classification", objective="average", alpha=1e-3, sharing_strength=1.0
    ).fit(table.model_input, table.y)
    np.testing.assert_allclose(ma.predict_proba(X), direct.predict_proba(X), atol=1e-5)


def test_evaluate_and_predict_warn_on_training_rows(tmp_path: Path) -> None:
    data = _heart(tmp_path / "heart.csv")
    model = _fit(tmp_path, data, "m.skops")
    same = runner.invoke(app, ["evaluate", str(model), str(data), "--n-boot", "20"])
    assert same.exit_code == 0, same.output
    assert "238 of the 240 rows given (99%) look like rows this model was fitted on" in (
        " ".join(same.output.split())
    )
    fresh = tmp_path / "fresh.csv"
    new = pd.read_csv(data).assign(age=lambda f: f["age"] + 0.05)  # other patients
    new.loc[:9, "age"] = pd.read_csv(data)["age"][:10]  # ...but for ten training rows
    new.dropna(subset=["disease"]).to_csv(fresh, index=False)
    mixed = runner.invoke(app, ["evaluate", str(model), str(fresh), "--n-boot", "20"])
    assert mixed.exit_code == 0, mixed.output
    text = " ".join(mixed.output.split())
    assert "8 of the 238 rows given" in text, text  # 10, less the 2 without a target
    preds = runner.invoke(app, ["predict", str(model), str(data), "-o", str(tmp_path / "p.csv")])
    assert preds.exit_code == 0 and "fitted on" in preds.output
    other = new.iloc[10:].dropna(subset=["disease"])
    other.to_csv(fresh, index=False)
    clean = runner.invoke(app, ["evaluate", str(model), str(fresh), "--n-boot", "20"])
    assert clean.exit_code == 0 and "fitted on" not in clean.output


def test_fingerprint_is_bounded_and_estimates_overlap() -> None:
    from fairmtl.cli._fingerprint import FINGERPRINT_ROWS, row_fingerprint, training_overlap

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=60_000), "g": rng.choice(["a", "b"], 60_000)})
    fp = row_fingerprint(frame, ["x", "g"])
    assert fp["n_stored"] == FINGERPRINT_ROWS and fp["n_rows"] == 60_000
    assert len(fp["hashes"]) < 8 * FINGERPRINT_ROWS * 4 / 3 + 4  # base64 of 8 bytes a row
    probe = pd.concat([frame.iloc[:6000], frame.iloc[:4000].assign(x=lambda f: f["x"] + 1)])
    assert training_overlap(fp, probe) == pytest.approx(6000, rel=0.15)
    assert training_overlap(fp, frame.iloc[:100].assign(g="c")) == 0
    assert training_overlap(None, frame) is None


# -- feedback: progress over all the work on stderr, results on stdout -------------------


def _frontier(tmp_path: Path, *extra: str) -> Any:
    data = _heart(tmp_path / "heart.csv")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return runner.invoke(
            app,
            ["frontier", str(data), "--target", "disease", "--group", "site", "--categorical"]
            + ["chest_pain_type", "--points", "2", "--n-boot", "20", "--force"]
            + ["-o", str(tmp_path / "r.html"), *extra],
        )


def test_frontier_progress_covers_baselines_and_results_go_to_stdout(tmp_path: Path) -> None:
    done = _frontier(tmp_path, "--baselines", "pooled,independent")
    assert done.exit_code == 0, done.output
    err = done.stderr
    assert "and the baselines pooled, independent" in err
    for line in (
        "fairmtl: preparing",
        "fairmtl: fitting the frontier: 0/6",  # 2 epsilons x 3 sharing strengths (offset)
        "fairmtl: baseline 1 of 2: pooled",
        "fairmtl: baseline 2 of 2: one model per group",
        "fairmtl: evaluating the models",
        "fairmtl: done in",
    ):
        assert line in err, err
    assert err.index("fitting the frontier") < err.index("baseline 1 of 2") < err.index("done")
    assert "Chosen model" in done.stdout and "Wrote the report to" in done.stdout
    assert "Chosen model" not in err and "Wrote the report" not in err


def test_no_baselines_is_said_plainly(tmp_path: Path) -> None:
    done = _frontier(tmp_path, "--baselines", "none")
    assert done.exit_code == 0, done.output
    assert "no baselines" in done.stderr and "and baselines" not in done.output
    assert "baseline 1 of" not in done.stderr


def test_quiet_frontier_shows_no_progress(tmp_path: Path) -> None:
    done = _frontier(tmp_path, "--baselines", "pooled", "--quiet")
    assert done.exit_code == 0 and done.stderr == ""
    assert "Chosen model" in done.stdout


def test_plain_progress_lines_come_periodically_off_a_terminal() -> None:
    import io
    import time

    from fairmtl.frontier._progress import JobProgress, advance, stage

    out = io.StringIO()
    with JobProgress(out, interval=0.05):
        stage("fitting the frontier", total=3)
        advance(2)
        time.sleep(0.3)
    lines = out.getvalue().splitlines()
    assert sum("fitting the frontier: 2/3" in line for line in lines) >= 3  # repeated
    assert lines[-1].startswith("fairmtl: done in")
    stage("outside any job")  # nothing is watching: nothing happens
    assert "outside" not in out.getvalue()


def test_progress_bar_on_a_terminal_names_each_stage() -> None:
    import io

    from fairmtl.frontier._progress import JobProgress, advance, stage

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    out = Tty()
    with JobProgress(out):
        stage("baseline 1 of 1: pooled (scikit-learn)")
        advance()
    assert "baseline 1 of 1" in out.getvalue()
    assert "fairmtl: done" not in out.getvalue()  # the bar is transient: no plain lines


# -- noise: warnings nobody can act on ---------------------------------------------------


def test_fairlearn_internal_pandas_warnings_do_not_reach_users() -> None:
    df = _heart_frame()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        FrontierSearch(
            FairMTLClassifier(objective="bounded", alpha=1e-3, sharing_strength=1.0),
            n_points=2,
            baselines=("expgrad", "fairlearn", "threshold"),
            n_boot=10,
        ).fit(df[["age", "chest_pain_type"]], df["disease"], groups=df["site"])
    noise = [
        w
        for w in caught
        if issubclass(w.category, FutureWarning | DeprecationWarning) and "fairlearn" in w.filename
    ]
    assert not noise, [str(w.message)[:80] for w in noise[:3]]


def test_solver_fallbacks_are_one_note_not_warnings(tmp_path: Path, monkeypatch) -> None:
    from fairmtl.exceptions import SolverFallbackWarning

    class Falling(FrontierSearch):
        def fit(self, *args: Any, **kwargs: Any) -> Any:
            for _ in range(3):
                warnings.warn("Solver X did not solve", SolverFallbackWarning, stacklevel=2)
            return super().fit(*args, **kwargs)

    monkeypatch.setattr("fairmtl.cli._frontier.frontier_search_class", lambda: Falling)
    done = _frontier(tmp_path, "--baselines", "none")
    assert done.exit_code == 0, done.output
    assert "Solver X" not in done.stderr
    assert done.stderr.count("Note: a solver did not finish") == 1


def _heart_frame() -> pd.DataFrame:
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        frame = pd.read_csv(_heart(Path(folder) / "h.csv")).dropna(subset=["disease"])
    return frame.astype({"disease": int})


def test_fit_names_small_groups_with_command_line_options(tmp_path: Path) -> None:
    frame = pd.read_csv(_heart(tmp_path / "heart.csv"))
    frame.loc[:7, "site"] = "Bern"  # an 8-row group
    data = tmp_path / "small.csv"
    frame.to_csv(data, index=False)
    done = runner.invoke(
        app,
        ["fit", str(data), "--target", "disease", "--group", "site", "--objective", "average"]
        + ["--alpha", "0.001", "--sharing-strength", "1", "--cv", "3", "-o", str(tmp_path / "m")],
    )
    assert done.exit_code == 0, done.output
    text = " ".join(done.stderr.split())
    assert "1 group(s) have fewer than 20 rows (--min-group-size): 'Bern'" in text
    assert "small_groups=" not in text
    assert "cross-validation fit 3 of 3" in text


def test_evaluate_intervals_are_honest_for_small_groups(tmp_path: Path) -> None:
    from scipy.stats import beta

    frame = pd.read_csv(_heart(tmp_path / "heart.csv"))
    frame.loc[:7, "site"] = "Bern"
    data = tmp_path / "small.csv"
    frame.to_csv(data, index=False)
    model = _fit(tmp_path, data, "m.skops", "--cv", "0")
    done = runner.invoke(app, ["evaluate", str(model), str(data), "--format", "json", "-q"])
    assert done.exit_code == 0, done.output
    import json

    rows = {(r["group"], r["metric"]): r for r in json.loads(done.stdout)["per_group"]}
    acc = rows[("Bern", "accuracy")]
    k, n = round(acc["value"] * acc["n"]), acc["n"]
    lo = 0.0 if k == 0 else beta.ppf(0.025, k, n - k + 1)
    hi = 1.0 if k == n else beta.ppf(0.975, k + 1, n - k)
    assert (acc["lo"], acc["hi"]) == pytest.approx((lo, hi)) and acc["interval"] == "exact"
    loss = rows[("Bern", "log_loss")]
    assert loss["lo"] is None and loss["interval"] == "too few rows"
    big = rows[("Genève", "log_loss")]
    assert big["interval"] == "bootstrap" and big["lo"] < big["value"] < big["hi"]
    table = runner.invoke(app, ["evaluate", str(model), str(data), "--n-boot", "30"])
    assert "too few rows" in table.stdout and not re.search(r"\d-\d", table.stdout)


def test_experiment_files_take_the_same_data_options(tmp_path: Path) -> None:
    from fairmtl.cli._experiment import read_experiment
    from fairmtl.exceptions import DataValidationError

    path = tmp_path / "study.toml"
    path.write_text(
        '[data]\npath = "heart.csv"\ntarget = "disease"\ngroups = ["site"]\n'
        'categorical = ["chest_pain_type"]\nencoding = "latin-1"\non_missing_target = "error"\n'
    )
    config, _ = read_experiment(path)
    assert config.categorical == ("chest_pain_type",) and config.encoding == "latin-1"
    assert config.on_missing_target == "error"
    path.write_text(path.read_text().replace('"error"', '"keep"'))
    with pytest.raises(DataValidationError, match="'drop' or 'error'"):
        read_experiment(path)


@pytest.mark.parametrize("command", ["fit", "frontier", "transfer"])
def test_training_commands_read_the_table_alike(
    command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fairmtl.cli import _pipeline
    from fairmtl.exceptions import DataValidationError

    calls = []

    def record(data, **kwargs):
        calls.append((data, kwargs))
        raise DataValidationError("read no further")

    monkeypatch.setattr(_pipeline, "load_training_table", record)
    data = tmp_path / "d.csv"
    data.write_text("y,a,b\n1,2,3\n")
    args = [command, str(data), "--target", "y", "--group", "race,sex", "--features", "a,b",
            "--features", "c", "--drop", "d", "--sep", ";", "--na-values", "NA",
            "--na-values", "?", "--id-column", "id", "--task", "classification",
            "--categorical", "a", "--encoding", "latin-1", "--on-missing-target", "error",
            "-o", str(tmp_path / "out.html")]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 1 and "read no further" in result.output, result.output
    assert calls == [
        (
            data,
            {
                "target": "y",
                "groups": ("race", "sex"),
                "features": ("a", "b", "c"),
                "drop": ("d",),
                "id_column": "id",
                "sep": ";",
                "na_values": ("NA", "?"),
                "task": "classification",
                "categorical": ("a",),
                "encoding": "latin-1",
                "on_missing_target": "error",
            },
        )
    ]
