"""A fingerprint of a model's training rows, saved with it, to spot them later.

``fairmtl fit`` saves :func:`row_fingerprint` of its rows in the model's metadata;
``evaluate`` and ``predict`` warn (:func:`overlap_message`) when they are given rows the
model was fitted on, whose figures are optimistic.
"""

from __future__ import annotations

import base64
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "FINGERPRINT_ROWS",
    "MSG_TRAINING_OVERLAP",
    "overlap_message",
    "row_fingerprint",
    "training_overlap",
]

#: At most this many training rows are fingerprinted in a saved model (8 bytes each).
FINGERPRINT_ROWS = 20_000
MSG_TRAINING_OVERLAP = (
    "{count:,} of the {n:,} rows given ({share:.0%}) look like rows this model was "
    "fitted on (same features and group){approx}: figures on them are optimistic, not a "
    "test. Evaluate on rows kept out of fit, e.g. a test split."
)


def _row_hashes(frame: pd.DataFrame, columns: Any) -> np.ndarray:
    """One 64-bit hash per row of ``columns``, the same whatever file the rows came from:
    numbers as float64, everything else as text, missing values alike."""
    parts = {}
    for column in columns:
        values = frame[column]
        numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
        if numeric:
            parts[str(column)] = values.astype("float64").to_numpy()
        else:
            parts[str(column)] = (
                values.astype(object).where(values.notna(), "\x00").astype(str).to_numpy()
            )
    table = pd.DataFrame(parts, index=range(len(frame)))
    return pd.util.hash_pandas_object(table, index=False).to_numpy(dtype=np.uint64)


def row_fingerprint(frame: pd.DataFrame, columns: Any, *, seed: int = 0) -> dict[str, Any]:
    """A bounded fingerprint of the training rows, saved in the model's metadata.

    The hashes of at most :data:`FINGERPRINT_ROWS` rows (a random sample beyond that)
    of the model's input columns (features and groups, not the target), as one base64
    string: plain JSON, safe for skops, and about 8 bytes a row.

    Returns
    -------
    fingerprint : dict
        ``{"columns", "n_rows", "n_stored", "hashes"}``.
    """
    hashes = np.unique(_row_hashes(frame, columns))
    n_rows, n_unique = len(frame), int(hashes.size)
    if hashes.size > FINGERPRINT_ROWS:
        rng = np.random.default_rng(seed)
        hashes = np.sort(rng.choice(hashes, FINGERPRINT_ROWS, replace=False))
    return {
        "columns": [str(c) for c in columns],
        "n_rows": int(n_rows),
        "n_unique": n_unique,
        "n_stored": int(hashes.size),
        "hashes": base64.b64encode(hashes.astype("<u8").tobytes()).decode("ascii"),
    }


def training_overlap(fingerprint: dict[str, Any] | None, frame: pd.DataFrame) -> int | None:
    """How many rows of ``frame`` the model was (probably) fitted on.

    Exact when every training row was stored; otherwise the number found among the
    stored sample, scaled up by the sampling rate. None without a fingerprint (a model
    saved by an older fairmtl) or when ``frame`` lacks some of its columns.
    """
    if not fingerprint or any(c not in frame.columns for c in fingerprint["columns"]):
        return None
    stored = np.frombuffer(base64.b64decode(fingerprint["hashes"]), dtype="<u8")
    hits = int(np.isin(_row_hashes(frame, fingerprint["columns"]), stored).sum())
    rate = fingerprint["n_stored"] / max(1, fingerprint.get("n_unique", fingerprint["n_stored"]))
    return int(round(hits / rate)) if rate < 1 else hits


def overlap_message(fingerprint: dict[str, Any] | None, frame: pd.DataFrame) -> str | None:
    """The warning for rows the model was fitted on, or None when there are none."""
    count = training_overlap(fingerprint, frame)
    if not count:
        return None
    approx = "" if fingerprint["n_stored"] >= fingerprint.get("n_unique", 0) else " (estimated)"
    count = min(count, len(frame))
    return MSG_TRAINING_OVERLAP.format(
        count=count, n=len(frame), share=count / max(1, len(frame)), approx=approx
    )
