"""Hostile and messy input, second round: nothing overwritten, nothing left behind,
nothing misreported. Each test names its case; ``tests/README.md`` lists them for users.
"""

from __future__ import annotations

import errno
import io
import json
import os
import re
import subprocess
import sys
import textwrap
import time
import tracemalloc
import warnings
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from cli_helpers import invoke, ok
from cli_helpers import one_error_line as error_line
from report_fixtures import make_results

from fairmtl._archive import MAX_SCHEMA_BYTES, MIN_ARRAY_CAP, MSG_ARRAY_TOO_BIG
from fairmtl.cli import _frontier as frontier_module
from fairmtl.data import (
    atomic_target,
    atomic_write_bytes,
    atomic_write_many,
    check_outputs,
    write_table_atomic,
)
from fairmtl.data._writing import MSG_EXISTS_NO_FORCE, STALE_AFTER_S
from fairmtl.exceptions import DataValidationError, DataWarning, FileExistsNoForceError, OutputError
from fairmtl.persistence import load_model

ROOT = Path(__file__).resolve().parents[1]


def make_visits(n: int = 240, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    hospital = rng.choice(["north", "south", "east"], size=n)
    age = rng.normal(60, 12, size=n).round(1)
    ward = rng.choice(["cardio", "ortho"], size=n)
    logit = 0.05 * (age - 60) + (ward == "cardio") - 0.5 * (hospital == "east")
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    ids = [f"v{i:04d}" for i in range(n)]
    return pd.DataFrame({"visit_id": ids, "hospital": hospital, "age": age, "ward": ward, "y": y})


@pytest.fixture(scope="module")
def visits(workdir) -> Path:
    path = workdir / "visits.csv"
    make_visits().to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def model(workdir, visits) -> Path:
    path = workdir / "model.skops"
    ok(invoke("fit", visits, "-t", "y", "-g", "hospital", "--id-column", "visit_id",
              "--objective", "average", "--alpha", "0.001", "--sharing-strength", "1",
              "-o", path))  # fmt: skip
    return path


def hidden(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


# -- 1. overwrite without --force --------------------------------------------------------


def test_file_appearing_while_writing_is_not_overwritten(tmp_path):
    """Another process creates the output while we write: without force, we refuse."""
    path = tmp_path / "p.csv"
    with pytest.raises(FileExistsNoForceError, match="--force") as err:
        with atomic_target(path, force=False) as tmp:
            tmp.write_text("ours\n")
            path.write_text("theirs\n")  # the other run finished first
    assert str(err.value) == MSG_EXISTS_NO_FORCE.format(path=path)
    assert path.read_text() == "theirs\n"
    assert hidden(tmp_path) == []
    with atomic_target(path, force=True) as tmp:  # force replaces it
        tmp.write_text("ours\n")
    assert path.read_text() == "ours\n"


def test_concurrent_writers_without_force_one_wins(tmp_path):
    """Two runs writing the same file at once, neither with --force: one wins, one refuses."""
    path = tmp_path / "same.csv"
    with pytest.raises(FileExistsNoForceError):
        with atomic_target(path, force=False) as first:
            pd.DataFrame({"a": [1, 2]}).to_csv(first, index=False)
            write_table_atomic(pd.DataFrame({"b": [3]}), path)  # the second run, all of it
    assert pd.read_csv(path).to_dict("list") == {"b": [3]}
    assert hidden(tmp_path) == []


# -- 2. leftovers of a killed run --------------------------------------------------------


def test_leftover_of_a_killed_run_is_removed_by_the_next_write(tmp_path):
    """kill -9 during a write leaves a hidden temporary file; the next write removes it."""
    path = tmp_path / "p.csv"
    script = textwrap.dedent(
        f"""
        import sys, time
        sys.path.insert(0, {str(ROOT)!r})
        from fairmtl.data import atomic_target
        with atomic_target({str(path)!r}, force=False) as tmp:
            tmp.write_bytes(b"x" * 100000)
            print("writing", flush=True)
            time.sleep(60)
        """
    )
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "writing"
        (leftover,) = hidden(tmp_path)
        # While the writer lives, even an old temporary file is its own: kept.
        old = time.time() - 2 * STALE_AFTER_S
        os.utime(tmp_path / leftover, (old, old))
        write_table_atomic(pd.DataFrame({"a": [1]}), tmp_path / "other.csv")
        atomic_write_bytes(tmp_path / "q.csv", b"a\n")
        with pytest.raises(FileExistsNoForceError):
            atomic_write_bytes(tmp_path / "q.csv", b"a\n")
        assert leftover in hidden(tmp_path)
    finally:
        child.kill()
        child.wait()
    assert leftover in hidden(tmp_path)  # kill -9 left it behind
    probe = tmp_path / ".fairmtl-probe.0123456789ab.tmp"  # a folder check, killed too
    probe.touch()
    os.utime(probe, (old, old))
    write_table_atomic(pd.DataFrame({"a": [1]}), path)
    assert hidden(tmp_path) == []
    assert pd.read_csv(path)["a"].tolist() == [1]


def test_recent_unlocked_temporary_file_is_kept(tmp_path):
    """A temporary file touched in the last minute may belong to a writer starting up."""
    fresh = tmp_path / ".p.csv.0123456789ab.tmp"
    fresh.write_text("partial")
    other = tmp_path / ".notes.txt.0123456789ab.tmp"  # another file's: never touched
    other.write_text("x")
    old = time.time() - 2 * STALE_AFTER_S
    os.utime(other, (old, old))
    write_table_atomic(pd.DataFrame({"a": [1]}), tmp_path / "p.csv")
    assert hidden(tmp_path) == [other.name, fresh.name]


# -- 13. outputs checked before the work; pairs all or nothing ---------------------------

UNWRITABLE = Path("/sys/fairmtl-test-output")  # read-only even for root


def _refuse(*args: Any, **kwargs: Any) -> Any:
    raise AssertionError("the work started before the output was checked")


@pytest.mark.skipif(not Path("/sys").is_dir(), reason="needs a read-only /sys")
def test_unwritable_output_folder_is_refused_before_the_fit(visits, monkeypatch):
    monkeypatch.setattr("fairmtl.cli._model.fit_table", _refuse)
    out = UNWRITABLE.with_suffix(".skops")
    line = error_line(invoke("fit", visits, "-t", "y", "-g", "hospital", "-o", out))
    assert f"Cannot write {out}: the folder /sys is not writable" in line
    assert ".tmp" not in line
    with pytest.raises(OutputError, match="not writable"):
        check_outputs([out], force=True)


def test_evaluate_refuses_existing_output_before_the_bootstrap(
    model, visits, tmp_path, monkeypatch
):
    monkeypatch.setattr("fairmtl.cli._model_evaluation.evaluate_table", _refuse)
    out = tmp_path / "metrics.json"
    out.write_text("{}")
    line = error_line(invoke("evaluate", model, visits, "--format", "json", "-o", out))
    assert str(out) in line and "--force" in line
    assert out.read_text() == "{}"


class PairSearch:
    """Stands in for FrontierSearch: no fitting, schema-valid results."""

    def __init__(self, estimator: Any, **kwargs: Any) -> None:
        self.estimator = estimator

    def fit(self, X, y, *, groups=None, sample_weight=None, data_info=None):
        self.results_ = make_results(n_models=3, n_groups=3)
        return self

    def to_html(self, path, *, force=False):
        from fairmtl.report import write_report

        return write_report(self.results_, path, force=force)

    def to_json(self, path, *, force=False):
        from fairmtl.report import save_results

        return save_results(self.results_, path, force=force)


def _disk_full_for(suffix: str, monkeypatch) -> None:
    """os.fsync fails with ENOSPC for temporary files of outputs ending in ``suffix``."""
    real = os.fsync

    def fsync(fd: int) -> None:
        if f"{suffix}." in os.readlink(f"/proc/self/fd/{fd}"):
            raise OSError(errno.ENOSPC, "No space left on device")
        real(fd)

    monkeypatch.setattr(os, "fsync", fsync)


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc")
def test_disk_full_frontier_writes_neither_file_and_the_rerun_works(visits, tmp_path, monkeypatch):
    monkeypatch.setattr(frontier_module, "frontier_search_class", lambda: PairSearch)
    out = tmp_path / "r.html"
    args = ("frontier", visits, "-t", "y", "-g", "hospital", "-o", out)
    with monkeypatch.context() as patch:
        _disk_full_for(".json", patch)
        line = error_line(invoke(*args))
    assert "No space left on device" in line and "r.json" in line and ".tmp" not in line
    assert sorted(p.name for p in tmp_path.iterdir()) == []
    ok(invoke(*args))  # not refused: nothing was left behind
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.html", "r.json"]


def test_pair_with_force_restores_the_old_pair_when_the_second_cannot_be_placed(tmp_path):
    html, js = tmp_path / "r.html", tmp_path / "r.json"
    html.write_text("old html")
    js.write_text("old json")
    # Putting r.json in place fails (an I/O error) after r.html was put in place.
    original_replace = os.replace

    def replace(src, dst):
        if str(dst).endswith("r.json"):
            raise OSError(errno.EIO, "Input/output error")
        return original_replace(src, dst)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(os, "replace", replace)
        with pytest.raises(OSError, match="Input/output error"):
            atomic_write_many([(html, b"new html"), (js, b"new json")], force=True)
    assert html.read_text() == "old html" and js.read_text() == "old json"
    assert hidden(tmp_path) == []


# -- 3. terminal control sequences from users' files -------------------------------------

HOSTILE_GROUPS = [
    "clear\x1b[2J",  # screen clear
    "title\x1b]0;pwned\x1b\\",  # window title, ended by ST
    "clip\x1b]52;c;ZXZpbA==\x1b\\",  # clipboard write
    "csi\x9b31m",  # the 8-bit CSI
    "rtl\u202eevil",  # a bidirectional override
]
#: What must never reach a terminal: C0 controls but line feed and tab, DEL, C1 controls.
RAW_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202e]")


@pytest.fixture(scope="module")
def hostile_visits(workdir) -> Path:
    frame = make_visits(300, seed=2)
    frame["hospital"] = [HOSTILE_GROUPS[i % len(HOSTILE_GROUPS)] for i in range(len(frame))]
    frame = frame.rename(columns={"ward": "ward\x1b[31m"})
    path = workdir / "hostile.csv"
    frame.to_csv(path, index=False)
    return path


def test_control_sequences_in_group_and_column_names_are_escaped(hostile_visits, tmp_path):
    out = tmp_path / "m.skops"
    fitted = ok(invoke("fit", hostile_visits, "-t", "y", "-g", "hospital", "--id-column",
                       "visit_id", "--objective", "average", "--alpha", "0.001",
                       "--sharing-strength", "1", "--min-group-size", "100", "-o", out))  # fmt: skip
    assert "clear\\x1b[2J" in fitted.stdout  # shown, escaped
    table = ok(invoke("evaluate", out, hostile_visits, "--n-boot", "2"))
    as_json = ok(invoke("evaluate", out, hostile_visits, "--n-boot", "2", "--format", "json"))
    as_csv = ok(invoke("evaluate", out, hostile_visits, "--n-boot", "2", "--format", "csv"))
    missing = error_line(invoke("fit", hostile_visits, "-t", "nope", "-g", "hospital", "-o",
                                tmp_path / "x.skops"))  # fmt: skip
    for result in (fitted, table, as_json, as_csv):
        assert not RAW_CONTROL.search(result.stdout), repr(result.stdout)
        assert not RAW_CONTROL.search(result.stderr), repr(result.stderr)
    assert not RAW_CONTROL.search(missing) and "ward\\x1b[31m" in missing
    groups = {row["group"] for row in json.loads(as_json.stdout)["per_group"]}
    assert groups - {"overall"} == set(HOSTILE_GROUPS)  # JSON escapes them losslessly


# -- 5. spreadsheet formula injection ----------------------------------------------------


def test_formula_like_ids_and_group_names_are_neutralised_in_csv(model, workdir, tmp_path):
    frame = make_visits(6, seed=3).drop(columns="y")
    frame["visit_id"] = ["=1+1", "@SUM(A1:A9)", "-2+3", "+cmd", "-5", "\tx"]
    frame.loc[0, "hospital"] = '=HYPERLINK("http://evil.example","x")'
    data = workdir / "formulas.csv"
    frame.to_csv(data, index=False)
    out = tmp_path / "p.csv"
    ok(invoke("predict", model, data, "-o", out, "--id-column", "visit_id"))
    written = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert written["visit_id"].tolist() == ["'=1+1", "'@SUM(A1:A9)", "'-2+3", "'+cmd", "-5", "'\tx"]
    # an unseen group is predicted with the shared part, labelled "<shared>" in 'group'
    assert not any(v.startswith(("=", "+", "@")) for v in written["group"])
    ev = ok(invoke("evaluate", model, _with_target(frame, workdir), "--n-boot", "2",
                   "--format", "csv"))  # fmt: skip
    cells = [c for line in ev.stdout.splitlines() for c in line.split(",")]
    assert not any(c.lstrip('"').startswith(("=", "@")) for c in cells)
    assert any(c.lstrip('"').startswith("'=HYPERLINK") for c in cells)


def _with_target(frame: pd.DataFrame, folder: Path) -> Path:
    path = folder / "formulas_y.csv"
    frame.assign(y=[0, 1, 0, 1, 0, 1]).to_csv(path, index=False)
    return path


# -- 4. model files that would exhaust memory --------------------------------------------


def _rewrite(source: Path, target: Path, replace: Any) -> None:
    """Copy a model file, passing each member's name and bytes through ``replace``."""
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, replace(info.filename, src.read(info)))


def _coef_file(path: Path) -> str:
    tree = json.loads(zipfile.ZipFile(path).read("schema.json"))
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if "coef_" in node and isinstance(node["coef_"], dict) and "file" in node["coef_"]:
                return node["coef_"]["file"]
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    raise AssertionError("no coef_ array")  # pragma: no cover


def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def test_model_file_with_a_huge_zero_array_is_refused_before_allocating(model, tmp_path):
    name = _coef_file(model)
    estimator = load_model(model)[0].steps[-1][1]
    crafted = tmp_path / "zeros.skops"
    zeros = _npy(np.zeros(6_000_000))  # 48 MB of zeros: a few dozen KB once compressed
    _rewrite(model, crafted, lambda n, b: zeros if n == name else b)
    assert crafted.stat().st_size < 1_000_000
    tracemalloc.start()
    try:
        with pytest.raises(DataValidationError) as err:
            load_model(crafted)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert str(err.value) == MSG_ARRAY_TOO_BIG.format(
        path=crafted, name=name, shape=(6_000_000,), values=6_000_000,
        features=estimator.n_features_in_, groups=len(estimator.groups_),
        classes=len(estimator.classes_), cap=MIN_ARRAY_CAP,
    )  # fmt: skip
    assert peak < 20_000_000  # the 48 MB array was never built
    with pytest.raises(DataValidationError, match="more than the limit of 1.0 MiB"):
        load_model(crafted, max_bytes=1024**2)
    load_model(model)  # the real model still loads


def test_model_file_whose_array_header_lies_is_refused(model, tmp_path):
    name = _coef_file(model)
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f8", "fortran_order": False, "shape": (10**12,)}
    )
    crafted = tmp_path / "lie.skops"
    _rewrite(model, crafted, lambda n, b: header.getvalue() + b"\0" * 8 if n == name else b)
    with pytest.raises(DataValidationError, match=r"declares shape \(1000000000000,\)"):
        load_model(crafted)


def test_model_file_with_padded_json_is_refused(model, tmp_path):
    crafted = tmp_path / "padded.skops"
    pad = b" " * (MAX_SCHEMA_BYTES + 1)
    _rewrite(model, crafted, lambda n, b: b[:-1] + pad + b[-1:] if n == "schema.json" else b)
    assert crafted.stat().st_size < 1_000_000
    expected = r"its object tree \(schema.json\) is 32.\d MiB, more than the limit of 32.0 MiB"
    with pytest.raises(DataValidationError, match=expected):
        load_model(crafted)


# -- 12. experiment files follow the rules of the command-line options -------------------

EXPERIMENT = """
[data]
path = "visits.csv"
target = "y"
groups = ["hospital"]

[frontier]
{line}
"""


@pytest.mark.parametrize(
    ("line", "option", "reason"),
    [
        ("points = -3", "--points", "it must be at least 1"),
        ("points = 0", "--points", "it must be at least 1"),
        ("n_boot = 0", "--n-boot", "it must be at least 1"),
        ("alpha = -1.0", "--alpha", "it must be at least 0.0"),
        ('objective = "fastest"', "--objective", "it must be one of 'average', 'balanced'"),
    ],
)
def test_experiment_values_follow_the_option_rules(workdir, visits, line, option, reason):
    path = workdir / "bad.toml"
    path.write_text(EXPERIMENT.format(line=line))
    message = error_line(invoke("run", path))
    assert (
        f"[frontier] {line.split(' = ')[0]} = " in message and f"(the rule of {option})" in message
    )
    assert reason in message
    assert "bug" not in message and "Unexpected" not in message
    # the command line refuses the same value (exit code 2, a usage error)
    key, _, value = line.partition(" = ")
    cli = invoke("frontier", visits, "-t", "y", "-g", "hospital", "-o", workdir / "x.html",
                 option, value.strip('"'))  # fmt: skip
    assert cli.exit_code == 2


def test_experiment_empty_output_and_encodings(workdir, fake_pair_search):
    path = workdir / "e.toml"
    path.write_text(EXPERIMENT.format(line='output = ""'))
    message = error_line(invoke("run", path))
    assert "[frontier] output must be a file name" in message and "empty name" not in message
    latin = EXPERIMENT.format(line='policy = "knee"  # caf\u00e9').encode("latin-1")
    path.write_bytes(latin)
    message = error_line(invoke("run", path))
    assert "is not UTF-8 text (byte 0xe9" in message and "Save it as UTF-8" in message
    bom = workdir / "bom.toml"
    bom.write_bytes(b"\xef\xbb\xbf" + EXPERIMENT.format(line="points = 2").encode())
    ok(invoke("run", bom))
    assert (workdir / "reports" / "bom.html").is_file()


@pytest.fixture
def fake_pair_search(monkeypatch):
    monkeypatch.setattr(frontier_module, "frontier_search_class", lambda: PairSearch)


# -- 11. damaged, mis-encoded and date-holding files -------------------------------------


def test_truncated_gzip_file_is_reported_as_damaged(workdir, tmp_path):
    full = tmp_path / "v.csv.gz"
    make_visits(2000).to_csv(full, index=False)
    cut = tmp_path / "cut.csv.gz"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    message = error_line(invoke("fit", cut, "-t", "y", "-g", "hospital", "-o", tmp_path / "m"))
    assert f"Cannot read {cut}: the gzip file is truncated or damaged" in message
    assert "bug" not in message


def test_latin1_file_error_names_the_byte_and_line_and_a_real_option(tmp_path):
    path = tmp_path / "latin.csv"
    rows = "".join(f"{i},north,{i % 2}\n" for i in range(5))
    path.write_bytes(("id,hospital,y\n" + rows + "6,M\u00fcnchen,1\n").encode("latin-1"))
    message = error_line(invoke("fit", path, "-t", "y", "-g", "hospital", "-o", tmp_path / "m"))
    assert "as utf-8 text: byte 0xfc on line 7" in message
    assert "--encoding latin-1" in message
    # and the option it names reads the file
    done = invoke(
        "fit", path, "-t", "y", "-g", "hospital", "--encoding", "latin-1", "--alpha", "0.01",
        "--sharing-strength", "0.1", "-o", tmp_path / "m2",
    )  # fmt: skip
    assert "byte 0xfc" not in done.output


def test_datetime_feature_in_a_dataframe_is_named():
    from fairmtl import FairMTLClassifier
    from fairmtl.data._validation import MSG_DATETIME_COLUMN

    frame = make_visits(60).drop(columns=["visit_id", "ward"])
    X = frame[["age"]].assign(seen=pd.date_range("2020-01-01", periods=60))
    clf = FairMTLClassifier(sharing="shared", objective="average", alpha=1e-3, sharing_strength=1.0)
    with pytest.raises(DataValidationError) as err:
        clf.fit(X, frame["y"], groups=frame["hospital"])
    assert str(err.value) == MSG_DATETIME_COLUMN.format(column="seen")


# -- 14. groups whose index disagrees with X's -------------------------------------------


def test_groups_series_with_another_index_is_refused():
    from fairmtl import FairMTLClassifier

    frame = make_visits(60)
    X, y = frame[["age"]], frame["y"]
    shuffled = frame["hospital"].sample(frac=1.0, random_state=0)
    clf = FairMTLClassifier(sharing="shared", objective="average", alpha=1e-3, sharing_strength=1.0)
    with pytest.raises(DataValidationError, match=r"groups is a pandas Series whose index"):
        clf.fit(X, y, groups=shuffled)
    clf.fit(X, y, groups=shuffled.reindex(X.index))  # aligned: accepted
    clf.fit(X, y, groups=frame["hospital"].to_numpy())  # plain arrays: by position


# -- 6. overflowing numbers reported at their real rows, with their real cause ----------


@pytest.mark.parametrize(("seed", "folds"), [("0", "5"), ("5", "2")])
def test_infinite_value_is_reported_at_its_row_whatever_the_split(tmp_path, seed, folds):
    from fairmtl.data._validation import MSG_INFINITE_VALUES

    path = tmp_path / "inf.csv"
    text = make_visits(240).to_csv(index=False).splitlines()
    fields = text[151].split(",")  # data row 150 (line 152 of the file)
    fields[2] = "1e309"
    text[151] = ",".join(fields)
    path.write_text("\n".join(text) + "\n")
    message = error_line(invoke("fit", path, "-t", "y", "-g", "hospital", "--seed", seed,
                                "--cv", folds, "-o", tmp_path / "m.skops"))  # fmt: skip
    expected = MSG_INFINITE_VALUES.format(column="age", count=1, value=float("inf"), row=150)
    assert message == "Error: " + expected


def test_huge_values_are_not_reported_as_missing(tmp_path):
    from fairmtl.data._validation import MSG_TOO_LARGE_TO_COMPUTE

    frame = make_visits(240)
    frame.loc[40, "age"], frame.loc[90, "age"] = 1e308, -1e308
    path = tmp_path / "huge.csv"
    frame.to_csv(path, index=False)
    message = error_line(invoke("fit", path, "-t", "y", "-g", "hospital", "-o", tmp_path / "m"))
    expected = MSG_TOO_LARGE_TO_COMPUTE.format(column="age", count=2, value=1e308, row=40)
    assert message == "Error: " + expected
    assert "missing" not in message.split("(")[0]


# -- 7. labels that differ only in form ---------------------------------------------------


def test_similar_target_and_group_labels_draw_a_warning():
    from fairmtl.data import load_training_table

    frame = make_visits(120)
    frame["y"] = np.array(["yes", "Yes", "yes ", "no"], dtype=object)[np.arange(120) % 4]
    frame["hospital"] = np.array(["1", "1.0", "01", "Caf\u00e9", "Cafe\u0301", "Male", "Male "])[
        np.arange(120) % 7
    ]
    with pytest.warns(DataWarning) as record:
        table = load_training_table(frame, target="y", groups=["hospital"])
    messages = [str(w.message) for w in record]
    target = next(m for m in messages if m.startswith("Target column 'y'"))
    assert "'yes' / 'Yes' / 'yes '" in target and "kept as different classes" in target
    group = next(m for m in messages if m.startswith("Group column 'hospital'"))
    assert "'1' / '1.0' / '01'" in group and "'Caf\u00e9' / 'Cafe\u0301'" in group
    assert "'Male' / 'Male '" in group
    assert table.y.nunique() == 4  # kept apart, as the warning says


# -- 9. thousands separators and short rows ----------------------------------------------


def test_thousands_separators_are_read_as_numbers_with_a_warning(tmp_path):
    from fairmtl.data import load_training_table

    frame = make_visits(120)
    frame["fnlwgt"] = [f"{v:,}" for v in np.arange(120) * 1237 + 900]
    path = tmp_path / "t.csv"
    frame.to_csv(path, index=False)
    with pytest.warns(DataWarning, match=r"Column 'fnlwgt' holds numbers written with thousands"):
        table = load_training_table(path, target="y", groups=["hospital"], id_column="visit_id")
    assert "fnlwgt" in table.schema.numeric_features
    assert table.X["fnlwgt"].tolist() == (np.arange(120) * 1237 + 900).tolist()


def test_rows_shorter_than_the_header_draw_a_warning(tmp_path):
    from fairmtl.data import read_table

    path = tmp_path / "short.csv"
    path.write_text("a,b,c\n1,2,3\n4,5\n6,7,8\n9\n")
    with pytest.warns(DataWarning, match=r"2 row\(s\) with fewer fields than its header's 3 "
                                         r"\(first on line 3, with 2\)"):  # fmt: skip
        frame = read_table(path)
    assert frame["c"].isna().tolist() == [False, True, False, True]


# -- 10. leakage and saved index columns -------------------------------------------------


def test_saved_index_column_and_target_copy_draw_warnings(tmp_path):
    from fairmtl.data import load_training_table

    frame = make_visits(120).assign(outcome=lambda f: np.where(f["y"] == 1, "re", "home"))
    path = tmp_path / "indexed.csv"
    frame.to_csv(path)  # the index is saved as 'Unnamed: 0'
    with pytest.warns(DataWarning) as record:
        load_training_table(path, target="y", groups=["hospital"], id_column="visit_id")
    messages = [str(w.message) for w in record]
    assert any(m.startswith("Column 'Unnamed: 0' looks like a saved row index") for m in messages)
    leak = [m for m in messages if m.startswith("Feature column 'outcome' determines")]
    assert leak and "each of its 2 values goes with a single class" in leak[0]
    assert not any("'age' determines" in m or "'ward' determines" in m for m in messages)


# -- 8. missing markers: a stated list, overridable --------------------------------------


def test_group_called_na_and_category_none_are_values(tmp_path):
    from fairmtl.data import DEFAULT_NA_VALUES, load_training_table

    frame = make_visits(120)
    frame["hospital"] = np.array(["NA", "EU", "Asia"])[np.arange(120) % 3]  # North America
    frame["ward"] = np.array(["None", "cardio", "ortho"])[np.arange(120) % 3]
    frame["age"] = frame["age"].astype(object)
    frame.loc[5, "age"] = "NA"
    path = tmp_path / "na.csv"
    frame.to_csv(path, index=False)
    table = load_training_table(path, target="y", groups=["hospital"], id_column="visit_id")
    assert sorted(table.groups.unique()) == ["Asia", "EU", "NA"]
    assert "None" in set(table.X["ward"]) and table.X["ward"].notna().all()
    assert np.isnan(table.X.loc[5, "age"])  # NA in a numeric column is missing
    assert "None" not in DEFAULT_NA_VALUES and "NA" in DEFAULT_NA_VALUES
    out = tmp_path / "m.skops"
    ok(invoke("fit", path, "-t", "y", "-g", "hospital", "--id-column", "visit_id", "-o", out,
              "--objective", "average", "--alpha", "0.001", "--sharing-strength", "1"))  # fmt: skip
    model, _, _ = load_model(out)
    assert "NA" in list(model.steps[-1][1].groups_)
    # --na-values replaces the list, for every column: now the NA group is missing
    line = error_line(invoke("fit", path, "-t", "y", "-g", "hospital", "--id-column",
                             "visit_id", "--na-values", "NA", "-o", tmp_path / "n.skops"))  # fmt: skip
    assert "Group column 'hospital' is missing in 40 row(s)" in line


# -- 14. a class absent from one group under independent sharing -------------------------


def test_class_absent_from_a_group_under_independent_sharing_warns():
    from fairmtl import FairMTLClassifier

    rng = np.random.default_rng(0)
    groups = np.repeat(["a", "b"], 60)
    y = np.where(groups == "a", np.arange(120) % 3, np.arange(120) % 2)  # 'b' lacks class 2
    X = rng.normal(size=(120, 2)) + y[:, None]
    clf = FairMTLClassifier(
        sharing="independent", objective="average", alpha=1e-2, sharing_strength=1.0
    )
    with pytest.warns(DataWarning, match=r"'b' has none of 2\)") as record:
        clf.fit(X, y, groups=groups)
    assert "probability near 0" in str(record[0].message)
    assert clf.predict_proba(X[groups == "b"], groups=groups[groups == "b"])[:, 2].max() < 1e-3


# -- 15. FrontierSearch: choice on test rows, weights everywhere -------------------------


def _weighted_data(n: int = 300):
    rng = np.random.default_rng(1)
    groups = np.array(["a", "b", "c"], dtype=object)[np.arange(n) % 3]
    X = rng.normal(size=(n, 3))
    y = (X[:, 0] + 0.5 * (groups == "b") + rng.normal(size=n) > 0).astype(int)
    w = rng.choice([0.2, 1.0, 5.0], size=n)
    return X, y, groups, w


def _search(**kwargs):
    from fairmtl import FairMTLClassifier, FrontierSearch

    clf = FairMTLClassifier(sharing="shared", objective="bounded", alpha=1e-3, sharing_strength=1.0)
    return FrontierSearch(
        clf, n_points=2, baselines=("pooled",), n_boot=2, random_state=0, **kwargs
    )


def test_frontier_without_validation_rows_warns_that_it_chooses_on_test():
    X, y, groups, _ = _weighted_data()
    with pytest.warns(DataWarning, match=r"val_size=0: there are no validation rows"):
        _search(val_size=0.0).fit(X, y, groups=groups)


def test_frontier_uses_sample_weights_for_baselines_and_metrics():
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score

    X, y, groups, w = _weighted_data()
    search = _search().fit(X, y, groups=groups, sample_weight=w)
    i = next(k for k, m in enumerate(search.results_["models"]) if m["label"].startswith("pooled"))
    pooled = search.estimators_[i]
    train, test = search.split_.train, search.split_.test
    # the same fit by scikit-learn with the weights (penalty scaled by the total weight)
    reference = LogisticRegression(C=1.0 / (2e-3 * w[train].sum()), max_iter=5000)
    reference.fit(X[train], y[train], sample_weight=w[train])
    np.testing.assert_allclose(pooled.coef_, reference.coef_, rtol=1e-4, atol=1e-6)
    unweighted = LogisticRegression(C=1.0 / (2e-3 * len(train)), max_iter=5000)
    assert not np.allclose(pooled.coef_, unweighted.fit(X[train], y[train]).coef_, atol=1e-3)
    expected = accuracy_score(y[test], pooled.predict(X[test]), sample_weight=w[test])
    assert search.results_["models"][i]["scores"]["overall_accuracy"] == pytest.approx(expected)


def test_experiment_na_values_reach_the_frontier_config(workdir):
    from fairmtl.cli._experiment import read_experiment

    path = workdir / "na.toml"
    path.write_text(EXPERIMENT.format(line="points = 2").replace(
        'groups = ["hospital"]', 'groups = ["hospital"]\nna_values = ["", "-999"]'
    ))  # fmt: skip
    config, _ = read_experiment(path)
    assert config.na_values == ("", "-999")


def test_values_merged_by_leading_spaces_are_said(tmp_path):
    """' yes' and 'yes' in one column are read as one value: a warning names the column,
    the value and the line; a file that puts a space after every delimiter draws none."""
    from fairmtl.data import read_table
    from fairmtl.data._messy import MSG_LEADING_SPACES

    path = tmp_path / "spaces.csv"
    path.write_text("age,hospital,y\n1,north,yes\n2,north, yes\n3,south,no\n4,south,no\n")
    with pytest.warns(DataWarning) as caught:
        frame = read_table(path)
    assert frame["y"].tolist() == ["yes", "yes", "no", "no"]
    expected = MSG_LEADING_SPACES.format(path=path, column="y", value="yes", line=3)
    assert expected in [str(w.message) for w in caught]
    spaced = tmp_path / "spaced.csv"
    spaced.write_text("age, hospital, y\n1, north, yes\n2, south, no\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataWarning)
        assert read_table(spaced)["y"].tolist() == ["yes", "no"]
