"""Experiment files: a frontier study as a reviewable, reproducible TOML file.

``fairmtl run experiment.toml`` takes the same options as ``fairmtl frontier``::

    [data]
    path = "visits.csv"            # relative to this file's folder
    target = "readmitted"
    groups = ["hospital"]          # a string or a list; several give intersections
    drop = ["patient_name"]        # optional
    # features = ["age", "los"]    # optional: default every other column
    # sep = ","                    # optional: sniffed by default
    # na_values = ["", "NA"]       # optional: the text read as missing
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

Unknown tables and keys are refused, naming them. Each value is checked by the rule of
the matching option of ``fairmtl frontier`` (``points`` as ``--points``: at least 1;
``objective`` as ``--objective``: one of its choices; ...), taken from the command's own
declaration, so that a file and a command line are refused for the same values. The file
must be UTF-8 (a byte-order mark is allowed). The text of the file is recorded in the
results so that the report shows exactly what was run.
"""

from __future__ import annotations

import functools
import os
import tomllib
import typing
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from fairmtl._suggest import did_you_mean
from fairmtl.cli._frontier import FrontierConfig
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
MSG_BAD_VALUE = (
    "In experiment file {path}, [{table}] {key} = {value!r} is refused: {reason} "
    "(the rule of {option})."
)
MSG_NOT_UTF8 = (
    "Experiment file {path} is not UTF-8 text (byte {byte} at position {position}). "
    "Save it as UTF-8, as TOML requires."
)
#: Keys whose option has another name on the command line.
_OPTION_NAMES = {"groups": "group"}
#: Keys checked by their own rule only: lists, or parsed by the frontier job itself.
_NOT_OPTIONS = {"path", "output", "groups", "drop", "features", "sweep", "baselines", "na_values"}


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


def _path(v: Any) -> bool:
    return isinstance(v, str) and bool(v.strip()) and not v.endswith(("/", "\\"))


def _fraction(v: Any) -> bool:
    return _number(v) and 0 <= v < 1


_Rule = tuple[Callable[[Any], bool], str]

#: Keys of the [data] table, with their check and the expected type in words.
DATA_KEYS: dict[str, _Rule] = {
    "path": (_path, "a file path (a non-empty str)"),
    "target": (_str, "a column name (str)"),
    "groups": (_names, "a column name or a list of them"),
    "drop": (_names, "a column name or a list of them"),
    "features": (_names, "a column name or a list of them"),
    "sep": (_str, "a delimiter (str)"),
    "na_values": (_names, "a text or a list of texts read as missing"),
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
    "output": (_path, "a file name (a non-empty str, not a folder)"),
    "n_jobs": (_int, "an integer"),
    "scheduler": (_str, "a Dask scheduler address (str)"),
    "n_boot": (_int, "an integer"),
    "val_size": (_fraction, "a number in [0, 1)"),
    "test_size": (_fraction, "a number in [0, 1)"),
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
        _check_like_option(path, name, key, value)
    return dict(table)


@functools.lru_cache(maxsize=1)
def _frontier_options() -> dict[str, Any]:
    """The click parameters of ``fairmtl frontier``, by name: the rules of its options."""
    import typer.main

    from fairmtl.cli._app import app

    command = typer.main.get_command(app).commands["frontier"]  # type: ignore[attr-defined]
    return {param.name: param for param in command.params}


def _choices(annotation: Any) -> tuple[Any, ...] | None:
    """The values of a ``Literal`` option type (also inside ``X | None``), else None."""
    if typing.get_origin(annotation) is typing.Literal:
        return typing.get_args(annotation)
    for arg in typing.get_args(annotation):
        if (found := _choices(arg)) is not None:
            return found
    return None


def _option_problem(param: Any, value: Any) -> str | None:
    """Why the option ``param`` would refuse ``value`` (its choices, its bounds), or None."""
    descriptor = getattr(param, "type_descriptor", None)
    choices = _choices(getattr(descriptor, "annotation", None))
    if choices is not None and value not in choices:
        return "it must be one of " + ", ".join(map(repr, choices))
    low, high = getattr(param, "min", None), getattr(param, "max", None)
    if low is not None and _number(value) and value < low:
        return f"it must be at least {low}"
    if high is not None and _number(value) and value > high:
        return f"it must be at most {high}"
    return None


def _check_like_option(path: Path, table: str, key: str, value: Any) -> None:
    """Refuse ``value`` when the matching option of ``fairmtl frontier`` would refuse it."""
    if key in _NOT_OPTIONS:
        return
    param = _frontier_options().get(_OPTION_NAMES.get(key, key))
    reason = None if param is None else _option_problem(param, value)
    if reason is not None:
        option = "/".join(getattr(param, "opts", ())) or key
        raise DataValidationError(
            MSG_BAD_VALUE.format(
                path=path, table=table, key=key, value=value, reason=reason, option=option
            )
        )


def _require(path: Path, table: Mapping[str, Any], name: str, key: str, example: str) -> Any:
    if key not in table:
        raise DataValidationError(
            MSG_MISSING_KEY.format(path=path, key=key, table=name, example=example)
        )
    return table[key]


def _read_text(path: Path) -> str:
    """The file's text: UTF-8, a leading byte-order mark dropped."""
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        byte = f"0x{raw[e.start]:02x}"
        raise DataValidationError(
            MSG_NOT_UTF8.format(path=path, byte=byte, position=e.start)
        ) from e


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
        For a missing file, a file that is not UTF-8, invalid TOML, unknown tables or keys
        (named, with the closest known key), a value of the wrong type or one the matching
        option of ``fairmtl frontier`` refuses, or a missing required key.
    """
    path = Path(path)
    if not path.is_file():
        raise DataValidationError(MSG_NOT_FOUND.format(path=path, cwd=Path.cwd()))
    text = _read_text(path)
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
        na_values=_as_tuple(data["na_values"]) if "na_values" in data else None,
        id_column=data.get("id_column"),
        task=data.get("task", "auto"),
        categorical=_as_tuple(data.get("categorical")),
        encoding=data.get("encoding", "utf-8"),
        on_missing_target=data.get("on_missing_target", "drop"),
        **frontier,
    )
    return config, text
