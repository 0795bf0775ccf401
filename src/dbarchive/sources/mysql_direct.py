"""The export's read path in C: keyset chunks go from the MySQL protocol straight into CSV.

Through the Python driver, every value of every row becomes a ``bytes`` object and every row a
tuple, only to be taken apart again by the encoder: on a 330k-row day that was a third of the
client's CPU. ``dbarchive._mysqlread`` (built when the MySQL client headers are present) runs the
same statement on a second session of its own and writes the CSV lines and row digest from the
protocol buffers, without the GIL. The statement text is the one the driver would send (the main
session's ``mogrify``), and the output is byte for byte what ``encode_rows`` writes, so the two
paths are interchangeable; the tests run both. ``DBARCHIVE_PURE_PYTHON=1`` turns it off.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dbarchive.checksum import RowDigest, Value
from dbarchive.config import SourceSettings
from dbarchive.formats.csv import EncodedChunk
from dbarchive.native import load_extension
from dbarchive.sources.mysql_sql import SESSION_SETUP

_module = load_extension("_mysqlread")


def available() -> bool:
    """Whether the C reader was built (and not switched off)."""
    return _module is not None


class DirectReader:
    """A session of its own that returns each chunk statement's rows as CSV."""

    def __init__(self, settings: SourceSettings) -> None:
        assert _module is not None, "check available() first"
        self._reader: Any = _module.Reader(**_reader_args(settings.connect_args()))

    def chunk(self, sql: bytes, width: int, keep: Sequence[int]) -> EncodedChunk:
        """Run one statement; the CSV of its first ``width`` columns and its paging values.

        ``first``/``last`` of the result hold the values at the positions ``keep`` (None
        elsewhere): enough to page on and to name the part's first and last key.
        """
        data, count, x1, x2, s1_high, s1_low, first, last = self._reader.chunk(sql, width, keep)
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


def error_type() -> type[Exception]:
    """The exception the C reader raises (args: MySQL error number, message)."""
    assert _module is not None
    error: type[Exception] = _module.Error
    return error


def _reader_args(args: dict[str, Any]) -> dict[str, Any]:
    """The driver's connect arguments, as the C reader names them."""
    ssl = args.get("ssl") or {}
    return {
        "host": args.get("host"),
        "user": args.get("user"),
        "password": args.get("password"),
        "database": args.get("database"),
        "port": int(args.get("port") or 0),
        "unix_socket": args.get("unix_socket"),
        "connect_timeout": int(args.get("connect_timeout") or 10),
        "ssl_ca": ssl.get("ca"),
        "init_command": SESSION_SETUP,
    }


def _sparse(keep: Sequence[int], values: Sequence[Value] | None) -> list[Value]:
    """A row with ``values`` at the positions ``keep`` and None elsewhere."""
    if values is None:
        return []
    row: list[Value] = [None] * (max(keep, default=-1) + 1)
    for position, value in zip(keep, values, strict=True):
        row[position] = value
    return row
