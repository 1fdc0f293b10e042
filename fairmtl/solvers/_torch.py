"""The torch path: train a :class:`~fairmtl.models._neural.GroupNetwork` under a group objective.

Each step draws a group-stratified minibatch (``batch_size // n_groups`` rows of every
group; all rows of a group smaller than that, or of every group when ``batch_size`` covers
the training set), computes the group losses ``L_g``, and lets a
:class:`~fairmtl.solvers._directions.Direction` weigh them:

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
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np
from sklearn.utils import check_random_state

from fairmtl._optional import import_optional
from fairmtl.exceptions import DataWarning
from fairmtl.solvers._directions import Direction, make_direction
from fairmtl.solvers._status import INACCURATE

FEATURE = "The neural path (model='mlp')"
torch = import_optional("torch", FEATURE)

from fairmtl.models._neural import GROUP_PARAMETERS, GroupNetwork, torch_loss  # noqa: E402

__all__ = [
    "NeuralFit",
    "TrainConfig",
    "config_from_params",
    "fit_network",
    "network_outputs",
    "resolve_device",
]

GROUP_GRADIENTS = ("vmap", "loop", "representation")
VALIDATION_METRICS = ("worst_group_loss", "balanced_loss", "average_loss")
MSG_NO_VALIDATION = (
    "early_stopping needs validation rows, but validation_fraction={fraction} of each group "
    "leaves none (the groups are too small); training without early stopping. Raise "
    "validation_fraction or set early_stopping=False to silence this."
)


@dataclass
class TrainConfig:
    """Settings of one neural fit (the estimator's parameters, resolved)."""

    objective: str = "minimax"
    direction: str = "auto"
    epsilon: Any = None
    tilt: float | None = None
    preference: Any = None
    hidden_layer_sizes: Sequence[int] = (64, 64)
    heads: str = "per_group"
    dropout: float = 0.0
    weight_decay: float = 1e-4
    sharing_strength: float = 1.0
    categorical_features: Sequence[int] = ()
    max_epochs: int = 200
    batch_size: int = 256
    learning_rate: float = 1e-3
    lr_schedule: str = "cosine"
    early_stopping: bool | str | Callable = True
    validation_fraction: float = 0.2
    n_iter_no_change: int = 20
    tol: float = 1e-4
    dual_step_size: float = 0.01
    group_gradients: str = "vmap"
    device: str = "auto"
    verbose: int = 0
    random_state: Any = None
    group_names: Sequence[str] | None = None


@dataclass
class NeuralFit:
    """A trained network as plain data: how to rebuild it, its weights, and its training."""

    spec: dict[str, Any]
    state: dict[str, np.ndarray]
    group_losses: np.ndarray
    history: list[dict[str, Any]] = field(default_factory=list)
    solver_info: dict[str, Any] = field(default_factory=dict)
    validation: np.ndarray | None = None  #: mask of the rows held out for early stopping


_HEADS_FROM_SHARING = {
    "shared": "shared",
    "offset": "offset",
    "independent": "per_group",
    "lowrank": "per_group",
}


def config_from_params(
    params: dict[str, Any], *, feature_names=None, group_names=None
) -> TrainConfig:
    """A :class:`TrainConfig` from an estimator's ``get_params()``.

    ``heads="auto"`` follows ``sharing``; ``categorical_features`` may name columns of
    ``feature_names`` (the DataFrame X's columns) or give their positions.
    """
    known = {f.name for f in fields(TrainConfig)}
    values = {k: v for k, v in params.items() if k in known}
    if values.get("heads", "auto") == "auto":
        values["heads"] = _HEADS_FROM_SHARING[params.get("sharing", "offset")]
    sizes = values.get("hidden_layer_sizes", ())
    values["hidden_layer_sizes"] = (sizes,) if np.isscalar(sizes) else tuple(sizes)
    columns = []
    for col in params.get("categorical_features") or ():
        if isinstance(col, str):
            names = [] if feature_names is None else [str(n) for n in feature_names]
            if col not in names:
                raise ValueError(
                    f"categorical_features names {col!r}, which is not a feature of X."
                )
            col = names.index(col)
        columns.append(int(col))
    values["categorical_features"] = tuple(columns)
    values["group_names"] = None if group_names is None else [str(g) for g in group_names]
    return TrainConfig(**values)


def resolve_device(device: str) -> str:
    """``"auto"``: CUDA if available, else Apple MPS, else CPU."""
    if device != "auto":
        return device
    if torch.cuda.is_available():
        return "cuda"
    mps = getattr(torch.backends, "mps", None)
    return "mps" if mps is not None and mps.is_available() else "cpu"


# -- data ------------------------------------------------------------------------------


def _encode_categories(X: np.ndarray, columns: Sequence[int], categories=None):
    """Numeric block and integer codes; unseen categories get code ``len(categories[j])``."""
    columns = list(columns)
    numeric = np.delete(X, columns, axis=1) if columns else X
    if categories is None:
        categories = [np.unique(X[:, j]) for j in columns]
    codes = np.empty((X.shape[0], len(columns)), dtype=np.int64)
    for j, (col, values) in enumerate(zip(columns, categories, strict=True)):
        pos = np.searchsorted(values, X[:, col]).clip(max=len(values) - 1)
        known = values[pos] == X[:, col]
        codes[:, j] = np.where(known, pos, len(values))
    return numeric, codes, categories


def _split(tasks: np.ndarray, fraction: float, rng: np.random.Generator):
    """Per-group random split; each group keeps at least one training row."""
    val = np.zeros(len(tasks), dtype=bool)
    if fraction <= 0:
        return ~val, val
    for g in np.unique(tasks):
        rows = np.flatnonzero(tasks == g)
        n_val = min(int(math.floor(fraction * len(rows))), len(rows) - 1)
        if n_val > 0:
            val[rng.choice(rows, n_val, replace=False)] = True
    return ~val, val


class _Sampler:
    """Group-stratified minibatches: ``m`` rows of each group, zero-weight padding."""

    def __init__(self, tasks, n_groups, batch_size, rng):
        self.order = np.argsort(tasks, kind="stable")
        self.counts = np.bincount(tasks, minlength=n_groups)
        self.starts = np.concatenate([[0], np.cumsum(self.counts)[:-1]])
        full = batch_size >= len(tasks)
        self.m = int(self.counts.max()) if full else max(1, batch_size // n_groups)
        self.rng = rng
        self.small = self.counts <= self.m

    def draw(self) -> tuple[np.ndarray, np.ndarray]:
        k, m = len(self.counts), self.m
        pos = np.floor(self.rng.random((k, m)) * self.counts[:, None]).astype(np.int64)
        ramp = np.arange(m)
        mask = np.ones((k, m), dtype=bool)
        mask[self.small] = ramp[None, :] < self.counts[self.small, None]
        pos[self.small] = np.where(mask[self.small], ramp[None, :], 0)
        return self.order[self.starts[:, None] + pos], mask


# -- one step --------------------------------------------------------------------------


class _Stepper:
    """Computes one step's gradients under a direction and applies them."""

    def __init__(self, net, data, direction: Direction, config: TrainConfig, shares):
        self.net, self.data, self.direction, self.config = net, data, direction, config
        self.loss_fn = torch_loss(data["loss"])
        self.shares = shares
        self.seconds = 0.0  # whole steps (without the optimizer's update)
        self.gram_seconds = 0.0  # forming the Gram matrix from the per-group gradients
        if direction.needs_gradients and config.group_gradients == "vmap":
            from torch.func import functional_call, grad_and_value, vmap

            def group_loss(params, buffers, x, c, y, w, t):
                out = functional_call(net, (params, buffers), (x, c, t))
                return (w * self.loss_fn(out, y)).sum() / w.sum().clamp_min(1e-12)

            self._per_group = vmap(
                grad_and_value(group_loss),
                in_dims=(None, None, 0, 0, 0, 0, 0),
                randomness="different",
            )

    def batch(self, idx, mask):
        d = self.data
        flat = torch.as_tensor(idx.reshape(-1), device=d["x"].device)
        k, m = idx.shape
        w = d["w"][flat].view(k, m) * torch.as_tensor(mask, device=d["x"].device)
        return (
            d["x"][flat].view(k, m, -1),
            d["codes"][flat].view(k, m, -1),
            d["y"][flat].view(k, m),
            w,
            d["t"][flat].view(k, m),
        )

    def _flat_losses(self, x, c, y, w, t):
        k, m = y.shape
        out = self.net(x.reshape(k * m, -1), c.reshape(k * m, -1), t.reshape(-1))
        per_row = self.loss_fn(out, y.reshape(-1)).view(k, m)
        return (per_row * w).sum(1) / w.sum(1).clamp_min(1e-12)

    def penalty(self):
        cfg = self.config
        return self.net.penalty(cfg.weight_decay, cfg.sharing_strength, self.shares)

    def step(self, idx, mask, lr: float) -> float:
        start = time.perf_counter()
        x, c, y, w, t = self.batch(idx, mask)
        if not self.direction.needs_gradients:
            value = self._weighted_step(x, c, y, w, t)
        elif self.config.group_gradients == "representation":
            value = self._representation_step(x, c, y, w, t)
        else:
            value = self._program_step(x, c, y, w, t, lr)
        self.seconds += time.perf_counter() - start
        return value

    def _weighted_step(self, x, c, y, w, t) -> float:
        losses = self._flat_losses(x, c, y, w, t)
        weights = self.direction.combine(losses.detach().cpu().numpy())
        total = (torch.as_tensor(weights, dtype=losses.dtype, device=losses.device) * losses).sum()
        total = total + self.penalty()
        self.net.zero_grad(set_to_none=True)
        total.backward()
        return float(total.detach())

    def _representation_step(self, x, c, y, w, t) -> float:
        """MGDA-UB: the Gram matrix of gradients with respect to the representation."""
        k, m = y.shape
        z = self.net.representation(x.reshape(k * m, -1), c.reshape(k * m, -1))
        zd = z.detach().requires_grad_(True)
        out = self.net.head_outputs(zd, t.reshape(-1))
        per_row = self.loss_fn(out, y.reshape(-1)).view(k, m)
        losses = (per_row * w).sum(1) / w.sum(1).clamp_min(1e-12)
        (dz,) = torch.autograd.grad(losses.sum(), zd)
        norms = dz.view(k, m, -1).pow(2).sum(dim=(1, 2)).double().cpu().numpy()
        pen = float(self.penalty().detach())
        weights = self.direction.combine(losses.detach().cpu().numpy() + pen, np.diag(norms))
        out = self.net.head_outputs(z, t.reshape(-1))
        per_row = self.loss_fn(out, y.reshape(-1)).view(k, m)
        losses = (per_row * w).sum(1) / w.sum(1).clamp_min(1e-12)
        weights = torch.as_tensor(weights, dtype=losses.dtype, device=losses.device)
        total = (weights * losses).sum() + self.penalty()
        self.net.zero_grad(set_to_none=True)
        total.backward()
        return float(total.detach())

    def _group_gradients(self, x, c, y, w, t):
        """Per-group gradients {name: (k, *shape)} and the group losses (k,)."""
        named = dict(self.net.named_parameters())
        if self.config.group_gradients == "vmap":
            params = {n: p.detach() for n, p in named.items()}
            buffers = dict(self.net.named_buffers())
            return self._per_group(params, buffers, x, c, y, w, t)
        losses = self._flat_losses(x, c, y, w, t)
        names = list(named)
        rows = [
            torch.autograd.grad(
                losses[g], [named[n] for n in names], retain_graph=True, allow_unused=True
            )
            for g in range(len(losses))
        ]
        grads = {
            n: torch.stack([r[i] if r[i] is not None else torch.zeros_like(named[n]) for r in rows])
            for i, n in enumerate(names)
        }
        return grads, losses.detach()

    def _program_step(self, x, c, y, w, t, lr: float) -> float:
        grads, losses = self._group_gradients(x, c, y, w, t)
        named = dict(self.net.named_parameters())
        pen = self.penalty()
        pen_grads = (
            torch.autograd.grad(pen, list(named.values()), allow_unused=True)
            if pen.requires_grad  # no weight decay and no offsets: a constant 0
            else [None] * len(named)
        )
        pen_grads = {
            n: g if g is not None else torch.zeros_like(named[n])
            for n, g in zip(named, pen_grads, strict=True)
        }
        k = losses.shape[0]
        start = time.perf_counter()
        gram = torch.zeros((k, k), dtype=torch.float64, device=losses.device)
        n_shared = 0
        for n in named:
            if n in GROUP_PARAMETERS:
                continue
            # Gram of (g_g + p): J J' + a 1' + 1 a' + p'p with a = J p, without forming g + p
            J, pv = grads[n].reshape(k, -1), pen_grads[n].reshape(-1)
            a = (J @ pv).double()
            gram += (J @ J.T).double() + a[:, None] + a[None, :] + (pv @ pv).double()
            n_shared += J.shape[1]
        gram = gram.cpu().numpy()
        self.gram_seconds += time.perf_counter() - start
        values = losses.detach().cpu().double().numpy() + float(pen.detach())
        scale = math.sqrt(max(float(np.mean(np.diag(gram))), 1e-30))
        weights = self.direction.combine(
            values, gram, step=lr * math.sqrt(max(n_shared, 1)) / scale
        )
        wt = torch.as_tensor(weights, dtype=losses.dtype, device=losses.device)
        for n, p in named.items():
            if n in GROUP_PARAMETERS:
                p.grad = grads[n].sum(0) + pen_grads[n]
            else:
                p.grad = torch.tensordot(wt, grads[n], dims=1) + pen_grads[n]
        return float((wt * losses).sum() + pen.detach())


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


def _tensors(X, y, tasks, w, config: TrainConfig, loss_name: str, device: str, categories=None):
    numeric, codes, categories = _encode_categories(X, config.categorical_features, categories)
    numeric = np.array(numeric, dtype=np.float32)  # a writable copy: X is the caller's
    data = {
        "x": torch.as_tensor(numeric, dtype=torch.float32, device=device),
        "codes": torch.as_tensor(codes, device=device),
        "y": torch.as_tensor(y, dtype=torch.float32, device=device),
        "w": torch.as_tensor(w, dtype=torch.float32, device=device),
        "t": torch.as_tensor(tasks, dtype=torch.long, device=device),
        "loss": loss_name,
    }
    return data, numeric, categories


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
    train, val = _split(tasks, config.validation_fraction if metric else 0.0, rng)
    if metric is not None and not val.any():
        message = MSG_NO_VALIDATION.format(fraction=config.validation_fraction)
        warnings.warn(message, DataWarning, stacklevel=3)
        metric = None
    shares = np.bincount(tasks[train], weights=sample_weight[train], minlength=n_groups)
    shares = shares / shares.sum()
    data, numeric, categories = _tensors(X, y, tasks, sample_weight, config, loss_name, device)
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
    info.update(direction.info())
    return NeuralFit(spec, state, losses, history, info, val if metric is not None else None)


def _train(net, data, direction, config, shares, rng, train, val, metric, n_groups):
    shares_t = torch.as_tensor(shares, dtype=torch.float32, device=data["x"].device)
    stepper = _Stepper(net, data, direction, config, shares_t)
    sampler = _Sampler(data["t"].cpu().numpy()[train], n_groups, config.batch_size, rng)
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
    info = {
        "status": INACCURATE,  # a trained network carries no optimality certificate
        "solver": "torch",
        "path": "neural",
        "gap": None,
        "time": time.perf_counter() - start,
        "iterations": n_steps,
        "n_epochs": len(history),
        "best_epoch": best_epoch if best_state is not None else len(history),
        "best_score": best_score if best_state is not None else None,
        "stopped": stopped,
        "device": str(data["x"].device),
        "group_gradients": config.group_gradients if direction.needs_gradients else None,
        "step_seconds": stepper.seconds / max(n_steps, 1),
    }
    return history, best_state, info


def network_outputs(spec: dict[str, Any], state: dict[str, np.ndarray], X, tasks, device="cpu"):
    """Outputs (n, n_outputs) of a trained network for rows ``X`` of groups ``tasks``.

    Parameters
    ----------
    spec : dict
        :attr:`NeuralFit.spec`.
    state : dict of ndarray
        :attr:`NeuralFit.state`.
    X : ndarray of shape (n_samples, n_features)
    tasks : ndarray of shape (n_samples,)
        Task ids; -1 for groups unseen in fit (the shared part predicts them).
    device : str, default="cpu"

    Returns
    -------
    outputs : ndarray of shape (n_samples, n_outputs)
    """
    import_optional("torch", FEATURE)
    device = resolve_device(device)
    keys = ("n_numeric", "n_groups", "n_outputs", "hidden_layer_sizes", "heads", "dropout")
    net = GroupNetwork(**{k: spec[k] for k in keys}, cardinalities=spec["cardinalities"])
    net.load_state_dict({k: torch.as_tensor(v) for k, v in state.items()})
    # predict in float64 (where the device has it): a row's output must not depend on
    # which other rows share its batch (float32 matrix products differ in the last bits)
    dtype = torch.float32 if device == "mps" else torch.float64
    net.to(device=device, dtype=dtype).eval()
    categories = [np.asarray(c) for c in spec["categories"]]
    numeric, codes, _ = _encode_categories(np.asarray(X), spec["categorical_features"], categories)
    numeric = np.array(numeric, dtype=np.float64)  # writable (torch warns on read-only arrays)
    out = []
    with torch.no_grad():
        for start in range(0, numeric.shape[0], 16_384):
            part = slice(start, start + 16_384)
            z = net(
                torch.as_tensor(numeric[part], dtype=dtype, device=device),
                torch.as_tensor(codes[part], device=device),
                torch.as_tensor(np.asarray(tasks)[part], dtype=torch.long, device=device),
            )
            out.append(z.double().cpu().numpy())
    if not out:
        return np.empty((0, spec["n_outputs"]))
    return np.concatenate(out)
