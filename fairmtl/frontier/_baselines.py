"""Baselines fitted on the same splits and features as fairmtl's models.

Each baseline is wrapped in a :class:`~fairmtl.frontier._records.Fitted`, whose
predictor answers ``predict(X, groups)`` like every model of the frontier
(:mod:`fairmtl.frontier._predictors`), so the search evaluates all alike.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from sklearn.dummy import DummyRegressor
from sklearn.linear_model import LogisticRegression, Ridge

from fairmtl.exceptions import DataWarning
from fairmtl.frontier import _progress as progress
from fairmtl.frontier._predictors import FairlearnPredictor, quiet_fairlearn
from fairmtl.frontier._records import Fitted

__all__ = [
    "Fitted",
    "fit_baselines",
    "check_baseline_names",
    "FAIRLEARN_CONSTRAINT",
    "BASELINE_NAMES",
]

#: every baseline fit_baselines knows, in the order they are fitted
BASELINE_NAMES = ("pooled", "independent", "fairlearn", "expgrad", "threshold", "neural")
MSG_UNKNOWN_BASELINE = "Unknown baseline {name!r}: choose among {choices}."
MSG_UNWEIGHTED = (
    "The {names} baseline(s) are fitted without the sample weights: fairlearn's "
    "reductions and ThresholdOptimizer take none. Their metrics are weighted like every "
    "other model's, but their fits are not comparable to weighted ones."
)
#: How the progress lines name each baseline.
BASELINE_LABELS = {
    "pooled": "pooled (scikit-learn)",
    "independent": "one model per group (scikit-learn)",
    "fairlearn": "fairlearn GridSearch",
    "expgrad": "fairlearn ExponentiatedGradient",
    "threshold": "fairlearn ThresholdOptimizer",
    "neural": "neural (torch)",
}
#: the neural baseline's objective: Group DRO weights on a shared MLP (best worst group)
NEURAL_OBJECTIVE = "minimax"

#: the fairlearn constraint matching each fairmtl objective
FAIRLEARN_CONSTRAINT = {
    "demographic_parity": "DemographicParity",
    "equal_opportunity": "TruePositiveRateParity",
    "equalized_odds": "EqualizedOdds",
}


def _pooled(task: str, alpha: float, n_weight: float):
    if task == "regression":
        return Ridge(alpha=alpha * n_weight)
    return LogisticRegression(C=1.0 / (2.0 * alpha * n_weight), max_iter=5000)


def fit_baselines(
    names: tuple[str, ...],
    X: np.ndarray,
    y: np.ndarray,
    groups: np.ndarray,
    *,
    task: str,
    objective: str,
    alpha: float,
    n_points: int,
    classes: np.ndarray | None,
    n_expgrad: int | None = None,
    random_state: int | None = 0,
    sample_weight: np.ndarray | None = None,
) -> list[Fitted]:
    """Fit the named baselines on the same training data as the sweep.

    Parameters
    ----------
    names : tuple of str
        Among :data:`BASELINE_NAMES`: "pooled", "independent", "fairlearn" (GridSearch,
        ``n_points`` models), "expgrad" (ExponentiatedGradient over ``n_expgrad``
        bounds), "threshold" (ThresholdOptimizer) and "neural" (fairmtl's MLP under
        Group DRO weights, ``FairMTLMLPClassifier(objective="minimax", heads="shared")``; needs
        ``pip install "fairmtl[torch]"``).
    n_expgrad : int, default=None
        ExponentiatedGradient fits (None: ``min(n_points, 5)``: each takes minutes on
        Adult with 10 groups).
    random_state : int or None, default=0
        Seed of the neural baseline.
    sample_weight : ndarray of shape (n_samples,) or None, default=None
        Weights of the training rows, used by the pooled, independent and neural
        baselines as by the sweep (the penalty scaled by the total weight, not the row
        count). fairlearn's reductions and ThresholdOptimizer take none: they are fitted
        unweighted, with a :class:`DataWarning` saying so.
    """
    check_baseline_names(names)
    fitted: list[Fitted] = []
    w = None if sample_weight is None else np.asarray(sample_weight, dtype=float)
    unweighted = [b for b in ("fairlearn", "expgrad", "threshold") if b in names]
    if w is not None and unweighted and task != "regression":
        warnings.warn(MSG_UNWEIGHTED.format(names=", ".join(unweighted)), DataWarning, stacklevel=3)
    binary = task != "regression" and classes is not None and len(classes) == 2
    runs = [b for b in BASELINE_NAMES if b in names]
    runs = [b for b in runs if binary or b not in ("fairlearn", "expgrad", "threshold")]
    common = dict(task=task, objective=objective, alpha=alpha, n_points=n_points)
    common.update(classes=classes, n_expgrad=n_expgrad, random_state=random_state, w=w)
    for i, name in enumerate(runs):
        label = BASELINE_LABELS.get(name, name)
        progress.stage(f"baseline {i + 1} of {len(runs)}: {label}", None)
        fitted += _fit_one(name, X, y, groups, **common)
    if runs:
        progress.stage("evaluating the models", None)
    return fitted


def _fit_one(
    name: str,
    X: np.ndarray,
    y: np.ndarray,
    groups: np.ndarray,
    *,
    task: str,
    objective: str,
    alpha: float,
    n_points: int,
    classes: np.ndarray | None,
    n_expgrad: int | None,
    random_state: int | None,
    w: np.ndarray | None,
) -> list[Fitted]:
    """The models of the baseline ``name`` (``w``: the training rows' weights or None)."""
    names = (name,)
    fitted: list[Fitted] = []
    n = float(len(y)) if w is None else float(w.sum())
    if "pooled" in names:
        model = _pooled(task, alpha, n).fit(X, y, sample_weight=w)
        fitted.append(Fitted("pooled (scikit-learn)", "baseline", "pooled", model))
    if "independent" in names:
        models = {}
        for label in np.unique(groups):
            rows = groups == label
            if task != "regression" and len(np.unique(y[rows])) < 2:
                # a one-class group: keep the classifier's classes aligned with the others
                models[label] = _ConstantProba(y[rows][0], classes)
            elif task == "regression" and rows.sum() < 2:
                models[label] = DummyRegressor().fit(X[rows], y[rows])
            else:
                wg = None if w is None else w[rows]
                size = float(rows.sum()) if wg is None else float(wg.sum())
                models[label] = _pooled(task, alpha, size).fit(X[rows], y[rows], sample_weight=wg)
        fitted.append(
            Fitted("independent (scikit-learn)", "baseline", "independent", None, per_group=models)
        )
    binary = task != "regression" and classes is not None and len(classes) == 2
    if "fairlearn" in names and binary:
        fitted += _fairlearn_grid(X, y, groups, objective, alpha, n_points)
    if "expgrad" in names and binary:
        n = min(n_points, 5) if n_expgrad is None else n_expgrad
        fitted += _fairlearn_expgrad(X, y, groups, objective, alpha, n)
    if "threshold" in names and binary:
        from fairlearn.postprocessing import ThresholdOptimizer

        constraint = {
            "equal_opportunity": "true_positive_rate_parity",
            "equalized_odds": "equalized_odds",
        }.get(objective, "demographic_parity")
        model = ThresholdOptimizer(
            estimator=_pooled(task, alpha, n),
            constraints=constraint,
            predict_method="predict_proba",
        )
        with quiet_fairlearn():
            model.fit(X, y, sensitive_features=groups)
        fitted.append(
            Fitted(
                f"ThresholdOptimizer ({constraint})",
                "baseline",
                "ThresholdOptimizer",
                model,
                {"constraints": constraint},
                predictor=FairlearnPredictor(model, sensitive=True),
            )
        )
    if "neural" in names:
        fitted.append(_neural(X, y, groups, task=task, random_state=random_state, weight=w))
    return fitted


def check_baseline_names(names) -> None:
    """Refuse an unknown baseline name before anything is fitted."""
    for name in names:
        if name not in BASELINE_NAMES:
            raise ValueError(
                MSG_UNKNOWN_BASELINE.format(name=name, choices=", ".join(BASELINE_NAMES))
            )


def _neural(X, y, groups, *, task: str, random_state, weight=None) -> Fitted:
    """fairmtl's neural path as a baseline: a shared MLP trained for the worst group."""
    from fairmtl.estimators import FairMTLMLPClassifier, FairMTLMLPRegressor

    cls = FairMTLMLPRegressor if task == "regression" else FairMTLMLPClassifier
    model = cls(objective=NEURAL_OBJECTIVE, heads="shared", random_state=random_state)
    model.fit(X, y, groups=groups, sample_weight=weight)
    return Fitted(
        f"neural {NEURAL_OBJECTIVE} (fairmtl MLP, torch)",
        "baseline",
        "neural",
        model,
        {"model": "mlp", "objective": NEURAL_OBJECTIVE, "sharing": "shared"},
    )


def _fairlearn_grid(X, y, groups, objective, alpha, n_points) -> list[Fitted]:
    from fairlearn import reductions

    name = FAIRLEARN_CONSTRAINT.get(objective, "ErrorRateParity")
    out = []
    # GridSearch sweeps its Lagrange multipliers itself: one fit gives grid_size models
    grid = reductions.GridSearch(
        _pooled("classification", alpha, float(len(y))),
        constraints=getattr(reductions, name)(),
        grid_size=n_points,
    )
    with quiet_fairlearn():
        grid.fit(X, y, sensitive_features=groups)
    for i, predictor in enumerate(grid.predictors_):
        out.append(
            Fitted(
                f"fairlearn GridSearch #{i}",
                "baseline",
                "GridSearch",
                predictor,
                {"constraint": name, "grid_point": i},
            )
        )
    return out


class _ConstantProba:
    """A one-class group's model: probability 1 for its only class."""

    def __init__(self, value: Any, classes: np.ndarray | None) -> None:
        self.value = value
        self.classes = classes

    def predict(self, X):
        return np.full(len(X), self.value, dtype=np.asarray([self.value]).dtype)

    def predict_proba(self, X):
        proba = np.zeros((len(X), len(self.classes)))
        proba[:, int(np.flatnonzero(self.classes == self.value)[0])] = 1.0
        return proba


def _fairlearn_expgrad(X, y, groups, objective, alpha, n_points) -> list[Fitted]:
    """ExponentiatedGradient swept over its constraint's ``difference_bound``.

    (``eps`` is not the fairness bound in fairlearn >= 0.5; ``difference_bound`` is.)
    """
    from fairlearn import reductions

    name = FAIRLEARN_CONSTRAINT.get(objective, "ErrorRateParity")
    out = []
    for bound in np.geomspace(0.005, 0.2, n_points):
        model = reductions.ExponentiatedGradient(
            _pooled("classification", alpha, float(len(y))),
            constraints=getattr(reductions, name)(difference_bound=float(bound)),
        )
        with quiet_fairlearn():
            model.fit(X, y, sensitive_features=groups)
        out.append(
            Fitted(
                f"fairlearn ExponentiatedGradient (bound {bound:.3g})",
                "baseline",
                "ExponentiatedGradient",
                model,
                {"constraint": name, "difference_bound": float(bound)},
                predictor=FairlearnPredictor(model, sensitive=False),
            )
        )
    return out
