"""The optional C extensions, loaded in one place.

Each is built only where a compiler (and, for ``_mysqlread``, the MySQL client headers) was
present at install; every caller has a pure-Python path with identical output. Setting
``DBARCHIVE_PURE_PYTHON=1`` makes every caller take that path (the tests use it to compare).
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType


def load_extension(name: str) -> ModuleType | None:
    """``dbarchive.<name>`` if it was built and C paths are allowed, else None."""
    if os.environ.get("DBARCHIVE_PURE_PYTHON") == "1":
        return None
    try:
        return importlib.import_module(f"dbarchive.{name}")
    except ImportError:
        return None
