"""The archive walk: a database row is matched only by an identical archived row, in order."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dbarchive.checksum import Value, row_netstring
from dbarchive.errors import VerificationError
from dbarchive.formats.csv import row_hex_digests
from dbarchive.sources.canonical import Column
from dbarchive.steps import archive_walk
from dbarchive.steps.archive_walk import (
    ArchiveWalk,
    IntKeyWalk,
    NewestVersions,
    SourceRow,
    order_key,
    order_prefix,
)

ID = Column("id", "bigint", "bigint", False)
NAME = Column("name", "varchar", "varchar(10)", False)


def _row(i: int, text: str = "x") -> list[Value]:
    return [str(i).encode(), text.encode()]


def _src(values: list[Value], strict: bool = False) -> SourceRow:
    digest = hashlib.sha256(row_netstring(values)).hexdigest()
    order = None if strict else order_key([ID], [values[0]])
    return SourceRow(digest, order, (values[0],))


def _walk(rows: list[list[Value]]) -> ArchiveWalk:
    return ArchiveWalk(iter([rows[:2], rows[2:]]), [ID], [0], [0])  # two chunks


def test_identical_rows_match_in_order() -> None:
    """Each database row equal to the next archived row matches."""
    walk = _walk([_row(1), _row(2), _row(3)])
    assert [walk.match(_src(_row(i))) for i in (1, 2, 3)] == [True, True, True]


def test_rows_gone_from_the_database_are_skipped() -> None:
    """After a partial purge the archive's first rows are skipped, not an error."""
    walk = _walk([_row(1), _row(2), _row(3), _row(4)])
    assert walk.match(_src(_row(3)))
    assert walk.skipped == 2
    assert walk.match(_src(_row(4)))


def test_changed_row_is_not_matched() -> None:
    """A row updated after the export (same key, other content) is kept."""
    walk = _walk([_row(1), _row(2, "old"), _row(3)])
    assert walk.match(_src(_row(1)))
    assert not walk.match(_src(_row(2, "new")))
    assert walk.match(_src(_row(3)))


def test_late_row_is_not_matched_and_does_not_derail_the_walk() -> None:
    """A row the archive never saw (between two archived keys) is kept; later rows still match."""
    walk = _walk([_row(1), _row(5)])
    assert walk.match(_src(_row(1)))
    assert not walk.match(_src(_row(3)))
    assert walk.match(_src(_row(5)))
    assert not walk.match(_src(_row(9)))


def test_order_keys_compare_like_mysql_for_numbers_and_times() -> None:
    """Integers compare as numbers (9 < 10), DATETIME text as time; strings are not comparable."""
    assert order_key([ID], [b"9"]) < order_key([ID], [b"10"])  # type: ignore[operator]
    ts = Column("ts", "datetime", "datetime(6)", False)
    assert order_key([ts], [b"2026-01-01 09:00:00.000000"]) < order_key(
        [ts], [b"2026-01-01 10:00:00.000000"]
    )  # type: ignore[operator]
    assert order_key([NAME], [b"abc"]) is None


BIN = Column("id", "varbinary", "varbinary(16)", False)


@given(st.binary(max_size=6), st.binary(max_size=6))
def test_binary_keys_compare_as_mysql_compares_their_bytes(a: bytes, b: bytes) -> None:
    """The canonical text of a binary key (upper-case hex) sorts as its bytes do: MySQL's binary
    collation compares byte by byte, every byte counting, a prefix first."""
    ka, kb = (order_key([BIN], [v.hex().upper().encode()]) for v in (a, b))
    assert ka is not None and kb is not None
    assert (ka < kb, ka == kb) == (a < b, a == b)


def test_only_no_pad_binary_text_is_comparable() -> None:
    """'a' and 'a ' are equal under a PAD SPACE collation, so its text is not ordered by bytes."""
    nopad = Column("k", "varchar", "varchar(9)", False, "utf8mb4", "utf8mb4_nopad_bin")
    assert order_key([nopad], ["é".encode()]) > order_key([nopad], [b"z"])  # type: ignore[operator]
    for collation in ("utf8mb4_bin", "utf8mb4_general_ci"):
        pad = Column("k", "varchar", "varchar(9)", False, "utf8mb4", collation)
        assert order_key([pad], [b"a"]) is None


def test_strict_mode_resyncs_or_stops() -> None:
    """Without a comparable order, the walk skips to the identical row, or stops the day."""
    walk = ArchiveWalk(iter([[_row(1), _row(2), _row(3)]]), [NAME], [1], [0])
    assert walk.match(_src(_row(2), strict=True))
    with pytest.raises(VerificationError, match="stops here"):
        walk.match(_src(_row(7), strict=True))


# --- the fast path: one integer key, a chunk at a time ------------------------------------------


def _int_walk(rows: list[list[Value]], chunk: int = 2) -> IntKeyWalk:
    blocks = [rows[i : i + chunk] for i in range(0, len(rows), chunk)]
    return IntKeyWalk(iter([([r[0] for r in b], row_hex_digests(b)) for b in blocks]))


def _hashes(rows: list[list[Value]]) -> tuple[list[int], list[str]]:
    keys = [int(r[0]) for r in rows]  # type: ignore[arg-type]
    return keys, [hashlib.sha256(row_netstring(r)).hexdigest() for r in rows]


def test_int_key_walk_matches_identical_rows_and_skips_gone_ones() -> None:
    """Chunks match by key and row hash; archive rows the database no longer has are skipped."""
    walk = _int_walk([_row(i) for i in range(1, 8)])
    assert walk.match_chunk(*_hashes([_row(3), _row(4)])) == [True, True]
    assert walk.skipped == 2
    assert walk.match_chunk(*_hashes([_row(5), _row(7)])) == [True, True]
    assert walk.skipped == 3
    assert walk.match_chunk(*_hashes([_row(9)])) == [False]


def test_int_key_walk_keeps_changed_and_late_rows() -> None:
    """A changed row (same key) and a row the archive never had are not matched."""
    walk = _int_walk([_row(1), _row(2, "old"), _row(5)])
    rows = [_row(1), _row(2, "new"), _row(3), _row(5)]
    assert walk.match_chunk(*_hashes(rows)) == [True, False, False, True]


def test_int_key_walk_holds_only_the_chunks_key_range() -> None:
    """Archive rows below the database chunk are dropped while reading: memory stays bounded."""
    walk = _int_walk([_row(i) for i in range(1, 10_001)], chunk=100)
    assert walk.match_chunk(*_hashes([_row(9_000), _row(9_001)])) == [True, True]
    assert len(walk._keys) < 100
    assert walk.skipped == 8_999


@given(
    st.lists(st.integers(1, 60), unique=True),
    st.lists(st.integers(1, 60), unique=True),
    st.sets(st.integers(1, 60)),
    st.integers(1, 7),
    st.integers(1, 7),
)
def test_int_key_walk_agrees_with_the_row_walk(
    archived: list[int], in_db: list[int], changed: set[int], read_chunk: int, db_chunk: int
) -> None:
    """For any archive, database and chunking, the fast walk matches exactly like the row walk."""
    archive_rows = [_row(i) for i in sorted(archived)]
    db_rows = [_row(i, "changed" if i in changed else "x") for i in sorted(in_db)]
    slow = ArchiveWalk(
        iter([archive_rows[i : i + read_chunk] for i in range(0, len(archive_rows), read_chunk)]),
        [ID],
        [0],
        [0],
    )
    expected = [slow.match(_src(r)) for r in db_rows]
    fast = _int_walk(archive_rows, read_chunk)
    got: list[bool] = []
    for i in range(0, len(db_rows), db_chunk):
        got += fast.match_chunk(*_hashes(db_rows[i : i + db_chunk]))
    assert got == expected


# --- a text key under a collation: compared through the time before it --------------------------

TS = Column("ts", "datetime", "datetime", False)
CI = Column("name", "varchar", "varchar(9)", False, "utf8mb4", "utf8mb4_general_ci")


def _timed(ts: str, name: str, note: str = "x") -> list[Value]:
    return [f"2026-01-01 {ts}".encode(), name.encode(), note.encode()]


def _timed_src(values: list[Value]) -> SourceRow:
    digest = hashlib.sha256(row_netstring(values)).hexdigest()
    prefix, whole = order_prefix([TS, CI], values[:2])
    assert not whole
    return SourceRow(digest, None, (values[1],), prefix)


def test_rows_sharing_a_time_are_matched_by_key_in_any_order() -> None:
    """The collation's order of 'B' and 'a' is unknown here: within one time any order matches; a
    late row, a changed row and rows gone from the database are told apart by key and hash."""
    archived = [_timed("09:00", "B"), _timed("09:00", "a"), _timed("09:00", "c"),
                _timed("10:00", "d"), _timed("11:00", "e", "old")]  # fmt: skip
    walks = NewestVersions([ArchiveWalk(iter([archived[:2], archived[2:]]), [TS, CI], [0, 1], [1])])
    database = [_timed("09:00", "a"), _timed("09:00", "B"), _timed("09:00", "late"),
                _timed("11:00", "e", "new")]  # fmt: skip
    found = walks.lookup([_timed_src(r) for r in database])
    own = [_timed_src(r).digest for r in database]
    assert [f == o for f, o in zip(found, own, strict=True)] == [True, True, False, False]
    assert found[2] is None and found[3] is not None  # late: no key; changed: its old version
    assert walks.skipped == 2  # 'c' and 'd' are gone from the database


def test_too_many_rows_at_one_time_stop_the_day(monkeypatch: pytest.MonkeyPatch) -> None:
    """Memory stays bounded: past GROUP_ROWS archived rows of one time value the day stops."""
    monkeypatch.setattr(archive_walk, "GROUP_ROWS", 2)
    archived = [_timed("09:00", n) for n in "abc"]
    walk = ArchiveWalk(iter([archived]), [TS, CI], [0, 1], [1])
    with pytest.raises(VerificationError, match="more than 2 archived rows"):
        walk.find_in_group(_timed_src(archived[0]))


def test_a_later_generations_version_wins_wherever_it_sits() -> None:
    """The oldest generation still holds 'a' at 09:00 as the row is now; a later one holds 'a'
    at 11:00 (the row moved there, then back): the later version is the key's newest, so the
    row is not matched (it is archived again before it is deleted)."""
    now = _timed("09:00", "a")
    moved = _timed("11:00", "a", "moved")
    walk = ArchiveWalk(iter([[now, _timed("10:00", "b")]]), [TS, CI], [0, 1], [1])
    later = {(b"a",): _timed_src(moved).digest}
    newest = NewestVersions([walk], later)
    found = newest.lookup([_timed_src(now), _timed_src(_timed("10:00", "b"))])
    assert found == [_timed_src(moved).digest, _timed_src(_timed("10:00", "b")).digest]


def test_strict_mode_keeps_a_changed_row_and_goes_on() -> None:
    """A row updated in place (same key, at its place) is kept, and the next rows still match:
    it used to stop the day ('export the day again'), which itself then refused."""
    rows = [_row(1), _row(2, "old"), _row(3)]
    walk = ArchiveWalk(iter([rows]), [NAME], [1], [0])
    assert walk.match(_src(_row(1), strict=True))
    assert not walk.match(_src(_row(2, "new"), strict=True))
    assert walk.match(_src(_row(3), strict=True))
