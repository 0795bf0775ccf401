"""The ``parquet`` format (extra ``parquet``): typed columns (``formats/lake_types.py``), one row
group per chunk. Its writer is ``steps/write_parquet.py``, its readers ``steps/read_parquet.py``;
both import pyarrow, so this module imports them only when a Parquet file is written or read
(a CSV archive never needs pyarrow)."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator, Sequence

from dbarchive.checksum import Value
from dbarchive.formats import ChunkWriter
from dbarchive.formats.compression import Compression
from dbarchive.layout import PartitionPath
from dbarchive.manifest import FileEntry
from dbarchive.sources.canonical import Column
from dbarchive.steps.write import WriteSettings
from dbarchive.storage import Storage

EXTENSION = "parquet"  # steps/write_parquet.py names its parts with the same


class ParquetFormat:
    """Parquet part files: pages compressed inside the file, every value typed."""

    name = "parquet"
    compressions = (Compression.ZSTD, Compression.SNAPPY, Compression.GZIP, Compression.NONE)
    values_as_text = False
    files = "parquet"

    def missing(self) -> str | None:
        if importlib.util.find_spec("pyarrow") is None:
            return "pyarrow: pip install 'dbarchive[parquet]'"
        return None

    def extension(self, compression: Compression) -> str:
        return EXTENSION  # the codec is inside the file

    def holds(self, key: str) -> bool:
        return key.endswith("." + EXTENSION)

    def open_writer(
        self,
        storage: Storage,
        partition: PartitionPath,
        columns: Sequence[Column],
        key_positions: Sequence[int],
        settings: WriteSettings,
    ) -> ChunkWriter:
        from dbarchive.steps.write_parquet import ParquetPartWriter

        return ParquetPartWriter(storage, partition, columns, key_positions, settings)

    def iter_chunks(
        self, storage: Storage, entry: FileEntry, checked_first: bool
    ) -> Iterator[list[list[Value]]]:
        """Size and SHA-256 always checked first: Parquet's footer is at the end, so the part
        is copied locally before any row is read; ``checked_first`` checks the rows' digest
        first too (``steps/read_parquet.py``)."""
        from dbarchive.steps.read_parquet import iter_parquet_chunks

        return iter_parquet_chunks(storage, entry, checked_first)

    def iter_digests(
        self, storage: Storage, entry: FileEntry, key_position: int, checked_first: bool
    ) -> Iterator[tuple[list[Value], list[str]]]:
        from dbarchive.steps.read_parquet import iter_parquet_digests

        return iter_parquet_digests(storage, entry, key_position, checked_first)


FORMAT = ParquetFormat()
