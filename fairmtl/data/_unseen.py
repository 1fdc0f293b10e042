"""Groups unseen at fit time: which rows a fitted model can predict, and how they are labelled.

A row whose group was seen in fit is predicted by its group's model. A row of another
group, or with a missing group value (labelled :data:`MISSING_GROUP`), is predicted by
the model's shared part, when the model has one; a model without one
(``sharing="independent"``) leaves it without a prediction. Tables of predictions name
such rows :data:`SHARED_GROUP` or :data:`UNPREDICTED_GROUP`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from fairmtl.data._labels import group_labels

__all__ = [
    "MISSING_GROUP",
    "SHARED_GROUP",
    "UNPREDICTED_GROUP",
    "GroupRouting",
    "route_groups",
]

#: The ``group`` of a row whose group was not seen in fit, predicted by the shared part.
SHARED_GROUP = "<shared>"
#: The ``group`` of a row left without a prediction (unseen group, no shared part).
UNPREDICTED_GROUP = "<none>"
#: The label given to a missing group value at predict time (an unseen group).
MISSING_GROUP = "(missing)"


@dataclass
class GroupRouting:
    """Where each row's prediction comes from.

    Attributes
    ----------
    groups : DataFrame
        The group columns, missing values replaced by :data:`MISSING_GROUP`.
    labels : ndarray of shape (n_samples,)
        Each row's group label (intersections joined as in :func:`group_labels`).
    seen : ndarray of bool
        The row's group was seen in fit.
    usable : ndarray of bool
        The model can predict the row (its group was seen, or the model has a shared part).
    """

    groups: pd.DataFrame
    labels: np.ndarray
    seen: np.ndarray
    usable: np.ndarray

    def unseen_counts(self) -> dict[str, int]:
        """The groups not seen in fit and their row counts, in order of appearance."""
        counts = pd.Series(self.labels[~self.seen]).value_counts(sort=False)
        return {str(k): int(v) for k, v in counts.items()}

    def output_groups(self) -> np.ndarray:
        """Each row's group for a table of predictions: its label, :data:`SHARED_GROUP`
        or :data:`UNPREDICTED_GROUP`."""
        group = np.where(self.seen, self.labels, SHARED_GROUP).astype(object)
        group[~self.usable] = UNPREDICTED_GROUP
        return group


def route_groups(
    frame: pd.DataFrame,
    group_columns: Sequence[str],
    fitted_groups: Sequence[object],
    *,
    has_shared_part: bool,
) -> GroupRouting:
    """Which rows of ``frame`` a fitted model predicts, and with which part.

    Parameters
    ----------
    frame : DataFrame
        New rows with the group column(s); not modified.
    group_columns : sequence of str
        The group column(s).
    fitted_groups : sequence
        The group labels seen in fit (the estimator's ``groups_``).
    has_shared_part : bool
        Whether the model predicts unseen groups with a shared part.

    Returns
    -------
    routing : GroupRouting

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"hospital": ["a", "b", None]})
    >>> routing = route_groups(frame, ["hospital"], ["a"], has_shared_part=True)
    >>> routing.output_groups().tolist()
    ['a', '<shared>', '<shared>']
    >>> routing.unseen_counts()
    {'b': 1, '(missing)': 1}
    """
    groups = frame[list(group_columns)].copy()  # missing groups are relabelled in a copy
    for column in groups.columns:
        groups[column] = groups[column].astype(object).where(groups[column].notna(), MISSING_GROUP)
    labels = group_labels(groups)
    seen = np.isin(labels, np.asarray(fitted_groups, dtype=object))
    usable = seen | bool(has_shared_part)
    return GroupRouting(groups, labels, seen, usable)
