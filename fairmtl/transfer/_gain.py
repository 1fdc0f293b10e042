"""Per-group gain from sharing: held-out loss under pooling vs the group's own model."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import is_classifier

from fairmtl.exceptions import DataValidationError
from fairmtl.metrics import bootstrap_indices
from fairmtl.models import SHARING_SCHEMES
from fairmtl.transfer._affinity import cluster_groups, task_affinity
from fairmtl.transfer._clustered import fit_per_cluster, per_cluster_losses
from fairmtl.transfer._common import (
    check_data,
    default_estimator,
    fit_variant,
    row_losses,
    split_data,
)

__all__ = ["MSG_SCHEMES", "VERDICTS", "gain_from_sharing", "paired_gain_intervals"]

MSG_SCHEMES = (
    "schemes must name sharing schemes other than 'independent' (the baseline), or "
    "'clustered': choose from {choices}. Got {schemes!r}."
)
MSG_CLUSTERS = (
    "clusters must be a Series of cluster ids indexed by group label (from "
    "cluster_groups) that covers every training group; missing: {names}."
)
MSG_CONFIDENCE = "confidence must be a float in (0, 1). Got {confidence!r} instead."
VERDICTS = ("gains", "hurt", "unclear")
"""``gains``: the whole interval of the gain is above 0; ``hurt``: below 0."""


def paired_gain_intervals(
    difference: np.ndarray,
    codes: np.ndarray,
    n_groups: int,
    indices: np.ndarray,
    confidence: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-group mean of ``difference`` with percentile bootstrap intervals.

    ``indices`` (n_boot, n) are group-stratified resamples (:func:`bootstrap_indices`), so
    each replicate's group means are one :func:`numpy.bincount` over (replicate, group)
    keys. Returns ``(estimate, lo, hi)``, each of shape (n_groups,).
    """
    counts = np.bincount(codes, minlength=n_groups).astype(float)
    estimate = np.bincount(codes, weights=difference, minlength=n_groups) / counts
    n_boot = indices.shape[0]
    keys = (np.arange(n_boot)[:, None] * n_groups + codes[indices]).ravel()
    sums = np.bincount(keys, weights=difference[indices].ravel(), minlength=n_boot * n_groups)
    sizes = np.bincount(keys, minlength=n_boot * n_groups).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        reps = (sums / sizes).reshape(n_boot, n_groups)
    tail = (1.0 - confidence) / 2
    lo, hi = np.nanquantile(reps, [tail, 1.0 - tail], axis=0)
    return estimate, lo, hi


def _verdict(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    return np.where(lo > 0, "gains", np.where(hi < 0, "hurt", "unclear"))


def gain_from_sharing(
    X: Any,
    y: Any,
    *,
    groups: Any,
    estimator: Any = None,
    schemes: Sequence[str] = ("offset", "shared"),
    clusters: pd.Series | None = None,
    X_test: Any = None,
    y_test: Any = None,
    groups_test: Any = None,
    test_size: float = 0.3,
    sample_weight: Any = None,
    n_boot: int = 200,
    confidence: float = 0.95,
    random_state: Any = None,
) -> pd.DataFrame:
    """Each group's held-out loss under pooled sharing against its own independent model.

    One template model is fitted with ``sharing="independent"`` and with each of
    ``schemes`` on the same training rows; every group's held-out mean loss (log loss for
    classifiers, squared error for regressors) is compared. The gain of group g under a
    scheme is ``loss_independent_g - loss_scheme_g``: positive when pooling helps g,
    negative when g is hurt (negative transfer). The interval is a paired percentile
    bootstrap of the held-out rows, resampled within each group; the same resamples
    serve every scheme.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Numeric features.
    y : array-like of shape (n_samples,)
        Target.
    groups : array-like of shape (n_samples,)
        Group of each row.
    estimator : FairMTLClassifier or FairMTLRegressor, default=None
        Template of the fits (loss, objective, ``alpha``, ``sharing_strength``; its
        ``sharing`` is replaced). A fitted estimator is used as a template only. None:
        an ``objective="average"`` model suited to ``y``.
    schemes : sequence of {"offset", "shared", "lowrank", "clustered"}, \
default=("offset", "shared")
        The pooled schemes to compare with ``independent``. ``"clustered"`` pools each
        group only with the groups of its cluster: one ``sharing="shared"`` model per
        cluster. A group hurt even then is misaligned with its nearest groups too.
    clusters : pandas.Series, default=None
        Cluster id of each group for ``"clustered"`` (from :func:`cluster_groups`). None:
        :func:`cluster_groups` (count by silhouette) of the ``"coefficient"``
        :func:`task_affinity` of the training rows.
    X_test, y_test, groups_test : array-like, default=None
        Held-out data. None: ``test_size`` of each group's rows are held out (split by
        group and, for classification, by label).
    test_size : float in (0, 1), default=0.3
    sample_weight : array-like of shape (n_samples,), default=None
        Training row weights (the held-out losses are unweighted means).
    n_boot : int, default=200
    confidence : float in (0, 1), default=0.95
    random_state : int or None, default=None
        Seed of the split and of the bootstrap.

    Returns
    -------
    table : pandas.DataFrame
        One row per (group, scheme), groups sorted: ``group``, ``scheme``, ``n_test``,
        ``independent`` and ``pooled`` (held-out mean losses), ``gain``, ``lo``, ``hi``
        (the interval of the gain), ``relative_gain`` (``gain / independent``) and
        ``verdict`` (``"gains"``, ``"hurt"`` or ``"unclear"``: whether the interval lies
        above 0, below 0, or holds 0). ``attrs``: ``loss`` (``"log_loss"``,
        ``"squared_error"`` or ``"error_rate"``), ``confidence``, ``n_boot``.

    See Also
    --------
    task_affinity : which groups' data agree.
    transfer_summary : this table with the affinity and a one-line reading.

    Examples
    --------
    >>> from fairmtl.datasets import make_hospitals
    >>> from fairmtl.transfer import gain_from_sharing
    >>> data = make_hospitals(4, n_samples=800, random_state=0)
    >>> table = gain_from_sharing(data.data, data.target, groups=data.groups,
    ...                           schemes=["shared"], n_boot=50, random_state=0)
    >>> table.columns.tolist()[:6]
    ['group', 'scheme', 'n_test', 'independent', 'pooled', 'gain']
    """
    schemes = [schemes] if isinstance(schemes, str) else list(schemes)
    allowed = sorted(set(SHARING_SCHEMES) - {"independent"} | {"clustered"})
    if not schemes or any(s not in allowed for s in schemes):
        raise DataValidationError(MSG_SCHEMES.format(choices=allowed, schemes=schemes))
    if not isinstance(confidence, float | int) or not 0 < confidence < 1:
        raise DataValidationError(MSG_CONFIDENCE.format(confidence=confidence))
    data = check_data(X, y, groups)
    template = default_estimator(data.y, estimator)
    if sample_weight is not None and X_test is None:
        raise DataValidationError(
            "sample_weight needs explicit X_test, y_test and groups_test (the weights "
            "follow the training rows)."
        )
    train, held = split_data(
        data, (X_test, y_test, groups_test), test_size=test_size, random_state=random_state
    )
    names = train.names
    held = held.take(np.flatnonzero(np.isin(held.groups, names)))  # unseen: no own model
    held_names = held.names
    codes = np.searchsorted(held_names, held.groups)
    rng = np.random.default_rng(random_state)
    indices = bootstrap_indices(held.groups, n_boot, rng)

    own = fit_variant(template, train, sample_weight, sharing="independent")
    own_loss = row_losses(own, held)
    counts = np.bincount(codes, minlength=len(held_names))
    own_mean = np.bincount(codes, weights=own_loss, minlength=len(held_names)) / counts
    frames = []
    for scheme in schemes:
        if scheme == "clustered":
            clusters = _clusters_for(train, template, clusters, sample_weight)
            models = fit_per_cluster(template, clusters, train, sample_weight, sharing="shared")
            pooled_loss = per_cluster_losses(models, clusters, held)
        else:
            pooled = fit_variant(template, train, sample_weight, sharing=scheme)
            pooled_loss = row_losses(pooled, held)
        gain, lo, hi = paired_gain_intervals(
            own_loss - pooled_loss, codes, len(held_names), indices, confidence
        )
        frames.append(
            pd.DataFrame(
                {
                    "group": held_names,
                    "scheme": scheme,
                    "n_test": counts,
                    "independent": own_mean,
                    "pooled": own_mean - gain,
                    "gain": gain,
                    "lo": lo,
                    "hi": hi,
                    "relative_gain": gain / np.where(own_mean > 0, own_mean, np.nan),
                    "verdict": _verdict(lo, hi),
                }
            )
        )
    table = pd.concat(frames, ignore_index=True)
    table = table.sort_values("group", kind="stable").reset_index(drop=True)
    if is_classifier(template):
        loss = "log_loss" if template.loss == "logistic" else "error_rate"
    else:
        loss = "squared_error"
    table.attrs.update(loss=loss, confidence=float(confidence), n_boot=int(n_boot))
    if "clustered" in schemes:
        table.attrs["clusters"] = {str(g): int(c) for g, c in clusters.items()}
    return table


def _clusters_for(train, template, clusters, sample_weight) -> pd.Series:
    """The given clusters (checked), else clusters of the coefficient affinity."""
    if clusters is None:
        affinity = task_affinity(
            train.X, train.y, groups=train.groups, estimator=template, sample_weight=sample_weight
        )
        return cluster_groups(affinity)
    if not isinstance(clusters, pd.Series):
        raise DataValidationError(MSG_CLUSTERS.format(names="(not a Series)"))
    clusters = clusters.copy()  # the caller's Series is not changed
    clusters.index = clusters.index.astype(str)
    missing = np.setdiff1d(train.names, clusters.index.to_numpy(dtype=str))
    if missing.size:
        raise DataValidationError(MSG_CLUSTERS.format(names=", ".join(missing[:5])))
    ids = clusters.reindex(train.names).to_numpy(dtype=np.int64)
    _, dense = np.unique(ids, return_inverse=True)  # ids 0 .. k-1, as fit_per_cluster expects
    return pd.Series(dense, index=pd.Index(train.names, name="group"), name="cluster")
