"""The C extensions (everything else is in pyproject.toml).

Both are optional: without a compiler, or without the MySQL client headers, dbarchive installs and
runs on its pure-Python paths, with identical output.
- ``_speedups``: CSV encoder/parser and the row digest (no dependencies).
- ``_mysqlread``: keyset chunks read from MySQL straight into CSV; links the MySQL/MariaDB client
  library, found through pkg-config or mysql_config (as mysqlclient's own build finds it).

The wheels (``make dist``, ``scripts/build-dist``) set three variables: ``DBARCHIVE_MYSQL_CFLAGS``
and ``DBARCHIVE_MYSQL_LDFLAGS`` replace the found flags (the static client library, its symbols
hidden), and ``DBARCHIVE_REQUIRE_EXTENSIONS=1`` makes a failed compile fail the build: a wheel
without its speedups would install fine and then run at a third of the speed.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess

from setuptools import Extension, setup

_CORE = ["src/dbarchive/_csvcore.h"]


def _client_flags() -> tuple[list[str], list[str]] | None:
    """Compile and link flags of the MySQL client library, or None if it is not installed."""
    given = os.environ.get("DBARCHIVE_MYSQL_CFLAGS"), os.environ.get("DBARCHIVE_MYSQL_LDFLAGS")
    if given[0] is not None and given[1] is not None:
        return shlex.split(given[0]), shlex.split(given[1])
    if shutil.which("pkg-config"):
        for name in ("mysqlclient", "libmariadb", "mariadb"):
            try:
                cflags = subprocess.check_output(["pkg-config", "--cflags", name], text=True)
                libs = subprocess.check_output(["pkg-config", "--libs", name], text=True)
            except subprocess.CalledProcessError:
                continue
            return shlex.split(cflags), shlex.split(libs)
    for tool in ("mysql_config", "mariadb_config"):
        if shutil.which(tool):
            cflags = subprocess.check_output([tool, "--cflags"], text=True)
            libs = subprocess.check_output([tool, "--libs"], text=True)
            return shlex.split(cflags), shlex.split(libs)
    return None


def _extensions() -> list[Extension]:
    optional = os.environ.get("DBARCHIVE_REQUIRE_EXTENSIONS") != "1"
    extensions = [
        Extension(
            "dbarchive._speedups",
            ["src/dbarchive/_speedups.c"],
            depends=_CORE,
            optional=optional,
        )
    ]
    flags = _client_flags()
    if flags is None and not optional:
        raise SystemExit(
            "DBARCHIVE_REQUIRE_EXTENSIONS=1 but no MySQL client library was found: install "
            "libmariadb-dev (or libmysqlclient-dev) and pkg-config, or set DBARCHIVE_MYSQL_CFLAGS "
            "and DBARCHIVE_MYSQL_LDFLAGS"
        )
    if flags is not None:
        cflags, libs = flags
        extensions.append(
            Extension(
                "dbarchive._mysqlread",
                ["src/dbarchive/_mysqlread.c"],
                depends=_CORE,
                extra_compile_args=cflags,
                extra_link_args=libs,
                optional=optional,
            )
        )
    return extensions


setup(ext_modules=_extensions())
