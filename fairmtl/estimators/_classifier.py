"""FairMTLClassifier: group-as-task linear classifiers under fairness objectives."""

from __future__ import annotations

import numpy as np
from scipy.special import expit, softmax
from sklearn.base import ClassifierMixin
from sklearn.metrics import accuracy_score
from sklearn.preprocessing import LabelEncoder
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets

from fairmtl.estimators._base import FairMTLBase
from fairmtl.exceptions import DataValidationError
from fairmtl.losses import get_loss

__all__ = ["FairMTLClassifier"]

MSG_CLASSIFIER_ONE_CLASS = (
    "The target has only one class ({value!r}): a classifier needs at least two classes."
)
MSG_CLASSIFIER_LOSS = "loss={loss!r} is not a classification loss; use 'logistic' or 'hinge'."


class FairMTLClassifier(ClassifierMixin, FairMTLBase):
    """Linear classifiers, one per group, shared and balanced across groups.

    Each group (hospital, demographic group) is a task. Its model is built by the
    ``sharing`` scheme and all group losses are combined by the ``objective``; the convex
    problem is solved exactly with cvxpy (CLARABEL, with a fallback chain).

    Parameters
    ----------
    sharing : {"offset", "shared", "independent", "lowrank"}, default="offset"
        How group models share parameters; see :mod:`fairmtl.models`.
    objective : str, default="minimax"
        One of "average", "balanced", "minimax", "tilted", "bounded", "gap" (a local
        convex-concave solve; see :mod:`fairmtl.objectives`), "no_harm", "chebyshev",
        "demographic_parity", "equal_opportunity", "equalized_odds".
    loss : {"logistic", "hinge"}, default="logistic"
        Logistic loss (multinomial for 3+ classes) or hinge loss (Crammer-Singer for 3+).
    epsilon : float or array-like of shape (n_groups,), default=None
        Loss bound for "bounded", slack for "no_harm", allowed gap above the average
        loss for "gap", allowed gap of mean scores for the rate objectives.
    tilt : float, default=None
        Temperature of "tilted" (> 0).
    preference : array-like of shape (n_groups,), default=None
        Non-negative weights of "chebyshev" (None: equal).
    sharing_strength : float, default=1.0
        Coupling of the group models ("offset": squared distance to their mean,
        "lowrank": nuclear norm).
    alpha : float, default=1e-4
        L2 penalty: ``alpha * ||w||^2`` on the shared model, ``alpha * sum_g rho_g ||w_g||^2``
        on group models (``rho_g``: group's share of the weight). Intercepts are not penalised.
    reference : {"pooled", "independent"}, default="pooled"
        The reference fit of "no_harm".
    solver : {"auto", "CLARABEL", "SCS", "ECOS"}, default="auto"
        First solver of the fallback chain ("auto": CLARABEL).
    group_column : str or list of str, default=None
        Take the groups from these columns of a DataFrame X (they are not features).
    max_time : float, default=None
        Time limit per solver call, in seconds.
    random_state : int, RandomState instance or None, default=None
        Unused by the exact path (deterministic); kept for API symmetry.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    groups_ : ndarray of shape (n_groups,)
        Group labels seen in fit, in task-id order.
    group_sizes_ : Series
        Rows per group in fit.
    n_groups_ : int
    coef_ : ndarray of shape (n_groups, n_features) or (n_groups, n_classes, n_features)
    intercept_ : ndarray of shape (n_groups,) or (n_groups, n_classes)
    group_coef_ : ndarray of shape (n_groups, n_features, n_outputs)
    group_intercept_ : ndarray of shape (n_groups, n_outputs)
    shared_coef_, shared_intercept_ : ndarray or None
        The shared part used for groups unseen in fit (None for "independent").
    group_losses_ : Series
        Training loss per group.
    solver_info_ : dict
        status, solver, fallback_from, iterations, time, objective, gap, attempts.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Only when X has string column names.

    See Also
    --------
    FairMTLRegressor : The same for regression.
    fairmtl.FrontierSearch : Sweeps a knob and picks a model.

    Examples
    --------
    >>> from fairmtl import FairMTLClassifier
    >>> from fairmtl.datasets import make_hospitals
    >>> data = make_hospitals(5, n_samples=600, random_state=0)
    >>> clf = FairMTLClassifier(objective="minimax").fit(
    ...     data.data, data.target, groups=data.groups)
    >>> clf.group_losses_.max() <= FairMTLClassifier(objective="average").fit(
    ...     data.data, data.target, groups=data.groups).group_losses_.max() + 1e-6
    True
    """

    _y_numeric = False

    def __init__(
        self,
        sharing="offset",
        *,
        objective="minimax",
        loss="logistic",
        epsilon=None,
        tilt=None,
        preference=None,
        sharing_strength=1.0,
        alpha=1e-4,
        reference="pooled",
        solver="auto",
        group_column=None,
        max_time=None,
        random_state=None,
    ):
        self.sharing = sharing
        self.objective = objective
        self.loss = loss
        self.epsilon = epsilon
        self.tilt = tilt
        self.preference = preference
        self.sharing_strength = sharing_strength
        self.alpha = alpha
        self.reference = reference
        self.solver = solver
        self.group_column = group_column
        self.max_time = max_time
        self.random_state = random_state

    def _encode_target(self, y):
        if self.loss not in ("logistic", "hinge"):
            raise DataValidationError(MSG_CLASSIFIER_LOSS.format(loss=self.loss))
        check_classification_targets(y)
        encoder = LabelEncoder().fit(y)
        self.classes_ = encoder.classes_
        codes = encoder.transform(y)
        n_classes = len(self.classes_)
        if n_classes < 2:
            raise DataValidationError(MSG_CLASSIFIER_ONE_CLASS.format(value=self.classes_[0]))
        if n_classes == 2:
            return np.where(codes == 1, 1.0, -1.0), get_loss(self.loss), 1, "binary"
        multi = "multinomial" if self.loss == "logistic" else "multiclass_hinge"
        return codes, get_loss(multi), n_classes, "multiclass"

    def decision_function(self, X, *, groups=None):
        """Decision values: a logit (two classes) or one score per class.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        groups : array-like of shape (n_samples,), default=None

        Returns
        -------
        scores : ndarray of shape (n_samples,) or (n_samples, n_classes)
        """
        z = self._raw_outputs(X, groups, "decision_function")
        return z[:, 0] if z.shape[1] == 1 else z

    def predict(self, X, *, groups=None):
        """Predicted class of each row, with its group's model.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        groups : array-like of shape (n_samples,), default=None

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
        """
        z = self._raw_outputs(X, groups, "predict")
        index = (z[:, 0] > 0).astype(int) if z.shape[1] == 1 else z.argmax(axis=1)
        return self.classes_[index]

    def _has_proba(self) -> bool:
        return self.loss == "logistic"

    @available_if(_has_proba)
    def predict_proba(self, X, *, groups=None):
        """Class probabilities (logistic loss only).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        groups : array-like of shape (n_samples,), default=None

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
        """
        z = self._raw_outputs(X, groups, "predict_proba")
        if z.shape[1] == 1:
            p = expit(z[:, 0])
            return np.column_stack([1.0 - p, p])
        return softmax(z, axis=1)

    @available_if(_has_proba)
    def predict_log_proba(self, X, *, groups=None):
        """Logarithm of :meth:`predict_proba`."""
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X, groups=groups))

    def score(self, X, y, sample_weight=None, *, groups=None):
        """Accuracy on ``(X, y)``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        sample_weight : array-like of shape (n_samples,), default=None
        groups : array-like of shape (n_samples,), default=None

        Returns
        -------
        score : float
        """
        return accuracy_score(y, self.predict(X, groups=groups), sample_weight=sample_weight)
