"""Group labels to task ids: :class:`GroupEncoder`."""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Hashable
from typing import Any, Literal

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from fairmtl.data._labels import MSG_EMPTY_GROUPS, SHOW, encode, listing, to_frame
from fairmtl.exceptions import (
    DataValidationError,
    DataWarning,
    SmallGroupWarning,
    UnseenGroupError,
)

__all__ = ["UNSEEN", "GroupEncoder"]

#: The task id of a group not seen in fit.
UNSEEN = -1

MSG_SMALL_GROUPS = (
    "{count} group(s) have fewer than min_group_size={min_size} rows: {details}. Their "
    "fit and metrics are uncertain. Collect more data, merge them (small_groups='merge'), "
    "or lower min_group_size."
)
MSG_MERGED_STILL_SMALL = (
    "The merged group {label!r} ({merged}) has {size} rows, still fewer than "
    "min_group_size={min_size}."
)
MSG_OTHER_LABEL_TAKEN = (
    "Small groups cannot be merged into {label!r}: a group with that label already has "
    "{size} rows. Pass another other_label."
)
MSG_UNSEEN_SHARED = (
    "{count} row(s) belong to group(s) not seen in fit: {names}. They get task id -1 "
    "(UNSEEN) and are predicted with the shared part of the model."
)
MSG_UNSEEN_ERROR = (
    "{count} row(s) belong to group(s) not seen in fit: {names}. Fit on data that "
    "includes them, or pass unseen='shared' to predict them with the shared model."
)
MSG_COLUMNS_MISMATCH = (
    "The groups have columns {got}, but the encoder was fit on {expected}. Pass the same "
    "group columns."
)
MSG_BAD_IDS = "Task ids must be integers from -1 to {last}. Got {value!r}."


class GroupEncoder(TransformerMixin, BaseEstimator, auto_wrap_output_keys=None):
    """Map group labels (one column, or the intersection of several) to task ids.

    Labels are read as strings; task ids follow the sorted order of the labels, so the
    order of the rows does not matter.

    Parameters
    ----------
    separator : str, default="|"
        Joins the values of several group columns, in column order (``"Black|Female"``).
    min_group_size : int, default=1
        Groups with fewer rows are small.
    small_groups : {"warn", "merge", "error"}, default="warn"
        What to do with small groups: warn (:class:`SmallGroupWarning`), merge them into
        ``other_label``, or refuse them.
    other_label : str, default="other"
        The label of the merged small groups.
    unseen : {"shared", "error"}, default="shared"
        A group met in ``transform`` but not in ``fit`` gets task id :data:`UNSEEN`
        (-1) with a :class:`DataWarning` ("shared"), or raises :class:`UnseenGroupError`.

    Attributes
    ----------
    labels_ : ndarray of str (object dtype), shape (n_groups_,)
        The group labels, in task-id order.
    sizes_ : Series of int
        Rows per group seen in fit, indexed by label, in task-id order.
    n_groups_ : int
        Number of groups (tasks).
    columns_ : list or None
        The group column names seen in fit, or None for unnamed input.
    n_columns_ : int
        Number of group columns seen in fit.
    merged_ : list of str
        The labels merged into ``other_label`` (empty unless ``small_groups="merge"``).

    See Also
    --------
    group_labels : The labels alone, without ids.

    Examples
    --------
    >>> import pandas as pd
    >>> g = pd.DataFrame({"race": ["B", "W", "B"], "sex": ["F", "M", "M"]})
    >>> enc = GroupEncoder().fit(g)
    >>> enc.labels_.tolist()
    ['B|F', 'B|M', 'W|M']
    >>> enc.transform(g)
    array([0, 2, 1])
    """

    _parameter_constraints: dict[str, list[Any]] = {
        "separator": [str],
        "min_group_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "small_groups": [StrOptions({"warn", "merge", "error"})],
        "other_label": [str],
        "unseen": [StrOptions({"shared", "error"})],
    }

    def __init__(
        self,
        *,
        separator: str = "|",
        min_group_size: int = 1,
        small_groups: Literal["warn", "merge", "error"] = "warn",
        other_label: str = "other",
        unseen: Literal["shared", "error"] = "shared",
    ) -> None:
        self.separator = separator
        self.min_group_size = min_group_size
        self.small_groups = small_groups
        self.other_label = other_label
        self.unseen = unseen

    def fit(self, groups: Any, y: Any = None) -> GroupEncoder:
        """Learn the groups, their task ids and sizes.

        Parameters
        ----------
        groups : array-like of shape (n_samples,) or (n_samples, n_columns)
            One group column, or several (a DataFrame or 2-D array).
        y : None
            Ignored.

        Returns
        -------
        self : GroupEncoder
        """
        self._fit_codes(groups)
        return self

    def fit_transform(self, groups: Any, y: Any = None) -> np.ndarray:
        """:meth:`fit`, then :meth:`transform` of the same groups, reading them once.

        Parameters
        ----------
        groups : array-like of shape (n_samples,) or (n_samples, n_columns)
            One group column, or several (a DataFrame or 2-D array).
        y : None
            Ignored.

        Returns
        -------
        ids : ndarray of int64, shape (n_samples,)
        """
        codes, labels = self._fit_codes(groups)
        return self._ids(codes, labels)[0]

    def _fit_codes(self, groups: Any) -> tuple[np.ndarray, np.ndarray]:
        """Fit on ``groups``; their per-row codes into their distinct labels."""
        self._validate_params()
        frame, names = to_frame(groups)
        if frame.shape[0] == 0 or frame.shape[1] == 0:
            raise DataValidationError(MSG_EMPTY_GROUPS)
        codes, labels = encode(frame, names, self.separator)
        counts = np.bincount(codes, minlength=len(labels))
        sizes = pd.Series(counts, index=pd.Index(labels, dtype=object)).sort_index()
        sizes, merged = self._handle_small(sizes)
        self.labels_ = np.array(sizes.index.tolist(), dtype=object)
        self.sizes_ = pd.Series(
            sizes.to_numpy(dtype=np.int64), index=pd.Index(self.labels_, name="group"), name="size"
        )
        self.n_groups_ = len(self.labels_)
        self.columns_ = names
        self.n_columns_ = frame.shape[1]
        self.merged_ = merged
        return codes, labels

    def _handle_small(self, sizes: pd.Series) -> tuple[pd.Series, list[str]]:
        small = sizes[sizes < self.min_group_size]
        if small.empty:
            return sizes, []
        details = ", ".join(f"{label!r} ({n} rows)" for label, n in small.head(SHOW).items())
        details += f" and {len(small) - SHOW} more" if len(small) > SHOW else ""
        message = MSG_SMALL_GROUPS.format(
            count=len(small), min_size=self.min_group_size, details=details
        )
        if self.small_groups == "error":
            raise DataValidationError(message)
        if self.small_groups == "warn":
            warnings.warn(message, SmallGroupWarning, stacklevel=3)
            return sizes, []
        if self.other_label in sizes.index and self.other_label not in small.index:
            raise DataValidationError(
                MSG_OTHER_LABEL_TAKEN.format(
                    label=self.other_label, size=int(sizes[self.other_label])
                )
            )
        merged = small.index.tolist()
        total = int(small.sum())
        sizes = sizes.drop(merged)
        sizes[self.other_label] = total
        if total < self.min_group_size:
            warnings.warn(
                MSG_MERGED_STILL_SMALL.format(
                    label=self.other_label,
                    merged=listing(merged),
                    size=total,
                    min_size=self.min_group_size,
                ),
                SmallGroupWarning,
                stacklevel=3,
            )
        return sizes.sort_index(), merged

    def _align(
        self, frame: pd.DataFrame, names: list[Hashable] | None
    ) -> tuple[pd.DataFrame, list[Hashable] | None]:
        """Put named group columns in fit's order; check the number of columns."""
        expected = self.columns_ if self.columns_ is not None else f"{self.n_columns_} column(s)"
        got = names if names is not None else f"{frame.shape[1]} column(s)"
        error = DataValidationError(MSG_COLUMNS_MISMATCH.format(got=got, expected=expected))
        if self.n_columns_ > 1 and self.columns_ is not None and names is not None:
            if not set(self.columns_) <= set(names):
                raise error
            return frame[self.columns_], self.columns_
        if frame.shape[1] != self.n_columns_:
            raise error
        return frame, names

    def transform(self, groups: Any) -> np.ndarray:
        """Task ids of the rows' groups; unseen groups get :data:`UNSEEN` (-1) or raise.

        Parameters
        ----------
        groups : array-like of shape (n_samples,) or (n_samples, n_columns)
            The same group columns as in fit.

        Returns
        -------
        ids : ndarray of int64, shape (n_samples,)

        Raises
        ------
        UnseenGroupError
            With ``unseen="error"``, naming up to five unseen groups and their count.
        """
        check_is_fitted(self, "labels_")
        frame, names = to_frame(groups)
        frame, names = self._align(frame, names)
        if frame.shape[0] == 0:
            return np.empty(0, dtype=np.int64)
        codes, labels = encode(frame, names, self.separator)
        ids, label_ids, labels = self._ids(codes, labels)
        unseen_labels = label_ids == UNSEEN
        if unseen_labels.any():
            fields = {
                "count": int(unseen_labels[codes].sum()),
                "names": listing(labels[unseen_labels].tolist()),
            }
            if self.unseen == "error":
                raise UnseenGroupError(MSG_UNSEEN_ERROR.format(**fields))
            warnings.warn(MSG_UNSEEN_SHARED.format(**fields), DataWarning, stacklevel=2)
        return ids

    def _ids(self, codes: np.ndarray, labels: np.ndarray):
        """Task ids of rows coded into ``labels`` (merged small groups under
        ``other_label``), each label's id (:data:`UNSEEN` where not fitted), the labels."""
        if self.merged_:
            labels = np.where(pd.Series(labels).isin(self.merged_), self.other_label, labels)
        label_ids = pd.Index(self.labels_).get_indexer(labels).astype(np.int64)
        return label_ids[codes], label_ids, labels

    def inverse_transform(self, ids: Any) -> np.ndarray:
        """Group labels of task ids; :data:`UNSEEN` (-1) gives None.

        Parameters
        ----------
        ids : array-like of int, shape (n_samples,)
            Task ids.

        Returns
        -------
        labels : ndarray of object (str or None), shape (n_samples,)
        """
        check_is_fitted(self, "labels_")
        array = np.asarray(ids)
        last = self.n_groups_ - 1
        if array.size == 0:
            return np.empty(array.shape, dtype=object)
        if not np.issubdtype(array.dtype, np.integer):
            raise DataValidationError(MSG_BAD_IDS.format(last=last, value=array.dtype))
        bad = (array < UNSEEN) | (array > last)
        if bad.any():
            raise DataValidationError(MSG_BAD_IDS.format(last=last, value=array[bad][0]))
        out = np.empty(array.shape, dtype=object)
        seen = array != UNSEEN
        out[seen] = self.labels_[array[seen]]
        return out
