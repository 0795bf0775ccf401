"""What ``dbarchive --version`` says: the version, and which C speedups this process uses."""

from __future__ import annotations

import os

from dbarchive._version import __version__
from dbarchive.runtime.native import load_extension


def version_lines() -> list[str]:
    """The version, then :func:`speedups`."""
    return [f"dbarchive, version {__version__}", *speedups()]


def speedups() -> list[str]:
    """What ``dbarchive --version`` says of the C extensions: which are loaded, the C reader's
    client library, and the logins it can make itself (the others read through the driver)."""
    from dbarchive.sources import mysql_direct

    if os.environ.get("DBARCHIVE_PURE_PYTHON") == "1":
        return ["C speedups: off (DBARCHIVE_PURE_PYTHON=1): pure-Python paths, same output"]
    loaded = [name for name in ("_speedups", "_mysqlread") if load_extension(name) is not None]
    missing = [name for name in ("_speedups", "_mysqlread") if name not in loaded]
    lines = [
        "C speedups: "
        + (f"loaded ({', '.join(loaded)})" if loaded else "not loaded")
        + (f"; not built: {', '.join(missing)} (pure-Python paths, same output)" if missing else "")
    ]
    library = mysql_direct.client_library()
    if library is not None:
        logins = mysql_direct.logins()
        can = [name for name, ok in logins.items() if ok]
        cannot = [name for name, ok in logins.items() if not ok]
        lines.append(f"C reader: {library}; logs in with {', '.join(can) or 'no method'}")
        if cannot:
            lines.append(f"  other logins read through the Python driver: {', '.join(cannot)}")
    return lines
