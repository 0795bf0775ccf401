"""Rows → CSV → compressed part files streamed into storage, rolled at a size limit.

Nothing touches a local disk: each part is compressed in memory chunk by chunk and handed to the
storage writer, which uploads it in parts (S3 multipart) and publishes it only on commit. Memory is
bounded by one chunk of rows plus the storage part buffer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from dbarchive import failpoints
from dbarchive.checksum import RowDigest, Value
from dbarchive.formats import csv as csv_format
from dbarchive.formats.compression import Compression, Compressor, new_compressor
from dbarchive.layout import PartitionPath
from dbarchive.manifest import FileEntry
from dbarchive.steps.write_stats import ColumnStatsScan
from dbarchive.storage import ObjectWriter, Storage


@dataclass(frozen=True)
class WriteSettings:
    """How part files are written."""

    compression: Compression
    compression_level: int | None
    max_file_bytes: int

    @property
    def extension(self) -> str:
        return "csv" + self.compression.suffix


class _OpenPart:
    def __init__(
        self, key: str, writer: ObjectWriter, compressor: Compressor, names: Sequence[str]
    ) -> None:
        self.key = key
        self.writer = writer
        self.compressor = compressor
        self.digest = RowDigest()
        self.stats = ColumnStatsScan(names)
        self.written = 0
        self.first_key: list[str] | None = None
        self.last_key: list[str] | None = None

    def put(self, data: bytes) -> None:
        out = self.compressor.compress(data)
        if out:
            self.writer.write(out)
            self.written += len(out)


class PartWriter:
    """Writes one partition's rows into ``part-00000…`` files; ``close()`` lists what it stored."""

    def __init__(
        self,
        storage: Storage,
        partition: PartitionPath,
        column_names: Sequence[str],
        key_positions: Sequence[int],
        settings: WriteSettings,
    ) -> None:
        self._storage = storage
        self._partition = partition
        self._names = tuple(column_names)
        self._header = csv_format.header_line(column_names)
        self._key_positions = tuple(key_positions)
        self._settings = settings
        self._part: _OpenPart | None = None
        self._files: list[FileEntry] = []

    def write_chunk(self, rows: Sequence[Sequence[Value]]) -> None:
        """Append a chunk of rows (in key order) to the current part, rolling it when full."""
        if rows:
            self.write_encoded(csv_format.encode_chunk(rows))

    def write_encoded(self, chunk: csv_format.EncodedChunk) -> None:
        """Append a chunk already encoded as CSV lines (in key order), rolling the part when full."""
        if not chunk.rows:
            return
        part = self._part or self._open()
        part.put(chunk.data)
        part.digest.merge(chunk.digest)
        part.stats.add(chunk)
        part.first_key = part.first_key or self._key_of(chunk.first)
        part.last_key = self._key_of(chunk.last)
        if part.written >= self._settings.max_file_bytes:
            self._commit()

    @property
    def bytes_written(self) -> int:
        """Compressed bytes handed to storage so far, all parts together."""
        current = self._part.written if self._part is not None else 0
        return sum(f.bytes for f in self._files) + current

    def close(self) -> list[FileEntry]:
        """Commit the last part and return every file written, in order."""
        if self._part is not None:
            self._commit()
        return list(self._files)

    def abort(self) -> None:
        """Discard the part being written (committed parts stay; the manifest decides)."""
        if self._part is not None:
            self._part.writer.abort()
            self._part = None

    def _key_of(self, row: Sequence[Value]) -> list[str]:
        return [(row[i] or b"").decode() for i in self._key_positions]

    def _open(self) -> _OpenPart:
        key = self._partition.part_key(len(self._files), self._settings.extension)
        compressor = new_compressor(self._settings.compression, self._settings.compression_level)
        # A published name is written once: another writer's file there is never replaced.
        writer = self._storage.open_writer(
            self._partition.write_key(key), create_only=not self._partition.staged
        )
        part = _OpenPart(key, writer, compressor, self._names)
        part.put(self._header)
        self._part = part
        return part

    def _commit(self) -> None:
        part = self._part
        assert part is not None
        tail = part.compressor.flush()
        if tail:
            part.writer.write(tail)
        stored = part.writer.commit()
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
                column_stats=part.stats.result(),
            )
        )
        failpoints.hit("export.part-committed")
