"""The format registry (``formats/__init__.py``) and the contract every registered format keeps:
its writer's files are named as it says, read back through the registry (by name alone) to the
very rows and digests written, and the config accepts exactly the registered names. A new
format is a module and one registry line; this suite then runs against it unchanged."""

from __future__ import annotations

import dataclasses
import datetime as dt
import gc
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from dbarchive import formats
from dbarchive.checksum import RowDigest, Value
from dbarchive.errors import ConfigError, VerificationError
from dbarchive.formats import ChunkWriter, Format, format_named, format_of_key, registered
from dbarchive.formats.compression import Compression
from dbarchive.formats.csv import encode_chunk
from dbarchive.layout import PartitionPath
from dbarchive.manifest import FileEntry
from dbarchive.sources.canonical import Column
from dbarchive.steps.archive_files import iter_file_chunks, iter_file_digests
from dbarchive.steps.write import WriteSettings
from dbarchive.steps.writers import open_part_writer
from dbarchive.storage import Storage
from dbarchive.storage.local import LocalStorage
from tests.unit.test_lake_types import _job

COLUMNS = (
    Column("id", "bigint", "bigint", False),
    Column("created_at", "datetime", "datetime(6)", False),
    Column("note", "varchar", "varchar(40)", True, "utf8mb4", "utf8mb4_bin"),
    Column("amount", "decimal", "decimal(12,4)", True),
    Column("raw", "blob", "blob", True),
)
ROWS: list[list[Value]] = [
    [b"1", b"2026-03-05 00:00:00.000000", b"", b"1.5000", b"00FF"],
    [b"2", b"2026-03-05 12:30:00.250000", None, None, None],
    [b"3", b"2026-03-05 23:59:59.999999", b'q"uote,\nline \xf0\x9f\x90\xac', b"-0.0001", b""],
]
PARTITION = PartitionPath("events", dt.date(2026, 3, 5))


def _write(fmt: str, storage: Storage, compression: Compression) -> list[FileEntry]:
    settings = WriteSettings(compression, None, 1 << 20)
    writer = open_part_writer(fmt, storage, PARTITION, COLUMNS, [0], settings)
    writer.write_chunk(ROWS[:2])
    writer.write_chunk(ROWS[2:])
    return writer.close()


@pytest.fixture(params=registered())
def name(request: pytest.FixtureRequest) -> str:
    fmt = format_named(request.param)
    if fmt.missing() is not None:
        pytest.skip(f"{fmt.name} needs {fmt.missing()}")
    return str(request.param)


def test_each_format_is_registered_under_its_own_name(name: str) -> None:
    fmt = format_named(name)
    assert fmt.name == name
    assert fmt.compressions, "a format takes at least one codec (its default first)"
    assert isinstance(fmt.values_as_text, bool)


def test_what_a_format_writes_reads_back_through_the_registry(name: str, tmp_path: Path) -> None:
    """Written through the registry, named by the format's extension, and read back by the file
    name alone: the same rows, and the digest the manifest entry records."""
    fmt = format_named(name)
    for compression in fmt.compressions:
        # a folder each: a Parquet file's name is the same whatever its codec, written once
        storage = LocalStorage(str(tmp_path / compression.value))
        (entry,) = _write(name, storage, compression)
        assert entry.key.endswith("." + fmt.extension(compression))
        assert format_of_key(entry.key).files == fmt.files  # iceberg files are Parquet files
        assert [r for chunk in iter_file_chunks(storage, entry) for r in chunk] == ROWS
        assert [k for keys, _ in iter_file_digests(storage, entry, 0) for k in keys] == [
            b"1",
            b"2",
            b"3",
        ]
        assert (
            entry.digest == encode_chunk(ROWS).digest
        )  # the canonical text's, whatever the format


def test_an_aborted_part_leaves_no_file_and_no_error_at_collection(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A day refused part-way (a row that cannot be archived) aborts its open part: nothing is
    stored, and nothing writes to the aborted file later (Parquet's writer closed itself at
    garbage collection and printed "Exception ignored" beside the refusal: an outside fuzz)."""
    unraisable: list[object] = []
    monkeypatch.setattr(sys, "unraisablehook", unraisable.append)
    storage = LocalStorage(str(tmp_path))
    settings = WriteSettings(format_named(name).compressions[0], None, 1 << 20)
    writer = open_part_writer(name, storage, PARTITION, COLUMNS, [0], settings)
    writer.write_chunk(ROWS)
    writer.abort()
    del writer
    gc.collect()
    assert unraisable == []
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


def test_a_part_whose_rows_read_back_unlike_its_manifest_yields_nothing_when_checked_first(
    name: str, tmp_path: Path
) -> None:
    """Read ``checked_first`` (the purge matching rows to delete), a part whose bytes are the
    manifest's but whose rows render back otherwise (a Parquet DOUBLE once did) is refused
    before its first row: the purge deleted the rows it matched before the part's verdict. A
    CSV file's rows are the bytes its SHA-256 covers: read as they stream."""
    if format_named(name).values_as_text:
        pytest.skip("a CSV file's rows are the very bytes its SHA-256 covers")
    storage = LocalStorage(str(tmp_path))
    (entry,) = _write(name, storage, format_named(name).compressions[0])
    other = encode_chunk(ROWS[:2]).digest  # as if the rendering differed from the export's
    wrong = dataclasses.replace(entry, digest=other)
    seen: list[object] = []
    with pytest.raises(VerificationError, match="differ from the manifest"):
        seen.extend(iter_file_digests(storage, wrong, 0, checked_first=True))
    assert seen == []
    with pytest.raises(VerificationError, match="differ from the manifest"):
        seen.extend(iter_file_chunks(storage, wrong, checked_first=True))
    assert seen == []
    assert len(list(iter_file_chunks(storage, entry, checked_first=True))) == 2  # the right one


def test_a_file_is_read_by_the_format_its_name_says(name: str) -> None:
    fmt = format_named(name)
    key = PARTITION.part_key(0, fmt.extension(fmt.compressions[0]))
    readers = [n for n in registered() if format_named(n).holds(key)]
    assert len(readers) == 1, "one format reads each file name"
    assert format_named(readers[0]).files == fmt.files  # an iceberg day's files are Parquet


def test_a_file_no_format_names_is_a_damaged_manifest() -> None:
    with pytest.raises(VerificationError, match="no archive format"):
        format_of_key("events/year=2026/month=03/day=05/part-00000.orc")


def test_a_changed_file_is_refused_by_every_format(name: str, tmp_path: Path) -> None:
    """The readers check the manifest entry: one byte changed is a VerificationError."""
    storage = LocalStorage(str(tmp_path))
    (entry,) = _write(name, storage, format_named(name).compressions[0])
    data = bytearray(storage.get_bytes(entry.key) or b"")
    data[len(data) // 2] ^= 0xFF
    storage.put_bytes(entry.key, bytes(data))
    with pytest.raises(VerificationError):
        for _ in iter_file_chunks(storage, entry):
            pass


def test_the_config_takes_exactly_the_registered_formats() -> None:
    for name in registered():
        if format_named(name).missing() is None:
            assert _job(format=name).tables[0].format == name
    with pytest.raises(
        ConfigError, match="format 'orc' is not one dbarchive writes: use csv, parquet or iceberg"
    ):
        _job(format="orc")


def test_parquet_names_its_files_as_its_writer_does() -> None:
    pytest.importorskip("pyarrow")
    from dbarchive.steps import write_parquet

    assert format_named("parquet").extension(Compression.ZSTD) == write_parquet.EXTENSION


# -- a new format is one module and one registry line ------------------------------------------
class _TextFormat:
    """A format of one's own (here: this test module), registered by a single line."""

    name = "text"
    compressions = (Compression.NONE,)
    values_as_text = True

    def missing(self) -> str | None:
        return None

    def extension(self, compression: Compression) -> str:
        return "txt"

    def holds(self, key: str) -> bool:
        return key.endswith(".txt")

    def open_writer(
        self,
        storage: Storage,
        partition: PartitionPath,
        columns: Sequence[Column],
        key_positions: Sequence[int],
        settings: WriteSettings,
    ) -> ChunkWriter:
        return _TextWriter(storage, partition)

    def iter_chunks(
        self, storage: Storage, entry: FileEntry, checked_first: bool
    ) -> Iterator[list[list[Value]]]:
        data = storage.get_bytes(entry.key) or b""
        yield [[v or None for v in line.split(b"\t")] for line in data.splitlines()]

    def iter_digests(
        self, storage: Storage, entry: FileEntry, key_position: int, checked_first: bool
    ) -> Iterator[tuple[list[Value], list[str]]]:
        raise NotImplementedError


class _TextWriter:
    def __init__(self, storage: Storage, partition: PartitionPath) -> None:
        self.storage, self.partition, self.lines = storage, partition, b""

    def write_chunk(self, rows: Sequence[Sequence[Value]]) -> None:
        self.lines += b"".join(b"\t".join(v or b"" for v in r) + b"\n" for r in rows)

    def write_encoded(self, chunk: object) -> None:
        raise NotImplementedError

    @property
    def bytes_written(self) -> int:
        return len(self.lines)

    def close(self) -> list[FileEntry]:
        key = self.partition.part_key(0, "txt")
        stored = self.storage.put_bytes(key, self.lines)
        return [FileEntry(key, stored.size, 0, stored.sha256 or "", RowDigest())]

    def abort(self) -> None:
        pass


FORMAT: Format = _TextFormat()


def test_a_new_format_is_one_registry_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Registered by name, it is what the export's writer, the readers and the config get."""
    monkeypatch.setitem(formats._REGISTRY, "text", __name__)
    storage = LocalStorage(str(tmp_path))
    (entry,) = _write("text", storage, Compression.NONE)
    assert entry.key.endswith("part-00000.txt")
    first = next(iter_file_chunks(storage, entry))[0]
    assert first == [b"1", b"2026-03-05 00:00:00.000000", None, b"1.5000", b"00FF"]
    assert _job(format="text", compression="none").tables[0].format == "text"
