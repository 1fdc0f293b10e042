"""Tests of fairmtl.data's file reading and atomic writing."""

from __future__ import annotations

import gzip
import os
import re

import numpy as np
import pandas as pd
import pytest

from fairmtl.data import (
    atomic_target,
    atomic_write_bytes,
    atomic_write_text,
    read_table,
    write_table_atomic,
)
from fairmtl.data._file_checks import MSG_TOO_LARGE
from fairmtl.data._io import MSG_NO_ROWS
from fairmtl.data._writing import MSG_EXISTS_NO_FORCE
from fairmtl.exceptions import DataValidationError, FileExistsNoForceError


def msg_regex(template: str) -> str:
    """A regex matching any message built from a ``MSG_*`` template."""
    return ".*".join(re.escape(part) for part in re.split(r"\{[^}]*\}", template))


CSV_TEXT = "age,site,y\n30,a,0\n?,b,1\n,a,1\n"


def _expected_frame(frame: pd.DataFrame) -> None:
    assert list(frame.columns) == ["age", "site", "y"]
    assert len(frame) == 3
    assert frame["age"].isna().tolist() == [False, True, True]  # "?" and "" are missing
    assert frame["y"].tolist() == [0, 1, 1]


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("t.csv", CSV_TEXT),
        ("t.tsv", CSV_TEXT.replace(",", "\t")),
        ("t.txt", CSV_TEXT.replace(",", "\t")),  # tab sniffed, not given by extension
        ("semi.csv", CSV_TEXT.replace(",", ";")),
        ("pipe.csv", CSV_TEXT.replace(",", "|")),
    ],
)
def test_read_text_formats(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    _expected_frame(read_table(path))


def test_read_gzip_csv(tmp_path):
    path = tmp_path / "t.csv.gz"
    with gzip.open(path, "wt") as handle:
        handle.write(CSV_TEXT)
    _expected_frame(read_table(path))


def test_read_parquet_and_columns(tmp_path):
    frame = pd.DataFrame({"age": [30.0, np.nan, np.nan], "site": list("aba"), "y": [0, 1, 1]})
    path = tmp_path / "t.parquet"
    frame.to_parquet(path)
    _expected_frame(read_table(path))
    assert list(read_table(path, columns=["site"]).columns) == ["site"]


def test_semicolon_with_decimal_commas_is_sniffed(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("a;b;c\n1;x;2,5\n3;y;4,0\n")
    assert list(read_table(path).columns) == ["a", "b", "c"]


def test_quoted_delimiters_and_skipped_spaces(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text('name, work\n"a, b", ?\n"c; d", x\n')
    frame = read_table(path)
    assert frame["name"].tolist() == ["a, b", "c; d"]
    assert frame["work"].isna().tolist() == [True, False]


def test_columns_and_dtype(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("zip,y\n01234,1\n05678,0\n")
    frame = read_table(path, columns=["zip"], dtype={"zip": str})
    assert frame["zip"].tolist() == ["01234", "05678"]


def test_unknown_requested_column_suggests(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text(CSV_TEXT)
    with pytest.raises(DataValidationError, match="'agee'.*Did you mean 'age'"):
        read_table(path, columns=["agee"])


def test_missing_file(tmp_path):
    with pytest.raises(DataValidationError, match="does not exist") as info:
        read_table(tmp_path / "nope.csv")
    assert "nope.csv" in str(info.value)


def test_directory(tmp_path):
    (tmp_path / "d.csv").mkdir()
    with pytest.raises(DataValidationError, match="directory"):
        read_table(tmp_path / "d.csv")


@pytest.mark.parametrize("content", [b"", b"\n\n"])
def test_empty_file(tmp_path, content):
    path = tmp_path / "e.csv"
    path.write_bytes(content)
    with pytest.raises(DataValidationError, match="is empty"):
        read_table(path)


def test_header_only(tmp_path):
    path = tmp_path / "h.csv"
    path.write_text("a,b,c\n")
    with pytest.raises(DataValidationError, match=msg_regex(MSG_NO_ROWS)) as info:
        read_table(path)
    assert "'a', 'b', 'c'" in str(info.value)


def test_header_only_parquet(tmp_path):
    path = tmp_path / "h.parquet"
    pd.DataFrame({"a": pd.Series([], dtype=float)}).to_parquet(path)
    with pytest.raises(DataValidationError, match="no data rows"):
        read_table(path)


@pytest.mark.parametrize(("real", "given", "cli"), [(";", ",", "--sep ';'"), ("\t", ",", "--sep")])
def test_wrong_delimiter_says_which_to_pass(tmp_path, real, given, cli):
    path = tmp_path / "t.csv"
    path.write_text(CSV_TEXT.replace(",", real))
    with pytest.raises(DataValidationError, match="delimiter looks wrong") as info:
        read_table(path, sep=given)
    assert f"sep={real!r}" in str(info.value)
    assert cli in str(info.value)


def test_row_longer_than_header_is_refused(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("a,b\n1,2\n3,4,5\n")
    with pytest.raises(DataValidationError, match="Cannot parse"):
        read_table(path)


def test_duplicated_columns_named(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("a,b,a,c,c\n1,2,3,4,5\n")
    with pytest.raises(DataValidationError, match="duplicated column names: 'a', 'c'"):
        read_table(path)


def test_too_large(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text(CSV_TEXT)
    with pytest.raises(DataValidationError, match=msg_regex(MSG_TOO_LARGE)) as info:
        read_table(path, max_bytes=10)
    assert "Parquet" in str(info.value) and "sample" in str(info.value)


@pytest.mark.parametrize("name", ["t.xlsx", "t", "t.parquet.gz"])
def test_unknown_extension(tmp_path, name):
    path = tmp_path / name
    path.write_text(CSV_TEXT)
    with pytest.raises(DataValidationError, match="unknown extension"):
        read_table(path)


def test_bad_parquet(tmp_path):
    path = tmp_path / "t.parquet"
    path.write_text("not parquet at all")
    with pytest.raises(DataValidationError, match="Cannot read Parquet"):
        read_table(path)


def test_encoding(tmp_path):
    path = tmp_path / "t.csv"
    path.write_bytes("a,b\n\xe9t\xe9,1\nx,2\n".encode("latin-1"))
    with pytest.raises(DataValidationError, match="encoding"):
        read_table(path)
    assert read_table(path, encoding="latin-1")["a"].iloc[0] == "\xe9t\xe9"


# -- writing ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["o.csv", "o.tsv", "o.csv.gz", "o.parquet"])
def test_write_table_round_trip(tmp_path, name):
    frame = pd.DataFrame({"a": [1, 2], "b": ["x", "ü"]})
    path = tmp_path / "new" / "deeper" / name
    assert write_table_atomic(frame, path) == path
    back = read_table(path)
    pd.testing.assert_frame_equal(back, frame, check_dtype=False)
    assert [p.name for p in path.parent.iterdir()] == [name]  # no temporary file left


def test_write_refuses_overwrite_without_force(tmp_path):
    path = tmp_path / "o.csv"
    path.write_text("old\n")
    with pytest.raises(FileExistsNoForceError, match="--force"):
        write_table_atomic(pd.DataFrame({"a": [1]}), path)
    with pytest.raises(FileExistsNoForceError, match=msg_regex(MSG_EXISTS_NO_FORCE)):
        atomic_write_text(path, "new")
    assert path.read_text() == "old\n"
    write_table_atomic(pd.DataFrame({"a": [1]}), path, force=True)
    assert read_table(path)["a"].tolist() == [1]


def test_write_unknown_extension(tmp_path):
    with pytest.raises(DataValidationError, match="unknown extension"):
        write_table_atomic(pd.DataFrame({"a": [1]}), tmp_path / "o.xlsx")


def test_failed_table_write_leaves_original_intact(tmp_path, monkeypatch):
    path = tmp_path / "o.csv"
    path.write_text("original\n")

    def broken_to_csv(self, target, *args, **kwargs):
        with open(target, "w") as handle:
            handle.write("partial")
        raise OSError("disk full")

    monkeypatch.setattr(pd.DataFrame, "to_csv", broken_to_csv)
    with pytest.raises(OSError, match="disk full"):
        write_table_atomic(pd.DataFrame({"a": [1]}), path, force=True)
    assert path.read_text() == "original\n"
    assert os.listdir(tmp_path) == ["o.csv"]


def test_failed_bytes_write_leaves_no_file(tmp_path, monkeypatch):
    def broken_fsync(path):
        raise OSError("I/O error")

    monkeypatch.setattr("fairmtl.data._writing._fsync", broken_fsync)
    path = tmp_path / "model.skops"
    with pytest.raises(OSError, match="I/O error"):
        atomic_write_bytes(path, b"data")
    assert os.listdir(tmp_path) == []


def test_atomic_write_bytes_and_text(tmp_path):
    path = tmp_path / "a" / "b.bin"
    atomic_write_bytes(path, b"\x00\x01")
    assert path.read_bytes() == b"\x00\x01"
    atomic_write_text(path, "h\u00e9llo", force=True)
    assert path.read_text(encoding="utf-8") == "h\u00e9llo"
    with pytest.raises(FileExistsNoForceError):
        atomic_write_bytes(tmp_path / "a", b"")  # a directory


def test_atomic_target_interrupted(tmp_path):
    path = tmp_path / "r.html"
    path.write_text("old")
    with pytest.raises(KeyboardInterrupt):
        with atomic_target(path, force=True) as tmp:
            tmp.write_text("half")
            raise KeyboardInterrupt
    assert path.read_text() == "old"
    assert os.listdir(tmp_path) == ["r.html"]


# -- every writer goes through fairmtl.data._writing ------------------------------------

_WRITER_CALLS = {"write_text", "write_bytes", "savefig", "to_csv", "to_parquet", "to_json", "dump"}
#: writes that are not files of the user's: the kernel's per-process memory counters
_NOT_FILES = {"_CLEAR_REFS.write_text('5')"}


def _direct_writes(path):
    """Calls in ``path`` that write a file without the writing module's temporary file."""
    import ast

    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.Call):
            continue
        func, args = node.func, node.args
        to_tmp = bool(args) and isinstance(args[0], ast.Name) and args[0].id == "tmp"
        if isinstance(func, ast.Attribute) and func.attr in _WRITER_CALLS:
            to_path = bool(args) or any(k.arg == "path_or_buf" for k in node.keywords)
            returns_text = func.attr in ("to_csv", "to_json") and not to_path
            if not (to_tmp or returns_text or ast.unparse(node) in _NOT_FILES):
                yield f"{path}:{node.lineno}: {ast.unparse(node)}"
        elif isinstance(func, ast.Name) and func.id == "open" and len(args) > 1:
            mode = args[1].value if isinstance(args[1], ast.Constant) else ""
            if any(c in mode for c in "wax+") and not to_tmp:
                yield f"{path}:{node.lineno}: {ast.unparse(node)}"


def test_every_writer_goes_through_the_writing_module():
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    found = [
        line
        for folder in ("fairmtl", "benchmarks", "scripts")
        for path in sorted((root / folder).rglob("*.py"))
        if path.name != "_writing.py"
        for line in _direct_writes(path)
    ]
    assert found == [], "write these through fairmtl.data's atomic writers:\n" + "\n".join(found)
