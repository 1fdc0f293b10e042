"""What every fairmtl estimator shares: groups as tasks, validated data, predict per group.

:class:`FairMTLBase` validates the rows, the sample weights and the groups once for every
estimator; the linear estimators (:mod:`fairmtl.estimators._linear`) add a convex problem
and its solvers, the MLP estimators (:mod:`fairmtl.estimators._mlp`) a network trained by
:mod:`fairmtl.neural`.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from fairmtl.data import GroupEncoder, check_groups_length, group_labels
from fairmtl.distributed._detect import is_cluster_input
from fairmtl.estimators._input import (
    MSG_GROUPS_REQUIRED,
    check_feature_frame,
    split_group_columns,
    warn_huge_features,
)
from fairmtl.exceptions import DataValidationError, UnseenGroupError
from fairmtl.losses import Loss
from fairmtl.solvers import Problem

__all__ = ["FairMTLBase", "Prepared"]

MSG_ZERO_WEIGHT_GROUP = (
    "Group {group!r} has a total sample weight of 0: its loss is undefined. Give its rows "
    "positive weights or drop the group."
)
MSG_NEGATIVE_WEIGHT = (
    "sample_weight has {count} negative value(s) (first at row {row}: {value!r}); every "
    "group loss is a weighted mean, so weights must be >= 0. Pass non-negative weights."
)
MSG_UNSEEN_INDEPENDENT = (
    "Group(s) {names} were not seen in fit and sharing='independent' has no shared part "
    "to predict them with. Refit with sharing='offset' or 'shared', or drop those rows."
)
MSG_IN_MEMORY_ONLY = (
    "{name} trains in memory: rows on a Dask cluster are not supported. Pass numpy or "
    "pandas data (e.g. the dask DataFrame's .compute()), or fit a linear model on the "
    "cluster with FairMTLClassifier / FairMTLRegressor."
)


@dataclass
class Prepared:
    """Validated training data and the compiled problem, reusable across knob values
    (:func:`fairmtl.estimators.fit_path` solves it once per setting)."""

    X: np.ndarray
    y: np.ndarray
    tasks: np.ndarray
    sample_weight: np.ndarray
    encoder: GroupEncoder
    loss: Loss
    n_outputs: int
    task: str
    #: the convex problem of the linear path; None on the neural path
    problem: Problem | None
    #: each group's total sample weight, when the rows are not here (a distributed fit)
    group_weight: np.ndarray | None = None


class FairMTLBase(BaseEstimator):
    """Shared machinery of fairmtl's estimators: each group of rows is a task.

    Subclasses provide ``_encode_target`` (the classifier and regressor mixins of
    :mod:`fairmtl.estimators._outputs`), ``_fit_prepared`` and ``_raw_outputs``; the
    linear ones also a convex problem (``_problem_for``).
    """

    # -- subclasses provide ------------------------------------------------------------
    def _encode_target(self, y: np.ndarray) -> tuple[np.ndarray, Loss, int, str]:
        raise NotImplementedError

    def _fit_prepared(self, prepared: Prepared):
        raise NotImplementedError

    def _raw_outputs(self, X, groups, method: str) -> np.ndarray:
        raise NotImplementedError

    def _problem_for(self, prepared: Prepared) -> Prepared:
        """The prepared data with the problem its fit solves (none by default)."""
        return prepared

    def _unseen_policy(self) -> str:
        """What the group encoder does with a group unseen in fit (see GroupEncoder)."""
        return "shared"

    def _fit_dtype(self):
        return np.float64

    def _fit_cluster(self, X, y, groups, sample_weight):
        raise ValueError(MSG_IN_MEMORY_ONLY.format(name=type(self).__name__))

    # -- fit -----------------------------------------------------------------------------
    def fit(self, X, y=None, *, groups=None, sample_weight=None):
        """Fit the group models.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Numeric features; with ``group_column`` a DataFrame that also holds the
            group column(s). For the linear estimators, a dask DataFrame or Array (with
            dask ``y`` and ``groups``), or a :class:`fairmtl.distributed.DaskGroupData`,
            fits on a Dask cluster (see :mod:`fairmtl.distributed`).
        y : array-like of shape (n_samples,)
            Target (None only with a ``DaskGroupData``, which holds it).
        groups : array-like of shape (n_samples,) or (n_samples, n_columns), default=None
            Group of each row (several columns form intersections). None: one group.
        sample_weight : array-like of shape (n_samples,), default=None
            Per-row weights; every group loss is a weighted mean.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        self._validate_params()
        if is_cluster_input(X):  # rows on a Dask cluster: fairmtl.distributed
            return self._fit_cluster(X, y, groups, sample_weight)
        prepared = self._prepare(X, y, groups, sample_weight)
        return self._fit_prepared(prepared)

    def _prepare(self, X, y, groups, sample_weight) -> Prepared:
        """Validate the rows, weights, groups and target (and build the problem, if any)."""
        X, groups = split_group_columns(X, groups, self.group_column)
        check_feature_frame(X)
        X, y = validate_data(self, X, y, dtype=self._fit_dtype(), y_numeric=self._y_numeric)
        warn_huge_features(X, getattr(self, "feature_names_in_", None))
        sample_weight = _check_sample_weight(sample_weight, X, dtype=np.float64)
        negative = np.flatnonzero(sample_weight < 0)
        if negative.size:
            row = int(negative[0])
            raise DataValidationError(
                MSG_NEGATIVE_WEIGHT.format(
                    count=negative.size, row=row, value=float(sample_weight[row])
                )
            )
        encoder = GroupEncoder(unseen=self._unseen_policy())
        if groups is None:
            groups = np.full(X.shape[0], "all", dtype=object)
        check_groups_length(groups, X.shape[0])
        tasks = encoder.fit_transform(groups)
        group_weight = np.bincount(tasks, weights=sample_weight, minlength=encoder.n_groups_)
        if np.any(group_weight <= 0):
            bad = encoder.labels_[np.flatnonzero(group_weight <= 0)[0]]
            raise DataValidationError(MSG_ZERO_WEIGHT_GROUP.format(group=bad))
        y_enc, loss, n_outputs, task = self._encode_target(y)
        prepared = Prepared(X, y_enc, tasks, sample_weight, encoder, loss, n_outputs, task, None)
        return self._problem_for(prepared)

    def _store_groups(self, encoder: GroupEncoder, has_shared_part: bool) -> None:
        """The fitted group attributes: labels, sizes, and the encoder for predict."""
        self._encoder = encoder
        self.groups_ = np.asarray(encoder.labels_, dtype=object)
        self.group_sizes_ = encoder.sizes_.copy()
        self.n_groups_ = encoder.n_groups_
        self.has_shared_part_ = has_shared_part

    def _store_group_losses(self, losses) -> None:
        self.group_losses_ = pd.Series(
            losses, index=pd.Index(self.groups_, name="group"), name="loss"
        )

    # -- predict ---------------------------------------------------------------------
    def _tasks_for(self, X, groups, method: str):
        X, groups = split_group_columns(X, groups, self.group_column)
        check_feature_frame(X)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        if groups is None:
            if self.n_groups_ > 1:
                raise DataValidationError(
                    MSG_GROUPS_REQUIRED.format(n_groups=self.n_groups_, method=method)
                )
            return X, np.zeros(X.shape[0], dtype=np.int64)
        check_groups_length(groups, X.shape[0])
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                tasks = self._encoder.transform(groups)
            except UnseenGroupError as e:
                unseen = sorted(set(group_labels(groups)) - set(self.groups_))
                names = ", ".join(repr(n) for n in unseen[:5])
                raise UnseenGroupError(MSG_UNSEEN_INDEPENDENT.format(names=names)) from e
        for w in caught:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        return X, tasks

    def summary(self) -> pd.DataFrame:
        """One row per group: rows, training loss, and the fit's solver status.

        Returns
        -------
        table : DataFrame
            Columns ``n``, ``loss``, ``worst`` (the group with the highest loss).
        """
        check_is_fitted(self, "group_losses_")
        table = pd.DataFrame({"n": self.group_sizes_, "loss": self.group_losses_})
        table["worst"] = table["loss"] == table["loss"].max()
        table.attrs["solver"] = {
            k: self.solver_info_.get(k) for k in ("status", "solver", "time", "objective")
        }
        return table
