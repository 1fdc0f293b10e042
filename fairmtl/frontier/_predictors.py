"""One calling convention for every model on the frontier: ``predict(X, groups)``.

A frontier holds fairmtl estimators (which take ``groups=``), plain scikit-learn
baselines (which take no groups), one scikit-learn model per group, and fairlearn's
models (``sensitive_features=``, randomised predictions). Each is wrapped in a small
predictor with the same two methods, so the search evaluates all alike and a user calls
all alike:

- ``predict(X, groups)``: labels or values, shape (n_samples,);
- ``predict_proba(X, groups)``: class probabilities, shape (n_samples, n_classes), or
  None for a model without them (hinge loss, ThresholdOptimizer).

:class:`FrontierModel` (exported from :mod:`fairmtl.frontier`) adds the search's preprocessing, so that every entry of
``FrontierSearch.models_`` predicts on new raw data.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from typing import Any, Protocol, runtime_checkable

import numpy as np

__all__ = [
    "FairlearnPredictor",
    "FrontierModel",
    "GroupPredictor",
    "GroupsPredictor",
    "PerGroupPredictor",
    "PlainPredictor",
    "predictor_for",
    "quiet_fairlearn",
]

MSG_UNSEEN_PER_GROUP = (
    "Group(s) {names} were not seen in fit: the one-model-per-group baseline has no model "
    "for them. Drop those rows, or use a fairmtl model (it predicts unseen groups with "
    "its shared part)."
)


@runtime_checkable
class GroupPredictor(Protocol):
    """What every model on the frontier answers (see the module docstring)."""

    def predict(self, X, groups) -> np.ndarray: ...

    def predict_proba(self, X, groups) -> np.ndarray | None: ...


class GroupsPredictor:
    """A model that takes the group labels itself: fairmtl's estimators."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def predict(self, X, groups) -> np.ndarray:
        return self.model.predict(X, groups=groups)

    def predict_proba(self, X, groups) -> np.ndarray | None:
        if not hasattr(self.model, "predict_proba"):  # hinge loss: no probabilities
            return None
        return self.model.predict_proba(X, groups=groups)


class PlainPredictor:
    """A scikit-learn model that ignores the groups (the pooled baseline, GridSearch's)."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def predict(self, X, groups=None) -> np.ndarray:
        return self.model.predict(X)

    def predict_proba(self, X, groups=None) -> np.ndarray | None:
        if hasattr(self.model, "predict_proba"):
            return self.model.predict_proba(X)
        return None


class PerGroupPredictor:
    """One model per group label (the independent baseline): each row by its group's."""

    def __init__(self, models: dict[Any, Any]) -> None:
        self.models = models

    def predict(self, X, groups) -> np.ndarray:
        return self._call(X, groups, "predict")

    def predict_proba(self, X, groups) -> np.ndarray | None:
        return self._call(X, groups, "predict_proba")

    def _call(self, X, groups, method: str):
        groups = np.asarray(groups)
        missing = ~np.isin(groups, list(self.models))
        if missing.any():
            names = ", ".join(repr(n) for n in sorted(set(groups[missing]))[:5])
            raise ValueError(MSG_UNSEEN_PER_GROUP.format(names=names))
        out = None
        for label, model in self.models.items():
            rows = np.flatnonzero(groups == label)
            if rows.size == 0:
                continue
            values = getattr(model, method)(X[rows])
            if out is None:
                out = np.empty((len(groups),) + values.shape[1:], dtype=values.dtype)
            out[rows] = values
        return out


class FairlearnPredictor:
    """fairlearn's ExponentiatedGradient or ThresholdOptimizer, predicting with a fixed
    seed (their predictions are randomised).

    Parameters
    ----------
    model : fitted fairlearn model
    sensitive : bool
        The model needs ``sensitive_features=`` (ThresholdOptimizer); it has no
        probabilities then.
    """

    def __init__(self, model: Any, *, sensitive: bool) -> None:
        self.model, self.sensitive = model, sensitive

    def predict(self, X, groups) -> np.ndarray:
        with quiet_fairlearn():
            if self.sensitive:
                return self.model.predict(X, sensitive_features=groups, random_state=0)
            return self.model.predict(X, random_state=0)

    def predict_proba(self, X, groups) -> np.ndarray | None:
        if self.sensitive:
            return None
        with quiet_fairlearn():
            return self.model._pmf_predict(X)


def predictor_for(model: Any) -> GroupPredictor:
    """The predictor of a fairmtl estimator (it takes ``groups=``) or a plain model."""
    from fairmtl.estimators import FairMTLBase

    if isinstance(model, FairMTLBase):
        return GroupsPredictor(model)
    return PlainPredictor(model)


class FrontierModel:
    """A model of the frontier, ready for new raw data: ``predict(X, groups)``.

    The search's preprocessing (when the features needed it) is applied first, then the
    model is called in its own way (``groups=`` for fairmtl, ``sensitive_features=``
    for fairlearn, one model per group for the independent baseline).

    Parameters
    ----------
    predictor : GroupPredictor
    preprocessor : transformer or None
        Fitted on the search's training rows.
    label, method, source : str
        As in the search's ``results_["models"]``.

    Attributes
    ----------
    estimator : object
        The fitted model itself (an entry of ``FrontierSearch.estimators_``).
    """

    def __init__(self, predictor, preprocessor, *, label: str, method: str, source: str):
        self.predictor, self.preprocessor = predictor, preprocessor
        self.label, self.method, self.source = label, method, source

    @property
    def estimator(self) -> Any:
        if isinstance(self.predictor, PerGroupPredictor):
            return self.predictor.models
        return self.predictor.model

    def __repr__(self) -> str:
        return f"FrontierModel({self.label!r})"

    def _features(self, X) -> np.ndarray:
        if self.preprocessor is not None:
            return np.asarray(self.preprocessor.transform(X), dtype=float)
        return np.asarray(X, dtype=float)

    def predict(self, X, groups) -> np.ndarray:
        """Predict for raw features ``X`` of shape (n_samples, n_features) and the
        group label of each row (shape (n_samples,))."""
        return self.predictor.predict(self._features(X), _labels(groups))

    def predict_proba(self, X, groups) -> np.ndarray | None:
        """Class probabilities of shape (n_samples, n_classes), or None for a model
        without them."""
        return self.predictor.predict_proba(self._features(X), _labels(groups))


def _labels(groups) -> np.ndarray:
    """The search's group labels (several columns: their intersection labels)."""
    from fairmtl.data import group_labels

    return np.asarray(group_labels(groups), dtype=object)


@contextlib.contextmanager
def quiet_fairlearn() -> Iterator[None]:
    """Silence the pandas deprecation notices raised inside fairlearn's own code.

    fairlearn's reductions (ExponentiatedGradient's Lagrangian, the moments) use pandas
    idioms that newer pandas versions deprecate, about 200 notices a search. A user of
    fairmtl cannot act on them, so they are not shown; only warnings whose code is in
    fairlearn are affected, and only around the fairlearn call.
    """
    with warnings.catch_warnings():
        for category in (FutureWarning, DeprecationWarning):
            warnings.filterwarnings("ignore", category=category, module=r"fairlearn(\.|$)")
        yield
