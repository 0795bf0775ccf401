"""The archive's CSV dialect: RFC 4180 with an explicit NULL, written and read as raw bytes.

- UTF-8 (the source is read as utf8mb4), ``,`` between fields, ``\\n`` after every row, a header row.
- Every non-NULL value is enclosed in ``"``; a ``"`` inside a value is doubled (``""``). Line
  breaks, commas, tabs and backslashes inside quotes are literal: nothing else is escaped.
- NULL is the two characters ``\\N`` *without* quotes, so NULL, the empty string ``""``, the string
  ``"NULL"`` and the string ``"\\N"`` are four different things.
- Every field holds the canonical text of ``sources/canonical.py`` (DECIMAL with its scale,
  DATETIME(6) with six digits, binary as upper-case hex, BIT as an unsigned integer), which is
  also the text the row digest hashes — so the file can be verified against the database.

The writer builds each row once and feeds the same values to the row digest, which keeps the hot
path to one pass over the values.
"""

from __future__ import annotations

import binascii
import hashlib
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import BinaryIO

from dbarchive.checksum import RowDigest, Value
from dbarchive.runtime.native import load_extension

NULL_TOKEN = b"\\N"
_NULL_NET = b"-1:"
# The pure-Python paths raise exactly what the C ones (``_speedups.c``) raise, with these words.
_NOT_BYTES = "values must be bytes or None"
_NOT_HEX = "each row must start with a hex SHA-256 as bytes"
_QUOTE, _COMMA, _NEWLINE = 0x22, 0x2C, 0x0A
# A quoted field (doubled quotes inside) or the bare NULL token, then the separator.
_FIELD = re.compile(rb'"([^"]*(?:""[^"]*)*)"(,|\n)|\\N(,|\n)')


_speedups = load_extension("_speedups")
_Rows = Sequence[Sequence[Value]]
_c_encode_rows: Callable[[_Rows], tuple[bytes, int, int, int, int, int]] | None = (
    None if _speedups is None else _speedups.encode_rows
)
_c_parse_rows: Callable[[bytes, int, bool], tuple[list[list[Value]], int]] | None = (
    None if _speedups is None else _speedups.parse_rows
)
_c_row_hex_digests: Callable[[_Rows], list[str]] | None = (
    None if _speedups is None else _speedups.row_hex_digests
)
_c_fold_hex_lanes: Callable[[_Rows], tuple[int, int, int, int, int]] | None = (
    None if _speedups is None else _speedups.fold_hex_lanes
)

_c_digest_rows: (
    Callable[
        [bytes, int, bool, int, int],
        tuple[int, int, int, int, int, int, int, list[Value], list[str]],
    ]
    | None
) = None if _speedups is None else _speedups.digest_rows


def iter_row_digests(
    stream: BinaryIO,
    digest: RowDigest,
    key_position: int = -1,
    skip: int = 0,
    block_size: int = 1 << 20,
) -> Iterator[tuple[list[Value], list[str]]]:
    """Digest the rows of a stream (after ``skip`` header rows) into ``digest``, block by block.

    Yields ``(keys, hex digests)`` of each block's rows — the value at ``key_position`` and the
    row's SHA-256 — when ``key_position >= 0``. In C this never makes a Python object per value:
    verify and the purge's archive walk read whole files this way.
    """
    if _c_digest_rows is None:
        yield from _iter_row_digests_python(stream, digest, key_position, skip, block_size)
        return
    buf, eof = b"", False
    while not eof:
        more = stream.read(block_size)
        eof = not more
        buf += more
        consumed, skipped, count, x1, x2, s1_high, s1_low, keys, hexes = _c_digest_rows(
            buf, 0, eof, key_position, skip
        )
        skip -= skipped
        buf = buf[consumed:]
        digest.add_sums(count, x1, x2, s1_high, s1_low)
        if count:
            yield keys, hexes


def _iter_row_digests_python(
    stream: BinaryIO, digest: RowDigest, key_position: int, skip: int, block_size: int
) -> Iterator[tuple[list[Value], list[str]]]:
    for chunk in iter_row_chunks(stream, block_size):
        if skip:
            chunk, skip = chunk[skip:], max(0, skip - len(chunk))
        if not chunk:
            continue
        encode_rows(chunk, digest)
        if key_position >= 0:
            keys = [row[key_position] if key_position < len(row) else None for row in chunk]
            yield keys, row_hex_digests(chunk)
        else:
            yield [], []


def add_hex_rows(rows: Sequence[Sequence[Value]], digest: RowDigest) -> None:
    """Add rows whose first value is the row's SHA-256 in hex (``SHA2(…, 256)``) to ``digest``.

    ValueError (and ``digest`` unchanged) if a row does not start with 32 hex digits as bytes.
    """
    if _c_fold_hex_lanes is None:
        digest.merge(_fold_hex_lanes_python(rows))
        return
    count, x1, x2, s1_high, s1_low = _c_fold_hex_lanes(rows)
    digest.add_sums(count, x1, x2, s1_high, s1_low)


def _fold_hex_lanes_python(rows: Sequence[Sequence[Value]]) -> RowDigest:
    """The digest of rows given as hex SHA-256 (like ``fold_hex_lanes`` in C: strict hex)."""
    folded = RowDigest()
    for row in rows:
        try:
            hex_hash = row[0]
        except (TypeError, IndexError, KeyError):
            raise ValueError(_NOT_HEX) from None
        if hex_hash.__class__ is not bytes or len(hex_hash) < 32:
            raise ValueError(_NOT_HEX)
        try:
            lanes = binascii.unhexlify(hex_hash[:32])
        except binascii.Error:  # int(…, 16) would take signs, spaces and "_" as well
            raise ValueError(_NOT_HEX) from None
        folded.add_lanes(int.from_bytes(lanes[:8], "big"), int.from_bytes(lanes[8:], "big"))
    return folded


@dataclass(frozen=True)
class EncodedChunk:
    """One keyset chunk already written as CSV lines, with what the part writer needs of it.

    ``first`` and ``last`` are the first and last rows as read (values at the shape's paging
    positions at least; other positions may be None): keyset paging resumes after ``last``, and
    the manifest records each part's first and last key from them.
    """

    data: bytes
    rows: int
    digest: RowDigest
    first: Sequence[Value]
    last: Sequence[Value]


def encode_chunk(rows: Sequence[Sequence[Value]]) -> EncodedChunk:
    """The driver path: encode a chunk of rows read as values (every value is exported)."""
    digest = RowDigest()
    data = encode_rows(rows, digest)
    empty: tuple[Value, ...] = ()
    return EncodedChunk(
        data, len(rows), digest, rows[0] if rows else empty, rows[-1] if rows else empty
    )


def row_hex_digests(rows: Sequence[Sequence[Value]]) -> list[str]:
    """The hex SHA-256 of each row's netstring encoding (what the server's SHA2() returns)."""
    if _c_row_hex_digests is not None:
        return _c_row_hex_digests(rows)
    return [hashlib.sha256(_checked_netstring(row)).hexdigest() for row in rows]


def _checked_netstring(values: Sequence[Value]) -> bytes:
    """``row_netstring``, refusing a value that is not bytes or None (as the C path does)."""
    net: list[bytes] = []
    for v in values:
        if v is None:
            net.append(_NULL_NET)
        elif v.__class__ is bytes:
            net.append(b"%d:%b" % (len(v), v))
        else:
            raise TypeError(_NOT_BYTES)
    return b"".join(net)


def header_line(names: Sequence[str]) -> bytes:
    """The header row: every column name quoted, like any other value."""
    return encode_row([n.encode() for n in names])


def encode_row(values: Sequence[Value]) -> bytes:
    """One CSV line for one row (used for headers and in tests; the hot path is encode_rows)."""
    return (
        b",".join(
            [NULL_TOKEN if v is None else b'"' + v.replace(b'"', b'""') + b'"' for v in values]
        )
        + b"\n"
    )


def encode_rows(rows: Sequence[Sequence[Value]], digest: RowDigest) -> bytes:
    """CSV bytes for a batch of rows, adding each row to ``digest`` on the way.

    Uses the C implementation (``dbarchive._speedups``) when it was built; its output is
    identical, which the tests check against :func:`encode_rows_python`.
    """
    if _c_encode_rows is None:
        return encode_rows_python(rows, digest)
    data, count, x1, x2, s1_high, s1_low = _c_encode_rows(rows)
    digest.add_sums(count, x1, x2, s1_high, s1_low)
    return data


def encode_rows_python(rows: Sequence[Sequence[Value]], digest: RowDigest) -> bytes:
    """The pure-Python encoder: CSV bytes for a batch of rows, adding each row to ``digest``.

    One loop builds both the CSV fields and the netstring the digest hashes, so every value is
    touched once; ``bytes.replace`` and ``b"%d:%b"`` run in C.
    """
    sha256 = hashlib.sha256
    from_bytes = int.from_bytes
    lines: list[bytes] = []
    count, x1, x2, s1 = 0, digest.x1, digest.x2, 0
    for row in rows:
        fields: list[bytes] = []
        net: list[bytes] = []
        for v in row:
            if v is None:
                fields.append(NULL_TOKEN)
                net.append(_NULL_NET)
            elif v.__class__ is bytes:
                fields.append(b'"' + v.replace(b'"', b'""') + b'"')
                net.append(b"%d:%b" % (len(v), v))
            else:  # a str would be encoded silently by some paths: refused like in C
                raise TypeError(_NOT_BYTES)
        lines.append(b",".join(fields))
        h = sha256(b"".join(net)).digest()
        a = from_bytes(h[:8], "big")
        x1 ^= a
        x2 ^= from_bytes(h[8:16], "big")
        s1 += a
        count += 1
    digest.count += count
    digest.x1, digest.x2 = x1, x2
    digest.s1 += s1
    if not lines:
        return b""
    lines.append(b"")
    return b"\n".join(lines)


def iter_rows(stream: BinaryIO, block_size: int = 1 << 20) -> Iterator[list[Value]]:
    """Parse our dialect from a binary stream, yielding rows of ``bytes | None``.

    Python's ``csv`` module cannot tell a quoted ``"\\N"`` from the bare NULL token, so this reads
    the dialect itself. Memory is bounded by the block size plus the longest row.
    """
    for chunk in iter_row_chunks(stream, block_size):
        yield from chunk


def iter_row_chunks(stream: BinaryIO, block_size: int = 1 << 20) -> Iterator[list[list[Value]]]:
    """The rows of a stream, a block's worth at a time (parsed in C when it was built)."""
    return _iter_parsed(stream, block_size, _c_parse_rows or _parse_rows_python)


def iter_rows_python(stream: BinaryIO, block_size: int = 1 << 20) -> Iterator[list[Value]]:
    """The pure-Python parser of our dialect (the reference the C parser is tested against)."""
    for chunk in _iter_parsed(stream, block_size, _parse_rows_python):
        yield from chunk


def _iter_parsed(
    stream: BinaryIO,
    block_size: int,
    parse: Callable[[bytes, int, bool], tuple[list[list[Value]], int]],
) -> Iterator[list[list[Value]]]:
    """Feed ``parse`` the stream block by block, keeping the unfinished last row for the next."""
    buf, eof = b"", False
    while not eof:
        more = stream.read(block_size)
        eof = not more
        buf += more
        rows, consumed = parse(buf, 0, eof)
        buf = buf[consumed:]
        if rows:
            yield rows


def _parse_rows_python(buf: bytes, start: int, final: bool) -> tuple[list[list[Value]], int]:
    """The complete rows of ``buf`` from ``start``, and where the unfinished one begins.

    The same contract and errors as ``parse_rows`` in C: ValueError "malformed CSV near byte N"
    (N counted in ``buf``) at a field that cannot become valid, or, when ``final``, at a last row
    left unfinished.
    """
    rows: list[list[Value]] = []
    row: list[Value] = []
    pos = row_start = start
    end = len(buf)
    while pos < end:
        m = _FIELD.match(buf, pos)
        if m is None:
            if _malformed_at(buf, pos):
                raise ValueError(f"malformed CSV near byte {pos}")
            break  # the field goes on in the next block
        quoted = m.group(1)
        row.append(None if quoted is None else quoted.replace(b'""', b'"'))
        pos = m.end()
        if (m.group(2) or m.group(3)) == b"\n":
            rows.append(row)
            row = []
            row_start = pos
    if final and row_start < end:
        raise ValueError(f"malformed CSV near byte {row_start}")
    return rows, row_start


def _malformed_at(buf: bytes, pos: int) -> bool:
    """Whether the field at ``pos`` (which did not parse) is wrong, not merely cut off."""
    end = len(buf)
    if buf[pos] == 0x5C:  # backslash: \N and a separator, once three bytes are there
        return end - pos >= 3
    if buf[pos] != _QUOTE:
        return True
    q = pos + 1
    while True:
        q = buf.find(b'"', q)
        if q < 0 or q + 1 >= end:
            return False  # the closing quote or its separator is not here yet
        if buf[q + 1] == _QUOTE:
            q += 2
            continue
        return buf[q + 1] not in (_COMMA, _NEWLINE)
