"""Reading Parquet parts back as canonical text, checked against the manifest.

Parquet keeps its footer at the end, so a part is first copied from storage into a local
temporary file (hashing it on the way: size and SHA-256 are checked before any row is
yielded), then read one row group at a time. Memory holds one row group; the disk holds one
part (at most ``max_file_mib``). Every value is rendered back to the exact text the database
prints (``formats/parquet_text.py``), so the row digest is the one the manifest and the
database compute.

pyarrow reads the part by its path, synchronously (``pre_buffer=False``), and is closed as soon
as the part is read. Given a Python file object and its default pre-buffering, it read through
its own I/O threads, each taking the GIL to call ``read()`` and to release the bytes: one of them
still doing so while the interpreter exited aborted the process ("terminate called without an
active exception", exit 134) after a successful verify.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

import pyarrow as pa
import pyarrow.parquet as pq

from dbarchive import failpoints
from dbarchive.checksum import RowDigest, Value
from dbarchive.errors import VerificationError
from dbarchive.formats import csv as csv_format
from dbarchive.formats.lake_types import LakeType, lake_type
from dbarchive.formats.parquet_text import arrow_type, to_canonical
from dbarchive.manifest import FileEntry
from dbarchive.runtime.background import check_cancelled
from dbarchive.steps.write_parquet import MYSQL_TYPE_KEY
from dbarchive.storage import Storage
from dbarchive.storage.base import open_version

_BLOCK = 1 << 20

Rows = list[tuple[Value, ...]]


@contextmanager
def _spool(storage: Storage, entry: FileEntry) -> Iterator[str]:
    """The path of a local copy of the part (removed afterwards); VerificationError unless its
    size and SHA-256 match."""
    with tempfile.TemporaryDirectory(prefix="dbarchive-") as folder:
        path = os.path.join(folder, "part.parquet")
        sha, size = hashlib.sha256(), 0
        with open_version(storage, entry.key, entry.version_id) as raw, open(path, "wb") as local:
            while block := raw.read(_BLOCK):
                check_cancelled()
                sha.update(block)
                size += len(block)
                local.write(block)
        if size != entry.bytes:
            raise VerificationError(
                f"{entry.key}: {size} bytes stored, manifest says {entry.bytes}"
            )
        if sha.hexdigest() != entry.sha256:
            raise VerificationError(
                f"{entry.key}: SHA-256 {sha.hexdigest()[:16]}… differs from the manifest's "
                f"{entry.sha256[:16]}…"
            )
        yield path


def iter_parquet_rows(path: str) -> Iterator[Rows]:
    """The rows of a Parquet part (our schema), a row group at a time, as canonical text."""
    with pq.ParquetFile(path, pre_buffer=False) as part:
        types = _lake_types(part.schema_arrow)
        for index in range(part.num_row_groups):
            check_cancelled()
            group = part.read_row_group(index, use_threads=False)
            failpoints.hit("archive.row-group-read")
            columns = [to_canonical(t, group.column(i)) for i, t in enumerate(types)]
            yield list(zip(*columns, strict=True)) if columns else []


def _lake_types(schema: pa.Schema) -> list[LakeType]:
    """Each field's lake type, from the MySQL type it records; VerificationError if a field
    lacks one or is stored as another Arrow type."""
    types = []
    for field in schema:
        mysql_type = (field.metadata or {}).get(MYSQL_TYPE_KEY)
        if mysql_type is None:
            raise VerificationError(
                f"column {field.name!r} has no MySQL type: not a dbarchive part"
            )
        t = lake_type(mysql_type.decode())
        if field.type != arrow_type(t):
            raise VerificationError(
                f"column {field.name!r} is stored as {field.type}, expected {arrow_type(t)}"
            )
        types.append(t)
    return types


def _checked(
    storage: Storage, entry: FileEntry, checked_first: bool = False
) -> Iterator[tuple[Rows, RowDigest]]:
    """Row groups of a part with the running digest; raises at the end if the digest differs.

    ``checked_first`` (the purge, the audit): the rows' digest too is checked before the first
    row group is yielded, by reading the local copy twice. A CSV file's rows are the very bytes
    its SHA-256 covers; a part's are rendered back from typed values, and a rendering that
    differs from the export's (DOUBLE once did) let a purge delete the rows it matched before
    the part's verdict, leaving a day no restore would take (an outside fuzz).
    """
    with _spool(storage, entry) as path:
        if checked_first:
            _require_digest(entry, path)
        digest = RowDigest()
        for rows in iter_parquet_rows(path):
            csv_format.encode_rows(rows, digest)
            yield rows, digest
    _require_same(entry, digest)


def _require_digest(entry: FileEntry, path: str) -> None:
    digest = RowDigest()
    for rows in iter_parquet_rows(path):
        csv_format.encode_rows(rows, digest)
    _require_same(entry, digest)


def _require_same(entry: FileEntry, digest: RowDigest) -> None:
    if digest != entry.digest:
        raise VerificationError(
            f"{entry.key}: rows {digest.describe()} differ from the manifest's "
            f"{entry.digest.describe()}"
        )


def iter_parquet_chunks(
    storage: Storage, entry: FileEntry, checked_first: bool = False
) -> Iterator[list[list[Value]]]:
    """The rows of one Parquet part in chunks, checked like ``archive_files.iter_file_chunks``."""
    for rows, _digest in _checked(storage, entry, checked_first):
        yield [list(r) for r in rows]


def iter_parquet_digests(
    storage: Storage, entry: FileEntry, key_position: int = -1, checked_first: bool = False
) -> Iterator[tuple[list[Value], list[str]]]:
    """``(keys, row hashes)`` of one Parquet part, checked like ``archive_files.iter_file_digests``."""
    for rows, _digest in _checked(storage, entry, checked_first):
        keys = [r[key_position] for r in rows] if key_position >= 0 else []
        yield keys, csv_format.row_hex_digests(rows) if key_position >= 0 else []
