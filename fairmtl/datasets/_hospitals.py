"""``make_hospitals``: a simulated health system whose hospitals are related tasks.

Every knob of the simulation maps to one difficulty a group-as-task model meets in real
multi-site data: very unequal site sizes, shifted patient populations, different base
rates, related-but-unequal true models, clusters of similar sites, outlying sites, and
non-linear truth. The truth is returned with the data so that tests and benchmarks can
check what a model recovers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from fairmtl.datasets._checks import check_bool, check_float, check_int, check_option
from fairmtl.exceptions import DataValidationError

if TYPE_CHECKING:  # sklearn is imported on use, to keep `import fairmtl.datasets` light
    from sklearn.utils import Bunch

__all__ = ["make_hospitals"]

MSG_TOO_FEW_SAMPLES = (
    "n_samples={n_samples} is too small for n_hospitals={n_hospitals} hospitals of at least "
    "min_size={min_size} rows each: it must be at least {needed}. Raise n_samples or lower "
    "n_hospitals or min_size."
)
MSG_TOO_MANY_SPECIAL = (
    "n_clusters={n_clusters} plus n_outliers={n_outliers} exceeds n_hospitals={n_hospitals}: "
    "every cluster needs at least one hospital that is not an outlier. Lower n_clusters or "
    "n_outliers."
)

#: Norm of the shared coefficient vector; deviations and separations are relative to it.
SIGNAL = 2.0
#: Log-normal jitter of hospital weights, per unit of ``size_skew``.
SIZE_JITTER = 0.3
_FUNC = "make_hospitals"
_DESCR = """Simulated multi-hospital data (fairmtl.datasets.make_hospitals)
==============================================================

{n_samples} patients in {n_hospitals} hospitals, {n_features} features, task: {task}.
Settings: {settings}.
Each hospital is a task; the truth (coefficients, intercepts, clusters, sizes, mean
shifts, noise-free scores) is returned beside the data. See help(make_hospitals).
"""


def _sizes(
    rng: np.random.Generator, n_hospitals: int, n_samples: int, skew: float, min_size: int
) -> np.ndarray:
    """Zipf weights (rank ** -skew) with log-normal jitter, in random order, rounded exactly."""
    ranks = np.empty(n_hospitals)
    ranks[rng.permutation(n_hospitals)] = np.arange(1, n_hospitals + 1)
    jitter = rng.standard_normal(n_hospitals)
    weights = ranks ** (-skew) * np.exp(SIZE_JITTER * skew * jitter)
    quota = (n_samples - n_hospitals * min_size) * weights / weights.sum()
    extra = np.floor(quota).astype(np.int64)
    order = np.argsort(-(quota - extra), kind="stable")
    extra[order[: n_samples - n_hospitals * min_size - extra.sum()]] += 1
    return min_size + extra


def _unit(rng: np.random.Generator, *shape: int) -> np.ndarray:
    v = rng.standard_normal(shape)
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def _cluster_centres(
    rng: np.random.Generator, coef_shared: np.ndarray, k: int, separation: float
) -> np.ndarray:
    """``k`` centres around ``coef_shared`` (their mean), pairwise ``separation * SIGNAL`` apart.

    The distances are exact when ``k <= n_features`` (orthonormal directions) and hold on
    average otherwise.
    """
    d = coef_shared.size
    if k <= d:
        directions = np.linalg.qr(rng.standard_normal((d, k)))[0].T
    else:
        directions = _unit(rng, k, d)
    offsets = directions - directions.mean(axis=0)
    return coef_shared + separation * SIGNAL / np.sqrt(2.0) * offsets


def _nonlinear_terms(X: np.ndarray) -> np.ndarray:
    """Interaction, sine and square terms of a few features (indices wrap when d < 4)."""
    d = X.shape[1]
    a, b, c, e = X[:, 0], X[:, 1 % d], X[:, 2 % d], X[:, 3 % d]
    return a * b + 1.5 * np.sin(2.0 * c) + 0.5 * (e**2 - 1.0)


def make_hospitals(
    n_hospitals: int = 30,
    n_samples: int = 20_000,
    n_features: int = 8,
    *,
    task: str = "classification",
    size_skew: float = 1.0,
    shift: float = 1.0,
    deviation: float = 0.5,
    base_rate_spread: float = 1.0,
    noise: float = 1.0,
    nonlinear: bool = False,
    n_clusters: int = 1,
    cluster_separation: float = 2.0,
    n_outliers: int = 0,
    min_size: int = 20,
    random_state: int | np.random.Generator | None = None,
    return_X_y: bool = False,
) -> Bunch | tuple[pd.DataFrame, pd.Series, pd.Series]:
    """Simulate patients of a health system whose hospitals are related tasks.

    Hospital ``h`` has ``size[h]`` patients with features ``x ~ N(mean_shift[h], I)`` and
    a true score ``x @ coef_hospital[h] + intercept_hospital[h]`` (plus shared non-linear
    terms if ``nonlinear``). Classification draws ``y ~ Bernoulli(sigmoid(score))``;
    regression sets ``y = score + noise * N(0, 1)``. The rows are shuffled.

    Parameters
    ----------
    n_hospitals : int, default=30
        Number of hospitals (tasks).
    n_samples : int, default=20_000
        Total number of rows, met exactly.
    n_features : int, default=8
        Number of features ``x0 .. x{n_features-1}``.
    task : {'classification', 'regression'}, default='classification'
        Binary 0/1 target or a real-valued one.
    size_skew : float, default=1.0
        Exponent of the Zipf law of hospital sizes (weight ``rank ** -size_skew`` with
        log-normal jitter of sd ``0.3 * size_skew``; ranks in random order). 0 gives
        equal sizes; 1 gives a few large hospitals and many small ones.
    shift : float, default=1.0
        Scale of the per-hospital mean shift of the features: ``mean_shift ~ N(0,
        shift**2 I)``, while features vary with sd 1 within a hospital.
    deviation : float, default=0.5
        Relative size of each hospital's deviation from its cluster's coefficient vector:
        ``||coef_hospital[h] - centre|| = deviation * ||centre||`` exactly, in a random
        direction. 0 makes every hospital of a cluster share one true model.
    base_rate_spread : float, default=1.0
        Standard deviation of the per-hospital intercepts around ``intercept_shared``
        (-1 for classification, 0 for regression).
    noise : float, default=1.0
        Standard deviation of the regression noise; unused for classification.
    nonlinear : bool, default=False
        Add ``x0*x1 + 1.5*sin(2*x2) + 0.5*(x3**2 - 1)`` (the same for all hospitals) to
        the score, so that linear models underfit.
    n_clusters : int, default=1
        Number of clusters of hospitals with different shared coefficient vectors.
    cluster_separation : float, default=2.0
        Distance between cluster coefficient vectors, relative to ``||coef_shared||``
        (exact when ``n_clusters <= n_features``). Their mean is ``coef_shared``.
    n_outliers : int, default=0
        Number of hospitals whose coefficients are an unrelated random vector of norm
        ``||coef_shared||`` (their ``cluster`` is -1).
    min_size : int, default=20
        The fewest rows any hospital gets.
    random_state : int, numpy Generator or None, default=None
        Seed; the same seed gives the same data.
    return_X_y : bool, default=False
        Return ``(X, y, groups)`` instead of a Bunch.

    Returns
    -------
    data : Bunch
        ``data`` (DataFrame of shape (n_samples, n_features)), ``target`` (Series ``y``),
        ``groups`` (Series ``hospital`` of labels ``'hospital_00'``, ...), ``frame``,
        ``feature_names``, ``target_name``, ``group_columns``, ``DESCR`` and the truth:
        ``hospitals`` (labels, in order), ``size`` (n_hospitals,), ``coef_shared``
        (n_features,), ``coef_cluster`` (n_clusters, n_features), ``coef_hospital``
        (n_hospitals, n_features), ``intercept_shared``, ``intercept_hospital``
        (n_hospitals,), ``cluster`` (n_hospitals,), ``mean_shift`` (n_hospitals,
        n_features) and ``true_score`` (n_samples,), the noise-free score of each row.
    (X, y, groups) : tuple
        When ``return_X_y=True``.

    Raises
    ------
    DataValidationError
        For an invalid argument, e.g. ``n_samples < n_hospitals * min_size``.

    Examples
    --------
    >>> from fairmtl.datasets import make_hospitals
    >>> data = make_hospitals(n_hospitals=5, n_samples=1_000, random_state=0)
    >>> data.data.shape, int(data.size.sum()), data.groups.iloc[0][:9]
    ((1000, 8), 1000, 'hospital_')
    """
    n_hospitals = check_int(n_hospitals, "n_hospitals", _FUNC, low=1)
    n_samples = check_int(n_samples, "n_samples", _FUNC, low=1)
    n_features = check_int(n_features, "n_features", _FUNC, low=1)
    task = check_option(task, "task", _FUNC, ("classification", "regression"))
    size_skew = check_float(size_skew, "size_skew", _FUNC)
    shift = check_float(shift, "shift", _FUNC)
    deviation = check_float(deviation, "deviation", _FUNC)
    base_rate_spread = check_float(base_rate_spread, "base_rate_spread", _FUNC)
    noise = check_float(noise, "noise", _FUNC)
    nonlinear = check_bool(nonlinear, "nonlinear", _FUNC)
    n_clusters = check_int(n_clusters, "n_clusters", _FUNC, low=1)
    cluster_separation = check_float(cluster_separation, "cluster_separation", _FUNC)
    n_outliers = check_int(n_outliers, "n_outliers", _FUNC, low=0)
    min_size = check_int(min_size, "min_size", _FUNC, low=1)
    return_X_y = check_bool(return_X_y, "return_X_y", _FUNC)
    if n_samples < n_hospitals * min_size:
        raise DataValidationError(
            MSG_TOO_FEW_SAMPLES.format(
                n_samples=n_samples,
                n_hospitals=n_hospitals,
                min_size=min_size,
                needed=n_hospitals * min_size,
            )
        )
    if n_clusters + n_outliers > n_hospitals:
        raise DataValidationError(
            MSG_TOO_MANY_SPECIAL.format(
                n_clusters=n_clusters, n_outliers=n_outliers, n_hospitals=n_hospitals
            )
        )

    # One independent stream per ingredient: changing one knob (say shift) leaves the
    # draws of every other ingredient unchanged.
    streams = [
        np.random.default_rng(s)
        for s in np.random.default_rng(random_state).integers(0, 2**63 - 1, size=7)
    ]
    rng_size, rng_coef, rng_dev, rng_out, rng_icpt, rng_x, rng_y = streams

    size = _sizes(rng_size, n_hospitals, n_samples, size_skew, min_size)
    truth = _true_models(
        rng_coef,
        rng_dev,
        rng_out,
        n_hospitals,
        n_features,
        deviation,
        n_clusters,
        cluster_separation,
        n_outliers,
    )
    intercept_shared = -1.0 if task == "classification" else 0.0
    intercept_hospital = intercept_shared + base_rate_spread * rng_icpt.standard_normal(n_hospitals)
    mean_shift = shift * rng_x.standard_normal((n_hospitals, n_features))

    hospital = np.repeat(np.arange(n_hospitals), size)
    hospital = hospital[rng_x.permutation(n_samples)]
    X = mean_shift[hospital] + rng_x.standard_normal((n_samples, n_features))
    score = (
        np.einsum("ij,ij->i", X, truth["coef_hospital"][hospital]) + intercept_hospital[hospital]
    )
    if nonlinear:
        score = score + _nonlinear_terms(X)
    if task == "classification":
        probability = 0.5 * (1.0 + np.tanh(0.5 * score))  # the sigmoid, overflow-free
        y = (rng_y.random(n_samples) < probability).astype(np.int64)
    else:
        y = score + noise * rng_y.standard_normal(n_samples)

    from sklearn.utils import Bunch

    width = max(2, len(str(n_hospitals - 1)))
    names = np.array([f"hospital_{h:0{width}d}" for h in range(n_hospitals)], dtype=object)
    feature_names = [f"x{j}" for j in range(n_features)]
    data = pd.DataFrame(X, columns=feature_names)
    target = pd.Series(y, name="y")
    groups = pd.Series(names[hospital], name="hospital").astype(str)
    if return_X_y:
        return data, target, groups
    return Bunch(
        data=data,
        target=target,
        groups=groups,
        frame=pd.concat([data, groups, target], axis=1),
        feature_names=feature_names,
        target_name="y",
        group_columns=["hospital"],
        DESCR=_DESCR.format(
            n_hospitals=n_hospitals,
            n_samples=n_samples,
            n_features=n_features,
            task=task,
            settings=(
                f"size_skew={size_skew}, shift={shift}, deviation={deviation}, "
                f"base_rate_spread={base_rate_spread}, noise={noise}, nonlinear={nonlinear}, "
                f"n_clusters={n_clusters}, cluster_separation={cluster_separation}, "
                f"n_outliers={n_outliers}, min_size={min_size}, random_state={random_state!r}"
            ),
        ),
        task=task,
        hospitals=list(names),
        size=size,
        intercept_shared=intercept_shared,
        intercept_hospital=intercept_hospital,
        mean_shift=mean_shift,
        true_score=score,
        **truth,
    )


def _true_models(
    rng_coef: np.random.Generator,
    rng_dev: np.random.Generator,
    rng_out: np.random.Generator,
    n_hospitals: int,
    n_features: int,
    deviation: float,
    n_clusters: int,
    cluster_separation: float,
    n_outliers: int,
) -> dict[str, Any]:
    """Shared vector, cluster centres, per-hospital vectors and cluster labels."""
    coef_shared = SIGNAL * _unit(rng_coef, n_features)
    if n_clusters == 1:
        coef_cluster = coef_shared[None, :].copy()
    else:
        coef_cluster = _cluster_centres(rng_coef, coef_shared, n_clusters, cluster_separation)

    outliers = rng_out.choice(n_hospitals, size=n_outliers, replace=False)
    regular = np.setdiff1d(np.arange(n_hospitals), outliers)
    cluster = np.full(n_hospitals, -1, dtype=np.int64)
    cluster[regular] = rng_coef.permutation(np.arange(regular.size) % n_clusters)

    centre = coef_cluster[np.maximum(cluster, 0)]
    directions = _unit(rng_dev, n_hospitals, n_features)
    coef_hospital = centre + deviation * np.linalg.norm(centre, axis=1, keepdims=True) * directions
    coef_hospital[outliers] = SIGNAL * _unit(rng_out, n_outliers, n_features)
    return {
        "coef_shared": coef_shared,
        "coef_cluster": coef_cluster,
        "coef_hospital": coef_hospital,
        "cluster": cluster,
    }
