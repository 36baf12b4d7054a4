"""Versions: this package's (the index manifest records it) and installed packages'.

Importable without importing anything of the package's own.
"""

from importlib import metadata

__version__ = "0.1.0"


def package_version(name: str) -> str:
    """The installed version of the distribution ``name``, or "unknown" when it is not installed."""
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "unknown"
