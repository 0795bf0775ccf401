"""The part writer of each archive format, picked through the format registry (``formats/``).

CSV (``write.py``) is the hot path and stays as it is; Parquet (``write_parquet.py``, extra
``parquet``) writes the same chunks as typed row groups. Both produce the same ``FileEntry``
records and the same row digest (of the canonical text), so the manifest, verify and purge do
not care which format a partition holds.
"""

from __future__ import annotations

from collections.abc import Sequence

from dbarchive.formats import ChunkWriter, format_named
from dbarchive.layout import PartitionPath
from dbarchive.sources.canonical import Column
from dbarchive.steps.write import WriteSettings
from dbarchive.storage import Storage

__all__ = ["ChunkWriter", "open_part_writer"]


def open_part_writer(
    fmt: str,
    storage: Storage,
    partition: PartitionPath,
    columns: Sequence[Column],
    key_positions: Sequence[int],
    settings: WriteSettings,
) -> ChunkWriter:
    """The writer of the format registered as ``fmt`` (Parquet imports pyarrow only here)."""
    return format_named(fmt).open_writer(storage, partition, columns, key_positions, settings)
