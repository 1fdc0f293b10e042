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

from typing import TYPE_CHECKING

from fairmtl._optional import lazy_attributes

if TYPE_CHECKING:
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

# Names load on first use: a Dask worker that needs one small module of this package
# (group labels, the dual path's row sums) does not import all of them.
_WHERE = {
    "DEFAULT_MAX_BYTES": "._file_checks",
    "group_label_folds": "._folds",
    "row_keys": "._folds",
    "UNSEEN": "._groups",
    "GroupEncoder": "._groups",
    "read_table": "._io",
    "write_table_atomic": "._io",
    "check_groups_length": "._labels",
    "group_labels": "._labels",
    "ColumnValidator": "._preprocess",
    "make_preprocessor": "._preprocess",
    "Schema": "._schema",
    "SchemaColumns": "._schema",
    "SplitResult": "._split",
    "train_val_test_split": "._split",
    "TrainingTable": "._table",
    "detect_task": "._table",
    "load_training_table": "._table",
    "DEFAULT_NA_VALUES": "._text_files",
    "MISSING_GROUP": "._unseen",
    "SHARED_GROUP": "._unseen",
    "UNPREDICTED_GROUP": "._unseen",
    "GroupRouting": "._unseen",
    "route_groups": "._unseen",
    "NUMERIC_SHARE": "._validation",
    "check_finite": "._validation",
    "check_magnitude": "._validation",
    "check_no_missing": "._validation",
    "check_numeric_columns": "._validation",
    "check_numeric_values": "._validation",
    "infer_column_kind": "._validation",
    "validate_target": "._validation",
    "atomic_target": "._writing",
    "atomic_write_bytes": "._writing",
    "atomic_write_many": "._writing",
    "atomic_write_text": "._writing",
    "check_outputs": "._writing",
}
__getattr__ = lazy_attributes(__name__, _WHERE)

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
