"""The CSV dialect: every value, NULL and tricky text survives write → read exactly."""

from __future__ import annotations

import csv
import io

from hypothesis import given
from hypothesis import strategies as st

from dbarchive.checksum import RowDigest
from dbarchive.formats.csv import encode_row, encode_rows, header_line, iter_rows

TRICKY = [
    None,
    b"",
    b"NULL",
    b"\\N",
    b'"',
    b'""',
    b'a,b"c\r\nd',
    b"line1\nline2",
    "ünïcødé ✓ 🐬 支付".encode(),
    b"\t\\",
    b" trailing space ",
]

field = st.one_of(st.none(), st.text().map(str.encode))


def _read(data: bytes, block_size: int = 1 << 20) -> list[list[bytes | None]]:
    return list(iter_rows(io.BytesIO(data), block_size))


def test_tricky_values_round_trip() -> None:
    """NULL stays distinct from '', 'NULL' and '\\N'; quotes, CR/LF, unicode survive."""
    rows = [[v, b"x"] for v in TRICKY]
    assert _read(encode_rows(rows, RowDigest())) == rows


@given(st.lists(st.lists(field, min_size=3, max_size=3), max_size=20), st.integers(1, 64))
def test_any_rows_round_trip_across_block_boundaries(
    rows: list[list[bytes | None]], block: int
) -> None:
    """Parsing is exact whatever the read size (fields split across reads)."""
    assert _read(encode_rows(rows, RowDigest()), block) == rows


def test_python_csv_reads_the_same_text() -> None:
    """Python's csv module reads non-NULL values identically (NULL reads as the text \\N)."""
    rows = [[v.decode(), "y"] for v in TRICKY if v is not None]
    data = encode_rows([[v.encode(), b"y"] for v, _ in rows], RowDigest()).decode()
    assert list(csv.reader(io.StringIO(data, newline=""))) == rows


def test_null_is_unquoted_and_strings_are_quoted() -> None:
    """The documented bytes: NULL is a bare \\N, every other value is quoted."""
    assert encode_row([None, b"\\N", b"", b'a"b']) == b'\\N,"\\N","","a""b"\n'


def test_encode_rows_feeds_the_digest_per_row() -> None:
    """The digest of written rows equals the digest of the same rows computed directly."""
    rows = [[v, b"1"] for v in TRICKY]
    digest = RowDigest()
    encode_rows(rows, digest)
    assert digest == RowDigest().add_rows(rows)


def test_header_is_a_quoted_row() -> None:
    """The header row quotes names like values, so odd column names survive."""
    assert _read(header_line(["id", 'we"ird,name'])) == [[b"id", b'we"ird,name']]


def test_truncated_file_is_an_error() -> None:
    """A file cut in the middle of a row raises instead of yielding a partial row."""
    import pytest

    with pytest.raises(ValueError, match="malformed"):
        _read(b'"a","b\n')
