"""Running the fits of a sweep: sequentially, with joblib, or on a Dask cluster.

The settings are cut into contiguous chunks; each chunk compiles the convex problem
once and re-solves it for each of its settings (DPP). A solve depends only on the data
and the setting, so the results are the same whatever the chunking or the backend.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from joblib import Parallel, delayed
from sklearn.base import clone

from fairmtl.exceptions import InfeasibleError

__all__ = ["fit_settings"]

_FITTED_INPUT_ATTRS = ("classes_", "n_features_in_", "feature_names_in_")


def _fit_chunk(template, settings, X, y, groups, sample_weight, on_fit=None) -> list[Any]:
    """Fit one chunk of settings on one compiled problem; infeasible ones give the error."""
    base = clone(template)
    base._validate_params()
    prepared = base._prepare(X, y, groups, sample_weight)
    out: list[Any] = []
    for setting in settings:
        est = clone(base).set_params(**setting)
        est._validate_params()
        for attr in _FITTED_INPUT_ATTRS:
            if hasattr(base, attr):
                setattr(est, attr, getattr(base, attr))
        try:
            out.append(est._store(prepared, est._solve(prepared)))
        except InfeasibleError as e:
            out.append(e)
        if on_fit is not None:
            on_fit(1)
    return out


def _chunks(items: list, n: int) -> list[list]:
    n = max(1, min(n, len(items)))
    bounds = np.linspace(0, len(items), n + 1).round().astype(int)
    return [items[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True) if b > a]


def fit_settings(
    template,
    settings: list[dict[str, Any]],
    X,
    y,
    groups,
    sample_weight=None,
    *,
    n_jobs: int | None = 1,
    client=None,
    progress=None,
) -> list[Any]:
    """Fit ``template`` once per setting; returns estimators (or InfeasibleError) in order."""
    if not settings:
        return []
    if client is not None:
        n_workers = max(1, sum(client.nthreads().values()))
        chunks = _chunks(settings, n_workers)
        data = client.scatter([X, y, groups, sample_weight], broadcast=True)
        futures = [
            client.submit(_fit_chunk, template, chunk, *data, pure=False) for chunk in chunks
        ]
        results = client.gather(futures)
    else:
        from joblib import effective_n_jobs

        n = effective_n_jobs(n_jobs)
        if n == 1:
            chunks = [settings]
            results = [_fit_chunk(template, settings, X, y, groups, sample_weight, progress)]
            return results[0]
        else:
            chunks = _chunks(settings, n)
            results = Parallel(n_jobs=n)(
                delayed(_fit_chunk)(template, chunk, X, y, groups, sample_weight)
                for chunk in chunks
            )
    if progress is not None:
        progress(len(settings))
    return [fit for chunk in results for fit in chunk]
