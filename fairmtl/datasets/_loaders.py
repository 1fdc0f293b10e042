"""Public loaders of the bundled datasets: Adult, COMPAS, German Credit, Census-Income (KDD).

Every loader reads a gzip CSV shipped inside the package, never the network, and returns
a scikit-learn ``Bunch`` (or ``(X, y, groups)``) whose ``groups`` are ready for
``fit(X, y, groups=groups)``. See ``datasets/README.md`` for provenance, licences and
checksums.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd

from fairmtl.datasets._checks import check_option
from fairmtl.datasets._reader import SPLITS, load, spec_of
from fairmtl.datasets._registry import DATASETS

if TYPE_CHECKING:  # sklearn is imported on use, to keep `import fairmtl.datasets` light
    from sklearn.utils import Bunch

__all__ = [
    "list_datasets",
    "load_adult",
    "load_census_kdd",
    "load_compas",
    "load_dataset",
    "load_german",
]

_RETURNS = """
    Returns
    -------
    data : Bunch
        ``data`` (X, a DataFrame of shape (n_samples, n_features)), ``target`` (y, a 0/1
        int Series named ``target_name``), ``groups`` (a str Series of group labels, the
        values of the group columns joined with ``'|'``, missing values as
        ``'(missing)'``), ``frame`` (every column of the file, the target as 0/1),
        ``feature_names``, ``target_name``, ``group_columns``, ``DESCR``, ``name`` and
        ``split``. With ``as_frame=False`` the three arrays are numpy arrays and ``frame``
        is None.
    (X, y, groups) : tuple
        When ``return_X_y=True``.
"""


def load_adult(
    *,
    split: str = "train",
    groups: str | Sequence[str] = ("race", "sex"),
    drop_group_columns: bool = True,
    return_X_y: bool = False,
    as_frame: bool = True,
) -> Bunch | tuple[Any, Any, Any]:
    """Load UCI Adult (1994 Census extract): does income exceed $50K?

    32,561 train and 16,281 test rows, 14 attributes. Target ``income_over_50k``: 1 for
    '>50K', else 0. Default groups: race x sex, 10 groups such as ``'White|Male'``.

    Parameters
    ----------
    split : {'train', 'test', 'all'}, default='train'
        The original train file, test file, or both (train rows first).
    groups : str or sequence of str, default=('race', 'sex')
        The column(s) whose values (joined with ``'|'``, in this order) form the groups.
    drop_group_columns : bool, default=True
        Leave the group columns out of ``data``.
    return_X_y : bool, default=False
        Return ``(X, y, groups)`` instead of a Bunch.
    as_frame : bool, default=True
        Return pandas objects; numpy arrays otherwise.
    %(returns)s
    Raises
    ------
    DataValidationError
        If a group column does not exist (the message suggests the closest one).

    See Also
    --------
    load_census_kdd : the larger census dataset.

    Examples
    --------
    >>> from fairmtl.datasets import load_adult
    >>> X, y, groups = load_adult(return_X_y=True)
    >>> X.shape
    (32561, 12)
    >>> groups.nunique()
    10
    """
    check_option(split, "split", "load_adult", SPLITS)
    return load(
        DATASETS["adult"],
        "load_adult",
        split=split,
        groups=groups,
        drop_group_columns=drop_group_columns,
        return_X_y=return_X_y,
        as_frame=as_frame,
    )


def load_compas(
    *,
    groups: str | Sequence[str] = ("race",),
    drop_group_columns: bool = True,
    return_X_y: bool = False,
    as_frame: bool = True,
) -> Bunch | tuple[Any, Any, Any]:
    """Load ProPublica's COMPAS data: re-offence within two years (Broward County).

    7,214 rows. Target ``two_year_recid`` (1 = re-offended within two years). Default
    groups: race (6 groups). ``data`` leaves out ``is_recid`` (it leaks the target) and
    the COMPAS score columns ``decile_score`` and ``score_text``; ``frame`` keeps them.

    Parameters
    ----------
    groups : str or sequence of str, default=('race',)
        The column(s) whose values (joined with ``'|'``, in this order) form the groups.
    drop_group_columns : bool, default=True
        Leave the group columns out of ``data``.
    return_X_y : bool, default=False
        Return ``(X, y, groups)`` instead of a Bunch.
    as_frame : bool, default=True
        Return pandas objects; numpy arrays otherwise.
    %(returns)s
    Examples
    --------
    >>> from fairmtl.datasets import load_compas
    >>> data = load_compas(groups=("race", "sex"))
    >>> data.data.shape
    (7214, 8)
    """
    return load(
        DATASETS["compas"],
        "load_compas",
        split="all",
        groups=groups,
        drop_group_columns=drop_group_columns,
        return_X_y=return_X_y,
        as_frame=as_frame,
    )


def load_german(
    *,
    groups: str | Sequence[str] = ("sex",),
    drop_group_columns: bool = True,
    return_X_y: bool = False,
    as_frame: bool = True,
) -> Bunch | tuple[Any, Any, Any]:
    """Load UCI Statlog German Credit: is an applicant a bad credit risk?

    1,000 rows, 20 attributes with readable names (categorical values keep the UCI
    A-codes) plus ``sex``, derived from ``personal_status`` (A91, A93, A94 -> 'male';
    A92, A95 -> 'female'). Target ``bad_credit``: **1 = bad credit risk**, 0 = good.
    Default groups: sex. ``personal_status`` stays in ``data`` and still encodes sex.

    Parameters
    ----------
    groups : str or sequence of str, default=('sex',)
        The column(s) whose values (joined with ``'|'``, in this order) form the groups.
    drop_group_columns : bool, default=True
        Leave the group columns out of ``data``.
    return_X_y : bool, default=False
        Return ``(X, y, groups)`` instead of a Bunch.
    as_frame : bool, default=True
        Return pandas objects; numpy arrays otherwise.
    %(returns)s
    Examples
    --------
    >>> from fairmtl.datasets import load_german
    >>> X, y, groups = load_german(return_X_y=True)
    >>> int(y.sum()), sorted(groups.unique())
    (300, ['female', 'male'])
    """
    return load(
        DATASETS["german"],
        "load_german",
        split="all",
        groups=groups,
        drop_group_columns=drop_group_columns,
        return_X_y=return_X_y,
        as_frame=as_frame,
    )


def load_census_kdd(
    *,
    split: str = "train",
    groups: str | Sequence[str] = ("race", "sex"),
    n_samples: int | None = None,
    random_state: int | Any = 0,
    drop_group_columns: bool = True,
    return_X_y: bool = False,
    as_frame: bool = True,
) -> Bunch | tuple[Any, Any, Any]:
    """Load UCI Census-Income (KDD), 1994-95 CPS: does income exceed $50K?

    199,523 train and 99,762 test rows, 41 attributes. Target ``income_over_50k``: 1 for
    '50000+', else 0 (about 6% positive). Default groups: race x sex (10 groups).
    ``instance_weight`` is a survey sampling weight: it is not in ``data`` and is
    returned as ``sample_weight`` (in the Bunch only).

    Parameters
    ----------
    split : {'train', 'test', 'all'}, default='train'
        The original train file, test file, or both (train rows first).
    groups : str or sequence of str, default=('race', 'sex')
        The column(s) whose values (joined with ``'|'``, in this order) form the groups.
    n_samples : int or None, default=None
        Return a random subset of this many rows of the split, stratified by group: each
        group keeps its share of the rows (largest-remainder rounding), rows keep their
        file order. None returns every row.
    random_state : int, numpy Generator or None, default=0
        Seed of the subset; used only with ``n_samples``.
    drop_group_columns : bool, default=True
        Leave the group columns out of ``data``.
    return_X_y : bool, default=False
        Return ``(X, y, groups)`` instead of a Bunch.
    as_frame : bool, default=True
        Return pandas objects; numpy arrays otherwise.
    %(returns)s
    Examples
    --------
    >>> from fairmtl.datasets import load_census_kdd
    >>> data = load_census_kdd(split="test", n_samples=5_000)
    >>> data.data.shape, len(data.sample_weight)
    ((5000, 38), 5000)
    """
    check_option(split, "split", "load_census_kdd", SPLITS)
    return load(
        DATASETS["census_kdd"],
        "load_census_kdd",
        split=split,
        groups=groups,
        drop_group_columns=drop_group_columns,
        return_X_y=return_X_y,
        as_frame=as_frame,
        n_samples=n_samples,
        random_state=random_state,
    )


for _loader in (load_adult, load_compas, load_german, load_census_kdd):
    _loader.__doc__ = (_loader.__doc__ or "").replace("%(returns)s", _RETURNS.strip() + "\n")

_LOADERS = {
    "adult": load_adult,
    "compas": load_compas,
    "german": load_german,
    "census_kdd": load_census_kdd,
}


def load_dataset(name: str, **kwargs: Any) -> Bunch | tuple[Any, Any, Any]:
    """Load a bundled dataset by name.

    Parameters
    ----------
    name : {'adult', 'compas', 'german', 'census_kdd'}
        The dataset (case and '-' / '_' do not matter).
    **kwargs
        Passed to the loader (``split``, ``groups``, ``return_X_y``, ...).

    Returns
    -------
    data : Bunch or tuple
        What the loader returns.

    Raises
    ------
    DataValidationError
        If the name is unknown (the message suggests the closest one).

    Examples
    --------
    >>> from fairmtl.datasets import load_dataset
    >>> load_dataset("german").groups.value_counts().to_dict()
    {'male': 690, 'female': 310}
    """
    return _LOADERS[spec_of(name).name](**kwargs)


def list_datasets() -> pd.DataFrame:
    """Describe the bundled datasets, one row each, without reading the files.

    Returns
    -------
    table : DataFrame
        Columns ``name``, ``rows`` (all splits together), ``splits`` (rows per file),
        ``n_features`` (columns of ``data`` with the default groups), ``target``,
        ``default_groups`` (joined with ``' x '``) and ``description``.

    Examples
    --------
    >>> from fairmtl.datasets import list_datasets
    >>> list_datasets()[["name", "rows"]].to_dict("records")[0]
    {'name': 'adult', 'rows': 48842}
    """
    records = [
        {
            "name": spec.name,
            "rows": spec.n_rows,
            "splits": ", ".join(f"{s}={n}" for s, n in spec.rows.items()),
            "n_features": spec.n_features,
            "target": spec.target_name,
            "default_groups": " x ".join(spec.default_groups),
            "description": spec.description,
        }
        for spec in DATASETS.values()
    ]
    return pd.DataFrame.from_records(records)
