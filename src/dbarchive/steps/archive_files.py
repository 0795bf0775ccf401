"""Reading an archive's files back, each checked against its manifest entry as it is read.

Every reader here raises VerificationError at a file's end if its size, SHA-256 or row digest
differ from the manifest's; ``check_files`` reports such problems for a whole partition instead
(``rows``: re-hash every row; ``bytes``: size and SHA-256; ``quick``: sizes and S3 checksums).
"""

from __future__ import annotations

import hashlib
import io
import tempfile
import zlib
from collections.abc import Callable, Iterator
from typing import IO, Any, BinaryIO, Literal, TypeVar, cast

import zstandard

from dbarchive.checksum import RowDigest, Value
from dbarchive.errors import DbArchiveError, VerificationError
from dbarchive.formats import format_of_key
from dbarchive.formats.compression import DECODE_ERRORS, compression_for_name, open_decompressed
from dbarchive.formats.csv import encode_rows, iter_row_chunks, iter_row_digests
from dbarchive.manifest import FileEntry, Manifest
from dbarchive.runtime.background import check_cancelled
from dbarchive.storage import Storage
from dbarchive.storage.base import StoredObject, open_version, stat_version

_FILE_ERRORS: tuple[type[Exception], ...] = (VerificationError, *DECODE_ERRORS)
T = TypeVar("T")
FileCheck = Literal["rows", "bytes", "quick"]


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


def checked_copy(storage: Storage, entry: FileEntry) -> BinaryIO:
    """A local temporary copy of an archive file, returned only if its size and SHA-256 are the
    manifest's (else VerificationError): a reader of the copy uses no byte that is not checked.

    The disk holds one file (at most ``max_file_mib``); the copy is deleted when closed.
    """
    local = tempfile.TemporaryFile(prefix="dbarchive-")  # noqa: SIM115 - returned to the caller
    sha, size = hashlib.sha256(), 0
    try:
        with open_version(storage, entry.key, entry.version_id) as raw:
            while block := raw.read(1 << 20):
                check_cancelled()
                sha.update(block)
                size += len(block)
                _write_local(local, block, entry)
        problem = _file_problem(entry, size, sha.hexdigest(), entry.digest)
        if problem:
            raise VerificationError(problem)
    except BaseException:
        local.close()
        raise
    local.seek(0)
    return cast(BinaryIO, local)


def _write_local(local: IO[bytes], block: bytes, entry: FileEntry) -> None:
    try:
        local.write(block)
    except OSError as exc:
        raise DbArchiveError(
            f"{entry.key}: cannot copy it into the temporary folder {tempfile.gettempdir()} to "
            f"check it before use ({exc.strerror or exc}); free space there or set TMPDIR"
        ) from None


def iter_file_rows(storage: Storage, entry: FileEntry) -> Iterator[list[Value]]:
    """The data rows of one archive file; raises VerificationError at its end if it differs."""
    for chunk in iter_file_chunks(storage, entry):
        yield from chunk


def _checked_file(
    storage: Storage,
    entry: FileEntry,
    read: Callable[[BinaryIO, RowDigest], Iterator[T]],
    checked_first: bool = False,
) -> Iterator[T]:
    """Yield what ``read`` makes of the file's decompressed bytes (adding its rows to a digest),
    then raise VerificationError if the file's size, SHA-256 or row digest differ from the
    manifest's. Streamed, a consumer sees every item before that verdict (and may never ask for
    the last ones), so it must not act on them; with ``checked_first`` the file is copied
    locally and its size and SHA-256 checked before the first item (the purge reads this way)."""
    raw = (
        checked_copy(storage, entry)
        if checked_first
        else open_version(storage, entry.key, entry.version_id)
    )
    try:
        hashing = _HashingReader(raw)
        stream = cast(BinaryIO, io.BufferedReader(hashing, 1 << 20))
        digest = RowDigest()
        try:
            for item in read(open_decompressed(stream, compression_for_name(entry.key)), digest):
                check_cancelled()  # on a background thread whose caller has gone: stop here
                yield item
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


def iter_file_chunks(
    storage: Storage, entry: FileEntry, checked_first: bool = False
) -> Iterator[list[list[Value]]]:
    """The data rows of one archive file in chunks, checked like :func:`iter_file_rows`
    (``checked_first``: see :func:`_checked_file`; a Parquet file is always checked first),
    read by the format its name says (``formats.format_of_key``)."""
    return format_of_key(entry.key).iter_chunks(storage, entry, checked_first)


def iter_csv_chunks(
    storage: Storage, entry: FileEntry, checked_first: bool = False
) -> Iterator[list[list[Value]]]:
    """:func:`iter_file_chunks` of a CSV file (the ``csv`` format's reader)."""

    def read(data: BinaryIO, digest: RowDigest) -> Iterator[list[list[Value]]]:
        header = True
        for chunk in iter_row_chunks(data):
            if header:
                chunk, header = chunk[1:], False
            encode_rows(chunk, digest)  # the digest of exactly these rows, in C when built
            yield chunk

    return _checked_file(storage, entry, read, checked_first)


def iter_file_digests(
    storage: Storage, entry: FileEntry, key_position: int = -1, checked_first: bool = False
) -> Iterator[tuple[list[Value], list[str]]]:
    """``(keys, row hashes)`` of one archive file, block by block, checked like
    :func:`iter_file_chunks` — without decoding the rows into Python values."""
    return format_of_key(entry.key).iter_digests(storage, entry, key_position, checked_first)


def iter_csv_digests(
    storage: Storage, entry: FileEntry, key_position: int = -1, checked_first: bool = False
) -> Iterator[tuple[list[Value], list[str]]]:
    """:func:`iter_file_digests` of a CSV file (the ``csv`` format's reader)."""
    return _checked_file(
        storage,
        entry,
        lambda data, digest: iter_row_digests(data, digest, key_position, skip=1),
        checked_first,
    )


def iter_archive_digests(
    storage: Storage, manifest: Manifest, key_position: int, checked_first: bool = False
) -> Iterator[tuple[list[Value], list[str]]]:
    """``(keys, row hashes)`` of every archived row of a partition, each file checked."""
    for entry in manifest.files:
        yield from iter_file_digests(storage, entry, key_position, checked_first)


def iter_archive_rows(storage: Storage, manifest: Manifest) -> Iterator[list[Value]]:
    """Every archived row of a partition, file by file, each file checked against the manifest."""
    for chunk in iter_archive_chunks(storage, manifest):
        yield from chunk


def iter_archive_chunks(
    storage: Storage, manifest: Manifest, checked_first: bool = False
) -> Iterator[list[list[Value]]]:
    """The archived rows of a partition in chunks, each file checked against the manifest."""
    for entry in manifest.files:
        yield from iter_file_chunks(storage, entry, checked_first)


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


def check_files(
    storage: Storage,
    manifest: Manifest,
    depth: FileCheck = "rows",
    checked: Callable[[FileEntry], None] | None = None,
) -> list[str]:
    """Problems with the partition's files: missing, resized, changed (empty list: all good).
    ``checked`` is told each file once it has been checked (progress)."""
    problems: list[str] = []
    total = RowDigest()
    for entry in manifest.files:
        total.merge(entry.digest)
        problem = _file_problem_at(storage, entry, depth)
        if problem:
            problems.append(problem)
        if checked is not None:
            checked(entry)
    if total != manifest.digest:
        problems.append(
            f"the files' digests add up to {total.describe()}, manifest says {manifest.digest.describe()}"
        )
    return problems


def _file_problem_at(storage: Storage, entry: FileEntry, depth: FileCheck) -> str | None:
    stored = stat_version(storage, entry.key, entry.version_id)
    if stored is None:
        version = "" if entry.version_id is None else f" (version {entry.version_id})"
        return f"{entry.key}{version}: listed in the manifest but missing from the archive"
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


def _same_version(entry: FileEntry, current: StoredObject) -> bool:
    """The archived version itself, or the same bytes copied back on top (size and CRC32)."""
    if current.version_id == entry.version_id:
        return True
    same_crc = entry.s3_checksum is not None and current.s3_checksum == entry.s3_checksum
    return current.size == entry.bytes and same_crc


def overwritten_names(storage: Storage, manifest: Manifest) -> list[str]:
    """Files whose name now shows something else than the version the manifest names (a newer
    version with other bytes, or a delete marker), as problems. dbarchive reads the archived
    version, intact; query engines read what the name shows. Only for versioned archives."""
    problems = []
    for entry in manifest.files:
        if entry.version_id is None:
            continue
        current = storage.stat(entry.key)
        if current is not None and _same_version(entry, current):
            continue  # the archived version, or the same bytes copied back on top
        now = "deleted (a delete marker)" if current is None else f"version {current.version_id}"
        problems.append(
            f"{entry.key}: the archived version {entry.version_id} is intact, but the name now "
            f"shows {now}, written by someone else, which query engines read instead; copy the "
            f"archived version back on top (aws s3api copy-object --copy-source "
            f"'<bucket>/<prefix>{entry.key}?versionId={entry.version_id}') and find who wrote it"
        )
    return problems


def _stored_bytes(storage: Storage, entry: FileEntry) -> tuple[int, str]:
    """Size and SHA-256 of an object as stored, read in blocks (hashlib runs without the GIL)."""
    sha, size = hashlib.sha256(), 0
    with open_version(storage, entry.key, entry.version_id) as reader:
        while block := reader.read(1 << 20):
            check_cancelled()
            sha.update(block)
            size += len(block)
    return size, sha.hexdigest()
