"""Memory limits for model files, checked before anything in the file is built.

A skops model file is a zip archive of JSON and ``.npy`` arrays. Its size on disk says
little about the memory it takes once unpacked: a 1.5 MB file can hold a 1.5 GB array
of zeros, or a JSON document padded with a gigabyte of spaces. Before :mod:`skops.io`
reads anything, :func:`check_model_archive` reads only the archive's directory and the
header of each array, and refuses the file when

- the unpacked content is larger than a limit (:data:`DEFAULT_MAX_MODEL_BYTES`), or its
  JSON part larger than :data:`MAX_SCHEMA_BYTES`;
- an array's header declares a shape that its data does not fill (a shape of 10^12
  rows over a few bytes), or an array of Python objects;
- an array is larger than the model that holds it can need, given the number of input
  features, groups and classes the file declares.
"""

from __future__ import annotations

import io
import json
import math
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from fairmtl.exceptions import DataValidationError

MSG_CORRUPT = (
    "Model file {path} is damaged or was not written by skops ({reason}). Save the model "
    "again with fairmtl.persistence.save_model."
)

__all__ = ["DEFAULT_MAX_MODEL_BYTES", "MAX_SCHEMA_BYTES", "check_model_archive"]

#: Model files whose unpacked content is larger than this (256 MiB) are refused by
#: default (``load_model(..., max_bytes=...)`` raises it).
DEFAULT_MAX_MODEL_BYTES = 256 * 1024**2
#: The JSON part of a model file (its object tree) may not be larger than this.
MAX_SCHEMA_BYTES = 32 * 1024**2
#: Arrays up to this many values are always accepted (per-group scores, histories).
MIN_ARRAY_CAP = 2**20
#: How many values a model may hold per (feature + 2) x (group + 2) x class.
_VALUES_PER_CELL = 8
_ESTIMATORS = (
    "FairMTLClassifier",
    "FairMTLRegressor",
    "FairMTLMLPClassifier",
    "FairMTLMLPRegressor",
)

MSG_MODEL_TOO_LARGE = (
    "Model file {path} would take {size} of memory once unpacked, more than the limit of "
    "{limit}; nothing was loaded. A fairmtl model rarely takes more than a few MiB: the "
    "file may be damaged or crafted. If you trust it, raise the limit "
    "(fairmtl.persistence.load_model(path, max_bytes=...))."
)
MSG_SCHEMA_TOO_LARGE = (
    "Model file {path} refused: its object tree (schema.json) is {size}, more than the "
    "limit of {limit}; nothing was loaded. The file may be damaged or crafted."
)
MSG_ARRAY_MISMATCH = (
    "Model file {path} refused: array {name} declares shape {shape} of {dtype} "
    "({declared} bytes) but holds {actual} bytes; nothing was loaded. The file is "
    "damaged or crafted."
)
MSG_ARRAY_OBJECTS = (
    "Model file {path} refused: array {name} holds Python objects, which a fairmtl model "
    "never stores in an array file; nothing was loaded."
)
MSG_ARRAY_TOO_BIG = (
    "Model file {path} refused: array {name} has shape {shape} ({values:,} values), more "
    "than a model with {features} input features, {groups} groups and {classes} classes "
    "can need (at most {cap:,}); nothing was loaded. The file is damaged or crafted."
)


def _size(n_bytes: int) -> str:
    if n_bytes < 1024**2:
        return f"{n_bytes:,} bytes"
    if n_bytes < 1024**3:
        return f"{n_bytes / 1024**2:.1f} MiB"
    return f"{n_bytes / 1024**3:.1f} GiB"


def _array_header(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> tuple[tuple, np.dtype, int]:
    """The shape, dtype and header length of a ``.npy`` member, reading its header only."""
    with archive.open(info) as handle:
        version = np.lib.format.read_magic(handle)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(handle)
        else:
            shape, _, dtype = np.lib.format.read_array_header_2_0(handle)
        return tuple(shape), dtype, handle.tell()


def _array_shapes(path: Path, archive: zipfile.ZipFile) -> dict[str, tuple]:
    shapes = {}
    for info in archive.infolist():
        if not info.filename.endswith(".npy"):
            continue
        try:
            shape, dtype, header = _array_header(archive, info)
        except (ValueError, OSError, EOFError, zipfile.BadZipFile) as e:
            reason = f"array {info.filename}: {e}"
            raise DataValidationError(_corrupt(path, reason)) from e
        if dtype.hasobject:
            raise DataValidationError(MSG_ARRAY_OBJECTS.format(path=path, name=info.filename))
        declared = math.prod(shape) * dtype.itemsize
        if header + declared != info.file_size:
            raise DataValidationError(
                MSG_ARRAY_MISMATCH.format(
                    path=path,
                    name=info.filename,
                    shape=shape,
                    dtype=dtype,
                    declared=f"{declared:,}",
                    actual=f"{info.file_size - header:,}",
                )
            )
        shapes[info.filename] = shape
    return shapes


def _corrupt(path: Path, reason: str) -> str:
    return MSG_CORRUPT.format(path=path, reason=reason)


def _nodes(tree: Any) -> Iterator[dict[str, Any]]:
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            yield node
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)


def _length(node: Any, shapes: dict[str, tuple]) -> int | None:
    """The length of an array or list node of the object tree, if it says."""
    if not isinstance(node, dict):
        return None
    if isinstance(node.get("content"), list):
        return len(node["content"])
    shape = shapes.get(str(node.get("file")))
    return shape[0] if shape else None


def _integer(node: Any) -> int | None:
    try:
        value = json.loads(node["content"])
    except (TypeError, KeyError, ValueError):
        return None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _declared(tree: Any, shapes: dict[str, tuple]) -> tuple[int, int, int] | None:
    """The largest (features, groups, classes) that the file's estimators declare."""
    found = None
    for node in _nodes(tree):
        if node.get("__class__") not in _ESTIMATORS or not isinstance(node.get("content"), dict):
            continue
        state = node["content"].get("content", node["content"])
        if not isinstance(state, dict):
            continue
        features = _integer(state.get("n_features_in_"))
        groups = _length(state.get("groups_"), shapes)
        classes = _length(state.get("classes_"), shapes) or 1
        if features is None or groups is None:
            continue
        sizes = (features, groups, classes)
        found = sizes if found is None else tuple(map(max, found, sizes))
    return found


def check_model_archive(data: bytes, path: Path, *, max_bytes: int | None = None) -> None:
    """Refuse a model file whose content would take too much memory, before building it.

    Parameters
    ----------
    data : bytes
        The file's content (a zip archive).
    path : Path
        The file, for messages.
    max_bytes : int or None, default=None
        The largest unpacked size accepted; None means :data:`DEFAULT_MAX_MODEL_BYTES`.

    Raises
    ------
    DataValidationError
        When the file is too large unpacked (:data:`MSG_MODEL_TOO_LARGE`), its JSON part
        too large, or an array inconsistent with its header or with the model's declared
        features, groups and classes (:data:`MSG_ARRAY_TOO_BIG`).
    """
    limit = DEFAULT_MAX_MODEL_BYTES if max_bytes is None else max_bytes
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError, OSError) as e:
        raise DataValidationError(_corrupt(path, f"{type(e).__name__}: {e}")) from e
    with archive:
        infos = archive.infolist()
        total = sum(info.file_size for info in infos)
        if total > limit:
            raise DataValidationError(
                MSG_MODEL_TOO_LARGE.format(path=path, size=_size(total), limit=_size(limit))
            )
        schema = next((i for i in infos if i.filename == "schema.json"), None)
        if schema is not None and schema.file_size > MAX_SCHEMA_BYTES:
            raise DataValidationError(
                MSG_SCHEMA_TOO_LARGE.format(
                    path=path, size=_size(schema.file_size), limit=_size(MAX_SCHEMA_BYTES)
                )
            )
        shapes = _array_shapes(path, archive)
        if schema is None or not shapes:
            return
        try:
            tree = json.loads(archive.read(schema))
        except (ValueError, zipfile.BadZipFile) as e:
            raise DataValidationError(_corrupt(path, f"schema.json: {e}")) from e
    _check_against_model(path, tree, shapes)


def _check_against_model(path: Path, tree: Any, shapes: dict[str, tuple]) -> None:
    declared = _declared(tree, shapes)
    if declared is None:
        return
    features, groups, classes = declared
    cap = max(MIN_ARRAY_CAP, _VALUES_PER_CELL * (features + 2) * (groups + 2) * max(classes, 2))
    for name, shape in shapes.items():
        values = math.prod(shape)
        if values > cap:
            raise DataValidationError(
                MSG_ARRAY_TOO_BIG.format(
                    path=path,
                    name=name,
                    shape=shape,
                    values=values,
                    features=features,
                    groups=groups,
                    classes=classes,
                    cap=cap,
                )
            )
