"""Column stats of CSV parts: which columns hold a line break or the text \\N, as recorded in the
manifest. The C scan and the Python one must both give exactly the definition's answer."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dbarchive.checksum import RowDigest
from dbarchive.formats.compression import Compression
from dbarchive.formats.csv import encode_chunk
from dbarchive.layout import PartitionPath
from dbarchive.manifest import ColumnStats, FileEntry, Manifest
from dbarchive.steps import write_stats
from dbarchive.steps.write import PartWriter, WriteSettings
from dbarchive.steps.write_stats import ColumnStatsScan
from dbarchive.storage.local import LocalStorage

C_BUILT = write_stats._c_column_stats is not None
# Values made of the bytes that matter: line breaks, quotes, separators, the NULL token's bytes.
value = st.one_of(
    st.none(),
    st.lists(
        st.sampled_from([b"\n", b"\r", b'"', b",", b"\\", b"N", b"x", b"\\N"]), max_size=6
    ).map(b"".join),
)
NAMES = ("a", "b", "c", "d")


def _expected(chunks: list[list[list[bytes | None]]]) -> ColumnStats:
    order_breaks: dict[str, None] = {}  # first-seen order: by chunk, then by column
    order_null: dict[str, None] = {}
    for chunk in chunks:
        for i, name in enumerate(NAMES):
            if any(v is not None and (b"\n" in v or b"\r" in v) for v in (r[i] for r in chunk)):
                order_breaks.setdefault(name, None)
            if any(r[i] == b"\\N" for r in chunk):
                order_null.setdefault(name, None)
    return ColumnStats(tuple(order_breaks), tuple(order_null))


def _scan(chunks: list[list[list[bytes | None]]], python: bool) -> ColumnStats:
    scan = ColumnStatsScan(NAMES)
    for rows in chunks:
        chunk = encode_chunk(rows)
        (scan.add_python if python else scan.add)(chunk)
    return scan.result()


rows_of_four = st.lists(st.lists(value, min_size=4, max_size=4), min_size=1, max_size=12)


@given(st.lists(rows_of_four, min_size=1, max_size=4))
def test_the_python_scan_finds_exactly_the_columns(chunks: list[list[list[bytes | None]]]) -> None:
    """Pure Python: a column is listed iff one of its values holds CR/LF (or is the text \\N)."""
    assert _scan(chunks, python=True) == _expected(chunks)


@pytest.mark.skipif(not C_BUILT, reason="the C extension is not built")
@given(st.lists(rows_of_four, min_size=1, max_size=4))
def test_the_c_scan_finds_exactly_the_columns(chunks: list[list[list[bytes | None]]]) -> None:
    """C (``_speedups.column_stats``): the same answer as the definition, on any values."""
    assert _scan(chunks, python=False) == _expected(chunks)


@pytest.mark.skipif(not C_BUILT, reason="the C extension is not built")
def test_the_c_scan_refuses_text_that_is_not_whole_rows() -> None:
    """A row it reads (one that may hold a line break) cut off, or with another number of
    fields than columns: ValueError, no guess."""
    assert write_stats._c_column_stats is not None
    whole = encode_chunk([[b"a\nb", None, b"c\nd", b"e"]]).data
    with pytest.raises(ValueError, match="malformed CSV near byte 0"):
        write_stats._c_column_stats(whole[:-3], 4, 1)
    with pytest.raises(ValueError, match="malformed CSV near byte 0"):
        write_stats._c_column_stats(whole, 3, 1)


def test_the_part_writer_records_the_stats_per_file(tmp_path: Path) -> None:
    """Each part's manifest entry lists its own columns; a part without any lists none."""
    settings = WriteSettings(Compression.NONE, None, max_file_bytes=1)  # a part per chunk
    writer = PartWriter(
        LocalStorage(str(tmp_path)), PartitionPath("t", dt.date(2026, 5, 1)), NAMES, [0], settings
    )
    writer.write_chunk([[b"1", b"plain", b"x", None]])
    writer.write_chunk([[b"2", b"two\nlines", b"\\N", b"cr\r"]])
    first, second = writer.close()
    assert first.column_stats == ColumnStats()
    assert second.column_stats == ColumnStats(("b", "d"), ("c",))
    assert FileEntry.from_json(json.loads(json.dumps(second.to_json()))) == second


def test_entries_without_stats_read_as_not_recorded() -> None:
    """A manifest written before the stats: its files have none, and so has the day; an entry
    without stats is written as before (no key)."""
    entry = FileEntry("k", 1, 1, "0" * 64, RowDigest())
    assert "column_stats" not in entry.to_json()
    assert FileEntry.from_json(entry.to_json()).column_stats is None
    manifest = Manifest(
        table="t", schema="s", day=dt.date(2026, 5, 1), timezone="UTC", window_start="",
        window_end="", query_window=("", ""), format="csv", compression="gzip", columns=(),
        key_columns=("id",), timestamp_column="ts", scan="key", files=(entry,),
        digest=RowDigest(), started_at="", finished_at="", tool_version="test",
    )  # fmt: skip
    assert manifest.column_stats is None
    recorded = dataclasses.replace(entry, column_stats=ColumnStats(("b",), ()))
    other = dataclasses.replace(entry, key="k2", column_stats=ColumnStats(("c", "b"), ("c",)))
    both = dataclasses.replace(manifest, files=(recorded, other))
    assert both.column_stats == ColumnStats(("b", "c"), ("c",))
    assert Manifest.loads(both.dumps()).column_stats == both.column_stats
