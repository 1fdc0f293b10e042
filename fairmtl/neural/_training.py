"""The torch path: train a :class:`~fairmtl.neural.GroupNetwork` under a group objective.

Each step draws a group-stratified minibatch (``batch_size // n_groups`` rows of every
group; all rows of a group smaller than that, or of every group when ``batch_size`` covers
the training set), computes the group losses ``L_g``, and lets a
:class:`~fairmtl.neural.Direction` weigh them:

- weightings (average, balanced, tilted, bounded, Group DRO) need one backward pass of
  ``sum_g c_g L_g + penalty``;
- gradient programs (``pareto``, ``chebyshev``, ``minimax`` with ``direction="cvxpy"``)
  need the k x k Gram matrix of the per-group gradients of the shared parameters. They are
  computed in one batched pass, ``torch.func.vmap`` of ``grad`` over the group axis of the
  stratified batch (``group_gradients="vmap"``), which costs about one backward pass
  because the groups' rows are disjoint; ``"loop"`` (k backward passes) is the reference,
  and ``"representation"`` (MGDA-UB, Sener & Koltun 2018) uses gradients with respect to
  the trunk's output, whose Gram matrix is diagonal when groups share no rows, so it
  sees no conflict between groups. Per-group heads always follow their own group's
  gradient; the shared parameters follow ``sum_g c_g grad f_g``.

Training keeps the best checkpoint by a validation metric (worst-group loss by default),
stops early after ``n_iter_no_change`` epochs without improvement, follows a cosine
learning-rate schedule, and is deterministic on CPU for a given seed.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from sklearn.utils import check_random_state

from fairmtl._optional import import_optional
from fairmtl._solver_info import solver_record
from fairmtl.exceptions import DataWarning
from fairmtl.neural._batches import Sampler, split_validation, to_tensors
from fairmtl.neural._config import (
    FEATURE,
    GROUP_GRADIENTS,
    VALIDATION_METRICS,
    NeuralFit,
    TrainConfig,
    resolve_device,
)
from fairmtl.neural._directions import make_direction
from fairmtl.neural._step import Stepper
from fairmtl.solvers._status import INACCURATE

torch = import_optional("torch", FEATURE)

from fairmtl.neural._network import GroupNetwork, torch_loss  # noqa: E402

__all__ = ["fit_network"]

MSG_NO_VALIDATION = (
    "early_stopping needs validation rows, but validation_fraction={fraction} of each group "
    "leaves none (the groups are too small); training without early stopping. Raise "
    "validation_fraction or set early_stopping=False to silence this."
)


# -- evaluation and early stopping -----------------------------------------------------


@torch.no_grad()
def _group_losses(net, data, rows: np.ndarray, n_groups: int, chunk: int = 16_384):
    """Weighted mean loss of each group over ``rows`` (NaN for a group without rows)."""
    net.eval()
    loss_fn = torch_loss(data["loss"])
    total, weight = np.zeros(n_groups), np.zeros(n_groups)
    for start in range(0, len(rows), chunk):
        idx = torch.as_tensor(rows[start : start + chunk], device=data["x"].device)
        out = net(data["x"][idx], data["codes"][idx], data["t"][idx])
        per_row = (loss_fn(out, data["y"][idx]) * data["w"][idx]).double().cpu().numpy()
        t = data["t"][idx].cpu().numpy()
        total += np.bincount(t, weights=per_row, minlength=n_groups)
        weight += np.bincount(t, weights=data["w"][idx].double().cpu().numpy(), minlength=n_groups)
    net.train()
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(weight > 0, total / weight, np.nan), weight


def _validation_metric(early_stopping) -> Callable[[np.ndarray, np.ndarray], float] | None:
    """``(group_losses, group_weights) -> score`` (lower is better), or None."""
    if early_stopping is False or early_stopping is None:
        return None
    name = "worst_group_loss" if early_stopping is True else early_stopping
    if callable(name):
        return lambda losses, weights: float(name(losses))
    if name == "worst_group_loss":
        return lambda losses, weights: float(np.nanmax(losses))
    if name == "balanced_loss":
        return lambda losses, weights: float(np.nanmean(losses))
    if name == "average_loss":
        return lambda losses, weights: float(np.nansum(losses * weights) / weights.sum())
    raise ValueError(
        f"early_stopping must be a bool, a callable or one of {VALIDATION_METRICS}; got {name!r}."
    )


class _Progress:
    """A transient rich progress bar with live per-group losses (TTY or notebook only)."""

    def __init__(self, verbose: int, total: int, names: Sequence[str]):
        self.names, self.bar = list(names), None
        if verbose <= 0:
            return
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        console = Console(stderr=True)
        if not (console.is_terminal or console.is_jupyter):
            return
        self.bar = Progress(
            TextColumn("epoch {task.completed}/{task.total}"),
            BarColumn(),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        )
        self.bar.start()
        self.task = self.bar.add_task("", total=total)

    def update(self, score: float | None, losses: np.ndarray) -> None:
        if self.bar is None:
            return
        order = np.argsort(-np.nan_to_num(losses, nan=-np.inf))[:3]
        worst = "  ".join(f"{self.names[g]} {losses[g]:.4f}" for g in order)
        head = f"val {score:.4f} | " if score is not None else ""
        self.bar.update(self.task, advance=1, description=f"{head}worst: {worst}")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


# -- the fit -----------------------------------------------------------------------------


def _schedule(config: TrainConfig, total_steps: int) -> Callable[[int], float]:
    if config.lr_schedule == "constant":
        return lambda step: 1.0
    if config.lr_schedule == "cosine":
        return lambda step: 0.5 * (1.0 + math.cos(math.pi * min(step, total_steps) / total_steps))
    raise ValueError(f"lr_schedule must be 'cosine' or 'constant'; got {config.lr_schedule!r}.")


def fit_network(
    X: np.ndarray,
    y: np.ndarray,
    tasks: np.ndarray,
    sample_weight: np.ndarray,
    n_groups: int,
    *,
    loss_name: str,
    n_outputs: int,
    config: TrainConfig,
) -> NeuralFit:
    """Train a group network; see the module docstring.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    y : ndarray of shape (n_samples,)
        Encoded targets ({-1, +1}, class indices or floats).
    tasks : ndarray of shape (n_samples,)
        Task ids 0..n_groups-1.
    sample_weight : ndarray of shape (n_samples,)
    n_groups : int
    loss_name : str
        A loss of :mod:`fairmtl.losses`.
    n_outputs : int
    config : TrainConfig

    Returns
    -------
    fit : NeuralFit
    """
    import_optional("torch", FEATURE)  # also when this module was imported before
    if config.group_gradients not in GROUP_GRADIENTS:
        raise ValueError(f"group_gradients must be one of {GROUP_GRADIENTS}.")
    device = resolve_device(config.device)
    seed = int(check_random_state(config.random_state).randint(np.iinfo(np.int32).max))
    rng = np.random.default_rng(seed)
    metric = _validation_metric(config.early_stopping)
    train, val = split_validation(tasks, config.validation_fraction if metric else 0.0, rng)
    if metric is not None and not val.any():
        message = MSG_NO_VALIDATION.format(fraction=config.validation_fraction)
        warnings.warn(message, DataWarning, stacklevel=3)
        metric = None
    shares = np.bincount(tasks[train], weights=sample_weight[train], minlength=n_groups)
    shares = shares / shares.sum()
    data, numeric, categories = to_tensors(X, y, tasks, sample_weight, config, loss_name, device)
    mean = numeric[train].mean(axis=0)
    spread = numeric[train].std(axis=0)
    scale = np.where(spread > 1e-12 * np.maximum(1.0, np.abs(mean)), spread, 1.0)
    spec = {
        "n_numeric": numeric.shape[1],
        "n_groups": n_groups,
        "n_outputs": n_outputs,
        "hidden_layer_sizes": tuple(int(h) for h in config.hidden_layer_sizes),
        "heads": config.heads,
        "dropout": float(config.dropout),
        "cardinalities": tuple(len(c) for c in categories),
    }
    fork = [torch.device(device).index or 0] if device.startswith("cuda") else []
    with torch.random.fork_rng(devices=fork):
        torch.manual_seed(seed)
        net = GroupNetwork(**spec).to(device)
        if loss_name in ("squared", "huber"):
            y_mean = np.average(y[train], weights=sample_weight[train])
            y_scale = np.sqrt(np.average((y[train] - y_mean) ** 2, weights=sample_weight[train]))
            net.set_scaling(mean, scale, y_mean, y_scale if y_scale > 1e-12 else 1.0)
        else:
            net.set_scaling(mean, scale)
        direction = make_direction(
            config.objective,
            n_groups,
            shares,
            direction=config.direction,
            epsilon=config.epsilon,
            tilt=config.tilt,
            preference=config.preference,
            dual_step_size=config.dual_step_size,
        )
        history, best, info = _train(
            net, data, direction, config, shares, rng, train, val, metric, n_groups
        )
    if best is not None:
        net.load_state_dict(best)
    losses, _ = _group_losses(net, data, np.arange(len(tasks)), n_groups)
    state = {k: v.detach().cpu().numpy().copy() for k, v in net.state_dict().items()}
    spec["categories"] = [c.tolist() for c in categories]
    spec["categorical_features"] = list(config.categorical_features)
    info = solver_record(**info, **direction.info())
    return NeuralFit(spec, state, losses, history, info, val if metric is not None else None)


def _train(net, data, direction, config, shares, rng, train, val, metric, n_groups):
    shares_t = torch.as_tensor(shares, dtype=torch.float32, device=data["x"].device)
    stepper = Stepper(net, data, direction, config, shares_t)
    sampler = Sampler(data["t"].cpu().numpy()[train], n_groups, config.batch_size, rng)
    sampler.order = np.flatnonzero(train)[sampler.order]
    steps_per_epoch = max(1, math.ceil(train.sum() / config.batch_size))
    total_steps = steps_per_epoch * config.max_epochs
    optimizer = torch.optim.Adam(net.parameters(), lr=config.learning_rate)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, _schedule(config, total_steps))
    val_rows = np.flatnonzero(val)
    names = list(config.group_names) if config.group_names is not None else list(range(n_groups))
    progress = _Progress(config.verbose, config.max_epochs, [str(n) for n in names])
    history: list[dict[str, Any]] = []
    best_state, best_score, best_epoch, waited = None, np.inf, 0, 0
    start = time.perf_counter()
    stopped = "max_epochs"
    try:
        for epoch in range(1, config.max_epochs + 1):
            values = []
            for _ in range(steps_per_epoch):
                idx, mask = sampler.draw()
                values.append(stepper.step(idx, mask, scheduler.get_last_lr()[0]))
                optimizer.step()
                scheduler.step()
            row: dict[str, Any] = {"epoch": epoch, "train_objective": float(np.mean(values))}
            score, losses = None, np.full(n_groups, np.nan)
            if metric is not None:
                losses, weights = _group_losses(net, data, val_rows, n_groups)
                score = metric(losses, weights)
                row.update(val_score=score, val_worst_group_loss=float(np.nanmax(losses)))
            row["lr"] = scheduler.get_last_lr()[0]
            history.append(row)
            progress.update(score, losses)
            if score is None:
                continue
            if score < best_score - config.tol:
                best_score, best_epoch, waited = score, epoch, 0
                best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
            else:
                waited += 1
                if waited >= config.n_iter_no_change:
                    stopped = "early_stopping"
                    break
    finally:
        progress.close()
    n_steps = len(history) * steps_per_epoch
    info = solver_record(
        status=INACCURATE,  # a trained network carries no optimality certificate
        solver="torch",
        path="neural",
        time=time.perf_counter() - start,
        gap=None,
        iterations=n_steps,
        n_epochs=len(history),
        best_epoch=best_epoch if best_state is not None else len(history),
        best_score=best_score if best_state is not None else None,
        stopped=stopped,
        device=str(data["x"].device),
        group_gradients=config.group_gradients if direction.needs_gradients else None,
        step_seconds=stepper.seconds / max(n_steps, 1),
    )
    return history, best_state, info
