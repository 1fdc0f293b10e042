"""Neural group models in torch: a shared MLP trunk and shared, per-group or offset heads.

The trunk maps standardised numeric features (and optional embeddings of categorical
columns) to a representation ``z``; the heads map ``z`` to the outputs of each row's group:

- ``shared``: one linear head for every group;
- ``per_group``: one linear head per group (Caruana's hard parameter sharing); a group
  unseen in fit gets the mean of the heads;
- ``offset``: a shared head plus a per-group offset head, initialised at zero and
  penalised by ``sharing_strength`` (the neural form of the linear ``offset`` sharing);
  an unseen group gets the shared head.

With ``hidden_layer_sizes=()`` there is no trunk: the model is linear in the features,
the same model family as the convex path. Parameters of one group only (the per-group
heads) are named in :data:`GROUP_PARAMETERS`; the trainer gives them their own group's
gradient while the shared parameters follow the combined direction.

torch is optional: importing this module without it raises
:class:`~fairmtl.exceptions.OptionalDependencyError` naming the extra.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from fairmtl._optional import import_optional
from fairmtl.losses import HUBER_DELTA
from fairmtl.neural._config import FEATURE

torch = import_optional("torch", FEATURE)
nn = torch.nn
F = torch.nn.functional

__all__ = ["HEADS", "GROUP_PARAMETERS", "GroupNetwork", "torch_loss", "embedding_dim"]

HEADS = ("shared", "per_group", "offset")
#: names of parameters whose first axis is the group: each group's slice is its own
GROUP_PARAMETERS = frozenset({"group_weight", "group_bias"})


def embedding_dim(cardinality: int) -> int:
    """Embedding width of a categorical column: ``min(16, ceil(1.6 * card ** 0.56))`` (fast.ai)."""
    return int(min(16, math.ceil(1.6 * max(cardinality, 1) ** 0.56)))


class GroupNetwork(nn.Module):
    """An MLP trunk shared by all groups and heads chosen by ``heads``.

    Parameters
    ----------
    n_numeric : int
        Number of numeric input columns.
    n_groups : int
    n_outputs : int
        1, or the number of classes (multinomial).
    hidden_layer_sizes : sequence of int, default=(64, 64)
        Widths of the trunk's ReLU layers; ``()`` gives a linear model.
    heads : {"shared", "per_group", "offset"}, default="per_group"
    dropout : float, default=0.0
        Dropout after each hidden layer.
    cardinalities : sequence of int, default=()
        Number of categories of each categorical column; the codes ``0..card-1`` are
        embedded and the code ``card`` stands for a category unseen in fit.
    """

    def __init__(
        self,
        n_numeric: int,
        n_groups: int,
        n_outputs: int,
        *,
        hidden_layer_sizes: Sequence[int] = (64, 64),
        heads: str = "per_group",
        dropout: float = 0.0,
        cardinalities: Sequence[int] = (),
    ) -> None:
        super().__init__()
        if heads not in HEADS:
            raise ValueError(f"heads must be one of {HEADS}; got {heads!r}.")
        self.n_groups, self.n_outputs, self.heads = n_groups, n_outputs, heads
        self.register_buffer("x_mean", torch.zeros(n_numeric))
        self.register_buffer("x_scale", torch.ones(n_numeric))
        # outputs = head * y_scale + y_mean: regression heads learn in standardised units
        # while the loss stays in the target's units
        self.register_buffer("y_mean", torch.zeros(n_outputs))
        self.register_buffer("y_scale", torch.ones(n_outputs))
        self.embeddings = nn.ModuleList(
            nn.Embedding(card + 1, embedding_dim(card)) for card in cardinalities
        )
        width = n_numeric + sum(e.embedding_dim for e in self.embeddings)
        layers: list[nn.Module] = []
        for size in hidden_layer_sizes:
            layers += [nn.Linear(width, int(size)), nn.ReLU()]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            width = int(size)
        self.trunk = nn.Sequential(*layers)
        self.width = width
        if heads in ("shared", "offset"):
            self.head = nn.Linear(width, n_outputs)
        if heads in ("per_group", "offset"):
            self.group_weight = nn.Parameter(torch.empty(n_groups, width, n_outputs))
            self.group_bias = nn.Parameter(torch.empty(n_groups, n_outputs))
            if heads == "offset":
                nn.init.zeros_(self.group_weight)
                nn.init.zeros_(self.group_bias)
            else:  # as nn.Linear initialises one head, for each group
                bound = 1.0 / math.sqrt(width) if width > 0 else 0.0
                nn.init.uniform_(self.group_weight, -bound, bound)
                nn.init.uniform_(self.group_bias, -bound, bound)

    def set_scaling(self, mean, scale, y_mean=0.0, y_scale=1.0) -> None:
        """Store the standardisation of the numeric columns and of a regression target."""
        self.x_mean.copy_(torch.as_tensor(mean, dtype=self.x_mean.dtype))
        self.x_scale.copy_(torch.as_tensor(scale, dtype=self.x_scale.dtype))
        self.y_mean.fill_(float(y_mean))
        self.y_scale.fill_(float(y_scale))

    def representation(self, x, codes):
        """The trunk's output ``z`` for numeric ``x`` (n, d) and category codes (n, c)."""
        parts = [(x - self.x_mean) / self.x_scale]
        parts += [emb(codes[..., j]) for j, emb in enumerate(self.embeddings)]
        z = torch.cat(parts, dim=-1) if len(parts) > 1 else parts[0]
        return self.trunk(z)

    def forward(self, x, codes, tasks):
        """Outputs (n, n_outputs) of each row's group; ``tasks == -1``: the shared part."""
        return self.head_outputs(self.representation(x, codes), tasks)

    def head_outputs(self, z, tasks):
        """The heads applied to a representation ``z`` (n, width) for rows of ``tasks``."""
        return self._heads(z, tasks) * self.y_scale + self.y_mean

    def _heads(self, z, tasks):
        out = self.head(z) if self.heads != "per_group" else None
        if self.heads == "shared":
            return out
        known = tasks.clamp(min=0)
        per_group = torch.einsum("nh,ghk->ngk", z, self.group_weight) + self.group_bias
        index = known.reshape(-1, 1, 1).expand(-1, 1, self.n_outputs)
        own = per_group.gather(1, index).squeeze(1)
        if self.heads == "per_group":
            shared_part = per_group.mean(dim=1)
        else:
            own, shared_part = out + own, out
        return torch.where((tasks >= 0).unsqueeze(-1), own, shared_part)

    def penalty(self, weight_decay: float, strength: float, shares):
        """``weight_decay`` x squared weights (not biases) + ``strength`` x squared offsets.

        Per-group heads are weighted by the groups' shares ``shares`` (a tensor), as the
        linear ``independent`` penalty is; offsets are penalised like the linear
        ``offset`` sharing's distance to the shared core.
        """
        total = torch.zeros((), dtype=self.x_mean.dtype, device=self.x_mean.device)
        if weight_decay > 0:
            for module in self.trunk:
                if isinstance(module, nn.Linear):
                    total = total + weight_decay * module.weight.pow(2).sum()
            if self.heads != "per_group":
                total = total + weight_decay * self.head.weight.pow(2).sum()
            if self.heads == "per_group":
                per_group = self.group_weight.pow(2).sum(dim=(1, 2))
                total = total + weight_decay * (shares * per_group).sum()
        if self.heads == "offset" and strength > 0:
            total = total + strength * (
                self.group_weight.pow(2).sum() + self.group_bias.pow(2).sum()
            )
        return total


def torch_loss(name: str):
    """Per-row loss ``(z, y) -> (n,)`` in torch, with the conventions of :mod:`fairmtl.losses`.

    ``z`` has shape (n, K); ``y`` holds {-1, +1} (binary), class indices or floats.
    """
    if name == "logistic":
        return lambda z, y: F.softplus(-y * z[..., 0])
    if name == "multinomial":
        return lambda z, y: (
            torch.logsumexp(z, dim=-1) - z.gather(-1, y.long().unsqueeze(-1)).squeeze(-1)
        )
    if name == "squared":
        return lambda z, y: (z[..., 0] - y) ** 2
    if name == "huber":

        def huber(z, y):
            r = (z[..., 0] - y).abs()
            return torch.where(r <= HUBER_DELTA, r**2, 2 * HUBER_DELTA * r - HUBER_DELTA**2)

        return huber
    if name == "hinge":
        return lambda z, y: F.relu(1.0 - y * z[..., 0])
    if name == "multiclass_hinge":

        def crammer_singer(z, y):
            own = z.gather(-1, y.long().unsqueeze(-1))
            classes = torch.arange(z.shape[-1], device=z.device)
            margin = z + 1.0 - (classes == y.long().unsqueeze(-1)).to(z.dtype)
            return margin.max(dim=-1).values - own.squeeze(-1)

        return crammer_singer
    raise ValueError(f"Unknown loss {name!r} for the neural path.")
