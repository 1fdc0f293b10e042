"""One training step: the group losses of a stratified minibatch, their gradients where
the direction needs them (batched with ``torch.func.vmap``, a loop, or the
representation's), and the combined gradient written to the parameters."""

from __future__ import annotations

import math
import time

import numpy as np

from fairmtl._optional import import_optional
from fairmtl.neural._config import FEATURE, TrainConfig
from fairmtl.neural._directions import Direction

torch = import_optional("torch", FEATURE)

from fairmtl.neural._network import GROUP_PARAMETERS, torch_loss  # noqa: E402

__all__ = ["Stepper"]


class Stepper:
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
