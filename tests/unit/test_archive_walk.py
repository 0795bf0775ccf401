"""The archive walk: a database row is matched only by an identical archived row, in order."""

from __future__ import annotations

import hashlib

import pytest

from dbarchive.checksum import Value, row_netstring
from dbarchive.errors import VerificationError
from dbarchive.sources.canonical import Column
from dbarchive.steps.archive_walk import ArchiveWalk, SourceRow, order_key

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


def test_strict_mode_resyncs_or_stops() -> None:
    """Without a comparable order, the walk skips to the identical row, or stops the day."""
    walk = ArchiveWalk(iter([[_row(1), _row(2), _row(3)]]), [NAME], [1], [0])
    assert walk.match(_src(_row(2), strict=True))
    with pytest.raises(VerificationError, match="stops here"):
        walk.match(_src(_row(7), strict=True))
