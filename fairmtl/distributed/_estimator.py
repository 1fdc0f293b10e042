"""``FairMTLClassifier(...).fit(ddf, y, groups=g)``: the estimators' distributed fit.

The estimators call :func:`fit_distributed` when ``X`` is a dask collection or a
:class:`~fairmtl.distributed.DaskGroupData`. It reads and checks the partitions on the
workers, encodes groups and targets as the in-memory fit does, and solves on the dual
path with :class:`~fairmtl.distributed._oracle.ClusterProblem`. The fitted estimator is
the same kind of object as an in-memory fit (plain arrays; predict on in-memory rows).
"""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
from sklearn.base import is_classifier

from fairmtl.data import GroupEncoder
from fairmtl.distributed._data import DaskGroupData, from_dask
from fairmtl.distributed._load import encode_rows, open_rows
from fairmtl.distributed._oracle import ClusterProblem
from fairmtl.estimators._base import MSG_ZERO_WEIGHT_GROUP, Prepared
from fairmtl.estimators._input import warn_one_class_groups
from fairmtl.estimators._tuning import Tuned
from fairmtl.exceptions import DataValidationError
from fairmtl.objectives import objective_class, objectives_with
from fairmtl.solvers._dual import dual_unsupported
from fairmtl.solvers._notices import TARGET_OVERFLOW_LIMIT

__all__ = ["fit_distributed"]

MSG_AUTO_DISTRIBUTED = (
    "{name}='auto' is chosen by cross-validation, which a distributed fit does not run "
    "(it would refit every fold on the cluster). Pass {name} as a number (e.g. {example}), "
    "or tune it on an in-memory sample of the rows with the same estimator."
)
MSG_DISTRIBUTED_OBJECTIVE = (
    "A distributed fit solves on the dual path, which does not handle {what}. Distributed "
    "fits take objective in {objectives} with sharing 'shared', 'independent' or "
    "'offset', a smooth loss and alpha > 0; fit in memory for the others."
)
MSG_DATA_WITH_Y = (
    "X is a DaskGroupData, which holds the target, groups and weights already: call fit(X) "
    "without y, groups and sample_weight (give the weights to from_dask or read_parquet)."
)
MSG_DISTRIBUTED_Y = (
    "X is a dask collection, so y and groups must be dask collections with the same "
    "partitions (got y: {y}, groups: {groups})."
)
MSG_TARGET_OVERFLOW_DISTRIBUTED = (
    "The target holds a value of size {value:.3g}, whose squared loss overflows; divide the "
    "target by a constant first."
)
_EXAMPLES = {"alpha": "alpha=1e-3", "sharing_strength": "sharing_strength=1.0",
             "adjustment": "adjustment=0.0"}  # fmt: skip


def fit_distributed(est, X, y, groups, sample_weight):
    """Fit ``est`` on rows held by a Dask cluster (see the module docstring)."""
    data = _as_data(X, y, groups, sample_weight)
    _check_settings(est)
    classification = is_classifier(est)
    summary = open_rows(data, classification)
    try:
        return _fit_rows(est, data, summary, classification)
    finally:
        summary.rounds.close()  # the rows leave the workers with the fit, not at gc


def _fit_rows(est, data: DaskGroupData, summary, classification: bool):
    """The fit once the rows are read and checked on the workers."""
    if np.any(summary.group_weight <= 0):
        bad = summary.labels[np.flatnonzero(summary.group_weight <= 0)[0]]
        raise DataValidationError(MSG_ZERO_WEIGHT_GROUP.format(group=bad))
    encoder = _encoder(est, summary)
    positive, loss, task = _target(est, summary)
    why = dual_unsupported(loss, est.sharing, est.objective, 1, float(est.alpha))
    if why:
        raise ValueError(why)
    rows = encode_rows(summary, encoder.labels_, positive)
    _note_features(est, summary, data)
    problem = ClusterProblem(rows, loss=loss, sharing=est.sharing, objective=est.objective,
                             task=task)  # fmt: skip
    prepared = Prepared(None, None, None, None, encoder, loss, 1, task, problem,
                        group_weight=rows.group_weight)  # fmt: skip
    adjustment = 0.0 if est.adjustment == "auto" else float(est.adjustment)
    strength = 0.0 if est.sharing_strength == "auto" else float(est.sharing_strength)
    est._set_tuned(Tuned(float(est.alpha), strength, adjustment))
    result = est._solve(prepared)
    result.solver_info["distributed"] = _record(rows, data)
    return est._store(prepared, result)


def _as_data(X, y, groups, sample_weight) -> DaskGroupData:
    if isinstance(X, DaskGroupData):
        if y is not None or groups is not None or sample_weight is not None:
            raise DataValidationError(MSG_DATA_WITH_Y)
        return X
    dask = sys.modules["dask"]
    if not all(dask.is_dask_collection(v) for v in (y, groups)):
        raise DataValidationError(
            MSG_DISTRIBUTED_Y.format(y=type(y).__name__, groups=type(groups).__name__)
        )
    return from_dask(X, y, groups, sample_weight=sample_weight)


def _check_settings(est) -> None:
    """Numbers for the knobs cross-validation would choose; a dual-path objective."""
    if getattr(est, "model", "linear") != "linear":
        raise ValueError("A distributed fit trains linear models only (model='linear').")
    knobs = ["alpha", "sharing_strength"]
    objective = objective_class(est.objective)
    if objective.takes_adjustment:
        knobs.append("adjustment")
    for name in knobs:
        if getattr(est, name) == "auto" and not (name == "sharing_strength"
                                                 and est.sharing != "offset"):  # fmt: skip
            raise ValueError(MSG_AUTO_DISTRIBUTED.format(name=name, example=_EXAMPLES[name]))
    if not objective.distributed:
        raise ValueError(
            MSG_DISTRIBUTED_OBJECTIVE.format(
                what=f"objective={est.objective!r}",
                objectives=list(objectives_with("distributed")),
            )
        )


def _encoder(est, summary) -> GroupEncoder:
    """The encoder an in-memory fit would build: labels sorted, sizes from the counts."""
    encoder = GroupEncoder(unseen="error" if est.sharing == "independent" else "shared")
    encoder.fit(np.asarray(summary.labels, dtype=object))
    sizes = pd.Series(summary.sizes, index=summary.labels)
    encoder.sizes_ = pd.Series(
        sizes.loc[encoder.labels_].to_numpy(dtype=np.int64),
        index=pd.Index(encoder.labels_, name="group"),
        name="size",
    )
    return encoder


def _target(est, summary):
    """The positive class (classification) or None, the loss, and the task."""
    if not is_classifier(est):
        _, loss, _, task = est._encode_target(np.zeros(1))
        if summary.y_max > TARGET_OVERFLOW_LIMIT:
            raise DataValidationError(MSG_TARGET_OVERFLOW_DISTRIBUTED.format(value=summary.y_max))
        return None, loss, task
    classes = np.array(sorted({c for _, c in summary.pairs}))
    _, loss, n_outputs, task = est._encode_target(classes)
    if n_outputs != 1:
        raise ValueError(
            f"A distributed fit takes a binary target; this one has {len(classes)} classes."
        )
    strength = 1.0 if est.sharing_strength == "auto" else est.sharing_strength
    labels = list(summary.labels)
    tasks = np.array([labels.index(g) for g, _ in summary.pairs])
    y = np.array([np.searchsorted(est.classes_, c) for _, c in summary.pairs])
    warn_one_class_groups(y, tasks, summary.labels, est.sharing, strength, est.classes_)
    return est.classes_[1], loss, task


def _note_features(est, summary, data: DaskGroupData) -> None:
    """``n_features_in_`` and (string column names) ``feature_names_in_``, as
    scikit-learn's validation sets them."""
    est.n_features_in_ = summary.d
    names = data.feature_names or summary.columns
    if names and all(isinstance(c, str) for c in names):
        est.feature_names_in_ = np.asarray(names, dtype=object)
    elif hasattr(est, "feature_names_in_"):
        del est.feature_names_in_


def _record(rows, data: DaskGroupData) -> dict:
    """What crossed between the client and the workers, for ``solver_info_``."""
    record = rows.rounds.log.summary()
    record["mode"] = "hospitals" if data.hospitals else "partitions"
    record["partitions"] = len(rows.rounds.parts)
    pinned = rows.rounds.pinned
    record["workers"] = sorted(set(pinned)) if pinned else None
    if pinned:
        record["placement"] = dict(zip(rows.rounds.owners, pinned, strict=True))
    held: dict[str, int] = {}
    for worker, ks in rows.rounds.batches():
        held[str(worker)] = held.get(str(worker), 0) + sum(rows.part_rows[k] for k in ks)
    record["rows_per_worker"] = held
    return record
