"""The package version (one definition)."""

__version__ = "0.2.0"
