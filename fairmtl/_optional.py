"""The one place where optional dependencies are imported.

Each helper returns the module or raises :class:`~fairmtl.exceptions.OptionalDependencyError`
naming the extra to install.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from fairmtl.exceptions import OptionalDependencyError

_EXTRAS = {
    "torch": "torch",
    "dask": "distributed",
    "distributed": "distributed",
}

MSG_MISSING_OPTIONAL = (
    "{feature} needs the optional package {package!r}, which is not installed. "
    'Install it with: pip install "fairmtl[{extra}]"'
)


def import_optional(package: str, feature: str) -> ModuleType:
    """Import an optional package or raise a clear error.

    Parameters
    ----------
    package : str
        The importable name, e.g. ``"torch"`` or ``"distributed"``.
    feature : str
        What the caller wanted to do, used in the message.

    Returns
    -------
    module : ModuleType
    """
    try:
        return importlib.import_module(package)
    except ImportError as e:
        extra = _EXTRAS.get(package.split(".")[0], package)
        raise OptionalDependencyError(
            MSG_MISSING_OPTIONAL.format(feature=feature, package=package, extra=extra)
        ) from e


def has_optional(package: str) -> bool:
    """Whether an optional package can be imported."""
    try:
        importlib.import_module(package)
    except ImportError:
        return False
    return True
