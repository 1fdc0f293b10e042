"""FairMTLRegressor: group-as-task linear regression under fairness objectives."""

from __future__ import annotations

from fairmtl.estimators._linear import LinearBase
from fairmtl.estimators._mlp import FairMTLMLPRegressor
from fairmtl.estimators._outputs import GroupRegressorMixin

__all__ = ["FairMTLRegressor"]


class FairMTLRegressor(GroupRegressorMixin, LinearBase):
    """Linear regressors, one per group, shared and balanced across groups.

    The same model as :class:`FairMTLClassifier` with a regression loss: group losses
    are weighted mean squared errors (``loss="squared"``) or Huber losses
    (``loss="huber"``, threshold 1 on the residual).

    Parameters
    ----------
    sharing : {"offset", "shared", "independent", "lowrank"}, default="offset"
    objective : str, default="average"
        One of "average", "balanced", "minimax", "tilted", "bounded", "gap", "no_harm",
        "chebyshev".
    loss : {"squared", "huber"}, default="squared"
    epsilon, tilt, preference, adjustment, sharing_strength, alpha, cv, reference, solver, \
group_column, max_time, random_state
        As in :class:`FairMTLClassifier`. With ``loss="squared"`` and the average
        objective, ``alpha`` matches scikit-learn's ``Ridge(alpha=alpha * n_samples)``.
    model, hidden_layer_sizes, heads, dropout, weight_decay, max_epochs, batch_size, \
learning_rate, early_stopping, validation_fraction, n_iter_no_change, direction, \
categorical_features, device, verbose
        Deprecated, as in :class:`FairMTLClassifier`: ``model="mlp"`` and the network's
        settings warn at fit; use :class:`FairMTLMLPRegressor`, which trains the same
        network.

    Attributes
    ----------
    groups_, group_sizes_, n_groups_, alpha_, sharing_strength_, adjustment_, \
cv_results_, best_index_, coef_, intercept_, group_coef_, group_intercept_, \
shared_coef_, shared_intercept_, group_losses_, solver_info_, n_features_in_, \
feature_names_in_, network_spec_, network_state_, history_, n_iter_
        As in :class:`FairMTLClassifier`; ``coef_`` has shape (n_groups, n_features).

    See Also
    --------
    FairMTLClassifier : The same for classification.
    FairMTLMLPRegressor : Group networks (an MLP trunk with group heads).

    Examples
    --------
    >>> from fairmtl import FairMTLRegressor
    >>> from fairmtl.datasets import make_hospitals
    >>> data = make_hospitals(4, n_samples=400, task="regression", random_state=0)
    >>> reg = FairMTLRegressor(objective="average").fit(
    ...     data.data, data.target, groups=data.groups)
    >>> reg.predict(data.data, groups=data.groups).shape
    (400,)
    """

    _mlp_estimator = FairMTLMLPRegressor

    def __init__(
        self,
        sharing="offset",
        *,
        objective="average",
        loss="squared",
        epsilon=None,
        tilt=None,
        preference=None,
        adjustment=0.0,
        sharing_strength="auto",
        alpha="auto",
        cv=5,
        reference="pooled",
        solver="auto",
        group_column=None,
        max_time=None,
        random_state=None,
        model="linear",
        hidden_layer_sizes=(64, 64),
        heads="auto",
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
        device="auto",
        verbose=0,
    ):
        self.sharing = sharing
        self.objective = objective
        self.loss = loss
        self.epsilon = epsilon
        self.tilt = tilt
        self.preference = preference
        self.adjustment = adjustment
        self.sharing_strength = sharing_strength
        self.alpha = alpha
        self.cv = cv
        self.reference = reference
        self.solver = solver
        self.group_column = group_column
        self.max_time = max_time
        self.random_state = random_state
        self.model = model
        self.hidden_layer_sizes = hidden_layer_sizes
        self.heads = heads
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
        self.device = device
        self.verbose = verbose
