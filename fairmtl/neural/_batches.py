"""The training data as tensors: categorical codes, the per-group validation split and
group-stratified minibatches."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from fairmtl._optional import import_optional
from fairmtl.neural._config import FEATURE, TrainConfig

torch = import_optional("torch", FEATURE)

__all__ = ["Sampler", "encode_categories", "split_validation", "to_tensors"]


def encode_categories(X: np.ndarray, columns: Sequence[int], categories=None):
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


def split_validation(tasks: np.ndarray, fraction: float, rng: np.random.Generator):
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


class Sampler:
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


def to_tensors(X, y, tasks, w, config: TrainConfig, loss_name: str, device: str, categories=None):
    numeric, codes, categories = encode_categories(X, config.categorical_features, categories)
    numeric = np.array(numeric, dtype=np.float32)  # a writable copy: X is the caller's
    data = {
        "x": torch.as_tensor(numeric, dtype=torch.float32, device=device),
        "codes": torch.as_tensor(codes, device=device),
        # writable copies: the target may be a read-only view of a pandas Series
        "y": torch.as_tensor(np.array(y, dtype=np.float32), device=device),
        "w": torch.as_tensor(np.array(w, dtype=np.float32), device=device),
        "t": torch.as_tensor(tasks, dtype=torch.long, device=device),
        "loss": loss_name,
    }
    return data, numeric, categories
