"""The row digest: order-independent, duplicate-sensitive, NULL-aware."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from dbarchive.checksum import RowDigest, row_netstring

values = st.one_of(st.none(), st.binary(max_size=40))
rows = st.lists(st.lists(values, min_size=1, max_size=5), max_size=30)


def test_netstring_has_no_separator_ambiguity() -> None:
    """Moving a separator-looking byte between fields changes the encoding."""
    assert row_netstring([b"a#b", b"c"]) != row_netstring([b"a", b"b#c"])
    assert row_netstring([b"ab", b""]) != row_netstring([b"a", b"b"])


def test_null_empty_and_null_strings_all_differ() -> None:
    """NULL, '', 'NULL' and '\\N' hash to four different digests."""
    digests = {RowDigest().add_rows([[v]]).describe() for v in (None, b"", b"NULL", b"\\N")}
    assert len(digests) == 4


def test_duplicate_row_is_detected() -> None:
    """A row archived twice changes the digest although XOR alone would cancel it."""
    once = RowDigest().add_rows([[b"1"], [b"2"]])
    twice = RowDigest().add_rows([[b"1"], [b"2"], [b"2"], [b"2"]])
    assert (once.x1, once.x2) == (twice.x1, twice.x2)  # XOR lanes cancel the pair...
    assert (once.count, once.s1) != (twice.count, twice.s1)  # ...count and SUM do not


@given(rows, st.randoms())
def test_order_does_not_matter(data: list[list[bytes | None]], rnd: object) -> None:
    """Any permutation of the rows gives the same digest."""
    shuffled = list(data)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    assert RowDigest().add_rows(data) == RowDigest().add_rows(shuffled)


@given(rows, rows)
def test_merge_equals_digest_of_union(
    a: list[list[bytes | None]], b: list[list[bytes | None]]
) -> None:
    """Merging per-file digests equals digesting all rows at once."""
    merged = RowDigest().add_rows(a)
    merged.merge(RowDigest().add_rows(b))
    assert merged == RowDigest().add_rows(a + b)


def test_json_round_trip_keeps_big_integers_exact() -> None:
    """Lanes above 2**53 survive JSON as decimal strings."""
    d = RowDigest().add_rows([[b"x"], [None, b"y"]])
    assert RowDigest.from_json(d.to_json()) == d


def test_known_vector_matches_sql_formula() -> None:
    """The lanes are bits 0..63 and 64..127 of SHA-256 over the netstring, big-endian."""
    import hashlib

    h = hashlib.sha256(b"1:a-1:").hexdigest()
    d = RowDigest().add_rows([[b"a", None]])
    assert (d.x1, d.x2, d.s1) == (int(h[:16], 16), int(h[16:32], 16), int(h[:16], 16))


@given(rows, rows)
def test_without_undoes_merge(a: list[list[bytes | None]], b: list[list[bytes | None]]) -> None:
    """Removing a part's digest from the whole gives the digest of the rest (superseded rows)."""
    whole = RowDigest().add_rows(a + b)
    assert whole.without(RowDigest().add_rows(b)) == RowDigest().add_rows(a)


def test_without_refuses_what_cannot_be_a_part() -> None:
    """A 'part' with more rows than the whole is a bug, not a digest."""
    import pytest

    with pytest.raises(ValueError, match="not part of"):
        RowDigest().add_rows([[b"x"]]).without(RowDigest().add_rows([[b"x"], [b"y"]]))


def test_add_hex_equals_add_row() -> None:
    """A row's SHA-256 as the server's SHA2() text gives the same digest as the row itself."""
    import hashlib

    from dbarchive.checksum import row_netstring as netstring

    row = [b"1", None, b"caf\xc3\xa9"]
    by_hex = RowDigest()
    by_hex.add_hex(hashlib.sha256(netstring(row)).hexdigest())
    assert by_hex == RowDigest().add_rows([row])
