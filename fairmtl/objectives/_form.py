"""An objective as plain numbers: the form the dual path, the reduction and the neural
path build from.

Every objective with such a form is one of a few shapes in the group losses ``L`` and
the penalty ``R`` (:attr:`ObjectiveForm.kind`):

- ``"fixed"``: ``w @ L + R`` with fixed group weights ``w`` (average, balanced);
- ``"max"``: ``max_g (c_g L_g - s_g) + R`` (minimax, chebyshev);
- ``"tilted"``: ``(1/t) log(mean_g exp(t L_g)) + R``;
- ``"bounded"``: ``w @ L + R`` subject to ``L_g <= b_g`` (bounded, no_harm);
- ``"rates"``: ``w @ L + R`` subject to bounds on the groups' mean scores, which are
  not functions of ``L`` (the rate objectives).

An :class:`ObjectiveForm` holds the numbers of one shape at given knob values; it knows
no cvxpy, no solver and no network. Each solving path turns it into its own object (the
dual path's ``DualForm``, the neural path's step direction).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy.special import logsumexp

__all__ = ["FormKind", "ObjectiveForm", "max_refine_bounds"]

FormKind = Literal["fixed", "max", "tilted", "bounded", "rates"]


def max_refine_bounds(scale: np.ndarray, shift: np.ndarray, losses: np.ndarray) -> np.ndarray:
    """Per-group loss bounds that keep the guarantee of ``max_g (c_g L_g - s_g)``.

    The second stage of ``minimax`` and ``chebyshev`` keeps every group's weighted excess
    at most its stage-1 level: ``c_g L_g - s_g <= level``, i.e.
    ``L_g <= (level + s_g) / c_g``. A group with ``c_g = 0`` is not bound by the
    guarantee and gets a loose bound.

    Parameters
    ----------
    scale : ndarray of shape (n_groups,)
        ``c``, non-negative.
    shift : ndarray of shape (n_groups,)
        ``s``.
    losses : ndarray of shape (n_groups,)
        Group losses of the stage-1 model.

    Returns
    -------
    bounds : ndarray of shape (n_groups,)
    """
    level = np.max(scale * losses - shift)
    loose = 1e6 * max(1.0, float(np.max(losses)))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(scale > 0, (level + shift) / np.where(scale > 0, scale, 1.0), loose)


@dataclass(frozen=True, eq=False)
class ObjectiveForm:
    """One objective at given knob values, as plain numbers (see the module docstring).

    Build one with the constructor of its kind (:meth:`fixed`, :meth:`maximum`,
    :meth:`tilted`, :meth:`bounded`, :meth:`rates`).

    Attributes
    ----------
    kind : {"fixed", "max", "tilted", "bounded", "rates"}
    weights : ndarray of shape (n_groups,)
        ``w``: the fixed group weights ("fixed"), or the weights of the average that a
        constrained form minimises ("bounded", "rates"); zeros otherwise.
    scale, shift : ndarray of shape (n_groups,)
        ``c`` and ``s`` of ``max_g (c_g L_g - s_g)`` ("max"); ones and zeros for
        "tilted"; zeros otherwise.
    start : ndarray of shape (n_groups,)
        The group weights (dual variables) a level method starts from.
    refine : bool
        Whether the answer is refined in a second stage: the lowest
        ``average loss + penalty`` among the models that keep every group's stage-1
        guarantee (:meth:`refine_bounds`).
    tilt : float
        ``t`` of "tilted"; 0 otherwise.
    bounds : ndarray of shape (n_groups,) or None
        ``b`` of "bounded".
    reference : ndarray of shape (n_groups,) or None
        The reference fit's group losses the bounds come from (``no_harm``).
    epsilon : float or None
        The allowed gap of the groups' mean scores ("rates").

    Examples
    --------
    >>> import numpy as np
    >>> from fairmtl.objectives import Chebyshev
    >>> form = Chebyshev().form(3, np.full(3, 1 / 3), preference=[1, 1, 2], ideal=np.zeros(3))
    >>> form.kind, form.scale.tolist(), form.refine
    ('max', [0.25, 0.25, 0.5], True)
    >>> form.primal(np.array([0.2, 0.4, 0.3]), 0.1)  # max_g c_g L_g + R
    0.25
    """

    kind: FormKind
    weights: np.ndarray
    scale: np.ndarray
    shift: np.ndarray
    start: np.ndarray
    refine: bool = False
    tilt: float = 0.0
    bounds: np.ndarray | None = None
    reference: np.ndarray | None = None
    epsilon: float | None = None

    # -- the kinds ---------------------------------------------------------------------
    @classmethod
    def fixed(cls, weights: np.ndarray) -> ObjectiveForm:
        """``w @ L + R``: fixed group weights ``w``."""
        weights = np.asarray(weights, dtype=float)
        G = len(weights)
        return cls("fixed", weights, np.zeros(G), np.zeros(G), np.full(G, 1.0 / G))

    @classmethod
    def maximum(
        cls, scale: np.ndarray, shift: np.ndarray, start: np.ndarray, *, refine: bool
    ) -> ObjectiveForm:
        """``max_g (c_g L_g - s_g) + R``, its level method started from ``start``."""
        scale = np.asarray(scale, dtype=float)
        start = np.array(start, dtype=float)  # a copy: the method moves it
        return cls("max", np.zeros(len(scale)), scale, np.asarray(shift, float), start, refine)

    @classmethod
    def tilted(cls, tilt: float, n_groups: int) -> ObjectiveForm:
        """``(1/t) log(mean_g exp(t L_g)) + R`` with ``t = tilt > 0``."""
        G = n_groups
        return cls("tilted", np.zeros(G), np.ones(G), np.zeros(G), np.full(G, 1.0 / G),
                   tilt=float(tilt))  # fmt: skip

    @classmethod
    def bounded(
        cls, weights: np.ndarray, bounds: np.ndarray, reference: np.ndarray | None = None
    ) -> ObjectiveForm:
        """``w @ L + R`` subject to ``L <= bounds``; multipliers start at 0."""
        weights = np.asarray(weights, dtype=float)
        G = len(weights)
        return cls("bounded", weights, np.zeros(G), np.zeros(G), np.zeros(G),
                   bounds=np.asarray(bounds, dtype=float), reference=reference)  # fmt: skip

    @classmethod
    def rates(cls, weights: np.ndarray, epsilon: float) -> ObjectiveForm:
        """``w @ L + R`` subject to the groups' mean scores within ``epsilon``."""
        weights = np.asarray(weights, dtype=float)
        G = len(weights)
        return cls("rates", weights, np.zeros(G), np.zeros(G), np.zeros(G),
                   epsilon=float(epsilon))  # fmt: skip

    # -- values ------------------------------------------------------------------------
    @property
    def inv_tilt(self) -> float:
        """``1 / tilt`` for "tilted", else 0."""
        return 1.0 / self.tilt if self.tilt else 0.0

    def primal(self, losses: np.ndarray, penalty: float) -> float:
        """The objective ``F(L) + R`` of a model with group losses ``losses`` and penalty
        ``penalty``; ``inf`` when it breaks a bound of "bounded".

        Parameters
        ----------
        losses : ndarray of shape (n_groups,)
        penalty : float

        Returns
        -------
        value : float
        """
        if self.kind == "max":
            return float(np.max(self.scale * losses - self.shift)) + penalty
        if self.kind == "tilted":
            t = self.tilt
            return float(logsumexp(t * losses) - np.log(len(losses))) / t + penalty
        if self.kind == "rates":
            raise ValueError("A rate objective's constraints are on scores, not group losses.")
        if self.bounds is not None and np.any(losses > self.bounds):
            return np.inf
        return float(self.weights @ losses) + penalty

    def refine_bounds(self, losses: np.ndarray) -> np.ndarray:
        """Loss bounds of the second stage, from the stage-1 model's group losses
        (:func:`max_refine_bounds`; a "max" form with ``refine``)."""
        if self.kind != "max":
            raise ValueError(f"A {self.kind!r} form is not refined.")
        return max_refine_bounds(self.scale, self.shift, losses)
