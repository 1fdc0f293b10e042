"""ClusteredMTL: groups share within clusters of aligned groups, the count chosen on validation."""

from __future__ import annotations

import numbers
import warnings
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, MetaEstimatorMixin, is_classifier
from sklearn.metrics import accuracy_score, r2_score
from sklearn.utils import get_tags
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_array, check_is_fitted

from fairmtl.data import group_labels
from fairmtl.estimators import FairMTLClassifier, FairMTLRegressor
from fairmtl.exceptions import DataValidationError
from fairmtl.transfer._affinity import AFFINITY_MEASURES, CLUSTER_METHODS
from fairmtl.transfer._clustered_select import (
    Selection,
    cluster_strength,
    fittable,
    members_of,
    near_best,
)
from fairmtl.transfer._common import Data, check_data, default_estimator, fit_variant, row_losses

__all__ = ["ClusteredMTL", "MSG_CLUSTERED_UNSEEN", "fit_per_cluster", "per_cluster_losses"]

MSG_CLUSTERED_UNSEEN = (
    "Group(s) {names} were not seen in fit; ClusteredMTL predicts them with the model of "
    "the largest cluster ({cluster})."
)


def _template_has(name: str):
    """Whether the template (fitted one first) offers ``name``; unknown before fit: yes."""

    def check(self) -> bool:
        template = getattr(self, "estimator_", self.estimator)
        return template is None or hasattr(template, name)

    return check


def fit_per_cluster(
    template: Any, clusters: pd.Series, data: Data, weight=None, *, alphas=None, **params: Any
) -> list[Any]:
    """One clone of ``template`` (with ``params``) per cluster, fitted on its groups' rows.

    ``alphas[c]`` (when given and not None) is the ``alpha`` of cluster c's model. A
    numeric ``sharing_strength`` is scaled by the cluster's share of the groups (k of G):
    the estimators state it per group of average size, so an unscaled value would couple
    the few groups of a small cluster far more tightly than the template couples all of
    them (measured on the planted clusters, quick run: better than both global sharing
    and independent models in 8 of 10 seeds unscaled, 9 of 10 scaled).
    """
    models = []
    strength = params.get("sharing_strength", template.get_params().get("sharing_strength"))
    n_groups = len(clusters)
    for c in range(int(clusters.max()) + 1):
        members = clusters.index[clusters.to_numpy() == c].to_numpy(dtype=str)
        rows = np.flatnonzero(np.isin(data.groups, members))
        w = None if weight is None else weight[rows]
        extra = {} if alphas is None or alphas[c] is None else {"alpha": alphas[c]}
        if strength is not None:
            extra["sharing_strength"] = cluster_strength(strength, len(members), n_groups)
        models.append(fit_variant(template, data.take(rows), w, **{**params, **extra}))
    return models


def per_cluster_losses(models: list[Any], clusters: pd.Series, data: Data) -> np.ndarray:
    """Held-out loss of each row (:func:`row_losses`) under its group's cluster model."""
    out = np.empty(len(data.y))
    cluster_of = clusters.reindex(data.groups).to_numpy()
    for c, model in enumerate(models):
        rows = np.flatnonzero(cluster_of == c)
        if rows.size:
            out[rows] = row_losses(model, data.take(rows))
    return out


class ClusteredMTL(MetaEstimatorMixin, BaseEstimator):
    """Clustered multi-task learning: one FairMTL model per cluster of aligned groups.

    Groups are clustered by :func:`task_affinity` (hierarchical clustering, so that the
    clusterings for different counts are nested); each cluster gets its own FairMTL model
    built from the template ``estimator`` (its ``sharing`` acts within the cluster: with
    ``"offset"`` a cluster's groups keep offsets around the cluster's core). One cluster
    is global sharing; one cluster per group is the independent fit. The number of
    clusters is the one with the lowest held-out loss (mean group loss by default) among
    ``1 .. max_clusters``, by ``cv``-fold cross-validation stratified by group: on each
    fold the affinity, the clusterings and the cluster models (the template's ``alpha``,
    its strength scaled as in the final models) are computed from the fold's training
    rows alone, so that the rows that score a count never shape its clusters. The clusters of the chosen count are then found on all the rows, and the
    models refitted on them. With a fixed ``n_clusters`` nothing is held out.

    Cross-validation rather than one validation split: with a few dozen rows per group, a
    quarter of them held out once is too noisy a judge. A small group whose few held-out
    rows happen to fit its own model better looks like an outlier; split off into a
    cluster of its own, it gets exactly its independent model, and clustering can then
    at best tie the independent models on the worst-group loss. Every row held out once
    (and the clusters found on all of them) removes most of that noise.

    Counts whose mean held-out loss differs from the best by less than its noise
    (``tie_se`` standard errors of the paired difference on the same rows) are tied, and
    the tie goes to the count whose worst group fares best. An outlier, a group related
    to none of the others, sits in some cluster at every count below the one that splits
    it off; the mean over many groups barely tells those counts apart, its own loss does.

    Each cluster kept then gets its own ridge strength (``alphas``), chosen on the same
    folds restricted to its groups (after the count: a best alpha per cluster on the rows
    that score the count would flatter the counts with more clusters). A group that the
    clustering rightly isolates (an outlier, unrelated to the others) has no other group
    to borrow from, but it can be
    regularised for its own size; with the template's ``alpha`` alone its model is
    exactly its independent one. And each cluster's groups are coupled as tightly as
    the cluster's own cross-validation says (``strengths``): one strength for every
    cluster pulls a group that sits at the edge of its cluster (or an outlier merged
    into one) towards a core it does not share.

    Parameters
    ----------
    estimator : FairMTLClassifier or FairMTLRegressor, default=None
        Template of every cluster's model. None: ``sharing="offset"``,
        ``objective="average"``, ``alpha=1e-4``, ``sharing_strength=0.1``, suited to ``y``.
    n_clusters : int or "auto", default="auto"
        A fixed count, or "auto" to choose it on held-out rows.
    max_clusters : int, default=6
        Largest count tried by "auto" (capped at the number of groups).
    affinity : {"coefficient", "gradient", "subspace", "covariance", \
            "covariance_similarity"}, default="coefficient"
        Measure of :func:`task_affinity` the clusters come from.
    method : {"average", "complete", "single", "weighted", "spectral"}, default="average"
        Clustering of :func:`cluster_groups`.
    selection : {"balanced", "worst", "average", "shrunk_worst"}, default="balanced"
        Criterion on the held-out losses: the mean of the group losses, the worst group's
        mean loss, the mean loss over rows, or the estimators' rule (the worst group's
        loss after shrinking each group's towards the overall one by its share of noise).
        On the planted-cluster benchmark "balanced" chose counts with a better *held-out
        worst-group* loss than "worst" itself: one small group's loss is too noisy to
        choose by.
    tie_se : float >= 0, default=1.0
        Counts whose "balanced" (or "average") criterion is within ``tie_se`` standard
        errors of the best count's are tied (the standard error of their paired
        difference on the same held-out rows); of the tied counts, the one with the
        lowest "shrunk_worst" criterion is chosen (ties: the fewest clusters), so that
        a difference in the mean loss that is noise does not decide against the worst
        group. 0: the best criterion alone. Not used by the worst-group criteria.
    alphas : "auto", tuple of float or None, default="auto"
        Candidate ``alpha`` of each cluster's model, chosen per cluster kept on the
        held-out rows of its groups by the ``selection`` criterion. "auto": the template's ``alpha``
        times 1, 10 and 100 (the template's alone when it is not a number). None: the
        template's ``alpha`` for every cluster. Used only when ``n_clusters="auto"``
        (a fixed count holds out no rows).
    strengths : "auto" or None, default="auto"
        "auto": each cluster's final model chooses its own ``sharing_strength`` by the
        estimators' cross-validation (``sharing_strength="auto"`` of
        :class:`~fairmtl.FairMTLClassifier`, on the cluster's rows, at the cluster's
        ``alpha``), with ``sharing="offset"`` or ``"lowrank"``. None: the template's
        strength, scaled by the cluster's share of the groups. The count itself is
        chosen at the template's strength.
    cv : int or None, default=5
        Number of folds (stratified by group, and by class for a classifier) that choose
        the count and the alphas; a group with fewer rows than folds is never held out.
        A count one of whose clusters cannot be fitted on a fold (a classifier's cluster
        whose training rows hold one class) is not chosen. None: one validation split of
        ``val_size`` (faster, noisier; the clusters then come from its training part).
    val_size : float in (0, 1), default=0.25
        Share of each group's rows held out to choose the count when ``cv=None``.
    random_state : int or None, default=None
        Seed of the folds or validation split (and of spectral clustering).

    Attributes
    ----------
    estimator_ : FairMTLClassifier or FairMTLRegressor
        The template used.
    n_clusters_ : int
    clusters_ : pandas.Series of int
        Cluster id of each group seen in fit.
    estimators_ : list of fitted estimators
        ``estimators_[c]`` is cluster c's model, refitted on all rows of its groups.
    affinity_ : pandas.DataFrame
        The affinity matrix the clusters come from (all rows; the training part of the
        split with ``cv=None``).
    validation_ : pandas.DataFrame
        One row per count tried: ``n_clusters``, ``average``, ``balanced``, ``worst``,
        ``shrunk_worst`` (pooled held-out losses; ``inf`` for a count that could not be
        fitted), ``tied`` (within ``tie_se`` standard errors of the best count) and
        ``chosen``.
    cluster_alpha_ : list of float
        ``alpha`` of each cluster's model (``cluster_alpha_[c]`` for cluster c).
    cluster_strength_ : list of float
        ``sharing_strength`` each cluster's model used (its ``sharing_strength_``).
    groups_ : ndarray of str
        Group labels seen in fit, sorted.
    group_losses_ : pandas.Series
        Training loss per group, from its cluster's model.
    classes_ : ndarray
        Class labels (classification only).

    See Also
    --------
    task_affinity, cluster_groups : the clustering step alone.

    Examples
    --------
    >>> from fairmtl.datasets import make_hospitals
    >>> from fairmtl.transfer import ClusteredMTL
    >>> data = make_hospitals(6, n_samples=900, n_clusters=2, task="regression",
    ...                       random_state=0)
    >>> model = ClusteredMTL(max_clusters=3, random_state=0).fit(
    ...     data.data, data.target, groups=data.groups)
    >>> 1 <= model.n_clusters_ <= 3, model.predict(data.data, groups=data.groups).shape
    (True, (900,))
    """

    _parameter_constraints: dict[str, list[Any]] = {
        "estimator": [FairMTLClassifier, FairMTLRegressor, None],
        "n_clusters": [Interval(numbers.Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "max_clusters": [Interval(numbers.Integral, 1, None, closed="left")],
        "affinity": [StrOptions(set(AFFINITY_MEASURES))],
        "method": [StrOptions(set(CLUSTER_METHODS))],
        "selection": [StrOptions({"worst", "average", "balanced", "shrunk_worst"})],
        "tie_se": [Interval(numbers.Real, 0, None, closed="left")],
        "alphas": [StrOptions({"auto"}), tuple, list, None],
        "strengths": [StrOptions({"auto"}), None],
        "cv": [Interval(numbers.Integral, 2, None, closed="left"), None],
        "val_size": [Interval(numbers.Real, 0, 1, closed="neither")],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        estimator=None,
        *,
        n_clusters="auto",
        max_clusters=6,
        affinity="coefficient",
        method="average",
        selection="balanced",
        tie_se=1.0,
        alphas="auto",
        strengths="auto",
        cv=5,
        val_size=0.25,
        random_state=None,
    ):
        self.estimator = estimator
        self.n_clusters = n_clusters
        self.max_clusters = max_clusters
        self.affinity = affinity
        self.method = method
        self.selection = selection
        self.tie_se = tie_se
        self.alphas = alphas
        self.strengths = strengths
        self.cv = cv
        self.val_size = val_size
        self.random_state = random_state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        template = getattr(self, "estimator_", self.estimator)
        if template is not None:  # a classifier or a regressor, as its template is
            tags.estimator_type = get_tags(template).estimator_type
        return tags

    # -- fit -----------------------------------------------------------------------
    def fit(self, X, y, *, groups, sample_weight=None):
        """Cluster the groups, choose the count on held-out rows, refit per cluster.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        groups : array-like of shape (n_samples,)
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self : object
        """
        self._validate_params()
        data = check_data(X, y, groups)
        weight = None if sample_weight is None else np.asarray(sample_weight, dtype=float)
        self.estimator_ = default_estimator(data.y, self.estimator)
        selection = Selection(
            self.estimator_, self.selection, self._alpha_grid(), data, weight,
            self.affinity, self.method, self.random_state,
        )  # fmt: skip
        candidates = self._candidates(len(data.names))
        if self.n_clusters != "auto":  # nothing to choose: cluster on every row
            self.affinity_, labelings = selection.clusterings(np.arange(len(data.y)), candidates)
            chosen = candidates[0]
            self.validation_ = pd.DataFrame({"n_clusters": [chosen], "chosen": [True]})
            clusters = labelings[chosen]
            alphas = [self.estimator_.get_params().get("alpha")] * chosen
        else:
            chosen, clusters, alphas = self._choose(selection, data, candidates)
        self.n_clusters_ = int(chosen)
        self.clusters_ = clusters
        self.cluster_alpha_ = list(alphas)
        self.groups_ = self.clusters_.index.to_numpy(dtype=str)
        self.estimators_ = self._fit_clusters(self.clusters_, data, weight, alphas)
        self.cluster_strength_ = [
            getattr(m, "sharing_strength_", m.get_params().get("sharing_strength"))
            for m in self.estimators_
        ]
        self._store_losses()
        if is_classifier(self.estimator_):
            self.classes_ = self.estimators_[0].classes_
        return self

    def _candidates(self, n_groups: int) -> list[int]:
        if self.n_clusters != "auto":
            if self.n_clusters > n_groups:
                raise DataValidationError(
                    f"n_clusters={self.n_clusters} exceeds the {n_groups} groups."
                )
            return [int(self.n_clusters)]
        return list(range(1, min(self.max_clusters, n_groups) + 1))

    def _fit_clusters(self, clusters: pd.Series, data: Data, weight, alphas) -> list[Any]:
        params = {}
        coupled = self.estimator_.get_params().get("sharing") in ("offset", "lowrank")
        if self.strengths == "auto" and coupled:
            params["sharing_strength"] = "auto"  # each cluster's own cross-validation
        return fit_per_cluster(self.estimator_, clusters, data, weight, alphas=alphas, **params)

    def _alpha_grid(self) -> list[Any]:
        alpha = self.estimator_.get_params().get("alpha")
        if self.alphas is None or not isinstance(alpha, numbers.Real):
            return [alpha]
        if isinstance(self.alphas, str):  # "auto"
            return [float(alpha) * f for f in (1.0, 10.0, 100.0)]
        return [float(a) for a in self.alphas]

    def _choose(self, selection: Selection, data: Data, candidates: list[int]):
        """The count chosen on held-out rows (of those whose clusters can all be fitted:
        the best criterion, or of the counts tied with it the best ``shrunk_worst``), its
        clusters (all rows; the training part with ``cv=None``) and alphas."""
        folds = selection.folds(self.cv, self.val_size)
        table, pooled, codes = selection.count_table(folds, candidates)
        rows = folds[0][0] if self.cv is None else np.arange(len(data.y))
        self.affinity_, labelings = selection.clusterings(rows, candidates)
        ok = np.array([self._can_fit(labelings[k], data) for k in candidates])
        order = np.argsort(table[self.selection].to_numpy(), kind="stable")  # ties: fewest
        best = next((i for i in order if ok[i]), order[0])
        tied = near_best(pooled, codes, self.selection, best, self.tie_se) & ok
        tied[best] = True  # the best count itself (fittable, unless no count is)
        worst = table["shrunk_worst"].to_numpy()
        chosen = min(np.flatnonzero(tied), key=lambda i: (worst[i], i))
        table["tied"] = tied
        table["chosen"] = np.arange(len(table)) == chosen
        self.validation_ = table
        k = candidates[chosen]
        clusters = labelings[k]
        alphas = [selection.cv_alpha(members_of(clusters, c), folds) for c in range(k)]
        return k, clusters, alphas

    def _can_fit(self, clusters: pd.Series, data: Data) -> bool:
        return all(
            fittable(self.estimator_, data.y[np.isin(data.groups, members_of(clusters, c))])
            for c in range(int(clusters.max()) + 1)
        )

    def _store_losses(self) -> None:
        parts = [model.group_losses_ for model in self.estimators_]
        losses = pd.concat(parts).sort_index()
        self.group_losses_ = losses.rename("loss")

    # -- predict -----------------------------------------------------------------------
    def _route(self, X, groups):
        check_is_fitted(self, "estimators_")
        X = check_array(X, dtype=np.float64)
        labels = np.asarray(group_labels(groups), dtype=object).astype(str)
        cluster_of = self.clusters_.reindex(labels).to_numpy()
        unseen = np.isnan(cluster_of.astype(float))
        if unseen.any():
            sizes = [m.group_sizes_.sum() for m in self.estimators_]
            largest = int(np.argmax(sizes))
            names = ", ".join(repr(n) for n in np.unique(labels[unseen])[:5])
            warnings.warn(
                MSG_CLUSTERED_UNSEEN.format(names=names, cluster=largest),
                UserWarning,
                stacklevel=3,
            )
            cluster_of = np.where(unseen, largest, cluster_of)
        return X, labels, cluster_of.astype(np.int64)

    def _gather(self, method: str, X, groups) -> np.ndarray:
        X, labels, cluster_of = self._route(X, groups)
        out = None
        for c, model in enumerate(self.estimators_):
            rows = np.flatnonzero(cluster_of == c)
            if not rows.size:
                continue
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # unseen groups: warned once above
                part = np.asarray(getattr(model, method)(X[rows], groups=labels[rows]))
            if out is None:
                out = np.empty((len(labels), *part.shape[1:]), dtype=part.dtype)
            out[rows] = part
        return out

    def predict(self, X, *, groups):
        """Prediction of each row by its group's cluster model.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        groups : array-like of shape (n_samples,)

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
        """
        return self._gather("predict", X, groups)

    @available_if(_template_has("predict_proba"))
    def predict_proba(self, X, *, groups):
        """Class probabilities of each row by its group's cluster model (logistic loss)."""
        return self._gather("predict_proba", X, groups)

    @available_if(_template_has("decision_function"))
    def decision_function(self, X, *, groups):
        """Decision values of each row by its group's cluster model (classification)."""
        return self._gather("decision_function", X, groups)

    def score(self, X, y, sample_weight=None, *, groups):
        """Accuracy (classification) or R^2 (regression) on ``(X, y)``."""
        y_pred = self.predict(X, groups=groups)
        if is_classifier(self.estimator_):
            return accuracy_score(y, y_pred, sample_weight=sample_weight)
        return r2_score(y, y_pred, sample_weight=sample_weight)
