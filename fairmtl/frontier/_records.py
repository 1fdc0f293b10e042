"""The frontier's records: a split's data and a fitted model with its evaluations."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from fairmtl.frontier._evaluate import Evaluation
from fairmtl.frontier._predictors import (
    GroupPredictor,
    GroupsPredictor,
    PerGroupPredictor,
    predictor_for,
)

__all__ = ["Fitted", "SplitData"]


class SplitData(NamedTuple):
    """The rows of one split (train, validation or test), preprocessed."""

    X: np.ndarray
    """Features, shape (n_rows, n_features), after the search's preprocessing."""
    y: np.ndarray
    groups: np.ndarray
    """Group label of each row."""
    weights: np.ndarray | None
    """Sample weights, or None."""

    def join(self, other: SplitData) -> SplitData:
        """This split's rows followed by ``other``'s."""
        w = None if self.weights is None else np.concatenate([self.weights, other.weights])
        return SplitData(
            np.vstack([self.X, other.X]),
            np.concatenate([self.y, other.y]),
            np.concatenate([self.groups, other.groups]),
            w,
        )


@dataclass
class Fitted:
    """A model of the frontier (a swept fairmtl fit or a baseline) and its evaluations.

    It predicts through its :class:`~fairmtl.frontier._predictors.GroupPredictor`:
    ``predict(X, groups)`` and ``predict_proba(X, groups)`` whatever the model's own
    calling convention.
    """

    label: str
    source: str
    """"fairmtl" (a model of the sweep) or "baseline"."""
    method: str
    model: Any
    params: dict[str, Any] = field(default_factory=dict)
    solver_info: dict[str, Any] | None = None
    per_group: dict[str, Any] | None = None
    """The independent baseline's model of each group (``model`` is None then)."""
    setting: dict[str, Any] | None = None
    """The exact knob values of a fairmtl fit (``params`` holds them rounded for display)."""
    predictor: GroupPredictor | None = None
    """How to call the model; None: found from ``model`` / ``per_group``."""
    val: Evaluation | None = None
    """Scores on the validation split (or out of fold, with ``cv``); None without one."""
    test: Evaluation | None = None
    """Scores on the test split."""

    def __post_init__(self) -> None:
        if self.predictor is None:
            if self.per_group is not None:
                self.predictor = PerGroupPredictor(self.per_group)
            else:
                self.predictor = predictor_for(self.model)

    @property
    def estimator(self) -> Any:
        """The fitted model as listed in ``FrontierSearch.estimators_``."""
        return self.model if self.per_group is None else self.per_group

    @property
    def takes_groups(self) -> bool:
        """Whether the model itself takes ``groups=`` (a fairmtl estimator)."""
        return isinstance(self.predictor, GroupsPredictor)

    def predict(self, X: np.ndarray, groups: np.ndarray) -> np.ndarray:
        return self.predictor.predict(X, groups)

    def predict_proba(self, X: np.ndarray, groups: np.ndarray) -> np.ndarray | None:
        return self.predictor.predict_proba(X, groups)
