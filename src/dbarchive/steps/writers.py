"""The part writer of each archive format, behind one small interface.

CSV (``write.py``) is the hot path and stays as it is; Parquet (``write_parquet.py``, extra
``parquet``) writes the same chunks as typed row groups. Both produce the same ``FileEntry``
records and the same row digest (of the canonical text), so the manifest, verify and purge do
not care which format a partition holds.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from dbarchive.checksum import Value
from dbarchive.formats.csv import EncodedChunk
from dbarchive.layout import PartitionPath
from dbarchive.manifest import FileEntry
from dbarchive.sources.canonical import Column
from dbarchive.steps.write import PartWriter, WriteSettings
from dbarchive.storage import Storage


class ChunkWriter(Protocol):
    """Writes one partition's rows, chunk by chunk, into rolled part files."""

    def write_chunk(self, rows: Sequence[Sequence[Value]]) -> None:
        """Append a chunk of rows (canonical text, in key order); may commit a full part."""

    def write_encoded(self, chunk: EncodedChunk) -> None:
        """Append a chunk the source already encoded as archive CSV (the export's hot path)."""

    @property
    def bytes_written(self) -> int:
        """Bytes handed to storage so far, all parts together."""

    def close(self) -> list[FileEntry]:
        """Commit the last part and return every file written, in order."""

    def abort(self) -> None:
        """Discard the part being written (committed parts stay; the manifest decides)."""


def open_part_writer(
    fmt: str,
    storage: Storage,
    partition: PartitionPath,
    columns: Sequence[Column],
    key_positions: Sequence[int],
    settings: WriteSettings,
) -> ChunkWriter:
    """The writer for ``fmt`` ("csv" or "parquet"); Parquet imports pyarrow only when used."""
    if fmt == "parquet":
        from dbarchive.steps.write_parquet import ParquetPartWriter

        return ParquetPartWriter(storage, partition, columns, key_positions, settings)
    return PartWriter(storage, partition, [c.name for c in columns], key_positions, settings)


def is_parquet_key(key: str) -> bool:
    """Whether a data file is Parquet (its name ends in ``.parquet``) rather than CSV."""
    return key.endswith(".parquet")
