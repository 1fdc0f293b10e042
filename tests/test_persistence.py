"""Model files: skops round trip, the schema check, and refusing unsafe files unrun."""

from __future__ import annotations

import importlib
import io
import json
import os
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import skops.io as sio

from fairmtl import __version__
from fairmtl.cli._model import fit_table
from fairmtl.data import Schema, load_training_table
from fairmtl.exceptions import DataValidationError, DataWarning, FileExistsNoForceError
from fairmtl.persistence import (
    ALLOWED_TYPES,
    MODEL_FORMAT,
    MSG_CORRUPT,
    MSG_EXTRA_COLUMNS,
    MSG_NOT_A_FAIRMTL_MODEL,
    MSG_NOT_SKOPS,
    MSG_PICKLE_REFUSED,
    MSG_UNTRUSTED,
    PandasState,
    check_schema,
    load_model,
    save_model,
)


def _frame(n: int = 240, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    hospital = rng.choice(["north", "south", "east"], size=n)
    age = rng.normal(60, 10, size=n)
    ward = rng.choice(["a", "b"], size=n)
    logit = 0.08 * (age - 60) + (ward == "a") - 0.5 * (hospital == "east")
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return pd.DataFrame({"age": age, "ward": ward, "hospital": hospital, "y": y})


@pytest.fixture(scope="module")
def fitted():
    table = load_training_table(_frame(), target="y", groups=["hospital"])
    outcome = fit_table(table, objective="average", min_group_size=1)
    return outcome.model, table.schema, table.frame


def test_round_trip_predicts_the_same(fitted, tmp_path):
    model, schema, frame = fitted
    path = save_model(model, tmp_path / "m.skops", schema=schema, metadata={"task": "x"})
    loaded, schema2, metadata = load_model(path)
    assert schema2 == schema
    assert metadata == {"task": "x", "fairmtl_version": __version__}
    X = frame[["age", "ward", "hospital"]]
    np.testing.assert_allclose(loaded.predict_proba(X), model.predict_proba(X))
    estimator = loaded.steps[-1][1]
    assert isinstance(estimator.group_losses_, pd.Series)
    pd.testing.assert_series_equal(estimator.group_losses_, model.steps[-1][1].group_losses_)
    assert isinstance(model.steps[-1][1].group_sizes_, pd.Series)  # the original is untouched


def test_file_is_a_zip_without_pickles(fitted, tmp_path):
    model, schema, _ = fitted
    path = save_model(model, tmp_path / "m.skops", schema=schema)
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        assert "schema.json" in names
        assert not any(n.endswith((".pkl", ".pickle")) for n in names)
    assert set(sio.get_untrusted_types(file=path)) <= ALLOWED_TYPES


def test_save_refuses_to_overwrite_and_leaves_no_temp_file(fitted, tmp_path):
    model, schema, _ = fitted
    path = tmp_path / "sub" / "m.skops"
    save_model(model, path, schema=schema)
    before = path.read_bytes()
    with pytest.raises(FileExistsNoForceError, match="--force"):
        save_model(model, path, schema=schema)
    assert path.read_bytes() == before
    save_model(model, path, schema=schema, force=True)
    assert sorted(p.name for p in path.parent.iterdir()) == ["m.skops"]


def test_save_needs_a_resolved_schema_and_json_metadata(fitted, tmp_path):
    model, schema, _ = fitted
    with pytest.raises(DataValidationError, match="resolved schema"):
        save_model(model, tmp_path / "a.skops", schema=Schema(target="y", groups="hospital"))
    with pytest.raises(DataValidationError, match="metadata"):
        save_model(model, tmp_path / "b.skops", schema=schema, metadata={"f": object()})
    save_model(model, tmp_path / "c.skops", schema=schema.to_dict(), metadata={"x": np.int64(3)})
    assert load_model(tmp_path / "c.skops")[2]["x"] == 3


def test_allowed_types_name_real_classes():
    for name in ALLOWED_TYPES:
        module, _, attribute = name.rpartition(".")
        assert hasattr(importlib.import_module(module), attribute), name


def test_pandas_state_round_trip():
    series = pd.Series([1, 2], index=pd.Index(["a", "b"], name="group"), name="size")
    frame = pd.DataFrame({"x": [1.5, 2.5], "g": ["u", "v"]})
    pd.testing.assert_series_equal(PandasState(series).restore(), series)
    pd.testing.assert_frame_equal(PandasState(frame).restore(), frame)
    categorical = pd.Series(["a", "b", "a"], dtype="category")
    pd.testing.assert_series_equal(PandasState(categorical).restore(), categorical)


# -- refusing unsafe and damaged files ------------------------------------------------


class _MarkerOnUnpickle:
    """Unpickling this creates a marker file: the payload of a malicious pickle."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def test_pickle_is_refused_without_being_run(tmp_path):
    marker = tmp_path / "marker"
    path = tmp_path / "model.skops"
    path.write_bytes(pickle.dumps(_MarkerOnUnpickle(marker)))
    with pytest.raises(DataValidationError) as info:
        load_model(path)
    assert str(info.value) == MSG_PICKLE_REFUSED.format(path=path)
    assert not marker.exists()


def _tampered(path: Path, module: str, name: str, args: tuple) -> Path:
    """A skops model file whose model is ``module.name(*args)``, called on load."""
    payload = {
        "format": MODEL_FORMAT,
        "format_version": 1,
        "fairmtl_version": __version__,
        "schema": {"target": "y", "groups": ["g"]},
        "metadata": {},
        "model": args,
    }
    data = sio.dumps(payload)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        files = {n: archive.read(n) for n in archive.namelist()}
    schema = json.loads(files["schema.json"])
    schema["content"]["model"] = {
        "__class__": name,
        "__module__": module,
        "__loader__": "ConstructorFromReduceNode",
        "content": schema["content"]["model"],
        "__id__": 1,
    }
    files["schema.json"] = json.dumps(schema).encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for file_name, content in files.items():
            archive.writestr(file_name, content)
    path.write_bytes(buffer.getvalue())
    return path


def test_tampered_payload_is_live(tmp_path):
    # The crafted file really runs its call when its types are trusted...
    marker = tmp_path / "live"
    path = _tampered(tmp_path / "m.skops", "builtins", "open", (str(marker), "w"))
    sio.load(path, trusted=["builtins.open"])["model"].close()
    assert marker.exists()


@pytest.mark.parametrize(
    ("module", "name", "command"),
    [("builtins", "open", False), ("os", "system", True), ("builtins", "eval", True)],
)
def test_tampered_skops_file_is_refused_without_being_run(tmp_path, module, name, command):
    # ... and load_model refuses it, naming the type, without running it.
    marker = tmp_path / "marker"
    if command and name == "system":
        args: tuple = (f"touch {marker}",)
    elif command:
        args = (f"open({str(marker)!r}, 'w')",)
    else:
        args = (str(marker), "w")
    path = _tampered(tmp_path / "m.skops", module, name, args)
    with pytest.raises(DataValidationError) as info:
        load_model(path)
    assert str(info.value) == MSG_UNTRUSTED.format(path=path, types=f"{module}.{name}")
    assert not marker.exists()


def test_damaged_and_foreign_files_are_refused(tmp_path, fitted):
    model, schema, _ = fitted
    good = save_model(model, tmp_path / "good.skops", schema=schema).read_bytes()
    cut = tmp_path / "cut.skops"
    cut.write_bytes(good[: len(good) // 2])
    with pytest.raises(DataValidationError, match="damaged|not a skops"):
        load_model(cut)
    text = tmp_path / "text.skops"
    text.write_text("hello")
    with pytest.raises(DataValidationError) as info:
        load_model(text)
    assert str(info.value) == MSG_NOT_SKOPS.format(path=text)
    no_schema = tmp_path / "noschema.skops"
    with zipfile.ZipFile(no_schema, "w") as archive:
        archive.writestr("other.json", "{}")
    with pytest.raises(DataValidationError) as info:
        load_model(no_schema)
    assert str(info.value).startswith(MSG_CORRUPT.split("(")[0].format(path=no_schema))
    foreign = tmp_path / "foreign.skops"
    sio.dump({"a": 1}, foreign)
    with pytest.raises(DataValidationError) as info:
        load_model(foreign)
    assert str(info.value).startswith(MSG_NOT_A_FAIRMTL_MODEL.split("(")[0].format(path=foreign))
    with pytest.raises(DataValidationError, match="does not exist"):
        load_model(tmp_path / "missing.skops")
    with pytest.raises(DataValidationError, match="directory"):
        load_model(tmp_path)


def test_other_version_warns(fitted, tmp_path, monkeypatch):
    model, schema, _ = fitted
    path = save_model(model, tmp_path / "m.skops", schema=schema)
    monkeypatch.setattr("fairmtl.__version__", "99.0")
    with pytest.warns(DataWarning, match="fairmtl 0.1.0"):
        load_model(path)


# -- check_schema ---------------------------------------------------------------------


def test_check_schema_names_missing_and_mistyped_columns(fitted):
    _, schema, frame = fitted
    with pytest.raises(DataValidationError, match=r"'ward'.*Did you mean 'Ward'\?"):
        check_schema(frame.rename(columns={"ward": "Ward"}), schema)
    with pytest.raises(DataValidationError, match=r"'hospital' \(the group column\)"):
        check_schema(frame.drop(columns="hospital"), schema)
    bad = frame.assign(age=["old"] * len(frame))
    with pytest.raises(DataValidationError, match="'age' was numeric"):
        check_schema(bad, schema)
    with pytest.raises(DataValidationError, match=r"'y' \(the target\)"):
        check_schema(frame.drop(columns="y"), schema, require_target=True)


def test_check_schema_extra_columns(fitted):
    _, schema, frame = fitted
    extended = frame.assign(note="x")
    assert check_schema(extended, schema) == ["note"]
    with pytest.raises(DataValidationError) as info:
        check_schema(extended, schema, allow_extra=False)
    assert str(info.value).startswith(
        MSG_EXTRA_COLUMNS.format(columns="'note'", features="'age', 'ward'")
    )


def test_no_stray_files_in_cwd(tmp_path, fitted, monkeypatch):
    model, schema, _ = fitted
    monkeypatch.chdir(tmp_path)
    save_model(model, "m.skops", schema=schema)
    assert os.listdir(tmp_path) == ["m.skops"]
