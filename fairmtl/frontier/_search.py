"""FrontierSearch: sweep a trade-off, evaluate every group honestly, pick a model."""

from __future__ import annotations

import contextlib
import numbers
import warnings
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, clone, is_classifier
from sklearn.pipeline import Pipeline
from sklearn.utils._param_validation import HasMethods, Interval

from fairmtl.data import (
    group_label_folds,
    group_labels,
    make_preprocessor,
    train_val_test_split,
    validate_target,
)
from fairmtl.estimators._input import split_group_columns
from fairmtl.exceptions import DataValidationError, DataWarning, FairMTLWarning, InfeasibleError
from fairmtl.frontier._baselines import Fitted, check_baseline_names, fit_baselines
from fairmtl.frontier._evaluate import Evaluation, evaluate
from fairmtl.frontier._parallel import fit_settings
from fairmtl.frontier._pareto import pareto_mask, robust_pareto_frequency, select
from fairmtl.frontier._predictors import FrontierModel
from fairmtl.frontier._progress import sweep_progress as _progress
from fairmtl.frontier._records import SplitData
from fairmtl.frontier._results import build_frontier_table, build_results
from fairmtl.frontier._sweep import (
    distinct_fits,
    expand_sweep,
    log_grid,
    preference_points,
    threshold_grid,
)
from fairmtl.metrics import (
    METRIC_NAMES_CLASSIFICATION,
    METRIC_NAMES_REGRESSION,
    METRICS,
    bootstrap_indices,
)

__all__ = ["FrontierSearch", "DEFAULT_SWEEP"]

#: the knobs swept by default for each objective (others: sharing_strength). The rate
#: objectives also sweep the decision threshold (logistic loss only): with small groups
#: their rate gaps on new data shrink far more with it than with epsilon alone.
DEFAULT_SWEEP: dict[str, tuple[str, ...]] = {
    "bounded": ("epsilon",),
    "demographic_parity": ("epsilon", "threshold"),
    "equal_opportunity": ("epsilon", "threshold"),
    "equalized_odds": ("epsilon", "threshold"),
    "tilted": ("tilt",),
    "chebyshev": ("preference",),
}
MSG_CHOSEN_ON_TEST = (
    "val_size=0: there are no validation rows, so the model is chosen on the test rows, "
    "and its test scores are optimistic (they took part in the choice). Keep validation "
    "rows (e.g. val_size=0.2) for honest test scores."
)
MSG_NO_GROUPS = (
    "FrontierSearch needs groups: pass groups= to fit or set group_column on the estimator."
)
#: relative margin above the smallest feasible bound when a refit's bound is infeasible
REFIT_EPSILON_MARGIN = 1e-4
MSG_REFIT_EPSILON = (
    "The chosen epsilon={old:.6g} is infeasible on train + validation; best_estimator_ is "
    "refitted with the smallest feasible bound, epsilon={new:.6g}."
)
MSG_THRESHOLD_SWEEP = (
    "Cannot sweep 'threshold': it is a cut-off on the positive class's probability, for "
    "a classifier with two classes and loss='logistic'; this search has {what}. Sweep "
    "another knob, e.g. epsilon."
)
MSG_NOTHING_FITTED = (
    "No model of the sweep could be fitted ({reasons}). Loosen the sweep (e.g. larger epsilon)."
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
        worst group, ``model="mlp", objective="minimax"``; needs the torch extra).
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
        criteria (the policy's, the frontier's, the headline's) range over the groups
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
    >>> len(search.results_["models"])
    4
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
        from fairmtl.estimators import FairMTLClassifier

        self._validate_params()
        check_baseline_names(tuple(self.baselines or ()))
        template = clone(self.estimator) if self.estimator is not None else None
        template = template or FairMTLClassifier(objective="bounded")
        X, groups = split_group_columns(X, groups, template.group_column)
        template.set_params(group_column=None)
        if groups is None:
            raise DataValidationError(MSG_NO_GROUPS)
        self.task_ = "classification" if is_classifier(template) else "regression"
        labels = np.asarray(group_labels(groups), dtype=object)
        self.target_name_ = str(getattr(y, "name", None) or "target")
        y = np.asarray(y)
        weights = None if sample_weight is None else np.asarray(sample_weight, dtype=float)
        # rows without a target are dropped with a DataWarning giving the count
        keep = validate_target(y, task=self.task_, column=self.target_name_)
        if not keep.all():
            X = X[keep] if isinstance(X, pd.DataFrame) else np.asarray(X)[keep]
            y, labels = y[keep], labels[keep]
            weights = None if weights is None else weights[keep]
            data_info = dict(data_info or {})
            data_info["rows_dropped"] = int(data_info.get("rows_dropped", 0)) + int((~keep).sum())
        self.split_ = train_val_test_split(
            X,
            y,
            labels,
            val_size=self.val_size,
            test_size=self.test_size,
            random_state=self.random_state,
        )
        if len(self.split_.val) == 0 and len(self.split_.test):
            warnings.warn(MSG_CHOSEN_ON_TEST, DataWarning, stacklevel=2)
        data = self._preprocess(X, y, labels, weights)
        self.classes_ = np.unique(data["train"].y) if self.task_ != "regression" else None
        metrics = self._metric_names()
        template = self._settle_auto(template, data)
        self.settings_ = self._settings(template, data)
        fitted = self._fit_sweep(template, self.settings_, data)
        fitted += self._fit_baselines(template, data)
        self._evaluate_all(fitted, data, metrics)
        if self.cv is not None:
            self._cross_validate(template, fitted, data, metrics)
        self._choose(fitted, metrics[0])
        self.best_estimator_ = self._refit_best(template, X, y, labels, weights)
        self.estimators_ = [f.estimator for f in fitted]
        self.models_ = [
            FrontierModel(
                f.predictor, self.preprocessor_, label=f.label, method=f.method, source=f.source
            )
            for f in fitted
        ]
        self.results_ = build_results(self, fitted, data, metrics, X, data_info or {})
        self.frontier_ = build_frontier_table(self.results_)
        pareto_ids = [m["id"] for m in self.results_["models"] if m["pareto"]]
        self.pareto_ = self.frontier_[self.frontier_["model"].isin(pareto_ids)]
        return self

    # -- steps -----------------------------------------------------------------------
    def _metric_names(self) -> list[str]:
        if self.metrics is not None:
            return list(self.metrics)
        if self.task_ == "regression":
            return list(METRIC_NAMES_REGRESSION)
        return list(METRIC_NAMES_CLASSIFICATION)

    def _preprocess(self, X, y, labels, weights) -> dict[str, SplitData]:
        frame = isinstance(X, pd.DataFrame)
        needs = frame and (
            any(not pd.api.types.is_numeric_dtype(X[c]) for c in X.columns)
            or bool(X.isna().to_numpy().any())
        )
        self.preprocessor_ = None
        parts = {"train": self.split_.train, "val": self.split_.val, "test": self.split_.test}
        if needs:
            self.preprocessor_ = make_preprocessor(X).fit(X.iloc[self.split_.train])
            transform = self.preprocessor_.transform
        else:
            transform = lambda A: np.asarray(A, dtype=float)  # noqa: E731
        data: dict[str, Any] = {}
        for name, rows in parts.items():
            Xp = transform(X.iloc[rows] if frame else np.asarray(X)[rows])
            w = None if weights is None else weights[rows]
            data[name] = SplitData(np.asarray(Xp, dtype=float), y[rows], labels[rows], w)
        self.feature_names_out_ = (
            list(self.preprocessor_.get_feature_names_out()) if needs else None
        )
        return data

    def _settle_auto(self, template, data):
        """The template with numbers for its "auto" knobs, chosen by cross-validation.

        ``alpha`` and ``sharing_strength`` are settled once, on the training split, by the
        estimator's own cross-validation on the average loss (``tuned_params_``); every
        fit of the sweep uses them unless the sweep varies them. An "auto" adjustment is
        0 (the sweep's own knob bounds the training losses; sweep "adjustment" to vary
        it).
        """
        params = template.get_params()
        self.tuned_params_ = {}
        if params.get("adjustment") == "auto":
            template.set_params(adjustment=0.0)
        if "auto" not in (params.get("alpha"), params.get("sharing_strength")):
            return template
        if params.get("model") == "mlp":  # not tuned on the neural path (see the estimator)
            from fairmtl.estimators._base import MLP_AUTO_STRENGTH
            from fairmtl.estimators._tuning import START_ALPHA

            numbers = {"alpha": START_ALPHA, "sharing_strength": MLP_AUTO_STRENGTH}
            return template.set_params(**{k: v for k, v in numbers.items() if params[k] == "auto"})
        tr = data["train"]
        plain = {"objective": "average", "epsilon": None}
        if "rate_tolerance" in params:
            plain["rate_tolerance"] = None
        tuned = (
            clone(template)
            .set_params(**plain)
            .fit(tr.X, tr.y, groups=tr.groups, sample_weight=tr.weights)
        )
        self.tuned_params_ = {
            k: getattr(tuned, k + "_") for k in ("alpha", "sharing_strength") if params[k] == "auto"
        }
        return template.set_params(**self.tuned_params_)

    def _settings(self, template, data) -> list[dict[str, Any]]:
        sweep = self.sweep
        if sweep is None:
            knobs = DEFAULT_SWEEP.get(template.objective, ("sharing_strength",))
            if template.loss != "logistic":
                knobs = tuple(k for k in knobs if k != "threshold")
            sweep = {knob: "auto" for knob in knobs}
            if template.sharing == "offset" and "sharing_strength" not in sweep:
                # the fairness knob at three couplings around the cross-validated one
                s = float(template.sharing_strength)
                sweep["sharing_strength"] = [s / 10, s, s * 10] if s > 0 else [0.0, 0.01, 0.1]
        self.sweep_ = dict(sweep)
        tr = data["train"]
        n_fair = self.n_points
        if self.sweep is None and isinstance(sweep.get("sharing_strength"), list):
            n_fair = max(2, -(-self.n_points // 3))  # about n_points fits in all

        def auto(knob: str, n: int) -> list[Any]:
            if knob == "epsilon":
                return self._auto_epsilon(template, tr.X, tr.y, tr.groups, tr.weights, n)
            if knob == "tilt":
                return log_grid(0.1, 100.0, n)
            if knob == "preference":
                n_groups = len(np.unique(tr.groups))
                return [p.tolist() for p in preference_points(n_groups, n, self.random_state)]
            if knob == "alpha":
                return log_grid(1e-5, 1e-1, n)
            if knob == "adjustment":
                return [float(v) for v in np.linspace(0.0, 4.0, n)]
            if knob == "rate_tolerance":
                return [None, 0.0]
            if knob == "threshold":
                positive = tr.y == self.classes_[1]
                share = np.average(positive, weights=tr.weights)
                return threshold_grid(n, positive_is_minority=bool(share < 0.5))
            return log_grid(1e-3, 1e2, n)

        if "threshold" in sweep:
            self._check_threshold_sweep(template)
        strengths = sweep.get("sharing_strength")
        if sweep.get("epsilon") == "auto" and isinstance(strengths, list) and len(strengths) > 1:
            # each coupling gets its own epsilon range, minimax to average at that coupling:
            # a flexible model's worst group is already below a stiffer one's minimax loss,
            # where one range for all binds nothing
            rest = {k: v for k, v in sweep.items() if k not in ("epsilon", "sharing_strength")}
            others = expand_sweep(rest, n_fair, auto)  # the other knobs: the same at each
            settings = []
            for strength in strengths:
                at = clone(template).set_params(sharing_strength=strength)
                epsilons = self._auto_epsilon(
                    at, tr.X, tr.y, tr.groups, tr.weights, n_fair, pooled=False
                )
                settings += [
                    {"epsilon": e, "sharing_strength": strength, **other}
                    for other in others
                    for e in epsilons
                ]
            return settings
        return expand_sweep(sweep, n_fair, auto)

    def _check_threshold_sweep(self, template) -> None:
        if self.task_ == "regression":
            what = "a regressor"
        elif len(self.classes_) != 2:
            what = f"{len(self.classes_)} classes"
        elif template.loss != "logistic":
            what = f"loss={template.loss!r}"
        else:
            return
        raise DataValidationError(MSG_THRESHOLD_SWEEP.format(what=what))

    def _auto_epsilon(
        self, template, X, y, groups, w, n: int, *, pooled: bool = True
    ) -> list[float]:
        """``n`` loss bounds from the minimax fit's worst group to the average fit's (and,
        with ``pooled``, the pooled model's, when higher)."""
        # the range comes from plain fits: no per-group thresholds (a rate objective's)
        plain = clone(template)
        if "rate_tolerance" in plain.get_params():
            plain.set_params(rate_tolerance=None)
        if template.objective in ("demographic_parity", "equal_opportunity", "equalized_odds"):
            avg = (
                clone(plain)
                .set_params(objective="average")
                .fit(X, y, groups=groups, sample_weight=w)
            )
            scores = avg.decision_function(X, groups=groups)
            means = pd.Series(scores).groupby(groups).mean()
            gap = float((means - means.mean()).abs().max())
            return [float(v) for v in np.linspace(0.0, gap, n)]
        # from the most equal model (minimax) to the worst group of the pooled model and of
        # the average fit, whichever is higher: the whole range between them
        worst = {}
        for name, change in (
            ("minimax", {"objective": "minimax"}),
            ("average", {"objective": "average"}),
            ("pooled", {"objective": "average", "sharing": "shared"}),
        ):
            if name == "pooled" and not pooled:
                continue
            fit = clone(plain).set_params(**change).fit(X, y, groups=groups, sample_weight=w)
            worst[name] = float(fit.group_losses_.max())
        low, high = worst["minimax"], max(worst.values())
        start = low + 0.002 * (high - low) + 1e-6 * max(1.0, low)
        return [float(v) for v in np.linspace(start, high, n)]

    def _fit_sweep(self, template, settings, data) -> list[Fitted]:
        tr = data["train"]
        # settings that differ in predict-only knobs (threshold) share one fit
        n_fits = len(distinct_fits(settings)[0])
        with self._dask_client() as client, _progress(n_fits) as advance:
            fitted = fit_settings(
                template,
                settings,
                tr.X,
                tr.y,
                tr.groups,
                tr.weights,
                n_jobs=self.n_jobs,
                client=client,
                progress=advance,
            )
        out, reasons = [], []
        for setting, fit in zip(settings, fitted, strict=True):
            if isinstance(fit, InfeasibleError):
                reasons.append(str(fit))
                continue
            label = f"fairmtl {template.objective} " + ", ".join(
                f"{k}={_short(v)}" for k, v in setting.items()
            )
            params = {
                "objective": template.objective,
                "sharing": template.sharing,
                "loss": template.loss,
                **{k: _short(v) for k, v in setting.items()},
            }
            out.append(
                Fitted(
                    label,
                    "fairmtl",
                    template.objective,
                    fit,
                    params,
                    fit.solver_info_,
                    setting=dict(setting),
                )
            )
        if not out:
            raise InfeasibleError(MSG_NOTHING_FITTED.format(reasons="; ".join(reasons[:2])))
        self.infeasible_settings_ = len(reasons)
        return out

    @contextlib.contextmanager
    def _dask_client(self):
        """The Client to run on: the one given, or one opened (and closed) for an address."""
        if self.client is None or not isinstance(self.client, str):
            yield self.client
            return
        from fairmtl._optional import import_optional

        distributed = import_optional("distributed", "Running a sweep on a Dask cluster")
        client = distributed.Client(self.client, set_as_default=False)
        try:
            yield client
        finally:
            client.close()

    def _fit_baselines(self, template, data) -> list[Fitted]:
        tr = data["train"]
        return fit_baselines(
            tuple(self.baselines or ()),
            tr.X,
            tr.y,
            tr.groups,
            task=self.task_,
            objective=template.objective,
            alpha=max(template.alpha, 1e-8),
            n_points=self.n_points,
            classes=self.classes_,
            random_state=self.random_state,
            sample_weight=tr.weights,
        )

    def _evaluate_all(self, fitted: list[Fitted], data, metrics) -> None:
        te, va = data["test"], data["val"]
        rng = np.random.default_rng(self.random_state)
        self.boot_indices_ = bootstrap_indices(te.groups, self.n_boot, rng) if self.n_boot else None
        common = dict(
            task=self.task_,
            metrics=metrics,
            primary=metrics[0],
            classes=self.classes_,
            min_rows=self.small_group_threshold,
        )
        for f in fitted:
            f.val = (
                evaluate(f, va.X, va.y, va.groups, sample_weight=va.weights, **common)
                if len(va.y)
                else None
            )
            f.test = evaluate(
                f,
                te.X,
                te.y,
                te.groups,
                boot_indices=self.boot_indices_,
                sample_weight=te.weights,
                **common,
            )

    def _cross_validate(self, template, fitted: list[Fitted], data, metrics) -> None:
        """Replace each sweep model's validation scores by out-of-fold scores (``cv``)."""
        rows = data["train"].join(data["val"])
        X, y, g, w = rows.X, rows.y, rows.groups, rows.weights
        codes = pd.factorize(g)[0]
        folds = group_label_folds(
            codes, y if self.task_ != "regression" else None, self.cv, self.random_state
        )
        ours = [f for f in fitted if f.source == "fairmtl"]
        out = [_OutOfFold(len(y)) for _ in ours]
        for train, test in folds:
            fits = fit_settings(
                template,
                [f.setting for f in ours],
                X[train],
                y[train],
                g[train],
                None if w is None else w[train],
                n_jobs=self.n_jobs,
            )
            for fit, oof in zip(fits, out, strict=True):
                if isinstance(fit, InfeasibleError):
                    oof.feasible = False
                    continue
                with warnings.catch_warnings():  # a tiny group absent from a fold's training
                    warnings.simplefilter("ignore", FairMTLWarning)
                    oof.add(fit, X, g, test, self.task_)
        common = dict(
            task=self.task_,
            metrics=metrics,
            primary=metrics[0],
            classes=self.classes_,
            min_rows=self.small_group_threshold,
        )
        greater = METRICS[metrics[0]].greater_is_better
        for f, oof in zip(ours, out, strict=True):
            if oof.feasible:
                as_fitted = Fitted(f.label, f.source, f.method, oof, f.params, setting=f.setting)
                f.val = evaluate(as_fitted, X, y, g, sample_weight=w, **common)
            else:  # infeasible on some fold: never chosen
                worst = -np.inf if greater else np.inf
                f.val = Evaluation(
                    pd.DataFrame(),
                    {f"overall_{metrics[0]}": worst, f"worst_group_{metrics[0]}": worst},
                )

    def _choose(self, fitted: list[Fitted], primary: str) -> None:
        greater = METRICS[primary].greater_is_better
        x, yk = f"overall_{primary}", f"worst_group_{primary}"
        test = np.array([[f.test.scores[x], f.test.scores[yk]] for f in fitted], dtype=float)
        self.pareto_mask_ = pareto_mask(test, maximize=greater)
        if self.boot_indices_ is not None:
            boot = np.stack([_replicate_criteria(f, primary, greater) for f in fitted], axis=1)
            self.pareto_frequency_ = robust_pareto_frequency(boot, greater)
        else:
            self.pareto_frequency_ = np.full(len(fitted), np.nan)
        source = [f.val or f.test for f in fitted]
        table = pd.DataFrame(
            {"overall": [s.scores[x] for s in source], "worst": [s.scores[yk] for s in source]}
        )
        ours = [i for i, f in enumerate(fitted) if f.source == "fairmtl"]
        pick = select(
            self.policy, table.iloc[ours].reset_index(drop=True), greater_is_better=greater
        )
        self.best_index_ = ours[pick]
        overall = table["overall"].to_numpy()
        self.most_accurate_index_ = int(np.nanargmax(overall) if greater else np.nanargmin(overall))
        self.best_params_ = dict(fitted[self.best_index_].setting)

    def _refit_best(self, template, X, y, labels, weights):
        """The chosen setting on train + validation.

        A loss bound feasible on train may not be on train + validation; it is then
        raised to the smallest feasible bound, with a warning (``best_refit_params_``).
        """
        rows = np.concatenate([self.split_.train, self.split_.val])
        Xr = X.iloc[rows] if isinstance(X, pd.DataFrame) else np.asarray(X)[rows]
        wr = None if weights is None else weights[rows]
        params = dict(self.best_params_)
        for attempt in range(2):
            best = clone(template).set_params(**params)
            try:
                if self.preprocessor_ is not None:
                    pipe = Pipeline([("prep", clone(self.preprocessor_)), ("model", best)])
                    fitted = pipe.fit(
                        Xr, y[rows], model__groups=labels[rows], model__sample_weight=wr
                    )
                else:
                    Xn = np.asarray(Xr, dtype=float)
                    fitted = best.fit(Xn, y[rows], groups=labels[rows], sample_weight=wr)
            except InfeasibleError as e:
                bound = getattr(e, "min_feasible", None)
                if attempt or "epsilon" not in params or bound is None:
                    raise
                eps = float(bound) + REFIT_EPSILON_MARGIN * max(1.0, abs(float(bound)))
                warnings.warn(
                    MSG_REFIT_EPSILON.format(old=params["epsilon"], new=eps),
                    FairMTLWarning,
                    stacklevel=3,
                )
                params["epsilon"] = eps
                continue
            self.best_refit_params_ = params
            return fitted
        raise AssertionError("unreachable")  # pragma: no cover

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


def _short(value: Any) -> Any:
    if isinstance(value, float):
        return float(f"{value:.6g}")
    if isinstance(value, list | tuple | np.ndarray):
        return "[" + ", ".join(f"{float(v):.3g}" for v in value) + "]"
    return value


class _OutOfFold:
    """Out-of-fold predictions of one setting, answered like a fitted model's.

    Only for scoring the rows the folds were cut from, in their order (``cv``).
    """

    def __init__(self, n: int) -> None:
        self.n, self.feasible = n, True
        self.pred: np.ndarray | None = None
        self.proba: np.ndarray | None = None

    def add(self, model, X, groups, rows, task: str) -> None:
        pred = model.predict(X[rows], groups=groups[rows])
        if self.pred is None:
            self.pred = np.empty(self.n, dtype=pred.dtype)
        self.pred[rows] = pred
        if task != "regression" and hasattr(model, "predict_proba"):
            proba = model.predict_proba(X[rows], groups=groups[rows])
            if self.proba is None:
                self.proba = np.empty((self.n, proba.shape[1]))
            self.proba[rows] = proba

    def predict(self, X, groups=None) -> np.ndarray:
        return self.pred

    def predict_proba(self, X, groups=None) -> np.ndarray | None:
        return self.proba


def _replicate_criteria(f: Fitted, primary: str, greater: bool) -> np.ndarray:
    rep, over = f.test.replicates, f.test.worst_over
    overall = rep[("overall", primary)].to_numpy()
    groups = [
        c
        for c in rep.columns
        if c[1] == primary and c[0] != "overall" and (over is None or c[0] in over)
    ]
    per_group = rep[groups].to_numpy()
    with np.errstate(all="ignore"):
        worst = np.nanmin(per_group, axis=1) if greater else np.nanmax(per_group, axis=1)
    return np.column_stack([overall, worst])
