"""FairMTLClassifier: group-as-task linear classifiers under fairness objectives."""

from __future__ import annotations

import numbers

import pandas as pd
from sklearn.utils._param_validation import Interval

from fairmtl._solver_info import solver_record
from fairmtl.estimators._base import Prepared
from fairmtl.estimators._linear import LinearBase
from fairmtl.estimators._mlp import FairMTLMLPClassifier
from fairmtl.estimators._outputs import GroupClassifierMixin
from fairmtl.estimators._thresholds import RATES, parity_thresholds
from fairmtl.solvers import group_means, group_outputs

__all__ = ["FairMTLClassifier"]

MSG_RATE_TOLERANCE = (
    "rate_tolerance sets per-group thresholds that equalise selection rates "
    "(objective='demographic_parity') or true positive rates ('equal_opportunity') of a "
    "linear model; got objective={objective!r}{detail}. Use one of those objectives "
    "(equalised odds needs randomised thresholds: fairlearn's ThresholdOptimizer), or "
    "rate_tolerance=None."
)


class FairMTLClassifier(GroupClassifierMixin, LinearBase):
    """Linear classifiers, one per group, shared and balanced across groups.

    Each group (hospital, demographic group) is a task. Its model is built by the
    ``sharing`` scheme and all group losses are combined by the ``objective``; the convex
    problem is solved exactly with cvxpy (CLARABEL, with a fallback chain).

    Parameters
    ----------
    sharing : {"offset", "shared", "independent", "lowrank"}, default="offset"
        How group models share parameters; see :mod:`fairmtl.models`.
    objective : str, default="average"
        One of "average", "balanced", "minimax", "tilted", "bounded", "gap" (a local
        convex-concave solve; see :mod:`fairmtl.objectives`), "no_harm", "chebyshev",
        "demographic_parity", "equal_opportunity", "equalized_odds". The default,
        the average loss with cross-validated sharing, is the setting that served the
        worst-off group best on held-out rows in our benchmarks: minimax on training
        losses chases the noise of the smallest groups (use ``adjustment`` with it).
    loss : {"logistic", "hinge"}, default="logistic"
        Logistic loss (multinomial for 3+ classes) or hinge loss (Crammer-Singer for 3+).
    epsilon : float or array-like of shape (n_groups,), default=None
        Loss bound for "bounded", slack for "no_harm", allowed gap above the average
        loss for "gap", allowed gap of mean scores for the rate objectives.
    rate_tolerance : float in [0, 1], default=None
        Per-group decision thresholds for "demographic_parity" (selection rates) and
        "equal_opportunity" (true positive rates), binary targets, linear model. None:
        every group's threshold is 0 (probability 0.5). A float: after the convex fit
        each group's intercept is shifted so that the groups' training rates differ by at
        most this much (as near as group sizes allow), at the common rate with the most
        accurate training predictions; probabilities move with the shift, so
        ``predict`` and ``predict_proba`` agree. The mean-score constraint (``epsilon``)
        is the convex surrogate of a rate gap; the thresholds close the rest of it.
    threshold : float in (0, 1), default=None
        Decision threshold on the positive class's probability (two classes, logistic
        loss): ``predict`` gives the positive class where ``predict_proba(X)[:, 1] >
        threshold``. None: 0.5. Like scikit-learn's ``FixedThresholdClassifier``, it
        changes ``predict`` only, not ``predict_proba`` or ``decision_function``, so it
        needs no refit; :class:`~fairmtl.FrontierSearch` sweeps it ("threshold") on each
        fit. Moving it towards the majority class lowers every group's rate of the
        minority class: with small groups, the gaps between their rates shrink most.
    tilt : float, default=None
        Temperature of "tilted" (> 0).
    preference : array-like of shape (n_groups,), default=None
        Non-negative weights of "chebyshev" (None: equal).
    adjustment : float >= 0 or "auto", default=0.0
        Group DRO's generalisation adjustment ``C`` (Sagawa et al. 2020) for "minimax"
        and "bounded": each group's loss counts as ``L_g + C / sqrt(n_g)`` (``n_g``: the
        group's total sample weight, its row count with unit weights), an estimate of its
        loss on new rows; small groups' training losses are optimistic. "auto": chosen by
        cross-validation from 0, 0.25, 0.5, 1, 2, 4 (30 more minimax solves with 5
        folds). 0: the plain minimax of the training losses. Other objectives ignore it.
    sharing_strength : float >= 0 or "auto", default="auto"
        Coupling of the group models. "offset": the fit minimises
        ``sum_g rho_g L_g + (s / G) sum_g ||theta_g - theta_bar||^2`` over the G groups'
        parameters (coefficients and intercepts) and their mean ``theta_bar``, with the
        losses ``L_g`` as means over rows. So ``s`` is what a group of average size pays
        per unit of squared distance from the shared core, in units of its mean loss,
        at any number of rows or groups (duplicating every row gives the same model), and
        a group of ``n_g`` rows pays ``s * (n / G) / n_g``: small groups borrow more from
        the others, as a hierarchical model's shrinkage does. 0 gives independent models;
        large values one shared model. "lowrank": weight of the nuclear norm of the
        stacked group coefficients. "auto": chosen by cross-validation, walking the
        decades from 0.1 (within 1e-4 to 10) until a value scores worse than the best,
        then one half-decade step towards the better neighbour. With the deprecated
        ``model="mlp"``, "auto" is not tuned and means 1.0.
    alpha : float >= 0 or "auto", default="auto"
        L2 penalty per unit of mean loss: ``alpha * ||w||^2`` on the shared model,
        ``alpha * sum_g rho_g ||w_g||^2`` on group models (``rho_g``: group's share of the
        weight), like scikit-learn's ``SGDClassifier(alpha=)``; it means the same at any
        number of rows. Intercepts are not penalised. "auto": chosen by cross-validation,
        walking half-decades from 1e-3 (within 3e-5 to 0.03) until a value scores worse
        than the best (smaller values barely change a fit on standardised features and
        make the cross-validation's solves slow), then the largest value walked whose
        score is within half a standard error of the best (a milder one-standard-error
        rule: of the values the held-out rows cannot tell apart, the most regularised).
        Penalties act on the features' own units: standardise them
        (``fairmtl.data.make_preprocessor``).
    cv : int, cross-validation generator or iterable, default=5
        Folds of the cross-validation that settles the "auto" knobs. An int: that many
        folds of distinct rows stratified by group and class
        (:func:`fairmtl.data.group_label_folds`, shuffled with ``random_state``, 0 when
        None; copies of a row share a fold, so integer weights act as repeated rows;
        fewer folds where a class has fewer rows than ``cv``, and no cross-validation,
        with a warning, below 2 rows per class). A scikit-learn splitter (its
        ``split(X, y, groups)`` gets the group of each row) or an iterable of
        ``(train, test)`` index arrays: those folds, as ``LogisticRegressionCV`` takes. The
        selection rule: the lowest worst-group
        held-out loss, each group's estimate first shrunk towards the overall held-out
        loss by its share of noise, so that one tiny group's noise cannot decide it (see
        :mod:`fairmtl.estimators._tuning`). Unused when no knob is "auto".
    reference : {"pooled", "independent"}, default="pooled"
        The reference fit of "no_harm".
    solver : {"auto", "CLARABEL", "SCS", "ECOS", "dual"}, default="auto"
        First solver of the exact path's fallback chain, or "dual" (a cvxpy master over
        group weights, or an ascent on the multipliers of the rate objectives, with a
        certified gap, for large data). "auto": the exact path by sequential quadratic
        programming where the loss is smooth and the model has at most 400 parameters
        (average, balanced, minimax, chebyshev, bounded, no_harm on small problems;
        minimax, chebyshev and bounded on large ones too, when the rows have at most 32
        features; each answer passes a KKT check of its duality gap, else CLARABEL's
        chain solves it), else the dual path where it applies, else CLARABEL.
        With "CLARABEL", minimax and chebyshev (smooth losses) run CLARABEL to a 1e-6 gap
        and polish its answer by the same SQP. The second stage of
        minimax and chebyshev is solved by SQP wherever it applies.
    group_column : str or list of str, default=None
        Take the groups from these columns of a DataFrame X (they are not features).
    max_time : float, default=None
        Time limit per solver call, in seconds.
    random_state : int, RandomState instance or None, default=None
        Seeds the folds of the cross-validation (None: 0, so fits are repeatable). The
        convex solvers are deterministic.
    model : {"linear", "mlp"}, default="linear"
        "linear": the exact convex path. "mlp" is deprecated (it warns at fit and will
        be removed): use :class:`FairMTLMLPClassifier`, which trains the same network.
    hidden_layer_sizes, heads, dropout, weight_decay, max_epochs, batch_size, \
learning_rate, early_stopping, validation_fraction, n_iter_no_change, direction, \
categorical_features, device, verbose
        Deprecated: settings of the network of ``model="mlp"``, ignored by the linear
        model; a value other than the default warns at fit. Use
        :class:`FairMTLMLPClassifier`, which documents them (``heads="auto"`` here
        follows ``sharing``: shared -> "shared", offset -> "offset", independent and
        lowrank -> "per_group").

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    groups_ : ndarray of shape (n_groups,)
        Group labels seen in fit, in task-id order.
    group_sizes_ : Series
        Rows per group in fit.
    n_groups_ : int
    alpha_, sharing_strength_, adjustment_ : float
        The values the fit used: the parameters as given, or the ones chosen by
        cross-validation where they are "auto" (``sharing_strength_`` in the units of
        ``sharing_strength``; ``adjustment_`` is 0 for objectives without it).
    cv_results_ : dict or None
        One entry per candidate tried, as in scikit-learn's searches (``pd.DataFrame``
        of it is a table): ``params``, ``param_objective``, ``param_alpha``,
        ``param_sharing_strength``, ``param_adjustment``, ``score`` (the selection
        rule's value, lower is better), ``rank_score``, ``mean_test_loss``,
        ``worst_group_test_loss``, ``test_loss[<group>]`` (each group's held-out
        loss), ``shrinkage[<group>]`` (the share of it the score keeps: the same for
        every candidate), ``n_inaccurate_folds`` and ``score_diff_se`` (for the
        candidates of alpha's walk, the standard error of their score minus the best
        score, paired over the held-out rows; NaN for the others). None when nothing
        was "auto".
    best_index_ : int or None
        The entry of ``cv_results_`` the fit uses.
    coef_ : ndarray of shape (n_groups, n_features) or (n_groups, n_classes, n_features)
    intercept_ : ndarray of shape (n_groups,) or (n_groups, n_classes)
    group_coef_ : ndarray of shape (n_groups, n_features, n_outputs)
    group_intercept_ : ndarray of shape (n_groups, n_outputs)
    shared_coef_, shared_intercept_ : ndarray or None
        The shared part used for groups unseen in fit (None for "independent").
    group_losses_ : Series
        Training loss per group (after the threshold shift, with ``rate_tolerance``).
    group_thresholds_ : Series
        Only with ``rate_tolerance``: each group's threshold on the decision value of
        the convex fit (already subtracted from ``group_intercept_``).
    solver_info_ : dict
        How the fit was found: the solver record, whose keys
        :class:`fairmtl.solvers.SolverInfo` documents (every fit: status, solver, path,
        time, gap; the exact path adds fallback_from, iterations, objective, attempts;
        the deprecated model="mlp" the network's entries, as in
        :class:`FairMTLMLPClassifier`).
    network_spec_, network_state_, history_, n_iter_
        Only with the deprecated model="mlp": as in :class:`FairMTLMLPClassifier`.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Only when X has string column names.

    See Also
    --------
    FairMTLRegressor : The same for regression.
    FairMTLMLPClassifier : Group networks (an MLP trunk with group heads).
    fairmtl.FrontierSearch : Sweeps a knob and picks a model.

    Examples
    --------
    >>> from fairmtl import FairMTLClassifier
    >>> from fairmtl.datasets import make_hospitals
    >>> data = make_hospitals(5, n_samples=600, random_state=0)
    >>> clf = FairMTLClassifier(objective="minimax").fit(
    ...     data.data, data.target, groups=data.groups)
    >>> average = FairMTLClassifier(objective="average").fit(
    ...     data.data, data.target, groups=data.groups)
    >>> bool(clf.group_losses_.max() <= average.group_losses_.max() + 1e-6)
    True
    """

    _mlp_estimator = FairMTLMLPClassifier
    _parameter_constraints = {
        **LinearBase._parameter_constraints,
        "rate_tolerance": [Interval(numbers.Real, 0, 1, closed="both"), None],
        "threshold": [Interval(numbers.Real, 0, 1, closed="neither"), None],
    }

    def __init__(
        self,
        sharing="offset",
        *,
        objective="average",
        loss="logistic",
        epsilon=None,
        rate_tolerance=None,
        threshold=None,
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
        self.rate_tolerance = rate_tolerance
        self.threshold = threshold
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

    # -- per-group thresholds (rate_tolerance) ------------------------------------------
    def _validate_params(self):
        super()._validate_params()
        if self.rate_tolerance is None:
            return
        detail = "" if self.model == "linear" else f" with model={self.model!r}"
        if self.objective not in RATES or self.model != "linear":
            raise ValueError(MSG_RATE_TOLERANCE.format(objective=self.objective, detail=detail))

    def _store(self, prepared: Prepared, result):
        super()._store(prepared, result)
        if self.rate_tolerance is not None:
            self._shift_thresholds(prepared)
        return self

    def _shift_thresholds(self, prepared: Prepared) -> None:
        """Move each group's intercept by its parity threshold (see ``rate_tolerance``).

        The rate objectives accept binary targets only, so there is one logit per row.
        """
        X, tasks, weight = prepared.X, prepared.tasks, prepared.sample_weight
        z = group_outputs(X, tasks, self.group_coef_, self.group_intercept_)[:, 0]
        thresholds = parity_thresholds(
            z,
            prepared.y > 0,
            tasks,
            weight,
            self.n_groups_,
            rate=RATES[self.objective],
            tolerance=float(self.rate_tolerance),
        )
        self.group_intercept_ = self.group_intercept_ - thresholds[:, None]
        self.intercept_ = self.group_intercept_[:, 0]
        per_row = prepared.loss.numpy(z - thresholds[tasks], prepared.y)
        losses = group_means(per_row, tasks, weight, self.n_groups_)
        index = pd.Index(self.groups_, name="group")
        self.group_losses_ = pd.Series(losses, index=index, name="loss")
        self.group_thresholds_ = pd.Series(thresholds, index=index, name="threshold")
        self.solver_info_ = solver_record(
            **self.solver_info_,
            rate_tolerance=float(self.rate_tolerance),
            group_thresholds=thresholds.tolist(),
        )
