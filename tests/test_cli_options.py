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
    from fairmtl.data import _io, _validation

    for message, option in (
        (_io.MSG_ENCODING, "--encoding"),
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
    age = rng.normal(55, 8, size=n).round(1)
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
