"""Tabular input: reading files, schemas, validation, group encoding and splits.

Everything between a user's file or DataFrame and numeric arrays with task ids::

    df = read_table("visits.csv")
    schema = Schema(target="readmitted", groups=("hospital",)).resolve(df)
    X, y, groups, weights, ids = schema.select(df)
    keep = validate_target(y, task="classification", column=schema.target)
    task_ids = GroupEncoder(min_group_size=20).fit_transform(groups[keep])
    split = train_val_test_split(X, y, groups, random_state=0)
    preprocessor = make_preprocessor(schema)

or, for a file in one step (schema, task, missing targets and messy-column warnings)::

    table = load_training_table("visits.csv", target="readmitted", groups=["hospital"])

Error messages are module constants named ``MSG_*`` in the private modules.
"""

from __future__ import annotations

from fairmtl.data._file_checks import DEFAULT_MAX_BYTES
from fairmtl.data._folds import group_label_folds, row_keys
from fairmtl.data._groups import UNSEEN, GroupEncoder
from fairmtl.data._io import read_table, write_table_atomic
from fairmtl.data._labels import check_groups_length, group_labels
from fairmtl.data._preprocess import ColumnValidator, make_preprocessor
from fairmtl.data._schema import Schema, SchemaColumns
from fairmtl.data._split import SplitResult, train_val_test_split
from fairmtl.data._table import TrainingTable, detect_task, load_training_table
from fairmtl.data._text_files import DEFAULT_NA_VALUES
from fairmtl.data._unseen import (
    MISSING_GROUP,
    SHARED_GROUP,
    UNPREDICTED_GROUP,
    GroupRouting,
    route_groups,
)
from fairmtl.data._validation import (
    NUMERIC_SHARE,
    check_finite,
    check_magnitude,
    check_no_missing,
    check_numeric_columns,
    check_numeric_values,
    infer_column_kind,
    validate_target,
)
from fairmtl.data._writing import (
    atomic_target,
    atomic_write_bytes,
    atomic_write_many,
    atomic_write_text,
    check_outputs,
)

__all__ = [
    "DEFAULT_MAX_BYTES",
    "DEFAULT_NA_VALUES",
    "MISSING_GROUP",
    "NUMERIC_SHARE",
    "SHARED_GROUP",
    "UNPREDICTED_GROUP",
    "UNSEEN",
    "ColumnValidator",
    "GroupEncoder",
    "GroupRouting",
    "Schema",
    "SchemaColumns",
    "SplitResult",
    "TrainingTable",
    "atomic_target",
    "atomic_write_bytes",
    "atomic_write_many",
    "atomic_write_text",
    "check_finite",
    "check_groups_length",
    "check_magnitude",
    "check_no_missing",
    "check_numeric_columns",
    "check_numeric_values",
    "check_outputs",
    "detect_task",
    "group_label_folds",
    "row_keys",
    "group_labels",
    "infer_column_kind",
    "load_training_table",
    "make_preprocessor",
    "read_table",
    "route_groups",
    "train_val_test_split",
    "validate_target",
    "write_table_atomic",
]
