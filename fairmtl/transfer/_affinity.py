"""Pairwise task affinity between groups, and a clustering of groups by it.

Five measures, each a symmetric (G, G) matrix with 1 on the diagonal; features are
first standardised with the pooled mean and standard deviation, so that no measure
depends on the features' units:

- ``"gradient"``: cosine between the groups' loss gradients at the shared solution
  (one model for all groups, ``objective="average"``). Group g's gradient is
  ``sum_i w_i l'(z_i, y_i) (x_i - xbar_g) / sum_i w_i`` over its rows: the gradient of its
  mean loss with respect to the slopes, with features centred on the group's own mean
  so that a group's base rate (intercept) does not count as disagreement. Two groups
  whose gradients point the same way would both gain from the same move away from the
  shared model; opposite gradients pull it apart. Range ``[-1, 1]``.
- ``"coefficient"``: cosine between the groups' own fitted slopes (``sharing=
  "independent"``, ``objective="average"``) after subtracting their size-weighted mean.
  Range ``[-1, 1]``.
- ``"subspace"``: :func:`subspace_affinity` between the top eigenspaces (``energy`` of the
  trace, or ``rank``) of the groups' feature second moments. Range ``[0, 1]``.
- ``"covariance"``: :func:`covariance_alignment` of those second moments. Range ``[0, 1]``.
- ``"covariance_similarity"``: the covariance similarity score of Wu, Zhang & Re (ICLR
  2020, Eq. 5; :func:`covariance_similarity`) of those second moments, each truncated to
  99% of its eigenvalues (``rank`` and ``energy`` do not apply). Range ``[0, 1]``; 1 on
  the diagonal by convention (a group's score with itself is below 1).

The last three look at features only (Wu, Zhang & Re's data alignment); the first two see
how the groups' outcomes depend on the features, which is what differs when groups
share features but not models.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy.cluster.hierarchy import fcluster, leaves_list, linkage
from scipy.spatial.distance import squareform
from sklearn.base import is_classifier
from sklearn.metrics import silhouette_score

from fairmtl.exceptions import DataValidationError
from fairmtl.losses import get_loss
from fairmtl.transfer._alignment import (
    group_second_moments,
    pairwise_covariance_alignment,
    pairwise_covariance_similarity,
    pairwise_subspace_affinity,
)
from fairmtl.transfer._common import (
    Data,
    check_data,
    default_estimator,
    fit_variant,
    standardise,
)

__all__ = [
    "AFFINITY_MEASURES",
    "CLUSTER_METHODS",
    "MSG_MEASURE",
    "MSG_METHOD",
    "MSG_N_CLUSTERS",
    "cluster_groups",
    "group_gradients",
    "leaf_order",
    "task_affinity",
]

AFFINITY_MEASURES = ("gradient", "coefficient", "subspace", "covariance", "covariance_similarity")
CLUSTER_METHODS = ("average", "complete", "single", "weighted", "spectral")
MSG_MEASURE = "Unknown affinity measure {measure!r}. Choose one of: {choices}."
MSG_METHOD = "Unknown clustering method {method!r}. Choose one of: {choices}."
MSG_N_CLUSTERS = "n_clusters must be an integer in [1, {n_groups}] (the groups). Got {value!r}."
MSG_AFFINITY_SHAPE = (
    "affinity must be a square DataFrame with the same group labels as index and columns; "
    "make it with task_affinity()."
)


def _cosine(M: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(M, axis=1)
    unit = M / np.where(norms > 0, norms, 1.0)[:, None]
    out = np.clip(unit @ unit.T, -1.0, 1.0)
    np.fill_diagonal(out, 1.0)
    return out


def _encoded_target(model: Any, y: np.ndarray) -> tuple[np.ndarray, str]:
    """The target as the model's loss sees it, and that loss's name."""
    if not is_classifier(model):
        return y.astype(float), model.loss
    codes = np.searchsorted(model.classes_, y)
    if len(model.classes_) == 2:
        return np.where(codes == 1, 1.0, -1.0), model.loss
    return codes, "multinomial" if model.loss == "logistic" else "multiclass_hinge"


def group_gradients(
    model: Any, data: Data, names: np.ndarray, sample_weight: np.ndarray | None = None
) -> np.ndarray:
    """Each group's mean-loss gradient w.r.t. standardised slopes, shape (G, d * K).

    Features are standardised with the pooled mean and scale and then centred on each
    group's own mean (see the module docstring).
    """
    y_enc, loss_name = _encoded_target(model, data.y)
    if is_classifier(model):
        z = model.decision_function(data.X, groups=data.groups)
    else:
        z = model.predict(data.X, groups=data.groups)
    residual = get_loss(loss_name).gradient(np.asarray(z, dtype=float), y_enc)
    residual = residual.reshape(len(y_enc), -1)
    w = np.ones(len(y_enc)) if sample_weight is None else np.asarray(sample_weight, float)
    Z, _, _ = standardise(data.X)
    codes, G = data.codes(names), len(names)
    totals = np.bincount(codes, weights=w, minlength=G)
    means = np.zeros((G, Z.shape[1]))
    np.add.at(means, codes, w[:, None] * Z)
    Zc = Z - (means / totals[:, None])[codes]
    grads = np.zeros((G, Z.shape[1], residual.shape[1]))
    np.add.at(grads, codes, (w[:, None] * Zc)[:, :, None] * residual[:, None, :])
    return grads.reshape(G, -1) / totals[:, None]


def _coefficient_rows(model: Any, data: Data, names: np.ndarray) -> np.ndarray:
    """Standardised per-group slopes minus their size-weighted mean, shape (G, d * K)."""
    order = np.searchsorted(np.asarray(model.groups_, dtype=str), names)
    _, _, scale = standardise(data.X)
    coef = model.group_coef_[order] * scale[None, :, None]
    sizes = np.bincount(data.codes(names), minlength=len(names)).astype(float)
    centre = np.einsum("g,gdk->dk", sizes / sizes.sum(), coef)
    return (coef - centre).reshape(len(names), -1)


def task_affinity(
    X: Any,
    y: Any = None,
    *,
    groups: Any,
    measure: str = "coefficient",
    estimator: Any = None,
    sample_weight: Any = None,
    rank: int | None = None,
    energy: float = 0.9,
    center: str = "pooled",
) -> pd.DataFrame:
    """Pairwise affinity between groups, as a symmetric matrix.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Numeric features.
    y : array-like of shape (n_samples,), default=None
        Target; needed by ``"gradient"`` and ``"coefficient"``.
    groups : array-like of shape (n_samples,)
        Group of each row.
    measure : {"coefficient", "gradient", "subspace", "covariance", "covariance_similarity"}, \
            default="coefficient"
        See the module docstring. ``"coefficient"`` recovered planted clusters of
        hospitals best in our measurements (see ``benchmarks/_transfer.py``).
    estimator : FairMTLClassifier or FairMTLRegressor, default=None
        Template of the fits ``"gradient"`` and ``"coefficient"`` make (its loss and
        ``alpha``); None: an ``objective="average"`` model suited to ``y``.
    sample_weight : array-like of shape (n_samples,), default=None
        Row weights of those fits and of the gradients.
    rank : int, default=None
        Eigenpairs kept by ``"subspace"`` / ``"covariance"``; None: ``energy`` decides.
    energy : float in (0, 1], default=0.9
        Share of each second moment's trace its kept eigenpairs hold.
    center : {"pooled", "group"}, default="pooled"
        ``"pooled"``: the data measures use ``Z_g.T Z_g / n_g`` of the pooled-standardised
        features (a group's mean shift counts, as in Wu et al.'s ``X_g.T X_g``);
        ``"group"``: each group's own covariance.

    Returns
    -------
    affinity : pandas.DataFrame of shape (n_groups, n_groups)
        Index and columns are the sorted group labels; ``attrs["measure"]`` names the
        measure and ``attrs["range"]`` its range, ``(-1, 1)`` or ``(0, 1)``.

    See Also
    --------
    cluster_groups : clusters of groups from this matrix.

    Examples
    --------
    >>> from fairmtl.datasets import make_hospitals
    >>> from fairmtl.transfer import task_affinity
    >>> data = make_hospitals(4, n_samples=400, random_state=0)
    >>> A = task_affinity(data.data, groups=data.groups, measure="subspace")
    >>> A.shape, bool((A.to_numpy().diagonal() == 1).all())
    ((4, 4), True)
    """
    if measure not in AFFINITY_MEASURES:
        raise DataValidationError(
            MSG_MEASURE.format(measure=measure, choices=", ".join(AFFINITY_MEASURES))
        )
    needs_y = measure in ("gradient", "coefficient")
    if needs_y and y is None:
        raise DataValidationError(f"measure={measure!r} needs the target y.")
    data = check_data(X, np.zeros(len(X)) if y is None else y, groups)
    names = data.names
    if needs_y:
        template = default_estimator(data.y, estimator)
        if measure == "gradient":
            model = fit_variant(
                template, data, sample_weight, sharing="shared", objective="average"
            )
            matrix = _cosine(group_gradients(model, data, names, sample_weight))
        else:
            model = fit_variant(
                template, data, sample_weight, sharing="independent", objective="average"
            )
            matrix = _cosine(_coefficient_rows(model, data, names))
        bounds = (-1.0, 1.0)
    else:
        if center not in ("pooled", "group"):
            raise DataValidationError(f"center must be 'pooled' or 'group'. Got {center!r}.")
        Z, _, _ = standardise(data.X)
        moments = group_second_moments(Z, data.codes(names), len(names), center)
        if measure == "subspace":
            matrix = pairwise_subspace_affinity(moments, rank, energy)
        elif measure == "covariance_similarity":
            matrix = pairwise_covariance_similarity(moments)
        else:
            matrix = pairwise_covariance_alignment(moments, rank, energy)
        np.fill_diagonal(matrix, 1.0)
        bounds = (0.0, 1.0)
    index = pd.Index(names.tolist(), name="group")
    out = pd.DataFrame(matrix, index=index, columns=index.rename(None))
    out.attrs.update(measure=measure, range=bounds)
    return out


def _check_affinity(affinity: Any) -> np.ndarray:
    if not isinstance(affinity, pd.DataFrame) or affinity.shape[0] != affinity.shape[1]:
        raise DataValidationError(MSG_AFFINITY_SHAPE)
    if list(affinity.index) != list(affinity.columns):
        raise DataValidationError(MSG_AFFINITY_SHAPE)
    A = affinity.to_numpy(dtype=float)
    return (A + A.T) / 2


def _distance(A: np.ndarray) -> np.ndarray:
    D = np.clip(1.0 - A, 0.0, None)
    np.fill_diagonal(D, 0.0)
    return D


def _labels_for(A: np.ndarray, k: int, method: str, random_state: Any) -> np.ndarray:
    if k == 1:
        return np.zeros(len(A), dtype=np.int64)
    if k == len(A):
        return np.arange(len(A), dtype=np.int64)
    if method == "spectral":
        from sklearn.cluster import SpectralClustering

        # a precomputed affinity must be non-negative: cosines map from [-1, 1] to [0, 1]
        similarity = (A + 1.0) / 2.0 if A.min() < 0 else A
        model = SpectralClustering(
            n_clusters=k,
            affinity="precomputed",
            random_state=random_state,
            assign_labels="discretize",
        )
        return model.fit_predict(similarity).astype(np.int64)
    tree = linkage(squareform(_distance(A), checks=False), method=method)
    return fcluster(tree, k, criterion="maxclust").astype(np.int64) - 1


def _relabel(labels: np.ndarray) -> np.ndarray:
    """Cluster ids 0, 1, ... in order of first appearance (deterministic names)."""
    _, first = np.unique(labels, return_index=True)
    order = np.argsort(first)
    mapping = np.empty(order.size, dtype=np.int64)
    mapping[order] = np.arange(order.size)
    return mapping[np.searchsorted(np.unique(labels), labels)]


def cluster_groups(
    affinity: pd.DataFrame,
    n_clusters: int | None = None,
    *,
    method: str = "average",
    max_clusters: int = 10,
    random_state: Any = None,
) -> pd.Series:
    """Clusters of groups from an affinity matrix.

    Parameters
    ----------
    affinity : pandas.DataFrame of shape (n_groups, n_groups)
        From :func:`task_affinity` (any symmetric similarity with 1 on the diagonal).
    n_clusters : int, default=None
        Number of clusters. None: the k in ``2 .. min(max_clusters, n_groups - 1)`` with
        the best silhouette score on the distances ``1 - affinity``.
    method : {"average", "complete", "single", "weighted", "spectral"}, default="average"
        Linkage of scipy's hierarchical clustering on ``1 - affinity``, or scikit-learn's
        SpectralClustering on the affinity (cosines mapped to ``(1 + a) / 2``).
    max_clusters : int, default=10
        Largest k tried when ``n_clusters`` is None.
    random_state : int or None, default=None
        Seed of the spectral method.

    Returns
    -------
    clusters : pandas.Series of int
        Cluster id of each group (index: the group labels), numbered 0, 1, ... in order of
        first appearance; ``attrs["n_clusters"]`` and, when chosen, ``attrs["silhouette"]``
        (a dict k -> score).

    Examples
    --------
    >>> import pandas as pd
    >>> A = pd.DataFrame([[1, .9, 0], [.9, 1, 0], [0, 0, 1]], index=list("abc"),
    ...                  columns=list("abc"))
    >>> cluster_groups(A, 2).tolist()
    [0, 0, 1]
    """
    A = _check_affinity(affinity)
    G = len(A)
    if method not in CLUSTER_METHODS:
        raise DataValidationError(
            MSG_METHOD.format(method=method, choices=", ".join(CLUSTER_METHODS))
        )
    scores: dict[int, float] = {}
    if n_clusters is None:
        candidates = range(2, max(2, min(max_clusters, G - 1)) + 1)
        D = _distance(A)
        best, best_score = 1, -np.inf
        for k in candidates:
            labels = _labels_for(A, k, method, random_state)
            if len(np.unique(labels)) < 2 or len(np.unique(labels)) >= G:
                continue
            scores[k] = float(silhouette_score(D, labels, metric="precomputed"))
            if scores[k] > best_score:
                best, best_score = k, scores[k]
        n_clusters = best
    elif isinstance(n_clusters, bool) or not isinstance(n_clusters, int | np.integer):
        raise DataValidationError(MSG_N_CLUSTERS.format(n_groups=G, value=n_clusters))
    if not 1 <= n_clusters <= G:
        raise DataValidationError(MSG_N_CLUSTERS.format(n_groups=G, value=n_clusters))
    labels = _relabel(_labels_for(A, int(n_clusters), method, random_state))
    out = pd.Series(labels, index=pd.Index(affinity.index, name="group"), name="cluster")
    out.attrs["n_clusters"] = int(n_clusters)
    if scores:
        out.attrs["silhouette"] = scores
    return out


def leaf_order(affinity: pd.DataFrame, method: str = "average") -> list[str]:
    """Group labels in dendrogram leaf order (aligned groups side by side, for heatmaps)."""
    A = _check_affinity(affinity)
    if len(A) < 3:
        return [str(g) for g in affinity.index]
    link = "average" if method == "spectral" else method
    tree = linkage(squareform(_distance(A), checks=False), method=link)
    return [str(affinity.index[i]) for i in leaves_list(tree)]
