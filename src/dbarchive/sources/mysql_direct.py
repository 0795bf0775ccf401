"""The export's read path in C: keyset chunks go from the MySQL protocol straight into CSV.

Through the Python driver, every value of every row becomes a ``bytes`` object and every row a
tuple, only to be taken apart again by the encoder: on a 330k-row day that was a third of the
client's CPU. ``dbarchive._mysqlread`` (built when the MySQL client headers are present) runs the
same statement on a second session of its own and writes the CSV lines and row digest from the
protocol buffers, without the GIL. The statement text is the one the driver would send (the main
session's ``mogrify``), and the output is byte for byte what ``encode_rows`` writes, so the two
paths are interchangeable; the tests run both. ``DBARCHIVE_PURE_PYTHON=1`` turns it off.

The wheels link a client library of their own that knows one login method,
``mysql_native_password`` (``_mysqlread.c``: ``limit_plugins``). A server that asks for another
(MySQL 8.4's default ``caching_sha2_password``, ``sha256_password``, MariaDB's ``ed25519``, RDS IAM's
clear password) refuses the reader's login; the export then reads through the Python driver, whose
system library has those plugins, and says so in a warning — never silently slower.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from typing import Any

from dbarchive.checksum import RowDigest, Value
from dbarchive.config import SourceSettings
from dbarchive.formats.csv import EncodedChunk
from dbarchive.sources import connection
from dbarchive.sources.mysql_sql import SESSION_SETUP

_module = connection._reader_module
log = logging.getLogger("dbarchive")
CANNOT_LOAD_PLUGIN = 2059  # CR_AUTH_PLUGIN_CANNOT_LOAD (MySQL's client library)
ACCESS_DENIED = 1045  # what MariaDB's client library reports instead, with its own text
LOGINS = (  # the login methods (client plugins) `dbarchive --version` reports on
    "mysql_native_password",
    "caching_sha2_password",
    "sha256_password",
    "client_ed25519",
    "mysql_clear_password",
)


def available(settings: SourceSettings | None = None) -> bool:
    """Whether the C reader was built (and not switched off) and can log in as ``settings``
    asks: an RDS IAM login needs the client library's ``mysql_clear_password`` plugin, and
    without it reads go through the Python driver, with a warning."""
    if _module is None:
        return False
    if settings is not None and settings.auth == "iam":
        return _clear_password_plugin()
    return True


@functools.cache
def _clear_password_plugin() -> bool:
    assert _module is not None
    present: bool = _module.auth_plugin_available("mysql_clear_password")
    if not present:
        log.warning(
            "dbarchive: the C reader's MySQL client library cannot load the mysql_clear_password "
            "plugin that RDS IAM logins need (install it into the library's plugin folder, e.g. "
            "Debian's libmariadb3 package); reading through the Python driver instead, which "
            "costs more CPU per row"
        )
    return present


class LoginUnsupported(Exception):
    """The C reader's client library cannot log in the way the server asks (it lacks the
    authentication plugin): the caller reads through the Python driver instead."""


class DirectReader:
    """A session of its own that returns each chunk statement's rows as CSV."""

    def __init__(self, settings: SourceSettings) -> None:
        try:
            self._reader: Any = connection.open_reader(settings, SESSION_SETUP)
        except error_type() as exc:
            if not _plugin_missing(exc):
                raise
            _warn_login_unsupported(str(exc.args[1]))
            raise LoginUnsupported(exc.args[1]) from None

    def chunk(
        self, sql: bytes, width: int, keep: Sequence[int], guard: int | None = None
    ) -> EncodedChunk:
        """Run one statement; the CSV of its first ``width`` columns and its paging values.

        ``first``/``last`` of the result hold the values at the positions ``keep`` (None
        elsewhere): enough to page on and to name the part's first and last key. A row whose
        value at ``guard`` is not NULL (text that does not convert, ``charsets.py``) stops the
        read: :class:`FlaggedRow` carries its values at ``keep`` and that value.
        """
        result = self._reader.chunk(sql, width, keep, -1 if guard is None else guard)
        data, count, x1, x2, s1_high, s1_low, first, last, flag = result
        if flag is not None:
            raise FlaggedRow(last or (), flag)
        digest = RowDigest()
        digest.add_sums(count, x1, x2, s1_high, s1_low)
        return EncodedChunk(data, count, digest, _sparse(keep, first), _sparse(keep, last))

    def close(self) -> None:
        self._reader.close()

    @property
    def thread_id(self) -> int | None:
        """The server's id of this session (what ``KILL`` takes)."""
        value: int | None = self._reader.thread_id()
        return value


class FlaggedRow(Exception):
    """The C reader stopped at a row whose guard column was set."""

    def __init__(self, values: Sequence[Value], flag: bytes) -> None:
        super().__init__("a row's guard column is set")
        self.values = values  # the row's values at the positions ``keep``, in that order
        self.flag = flag


def _plugin_missing(exc: Exception) -> bool:
    """Whether a login failed for want of an authentication plugin in the client library.

    MySQL's library says so with CR_AUTH_PLUGIN_CANNOT_LOAD; MariaDB's reports it as an access
    denied error (1045) whose text is "Plugin <name> could not be loaded: <why>".
    """
    if len(exc.args) < 2:
        return False
    code, text = exc.args[0], str(exc.args[1])
    if code == CANNOT_LOAD_PLUGIN:
        return True
    return code == ACCESS_DENIED and text.startswith("Plugin ") and "could not be loaded" in text


@functools.cache
def _warn_login_unsupported(detail: str) -> None:
    """Once per process and reason: the reads of this run go through the Python driver."""
    log.warning(
        "dbarchive: the C reader cannot log in as the MySQL server asks (%s); reading through "
        "the Python driver instead, which costs more CPU per row. The wheels' built-in client "
        "library logs in with mysql_native_password only: for a user IDENTIFIED WITH "
        "caching_sha2_password, sha256_password or ed25519, install dbarchive from the sdist "
        "against the system's client library (pip install --no-binary dbarchive dbarchive, with "
        "libmariadb-dev or mysql-devel and pkg-config present), or give the archiving user "
        "mysql_native_password",
        detail,
    )


def logins() -> dict[str, bool]:
    """Which login methods the C reader's client library can make (empty without the reader)."""
    if _module is None:
        return {}
    return {name: bool(_module.auth_plugin_available(name)) for name in LOGINS}


def client_library() -> str | None:
    """The C reader's client library, e.g. "MariaDB Connector/C 3.3.20, linked in"; None
    without the reader."""
    if _module is None:
        return None
    where = "linked in" if _module.STATIC_CLIENT else "the system's shared library"
    return f"MySQL client library {_module.client_info()}, {where}"


def error_type() -> type[Exception]:
    """The exception the C reader raises (args: MySQL error number, message)."""
    assert _module is not None
    error: type[Exception] = _module.Error
    return error


def _sparse(keep: Sequence[int], values: Sequence[Value] | None) -> list[Value]:
    """A row with ``values`` at the positions ``keep`` and None elsewhere."""
    if values is None:
        return []
    row: list[Value] = [None] * (max(keep, default=-1) + 1)
    for position, value in zip(keep, values, strict=True):
        row[position] = value
    return row
