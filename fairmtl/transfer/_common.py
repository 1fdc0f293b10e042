"""What the transfer diagnostics share: input checks, the template model, held-out losses.

Every diagnostic fits FairMTL models from one *template* estimator (a
:class:`~fairmtl.FairMTLClassifier` or :class:`~fairmtl.FairMTLRegressor`), changing
only its ``sharing`` (and, where said, its ``objective``). The held-out quantity they
compare is the per-row loss of :func:`row_losses`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.base import clone, is_classifier
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import check_array, check_consistent_length

from fairmtl.data import group_labels, train_val_test_split
from fairmtl.estimators import FairMTLClassifier, FairMTLRegressor
from fairmtl.exceptions import DataValidationError

__all__ = [
    "MSG_FEW_GROUPS",
    "MSG_NOT_FAIRMTL",
    "MSG_TEST_PARTIAL",
    "DEFAULT_SHARING_STRENGTH",
    "Data",
    "check_data",
    "default_estimator",
    "fit_variant",
    "row_losses",
    "split_data",
    "standardise",
]

MSG_FEW_GROUPS = (
    "The transfer diagnostics need at least 2 groups; got {n_groups}. Pass the group of "
    "each row with groups=."
)
MSG_NOT_FAIRMTL = (
    "estimator must be a FairMTLClassifier or FairMTLRegressor (its parameters are the "
    "template of every fit); got {kind}."
)
MSG_TEST_PARTIAL = "Pass X_test, y_test and groups_test together, or none of them."
MSG_TEST_MISSING_GROUP = (
    "Group(s) {names} have no rows in the held-out data, so their held-out loss is "
    "undefined. Give every group held-out rows (X_test, y_test, groups_test), or leave "
    "them out to let fairmtl hold out test_size of each group's rows."
)

DEFAULT_ALPHA = 1e-4
"""``alpha`` of the default template: a number, so that every diagnostic fit is one fit
(not a cross-validated search)."""

DEFAULT_SHARING_STRENGTH = 0.1
"""``sharing_strength`` of the default template, per group of average size (the
estimators' unit): a real pull towards the shared core that still keeps real offsets, the
coupling of about 0.01 per group that gave clustered offset sharing its best worst-group
loss on the planted-cluster benchmark (``benchmarks/_transfer.py``, about ten groups).
Fixed rather than cross-validated, so that the diagnostics compare sharing schemes at
the same knobs."""


@dataclass
class Data:
    """Validated arrays: features, target and group labels (strings), one row each."""

    X: np.ndarray
    y: np.ndarray
    groups: np.ndarray

    @property
    def names(self) -> np.ndarray:
        """Sorted group labels."""
        return np.unique(self.groups)

    def codes(self, names: np.ndarray | None = None) -> np.ndarray:
        """Index of each row's group in ``names`` (sorted labels by default)."""
        names = self.names if names is None else names
        return np.searchsorted(names, self.groups)

    def take(self, rows: np.ndarray) -> Data:
        return Data(self.X[rows], self.y[rows], self.groups[rows])


def check_data(X: Any, y: Any, groups: Any, *, min_groups: int = 2) -> Data:
    """Numeric ``X``, 1-D ``y`` and string group labels of matching length."""
    if groups is None:
        raise DataValidationError(MSG_FEW_GROUPS.format(n_groups=1))
    X = check_array(X, dtype=np.float64)
    y = np.asarray(y)
    labels = np.asarray(group_labels(groups), dtype=object).astype(str)
    check_consistent_length(X, y, labels)
    n_groups = len(np.unique(labels))
    if n_groups < min_groups:
        raise DataValidationError(MSG_FEW_GROUPS.format(n_groups=n_groups))
    return Data(X, y, labels)


def default_estimator(y: np.ndarray, estimator: Any = None):
    """The template: ``estimator`` as given, else an ``average``-objective FairMTL model.

    The default template is a FairMTLRegressor for a continuous target and a
    FairMTLClassifier otherwise, with ``sharing="offset"``, ``objective="average"``,
    ``alpha=DEFAULT_ALPHA`` and ``sharing_strength=DEFAULT_SHARING_STRENGTH``: fixed
    knobs, so that the schemes compared differ in their sharing alone.
    """
    if estimator is None:
        params = dict(
            sharing="offset",
            objective="average",
            sharing_strength=DEFAULT_SHARING_STRENGTH,
            alpha=DEFAULT_ALPHA,
        )
        if type_of_target(y) == "continuous":
            return FairMTLRegressor(**params)
        return FairMTLClassifier(**params)
    if not isinstance(estimator, FairMTLClassifier | FairMTLRegressor):
        raise DataValidationError(MSG_NOT_FAIRMTL.format(kind=type(estimator).__name__))
    return estimator


def fit_variant(estimator: Any, data: Data, sample_weight=None, **params: Any):
    """A clone of the template with ``params`` changed, fitted on ``data``."""
    model = clone(estimator).set_params(**params)
    return model.fit(data.X, data.y, groups=data.groups, sample_weight=sample_weight)


def row_losses(model: Any, data: Data) -> np.ndarray:
    """Held-out loss of each row: log loss for classifiers, squared error for regressors.

    Classifiers without ``predict_proba`` (hinge loss) are scored by their 0-1 error.
    Log loss uses probabilities clipped to ``[1e-15, 1 - 1e-15]``.
    """
    if is_classifier(model):
        index = np.searchsorted(model.classes_, data.y)
        if hasattr(model, "predict_proba"):
            proba = model.predict_proba(data.X, groups=data.groups)
            picked = proba[np.arange(len(index)), index]
            return -np.log(np.clip(picked, 1e-15, 1.0 - 1e-15))
        return (model.predict(data.X, groups=data.groups) != data.y).astype(float)
    return (model.predict(data.X, groups=data.groups) - data.y.astype(float)) ** 2


def split_data(
    data: Data,
    test: tuple[Any, Any, Any] | None,
    *,
    test_size: float,
    random_state: Any,
) -> tuple[Data, Data]:
    """Train and held-out parts: the given test data, else a split stratified by group."""
    if test is not None:
        if any(part is None for part in test):
            if all(part is None for part in test):
                test = None
            else:
                raise DataValidationError(MSG_TEST_PARTIAL)
    if test is not None:
        held = check_data(*test, min_groups=1)
        train = data
    else:
        split = train_val_test_split(
            data.X,
            data.y,
            data.groups,
            val_size=0.0,
            test_size=test_size,
            random_state=random_state,
            min_per_split=2,
        )
        train, held = data.take(split.train), data.take(split.test)
    missing = np.setdiff1d(train.names, held.names)
    if missing.size:
        names = ", ".join(repr(str(n)) for n in missing[:5])
        raise DataValidationError(MSG_TEST_MISSING_GROUP.format(names=names))
    return train, held


def standardise(X: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pooled z-scores of the columns, with the mean and scale (constant columns: scale 1)."""
    mean = X.mean(axis=0)
    scale = X.std(axis=0)
    scale = np.where(scale > 1e-12, scale, 1.0)
    return (X - mean) / scale, mean, scale
