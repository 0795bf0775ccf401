"""Text that would not survive the trip to UTF-8: found by the server, refused by dbarchive.

The archive holds every text column as UTF-8 (``CONVERT(col USING utf8mb4)``, the canonical text
the row digest hashes, see ``canonical.py``). A value in another charset converts exactly when
each of its characters has a Unicode equivalent; a byte that has none (0x98 in cp1251) becomes
``?`` — in the file *and* in the database's digest, which then agree with each other and not
with the table. So the server checks each such column, in the very statement that reads the
rows, for a value that would not come back from utf8mb4 as the bytes it stores.

How a column is checked depends on its charset, as the server itself converts it (asked once
per charset and run, :func:`round_trip_probe_sql`: the 256 bytes there and back):

- UTF-8 (utf8mb3 → utf8mb4 is lossless), or a single-byte charset whose 256 bytes all come back
  (latin1, latin2, koi8r, …): no check. A single-byte value converts one byte at a time.
- A single-byte charset with a few bytes that do not come back (cp1251: 0x98; cp1250: five):
  ``LOCATE(<byte>, CAST(col AS BINARY)) > 0`` per such byte, a byte search.
- Any other (multi-byte, or many such bytes: sjis, gbk, utf16, ascii, …): the round trip itself,
  ``NOT (CAST(CONVERT(CONVERT(col USING utf8mb4) USING cs) AS BINARY) <=> CAST(col AS BINARY))``.

Measured on MariaDB 10.11 here (200k rows, two text columns of 140 bytes a row together): the
byte search costs the server 0.25 µs a row, the round trip 2.7 µs (about half of what the whole
export read costs): hence the byte search wherever it is exact.

The checks of a table are one extra column of the chunk statements (:func:`guard_expression`):
NULL when every checked value converts, else the position of the first column that does not.
The export, verify's read of the database, every locked purge chunk and the landing of an
aurora-outfile unit stop at a flagged row and name its key and column (:func:`check_rows`): such
a row is never archived and never deleted. Failing was chosen over a lossless escape (hex behind
a marker) because every reader of the archive — the CSV and Parquet readers, the lake DDL, the
purge's SQL ``SHA2``, Aurora's statements — would have to learn the marker, for bytes that are
almost always a mistake to correct in the table.

The same column flags two other rows the archive cannot hold: an ENUM's error value (index 0),
and a row whose long values' text comes near the server's ``max_allowed_packet``. Past it the
server turns ``HEX()`` into NULL with a mere warning (an outside trial: a 9 MB BLOB archived as
NULL, verify OK, the row purged), the row digest's ``CONCAT`` into NULL (two 5 MB BLOBs: every
purge crashed), and the row's INSERT cannot be sent back. The check sums the lengths MySQL keeps
with the long values (binary counted twice, as hex; non-UTF-8 text converted) against
``max_allowed_packet`` less ``ROW_MARGIN``, the room left for the other values and the
statement: export, purge and restore then agree on one limit.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from dbarchive.errors import UnconvertibleTextError
from dbarchive.sources.canonical import Column, quote_identifier
from dbarchive.sources.table import TableInfo, TextCheck

UTF8_CHARSETS = frozenset({"utf8mb4", "utf8mb3", "utf8"})
# Above this many bytes that do not come back, one round trip is cheaper than a search per byte.
MAX_BYTE_SEARCHES = 8
_EVERY_BYTE = "X'" + "".join(f"{b:02X}" for b in range(256)) + "'"
_CHARSET_NAME = re.compile(r"^[A-Za-z0-9_]+$")


def may_lose_text(col: Column) -> bool:
    """Whether the column's text could lose characters on its way to UTF-8 (a non-UTF-8 text
    column); whether it really can is the server's answer to :func:`round_trip_probe_sql`."""
    return col.is_text and col.charset is not None and col.charset.lower() not in UTF8_CHARSETS


def key_scan_refusal(info: TableInfo) -> str | None:
    """Why a day cannot be paged by its key range (``scan = "key"``), if it cannot: a key of
    text in another charset than UTF-8. The day's bounds travel as UTF-8 text, where a value
    with no UTF-8 form reads '?' (an outside trial: a greek 0xFF as the day's highest key ended
    the scan early, the day was published short, and verify, reading the same range, said OK)."""
    col = info.key[0]
    if not may_lose_text(col) or col.data_type in {"enum", "set"}:  # these travel as numbers
        return None
    return (
        f"{info.name!r}: scan = 'key' pages a day by its key's range, whose bounds travel as "
        f"UTF-8 text; the key {col.name!r} is {col.charset} text, which UTF-8 cannot carry "
        "exactly; use scan = 'time' or 'auto' (through the time index)"
    )


# The room a row leaves under max_allowed_packet beside its long values: its other values, the
# netstring lengths of the digest, the INSERT's text (jobs/restore.py STATEMENT_OVERHEAD: half).
ROW_MARGIN = 128 * 1024
_SIZED = re.compile(r"^(?:var)?(?:binary|char)\((\d+)\)")
_SHORT = {"tinyblob", "tinytext", "enum", "set"}


def _long(col: Column) -> bool:
    """Whether a value of this column can be long (a BLOB/TEXT type, or declared > 512)."""
    if not (col.is_binary or col.is_text) or col.data_type in _SHORT:
        return False
    sized = _SIZED.match(col.column_type.lower())
    return sized is None or int(sized.group(1)) > 512


def row_size_check(columns: Sequence[Column]) -> tuple[TextCheck, ...]:
    """The check of a row's long values against ``max_allowed_packet`` (none: no long column)."""
    long = tuple(c for c in columns if _long(c))
    return (TextCheck(long[0], None, row_size=long),) if long else ()


_FIXED_FLOAT = re.compile(r"^(?:float|double|real)\((\d+),(\d+)\)")


def range_checks(columns: Sequence[Column]) -> tuple[TextCheck, ...]:
    """The checks of FLOAT(M,D)/DOUBLE(M,D) values against their declared range: the server
    stores 9999999.999 in a FLOAT(10,3) as the float 10000000, which it then refuses to take back
    (an outside trial's restore failed on it, and on every row of its purged day)."""
    return tuple(TextCheck(c, None, out_of_range=True) for c in columns if _declared_limit(c))


def _declared_limit(col: Column) -> str | None:
    """The largest FLOAT(M,D)/DOUBLE(M,D) value the server takes, as it computes it —
    ``(1eM - 1) / 1eD`` in doubles — else None. (``1e(M-D)`` refused values it takes: a
    DOUBLE(17,13) holds and takes back 10000, an outside trial found.)"""
    m = _FIXED_FLOAT.match(col.column_type.lower())
    return None if m is None else f"(1e{int(m.group(1))} - 1) / 1e{int(m.group(2))}"


# The bytes the client escapes in a quoted value (mysql_real_escape_string): each goes as two,
# so a restore's INSERT of 9 MB of quotes is 18 MB (an outside trial: archived, purged, and then
# no restore could send it).
ESCAPED_BYTES = b"\x00\n\r\\'\"\x1a"


def escaped_length(value: bytes) -> int:
    """The bytes ``value`` takes quoted in a statement: each escaped byte twice."""
    return 2 * len(value) - len(value.translate(None, ESCAPED_BYTES))


def _text_bytes(col: Column, bound: bool = False) -> str:
    """SQL: the most bytes the column's value takes in a restore's INSERT (0 for NULL): binary
    as hex, text as UTF-8 counted twice — every byte may be one the client escapes, and counting
    them on the server is quadratic (MariaDB's REPLACE of 8 MB of quotes ran for minutes).
    ``bound``: at least that many without converting text of another charset (no character of
    any charset takes more than 4 bytes in UTF-8, nor fewer than 1 in its own)."""
    q = quote_identifier(col.name)
    if col.is_binary:
        return f"IFNULL(LENGTH({q}), 0) * 2"
    if col.charset is not None and col.charset.lower() not in UTF8_CHARSETS:
        if bound:
            return f"IFNULL(LENGTH({q}), 0) * 8"
        return f"IFNULL(LENGTH(CONVERT({q} USING utf8mb4)), 0) * 2"
    return f"IFNULL(LENGTH({q}), 0) * 2"


def _row_size_expression(columns: Sequence[Column]) -> str:
    """True when the row's long values may come to more than the room under the packet. Text
    of another charset is converted to count it only when its upper bound says it may not fit:
    converting every latin1 value cost the export 28 % more server CPU (bench/row_guard.py), and
    a row under the bound needs no exact count (MySQL's AND stops at a false)."""
    room = f"@@max_allowed_packet - {ROW_MARGIN}"
    exact = " + ".join(_text_bytes(c) for c in columns)
    bound = " + ".join(_text_bytes(c, bound=True) for c in columns)
    return f"{exact} > {room}" if bound == exact else f"({bound} > {room} AND {exact} > {room})"


def charset_name(name: str) -> str:
    """A charset name fit to stand in ``USING <name>`` (it comes from information_schema)."""
    if not _CHARSET_NAME.match(name):
        raise ValueError(f"not a charset name: {name!r}")
    return name


def round_trip_probe_sql(charset: str) -> str:
    """``MAXLEN`` of ``charset`` and the bytes 0x00..0xFF converted to utf8mb4 and back (params:
    the charset name); read by :func:`lost_bytes`."""
    cs = charset_name(charset)
    there_and_back = f"CONVERT(CONVERT(CONVERT({_EVERY_BYTE} USING {cs}) USING utf8mb4) USING {cs})"
    return (
        f"SELECT MAXLEN, CAST({there_and_back} AS BINARY)"
        " FROM information_schema.CHARACTER_SETS WHERE CHARACTER_SET_NAME = %s"
    )


def lost_bytes(maxlen: int, back: bytes) -> bytes | None:
    """From the probe's answer: the bytes that do not come back (empty: none), or None when
    a value must be converted there and back to know (multi-byte, or too many such bytes)."""
    if maxlen != 1 or len(back) != 256:
        return None
    lost = bytes(b for b in range(256) if back[b] != b)
    return lost if len(lost) <= MAX_BYTE_SEARCHES else None


def lossy_expression(check: TextCheck) -> str:
    """True when the column's value does not come back from utf8mb4 as its own bytes (NULL or
    false otherwise)."""
    col = check.column
    q = quote_identifier(col.name)
    if check.enum_error:
        return f"{q} = 0"  # an ENUM compared with a number compares its index
    if check.out_of_range:
        return f"ABS({q}) > {_declared_limit(col)}"
    if check.row_size:
        return _row_size_expression(check.row_size)
    assert col.charset is not None
    if check.lost_bytes is not None:
        return " OR ".join(f"LOCATE(X'{b:02X}', CAST({q} AS BINARY)) > 0" for b in check.lost_bytes)
    back = f"CONVERT(CONVERT({q} USING utf8mb4) USING {charset_name(col.charset)})"
    return f"NOT (CAST({back} AS BINARY) <=> CAST({q} AS BINARY))"


def guard_expression(checks: Sequence[TextCheck]) -> str:
    """NULL when every checked value converts losslessly, else the position (in ``checks``)
    of the first column that does not."""
    whens = " ".join(f"WHEN {lossy_expression(c)} THEN {i}" for i, c in enumerate(checks))
    return f"CASE {whens} END"


def check_rows(
    info: TableInfo,
    key_positions: Sequence[int],
    guard_position: int | None,
    rows: Sequence[Sequence[bytes | None]],
) -> None:
    """Raise :class:`UnconvertibleTextError` at the first row whose guard column is set."""
    if guard_position is None:
        return
    for row in rows:
        flag = row[guard_position]
        if flag is not None:
            raise unconvertible(info, flag, [row[p] for p in key_positions])


def unconvertible(
    info: TableInfo, flag: bytes, key_values: Sequence[bytes | None]
) -> UnconvertibleTextError:
    """The error for a flagged row: its key, the column (``flag`` is its position in
    ``info.checked_text``), and what to do."""
    check = info.checked_text[int(flag)]
    col = check.column
    where = ", ".join(
        f"{c.name} = {'NULL' if v is None else v.decode(errors='replace')}"
        for c, v in zip(info.key, key_values, strict=True)
    )
    if check.row_size:
        names = ", ".join(repr(c.name) for c in check.row_size)
        return UnconvertibleTextError(
            f"{info.name}: the row with {where} is too long: its values in the columns that "
            f"can hold long ones ({names}; NULLs count nothing), as text (binary as hex), come "
            f"to more than the server's max_allowed_packet less {ROW_MARGIN // 1024} "
            "KiB: the server would read their hex or the row's digest as NULL, and could not take "
            "the row's INSERT back, so dbarchive neither archives nor deletes this row; raise "
            "max_allowed_packet on the server (SET GLOBAL, or the DB parameter group on RDS/Aurora) "
            f"above that, then run again (such rows: WHERE {lossy_expression(check)})"
        )
    if check.out_of_range:
        return UnconvertibleTextError(
            f"{info.name}: the row with {where} holds a value in column {col.name!r} "
            f"({col.column_type}) past the range its M and D allow (the server rounded it "
            "there as it stored it), which an INSERT cannot give back, so dbarchive neither "
            "archives nor deletes this row; set it within the range or widen the column (e.g. "
            f"plain DOUBLE), then run again (such rows: WHERE {lossy_expression(check)})"
        )
    if check.enum_error:
        return UnconvertibleTextError(
            f"{info.name}: the row with {where} holds the error value of ENUM column "
            f"{col.name!r} (index 0: what MySQL stores for an invalid value when sql_mode is not "
            "strict), which the archive's text '' cannot give back, so dbarchive neither archives "
            "nor deletes this row; set it to a member of the ENUM or NULL, then run again (such "
            f"rows: WHERE {lossy_expression(check)})"
        )
    return UnconvertibleTextError(
        f"{info.name}: the row with {where} holds bytes in column {col.name!r} ({col.charset}) "
        "that have no UTF-8 equivalent, or one that converts back to other bytes: archived they "
        "would read as '?' or change, so dbarchive neither "
        "archives nor deletes this row; correct the value, or make the column VARBINARY/BLOB "
        f"(archived as hex), then run again (such rows: WHERE {lossy_expression(check)})"
    )
