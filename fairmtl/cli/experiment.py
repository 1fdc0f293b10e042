"""Experiment files: a frontier study as a reviewable, reproducible TOML file.

``fairmtl run experiment.toml`` takes the same options as ``fairmtl frontier``::

    [data]
    path = "visits.csv"            # relative to this file's folder
    target = "readmitted"
    groups = ["hospital"]          # a string or a list; several give intersections
    drop = ["patient_name"]        # optional
    # features = ["age", "los"]    # optional: default every other column
    # sep = ","                    # optional: sniffed by default
    # id_column = "visit_id"       # optional
    # task = "auto"                # optional: auto, classification or regression

    [frontier]
    sweep = "epsilon"              # or "epsilon=0.3,0.4" or { epsilon = [0.3, 0.4] }
    points = 20
    objective = "bounded"
    sharing = "offset"
    baselines = ["pooled", "independent", "fairlearn"]
    policy = "accuracy_within:0.01"
    seed = 0
    output = "reports/visits.html" # relative to this file's folder; JSON written beside
    # alpha, sharing_strength, n_jobs, scheduler, n_boot, val_size, test_size: optional

Unknown tables and keys are refused, naming them; the text of the file is recorded in
the results so that the report shows exactly what was run.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from fairmtl.cli._frontier import FrontierConfig
from fairmtl.data._validation import did_you_mean
from fairmtl.exceptions import DataValidationError

__all__ = ["DATA_KEYS", "FRONTIER_KEYS", "read_experiment"]

MSG_NOT_FOUND = "Experiment file {path} does not exist. Check the path (relative to {cwd})."
MSG_BAD_TOML = "Experiment file {path} is not valid TOML: {reason}."
MSG_UNKNOWN_TABLES = (
    "Experiment file {path} has unknown table(s) {names}.{hint} Use [data] and [frontier]."
)
MSG_UNKNOWN_KEYS = (
    "Experiment file {path} has unknown key(s) in [{table}]: {names}.{hint} Known keys: {known}."
)
MSG_MISSING_KEY = "Experiment file {path} needs {key!r} in [{table}] (e.g. {example})."
MSG_NOT_A_TABLE = "In experiment file {path}, [{table}] must be a table of keys."
MSG_BAD_TYPE = "In experiment file {path}, [{table}] {key} must be {expected}. Got {value!r}."


def _str(v: Any) -> bool:
    return isinstance(v, str)


def _names(v: Any) -> bool:
    return isinstance(v, str) or (isinstance(v, list) and all(isinstance(x, str) for x in v))


def _int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _sweep(v: Any) -> bool:
    return isinstance(v, str) or isinstance(v, Mapping)


_Rule = tuple[Callable[[Any], bool], str]

#: Keys of the [data] table, with their check and the expected type in words.
DATA_KEYS: dict[str, _Rule] = {
    "path": (_str, "a file path (str)"),
    "target": (_str, "a column name (str)"),
    "groups": (_names, "a column name or a list of them"),
    "drop": (_names, "a column name or a list of them"),
    "features": (_names, "a column name or a list of them"),
    "sep": (_str, "a delimiter (str)"),
    "id_column": (_str, "a column name (str)"),
    "task": (_str, "'auto', 'classification' or 'regression'"),
    "categorical": (_names, "a column name or a list of them"),
    "encoding": (_str, "a text encoding (str), e.g. 'latin-1'"),
    "on_missing_target": (lambda v: v in ("drop", "error"), "'drop' or 'error'"),
}
#: Keys of the [frontier] table.
FRONTIER_KEYS: dict[str, _Rule] = {
    "sweep": (_sweep, "a knob name, 'knob=v1,v2' or a table {knob = [values]}"),
    "points": (_int, "an integer"),
    "objective": (_str, "an objective name (str)"),
    "sharing": (_str, "a sharing scheme name (str)"),
    "alpha": (_number, "a number"),
    "sharing_strength": (_number, "a number"),
    "baselines": (_names, "a list of baseline names"),
    "policy": (_str, "a policy (str), e.g. 'accuracy_within:0.01'"),
    "seed": (_int, "an integer"),
    "output": (_str, "a file path (str)"),
    "n_jobs": (_int, "an integer"),
    "scheduler": (_str, "a Dask scheduler address (str)"),
    "n_boot": (_int, "an integer"),
    "val_size": (_number, "a number in [0, 1)"),
    "test_size": (_number, "a number in [0, 1)"),
}
_TABLES = {"data": DATA_KEYS, "frontier": FRONTIER_KEYS}


def _as_tuple(value: str | list[str] | None) -> tuple[str, ...]:
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else tuple(value)


def _check_table(path: Path, name: str, table: Any) -> dict[str, Any]:
    if not isinstance(table, Mapping):
        raise DataValidationError(MSG_NOT_A_TABLE.format(path=path, table=name))
    rules = _TABLES[name]
    unknown = [k for k in table if k not in rules]
    if unknown:
        raise DataValidationError(
            MSG_UNKNOWN_KEYS.format(
                path=path,
                table=name,
                names=", ".join(map(repr, unknown)),
                hint=did_you_mean(unknown[0], rules),
                known=", ".join(rules),
            )
        )
    for key, value in table.items():
        check, expected = rules[key]
        if not check(value):
            raise DataValidationError(
                MSG_BAD_TYPE.format(path=path, table=name, key=key, expected=expected, value=value)
            )
    return dict(table)


def _require(path: Path, table: Mapping[str, Any], name: str, key: str, example: str) -> Any:
    if key not in table:
        raise DataValidationError(
            MSG_MISSING_KEY.format(path=path, key=key, table=name, example=example)
        )
    return table[key]


def read_experiment(path: str | os.PathLike[str]) -> tuple[FrontierConfig, str]:
    """Read an experiment file into a :class:`FrontierConfig`.

    Relative paths (``data.path``, ``frontier.output``) are taken from the file's folder,
    so that an experiment runs the same from anywhere.

    Parameters
    ----------
    path : str or path-like
        The TOML file.

    Returns
    -------
    config : FrontierConfig
    text : str
        The file's text, to record in the results.

    Raises
    ------
    DataValidationError
        For a missing file, invalid TOML, unknown tables or keys (named, with the closest
        known key), a value of the wrong type, or a missing required key.
    """
    path = Path(path)
    if not path.is_file():
        raise DataValidationError(MSG_NOT_FOUND.format(path=path, cwd=Path.cwd()))
    text = path.read_text(encoding="utf-8")
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise DataValidationError(MSG_BAD_TOML.format(path=path, reason=e)) from e
    unknown = [k for k in document if k not in _TABLES]
    if unknown:
        raise DataValidationError(
            MSG_UNKNOWN_TABLES.format(
                path=path,
                names=", ".join(map(repr, unknown)),
                hint=did_you_mean(unknown[0], _TABLES),
            )
        )
    data = _check_table(path, "data", document.get("data", {}))
    frontier = _check_table(path, "frontier", document.get("frontier", {}))
    folder = path.parent
    data_path = folder / _require(path, data, "data", "path", 'path = "visits.csv"')
    target = _require(path, data, "data", "target", 'target = "readmitted"')
    groups = _as_tuple(_require(path, data, "data", "groups", 'groups = ["hospital"]'))
    output = folder / frontier.pop("output", f"reports/{path.stem}.html")
    if "baselines" in frontier:
        frontier["baselines"] = _as_tuple(frontier["baselines"]) or ("none",)
    config = FrontierConfig(
        data=data_path,
        target=target,
        groups=groups,
        output=output,
        features=_as_tuple(data.get("features")),
        drop=_as_tuple(data.get("drop")),
        sep=data.get("sep"),
        id_column=data.get("id_column"),
        task=data.get("task", "auto"),
        categorical=_as_tuple(data.get("categorical")),
        encoding=data.get("encoding", "utf-8"),
        on_missing_target=data.get("on_missing_target", "drop"),
        **frontier,
    )
    return config, text
