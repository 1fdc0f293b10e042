"""SVD-based task reweighting: Algorithm 2 of Wu, Zhang & Re (ICLR 2020).

The weights are the paper's Algorithm 2. Each group g gives a
vector ``theta_g`` (see ``basis``); with ``Theta = [theta_1 ... theta_G]`` (p x G) and
``U_r`` its top ``r`` left singular vectors (``r = rank``, given by the user), the
weight of group g is

    alpha_g = ||theta_g.T U_r||                (not squared, vectors not normalised),

reported divided by the largest ``alpha`` (a common positive factor, which does not
change the minimiser of ``sum_g alpha_g L_g``). A group whose target carries no signal
(random labels) has a short ``theta_g`` pointing nowhere in particular, and weighs
little; groups that share the dominant direction weigh about 1.

``basis="data"``: ``theta_g = X_g.T t_g / n_g`` on the features as given (``t`` the
target, ``+-1`` for a binary class, one-hot columns for several classes). The paper's
``theta_i = X.T y_i`` assumes one ``X`` for all tasks; dividing by ``n_g`` makes groups of
different sizes comparable and changes nothing when they share their rows (all ``n_g``
equal). ``center=True`` first centres features and target on their pooled means (the
paper's model has no intercept; fairmtl's have one). ``basis="model"``: ``theta_g`` is
group g's own fitted slope vector (``sharing="independent"``, ``objective="average"``)
on pooled-standardised features, flattened over outputs; an extension of the paper.

fairmtl's earlier variant (per-group centred data or fitted slopes, each row scaled to
unit length, squared projections, ``r`` by a 90% energy rule, weights clipped at 0.05) is
gone: scaling to unit length gives a task with random labels a singular direction of its
own, so it kept a weight near 1 (1.0 on six tasks sharing one ``X``, the last with
permuted labels, where Algorithm 2 gives it 0.1 of the others' weight and lowers the
clean tasks' held-out error by a third); no benchmark showed it better
(``benchmarks/_transfer.py``, experiments ``noisy task`` and ``training``). On the
planted-cluster hospitals neither variant helps the worst group: reweighting is for
noisy tasks, and it down-weights outlying groups, the ones a fair model must serve.

Use the weights as sample weights of a pooled fit (``sharing="shared"`` or
``"offset"``)::

    w = svd_task_weights(X, y, groups=g, rank=1)
    model.fit(X, y, groups=g, sample_weight=w.reindex(g).to_numpy())

They act through the objective's group shares: ``average`` weighs group g by its share
of the total sample weight, so its contribution scales by ``alpha_g`` (the paper's
``sum_i alpha_i L_i``). Objectives that weigh groups equally or by their loss
(``balanced``, ``minimax``, ``tilted``) take each group's *weighted mean* loss and are not
changed by a weight constant within a group.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import is_classifier

from fairmtl.exceptions import DataValidationError
from fairmtl.transfer._common import check_data, default_estimator, fit_variant, standardise

__all__ = ["MSG_BASIS", "MSG_METHOD", "MSG_RANK", "REWEIGHT_METHODS", "svd_task_weights"]

REWEIGHT_METHODS = ("wu2020",)
MSG_BASIS = "basis must be 'model' or 'data'. Got {basis!r} instead."
MSG_METHOD = "method must be one of {choices}. Got {method!r} instead."
MSG_MIN_WEIGHT = "min_weight must be a float in [0, 1]. Got {value!r} instead."
MSG_RANK = "rank must be a positive integer (at most the {n_groups} groups). Got {rank!r}."


def _model_rows(data, estimator, sample_weight) -> np.ndarray:
    model = fit_variant(estimator, data, sample_weight, sharing="independent", objective="average")
    order = np.searchsorted(np.asarray(model.groups_, dtype=str), data.names)
    _, _, scale = standardise(data.X)
    return (model.group_coef_[order] * scale[None, :, None]).reshape(len(order), -1)


def _target(y: np.ndarray, classification: bool) -> np.ndarray:
    """The target as columns: itself, ``+-1`` for two classes, one-hot for more."""
    if not classification:
        return y.astype(float)[:, None]
    classes = np.unique(y)
    target = (y[:, None] == classes[None, :]).astype(float)
    return 2.0 * target[:, 1:] - 1.0 if len(classes) == 2 else target


def _group_means(values: np.ndarray, codes: np.ndarray, n_groups: int) -> np.ndarray:
    counts = np.bincount(codes, minlength=n_groups).astype(float)
    sums = np.zeros((n_groups, *values.shape[1:]))
    np.add.at(sums, codes, values)
    return sums / counts.reshape(-1, *([1] * (values.ndim - 1)))


def _data_rows(data, classification: bool, *, center: bool) -> np.ndarray:
    """``theta_g = X_g.T t_g / n_g`` (pooled-centred when ``center``), flattened."""
    target, X = _target(data.y, classification), data.X
    codes, G = data.codes(), len(data.names)
    if center:
        X, target = X - X.mean(axis=0), target - target.mean(axis=0)
    return _group_means(X[:, :, None] * target[:, None, :], codes, G).reshape(G, -1)


def _wu2020(M: np.ndarray, rank: int) -> tuple[np.ndarray, np.ndarray]:
    """Algorithm 2 on the rows of ``M`` (G x p): ``||theta_g.T U_r||`` and the spectrum."""
    U, S, Vt = np.linalg.svd(M.T, full_matrices=False)  # M.T = [theta_1 ... theta_G]
    alpha = np.linalg.norm(M @ U[:, :rank], axis=1)
    top = alpha.max()
    return (alpha / top if top > 0 else np.ones_like(alpha)), S


def _check(method, basis, rank, min_weight, n_groups) -> None:
    if method not in REWEIGHT_METHODS:
        raise DataValidationError(MSG_METHOD.format(choices=REWEIGHT_METHODS, method=method))
    if basis not in ("model", "data"):
        raise DataValidationError(MSG_BASIS.format(basis=basis))
    if isinstance(rank, bool) or not isinstance(rank, int | np.integer) or rank < 1:
        raise DataValidationError(MSG_RANK.format(n_groups=n_groups, rank=rank))
    if not isinstance(min_weight, float | int) or not 0 <= min_weight <= 1:
        raise DataValidationError(MSG_MIN_WEIGHT.format(value=min_weight))


def svd_task_weights(
    X: Any,
    y: Any,
    *,
    groups: Any,
    method: str = "wu2020",
    basis: str = "data",
    rank: int = 1,
    center: bool = False,
    min_weight: float = 0.0,
    estimator: Any = None,
    sample_weight: Any = None,
) -> pd.Series:
    """Per-group weights from the spectrum of the stacked per-group vectors.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    y : array-like of shape (n_samples,)
    groups : array-like of shape (n_samples,)
    method : {"wu2020"}, default="wu2020"
        Algorithm 2 of Wu, Zhang & Re (ICLR 2020).
    basis : {"data", "model"}, default="data"
        What each group's vector is: ``X_g.T t_g / n_g`` (the paper's) or the group's own
        fitted slopes.
    rank : int, default=1
        ``r``, the number of top singular vectors kept (capped at the number of groups):
        the paper leaves it to the user.
    center : bool, default=False
        ``basis="data"``: centre features and target on their pooled means first (a
        fairmtl variant). Where features have a non-zero mean it does better than the
        paper's uncentred ``X.T y``: on the noisy-task benchmark (features of mean 0.5,
        10 seeds) the noisy task's weight falls from 0.25 to 0.06 of the clean tasks'
        and their held-out MSE from 0.384 to 0.348 (``basis="model"`` does the same).
    min_weight : float in [0, 1], default=0.0
        Smallest weight given (0: none, as in the paper).
    estimator : FairMTLClassifier or FairMTLRegressor, default=None
        Template of the per-group fits of ``basis="model"`` (its loss and ``alpha``).
    sample_weight : array-like of shape (n_samples,), default=None
        Row weights of those fits.

    Returns
    -------
    weights : pandas.Series
        Weight in ``[0, 1]`` of each group (index: sorted group labels), the largest 1;
        ``attrs``: ``rank`` (r), ``singular_values`` (a list), ``basis``,
        ``method``.

    Examples
    --------
    >>> from fairmtl.datasets import make_hospitals
    >>> from fairmtl.transfer import svd_task_weights
    >>> data = make_hospitals(6, n_samples=900, random_state=0)
    >>> w = svd_task_weights(data.data, data.target, groups=data.groups, rank=1)
    >>> bool(((w > 0) & (w <= 1)).all()), float(w.max()), len(w)
    (True, 1.0, 6)
    """
    data = check_data(X, y, groups)
    _check(method, basis, rank, min_weight, len(data.names))
    template = default_estimator(data.y, estimator)
    if basis == "model":
        M = _model_rows(data, template, sample_weight)
    else:
        M = _data_rows(data, is_classifier(template), center=center)
    r = int(min(rank, len(data.names), M.shape[1]))
    weights, S = _wu2020(M, r)
    floor = min_weight
    weights = np.clip(weights, floor, 1.0)
    out = pd.Series(weights, index=pd.Index(data.names.tolist(), name="group"), name="weight")
    out.attrs.update(rank=int(r), singular_values=S.tolist(), basis=basis, method=method)
    return out
