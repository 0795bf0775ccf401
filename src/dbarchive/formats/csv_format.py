"""The ``csv`` format: the canonical text of every value, RFC 4180 with an explicit NULL
(``formats/csv.py``), in gzip/zstd/plain part files. Its writer is ``steps/write.py`` (the
export's hot path, unchanged), its readers ``steps/archive_files.py``."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

from dbarchive.checksum import Value
from dbarchive.formats import ChunkWriter
from dbarchive.formats.compression import Compression
from dbarchive.layout import PartitionPath
from dbarchive.manifest import FileEntry
from dbarchive.sources.canonical import Column
from dbarchive.steps import archive_files
from dbarchive.steps.write import PartWriter, WriteSettings
from dbarchive.storage import Storage

_NAME = re.compile(r"\.csv(\.gz|\.zst)?$")


class CsvFormat:
    """CSV part files: every value its canonical text, so a file verifies by itself."""

    name = "csv"
    compressions = (Compression.GZIP, Compression.ZSTD, Compression.NONE)
    values_as_text = True
    files = "csv"

    def missing(self) -> str | None:
        return None

    def extension(self, compression: Compression) -> str:
        return "csv" + compression.suffix

    def holds(self, key: str) -> bool:
        return _NAME.search(key) is not None

    def open_writer(
        self,
        storage: Storage,
        partition: PartitionPath,
        columns: Sequence[Column],
        key_positions: Sequence[int],
        settings: WriteSettings,
    ) -> ChunkWriter:
        return PartWriter(storage, partition, [c.name for c in columns], key_positions, settings)

    def iter_chunks(
        self, storage: Storage, entry: FileEntry, checked_first: bool
    ) -> Iterator[list[list[Value]]]:
        return archive_files.iter_csv_chunks(storage, entry, checked_first)

    def iter_digests(
        self, storage: Storage, entry: FileEntry, key_position: int, checked_first: bool
    ) -> Iterator[tuple[list[Value], list[str]]]:
        return archive_files.iter_csv_digests(storage, entry, key_position, checked_first)


FORMAT = CsvFormat()
