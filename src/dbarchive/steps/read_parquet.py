"""Reading Parquet parts back as canonical text, checked against the manifest.

Parquet keeps its footer at the end, so a part is first copied from storage into a local
temporary file (hashing it on the way: size and SHA-256 are checked before any row is
yielded), then read one row group at a time. Memory holds one row group; the disk holds one
part (at most ``max_file_mib``). Every value is rendered back to the exact text the database
prints (``formats/parquet_text.py``), so the row digest is the one the manifest and the
database compute.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Iterator
from typing import IO

import pyarrow.parquet as pq

from dbarchive.checksum import RowDigest, Value
from dbarchive.errors import VerificationError
from dbarchive.formats import csv as csv_format
from dbarchive.formats.lake_types import lake_type
from dbarchive.formats.parquet_text import arrow_type, to_canonical
from dbarchive.manifest import FileEntry
from dbarchive.steps.write_parquet import MYSQL_TYPE_KEY
from dbarchive.storage import Storage

_BLOCK = 1 << 20
Rows = list[tuple[Value, ...]]


def _spool(storage: Storage, entry: FileEntry) -> IO[bytes]:
    """A local copy of the part; VerificationError unless its size and SHA-256 match."""
    local = tempfile.TemporaryFile(prefix="dbarchive-")  # noqa: SIM115 - returned to the caller
    sha, size = hashlib.sha256(), 0
    try:
        with storage.open_reader(entry.key) as raw:
            while block := raw.read(_BLOCK):
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
    except BaseException:
        local.close()
        raise
    local.seek(0)
    return local


def iter_parquet_rows(source: IO[bytes] | str) -> Iterator[Rows]:
    """The rows of a Parquet part (our schema), a row group at a time, as canonical text."""
    part = pq.ParquetFile(source)
    schema = part.schema_arrow
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
    for index in range(part.num_row_groups):
        group = part.read_row_group(index, use_threads=False)
        columns = [to_canonical(t, group.column(i)) for i, t in enumerate(types)]
        yield list(zip(*columns, strict=True)) if columns else []


def _checked(storage: Storage, entry: FileEntry) -> Iterator[tuple[Rows, RowDigest]]:
    """Row groups of a part with the running digest; raises at the end if the digest differs."""
    digest = RowDigest()
    with _spool(storage, entry) as local:
        for rows in iter_parquet_rows(local):
            csv_format.encode_rows(rows, digest)
            yield rows, digest
    if digest != entry.digest:
        raise VerificationError(
            f"{entry.key}: rows {digest.describe()} differ from the manifest's "
            f"{entry.digest.describe()}"
        )


def iter_parquet_chunks(storage: Storage, entry: FileEntry) -> Iterator[list[list[Value]]]:
    """The rows of one Parquet part in chunks, checked like ``verify.iter_file_chunks``."""
    for rows, _digest in _checked(storage, entry):
        yield [list(r) for r in rows]


def iter_parquet_digests(
    storage: Storage, entry: FileEntry, key_position: int = -1
) -> Iterator[tuple[list[Value], list[str]]]:
    """``(keys, row hashes)`` of one Parquet part, checked like ``verify.iter_file_digests``."""
    for rows, _digest in _checked(storage, entry):
        keys = [r[key_position] for r in rows] if key_position >= 0 else []
        yield keys, csv_format.row_hex_digests(rows) if key_position >= 0 else []
