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


def lazy_attributes(package: str, where: dict[str, str]):
    """A module ``__getattr__`` (PEP 562) that imports each name of ``where`` from its
    submodule on first use, so that importing one submodule of ``package`` (on a Dask
    worker, say) does not import all of them.

    Parameters
    ----------
    package : str
        The package's name (``"fairmtl.data"``).
    where : dict
        Name -> the submodule that defines it (``"._io"``).
    """

    def __getattr__(name: str):
        if name not in where:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(where[name], package), name)
        setattr(importlib.import_module(package), name, value)
        return value

    return __getattr__
