"""SVD-based task reweighting (after Wu, Zhang & Re, ICLR 2020): weights from a spectrum.

Each group g gives one row ``m_g`` (see ``basis``), scaled to unit norm so that neither a
group's size nor its signal strength decides its weight. The rows are stacked into
``M`` (G x p) with SVD ``M = U S V.T``; ``V_r`` holds the top ``r`` right singular
vectors, ``r`` given or the fewest whose ``S**2`` hold ``energy`` of ``sum(S**2)``. The
weight of group g is the squared norm of its row's projection on that subspace,

    weight_g = ||V_r.T m_g||**2 = sum_{j <= r} (U[g, j] S[j])**2     (in [0, 1]),

the share of group g's direction that the dominant directions of all groups explain.
Groups aligned with the common structure weigh about 1; a group whose model or data
point elsewhere (negative transfer) weighs little. Weights are clipped below at
``min_weight`` so that no group's rows get weight 0.

``basis="model"``: ``m_g`` is group g's own fitted slope vector (``sharing=
"independent"``, ``objective="average"``) on pooled-standardised features, flattened
over outputs. ``basis="data"``: ``m_g = Z_g.T (t_g - mean(t_g)) / n_g``, the covariance
of the standardised features with the group's target (``t`` the target, ``+-1`` for a
binary class, one-hot columns for several classes), i.e. the data's direction without a
fit.

Use the weights as sample weights of a pooled fit (``sharing="shared"`` or
``"offset"``)::

    w = svd_task_weights(X, y, groups=g)
    model.fit(X, y, groups=g, sample_weight=w.reindex(g).to_numpy())

They act through the objective's group shares: ``average`` weighs group g by its share
of the total sample weight, so its contribution scales by ``weight_g``. Objectives that
weigh groups equally or by their loss (``balanced``, ``minimax``, ``tilted``) take each
group's *weighted mean* loss and are not changed by a weight constant within a group.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import is_classifier

from fairmtl.exceptions import DataValidationError
from fairmtl.transfer._alignment import _rank_for
from fairmtl.transfer._common import check_data, default_estimator, fit_variant, standardise

__all__ = ["MSG_BASIS", "svd_task_weights"]

MSG_BASIS = "basis must be 'model' or 'data'. Got {basis!r} instead."
MSG_MIN_WEIGHT = "min_weight must be a float in (0, 1]. Got {value!r} instead."


def _model_rows(data, estimator, sample_weight) -> np.ndarray:
    model = fit_variant(estimator, data, sample_weight, sharing="independent", objective="average")
    order = np.searchsorted(np.asarray(model.groups_, dtype=str), data.names)
    _, _, scale = standardise(data.X)
    return (model.group_coef_[order] * scale[None, :, None]).reshape(len(order), -1)


def _data_rows(data, classification: bool) -> np.ndarray:
    if classification:
        classes = np.unique(data.y)
        target = (data.y[:, None] == classes[None, :]).astype(float)
        if len(classes) == 2:
            target = 2.0 * target[:, 1:] - 1.0
    else:
        target = data.y.astype(float)[:, None]
    Z, _, _ = standardise(data.X)
    codes, G = data.codes(), len(data.names)
    counts = np.bincount(codes, minlength=G).astype(float)
    mean_t = np.zeros((G, target.shape[1]))
    np.add.at(mean_t, codes, target)
    centred = target - (mean_t / counts[:, None])[codes]
    rows = np.zeros((G, Z.shape[1], target.shape[1]))
    np.add.at(rows, codes, Z[:, :, None] * centred[:, None, :])
    return rows.reshape(G, -1) / counts[:, None]


def svd_task_weights(
    X: Any,
    y: Any,
    *,
    groups: Any,
    basis: str = "model",
    rank: int | None = None,
    energy: float = 0.9,
    min_weight: float = 0.05,
    estimator: Any = None,
    sample_weight: Any = None,
) -> pd.Series:
    """Per-group weights from the spectrum of the stacked per-group models or data.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    y : array-like of shape (n_samples,)
    groups : array-like of shape (n_samples,)
    basis : {"model", "data"}, default="model"
        What each group's row is (see the module docstring).
    rank : int, default=None
        Number of top singular vectors kept. None: the fewest holding ``energy``.
    energy : float in (0, 1], default=0.9
        Share of ``sum(S**2)`` the kept singular values hold.
    min_weight : float in (0, 1], default=0.05
        Smallest weight given.
    estimator : FairMTLClassifier or FairMTLRegressor, default=None
        Template of the per-group fits of ``basis="model"`` (its loss and ``alpha``).
    sample_weight : array-like of shape (n_samples,), default=None
        Row weights of those fits.

    Returns
    -------
    weights : pandas.Series
        Weight in ``[min_weight, 1]`` of each group (index: sorted group labels);
        ``attrs``: ``rank`` (r), ``singular_values`` (``S``, a list), ``basis``.

    Examples
    --------
    >>> from fairmtl.datasets import make_hospitals
    >>> from fairmtl.transfer import svd_task_weights
    >>> data = make_hospitals(6, n_samples=900, random_state=0)
    >>> w = svd_task_weights(data.data, data.target, groups=data.groups, basis="data")
    >>> bool(((w > 0) & (w <= 1)).all()), len(w)
    (True, 6)
    """
    if basis not in ("model", "data"):
        raise DataValidationError(MSG_BASIS.format(basis=basis))
    if not isinstance(min_weight, float | int) or not 0 < min_weight <= 1:
        raise DataValidationError(MSG_MIN_WEIGHT.format(value=min_weight))
    data = check_data(X, y, groups)
    template = default_estimator(data.y, estimator)
    if basis == "model":
        M = _model_rows(data, template, sample_weight)
    else:
        M = _data_rows(data, is_classifier(template))
    norms = np.linalg.norm(M, axis=1)
    M = M / np.where(norms > 0, norms, 1.0)[:, None]
    U, S, _ = np.linalg.svd(M, full_matrices=False)
    r = _rank_for(S**2, rank, energy)
    weights = np.sum((U[:, :r] * S[:r]) ** 2, axis=1)
    weights = np.clip(weights, min_weight, 1.0)
    out = pd.Series(weights, index=pd.Index(data.names.tolist(), name="group"), name="weight")
    out.attrs.update(rank=int(r), singular_values=S.tolist(), basis=basis)
    return out
