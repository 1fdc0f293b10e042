"""What a fairmtl classifier or regressor does with its decision values, linear or MLP:
the target's encoding, ``predict``, ``predict_proba``, ``decision_function`` and ``score``.

Each estimator provides ``_raw_outputs(X, groups, method)``: the decision values of every
row under its group's model, shape (n_samples, n_outputs).
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit, logit, softmax
from sklearn.base import ClassifierMixin, RegressorMixin
from sklearn.metrics import accuracy_score, r2_score
from sklearn.preprocessing import LabelEncoder
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets

from fairmtl.exceptions import DataValidationError
from fairmtl.losses import get_loss

__all__ = ["GroupClassifierMixin", "GroupRegressorMixin"]

MSG_CLASSIFIER_ONE_CLASS = (
    "The target has only one class ({value!r}): a classifier needs at least two classes."
)
MSG_CLASSIFIER_LOSS = "loss={loss!r} is not a classification loss; use 'logistic' or 'hinge'."
MSG_THRESHOLD_LOSS = (
    "threshold is a cut-off on the positive class's probability: it needs "
    "loss='logistic' (got loss={loss!r}). Use loss='logistic' or threshold=None."
)
MSG_THRESHOLD_MULTICLASS = (
    "threshold applies to two classes; the target has {n_classes} classes ({classes}). Use "
    "threshold=None (the most probable class is predicted)."
)
MSG_REGRESSOR_LOSS = "loss={loss!r} is not a regression loss; use 'squared' or 'huber'."
MSG_RATE_REGRESSION = (
    "objective={objective!r} constrains classification rates; a regressor cannot use it. "
    "Use 'bounded', 'minimax' or 'gap'-free objectives instead."
)
RATE_OBJECTIVES = ("demographic_parity", "equal_opportunity", "equalized_odds")


class GroupClassifierMixin(ClassifierMixin):
    """Classes, probabilities and accuracy from per-group decision values."""

    _y_numeric = False

    def _validate_params(self):
        super()._validate_params()
        if self.threshold is not None and self.loss != "logistic":
            raise ValueError(MSG_THRESHOLD_LOSS.format(loss=self.loss))

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
        if n_classes > 2 and self.threshold is not None:
            classes = ", ".join(repr(c) for c in self.classes_[:5].tolist())
            raise DataValidationError(
                MSG_THRESHOLD_MULTICLASS.format(n_classes=n_classes, classes=classes)
            )
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

        With two classes, the positive class where its probability exceeds
        ``threshold`` (0.5 when None); else the most probable class.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        groups : array-like of shape (n_samples,), default=None

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
        """
        z = self._raw_outputs(X, groups, "predict")
        if z.shape[1] > 1:
            return self.classes_[z.argmax(axis=1)]
        # p > t  <=>  logit(p) > logit(t): compared on the logit, exactly
        # models saved before the parameter existed have no attribute: threshold 0.5
        threshold = getattr(self, "threshold", None)
        cut = 0.0 if threshold is None else float(logit(threshold))
        return self.classes_[(z[:, 0] > cut).astype(int)]

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


class GroupRegressorMixin(RegressorMixin):
    """Predictions and R^2 from per-group outputs."""

    _y_numeric = True

    def _encode_target(self, y):
        if self.loss not in ("squared", "huber"):
            raise DataValidationError(MSG_REGRESSOR_LOSS.format(loss=self.loss))
        if self.objective in RATE_OBJECTIVES:
            raise DataValidationError(MSG_RATE_REGRESSION.format(objective=self.objective))
        return np.asarray(y, dtype=float), get_loss(self.loss), 1, "regression"

    def predict(self, X, *, groups=None):
        """Predicted value of each row, with its group's model.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        groups : array-like of shape (n_samples,), default=None

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
        """
        return self._raw_outputs(X, groups, "predict")[:, 0]

    def score(self, X, y, sample_weight=None, *, groups=None):
        """R^2 on ``(X, y)``; the arguments as in :meth:`GroupClassifierMixin.score`."""
        return r2_score(y, self.predict(X, groups=groups), sample_weight=sample_weight)
