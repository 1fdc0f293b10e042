"""FairMTLMLPClassifier and FairMTLMLPRegressor: group networks trained by fairmtl.neural.

A shared MLP trunk with shared, per-group or offset heads, each training step combining
the groups' losses by the objective's direction (:mod:`fairmtl.neural`). torch is loaded
in ``fit`` and ``predict`` only: importing this module does not import it.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
import pandas as pd
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from fairmtl.estimators._base import FairMTLBase, Prepared
from fairmtl.estimators._outputs import GroupClassifierMixin, GroupRegressorMixin
from fairmtl.neural._directions import DIRECTION_OBJECTIVES

__all__ = ["FairMTLMLPClassifier", "FairMTLMLPRegressor", "NETWORK_CONSTRAINTS"]

#: the parameters of the network and its training (shared with the deprecated
#: ``model="mlp"`` spelling of the linear estimators)
NETWORK_CONSTRAINTS: dict[str, list[Any]] = {
    "hidden_layer_sizes": ["array-like", Interval(numbers.Integral, 1, None, closed="left")],
    "dropout": [Interval(numbers.Real, 0, 1, closed="left")],
    "weight_decay": [Interval(numbers.Real, 0, None, closed="left")],
    "max_epochs": [Interval(numbers.Integral, 1, None, closed="left")],
    "batch_size": [Interval(numbers.Integral, 1, None, closed="left")],
    "learning_rate": [Interval(numbers.Real, 0, None, closed="neither")],
    "early_stopping": [
        "boolean",
        StrOptions({"worst_group_loss", "balanced_loss", "average_loss"}),
        callable,
    ],
    "validation_fraction": [Interval(numbers.Real, 0, 1, closed="neither")],
    "n_iter_no_change": [Interval(numbers.Integral, 1, None, closed="left")],
    "direction": [StrOptions({"auto", "weights", "group_dro", "cvxpy", "min_norm"})],
    "categorical_features": ["array-like", None],
    "device": [str],
    "verbose": ["verbose"],
}
HEADS = ("shared", "per_group", "offset")


def fit_network_into(est, prepared: Prepared, params: dict[str, Any], *, has_shared_part=True):
    """Train the network of ``params`` (an estimator's parameters) on the prepared rows and
    store it in ``est`` as plain arrays; the one neural fit of every fairmtl estimator."""
    from fairmtl.neural._config import config_from_params
    from fairmtl.neural._training import fit_network

    config = config_from_params(
        params,
        feature_names=getattr(est, "feature_names_in_", None),
        group_names=prepared.encoder.labels_,
    )
    fit = fit_network(
        prepared.X,
        prepared.y,
        prepared.tasks,
        prepared.sample_weight,
        prepared.encoder.n_groups_,
        loss_name=prepared.loss.name,
        n_outputs=prepared.n_outputs,
        config=config,
    )
    est._store_groups(prepared.encoder, has_shared_part)
    est.network_spec_, est.network_state_ = fit.spec, fit.state
    est.history_ = pd.DataFrame(fit.history)
    est.n_iter_ = fit.solver_info["n_epochs"]
    est._store_group_losses(fit.group_losses)
    est.solver_info_ = fit.solver_info
    return est


def network_raw_outputs(est, X, groups, method: str) -> np.ndarray:
    """Outputs (n, n_outputs) of ``est``'s fitted network; unseen groups use the shared part."""
    from fairmtl.neural._outputs import network_outputs

    check_is_fitted(est, "network_state_")
    X, tasks = est._tasks_for(X, groups, method)
    return network_outputs(est.network_spec_, est.network_state_, X, tasks, est.device)


class FairMTLMLPBase(FairMTLBase):
    """Shared machinery of :class:`FairMTLMLPClassifier` and :class:`FairMTLMLPRegressor`."""

    _parameter_constraints: dict[str, list[Any]] = {
        "objective": [StrOptions(set(DIRECTION_OBJECTIVES))],
        "loss": [str],
        "epsilon": [Interval(numbers.Real, 0, None, closed="left"), "array-like", None],
        "tilt": [Interval(numbers.Real, 0, None, closed="neither"), None],
        "preference": ["array-like", Interval(numbers.Real, 0, None, closed="neither"), None],
        "heads": [StrOptions(set(HEADS))],
        "sharing_strength": [Interval(numbers.Real, 0, None, closed="left")],
        "group_column": [str, list, None],
        "random_state": ["random_state"],
        **NETWORK_CONSTRAINTS,
    }

    def _fit_prepared(self, prepared: Prepared):
        """Train the network (fairmtl.neural) and store it as plain arrays."""
        return fit_network_into(self, prepared, self.get_params())

    def _raw_outputs(self, X, groups, method: str) -> np.ndarray:
        return network_raw_outputs(self, X, groups, method)


class FairMTLMLPClassifier(GroupClassifierMixin, FairMTLMLPBase):
    """Neural classifiers for groups: a shared MLP trunk with group heads.

    Each group (hospital, demographic group) is a task. A shared trunk of ReLU layers
    feeds output heads (shared, per group, or a shared head plus penalised per-group
    offsets); each training step combines the groups' losses by the ``objective``, as
    :mod:`fairmtl.neural` describes. Needs ``pip install "fairmtl[torch]"``.

    Parameters
    ----------
    hidden_layer_sizes : array-like of int, default=(64, 64)
        Widths of the shared trunk's ReLU layers (``()``: a linear model).
    objective : str, default="average"
        How a training step combines the group losses: "average", "balanced",
        "minimax" (online Group DRO weights, or a cvxpy program with
        ``direction="cvxpy"``), "tilted", "bounded" (Lagrangian weights), "chebyshev"
        (a cvxpy preference program) or "pareto" (MGDA's min-norm point).
    loss : {"logistic", "hinge"}, default="logistic"
        Logistic loss (multinomial for 3+ classes) or hinge loss (Crammer-Singer for 3+).
    epsilon : float or array-like of shape (n_groups,), default=None
        Loss bound of "bounded".
    tilt : float, default=None
        Temperature of "tilted" (> 0).
    preference : array-like of shape (n_groups,), default=None
        Non-negative weights of "chebyshev" (None: equal).
    threshold : float in (0, 1), default=None
        Decision threshold on the positive class's probability (two classes, logistic
        loss): ``predict`` gives the positive class where ``predict_proba(X)[:, 1] >
        threshold``. None: 0.5. It changes ``predict`` only.
    heads : {"offset", "shared", "per_group"}, default="offset"
        Output heads on the trunk: one for all groups ("shared"), one per group
        ("per_group"), or a shared head plus per-group offsets penalised by
        ``sharing_strength`` ("offset"). Groups unseen in fit are predicted with the
        shared head (the mean of the heads for "per_group"), with a warning.
    sharing_strength : float >= 0, default=1.0
        Penalty on the per-group offsets of ``heads="offset"`` (in the units of
        :class:`FairMTLClassifier`'s ``sharing_strength``); unused by the other heads.
    dropout : float in [0, 1), default=0.0
        Dropout after each hidden layer.
    weight_decay : float, default=1e-4
        L2 penalty ``weight_decay * ||W||^2`` on the network's weights (not biases), on
        standardised features; part of every group's objective.
    max_epochs : int, default=200
        An epoch is ``ceil(n_train / batch_size)`` steps.
    batch_size : int, default=256
        Rows per step, drawn equally from every group (``batch_size // n_groups`` each);
        at least the training size means full-batch steps.
    learning_rate : float, default=1e-3
        Adam's initial step, decayed on a cosine schedule over ``max_epochs``.
    early_stopping : bool or {"worst_group_loss", "balanced_loss", "average_loss"} or \
callable, default=True
        Hold out ``validation_fraction`` of each group, keep the best checkpoint by this
        validation metric (True: worst-group loss; a callable maps the per-group losses
        to a score, lower is better) and stop after ``n_iter_no_change`` epochs without
        gain.
    validation_fraction : float in (0, 1), default=0.2
        Share of each group's rows held out for early stopping.
    n_iter_no_change : int, default=20
        Larger than scikit-learn's 10: the worst-group validation loss rests on the
        smallest group's rows and is noisier than an average.
    direction : {"auto", "weights", "group_dro", "cvxpy", "min_norm"}, default="auto"
        How a step combines the group gradients, among those the objective allows
        ("auto": Group DRO weights for "minimax", the min-norm point for "pareto", a
        cvxpy preference program for "chebyshev", fixed or Lagrangian weights else).
    categorical_features : array-like of int or str, default=None
        Integer-coded columns to embed instead of standardise (positions, or names of
        a DataFrame X's columns).
    group_column : str or list of str, default=None
        Take the groups from these columns of a DataFrame X (they are not features).
    device : str, default="auto"
        Torch device; "auto" picks CUDA, then MPS, then CPU.
    random_state : int, RandomState instance or None, default=None
        Seeds the initial weights, the minibatches and the validation split: on CPU the
        same seed gives identical predictions.
    verbose : int, default=0
        > 0: a progress bar with live per-group losses (on a terminal or notebook only).

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    groups_ : ndarray of shape (n_groups,)
        Group labels seen in fit, in task-id order.
    group_sizes_ : Series
        Rows per group in fit.
    n_groups_ : int
    group_losses_ : Series
        Training loss per group.
    solver_info_ : dict
        How the fit went: the solver record of :class:`fairmtl.solvers.SolverInfo`
        (status "inaccurate": a network has no certificate), with n_epochs, best_epoch,
        stopped, direction and the seconds spent in its program.
    network_spec_, network_state_ : dict
        The network's shape and its weights as numpy arrays.
    history_ : DataFrame
        One row per epoch (training objective, validation score, learning rate).
    n_iter_ : int
        Epochs run.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Only when X has string column names.

    See Also
    --------
    FairMTLMLPRegressor : The same for regression.
    FairMTLClassifier : Linear group models, solved exactly.

    Examples
    --------
    >>> from fairmtl import FairMTLMLPClassifier
    >>> from fairmtl.datasets import make_hospitals
    >>> data = make_hospitals(4, n_samples=400, random_state=0)
    >>> clf = FairMTLMLPClassifier((16,), objective="minimax", max_epochs=5,
    ...                            random_state=0)
    >>> clf.fit(data.data, data.target, groups=data.groups).predict_proba(
    ...     data.data, groups=data.groups).shape
    (400, 2)
    """

    _parameter_constraints = {
        **FairMTLMLPBase._parameter_constraints,
        "threshold": [Interval(numbers.Real, 0, 1, closed="neither"), None],
    }

    def __init__(
        self,
        hidden_layer_sizes=(64, 64),
        *,
        objective="average",
        loss="logistic",
        epsilon=None,
        tilt=None,
        preference=None,
        threshold=None,
        heads="offset",
        sharing_strength=1.0,
        dropout=0.0,
        weight_decay=1e-4,
        max_epochs=200,
        batch_size=256,
        learning_rate=1e-3,
        early_stopping=True,
        validation_fraction=0.2,
        n_iter_no_change=20,
        direction="auto",
        categorical_features=None,
        group_column=None,
        device="auto",
        random_state=None,
        verbose=0,
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.objective = objective
        self.loss = loss
        self.epsilon = epsilon
        self.tilt = tilt
        self.preference = preference
        self.threshold = threshold
        self.heads = heads
        self.sharing_strength = sharing_strength
        self.dropout = dropout
        self.weight_decay = weight_decay
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.direction = direction
        self.categorical_features = categorical_features
        self.group_column = group_column
        self.device = device
        self.random_state = random_state
        self.verbose = verbose


class FairMTLMLPRegressor(GroupRegressorMixin, FairMTLMLPBase):
    """Neural regressors for groups: a shared MLP trunk with group heads.

    The same network as :class:`FairMTLMLPClassifier` with a regression loss: group
    losses are weighted mean squared errors (``loss="squared"``) or Huber losses
    (``loss="huber"``, threshold 1 on the residual). The heads learn the standardised
    target. Needs ``pip install "fairmtl[torch]"``.

    Parameters
    ----------
    hidden_layer_sizes : array-like of int, default=(64, 64)
    objective : str, default="average"
        As in :class:`FairMTLMLPClassifier`: "average", "balanced", "minimax",
        "tilted", "bounded", "chebyshev" or "pareto".
    loss : {"squared", "huber"}, default="squared"
    epsilon, tilt, preference, heads, sharing_strength, dropout, weight_decay, \
max_epochs, batch_size, learning_rate, early_stopping, validation_fraction, \
n_iter_no_change, direction, categorical_features, group_column, device, \
random_state, verbose
        As in :class:`FairMTLMLPClassifier`.

    Attributes
    ----------
    groups_, group_sizes_, n_groups_, group_losses_, solver_info_, network_spec_, \
network_state_, history_, n_iter_, n_features_in_, feature_names_in_
        As in :class:`FairMTLMLPClassifier`.

    See Also
    --------
    FairMTLMLPClassifier : The same for classification.
    FairMTLRegressor : Linear group models, solved exactly.

    Examples
    --------
    >>> from fairmtl import FairMTLMLPRegressor
    >>> from fairmtl.datasets import make_hospitals
    >>> data = make_hospitals(4, n_samples=400, task="regression", random_state=0)
    >>> reg = FairMTLMLPRegressor((16,), max_epochs=5, random_state=0)
    >>> reg.fit(data.data, data.target, groups=data.groups).predict(
    ...     data.data, groups=data.groups).shape
    (400,)
    """

    def __init__(
        self,
        hidden_layer_sizes=(64, 64),
        *,
        objective="average",
        loss="squared",
        epsilon=None,
        tilt=None,
        preference=None,
        heads="offset",
        sharing_strength=1.0,
        dropout=0.0,
        weight_decay=1e-4,
        max_epochs=200,
        batch_size=256,
        learning_rate=1e-3,
        early_stopping=True,
        validation_fraction=0.2,
        n_iter_no_change=20,
        direction="auto",
        categorical_features=None,
        group_column=None,
        device="auto",
        random_state=None,
        verbose=0,
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.objective = objective
        self.loss = loss
        self.epsilon = epsilon
        self.tilt = tilt
        self.preference = preference
        self.heads = heads
        self.sharing_strength = sharing_strength
        self.dropout = dropout
        self.weight_decay = weight_decay
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.direction = direction
        self.categorical_features = categorical_features
        self.group_column = group_column
        self.device = device
        self.random_state = random_state
        self.verbose = verbose
