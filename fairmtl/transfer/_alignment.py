"""Alignment scores between groups' feature covariances (principal angles, alignment).

Pure numpy on matrices; nothing here knows models. Two scores, both in ``[0, 1]``, both
1 for identical inputs and 0 for orthogonal ones:

- :func:`subspace_affinity` of orthonormal bases ``A`` (d x r_a) and ``B`` (d x r_b):
  ``||A.T @ B||_F**2 / sqrt(r_a * r_b)``. With ``r_a == r_b == r`` this is the mean of
  ``cos(phi_i)**2`` over the ``r`` principal angles ``phi_i`` between the subspaces
  (:func:`scipy.linalg.subspace_angles`); with unequal ranks it is below 1 even when one
  subspace holds the other.
- :func:`covariance_alignment` of covariances ``C1``, ``C2`` truncated to their top-r
  eigenpairs ``C_i ~ U_i D_i U_i.T``:
  ``<C1, C2>_F / (||C1||_F ||C2||_F) = ||D1^1/2 U1.T U2 D2^1/2||_F**2 / (||D1||_F ||D2||_F)``,
  the cosine between the two matrices (kernel-target alignment). The numerator is the
  squared numerator of the covariance similarity score of Wu, Zhang & Re (ICLR 2020,
  ``||(U1 D1^1/2).T U2 D2^1/2||_F``); normalising by Frobenius norms instead of traces
  makes identical covariances score exactly 1 whatever their spectrum.

The rank of a truncation is given, or the fewest eigenpairs that hold ``energy`` of the
trace.

:func:`covariance_similarity` is the covariance similarity score of Wu, Zhang & Re (ICLR
2020, Eq. 5) itself, from data matrices: ``C_i = X_i.T X_i`` (uncentred, not divided by
the row count), truncated to the fewest eigenpairs holding 99% of its eigenvalues, and

    ||(U1 D1^1/2).T U2 D2^1/2||_F / (||U1 D1^1/2||_F ||U2 D2^1/2||_F)
      = ||D1^1/2 U1.T U2 D2^1/2||_F / sqrt(tr D1 tr D2).

It is invariant to rotations of the rows' coordinates applied to both matrices and to
the scale of each, 0 for orthogonal ranges, and below 1 for identical data unless the
covariance has rank 1 (``||D||_F / tr D``; 1/sqrt(d) for an isotropic one).
:func:`covariance_alignment` squares the numerator and divides by ``||D1||_F ||D2||_F``
instead, so identical covariances score 1 whatever their spectrum. Neither clusters
groups better: on groups in two clusters of rotated covariances
(``benchmarks/_transfer.py``, experiment ``covariance clusters``) their adjusted Rand
indices are within each other's intervals. fairmtl keeps its cosine for the transfer
report's heatmap, whose diagonal reads 1, and offers the paper's score beside it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from fairmtl.exceptions import DataValidationError

__all__ = [
    "MSG_ENERGY",
    "covariance_alignment",
    "covariance_similarity",
    "group_second_moments",
    "pairwise_covariance_alignment",
    "pairwise_covariance_similarity",
    "pairwise_subspace_affinity",
    "subspace_affinity",
    "top_eigenpairs",
]

MSG_ENERGY = "energy must be a float in (0, 1]. Got {energy!r} instead."
MSG_NOT_SQUARE = "A covariance must be a square symmetric matrix; got shape {shape}."
MSG_DATA_MATRIX = (
    "The data of each task must be a 2-D array of shape (n_rows, n_features), with the "
    "same features for both tasks; got shape {shape}."
)
MSG_BASIS = "A basis must be a 2-D array of shape (n_features, rank); got shape {shape}."


def _rank_for(eigenvalues: np.ndarray, rank: int | None, energy: float) -> int:
    """``rank`` (capped at the number of eigenvalues), else the energy rank."""
    if rank is not None:
        return int(min(max(rank, 1), eigenvalues.size))
    if not isinstance(energy, float | int) or not 0 < energy <= 1:
        raise DataValidationError(MSG_ENERGY.format(energy=energy))
    total = eigenvalues.sum()
    if total <= 0:
        return 1
    share = np.cumsum(eigenvalues) / total
    return int(np.searchsorted(share, energy - 1e-12) + 1)


def top_eigenpairs(
    C: Any, rank: int | None = None, energy: float = 0.9
) -> tuple[np.ndarray, np.ndarray]:
    """Leading eigenvalues (descending, clipped at 0) and eigenvectors of a symmetric matrix.

    Parameters
    ----------
    C : array-like of shape (d, d)
        Symmetric positive semi-definite matrix (a covariance).
    rank : int, default=None
        How many pairs to keep. None: the fewest whose eigenvalues hold ``energy`` of the
        trace.
    energy : float in (0, 1], default=0.9

    Returns
    -------
    eigenvalues : ndarray of shape (r,)
    eigenvectors : ndarray of shape (d, r)
        Orthonormal columns.
    """
    C = np.asarray(C, dtype=float)
    if C.ndim != 2 or C.shape[0] != C.shape[1]:
        raise DataValidationError(MSG_NOT_SQUARE.format(shape=C.shape))
    values, vectors = np.linalg.eigh((C + C.T) / 2)
    values, vectors = np.clip(values[::-1], 0.0, None), vectors[:, ::-1]
    r = _rank_for(values, rank, energy)
    return values[:r], vectors[:, :r]


def subspace_affinity(A: Any, B: Any) -> float:
    """Mean squared cosine of the principal angles between ``span(A)`` and ``span(B)``.

    Parameters
    ----------
    A : array-like of shape (d, r_a)
        Orthonormal basis of the first subspace.
    B : array-like of shape (d, r_b)
        Orthonormal basis of the second.

    Returns
    -------
    score : float in [0, 1]
        ``||A.T @ B||_F**2 / sqrt(r_a * r_b)``: 1 for identical subspaces, 0 for
        orthogonal ones.

    Examples
    --------
    >>> import numpy as np
    >>> e = np.eye(3)
    >>> subspace_affinity(e[:, :2], e[:, :2]), subspace_affinity(e[:, :1], e[:, 1:])
    (1.0, 0.0)
    """
    A, B = np.asarray(A, dtype=float), np.asarray(B, dtype=float)
    for M in (A, B):
        if M.ndim != 2 or M.shape[1] == 0:
            raise DataValidationError(MSG_BASIS.format(shape=M.shape))
    score = np.sum((A.T @ B) ** 2) / np.sqrt(A.shape[1] * B.shape[1])
    return float(np.clip(score, 0.0, 1.0))


def covariance_alignment(C1: Any, C2: Any, rank: int | None = None, energy: float = 1.0) -> float:
    """Cosine between two covariances, each truncated to its top eigenpairs.

    Parameters
    ----------
    C1, C2 : array-like of shape (d, d)
        Symmetric positive semi-definite matrices.
    rank : int, default=None
        Eigenpairs kept in each; None: those holding ``energy`` of its trace.
    energy : float in (0, 1], default=1.0
        1 keeps every eigenpair (the plain cosine of the two matrices).

    Returns
    -------
    score : float in [0, 1]
        ``||D1^1/2 U1.T U2 D2^1/2||_F**2 / (||D1||_F ||D2||_F)`` (see the module
        docstring): 1 when the truncated covariances are proportional, 0 when their
        ranges are orthogonal.

    Examples
    --------
    >>> import numpy as np
    >>> C = np.diag([3.0, 1.0, 0.0])
    >>> same = covariance_alignment(C, 2 * C)
    >>> round(same, 12), covariance_alignment(C, np.diag([0.0, 0.0, 1.0]))
    (1.0, 0.0)
    """
    d1, U1 = top_eigenpairs(C1, rank, energy)
    d2, U2 = top_eigenpairs(C2, rank, energy)
    denominator = np.linalg.norm(d1) * np.linalg.norm(d2)
    if denominator == 0:
        return 0.0
    inner = np.sum((np.sqrt(d1)[:, None] * (U1.T @ U2) * np.sqrt(d2)[None, :]) ** 2)
    return float(np.clip(inner / denominator, 0.0, 1.0))


def _scaled_factor(C: Any, energy: float) -> np.ndarray:
    """``U_r D_r^1/2`` of the energy-truncated eigendecomposition of ``C``."""
    values, vectors = top_eigenpairs(C, None, energy)
    return vectors * np.sqrt(values)[None, :]


def _similarity(F1: np.ndarray, F2: np.ndarray) -> float:
    denominator = np.linalg.norm(F1) * np.linalg.norm(F2)
    if denominator == 0:
        return 0.0
    return float(np.clip(np.linalg.norm(F1.T @ F2) / denominator, 0.0, 1.0))


def covariance_similarity(X1: Any, X2: Any, energy: float = 0.99) -> float:
    """Covariance similarity score of Wu, Zhang & Re (ICLR 2020, Eq. 5) of two data sets.

    Parameters
    ----------
    X1 : array-like of shape (m1, d)
        Rows of the first task (its features, or embeddings).
    X2 : array-like of shape (m2, d)
        Rows of the second.
    energy : float in (0, 1], default=0.99
        Each ``X_i.T X_i`` keeps its fewest top eigenpairs holding this share of its
        eigenvalues (the paper's 99%).

    Returns
    -------
    score : float in [0, 1]
        ``||(U1 D1^1/2).T U2 D2^1/2||_F / (||U1 D1^1/2||_F ||U2 D2^1/2||_F)``.

    See Also
    --------
    covariance_alignment : fairmtl's cosine of the two covariances (1 for identical ones).

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[1.0, 0.0], [0.0, 1.0]])
    >>> round(covariance_similarity(X, X), 4), covariance_similarity(X[:1], X[1:])
    (0.7071, 0.0)
    """
    X1, X2 = np.asarray(X1, dtype=float), np.asarray(X2, dtype=float)
    for M in (X1, X2):
        if M.ndim != 2:
            raise DataValidationError(MSG_DATA_MATRIX.format(shape=M.shape))
    if X1.shape[1] != X2.shape[1]:
        raise DataValidationError(MSG_DATA_MATRIX.format(shape=(X1.shape, X2.shape)))
    return _similarity(_scaled_factor(X1.T @ X1, energy), _scaled_factor(X2.T @ X2, energy))


def pairwise_covariance_similarity(moments: np.ndarray, energy: float = 0.99) -> np.ndarray:
    """:func:`covariance_similarity` of every pair of second moments, shape (G, G).

    The score does not depend on the scale of each moment, so ``X_g.T X_g / n_g`` gives
    the numbers of ``X_g.T X_g``.
    """
    factors = [_scaled_factor(C, energy) for C in moments]
    G = len(factors)
    out = np.empty((G, G))
    for i in range(G):
        for j in range(i, G):
            out[i, j] = out[j, i] = _similarity(factors[i], factors[j])
    return out


def group_second_moments(Z: np.ndarray, codes: np.ndarray, n_groups: int, center: str):
    """Per-group ``Z_g.T Z_g / n_g`` (``center="pooled"``) or covariance (``"group"``).

    Returns an array of shape (n_groups, d, d).
    """
    counts = np.bincount(codes, minlength=n_groups).astype(float)
    if center == "group":
        means = np.zeros((n_groups, Z.shape[1]))
        np.add.at(means, codes, Z)
        Z = Z - (means / counts[:, None])[codes]
    moments = np.zeros((n_groups, Z.shape[1], Z.shape[1]))
    np.add.at(moments, codes, Z[:, :, None] * Z[:, None, :])
    return moments / counts[:, None, None]


def pairwise_subspace_affinity(
    covariances: np.ndarray, rank: int | None = None, energy: float = 0.9
) -> np.ndarray:
    """:func:`subspace_affinity` of the top eigenspaces of every pair, shape (G, G)."""
    bases = [top_eigenpairs(C, rank, energy)[1] for C in covariances]
    r_max = max(B.shape[1] for B in bases)
    padded = np.zeros((len(bases), covariances.shape[1], r_max))
    for g, B in enumerate(bases):
        padded[g, :, : B.shape[1]] = B  # zero columns add nothing to ||A.T B||_F
    ranks = np.array([B.shape[1] for B in bases], dtype=float)
    overlap = np.sum(np.einsum("gdr,hds->ghrs", padded, padded) ** 2, axis=(2, 3))
    return np.clip(overlap / np.sqrt(np.outer(ranks, ranks)), 0.0, 1.0)


def pairwise_covariance_alignment(
    covariances: np.ndarray, rank: int | None = None, energy: float = 1.0
) -> np.ndarray:
    """:func:`covariance_alignment` of every pair, shape (G, G), in one Gram matrix."""
    truncated = []
    for C in covariances:
        values, vectors = top_eigenpairs(C, rank, energy)
        truncated.append((vectors * values) @ vectors.T)
    flat = np.stack(truncated).reshape(len(truncated), -1)
    norms = np.linalg.norm(flat, axis=1)
    norms = np.where(norms > 0, norms, 1.0)
    unit = flat / norms[:, None]
    return np.clip(unit @ unit.T, 0.0, 1.0)
