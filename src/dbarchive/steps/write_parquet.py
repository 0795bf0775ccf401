"""Rows → Parquet part files streamed into storage: one row group per chunk, rolled by size.

Each keyset chunk becomes one row group, parsed column by column from the canonical text into
typed Arrow arrays (``formats/parquet_text.py``); pyarrow writes the row group's pages to the
storage writer as soon as the group is complete, so memory holds one chunk plus the storage
part buffer, whatever the day's size. The row digest is taken from the same canonical text the
CSV writer hashes, so the manifest of a Parquet partition equals that of a CSV one.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from typing import IO, cast

import pyarrow as pa
import pyarrow.parquet as pq

from dbarchive import failpoints
from dbarchive.checksum import RowDigest, Value
from dbarchive.formats import csv as csv_format
from dbarchive.formats.compression import Compression
from dbarchive.formats.lake_types import LakeType, lake_type
from dbarchive.formats.parquet_text import arrow_type, to_arrow
from dbarchive.layout import PartitionPath
from dbarchive.manifest import FileEntry
from dbarchive.sources.canonical import Column
from dbarchive.steps.write import WriteSettings
from dbarchive.storage import ObjectWriter, Storage

MYSQL_TYPE_KEY = b"mysql_type"  # field metadata: the column's MySQL type, for exact rendering
EXTENSION = "parquet"


def parquet_schema(columns: Sequence[Column]) -> pa.Schema:
    """The Arrow schema of a table's parts; each field remembers its MySQL column type."""
    fields = [
        pa.field(
            c.name, arrow_type(lake_type(c.column_type)), True, {MYSQL_TYPE_KEY: c.column_type}
        )
        for c in columns
    ]
    return pa.schema(fields, metadata={b"dbarchive": json.dumps({"format": 1}).encode()})


class _Sink:
    """The file object pyarrow writes to: forwards to the storage writer and counts bytes."""

    def __init__(self, writer: ObjectWriter) -> None:
        self.writer = writer
        self.size = 0
        self.closed = False
        self.discarded = False

    def write(self, data: bytes) -> int:
        if not self.discarded:
            self.writer.write(data)
            self.size += len(data)
        return len(data)

    def discard(self) -> None:
        """Abort the stored object; later writes (the footer of a writer being closed) go
        nowhere."""
        self.discarded = True
        self.writer.abort()

    def tell(self) -> int:
        return self.size

    def flush(self) -> None:
        pass

    def writable(self) -> bool:
        return True


class _OpenPart:
    def __init__(self, key: str, sink: _Sink, parquet: pq.ParquetWriter) -> None:
        self.key = key
        self.sink = sink
        self.parquet = parquet
        self.digest = RowDigest()
        self.first_key: list[str] | None = None
        self.last_key: list[str] | None = None


class ParquetPartWriter:
    """Writes one partition's rows into ``part-00000.parquet`` … files (see ChunkWriter)."""

    def __init__(
        self,
        storage: Storage,
        partition: PartitionPath,
        columns: Sequence[Column],
        key_positions: Sequence[int],
        settings: WriteSettings,
    ) -> None:
        self._storage = storage
        self._partition = partition
        self._columns = tuple(columns)
        self._types: tuple[LakeType, ...] = tuple(lake_type(c.column_type) for c in columns)
        self._schema = parquet_schema(columns)
        self._key_positions = tuple(key_positions)
        self._settings = settings
        self._part: _OpenPart | None = None
        self._files: list[FileEntry] = []

    def write_chunk(self, rows: Sequence[Sequence[Value]]) -> None:
        """Append a chunk of rows (canonical text, in key order) as one row group."""
        if rows:
            self.write_encoded(csv_format.encode_chunk(rows))

    def write_encoded(self, chunk: csv_format.EncodedChunk) -> None:
        """Append a chunk the source already encoded as archive CSV (its digest included).

        The CSV lines are parsed back in C into canonical texts; the chunk's digest is of those
        very texts, so it goes to the manifest as it is.
        """
        if not chunk.rows:
            return
        rows = [
            row
            for block in csv_format.iter_row_chunks(io.BytesIO(chunk.data), len(chunk.data) + 1)
            for row in block
        ]
        if len(rows) != chunk.rows:
            raise ValueError(f"a chunk of {chunk.rows} rows parsed as {len(rows)}")
        table = self._table(rows)
        part = self._part or self._open()
        part.parquet.write_table(table, row_group_size=len(rows))
        part.digest.merge(chunk.digest)
        part.first_key = part.first_key or self._key_of(chunk.first)
        part.last_key = self._key_of(chunk.last)
        if part.sink.size >= self._settings.max_file_bytes:
            self._commit()

    @property
    def bytes_written(self) -> int:
        current = self._part.sink.size if self._part is not None else 0
        return sum(f.bytes for f in self._files) + current

    def close(self) -> list[FileEntry]:
        if self._part is not None:
            self._commit()
        return list(self._files)

    def abort(self) -> None:
        """Drop the open part. pyarrow's writer is closed here, into the discarded sink: left
        open, it closed itself at garbage collection into the aborted object and printed
        "Exception ignored" beside the refusal that aborted the day."""
        if self._part is not None:
            part, self._part = self._part, None
            part.sink.discard()
            try:
                part.parquet.close()
            except Exception:  # a part being discarded: the error that aborted it stands
                part.parquet.is_open = False  # not retried at collection either

    def _table(self, rows: Sequence[Sequence[Value]]) -> pa.Table:
        columns = list(zip(*rows, strict=True))
        arrays = [
            to_arrow(t, columns[i], c.name)
            for i, (t, c) in enumerate(zip(self._types, self._columns, strict=True))
        ]
        return pa.Table.from_arrays(arrays, schema=self._schema)

    def _key_of(self, row: Sequence[Value]) -> list[str]:
        return [(row[i] or b"").decode() for i in self._key_positions]

    def _open(self) -> _OpenPart:
        key = self._partition.part_key(len(self._files), EXTENSION)
        published_name = not self._partition.staged  # written once (steps/write.py)
        sink = _Sink(
            self._storage.open_writer(self._partition.write_key(key), create_only=published_name)
        )
        codec = self._settings.compression
        level = None if codec is Compression.SNAPPY else self._settings.compression_level
        writer = pq.ParquetWriter(
            cast(IO[bytes], sink), self._schema, compression=codec.value, compression_level=level
        )
        self._part = _OpenPart(key, sink, writer)
        return self._part

    def _commit(self) -> None:
        part = self._part
        assert part is not None
        part.parquet.close()  # the footer
        stored = part.sink.writer.commit()
        self._part = None
        assert stored.sha256 is not None
        self._files.append(
            FileEntry(
                key=part.key,
                bytes=stored.size,
                rows=part.digest.count,
                sha256=stored.sha256,
                digest=part.digest,
                first_key=part.first_key,
                last_key=part.last_key,
                s3_checksum=stored.s3_checksum,
                version_id=stored.version_id,
            )
        )
        failpoints.hit("export.part-committed")
