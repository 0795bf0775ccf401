"""The version of dbarchive (one place; the package root and every record read it here)."""

__version__ = "0.1.0"
