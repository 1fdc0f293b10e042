"""Saving and loading fitted models safely, with the schema of the data they expect.

A model file is a skops archive (:mod:`skops.io`): a zip of JSON and ``.npy`` files, never
a pickle. It holds a small dict: the fitted model, the :class:`~fairmtl.data.Schema` of its
training data (target, group columns, feature columns and their kinds), the fairmtl
version that wrote it and free-form metadata::

    save_model(pipeline, "model.skops", schema=schema, metadata={"task": "classification"})
    model, schema, metadata = load_model("model.skops")
    check_schema(new_data, schema)

Loading first lists the types the file would create (:func:`skops.io.get_untrusted_types`,
which reads the file's JSON without building anything) and refuses the file, naming the
types, unless each one is trusted by skops by default (scikit-learn's estimators, numpy
arrays, Python containers) or on :data:`ALLOWED_TYPES` (fairmtl's own estimators and
helpers). A pickle, a damaged zip or a file that names anything else (``os.system``,
``builtins.eval``) is refused before any of its content runs.

pandas objects cannot be stored in a skops file; fitted attributes that are pandas
Series or DataFrames (``group_losses_``, ``group_sizes_``) are stored as plain arrays
(:class:`PandasState`) and rebuilt on load.
"""

from __future__ import annotations

import copy
import io
import json
import os
import warnings
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fairmtl._archive import MSG_CORRUPT, check_model_archive
from fairmtl._fitted_state import as_array, plain, typed, walk
from fairmtl.data import Schema, atomic_write_bytes
from fairmtl.exceptions import DataValidationError, DataWarning

__all__ = [
    "ALLOWED_TYPES",
    "MODEL_FORMAT",
    "PandasState",
    "check_schema",
    "load_model",
    "save_model",
]

#: The ``format`` entry of every model file fairmtl writes.
MODEL_FORMAT = "fairmtl-model"
#: The layout version of the model file; bumped when the layout changes.
FORMAT_VERSION = 1
#: The only types, beyond those skops trusts by default (scikit-learn's estimators,
#: numpy arrays, Python containers), that a model file may create. Each is named in
#: full, as :func:`skops.io.get_untrusted_types` lists it; anything else is refused.
ALLOWED_TYPES: frozenset[str] = frozenset(
    {
        "fairmtl.estimators._classifier.FairMTLClassifier",
        "fairmtl.estimators._regressor.FairMTLRegressor",
        "fairmtl.estimators._mlp.FairMTLMLPClassifier",
        "fairmtl.estimators._mlp.FairMTLMLPRegressor",
        "fairmtl.data._groups.GroupEncoder",
        "fairmtl.data._preprocess.ColumnValidator",
        "fairmtl.persistence.PandasState",
        "numpy.dtype",
    }
)
_ZIP_MAGIC = b"PK\x03\x04"
_PICKLE_MAGIC = b"\x80"

MSG_MODEL_NOT_FOUND = "Model file {path} does not exist. Check the path (relative to {cwd})."
MSG_MODEL_IS_DIR = "Model path {path} is a directory, not a model file."
MSG_PICKLE_REFUSED = (
    "Model file {path} is a pickle, not a skops file. fairmtl never loads pickles: "
    "unpickling can run any code. Save the model with fairmtl.persistence.save_model "
    "(or `fairmtl fit ... -o model.skops`)."
)
MSG_NOT_SKOPS = (
    "Model file {path} is not a skops model file (it is not a zip archive). Give the file "
    "written by `fairmtl fit -o model.skops` or fairmtl.persistence.save_model."
)
MSG_UNTRUSTED = (
    "Model file {path} refused: it would create objects of types that a fairmtl model "
    "never needs: {types}. Nothing from the file was run. Only load model files from a "
    "source you trust, and save them with fairmtl.persistence.save_model."
)
MSG_NOT_A_FAIRMTL_MODEL = (
    "Model file {path} is a skops file but not a fairmtl model file ({reason}). Save the "
    "model with fairmtl.persistence.save_model."
)
MSG_NEWER_FORMAT = (
    "Model file {path} has format version {version}, newer than this fairmtl ({ours}) "
    "reads. Upgrade fairmtl (pip install -U fairmtl)."
)
MSG_OTHER_VERSION = (
    "Model file {path} was written by fairmtl {saved}; this is fairmtl {current}. "
    "Predictions may differ; refit the model with this version if they matter."
)
MSG_SCHEMA_NOT_RESOLVED = (
    "save_model needs a resolved schema, with the feature columns and their kinds: "
    "pass Schema(...).resolve(training_data)."
)
MSG_SCHEMA_TYPE = "schema must be a fairmtl.data.Schema or its to_dict(). Got {type}."
MSG_METADATA_NOT_JSON = (
    "metadata must be a dict of JSON values (str, numbers, lists, dicts): {reason}."
)
MSG_UNSAVABLE_TYPES = (
    "This model holds objects of types that fairmtl will not load back from a file: "
    "{types}. Save a model made of fairmtl and scikit-learn estimators."
)
MSG_EXTRA_COLUMNS = (
    "The data has column(s) {columns} that the model does not use (it was trained on "
    "features {features}). Remove them, or allow extra columns."
)


class PandasState:
    """A pandas Series or DataFrame as plain arrays, for storage in a skops file.

    Parameters
    ----------
    obj : Series or DataFrame
        The object to store; :meth:`restore` rebuilds it.

    Attributes
    ----------
    columns : list of ndarray
        The values, one array per column (one for a Series); object arrays for text.
    dtypes : list of str
        The pandas dtype of each column.
    names : list
        The column names (``[name]`` for a Series).
    index : ndarray
    index_name : hashable
    is_frame : bool
    """

    def __init__(self, obj: pd.Series | pd.DataFrame) -> None:
        self.is_frame = isinstance(obj, pd.DataFrame)
        parts = [obj.iloc[:, i] for i in range(obj.shape[1])] if self.is_frame else [obj]
        self.names = [plain(c) for c in obj.columns] if self.is_frame else [plain(obj.name)]
        self.columns = [as_array(part) for part in parts]
        self.dtypes = [str(part.dtype) for part in parts]
        self.index = as_array(obj.index)
        self.index_name = plain(obj.index.name)

    def restore(self) -> pd.Series | pd.DataFrame:
        """Rebuild the pandas object.

        Returns
        -------
        obj : Series or DataFrame
        """
        index = pd.Index(self.index, name=self.index_name)
        parts = [typed(v, d) for v, d in zip(self.columns, self.dtypes, strict=True)]
        if not self.is_frame:
            return pd.Series(parts[0], index=index, name=self.names[0])
        frame = pd.DataFrame(dict(enumerate(parts)), index=index)
        return frame.set_axis(self.names, axis=1)


def _check_schema_arg(schema: Schema | Mapping[str, Any]) -> Schema:
    if isinstance(schema, Mapping):
        schema = Schema.from_dict(schema)
    if not isinstance(schema, Schema):
        raise DataValidationError(MSG_SCHEMA_TYPE.format(type=type(schema).__name__))
    if not schema.is_resolved:
        raise DataValidationError(MSG_SCHEMA_NOT_RESOLVED)
    return schema


def _json_metadata(metadata: Mapping[str, Any] | None) -> dict[str, Any]:
    if metadata is None:
        return {}
    try:
        text = json.dumps(dict(metadata), default=_json_default, allow_nan=True)
    except (TypeError, ValueError) as e:
        raise DataValidationError(MSG_METADATA_NOT_JSON.format(reason=e)) from e
    return json.loads(text)


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _to_state(value: Any) -> Any:
    return PandasState(value) if isinstance(value, pd.Series | pd.DataFrame) else value


def _from_state(value: Any) -> Any:
    return value.restore() if isinstance(value, PandasState) else value


def save_model(
    model: Any,
    path: str | os.PathLike[str],
    *,
    schema: Schema | Mapping[str, Any],
    force: bool = False,
    metadata: Mapping[str, Any] | None = None,
) -> Path:
    """Save a fitted model with its schema to a skops file, atomically.

    Parameters
    ----------
    model : estimator
        A fitted fairmtl estimator or a Pipeline around one. It is not modified (a copy
        is converted for storage).
    path : str or path-like
        The file to write (``.skops`` by convention); parent folders are created.
    schema : Schema or dict
        The resolved schema of the training data (see :meth:`Schema.resolve`).
    force : bool, default=False
        Overwrite an existing file.
    metadata : dict or None, default=None
        JSON-able facts to keep with the model (task, source file, metrics).

    Returns
    -------
    path : Path
        The file written.

    Raises
    ------
    FileExistsNoForceError
        When ``path`` exists and ``force`` is False.
    DataValidationError
        For an unresolved schema, metadata that is not JSON-able, or a model holding
        types :func:`load_model` would refuse (nothing is written then).
    """
    import skops.io as sio

    schema = _check_schema_arg(schema)
    from fairmtl import __version__

    # The model is copied because its pandas attributes are swapped for PandasState.
    stored = walk(copy.deepcopy(model), _to_state, set())
    payload = {
        "format": MODEL_FORMAT,
        "format_version": FORMAT_VERSION,
        "fairmtl_version": __version__,
        "schema": schema.to_dict(),
        "metadata": _json_metadata(metadata),
        "model": stored,
    }
    data = sio.dumps(payload, compression=zipfile.ZIP_DEFLATED)
    refused = sorted(set(sio.get_untrusted_types(data=data)) - ALLOWED_TYPES)
    if refused:
        raise DataValidationError(MSG_UNSAVABLE_TYPES.format(types=", ".join(refused)))
    return atomic_write_bytes(path, data, force=force)


def _read_checked(path: Path) -> bytes:
    if not path.exists():
        raise DataValidationError(MSG_MODEL_NOT_FOUND.format(path=path, cwd=Path.cwd()))
    if path.is_dir():
        raise DataValidationError(MSG_MODEL_IS_DIR.format(path=path))
    data = path.read_bytes()
    if data.startswith(_PICKLE_MAGIC):
        raise DataValidationError(MSG_PICKLE_REFUSED.format(path=path))
    if not data.startswith(_ZIP_MAGIC) or not zipfile.is_zipfile(io.BytesIO(data)):
        raise DataValidationError(MSG_NOT_SKOPS.format(path=path))
    return data


def load_model(
    path: str | os.PathLike[str], *, max_bytes: int | None = None
) -> tuple[Any, Schema, dict[str, Any]]:
    """Load a model file written by :func:`save_model`, refusing anything unsafe.

    The file's type list is checked against :data:`ALLOWED_TYPES` before anything is
    built: a file that names any other type, a pickle and a damaged file are refused
    without running any of their content. So is a file that would take too much memory
    once unpacked: its unpacked size, and the shape of each array against the number of
    features, groups and classes the model declares, are checked from the archive's
    directory and the arrays' headers alone (see :mod:`fairmtl._archive`).

    Parameters
    ----------
    path : str or path-like
        The model file.
    max_bytes : int or None, default=None
        The largest unpacked size accepted; None means 256 MiB
        (:data:`fairmtl._archive.DEFAULT_MAX_MODEL_BYTES`).

    Returns
    -------
    model : estimator
        The fitted model.
    schema : Schema
        The schema of its training data.
    metadata : dict
        The metadata saved with it, plus ``fairmtl_version`` (the version that wrote it).

    Raises
    ------
    DataValidationError
        For a missing file, a pickle, a file that is not a skops zip or is damaged, one
        that names types outside the allow-list (:data:`MSG_UNTRUSTED`), one too large
        once unpacked or with arrays larger than its model can need, or a skops file
        that is not a fairmtl model file.

    Examples
    --------
    >>> model, schema, metadata = load_model("model.skops")  # doctest: +SKIP
    """
    import skops.io as sio

    path = Path(path)
    data = _read_checked(path)
    check_model_archive(data, path, max_bytes=max_bytes)
    try:
        found = sio.get_untrusted_types(data=data)
    except Exception as e:  # any failure to read the archive's JSON: the file is damaged
        reason = f"{type(e).__name__}: {e}".strip()
        raise DataValidationError(MSG_CORRUPT.format(path=path, reason=reason)) from e
    refused = sorted(set(found) - ALLOWED_TYPES)
    if refused:
        raise DataValidationError(MSG_UNTRUSTED.format(path=path, types=", ".join(refused)))
    try:
        payload = sio.loads(data, trusted=sorted(found))
    except Exception as e:  # a file that passed the audit but cannot be built
        reason = f"{type(e).__name__}: {e}".strip()
        raise DataValidationError(MSG_CORRUPT.format(path=path, reason=reason)) from e
    return _unpack(payload, path)


def _unpack(payload: Any, path: Path) -> tuple[Any, Schema, dict[str, Any]]:
    if not isinstance(payload, dict) or payload.get("format") != MODEL_FORMAT:
        reason = "no 'format' entry" if isinstance(payload, dict) else type(payload).__name__
        raise DataValidationError(MSG_NOT_A_FAIRMTL_MODEL.format(path=path, reason=reason))
    missing = [k for k in ("model", "schema", "format_version") if k not in payload]
    if missing:
        reason = f"missing {', '.join(missing)}"
        raise DataValidationError(MSG_NOT_A_FAIRMTL_MODEL.format(path=path, reason=reason))
    version = payload["format_version"]
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise DataValidationError(
            MSG_NEWER_FORMAT.format(path=path, version=version, ours=FORMAT_VERSION)
        )
    from fairmtl import __version__

    saved = payload.get("fairmtl_version")
    if saved != __version__:
        warnings.warn(
            MSG_OTHER_VERSION.format(path=path, saved=saved, current=__version__),
            DataWarning,
            stacklevel=3,
        )
    schema = Schema.from_dict(payload["schema"])
    metadata = dict(payload.get("metadata") or {})
    metadata["fairmtl_version"] = saved
    model = walk(payload["model"], _from_state, set())
    return model, schema, metadata


def check_schema(
    df: pd.DataFrame,
    schema: Schema,
    *,
    require_target: bool = False,
    allow_extra: bool = True,
) -> list[str]:
    """Check that new data matches the schema a model was trained with.

    Parameters
    ----------
    df : DataFrame
        The new data.
    schema : Schema
        The resolved schema saved with the model.
    require_target : bool, default=False
        Also require the target column (to evaluate).
    allow_extra : bool, default=True
        Accept columns the model does not use (they are ignored); when False they are
        refused, named in the message.

    Returns
    -------
    extra : list of str
        The columns of ``df`` the model does not use, in table order.

    Raises
    ------
    DataValidationError
        For a missing feature or group column (named, with the closest available name),
        a feature numeric in training that is not numeric now, or extra columns with
        ``allow_extra=False``.

    Examples
    --------
    >>> import pandas as pd
    >>> from fairmtl.data import Schema
    >>> train = pd.DataFrame({"age": [30, 40], "site": ["a", "b"], "y": [0, 1]})
    >>> schema = Schema(target="y", groups="site").resolve(train)
    >>> check_schema(pd.DataFrame({"age": [1], "site": ["a"], "note": ["x"]}), schema)
    ['note']
    """
    schema.check_frame(df, require_target=require_target)
    used = {schema.target, *schema.groups, *(schema.features or ()), *schema.drop}
    used |= {c for c in (schema.id_column, schema.weight_column) if c is not None}
    extra = [str(c) for c in df.columns if c not in used]
    if extra and not allow_extra:
        features = ", ".join(repr(f) for f in schema.features or ())
        raise DataValidationError(
            MSG_EXTRA_COLUMNS.format(columns=", ".join(map(repr, extra)), features=features)
        )
    return extra
