"""Sharing schemes: how each group's linear predictor is built from parameters.

Every scheme holds, for G groups, d features and K outputs, per-group coefficients
``w_g`` (d x K) and intercepts ``b_g`` (K). The solver works on scaled
features ``X / s`` (for the solvers' sake); the schemes state their penalties on the
parameters of the ORIGINAL features, so the optimum does not depend on that scaling.

Penalty conventions, with ``rho_g`` the group's share of the total sample weight
(``sum_g rho_g = 1``) and ``||.||`` the Frobenius norm:

- ``shared``: one ``(w, b)`` for all groups; penalty ``alpha * ||w||^2``.
- ``independent``: ``(w_g, b_g)`` free; penalty ``alpha * sum_g rho_g ||w_g||^2``, so that
  under the ``average`` objective each group's fit is that group's own penalised fit with
  the same ``alpha``.
- ``offset`` (Evgeniou & Pontil): ``independent``'s penalty plus
  ``sharing_strength * sum_g ||(w_g, b_g) - (w_bar, b_bar)||^2`` where ``(w_bar, b_bar)`` is
  the unweighted mean over groups (the shared core; the minimiser of the usual
  ``theta_0 + v_g`` form over ``theta_0``). ``sharing_strength = 0`` gives ``independent``;
  as it grows the fit tends to ``shared`` with penalty ``alpha * ||w||^2``.
- ``lowrank``: ``independent``'s penalty plus ``sharing_strength * ||[w_1; ...; w_G]||_*``,
  the nuclear norm of the G x (d K) matrix of stacked group coefficients.

Intercepts are never penalised by ``alpha``. For multinomial outputs the intercepts of
each group sum to zero (softmax is invariant to a common shift; this makes them unique,
as in scikit-learn).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cvxpy as cp
import numpy as np
import scipy.sparse as sp

__all__ = ["Sharing", "SHARING_SCHEMES", "make_sharing", "Scaling"]

MSG_UNKNOWN_SHARING = "Unknown sharing {name!r}. Choose one of: {choices}."


@dataclass(frozen=True)
class Scaling:
    """Feature scaling used inside the solver: ``X' = (X - mean) / scale``."""

    mean: np.ndarray
    scale: np.ndarray

    @classmethod
    def fit(cls, X: np.ndarray) -> Scaling:
        """Centre and scale dense columns; only scale mostly-zero columns.

        Centring a one-hot column would turn its zeros into non-zeros: measured on Adult,
        the denser problem made each interior-point iteration ~8x slower. Dense columns
        are centred (an offset mean far from 0 upsets the solver's accuracy).
        """
        if X.shape[0] == 0:
            return cls(mean=np.zeros(X.shape[1]), scale=np.ones(X.shape[1]))
        dense = np.count_nonzero(X, axis=0) > 0.5 * X.shape[0]
        mean = np.where(dense, X.mean(axis=0), 0.0)
        spread = np.sqrt(np.mean((X - mean) ** 2, axis=0))
        scale = np.where(spread > 1e-12 * np.maximum(1.0, np.abs(mean)), spread, 1.0)
        return cls(mean=mean, scale=scale)

    def transform(self, X: np.ndarray):
        """Scaled features; a scipy CSR matrix when most entries are zero."""
        Xs = (X - self.mean) / self.scale
        if Xs.size and np.count_nonzero(Xs) < 0.5 * Xs.size:
            return sp.csr_matrix(Xs)
        return Xs


@dataclass
class Sharing:
    """Base of the sharing schemes: variables, per-group outputs, penalty, unpacking.

    Parameters
    ----------
    n_features, n_groups, n_outputs : int
    scaling : Scaling
        The solver-side feature scaling.
    """

    n_features: int
    n_groups: int
    n_outputs: int
    scaling: Scaling
    name: str = field(default="", init=False)
    has_shared_part: bool = field(default=True, init=False)

    def __post_init__(self) -> None:
        d, K = self.n_features, self.n_outputs
        n_blocks = 1 if self.name == "shared" else self.n_groups
        self.coef_var = cp.Variable((n_blocks * d, K), name="coef")
        self.intercept_var = cp.Variable((n_blocks, K), name="intercept")

    # -- parameters of group g, in scaled space and in original space ----------------
    def _block(self, g: int) -> int:
        return 0 if self.name == "shared" else g

    def scaled_params(self, g: int) -> tuple[cp.Expression, cp.Expression]:
        """``(W'_g, b'_g)``: the parameters acting on scaled features."""
        k, d = self._block(g), self.n_features
        return self.coef_var[k * d : (k + 1) * d, :], self.intercept_var[k, :]

    def original_params(self, g: int) -> tuple[cp.Expression, cp.Expression]:
        """``(w_g, b_g)`` on the original features, affine in the variables."""
        W, b = self.scaled_params(g)
        inv = 1.0 / self.scaling.scale
        w = cp.multiply(inv[:, None], W)
        b_orig = b - (self.scaling.mean * inv) @ W
        return w, b_orig

    def outputs(self, g: int, X_scaled: np.ndarray) -> cp.Expression:
        """Model outputs for the rows of group g, shape (n_g, K) or (n_g,) when K = 1."""
        W, b = self.scaled_params(g)
        if self.n_outputs == 1:
            return X_scaled @ W[:, 0] + b[0]
        return X_scaled @ W + cp.reshape(b, (1, self.n_outputs), order="C")

    def outputs_all(self, X_scaled, tasks: np.ndarray, intercept_column=None) -> cp.Expression:
        """Model outputs for all rows at once, shape (n, K) or (n,) when K = 1.

        Per-group coefficients act through one block-sparse matrix whose row i holds
        row i's features in the columns of its group's block (n x d non-zeros in all).
        ``intercept_column`` (default ones) multiplies each row's intercept.
        """
        n, d, K = X_scaled.shape[0], self.n_features, self.n_outputs
        ones = np.ones(n) if intercept_column is None else np.asarray(intercept_column)
        if self.name == "shared":
            design = X_scaled
            onehot = ones[:, None]
        else:
            Xc = sp.coo_matrix(X_scaled)
            design = sp.csr_matrix(
                (Xc.data, (Xc.row, tasks[Xc.row] * d + Xc.col)), shape=(n, self.n_groups * d)
            )
            onehot = sp.csr_matrix((ones, (np.arange(n), tasks)), shape=(n, self.n_groups))
        z = design @ self.coef_var + onehot @ self.intercept_var
        return z[:, 0] if K == 1 else z

    def constraints(self) -> list[cp.Constraint]:
        if self.n_outputs > 1:
            return [cp.sum(self.intercept_var, axis=1) == 0]
        return []

    def penalty(self, alpha: cp.Parameter, strength: cp.Parameter, rho: np.ndarray):
        """The penalty of the module docstring as a convex, DPP expression."""
        ridge = [cp.sum_squares(self.original_params(g)[0]) for g in range(self.n_groups)]
        return alpha * (rho @ cp.hstack(ridge))

    # -- results -----------------------------------------------------------------
    def unpack(self) -> tuple[np.ndarray, np.ndarray]:
        """Solved parameters on the original features: coef (G, d, K), intercept (G, K)."""
        d, K, G = self.n_features, self.n_outputs, self.n_groups
        W = np.asarray(self.coef_var.value).reshape(-1, d, K)
        b = np.asarray(self.intercept_var.value).reshape(-1, K)
        inv = 1.0 / self.scaling.scale
        coef = W * inv[None, :, None]
        intercept = b - np.einsum("j,gjk->gk", self.scaling.mean * inv, W)
        if coef.shape[0] == 1 and G > 1:
            coef, intercept = np.repeat(coef, G, axis=0), np.repeat(intercept, G, axis=0)
        return coef, intercept

    def warm_start(self, coef: np.ndarray, intercept: np.ndarray) -> None:
        """Set the variables' values from original-space parameters (for warm starts)."""
        d, K = self.n_features, self.n_outputs
        W = coef * self.scaling.scale[None, :, None]
        b = intercept + np.einsum("j,gjk->gk", self.scaling.mean, coef)
        n_blocks = self.coef_var.shape[0] // d
        self.coef_var.value = W[:n_blocks].reshape(n_blocks * d, K)
        self.intercept_var.value = b[:n_blocks]


class SharedSharing(Sharing):
    """One model for every group."""

    def __post_init__(self) -> None:
        self.name = "shared"
        super().__post_init__()

    def penalty(self, alpha, strength, rho):
        return alpha * cp.sum_squares(self.original_params(0)[0])


class IndependentSharing(Sharing):
    """One free model per group; no shared part for unseen groups."""

    def __post_init__(self) -> None:
        self.name = "independent"
        self.has_shared_part = False
        super().__post_init__()


class OffsetSharing(Sharing):
    """Shared core plus per-group offsets, coupled by ``sharing_strength``."""

    def __post_init__(self) -> None:
        self.name = "offset"
        super().__post_init__()

    def penalty(self, alpha, strength, rho):
        base = super().penalty(alpha, strength, rho)
        params = [self.original_params(g) for g in range(self.n_groups)]
        stacked = cp.vstack([cp.hstack([cp.vec(w, order="C"), b]) for w, b in params])
        centred = stacked - np.full((self.n_groups, self.n_groups), 1.0 / self.n_groups) @ stacked
        return base + strength * cp.sum_squares(centred)


class LowRankSharing(Sharing):
    """Group models coupled by the nuclear norm of their stacked coefficients."""

    def __post_init__(self) -> None:
        self.name = "lowrank"
        super().__post_init__()

    def penalty(self, alpha, strength, rho):
        base = super().penalty(alpha, strength, rho)
        stacked = cp.vstack(
            [cp.vec(self.original_params(g)[0], order="C") for g in range(self.n_groups)]
        )
        return base + strength * cp.normNuc(stacked)


SHARING_SCHEMES: dict[str, type[Sharing]] = {
    "shared": SharedSharing,
    "independent": IndependentSharing,
    "offset": OffsetSharing,
    "lowrank": LowRankSharing,
}


def make_sharing(
    name: str, n_features: int, n_groups: int, n_outputs: int, scaling: Scaling
) -> Sharing:
    """Build the sharing scheme called ``name``."""
    try:
        cls = SHARING_SCHEMES[name]
    except KeyError:
        raise ValueError(
            MSG_UNKNOWN_SHARING.format(name=name, choices=sorted(SHARING_SCHEMES))
        ) from None
    return cls(n_features, n_groups, n_outputs, scaling)
