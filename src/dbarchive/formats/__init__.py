"""Archive formats, chosen by name: the :class:`Format` interface and its registry.

A format is how a partition's rows are stored as files: ``csv`` (``csv_format.py``: the
canonical text, RFC 4180 with an explicit NULL) and ``parquet`` (``parquet_format.py``, extra
``parquet``: typed columns). The core never compares format names: the config (``format =``),
the export (``steps/writers.py``) and every reader (``steps/archive_files.py``, by the file's
name) ask this registry. A new format (an Iceberg or Delta target) is a module exposing
``FORMAT`` and one line in ``_REGISTRY``; ``tests/unit/test_formats.py`` runs the same contract
against each registered format.

Both formats write the same ``FileEntry`` records and the same row digest (of the canonical
text), so the manifest, verify and purge do not care which format a partition holds.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Protocol

from dbarchive.errors import VerificationError

if TYPE_CHECKING:
    from dbarchive.checksum import Value
    from dbarchive.formats.compression import Compression
    from dbarchive.formats.csv import EncodedChunk
    from dbarchive.layout import PartitionPath
    from dbarchive.manifest import FileEntry
    from dbarchive.sources.canonical import Column
    from dbarchive.steps.write import WriteSettings
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


class Format(Protocol):
    """One archive format: its files' names, its writer, its readers, its lake hooks."""

    name: str  # as the config's ``format =`` and the manifest's ``format`` say it
    compressions: tuple[Compression, ...]  # the codecs it takes, its default first
    # The lake hook of ``formats/lake_types.py``: True when every value is stored as its
    # canonical text (binary as hex, TIMESTAMP as UTC text), so a reader types the columns
    # itself; False when the file's columns are typed (``lake_types.LakeType``).
    values_as_text: bool
    # What its data files are, for readers of the files themselves (DDL, datasets): ``csv`` or
    # ``parquet`` (an ``iceberg`` archive's files are Parquet).
    files: str

    def missing(self) -> str | None:
        """What must be installed to use the format, with how (None: nothing)."""

    def extension(self, compression: Compression) -> str:
        """The data files' extension, e.g. ``csv.gz`` (without the leading dot)."""

    def holds(self, key: str) -> bool:
        """Whether a data file of this format has this name."""

    def open_writer(
        self,
        storage: Storage,
        partition: PartitionPath,
        columns: Sequence[Column],
        key_positions: Sequence[int],
        settings: WriteSettings,
    ) -> ChunkWriter:
        """The writer of one partition's part files."""

    def iter_chunks(
        self, storage: Storage, entry: FileEntry, checked_first: bool
    ) -> Iterator[list[list[Value]]]:
        """The file's rows as canonical text, in chunks, checked against ``entry``
        (``steps/archive_files.py`` says when the verdict comes)."""

    def iter_digests(
        self, storage: Storage, entry: FileEntry, key_position: int, checked_first: bool
    ) -> Iterator[tuple[list[Value], list[str]]]:
        """``(keys, row hashes)`` of the file, block by block, checked like :meth:`iter_chunks`."""


_REGISTRY = {
    "csv": "dbarchive.formats.csv_format",
    "parquet": "dbarchive.formats.parquet_format",
    "iceberg": "dbarchive.formats.iceberg_format",  # Parquet files, committed to Iceberg
}


def registered() -> list[str]:
    """Every format name, in registration order (the config accepts these)."""
    return list(_REGISTRY)


def format_named(name: str) -> Format:
    """The format registered as ``name`` (``config`` validates the names)."""
    module = importlib.import_module(_REGISTRY[name])
    found: Format = module.FORMAT
    return found


def format_of_key(key: str) -> Format:
    """The format of an archived data file, by its name; VerificationError if none holds it
    (a manifest listing such a file is damaged)."""
    for name in _REGISTRY:
        candidate = format_named(name)
        if candidate.holds(key):
            return candidate
    raise VerificationError(
        f"{key}: no archive format ({', '.join(_REGISTRY)}) has files of this name; the "
        "manifest listing it is damaged"
    )
