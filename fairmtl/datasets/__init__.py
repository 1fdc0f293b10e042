"""Bundled fairness datasets and a simulator of multi-hospital data.

Every loader returns the rows of one public dataset with a documented default group
definition (each group is a task) and reads only files shipped with fairmtl.

=====================  =========  ======================  =================
loader                 rows       target (1 = ...)        default groups
=====================  =========  ======================  =================
:func:`load_adult`     32,561 +   income > $50K           race x sex
                       16,281
:func:`load_compas`    7,214      re-offence in 2 years   race
:func:`load_german`    1,000      BAD credit risk         sex
:func:`load_census_kdd` 199,523 + income > $50K           race x sex
                       99,762
=====================  =========  ======================  =================

:func:`make_hospitals` simulates hospitals of unequal sizes with shifted populations,
different base rates and related but unequal true models, and returns the truth.
"""

from __future__ import annotations

from fairmtl.datasets._hospitals import make_hospitals
from fairmtl.datasets._loaders import (
    list_datasets,
    load_adult,
    load_census_kdd,
    load_compas,
    load_dataset,
    load_german,
)
from fairmtl.datasets._reader import dataset_path

__all__ = [
    "dataset_path",
    "list_datasets",
    "load_adult",
    "load_census_kdd",
    "load_compas",
    "load_dataset",
    "load_german",
    "make_hospitals",
]
