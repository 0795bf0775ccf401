"""Verify: a partition is trusted only if its manifest, its files and the database all agree.

Three digests must be equal (see ``checksum.py``): the one the manifest records, the one recomputed
from the files read back (with each file's size and SHA-256), and the one the database computes
over the day's rows now. How deep the files are checked (``FileCheck``):

- ``rows`` (``dbarchive verify``): read, decompress and re-hash every row of every file;
- ``bytes`` (before a purge): read every file and check its size and SHA-256 — the stored bytes
  are exactly the ones the exporter wrote and digested. The purge then re-derives every row's hash
  from those files anyway (it deletes only rows it finds there), so reading them twice would buy
  nothing but time;
- ``quick``: trust object sizes and S3 checksums; read nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO, Literal, TypeVar, cast

import zstandard

from dbarchive.background import in_background
from dbarchive.checksum import RowDigest, Value
from dbarchive.config import TableSpec
from dbarchive.context import Context
from dbarchive.errors import VerificationError
from dbarchive.formats.compression import DECODE_ERRORS, compression_for_name, open_decompressed
from dbarchive.formats.csv import add_hex_rows, encode_rows, iter_row_chunks, iter_row_digests
from dbarchive.manifest import FileEntry, Manifest
from dbarchive.sources import mysql_sql as q
from dbarchive.sources.mysql import MySqlSource
from dbarchive.sources.table import DayWindow, ScanPlan, TableInfo
from dbarchive.steps import upload
from dbarchive.steps.writers import is_parquet_key
from dbarchive.storage import Storage
from dbarchive.throttle import Throttle, throttled

MIN_VERIFY_CHUNK = 5_000
_FILE_ERRORS: tuple[type[Exception], ...] = (VerificationError, *DECODE_ERRORS)
T = TypeVar("T")
FileCheck = Literal["rows", "bytes", "quick"]


@dataclass(frozen=True)
class VerifyResult:
    """The outcome of verifying one table-day; ``problems`` says exactly what differs."""

    table: str
    day: dt.date
    archived_rows: int | None
    source_rows: int | None
    files_checked: int
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


class _HashingReader(io.RawIOBase):
    """Passes reads through while hashing and counting the raw (compressed) bytes."""

    def __init__(self, raw: BinaryIO) -> None:
        super().__init__()
        self._raw = raw
        self.sha = hashlib.sha256()
        self.size = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._raw.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        self.sha.update(data)
        self.size += n
        return n


def iter_file_rows(storage: Storage, entry: FileEntry) -> Iterator[list[Value]]:
    """The data rows of one archive file; raises VerificationError at its end if it differs."""
    for chunk in iter_file_chunks(storage, entry):
        yield from chunk


def _checked_file(
    storage: Storage,
    entry: FileEntry,
    read: Callable[[BinaryIO, RowDigest], Iterator[T]],
) -> Iterator[T]:
    """Yield what ``read`` makes of the file's decompressed bytes (adding its rows to a digest),
    then raise VerificationError if the file's size, SHA-256 or row digest differ from the
    manifest's: a consumer sees every item before the verdict, so it must not act on them first
    unless it checks each row itself (the purge does)."""
    raw = storage.open_reader(entry.key)
    try:
        hashing = _HashingReader(raw)
        stream = cast(BinaryIO, io.BufferedReader(hashing, 1 << 20))
        digest = RowDigest()
        try:
            yield from read(open_decompressed(stream, compression_for_name(entry.key)), digest)
            while stream.read(1 << 20):  # the tail after the last row (compressor trailer)
                pass
        except (EOFError, OSError, zlib.error, zstandard.ZstdError) as exc:
            # a truncated or damaged compressed file: a finding about the file, not a crash
            raise VerificationError(
                f"{entry.key}: cannot be read back ({type(exc).__name__}: {exc})"
            ) from None
        problem = _file_problem(entry, hashing.size, hashing.sha.hexdigest(), digest)
        if problem:
            raise VerificationError(problem)
    finally:
        raw.close()


def iter_file_chunks(storage: Storage, entry: FileEntry) -> Iterator[list[list[Value]]]:
    """The data rows of one archive file in chunks, checked like :func:`iter_file_rows`."""
    if is_parquet_key(entry.key):
        from dbarchive.steps.read_parquet import iter_parquet_chunks

        return iter_parquet_chunks(storage, entry)

    def read(data: BinaryIO, digest: RowDigest) -> Iterator[list[list[Value]]]:
        header = True
        for chunk in iter_row_chunks(data):
            if header:
                chunk, header = chunk[1:], False
            encode_rows(chunk, digest)  # the digest of exactly these rows, in C when built
            yield chunk

    return _checked_file(storage, entry, read)


def iter_file_digests(
    storage: Storage, entry: FileEntry, key_position: int = -1
) -> Iterator[tuple[list[Value], list[str]]]:
    """``(keys, row hashes)`` of one archive file, block by block, checked like
    :func:`iter_file_chunks` — without decoding the rows into Python values."""
    if is_parquet_key(entry.key):
        from dbarchive.steps.read_parquet import iter_parquet_digests

        return iter_parquet_digests(storage, entry, key_position)
    return _checked_file(
        storage, entry, lambda data, digest: iter_row_digests(data, digest, key_position, skip=1)
    )


def iter_archive_digests(
    storage: Storage, manifest: Manifest, key_position: int
) -> Iterator[tuple[list[Value], list[str]]]:
    """``(keys, row hashes)`` of every archived row of a partition, each file checked."""
    for entry in manifest.files:
        yield from iter_file_digests(storage, entry, key_position)


def iter_archive_rows(storage: Storage, manifest: Manifest) -> Iterator[list[Value]]:
    """Every archived row of a partition, file by file, each file checked against the manifest."""
    for chunk in iter_archive_chunks(storage, manifest):
        yield from chunk


def iter_archive_chunks(storage: Storage, manifest: Manifest) -> Iterator[list[list[Value]]]:
    """The archived rows of a partition in chunks, each file checked against the manifest."""
    for entry in manifest.files:
        yield from iter_file_chunks(storage, entry)


def _file_problem(entry: FileEntry, size: int, sha256: str, digest: RowDigest) -> str | None:
    if size != entry.bytes:
        return f"{entry.key}: {size} bytes stored, manifest says {entry.bytes}"
    if sha256 != entry.sha256:
        return (
            f"{entry.key}: SHA-256 {sha256[:16]}… differs from the manifest's {entry.sha256[:16]}…"
        )
    if digest != entry.digest:
        return f"{entry.key}: rows {digest.describe()} differ from the manifest's {entry.digest.describe()}"
    return None


def check_files(storage: Storage, manifest: Manifest, depth: FileCheck = "rows") -> list[str]:
    """Problems with the partition's files: missing, resized, changed (empty list: all good)."""
    problems: list[str] = []
    total = RowDigest()
    for entry in manifest.files:
        total.merge(entry.digest)
        problem = _file_problem_at(storage, entry, depth)
        if problem:
            problems.append(problem)
    if total != manifest.digest:
        problems.append(
            f"the files' digests add up to {total.describe()}, manifest says {manifest.digest.describe()}"
        )
    return problems


def _file_problem_at(storage: Storage, entry: FileEntry, depth: FileCheck) -> str | None:
    stored = storage.stat(entry.key)
    if stored is None:
        return f"{entry.key}: listed in the manifest but missing from the archive"
    if stored.size != entry.bytes:
        return f"{entry.key}: {stored.size} bytes stored, manifest says {entry.bytes}"
    if depth == "quick":
        if stored.s3_checksum and entry.s3_checksum and stored.s3_checksum != entry.s3_checksum:
            return f"{entry.key}: S3 checksum {stored.s3_checksum} differs from {entry.s3_checksum}"
        return None
    try:
        if depth == "bytes":
            size, sha256 = _stored_bytes(storage, entry)
            return _file_problem(entry, size, sha256, entry.digest)
        for _ in iter_file_digests(storage, entry):
            pass
    except _FILE_ERRORS as exc:
        return (
            str(exc) if isinstance(exc, VerificationError) else f"{entry.key}: unreadable ({exc})"
        )
    return None


def _stored_bytes(storage: Storage, entry: FileEntry) -> tuple[int, str]:
    """Size and SHA-256 of an object as stored, read in blocks (hashlib runs without the GIL)."""
    sha, size = hashlib.sha256(), 0
    with storage.open_reader(entry.key) as reader:
        while block := reader.read(1 << 20):
            sha.update(block)
            size += len(block)
    return size, sha.hexdigest()


def source_digest(
    source: MySqlSource,
    info: TableInfo,
    window: DayWindow,
    plan: ScanPlan,
    chunk_rows: int,
    throttle: Throttle | None = None,
) -> RowDigest:
    """The day's digest over the database's rows now, in keyset chunks.

    With the C reader, the rows are read exactly as an export reads them and digested on the
    client: the server only reads rows (a third of the CPU of hashing them in SQL), which
    matters because verify runs before every purge. Without it, the server hashes each row
    (``SHA2`` over the canonical text) and only the hashes travel. Either way the purge then
    compares every row it deletes with the archive through the server's own ``SHA2``.
    With a ``throttle`` the reads pause like the purge's chunks.
    """
    assert isinstance(source, MySqlSource)
    digest = RowDigest()
    chunk = max(chunk_rows, MIN_VERIFY_CHUNK)
    if source.reads_in_c:
        encoded_chunks = source.read_day_csv(info, window, plan, chunk)
        for encoded in encoded_chunks if throttle is None else throttled(encoded_chunks, throttle):
            digest.merge(encoded.digest)
        return digest
    shape = q.hash_shape(info)
    hashed_chunks = source.read_chunks(info, window, plan, chunk, shape)
    for rows, _last in hashed_chunks if throttle is None else throttled(hashed_chunks, throttle):
        add_hex_rows(rows, digest)
    return digest


def verify_day(
    ctx: Context,
    spec: TableSpec,
    day: dt.date,
    depth: FileCheck = "rows",
    check_source: bool = True,
    known: KnownDay | None = None,
) -> VerifyResult:
    """Verify one table-day: manifest, files (as deep as ``depth``) and the source rows.

    ``known`` passes what the caller has just read (the purge reads each of them once per day).
    """
    partition = ctx.partition(spec, day)
    manifest = known.manifest if known else upload.read_manifest(ctx.storage, partition)
    info = ctx.describe(spec)
    window = ctx.source.window(spec, info, day)
    if manifest is None:
        return VerifyResult(
            spec.name, day, None, None, 0, (f"{spec.name} {day}: not archived (no manifest)",)
        )
    # The files (storage) and the rows (MySQL) are read side by side: neither waits for the other.
    files = in_background(lambda: check_files(ctx.storage, manifest, depth), "dbarchive-verify")
    problems: list[str] = []
    source_rows = None
    if check_source:
        plan = known.plan if known and known.plan else ctx.source.plan_scan(info, window, spec.scan)
        in_source = source_digest(ctx.source, info, window, plan, spec.chunk_rows)
        source_rows = in_source.count
        marker = known.marker if known else upload.read_purge_marker(ctx.storage, partition)
        if (marker or {}).get("status") == "purged":
            if in_source.count:
                problems.append(
                    f"{spec.name} {day}: purged, but the database holds {in_source.count} rows of "
                    "this day that arrived later and are not archived"
                )
        elif in_source != manifest.digest:
            problems.append(
                f"{spec.name} {day}: the database holds {in_source.describe()}, the archive "
                f"{manifest.digest.describe()}"
            )
    problems[:0] = files.result()  # the files' problems first, as they are found first
    return VerifyResult(
        spec.name, day, manifest.rows, source_rows, len(manifest.files), tuple(problems)
    )


@dataclass(frozen=True)
class KnownDay:
    """A day's manifest, purge record and scan plan, read moments ago by the caller."""

    manifest: Manifest | None
    marker: dict[str, Any] | None
    plan: ScanPlan | None
