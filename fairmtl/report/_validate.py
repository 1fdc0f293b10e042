"""Checking a results dict (or a transfer summary) against the format the report reads.

The TypedDicts of :mod:`fairmtl.report._schema` are the one statement of the format: the
checks walk them, and name the first missing or bad key by its path
(``models[3].scores.overall_accuracy``). What types cannot say (unique ids, references
between keys, a square matrix) is checked after.
"""

# No `from __future__ import annotations`: the checks read the TypedDicts' evaluated
# annotations at run time, and this module's own need no postponing.
import functools
import numbers
from collections.abc import Mapping
from types import UnionType
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints, is_typeddict

from fairmtl.exceptions import DataValidationError
from fairmtl.report._schema import SCHEMA_VERSION, TRANSFER_VERSION, Results, TransferSummary

__all__ = ["validate_results", "validate_transfer"]

MSG_NOT_A_DICT = "The results must be a dict (a JSON object); got {got}."
MSG_MISSING_KEY = (
    "The results lack the key {path!r}. Create them with FrontierSearch, or re-save "
    "them with this version of fairmtl."
)
MSG_BAD_VALUE = "The results key {path!r} must be {expected}; got {got}."
MSG_SCHEMA_VERSION = (
    "The results have schema_version {got!r}, but this fairmtl reads version {expected}. "
    "Re-create them with this version of fairmtl."
)
MSG_UNKNOWN_REF = "The results key {path!r} names {kind} {value!r}, which is not in {where}."
MSG_DUPLICATE = "The results key {path!r} repeats {kind} {value!r}; each must be unique."
MSG_EMPTY = "The results key {path!r} is empty; a report needs at least one {kind}."
MSG_TRANSFER_VERSION = (
    "The transfer summary has version {got!r}, but this fairmtl reads version {expected}. "
    "Re-create it with fairmtl.transfer.transfer_summary (or fairmtl transfer)."
)
MSG_TRANSFER_SHAPE = (
    "The results key {path!r} must be a square matrix with one row and one column per "
    "label ({n}); got {got}."
)

_WORDS = {str: "a string", int: "an integer", float: "a number", bool: "true or false"}


def _describe(value: Any) -> str:
    text = repr(value)
    text = text if len(text) <= 40 else text[:37] + "..."
    return f"{type(value).__name__} {text}"


def _expected(tp: Any) -> str:
    """How a type reads in an error message."""
    origin = get_origin(tp)
    if tp is type(None):
        return "null"
    if tp in _WORDS:
        return _WORDS[tp]
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in get_args(tp))
    if origin in (Union, UnionType):
        return " or ".join(_expected(a) for a in get_args(tp))
    if origin is list:
        return "a list"
    return "a dict (JSON object)"


def _is_scalar_of(value: Any, tp: Any) -> bool:
    if tp is type(None):
        return value is None
    if tp is bool:
        return isinstance(value, bool)
    if tp is int:
        return isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if tp is float:  # an int is a fine float; NaN means "no value"
        return isinstance(value, numbers.Real) and not isinstance(value, bool)
    return isinstance(value, tp)


def _check(value: Any, tp: Any, path: str) -> None:
    """Check `value` against the type `tp`, naming `path` in the error."""
    origin, args = get_origin(tp), get_args(tp)
    if tp is Any:
        return
    if is_typeddict(tp):
        if not isinstance(value, Mapping):
            raise _bad(path, _expected(tp), value)
        hints = _hints(tp)
        prefix = f"{path}." if path else ""
        for key, sub in hints.items():
            if key in value:
                _check(value[key], sub, prefix + key)
            elif key in tp.__required_keys__:
                raise DataValidationError(MSG_MISSING_KEY.format(path=prefix + key))
    elif origin in (Union, UnionType):
        if value is None and type(None) in args:
            return
        options = [a for a in args if a is not type(None)]
        if len(options) == 1:  # X | None: check against X, for a precise message
            _check(value, options[0], path)
        elif not any(_is_scalar_of(value, a) for a in options):
            raise _bad(path, _expected(tp), value)
    elif origin is Literal:
        if not isinstance(value, str) or value not in args:
            raise _bad(path, _expected(tp), value)
    elif origin is list:
        if not isinstance(value, list | tuple):
            raise _bad(path, "a list", value)
        for i, item in enumerate(value):
            _check(item, args[0], f"{path}[{i}]")
    elif origin is dict:
        if not isinstance(value, Mapping):
            raise _bad(path, "a dict (JSON object)", value)
        for key, item in value.items():
            if not isinstance(key, str):
                raise _bad(f"{path} key", "a string", key)
            _check(item, args[1], f"{path}.{key}")
    elif not _is_scalar_of(value, tp):
        raise _bad(path, _expected(tp), value)


def _bad(path: str, expected: str, value: Any) -> DataValidationError:
    return DataValidationError(
        MSG_BAD_VALUE.format(path=path, expected=expected, got=_describe(value))
    )


@functools.cache
def _hints(typed_dict: type) -> dict[str, Any]:
    return get_type_hints(typed_dict)


def _check_references(results: Mapping[str, Any]) -> None:
    """Check what the types cannot: unique ids and names, and references between keys."""
    if not results["models"]:
        raise DataValidationError(MSG_EMPTY.format(path="models", kind="model"))
    if not results["criteria"]:
        raise DataValidationError(MSG_EMPTY.format(path="criteria", kind="criterion"))

    def unique(items: list[Any], key: str, path: str, kind: str) -> set[str]:
        seen: set[str] = set()
        for i, item in enumerate(items):
            if item[key] in seen:
                raise DataValidationError(
                    MSG_DUPLICATE.format(path=f"{path}[{i}].{key}", kind=kind, value=item[key])
                )
            seen.add(item[key])
        return seen

    criteria = unique(results["criteria"], "name", "criteria", "criterion")
    model_ids = unique(results["models"], "id", "models", "model id")
    group_names = unique(results["groups"], "name", "groups", "group")

    def known(value: Any, names: set[str], path: str, kind: str, where: str) -> None:
        if value is not None and value not in names:
            raise DataValidationError(
                MSG_UNKNOWN_REF.format(path=path, kind=kind, value=value, where=where)
            )

    for key in ("x_criterion", "y_criterion"):
        known(results[key], criteria, key, "criterion", "'criteria'")
    for key in ("chosen", "most_accurate", "pooled"):
        known(results[key], model_ids, key, "model", "'models'")
    for i, row in enumerate(results["per_group"]):
        known(row["model"], model_ids, f"per_group[{i}].model", "model", "'models'")
        known(row["group"], group_names, f"per_group[{i}].group", "group", "'groups'")


def _check_transfer_references(summary: Mapping[str, Any], path: str) -> None:
    """What the types of a transfer summary cannot say: unique groups, a square matrix."""
    if summary["version"] != TRANSFER_VERSION:
        raise DataValidationError(
            MSG_TRANSFER_VERSION.format(got=summary["version"], expected=TRANSFER_VERSION)
        )
    prefix = f"{path}." if path else ""
    if not summary["groups"]:
        raise DataValidationError(MSG_EMPTY.format(path=prefix + "groups", kind="group"))
    names: set[str] = set()
    for i, row in enumerate(summary["groups"]):
        if row["group"] in names:
            raise DataValidationError(
                MSG_DUPLICATE.format(
                    path=f"{prefix}groups[{i}].group", kind="group", value=row["group"]
                )
            )
        names.add(row["group"])
    schemes = set(summary["schemes"])
    if summary["reference"] not in schemes:
        raise DataValidationError(
            MSG_UNKNOWN_REF.format(
                path=prefix + "reference",
                kind="scheme",
                value=summary["reference"],
                where=f"'{prefix}schemes'",
            )
        )
    affinity = summary["affinity"]
    labels = list(affinity["labels"])
    for i, label in enumerate(labels):
        if label not in names:
            raise DataValidationError(
                MSG_UNKNOWN_REF.format(
                    path=f"{prefix}affinity.labels[{i}]",
                    kind="group",
                    value=label,
                    where=f"'{prefix}groups'",
                )
            )
    if len(set(labels)) != len(labels):
        raise DataValidationError(
            MSG_DUPLICATE.format(path=f"{prefix}affinity.labels", kind="group", value=labels)
        )
    matrix = affinity["matrix"]
    shape = [len(row) for row in matrix]
    if len(matrix) != len(labels) or any(n != len(labels) for n in shape):
        got = f"{len(matrix)} rows of lengths {sorted(set(shape))}"
        raise DataValidationError(
            MSG_TRANSFER_SHAPE.format(path=f"{prefix}affinity.matrix", n=len(labels), got=got)
        )


def validate_transfer(summary: Any, path: str = "transfer") -> None:
    """Check that a transfer summary follows the schema the report reads.

    Parameters
    ----------
    summary : dict
        The output of :func:`fairmtl.transfer.transfer_summary` (see
        :class:`TransferSummary`), or the same loaded from JSON.
    path : str, default="transfer"
        How error messages name the summary (``transfer.groups[2].gain``); ``""`` for a
        summary on its own.

    Raises
    ------
    DataValidationError
        When a key is missing or has a bad value; the message names the key by its path.
    """
    if not isinstance(summary, Mapping):
        raise _bad(path or "summary", "a dict (JSON object)", summary)
    _check(summary, TransferSummary, path)
    _check_transfer_references(summary, path)


def validate_results(results: Any) -> None:
    """Check that a results dict follows the schema the report reads.

    Parameters
    ----------
    results : dict
        The results of a frontier search (see :class:`Results`).

    Raises
    ------
    DataValidationError
        When a key is missing or has a bad value; the message names the key by its
        path, e.g. ``models[3].scores.overall_accuracy``.

    Examples
    --------
    >>> from fairmtl.report import validate_results
    >>> validate_results({"schema_version": 1})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    fairmtl.exceptions.DataValidationError: The results lack the key 'title'. ...
    """
    if not isinstance(results, Mapping):
        raise DataValidationError(MSG_NOT_A_DICT.format(got=type(results).__name__))
    version = results.get("schema_version")
    if "schema_version" in results and version != SCHEMA_VERSION:
        raise DataValidationError(MSG_SCHEMA_VERSION.format(got=version, expected=SCHEMA_VERSION))
    _check(results, Results, "")
    _check_references(results)
    if results.get("transfer") is not None:
        _check_transfer_references(results["transfer"], "transfer")
