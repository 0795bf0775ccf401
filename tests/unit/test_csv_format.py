"""The CSV dialect: every value, NULL and tricky text survives write → read exactly."""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dbarchive.checksum import RowDigest
from dbarchive.formats import csv as csv_format
from dbarchive.formats.csv import encode_row, encode_rows, header_line, iter_rows

PURE_PYTHON = os.environ.get("DBARCHIVE_PURE_PYTHON") == "1"
C_BUILT = csv_format._speedups is not None

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


@pytest.mark.skipif(PURE_PYTHON, reason="DBARCHIVE_PURE_PYTHON=1 switches the C paths off")
def test_c_encoder_is_built() -> None:
    """The C hot path is compiled in this environment (the fallback is only for exotic installs)."""
    from dbarchive.formats import csv as csv_format

    assert csv_format._c_encode_rows is not None


@given(st.lists(st.lists(field, min_size=1, max_size=6), max_size=40))
def test_c_encoder_equals_python_encoder(rows: list[list[bytes | None]]) -> None:
    """The C encoder writes the same bytes and the same digest as the Python one, for any rows."""
    from dbarchive.formats.csv import encode_rows_python

    c_digest, py_digest = RowDigest(), RowDigest()
    assert encode_rows(rows, c_digest) == encode_rows_python(rows, py_digest)
    assert c_digest == py_digest


def test_c_encoder_sha256_on_long_and_boundary_values() -> None:
    """Values across SHA-256 block boundaries (55, 56, 63, 64, 65 bytes, 1 MB) hash like hashlib."""
    from dbarchive.formats.csv import encode_rows_python

    rows = [
        [b"x" * n, b'"' * (n % 7)]
        for n in (0, 1, 51, 52, 53, 55, 56, 59, 60, 63, 64, 65, 119, 120, 1_000_000)
    ]
    c_digest, py_digest = RowDigest(), RowDigest()
    assert encode_rows(rows, c_digest) == encode_rows_python(rows, py_digest)
    assert c_digest == py_digest


def test_c_encoder_rejects_non_bytes() -> None:
    """A str (not bytes) value is a TypeError, never silently encoded."""
    import pytest

    with pytest.raises(TypeError, match="bytes or None"):
        encode_rows([["text"]], RowDigest())  # type: ignore[list-item]


@given(st.lists(st.lists(field, min_size=1, max_size=5), max_size=30), st.integers(1, 50))
def test_c_parser_equals_python_parser(rows: list[list[bytes | None]], block: int) -> None:
    """The C parser reads back exactly what the Python parser reads, for any split of the bytes."""
    from dbarchive.formats.csv import iter_row_chunks, iter_rows_python

    data = encode_rows(rows, RowDigest())
    c_rows = [row for chunk in iter_row_chunks(io.BytesIO(data), block) for row in chunk]
    assert c_rows == list(iter_rows_python(io.BytesIO(data), block)) == rows


def test_c_parser_rejects_garbage() -> None:
    """Bytes that are not our dialect (an unquoted value, a dangling quote) are an error."""
    import pytest

    from dbarchive.formats.csv import iter_row_chunks

    for bad in (b"abc\n", b'"a"x\n', b'"a","b', b"\\Nx\n"):
        with pytest.raises(ValueError, match="malformed"):
            list(iter_row_chunks(io.BytesIO(bad)))


def test_row_hex_digests_match_hashlib() -> None:
    """The per-row digests the purge compares with the server's SHA2() equal hashlib's."""
    import hashlib

    from dbarchive.checksum import row_netstring
    from dbarchive.formats.csv import row_hex_digests

    rows = [[v, b"1"] for v in TRICKY]
    assert row_hex_digests(rows) == [hashlib.sha256(row_netstring(r)).hexdigest() for r in rows]


def _sha_backends() -> list[str]:
    from dbarchive import _speedups

    current = _speedups.sha256_backend()
    found = []
    for name in ("portable", "sha-ni"):
        try:
            _speedups.sha256_backend(name)
            found.append(name)
        except ValueError:
            pass
    _speedups.sha256_backend(current)
    return found


def test_sha_ni_is_chosen_when_the_cpu_has_it() -> None:
    """Import picks the SHA-extension block function whenever it works on this CPU."""
    from dbarchive import _speedups

    expected = "sha-ni" if "sha-ni" in _sha_backends() else "portable"
    assert _speedups.sha256_backend() == expected


def test_every_sha_backend_hashes_like_hashlib() -> None:
    """Both block functions give hashlib's SHA-256 for every length around the block edges."""
    import hashlib
    import random

    from dbarchive import _speedups
    from dbarchive.checksum import row_netstring
    from dbarchive.formats.csv import encode_rows_python, row_hex_digests

    rng = random.Random(5)
    rows: list[list[bytes | None]] = [[rng.randbytes(n)] for n in range(0, 300)]
    rows += [[rng.randbytes(n), None, b'"q"'] for n in (4095, 4096, 65_537)]
    expected = [hashlib.sha256(row_netstring(r)).hexdigest() for r in rows]
    current = _speedups.sha256_backend()
    try:
        for name in _sha_backends():
            _speedups.sha256_backend(name)
            assert row_hex_digests(rows) == expected, name
            c_digest, py_digest = RowDigest(), RowDigest()
            assert encode_rows(rows, c_digest) == encode_rows_python(rows, py_digest), name
            assert c_digest == py_digest, name
    finally:
        _speedups.sha256_backend(current)


def test_c_encoder_takes_empty_rows_and_list_rows() -> None:
    """A row without values is a bare line end; rows may be lists as well as tuples."""
    from dbarchive.formats.csv import encode_rows_python

    rows: list[list[bytes | None]] = [[], [b"a", None], [], [b'""']]
    c_digest, py_digest = RowDigest(), RowDigest()
    assert encode_rows(rows, c_digest) == encode_rows_python(rows, py_digest)
    assert c_digest == py_digest
    assert encode_rows([tuple(r) for r in rows], RowDigest()) == encode_rows(rows, RowDigest())


def test_unknown_sha_backend_is_refused() -> None:
    import pytest

    from dbarchive import _speedups

    with pytest.raises(ValueError, match="unknown"):
        _speedups.sha256_backend("md5")


def test_hex_rows_fold_like_row_lanes() -> None:
    """Rows of SHA2() hex (upper or lower case) add the same lanes as hashing the rows themselves."""
    import hashlib

    import pytest

    from dbarchive.checksum import row_netstring
    from dbarchive.formats import csv as csv_format

    rows = [[v, b"1"] for v in TRICKY] * 3
    expected = RowDigest().add_rows(rows)
    hex_rows = [[hashlib.sha256(row_netstring(r)).hexdigest().encode(), b"key"] for r in rows]
    hex_rows[0][0] = hex_rows[0][0].upper()  # type: ignore[union-attr]
    folded = RowDigest()
    csv_format.add_hex_rows(hex_rows, folded)
    assert folded == expected
    pure = RowDigest()
    saved, csv_format._c_fold_hex_lanes = csv_format._c_fold_hex_lanes, None
    try:
        csv_format.add_hex_rows(hex_rows, pure)
    finally:
        csv_format._c_fold_hex_lanes = saved
    assert pure == expected
    with pytest.raises(ValueError, match="hex SHA-256"):
        csv_format.add_hex_rows([[b"zz" * 32]], RowDigest())


@given(
    st.lists(st.lists(field, min_size=1, max_size=5), max_size=30),
    st.integers(1, 50),
    st.integers(-1, 4),
)
def test_row_digests_straight_from_csv_equal_the_parsed_rows(
    rows: list[list[bytes | None]], block: int, key_position: int
) -> None:
    """Digesting the CSV text (after its header) gives the digest, keys and row hashes of the
    parsed rows, for any split of the bytes, in C and in Python."""
    from dbarchive.formats import csv as csv_format
    from dbarchive.formats.csv import iter_row_digests, row_hex_digests

    data = header_line(["a", "b"]) + encode_rows(rows, RowDigest())
    width_ok = [r for r in rows if key_position < len(r)]
    expected_keys = [r[key_position] if key_position < len(r) else None for r in rows]
    saved = csv_format._c_digest_rows
    try:
        for c_path in (True, False):
            csv_format._c_digest_rows = saved if c_path else None
            digest = RowDigest()
            keys: list[bytes | None] = []
            hexes: list[str] = []
            for k, h in iter_row_digests(io.BytesIO(data), digest, key_position, 1, block):
                keys += k
                hexes += h
            assert digest == RowDigest().add_rows(rows)
            if key_position >= 0 and len(width_ok) == len(rows):
                assert keys == expected_keys
                assert hexes == row_hex_digests(rows)
    finally:
        csv_format._c_digest_rows = saved


def test_row_digests_reject_garbage() -> None:
    import pytest

    from dbarchive.formats.csv import iter_row_digests

    for bad in (b"abc\n", b'"a"x\n', b'"a","b', b"\\Nx\n"):
        with pytest.raises(ValueError, match="malformed"):
            list(iter_row_digests(io.BytesIO(bad), RowDigest(), 0))


# --- the pure-Python paths fail exactly like the C ones (DBARCHIVE_PURE_PYTHON=1, make test-pure)


@contextmanager
def _pure_python() -> Iterator[None]:
    """Every C entry point of formats/csv.py switched off, as DBARCHIVE_PURE_PYTHON=1 does."""
    names = ["_c_encode_rows", "_c_parse_rows", "_c_row_hex_digests", "_c_fold_hex_lanes"]
    names.append("_c_digest_rows")
    saved = {name: getattr(csv_format, name) for name in names}
    try:
        for name in names:
            setattr(csv_format, name, None)
        yield
    finally:
        for name, value in saved.items():
            setattr(csv_format, name, value)


def _outcome(call: Callable[[], Any]) -> tuple[str, str]:
    try:
        return "returned", repr(call())
    except Exception as exc:  # the type and the message are what is compared
        return type(exc).__name__, str(exc)


def _both_paths(call: Callable[[], Any]) -> tuple[tuple[str, str], tuple[str, str]]:
    """The outcome of ``call`` on the C path (or pure, if C is off) and on the pure path."""
    active = _outcome(call)
    with _pure_python():
        pure = _outcome(call)
    return active, pure


NOT_BYTES = [["text"], [1], [bytearray(b"x")], [b"a", "b"], [None, memoryview(b"m")]]


@pytest.mark.parametrize("row", NOT_BYTES, ids=lambda row: "-".join(type(v).__name__ for v in row))
def test_a_value_that_is_not_bytes_is_refused_alike(row: list[Any]) -> None:
    """Writing or hashing a str, int, bytearray… value: TypeError "values must be bytes or None"
    on both paths (the Python path used to encode some silently and fail on others with
    Python's own words)."""
    refused = ("TypeError", "values must be bytes or None")
    assert _both_paths(lambda: encode_rows([row], RowDigest())) == (refused, refused)
    assert _both_paths(lambda: csv_format.row_hex_digests([row])) == (refused, refused)


BAD_HEX = [
    [b"zz" * 32],
    [b"ab"],
    ["a" * 64],
    [None],
    [],
    [b" 1" + b"0" * 62],
    [b"0x" + b"0" * 62],
    [b"1_" + b"0" * 62],
    [b"-" + b"f" * 63],
]


@pytest.mark.parametrize("row", BAD_HEX, ids=repr)
def test_a_row_without_a_hex_sha256_is_refused_alike(row: list[Any]) -> None:
    """A first value that is not 32+ hex digits as bytes (``int(x, 16)`` would take spaces, signs,
    ``0x`` and ``_``): ValueError on both paths, and the digest is left as it was."""
    good = [[b"0123456789abcdef" * 4]]
    refused = ("ValueError", "each row must start with a hex SHA-256 as bytes")
    digest = RowDigest()
    assert _both_paths(lambda: csv_format.add_hex_rows([*good, row], digest)) == (refused, refused)
    assert digest == RowDigest()


MALFORMED = [
    (b'"a","b\n', 0, 0),
    (b'"a"x\n', 0, 0),
    (b'"a"\n"b"x,"c"\n', 0, 4),  # seen at once inside a big block: counted from its start
    (b"x\n", 0, 0),
    (b'"a",\\N\n"b', 0, 0),
    (b'"a"\n"b"\n"c""\n', 0, 0),
    (b"\\X,\n", 0, 0),
    (b'"a"', 0, 0),
]


@pytest.mark.parametrize(("data", "at_small", "at_big"), MALFORMED, ids=repr)
def test_malformed_csv_is_reported_alike(data: bytes, at_small: int, at_big: int) -> None:
    """Parsing and digesting bytes that are not our dialect: the same ValueError, naming the same
    byte, on both paths and for any read size (the Python parser used to add a snippet and count
    from elsewhere)."""
    for block, at in ((3, at_small), (1 << 20, at_big)):
        expected = ("ValueError", f"malformed CSV near byte {at}")

        def parse(block: int = block) -> list[list[bytes | None]]:
            return [
                r for chunk in csv_format.iter_row_chunks(io.BytesIO(data), block) for r in chunk
            ]

        def digest(block: int = block) -> list[Any]:
            return list(csv_format.iter_row_digests(io.BytesIO(data), RowDigest(), 0, 0, block))

        assert _both_paths(parse) == (expected, expected)
        assert _both_paths(digest) == (expected, expected)


dialect_bytes = st.lists(st.sampled_from([b'"', b'""', b",", b"\n", b"\\N", b"a", b"\\"]))


@pytest.mark.skipif(not C_BUILT or PURE_PYTHON, reason="needs the C parser to compare with")
@given(dialect_bytes.map(b"".join), st.integers(1, 16))
def test_pure_python_parser_answers_like_c_for_any_bytes(data: bytes, block: int) -> None:
    """Any mix of quotes, separators and NULL tokens, any read size: the same rows, or the same
    error at the same byte."""

    def parse() -> list[list[bytes | None]]:
        return [r for chunk in csv_format.iter_row_chunks(io.BytesIO(data), block) for r in chunk]

    active, pure = _both_paths(parse)
    assert active == pure
