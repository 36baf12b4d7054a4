"""The package version, importable without importing anything else (the index manifest records it)."""

__version__ = "0.1.0"
