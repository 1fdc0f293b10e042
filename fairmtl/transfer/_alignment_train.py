"""Covariance alignment: Algorithm 1 of Wu, Zhang & Re (ICLR 2020) for fairmtl's neural path.

Each group g gets an alignment matrix ``R_g`` (d x d) in front of the shared module: the
trunk of a fitted :class:`~fairmtl.FairMTLClassifier` / :class:`~fairmtl.FairMTLRegressor`
(``model="mlp"``) sees ``Z_g = X_g R_g`` instead of ``X_g`` (``X_g`` the group's
standardised features). With the trunk fixed, the ``R_g`` (initialised at the identity)
and the groups' output heads are trained jointly on the sum of the groups' mean losses
(the paper's ``sum_i L_i``), by full-batch Adam with early stopping on held-out rows of
each group. A group whose features are a rotation of what the trunk learned can rotate
them back. By default a penalty ``||R_g - I||_F**2`` is chosen on those held-out rows
(``alignment_penalty="auto"``), so that groups already aligned keep ``R_g`` at or near the
identity instead of fitting it to noise; 0 is the paper's unpenalised version.

The linear path has no such option, on purpose: with a linear shared module of one
output, ``X_g R_g w = X_g v_g`` with ``v_g = R_g w`` any vector, so the aligned model is
the independent per-group model; penalising ``||R_g - I||_F**2`` gives, at its minimum
over ``R_g`` with ``R_g w = v_g`` (``R_g = I + (v_g - w) w.T / ||w||**2``), the penalty
``||v_g - w||**2 / ||w||**2``, i.e. fairmtl's ``offset`` sharing with a rescaled
strength. Alternating over ``w`` and the ``R_g`` (each step convex) therefore adds
nothing that ``sharing="offset"`` does not already solve exactly.

torch is optional: importing this module without it raises
:class:`~fairmtl.exceptions.OptionalDependencyError` naming the extra.
"""

from __future__ import annotations

import copy
import numbers
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, MetaEstimatorMixin, clone, is_classifier
from sklearn.metrics import accuracy_score, r2_score
from sklearn.utils import check_random_state, get_tags
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_array, check_is_fitted

from fairmtl._optional import import_optional
from fairmtl.estimators import (
    FairMTLClassifier,
    FairMTLMLPClassifier,
    FairMTLMLPRegressor,
    FairMTLRegressor,
)
from fairmtl.exceptions import DataValidationError
from fairmtl.transfer._affinity import _encoded_target
from fairmtl.transfer._common import check_data

torch = import_optional("torch", "Covariance alignment (CovarianceAlignedMTL)")

from fairmtl.neural._network import GroupNetwork, torch_loss  # noqa: E402

__all__ = ["MSG_ALIGN_MLP", "MSG_ALIGN_CATEGORICAL", "CovarianceAlignedMTL"]

MSG_ALIGN_MLP = (
    "CovarianceAlignedMTL needs a neural template with one head per group: "
    "FairMTLMLPClassifier or FairMTLMLPRegressor with heads='per_group' (got "
    "{template})."
)
MSG_ALIGN_CATEGORICAL = (
    "CovarianceAlignedMTL aligns numeric features only; the template has categorical "
    "features {columns}. One-hot encode them first (fairmtl.data.make_preprocessor)."
)


#: penalties tried by ``alignment_penalty="auto"`` (the last holds R_g at the identity)
PENALTY_GRID = (0.0, 0.01, 0.1, 1.0, 1e6)
MSG_AUTO_NEEDS_VALIDATION = (
    'alignment_penalty="auto" (the default) chooses the penalty on held-out rows: give '
    "validation_fraction > 0 (e.g. 0.2), or a number for alignment_penalty (0: the "
    "paper's Algorithm 1)."
)


class _Aligned(torch.nn.Module):
    """A fitted :class:`GroupNetwork` with frozen trunk and per-group ``R_g`` before it."""

    def __init__(self, base: GroupNetwork, n_groups: int) -> None:
        super().__init__()
        self.base = base
        d = base.x_mean.shape[0]
        eye = torch.eye(d, dtype=base.x_mean.dtype)
        self.alignment = torch.nn.Parameter(eye.repeat(n_groups, 1, 1))
        self.register_buffer("eye", eye)
        for p in base.trunk.parameters():
            p.requires_grad_(False)

    def forward(self, x, tasks):
        s = (x - self.base.x_mean) / self.base.x_scale
        R = torch.where(
            (tasks >= 0).reshape(-1, 1, 1), self.alignment[tasks.clamp(min=0)], self.eye
        )  # groups unseen in fit: no alignment
        z = self.base.trunk(torch.einsum("nd,nde->ne", s, R))
        return self.base.head_outputs(z, tasks)


class CovarianceAlignedMTL(MetaEstimatorMixin, BaseEstimator):
    """Algorithm 1 of Wu, Zhang & Re: per-group alignment matrices before a fixed trunk.

    Fits the template (a neural FairMTL model with one head per group), then, with its
    trunk fixed, trains one alignment matrix per group and the heads on the sum of the
    groups' mean losses (see the module docstring). By default the penalty on
    ``R_g - I`` is chosen on held-out rows of the training data, so that groups whose
    features need no alignment keep ``R_g`` near the identity.

    Parameters
    ----------
    estimator : FairMTLMLPClassifier or FairMTLMLPRegressor
        Template with ``heads="per_group"``, numeric features only (the deprecated
        ``FairMTLClassifier(model="mlp", heads="per_group")`` is also accepted).
    prefit : bool, default=False
        True: ``estimator`` is already fitted (on the same groups); its trunk and heads
        are used as they are instead of fitting a clone first. Its held-out figures are
        then only as honest as the rows it was fitted on: with False, the clone is
        fitted without the held-out rows, so no stage has seen them.
    max_epochs : int, default=300
        Full-batch Adam steps of the alignment stage.
    learning_rate : float, default=0.01
    alignment_penalty : float >= 0 or "auto", default="auto"
        ``alignment_penalty * sum_g ||R_g - I||_F**2`` added to the loss (0: the paper's
        Algorithm 1, unpenalised). "auto": each of :data:`PENALTY_GRID` is trained and
        the one with the lowest loss on the held-out rows of the training data
        (``validation_fraction`` of each group's rows, never used by the gradient steps)
        is kept; the largest holds every ``R_g`` at the identity (the heads alone are
        retrained), so groups whose features are already aligned are not made worse by
        matrices fitted to noise. It costs one alignment stage per penalty (five). In the
        transfer benchmark (10 seeds) its held-out worst-group error matched the paper's
        penalty 0 on rotated features and beat it on aligned ones. Needs
        ``validation_fraction > 0``.
    validation_fraction : float in [0, 1), default=0.2
        Share of each group's rows held out to keep the best epoch and, with "auto",
        the penalty (0: the last epoch; a number for ``alignment_penalty`` then). The
        template is fitted on the other rows (unless ``prefit``).
    n_iter_no_change : int, default=30
        Epochs without a better held-out loss before stopping.
    random_state : int or None, default=None
        Seed of the held-out split.

    Attributes
    ----------
    estimator_ : FairMTLMLPClassifier or FairMTLMLPRegressor
        The fitted template (the trunk and the starting heads).
    alignment_ : ndarray of shape (n_groups, n_features, n_features)
        ``R_g`` of each group, in the order of ``groups_``.
    groups_ : ndarray
        Group labels seen in fit (the template's order).
    history_ : list of float
        Held-out (or training) loss after each epoch of the alignment stage.
    alignment_penalty_ : float
        The penalty used (the chosen one with "auto").
    classes_ : ndarray
        Class labels (classification only).

    Examples
    --------
    >>> from fairmtl import FairMTLMLPRegressor
    >>> from fairmtl.datasets import make_hospitals
    >>> from fairmtl.transfer import CovarianceAlignedMTL
    >>> data = make_hospitals(3, n_samples=300, task="regression", random_state=0)
    >>> template = FairMTLMLPRegressor((8,), heads="per_group", max_epochs=5,
    ...     random_state=0)
    >>> model = CovarianceAlignedMTL(template, max_epochs=5).fit(
    ...     data.data, data.target, groups=data.groups)
    >>> model.alignment_.shape, model.predict(data.data, groups=data.groups).shape
    ((3, 8, 8), (300,))
    """

    _parameter_constraints: dict[str, list[Any]] = {
        "estimator": [
            FairMTLMLPClassifier,
            FairMTLMLPRegressor,
            FairMTLClassifier,  # the deprecated model="mlp" spelling
            FairMTLRegressor,
        ],
        "prefit": ["boolean"],
        "max_epochs": [Interval(numbers.Integral, 1, None, closed="left")],
        "learning_rate": [Interval(numbers.Real, 0, None, closed="neither")],
        "alignment_penalty": [Interval(numbers.Real, 0, None, closed="left"), StrOptions({"auto"})],
        "validation_fraction": [Interval(numbers.Real, 0, 1, closed="left")],
        "n_iter_no_change": [Interval(numbers.Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        estimator,
        *,
        prefit=False,
        max_epochs=300,
        learning_rate=0.01,
        alignment_penalty="auto",
        validation_fraction=0.2,
        n_iter_no_change=30,
        random_state=None,
    ):
        self.estimator = estimator
        self.prefit = prefit
        self.max_epochs = max_epochs
        self.learning_rate = learning_rate
        self.alignment_penalty = alignment_penalty
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.random_state = random_state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.estimator_type = get_tags(self.estimator).estimator_type
        return tags

    # -- fit -------------------------------------------------------------------------
    def fit(self, X, y, *, groups, sample_weight=None):
        """Fit the template, then the alignment matrices and heads with the trunk fixed.

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
        self._check_template()
        data = check_data(X, y, groups, min_groups=1)
        weight = np.ones(len(data.y)) if sample_weight is None else np.asarray(sample_weight)
        # one split for every stage: the rows that choose the epoch and the penalty are
        # never seen by the template either (else its heads fit them and "auto" leans to
        # the identity)
        held = self._split(data.codes())
        if self.prefit:
            check_is_fitted(self.estimator, "network_state_")
            self.estimator_ = self.estimator
        else:
            fit_rows = np.flatnonzero(~held)
            self.estimator_ = clone(self.estimator).fit(
                data.X[fit_rows],
                data.y[fit_rows],
                groups=data.groups[fit_rows],
                sample_weight=None if sample_weight is None else weight[fit_rows],
            )
        self.groups_ = np.asarray(self.estimator_.groups_)
        if is_classifier(self.estimator_):
            self.classes_ = self.estimator_.classes_
        _, tasks = self.estimator_._tasks_for(data.X, data.groups, "fit")
        target, loss_name = _encoded_target(self.estimator_, data.y)
        penalties = [self.alignment_penalty]
        if self.alignment_penalty == "auto":
            if self.validation_fraction == 0:
                raise ValueError(MSG_AUTO_NEEDS_VALIDATION)
            penalties = list(PENALTY_GRID)
        best = None
        for penalty in penalties:
            state, history, score = self._align(
                data.X, target, tasks, weight, held, loss_name, penalty
            )
            if best is None or score < best[2]:
                best = (state, history, score, penalty)
        self.state_, self.history_, _, self.alignment_penalty_ = best
        self.alignment_ = self.state_["alignment"].copy()
        return self

    def _check_template(self) -> None:
        params = self.estimator.get_params()
        if params.get("model", "mlp") != "mlp" or params.get("heads") != "per_group":
            raise DataValidationError(MSG_ALIGN_MLP.format(template=self.estimator))
        if params.get("categorical_features"):
            raise DataValidationError(
                MSG_ALIGN_CATEGORICAL.format(columns=params["categorical_features"])
            )

    def _network(self, state: dict[str, np.ndarray] | None = None) -> _Aligned:
        spec = self.estimator_.network_spec_
        keys = ("n_numeric", "n_groups", "n_outputs", "hidden_layer_sizes", "heads", "dropout")
        base = GroupNetwork(**{k: spec[k] for k in keys})
        base.load_state_dict(
            {k: torch.as_tensor(v) for k, v in self.estimator_.network_state_.items()}
        )
        net = _Aligned(base.double(), spec["n_groups"]).double()
        if state is not None:
            net.load_state_dict({k: torch.as_tensor(v) for k, v in state.items()})
        return net

    def _split(self, codes: np.ndarray) -> np.ndarray:
        """Boolean mask of held-out rows: ``validation_fraction`` of each group's rows
        (``codes``: each row's group index), at least one row of each group kept."""
        rng = check_random_state(self.random_state)
        held = np.zeros(len(codes), dtype=bool)
        if self.validation_fraction == 0:
            return held
        for g in np.unique(codes):
            rows = rng.permutation(np.flatnonzero(codes == g))
            n_held = int(round(self.validation_fraction * len(rows)))
            if 0 < n_held < len(rows):
                held[rows[:n_held]] = True
        return held

    def _align(self, X, target, tasks, weight, held, loss_name, penalty: float):
        """Train ``R_g`` and the heads on the rows not ``held``; the best epoch's state
        (scored on the ``held`` rows), the history, its score."""
        net = self._network()
        net.train(False)  # dropout off: the trunk is fixed
        loss_fn = torch_loss(loss_name)
        x = torch.as_tensor(np.array(X, dtype=np.float64))  # writable: X may be read-only
        t = torch.as_tensor(tasks, dtype=torch.long)
        y = torch.as_tensor(target, dtype=torch.float64)
        w = torch.as_tensor(weight, dtype=torch.float64)
        G = net.alignment.shape[0]

        def group_sum(rows: np.ndarray):
            rows_t = torch.as_tensor(rows)
            losses = loss_fn(net(x[rows_t], t[rows_t]), y[rows_t]) * w[rows_t]
            totals = torch.zeros(G, dtype=torch.float64).index_add(0, t[rows_t], losses)
            sizes = torch.zeros(G, dtype=torch.float64).index_add(0, t[rows_t], w[rows_t])
            return (totals / sizes.clamp(min=1e-12)).sum()

        train_rows, held_rows = np.flatnonzero(~held), np.flatnonzero(held)
        params = [p for p in net.parameters() if p.requires_grad]
        optimiser = torch.optim.Adam(params, lr=self.learning_rate)
        best, best_state, history, stale = np.inf, None, [], 0
        for _ in range(self.max_epochs):
            optimiser.zero_grad()
            loss = group_sum(train_rows)
            if penalty > 0:
                loss = loss + penalty * (net.alignment - net.eye).pow(2).sum()
            loss.backward()
            optimiser.step()
            with torch.no_grad():
                score = float(group_sum(held_rows if held_rows.size else train_rows))
            history.append(score)
            if score < best - 1e-9:
                best, stale = score, 0
                best_state = copy.deepcopy(net.state_dict())
            else:
                stale += 1
                if stale >= self.n_iter_no_change:
                    break
        net.load_state_dict(best_state)
        state = {k: v.detach().cpu().numpy() for k, v in net.state_dict().items()}
        return state, history, best

    # -- predict -----------------------------------------------------------------------
    def _outputs(self, X, groups) -> np.ndarray:
        check_is_fitted(self, "state_")
        X = check_array(X, dtype=np.float64)
        X, tasks = self.estimator_._tasks_for(X, groups, "predict")
        net = self._network(self.state_)
        net.train(False)
        with torch.no_grad():
            out = net(torch.as_tensor(X), torch.as_tensor(np.asarray(tasks), dtype=torch.long))
        return out.numpy()

    def predict(self, X, *, groups):
        """Prediction of each row (class label or value).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        groups : array-like of shape (n_samples,)

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
        """
        out = self._outputs(X, groups)
        if not is_classifier(self.estimator_):
            return out[:, 0]
        if out.shape[1] == 1:
            return self.classes_[(out[:, 0] > 0).astype(int)]
        return self.classes_[out.argmax(axis=1)]

    def decision_function(self, X, *, groups):
        """Decision values of each row (classification)."""
        out = self._outputs(X, groups)
        return out[:, 0] if out.shape[1] == 1 else out

    def predict_proba(self, X, *, groups):
        """Class probabilities of each row (classification, logistic loss)."""
        out = torch.as_tensor(self._outputs(X, groups))
        if out.shape[1] == 1:
            p = torch.sigmoid(out[:, 0]).numpy()
            return np.column_stack([1.0 - p, p])
        return torch.softmax(out, dim=1).numpy()

    def score(self, X, y, sample_weight=None, *, groups):
        """Accuracy (classification) or R^2 (regression) on ``(X, y)``."""
        y_pred = self.predict(X, groups=groups)
        if is_classifier(self.estimator_):
            return accuracy_score(y, y_pred, sample_weight=sample_weight)
        return r2_score(y, y_pred, sample_weight=sample_weight)
