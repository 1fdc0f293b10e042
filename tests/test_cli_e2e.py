"""End to end: the installed ``fairmtl`` console script, in a subprocess, on exported data.

fit -> predict -> evaluate -> frontier -> report on the bundled German credit data (the
default run, short), and the same on a sample of Adult plus ``fairmtl demo`` (slow).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

FAIRMTL = Path(sys.executable).with_name("fairmtl")

pytestmark = pytest.mark.skipif(
    not FAIRMTL.exists(),
    reason=f"the fairmtl console script is not installed next to {sys.executable} "
    "(run: pip install -e .)",
)


def fairmtl(*args: object, cwd: Path, code: int = 0) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "120"}
    env.pop("FAIRMTL_DEBUG", None)
    done = subprocess.run(
        [str(FAIRMTL), *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert done.returncode == code, f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}"
    return done


def _new_rows(source: Path, out: Path, group: str, n: int = 60) -> pd.DataFrame:
    """Rows to predict, reshuffled, with ids, an unseen group and missing values."""
    frame = pd.read_csv(source).sample(n, random_state=0).reset_index(drop=True)
    frame.insert(0, "applicant", [f"A{i:04d}" for i in range(n)])
    frame.loc[0, group] = "unseen-group"
    numeric = [c for c in frame.columns if pd.api.types.is_float_dtype(frame[c])][:2]
    frame.loc[1, numeric] = np.nan
    text = [c for c in frame.columns if frame[c].dtype == object and c not in (group, "applicant")]
    frame.loc[2, text[:1]] = np.nan
    frame.to_csv(out, index=False)
    return frame


def _pipeline(tmp_path: Path, *, name: str, target: str, groups: list[str], export: list[str],
              points: int) -> None:  # fmt: skip
    group_args = [a for g in groups for a in ("--group", g)]
    data = tmp_path / f"{name}.csv"
    fairmtl("datasets", "export", name, "-o", data, *export, cwd=tmp_path)

    fit = fairmtl("fit", data, "--target", target, *group_args, "-o", "model.skops",
                  "--objective", "minimax", "--json", "-q", cwd=tmp_path)  # fmt: skip
    assert json.loads(fit.stdout)["task"] == "classification"
    again = fairmtl("fit", data, "--target", target, *group_args, "-o", "model.skops",
                    cwd=tmp_path, code=1)  # fmt: skip
    assert again.stderr.strip().startswith("Error:") and "--force" in again.stderr
    assert "Traceback" not in again.stderr

    new = _new_rows(data, tmp_path / "new.csv", groups[0])
    predict = fairmtl("predict", "model.skops", "new.csv", "-o", "out/predictions.csv",
                      "--id-column", "applicant", cwd=tmp_path)  # fmt: skip
    predictions = pd.read_csv(tmp_path / "out" / "predictions.csv", dtype={"applicant": str})
    assert len(predictions) == len(new)
    assert predictions["applicant"].tolist() == new["applicant"].tolist()
    assert predictions["prediction"].notna().all()
    assert predictions.loc[0, "group"] == "<shared>"
    assert {"proba_0", "proba_1"} <= set(predictions.columns)
    assert "not seen in fit" in predict.stderr

    evaluate = fairmtl("evaluate", "model.skops", data, "--format", "json", "--n-boot", "20",
                       cwd=tmp_path)  # fmt: skip
    metrics = json.loads(evaluate.stdout)
    assert metrics["per_group"] and metrics["fairness"] is not None

    frontier = fairmtl("frontier", data, "--target", target, *group_args, "--points", points,
                       "--n-boot", "20", "--baselines", "pooled", "-o", "reports/study.html",
                       "--json", "-q", cwd=tmp_path)  # fmt: skip
    outcome = json.loads(frontier.stdout)
    assert (tmp_path / "reports" / "study.html").is_file()
    results = json.loads((tmp_path / "reports" / "study.json").read_text())
    assert outcome["chosen"]["id"] == results["chosen"]
    assert results["reproducibility"]["command"].startswith("fairmtl frontier")

    report = fairmtl("report", "reports/study.json", "-o", "reports/again.html", cwd=tmp_path)
    assert "Wrote the report" in report.stdout
    assert (
        (tmp_path / "reports" / "again.html")
        .read_text()
        .lstrip()
        .lower()
        .startswith("<!doctype html")
    )


def test_console_script_pipeline_german(tmp_path):
    _pipeline(tmp_path, name="german", target="bad_credit", groups=["sex"], export=[], points=3)


def test_console_script_errors(tmp_path):
    fairmtl("datasets", "export", "german", "-o", "german.csv", cwd=tmp_path)
    missing = fairmtl("fit", "german.csv", "--target", "bad_credit", "--group", "sexx",
                      "-o", "m.skops", cwd=tmp_path, code=1)  # fmt: skip
    lines = missing.stderr.strip().splitlines()
    assert len(lines) == 1 and "Did you mean" in lines[0]
    usage = fairmtl("fit", "german.csv", "--target", "bad_credit", "--group", "sex",
                    "--objective", "best", "-o", "m.skops", cwd=tmp_path, code=2)  # fmt: skip
    assert "Invalid value" in usage.stderr
    debug = fairmtl("fit", "german.csv", "--target", "bad_credit", "--group", "sexx",
                    "-o", "m.skops", "--debug", cwd=tmp_path, code=1)  # fmt: skip
    assert "Traceback" in debug.stderr


@pytest.mark.slow
def test_console_script_pipeline_adult(tmp_path):
    _pipeline(tmp_path, name="adult", target="income_over_50k", groups=["race", "sex"],
              export=["--split", "test"], points=5)  # fmt: skip


@pytest.mark.slow
def test_console_script_demo(tmp_path):
    done = fairmtl("demo", "--points", "3", "--n-samples", "3000", cwd=tmp_path)
    assert (tmp_path / "reports" / "demo.html").is_file()
    assert "reports/demo.html" in done.stdout
