"""Leave-one-in transfer test: a chosen group's held-out loss when each other group joins it.

For a target group t and every other group h, one pooled model (``sharing="shared"``,
``objective="average"``, the template's loss and ``alpha``) is fitted on the training
rows of t and h together, and scored on t's held-out rows against the model fitted on
t alone. That is G problems of the same form,

    min_theta  (1 / N_h) sum_{i in t or h} loss(x_i . w + b, y_i) + alpha ||w||^2,

which differ only in which rows they hold. For the squared and the binary logistic loss
they are solved together (``method="newton"``): one damped Newton iteration runs on all
G problems at once, the rows of t shared by every problem, the per-problem gradients and
Hessians gathered with one sparse product, and the G small Newton systems solved in one
batched call. Other losses (hinge, multinomial) fit each problem with the exact cvxpy
path (``method="exact"``), one after the other.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.base import is_classifier

from fairmtl.exceptions import DataValidationError
from fairmtl.metrics import bootstrap_indices
from fairmtl.transfer._common import (
    Data,
    check_data,
    default_estimator,
    fit_variant,
    row_losses,
    split_data,
    standardise,
)

__all__ = ["MSG_TARGET", "NEWTON_LOSSES", "transfer_test"]

MSG_TARGET = "target={target!r} is not one of the groups: {names}."
MSG_METHOD = (
    "method='newton' solves the squared and binary logistic losses only; this model uses "
    "{loss!r}. Use method='exact' (or 'auto')."
)
NEWTON_LOSSES = ("squared", "logistic")
_MAX_ITER = 100
_TOL = 1e-12


def _loss_terms(name: str, z: np.ndarray, y: np.ndarray):
    """Per-row loss, first and second derivative in the output z."""
    if name == "squared":
        r = z - y
        return r**2, 2.0 * r, np.full_like(z, 2.0)
    m = -y * z  # logistic with targets +-1
    p = 0.5 * (1.0 + np.tanh(0.5 * m))  # sigmoid(m), overflow-free
    return np.logaddexp(0.0, m), -y * p, p * (1.0 - p)


class _Batch:
    """G pooled problems: the target's rows in all, each other group's rows in one."""

    def __init__(self, Z_t, y_t, Z_o, y_o, problem_o, n_problems, penalty, loss):
        self.Z_t, self.y_t, self.Z_o, self.y_o = Z_t, y_t, Z_o, y_o
        self.P, self.penalty, self.loss = n_problems, penalty, loss
        self.S = sp.csr_matrix(
            (np.ones(len(y_o)), (problem_o, np.arange(len(y_o)))), shape=(n_problems, len(y_o))
        )
        self.problem_o = problem_o
        self.N = len(y_t) + np.asarray(self.S.sum(axis=1)).ravel()
        self.outer_t = Z_t[:, :, None] * Z_t[:, None, :]
        self.outer_o = (Z_o[:, :, None] * Z_o[:, None, :]).reshape(len(y_o), -1)

    def value(self, theta: np.ndarray) -> np.ndarray:
        lt = _loss_terms(self.loss, self.Z_t @ theta.T, self.y_t[:, None])[0].sum(axis=0)
        zo = np.einsum("nd,nd->n", self.Z_o, theta[self.problem_o])
        lo = self.S @ _loss_terms(self.loss, zo, self.y_o)[0]
        return (lt + lo) / self.N + np.einsum("pd,d,pd->p", theta, self.penalty, theta)

    def newton_step(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Newton direction and gradient of every problem, shapes (P, D)."""
        _, d1t, d2t = _loss_terms(self.loss, self.Z_t @ theta.T, self.y_t[:, None])
        zo = np.einsum("nd,nd->n", self.Z_o, theta[self.problem_o])
        _, d1o, d2o = _loss_terms(self.loss, zo, self.y_o)
        D = theta.shape[1]
        grad = (d1t.T @ self.Z_t + self.S @ (d1o[:, None] * self.Z_o)) / self.N[:, None]
        grad += 2.0 * self.penalty * theta
        hess = np.einsum("np,nde->pde", d2t, self.outer_t)
        hess += np.asarray(self.S @ (d2o[:, None] * self.outer_o)).reshape(self.P, D, D)
        hess = hess / self.N[:, None, None] + np.diag(2.0 * self.penalty)[None, :, :]
        hess += 1e-12 * np.eye(D)  # the unpenalised intercept of a degenerate problem
        step = -np.linalg.solve(hess, grad[:, :, None])[:, :, 0]
        return step, grad


def _newton(batch: _Batch, D: int) -> np.ndarray:
    """Damped Newton with per-problem backtracking (Armijo), all problems at once."""
    theta = np.zeros((batch.P, D))
    value = batch.value(theta)
    for _ in range(_MAX_ITER):
        step, grad = batch.newton_step(theta)
        decrement = -np.einsum("pd,pd->p", grad, step)
        if decrement.max() < _TOL:
            break
        size = np.ones(batch.P)
        todo = decrement >= _TOL
        size[~todo] = 0.0
        for _ in range(30):
            trial = batch.value(theta + size[:, None] * step)
            ok = trial <= value - 0.25 * size * decrement
            if np.all(ok | ~todo):
                break
            size = np.where(ok | ~todo, size, size / 2)
        theta = theta + size[:, None] * step
        value = batch.value(theta)
    return theta


def _newton_losses(template, target_train: Data, others: list[Data], held: Data):
    """Held-out row losses of t alone and of t + each other group, shape (n_held, G)."""
    pooled_X = np.vstack([target_train.X, *[o.X for o in others]])
    _, mean, scale = standardise(pooled_X)

    def design(X):
        return np.column_stack([(X - mean) / scale, np.ones(len(X))])

    classifier = is_classifier(template)
    if classifier:
        classes = np.unique(np.concatenate([target_train.y, *[o.y for o in others]]))
        if len(classes) != 2:
            raise DataValidationError(MSG_METHOD.format(loss="multinomial"))

        def encode(y):
            return np.where(y == classes[1], 1.0, -1.0)
    else:

        def encode(y):
            return y.astype(float)

    sizes = [len(o.y) for o in others]
    problem_o = np.repeat(np.arange(1, len(others) + 1), sizes)
    D = pooled_X.shape[1] + 1
    penalty = np.append(template.alpha / scale**2, 0.0)  # alpha ||w||^2 on original slopes
    batch = _Batch(
        design(target_train.X),
        encode(target_train.y),
        design(np.vstack([o.X for o in others])),
        encode(np.concatenate([o.y for o in others])),
        problem_o,
        len(others) + 1,
        penalty,
        "logistic" if classifier else "squared",
    )
    theta = _newton(batch, D)
    z = design(held.X) @ theta.T
    if classifier:
        return np.logaddexp(0.0, -encode(held.y)[:, None] * z)
    return (z - held.y.astype(float)[:, None]) ** 2


def _exact_losses(template, target_train: Data, others: list[Data], held: Data):
    columns = []
    for extra in [None, *others]:
        part = target_train
        if extra is not None:
            part = Data(
                np.vstack([target_train.X, extra.X]),
                np.concatenate([target_train.y, extra.y]),
                np.concatenate([target_train.groups, extra.groups]),
            )
        model = fit_variant(template, part, sharing="shared", objective="average")
        columns.append(row_losses(model, held))
    return np.column_stack(columns)


def transfer_test(
    X: Any,
    y: Any,
    *,
    groups: Any,
    target: Any,
    estimator: Any = None,
    X_test: Any = None,
    y_test: Any = None,
    groups_test: Any = None,
    test_size: float = 0.3,
    method: str = "auto",
    n_boot: int = 200,
    confidence: float = 0.95,
    random_state: Any = None,
) -> pd.DataFrame:
    """How each other group's data change a chosen group's held-out loss (leave-one-in).

    Parameters
    ----------
    X, y, groups : array-like
        Training data (and, without ``X_test``, the source of the held-out rows).
    target : str
        The group whose held-out loss is measured.
    estimator : FairMTLClassifier or FairMTLRegressor, default=None
        Template (loss and ``alpha``); every fit is ``sharing="shared"``,
        ``objective="average"``.
    X_test, y_test, groups_test : array-like, default=None
        Held-out data; only the target's rows are used. None: ``test_size`` of each
        group's rows are held out.
    test_size : float in (0, 1), default=0.3
    method : {"auto", "newton", "exact"}, default="auto"
        "newton": all problems at once (squared and binary logistic losses); "exact":
        one cvxpy fit per problem; "auto": "newton" where it applies.
    n_boot : int, default=200
        Bootstrap replicates of the target's held-out rows (paired across groups).
    confidence : float in (0, 1), default=0.95
    random_state : int or None, default=None

    Returns
    -------
    table : pandas.DataFrame
        One row per other group, best helper first: ``group``, ``n_added`` (its
        training rows), ``alone`` and ``with_group`` (the target's held-out mean loss),
        ``change`` (``alone - with_group``: positive when adding the group helps), ``lo``,
        ``hi`` and ``verdict`` (``"helps"``, ``"harms"``, ``"unclear"``). ``attrs``:
        ``target``, ``method``, ``n_test`` (the target's held-out rows).

    Examples
    --------
    >>> from fairmtl.datasets import make_hospitals
    >>> from fairmtl.transfer import transfer_test
    >>> data = make_hospitals(5, n_samples=1000, task="regression", random_state=0)
    >>> table = transfer_test(data.data, data.target, groups=data.groups,
    ...                       target="hospital_00", random_state=0)
    >>> len(table), table.attrs["method"]
    (4, 'newton')
    """
    if method not in ("auto", "newton", "exact"):
        raise DataValidationError(f"method must be 'auto', 'newton' or 'exact'. Got {method!r}.")
    data = check_data(X, y, groups)
    template = default_estimator(data.y, estimator)
    target = str(target)
    if target not in data.names:
        raise DataValidationError(
            MSG_TARGET.format(target=target, names=", ".join(data.names[:10]))
        )
    train, held = split_data(
        data, (X_test, y_test, groups_test), test_size=test_size, random_state=random_state
    )
    held = held.take(np.flatnonzero(held.groups == target))
    target_train = train.take(np.flatnonzero(train.groups == target))
    names = [g for g in train.names if g != target]
    others = [train.take(np.flatnonzero(train.groups == g)) for g in names]
    newton_ok = template.loss in NEWTON_LOSSES and (
        not is_classifier(template) or len(np.unique(data.y)) == 2
    )
    if method == "newton" and not newton_ok:
        raise DataValidationError(MSG_METHOD.format(loss=template.loss))
    chosen = "newton" if method in ("auto", "newton") and newton_ok else "exact"
    solve = _newton_losses if chosen == "newton" else _exact_losses
    losses = solve(template, target_train, others, held)  # (n_held, 1 + len(others))
    change = losses[:, :1] - losses[:, 1:]
    idx = bootstrap_indices(np.zeros(len(held.y)), n_boot, random_state)
    reps = change[idx].mean(axis=1)  # (n_boot, n_others)
    tail = (1.0 - confidence) / 2
    lo, hi = np.quantile(reps, [tail, 1.0 - tail], axis=0)
    table = pd.DataFrame(
        {
            "group": names,
            "n_added": [len(o.y) for o in others],
            "alone": losses[:, 0].mean(),
            "with_group": losses[:, 1:].mean(axis=0),
            "change": change.mean(axis=0),
            "lo": lo,
            "hi": hi,
            "verdict": np.where(lo > 0, "helps", np.where(hi < 0, "harms", "unclear")),
        }
    )
    table = table.sort_values("change", ascending=False, kind="stable").reset_index(drop=True)
    table.attrs.update(target=target, method=chosen, n_test=int(len(held.y)))
    return table
