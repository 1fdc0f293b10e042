"""Typed errors and warnings of fairmtl.

Every error says what went wrong (naming the column, group or value) and what to try
next. Library code raises these; only the CLI turns them into one line and an exit code.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "FairMTLError",
    "DataValidationError",
    "UnseenGroupError",
    "InfeasibleError",
    "SolverFailedError",
    "ClusterError",
    "OptionalDependencyError",
    "FileExistsNoForceError",
    "OutputError",
    "FairMTLWarning",
    "SolverFallbackWarning",
    "SolverInaccurateWarning",
    "SmallGroupWarning",
    "DataWarning",
]


class FairMTLError(Exception):
    """Base class of every error fairmtl raises on purpose."""


class DataValidationError(FairMTLError, ValueError):
    """Input data is unusable: a missing column, a bad value, a group too small.

    The message names the column, group or value and says how to fix it.
    """


class UnseenGroupError(DataValidationError):
    """A group met at predict time was not seen in fit, and the model has no shared part."""


class InfeasibleError(FairMTLError, ValueError):
    """A constraint cannot be met by any model.

    Parameters
    ----------
    message : str
        The full message.
    groups : sequence of str, default=()
        The groups that cannot meet the bound.
    min_feasible : float or None, default=None
        The smallest bound that is feasible (for example the minimax loss).

    Attributes
    ----------
    groups : tuple of str
    min_feasible : float or None
    """

    def __init__(
        self, message: str, *, groups: Sequence[str] = (), min_feasible: float | None = None
    ) -> None:
        super().__init__(message)
        self.groups = tuple(groups)
        self.min_feasible = min_feasible


class SolverFailedError(FairMTLError, RuntimeError):
    """Every solver tried failed or returned a status that is not a solution."""


class ClusterError(FairMTLError, RuntimeError):
    """A distributed fit lost a worker or a task and returns nothing rather than a partial
    result; the message says what was lost and what to do."""


class OptionalDependencyError(FairMTLError, ImportError):
    """An optional dependency is needed; the message names the extra to install."""


class FileExistsNoForceError(FairMTLError, FileExistsError):
    """An output file exists and overwriting was not asked for."""


class OutputError(FairMTLError, OSError):
    """An output file cannot be written (its folder is read-only, the disk is full).

    The message names the output file (never a temporary file) and says what to do.
    """


class FairMTLWarning(UserWarning):
    """Base class of fairmtl's warnings."""


class SolverFallbackWarning(FairMTLWarning):
    """A solver failed and another one was used; the message names both and the reason."""


class SolverInaccurateWarning(FairMTLWarning):
    """The kept solution is not certified optimal (an inaccurate status, or a solver that
    stopped at its time or iteration limit); ``solver_info_`` records each attempt."""


class SmallGroupWarning(FairMTLWarning):
    """A group has fewer rows than the minimum; its metrics and fit are uncertain."""


class DataWarning(FairMTLWarning):
    """Input data was changed in a documented way (rows dropped, values imputed, scaled)."""
