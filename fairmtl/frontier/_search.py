"""FrontierSearch: sweep a trade-off, evaluate every group honestly, pick a model."""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, clone, is_classifier
from sklearn.utils._param_validation import HasMethods, Interval

from fairmtl.estimators._input import split_group_columns
from fairmtl.estimators._tuning import START_ALPHA
from fairmtl.exceptions import DataValidationError
from fairmtl.frontier._baselines import check_baseline_names, fit_baselines
from fairmtl.frontier._choice import choose, refit_best
from fairmtl.frontier._cross_validation import cross_validate
from fairmtl.frontier._evaluate import evaluate_all
from fairmtl.frontier._parallel import fit_sweep
from fairmtl.frontier._predictors import FrontierModel
from fairmtl.frontier._prepare import preprocess, search_rows, split_rows
from fairmtl.frontier._results import build_frontier_table, build_results
from fairmtl.frontier._settings import DEFAULT_SWEEP, settle_auto, sweep_settings
from fairmtl.metrics import METRIC_NAMES_CLASSIFICATION, METRIC_NAMES_REGRESSION

__all__ = ["FrontierSearch", "DEFAULT_SWEEP"]

MSG_NO_GROUPS = (
    "FrontierSearch needs groups: pass groups= to fit or set group_column on the estimator."
)


class FrontierSearch(BaseEstimator):
    """Sweep a fairness–accuracy trade-off and choose a model on held-out data.

    The data are split by group x label into train, validation and test. Every setting
    of the sweep is fitted on train; baselines are fitted on the same split and features.
    The policy chooses on validation; everything reported is measured on test, with
    per-group bootstrap intervals. ``best_estimator_`` is the chosen setting refitted on
    train + validation.

    Parameters
    ----------
    estimator : FairMTLClassifier or FairMTLRegressor, default=None
        The model to sweep (None: ``FairMTLClassifier(objective="bounded")``).
    sweep : dict of knob -> list or "auto", default=None
        Knobs: "epsilon" ("auto": from the minimax loss to the average fit's worst group
        loss, or from 0 to the average fit's score gap for rate objectives; swept with
        a list of sharing strengths, each strength gets its own range), "tilt" (log
        grid), "preference" (spread on the simplex), "sharing_strength" (log grid),
        "alpha", "rate_tolerance" ("auto": ``[None, 0.0]``, each model without and with
        per-group thresholds that equalise its training rates; rate objectives only),
        "threshold" (the decision threshold on the positive class's probability; "auto":
        up to 5 values from 0.5 towards the majority class, 0.95 or 0.05; binary
        classification, logistic loss). Several knobs give their product. A threshold
        needs no refit: each fit is evaluated at every threshold. None: the
        objective's natural knobs (:data:`DEFAULT_SWEEP`): epsilon for "bounded", tilt,
        preference, and for the rate objectives ``{"epsilon": "auto", "threshold":
        "auto"}`` (with logistic loss), which reaches much smaller rate gaps on test data
        than epsilon alone where groups are small (their rates are noisy unless near 0).
    n_points : int, default=20
        Values per "auto" knob (at most 5 for "threshold").
    metrics : sequence of str, default=None
        Per-group metrics to report; the first is the primary one (None: accuracy first
        for classification, mse for regression).
    baselines : sequence of str, default=("pooled", "independent", "fairlearn")
        "pooled" and "independent" (scikit-learn), "fairlearn" (GridSearch with the
        matching constraint), "expgrad" (ExponentiatedGradient, slow with many groups),
        "threshold" (ThresholdOptimizer), "neural" (fairmtl's MLP trained for the
        worst group, ``FairMTLMLPClassifier(objective="minimax")``; needs the torch
        extra).
    policy : str or callable, default="accuracy_within:0.01"
        "accuracy_within:d", "worst_group_within:d" or "knee"; see
        :func:`fairmtl.frontier.select`.
    n_jobs : int, default=1
        Parallel fits with joblib (-1: all cores).
    client : dask.distributed.Client or str, default=None
        Run the fits on this Dask cluster (a Client or a scheduler address).
    random_state : int, default=0
        Seed of the split and the bootstrap.
    val_size, test_size : float, default=0.2
    n_boot : int, default=200
        Bootstrap resamples of the test set (intervals, robustness, harm).
    small_group_threshold : int, default=30
        Groups with fewer test rows are flagged as uncertain, and the worst-group
        criteria and the gaps between groups (demographic parity and equalised odds
        differences; the policy's, the frontier's, the headline's) range over the groups
        with at least this many rows of the split they are measured on (all groups when
        none has): a group of a few rows would decide them by chance.
    cv : int or None, default=None
        None: the policy chooses on the validation split. An int K: it chooses on K-fold
        cross-validation of the training and validation rows together (folds stratified
        by group and class; every setting refitted on each fold's training rows), so
        that each group's figures rest on all its non-test rows, not on a fifth of them.
        Costs K more fits per setting. The reported figures stay on the test split.
    title : str, default=None

    Attributes
    ----------
    results_ : dict
        Plain, JSON-able results (the report's input; see :mod:`fairmtl.report`).
    frontier_ : DataFrame
        One row per fitted model x group x metric on test, with intervals.
    pareto_ : DataFrame
        The rows of ``frontier_`` of non-dominated models.
    estimators_ : list
        Every fitted model as fitted, in the order of ``results_["models"]``: fairmtl
        estimators (predict with ``groups=``), scikit-learn and fairlearn baselines (their
        own calling conventions) and, for the independent baseline, a dict of group ->
        model. To predict with any of them, use ``models_``.
    models_ : list of FrontierModel
        The same models, each usable on new raw data in one way:
        ``models_[i].predict(X, groups)`` and ``models_[i].predict_proba(X, groups)``
        (None without probabilities), with ``X`` the raw features (the search's
        preprocessing is applied) and ``groups`` each row's group as passed to ``fit``.
        ``models_[i].estimator`` is ``estimators_[i]``; ``label``, ``method`` and
        ``source`` are as in ``results_["models"]``.
    settings_ : list of dict
        The knob values of every setting of the sweep, exactly (infeasible ones included).
    sweep_ : dict
        The sweep run: ``sweep``, or the objective's default knobs.
    best_estimator_ : estimator or Pipeline
        The chosen setting refitted on train + validation; a Pipeline (preprocessor, model)
        when the features needed preprocessing. Predict with ``groups=``.
    best_params_ : dict
        The chosen setting's knob values, exactly as fitted.
    best_refit_params_ : dict
        The knob values of ``best_estimator_``: ``best_params_``, unless the chosen loss
        bound was infeasible on train + validation and had to be raised (with a warning).
    best_index_ : int
        Position of the chosen model in ``estimators_``.
    pareto_mask_ : ndarray of bool
        Non-dominated models on test (overall and worst-group primary metric).
    pareto_frequency_ : ndarray of float
        Share of test bootstrap resamples in which each model is non-dominated.
    tuned_params_ : dict
        The estimator's "auto" knobs (``alpha``, ``sharing_strength``) as settled by its
        own cross-validation on the training split before the sweep; empty when the
        estimator had numbers.
    infeasible_settings_ : int
        Settings of the sweep without a feasible model (left out).
    most_accurate_index_ : int
        Position in ``estimators_`` of the model with the best overall primary metric
        on the split the policy chooses on (validation, or out of fold with ``cv``).
    split_ : SplitResult
        Positions of the train, validation and test rows (after rows without a target
        were dropped).
    task_ : {"classification", "regression"}
        From the estimator.
    classes_ : ndarray or None
        Class labels of the training split (None for regression).
    target_name_ : str
        The target's name (``y.name``, or "target").
    preprocessor_ : ColumnTransformer or None
        Fitted on the training split when the features needed preprocessing
        (non-numeric or missing values; :func:`fairmtl.data.make_preprocessor`), else None.
    feature_names_out_ : list of str or None
        The preprocessed feature names (None without preprocessing).
    boot_indices_ : ndarray of shape (n_boot, n_test) or None
        The test rows of each bootstrap resample, shared by every model (None when
        ``n_boot=0``).

    Examples
    --------
    >>> from fairmtl import FairMTLClassifier, FrontierSearch
    >>> from fairmtl.datasets import make_hospitals
    >>> data = make_hospitals(4, n_samples=800, random_state=0)
    >>> search = FrontierSearch(FairMTLClassifier(objective="bounded"), n_points=3,
    ...                         baselines=("pooled",), n_boot=20).fit(
    ...     data.data, data.target, groups=data.groups)
    >>> len(search.results_["models"])  # the sweep's fits and the pooled baseline
    7
    """

    _parameter_constraints: dict[str, Any] = {
        "estimator": [HasMethods(["fit", "predict"]), None],
        "sweep": [dict, None],
        "n_points": [Interval(numbers.Integral, 1, None, closed="left")],
        "metrics": ["array-like", None],
        "baselines": ["array-like", None],
        "policy": [str, callable],
        "n_jobs": [numbers.Integral, None],
        "client": "no_validation",  # a dask Client or a scheduler address
        "random_state": ["random_state"],
        "val_size": [Interval(numbers.Real, 0, 1, closed="left")],
        "test_size": [Interval(numbers.Real, 0, 1, closed="left")],
        "n_boot": [Interval(numbers.Integral, 0, None, closed="left")],
        "small_group_threshold": [Interval(numbers.Integral, 0, None, closed="left")],
        "cv": [Interval(numbers.Integral, 2, None, closed="left"), None],
        "title": [str, None],
    }

    def __init__(
        self,
        estimator=None,
        *,
        sweep=None,
        n_points=20,
        metrics=None,
        baselines=("pooled", "independent", "fairlearn"),
        policy="accuracy_within:0.01",
        n_jobs=1,
        client=None,
        random_state=0,
        val_size=0.2,
        test_size=0.2,
        n_boot=200,
        small_group_threshold=30,
        cv=None,
        title=None,
    ):
        self.estimator = estimator
        self.sweep = sweep
        self.n_points = n_points
        self.metrics = metrics
        self.baselines = baselines
        self.policy = policy
        self.n_jobs = n_jobs
        self.client = client
        self.random_state = random_state
        self.val_size = val_size
        self.test_size = test_size
        self.n_boot = n_boot
        self.small_group_threshold = small_group_threshold
        self.cv = cv
        self.title = title

    # -- fit: a handful of named steps ------------------------------------------------
    def fit(self, X, y, *, groups=None, sample_weight=None, data_info=None):
        """Fit the sweep and the baselines, evaluate them, choose a model.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)
            Raw features; non-numeric or incomplete columns are preprocessed
            (:func:`fairmtl.data.make_preprocessor`, fitted on the training split).
        y : array-like of shape (n_samples,)
        groups : array-like of shape (n_samples,) or (n_samples, n_columns), default=None
        sample_weight : array-like of shape (n_samples,), default=None
        data_info : dict, default=None
            Provenance for the report: source, sha256, rows_dropped, command, experiment.

        Returns
        -------
        self : FrontierSearch
        """
        template = self._template()
        X, groups = split_group_columns(X, groups, template.group_column)
        template.set_params(group_column=None)
        if groups is None:
            raise DataValidationError(MSG_NO_GROUPS)
        self.task_ = "classification" if is_classifier(template) else "regression"
        self.target_name_ = str(getattr(y, "name", None) or "target")
        rows, data_info = search_rows(
            X,
            y,
            groups,
            sample_weight,
            task=self.task_,
            column=self.target_name_,
            data_info=data_info,
        )
        self.split_ = split_rows(
            rows,
            val_size=self.val_size,
            test_size=self.test_size,
            random_state=self.random_state,
        )
        data, self.preprocessor_, self.feature_names_out_ = preprocess(rows, self.split_)
        train = data["train"]
        self.classes_ = np.unique(train.y) if self.task_ != "regression" else None
        metrics = self._metric_names()
        template, self.tuned_params_ = settle_auto(template, train)
        self.sweep_, self.settings_ = sweep_settings(
            template,
            self.sweep,
            train,
            n_points=self.n_points,
            task=self.task_,
            classes=self.classes_,
            random_state=self.random_state,
        )
        fitted, self.infeasible_settings_ = fit_sweep(
            template, self.settings_, train, n_jobs=self.n_jobs, client=self.client
        )
        fitted += self._fit_baselines(template, train)
        self._score(template, fitted, data, metrics)
        self._choose(fitted, metrics[0])
        self._refit(template, rows)
        self._collect(fitted, data, metrics, rows.X, data_info or {})
        return self

    # -- steps -----------------------------------------------------------------------
    def _template(self):
        """A clone of the estimator (default: a bounded classifier), parameters checked."""
        from fairmtl.estimators import FairMTLClassifier

        self._validate_params()
        check_baseline_names(tuple(self.baselines or ()))
        template = clone(self.estimator) if self.estimator is not None else None
        return template or FairMTLClassifier(objective="bounded")

    def _metric_names(self) -> list[str]:
        if self.metrics is not None:
            return list(self.metrics)
        if self.task_ == "regression":
            return list(METRIC_NAMES_REGRESSION)
        return list(METRIC_NAMES_CLASSIFICATION)

    def _fit_baselines(self, template, train) -> list:
        return fit_baselines(
            tuple(self.baselines or ()),
            train.X,
            train.y,
            train.groups,
            task=self.task_,
            objective=template.objective,
            alpha=max(getattr(template, "alpha", START_ALPHA), 1e-8),  # MLPs: no alpha
            n_points=self.n_points,
            classes=self.classes_,
            random_state=self.random_state,
            sample_weight=train.weights,
        )

    def _score(self, template, fitted, data, metrics) -> None:
        """Every model on validation and test (with bootstrap); the sweep's models out of
        fold instead of on validation with ``cv``."""
        scoring = dict(
            task=self.task_,
            metrics=metrics,
            classes=self.classes_,
            min_rows=self.small_group_threshold,
            random_state=self.random_state,
        )
        self.boot_indices_ = evaluate_all(
            fitted, data["val"], data["test"], n_boot=self.n_boot, **scoring
        )
        if self.cv is not None:
            rows = data["train"].join(data["val"])
            cross_validate(template, fitted, rows, cv=self.cv, n_jobs=self.n_jobs, **scoring)

    def _choose(self, fitted, primary: str) -> None:
        choice = choose(fitted, primary, self.policy, bootstrap=self.boot_indices_ is not None)
        self.pareto_mask_ = choice.pareto_mask
        self.pareto_frequency_ = choice.pareto_frequency
        self.best_index_ = choice.best_index
        self.most_accurate_index_ = choice.most_accurate_index
        self.best_params_ = choice.best_params

    def _refit(self, template, rows) -> None:
        """The chosen setting on train + validation (``best_estimator_``)."""
        at = np.concatenate([self.split_.train, self.split_.val])
        self.best_estimator_, self.best_refit_params_ = refit_best(
            template, self.best_params_, rows, at, self.preprocessor_
        )

    def _collect(self, fitted, data, metrics, X, data_info) -> None:
        """The fitted models, the results and the frontier tables."""
        self.estimators_ = [f.estimator for f in fitted]
        self.models_ = [
            FrontierModel(
                f.predictor, self.preprocessor_, label=f.label, method=f.method, source=f.source
            )
            for f in fitted
        ]
        self.results_ = build_results(self, fitted, data, metrics, X, data_info)
        self.frontier_ = build_frontier_table(self.results_)
        pareto_ids = [m["id"] for m in self.results_["models"] if m["pareto"]]
        self.pareto_ = self.frontier_[self.frontier_["model"].isin(pareto_ids)]

    # -- outputs ---------------------------------------------------------------------
    def to_json(self, path, *, force: bool = False):
        """Write ``results_`` as JSON (atomic; no overwrite unless ``force``)."""
        from fairmtl.report import save_results

        return save_results(self.results_, path, force=force)

    def to_html(self, path, *, force: bool = False):
        """Write the self-contained HTML report (atomic; no overwrite unless ``force``)."""
        from fairmtl.report import write_report

        return write_report(self.results_, path, force=force)

    def to_csv(self, path, *, force: bool = False):
        """Write ``frontier_`` as CSV (atomic; no overwrite unless ``force``)."""
        from fairmtl.data import write_table_atomic

        return write_table_atomic(self.frontier_, path, force=force)
