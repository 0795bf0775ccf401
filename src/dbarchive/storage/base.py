"""The Storage interface: where archive files go (the registry that opens one: ``storage``).

Keys are always relative to the storage root (the path or ``s3://bucket/prefix`` of the URL) and use
``/`` as separator. Every backend keeps the same promises, checked by one contract test suite:

- an object written through :meth:`Storage.open_writer` is invisible until ``commit()`` and then
  appears whole, at once (local: temp file, fsync, rename; S3: multipart upload completed);
- ``abort()`` leaves nothing behind, and :meth:`Storage.abort_incomplete` clears what a killed
  process left (temp files, unfinished multipart uploads);
- memory stays bounded by the part size, whatever the object size;
- :meth:`Storage.put_if_absent` and a ``create_only`` writer create a name at most once, whoever
  races for it; :meth:`Storage.put_if_match` replaces an object only if it is still the one read
  with :meth:`Storage.get_with_etag` (S3 ``If-Match``; a folder compares under a lock).

Where the destination keeps versions (an S3 bucket with versioning), every write returns the
``version_id`` it created and :meth:`Storage.open_reader` / :meth:`Storage.stat` read a given
version, so a reader can use exactly the version a manifest names. With S3 Object Lock
(``StorageOptions.object_lock``) the archive's content is written under retention
(``retention.py`` decides which keys); :meth:`Storage.put_retained` writes any other record so.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import BinaryIO, Protocol, cast

from dbarchive.errors import NameTaken
from dbarchive.storage.retention import ObjectLock


@dataclass(frozen=True)
class StoredObject:
    """One object as stored: its key, size and, when known, checksums of its bytes."""

    key: str
    size: int
    sha256: str | None = None
    s3_checksum: str | None = None  # "<ALGORITHM>:<base64>" as the server reported it
    ours: bool | None = None  # written by dbarchive (stat() on S3 tells); None: cannot tell
    version_id: str | None = None  # the version written or read; None: the storage keeps none
    lock_mode: str | None = None  # "COMPLIANCE" / "GOVERNANCE" when under retention (stat)
    retain_until: str | None = None  # ISO 8601, UTC, when under retention (stat)
    legal_hold: bool | None = None  # stat on a locking bucket tells; None: not known


@dataclass(frozen=True)
class StorageOptions:
    """Settings a backend may use; backends ignore what does not apply to them."""

    endpoint_url: str | None = None
    region: str | None = None
    sse: str | None = None  # "AES256" (SSE-S3) or "aws:kms" (SSE-KMS)
    kms_key_id: str | None = None
    storage_class: str | None = None
    part_size: int = 8 * 1024 * 1024
    max_attempts: int = 8
    access_key_id: str | None = None  # None: the standard AWS credential chain decides
    secret_access_key: str | None = field(default=None, repr=False)
    # A ready boto3 Session (e.g. from Airflow's AWS connection, with refreshable role credentials);
    # when set, it replaces the credential settings above.
    session: object | None = field(default=None, repr=False, compare=False)
    # S3 Object Lock: the archive's content is written with this retention (None: no lock)
    object_lock: ObjectLock | None = None
    # tag published data files (dbarchive-kind=data) for the S3 Lifecycle rules that move them
    tag_data: bool = False


class ObjectWriter(Protocol):
    """A streamed write of one object; nothing is visible before :meth:`commit`."""

    def write(self, data: bytes) -> None:
        """Append bytes; may upload a part, never holds more than about two parts in memory."""

    def commit(self) -> StoredObject:
        """Publish the object atomically and return what was stored (size and sha256)."""

    def abort(self) -> None:
        """Discard everything written; safe to call twice or after a failed commit."""


class Storage(Protocol):
    """A place to keep archive objects (a local folder, an S3 bucket and prefix)."""

    url: str

    def check(self) -> None:
        """Raise StorageError with a clear reason unless the destination is reachable and usable."""

    def open_writer(self, key: str, *, create_only: bool = False) -> ObjectWriter:
        """Start a streamed, atomic write of ``key`` (replacing any object of that name; with
        ``create_only`` its commit raises ``NameTaken`` and stores nothing if the name exists)."""

    def put_bytes(self, key: str, data: bytes) -> StoredObject:
        """Store a small object whole, atomically."""

    def put_if_absent(self, key: str, data: bytes) -> bool:
        """Store a small object whole, atomically, only if ``key`` does not exist yet (S3
        ``If-None-Match: *``); False, changing nothing, if it does. Two writers racing for one
        name: exactly one gets True."""

    def put_retained(
        self, key: str, data: bytes, *, if_absent: bool = False
    ) -> StoredObject | None:
        """Store a small object whole, atomically, under the configured Object Lock retention
        (and legal hold) whatever its name — for records that are part of the archive under
        names ``retention.is_archive_content`` does not know (the deletion ledger). Without
        Object Lock it is ``put_bytes``. ``if_absent``: create-only like :meth:`put_if_absent`,
        returning None (nothing changed) if ``key`` exists."""

    def put_if_match(self, key: str, data: bytes, etag: str | None) -> StoredObject | None:
        """Store a small object whole, atomically, only if ``key`` is still the object whose
        ``etag`` :meth:`get_with_etag` returned (``etag`` None: only if ``key`` does not exist);
        None, changing nothing, if it is not."""

    def get_bytes(self, key: str) -> bytes | None:
        """Read a whole (small) object, or None if it does not exist."""

    def get_with_etag(self, key: str) -> tuple[bytes, str] | None:
        """A whole (small) object and the tag :meth:`put_if_match` compares, or None if absent."""

    def open_reader(self, key: str, version_id: str | None = None) -> BinaryIO:
        """Stream an object's bytes (``version_id``: that version, where the storage keeps
        versions); raises StorageError if it does not exist."""

    def stat(self, key: str, version_id: str | None = None) -> StoredObject | None:
        """Size (and checksums, version and retention where the backend keeps them) of ``key``
        (or of that version of it), or None if absent."""

    def list_objects(self, prefix: str) -> Iterator[StoredObject]:
        """Every committed object whose key starts with ``prefix``, in key order."""

    def copy_object(self, source: str, key: str) -> StoredObject:
        """Copy ``source`` to ``key`` inside the storage, atomically (server-side on S3: no byte
        passes through this process); returns the copy as stored. StorageError if ``source``
        does not exist."""

    def delete_keys(self, keys: Iterable[str]) -> None:
        """Delete these keys; missing keys are not an error."""

    def abort_incomplete(self, prefix: str) -> int:
        """Remove unfinished writes under ``prefix`` left by a killed process; return how many."""


class LockingStorage(Storage, Protocol):
    """A storage that can lock objects (S3 Object Lock): what ``dbarchive hold`` and the
    checks use. Reach it with ``locking(storage)``; a local folder is not one."""

    object_lock: ObjectLock | None

    def set_legal_hold(self, key: str, version_id: str | None, on: bool) -> bool:
        """Set (``on``) or clear the legal hold of that version of ``key``; False if it already
        was so (nothing changed). StorageError if the bucket refuses (no Object Lock)."""

    def has_object_lock(self) -> bool:
        """Whether the bucket has Object Lock enabled (a hold elsewhere is not enforced)."""

    def is_held(self, key: str, version_id: str | None) -> bool:
        """Whether that version of ``key`` is under legal hold."""

    def list_versions(self, prefix: str) -> Iterator[tuple[str, str]]:
        """Every stored version under ``prefix``, ``(key, version id)``."""


def locking(storage: Storage) -> LockingStorage | None:
    """``storage`` as a :class:`LockingStorage`, or None if it cannot lock objects."""
    inner = getattr(storage, "inner", storage)  # a GatedStorage passes through
    if hasattr(inner, "set_legal_hold") and hasattr(inner, "object_lock"):
        return cast(LockingStorage, inner)
    return None


def open_version(storage: Storage, key: str, version_id: str | None) -> BinaryIO:
    """Stream ``key`` as of ``version_id`` (a manifest's), or its current bytes if None."""
    return storage.open_reader(key) if version_id is None else storage.open_reader(key, version_id)


def stat_version(storage: Storage, key: str, version_id: str | None) -> StoredObject | None:
    """:meth:`Storage.stat` of that version of ``key`` (None: the current one)."""
    return storage.stat(key) if version_id is None else storage.stat(key, version_id)


def name_taken(key: str) -> NameTaken:
    """The error of a create-only write whose name another writer took first."""
    return NameTaken(
        f"{key} was written by another writer while this one wrote it (a run that lost its run "
        "lock, or was paused past it); this one stored nothing over it. Run again, then "
        "dbarchive verify the day"
    )


def write_whole(writer: ObjectWriter, data: bytes) -> StoredObject:
    """Write and commit a small object through ``writer``, aborting it on any failure.

    Every backend's ``put_bytes`` is this: one write path keeps the atomicity promise in one place.
    """
    try:
        writer.write(data)
        return writer.commit()
    except BaseException:
        writer.abort()
        raise


__all__ = [
    "LockingStorage",
    "ObjectWriter",
    "Storage",
    "StorageOptions",
    "StoredObject",
    "locking",
    "name_taken",
    "open_version",
    "stat_version",
    "write_whole",
]
