"""The Storage interface: where archive files go, and the registry that opens one by URL.

Keys are always relative to the storage root (the path or ``s3://bucket/prefix`` of the URL) and use
``/`` as separator. Every backend keeps the same promises, checked by one contract test suite:

- an object written through :meth:`Storage.open_writer` is invisible until ``commit()`` and then
  appears whole, at once (local: temp file, fsync, rename; S3: multipart upload completed);
- ``abort()`` leaves nothing behind, and :meth:`Storage.abort_incomplete` clears what a killed
  process left (temp files, unfinished multipart uploads);
- memory stays bounded by the part size, whatever the object size.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import BinaryIO, Protocol
from urllib.parse import urlparse

from dbarchive.errors import ConfigError


@dataclass(frozen=True)
class StoredObject:
    """One object as stored: its key, size and, when known, checksums of its bytes."""

    key: str
    size: int
    sha256: str | None = None
    s3_checksum: str | None = None  # "<ALGORITHM>:<base64>" as the server reported it
    ours: bool | None = None  # written by dbarchive (stat() on S3 tells); None: cannot tell


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

    def open_writer(self, key: str) -> ObjectWriter:
        """Start a streamed, atomic write of ``key`` (replacing any object of that name)."""

    def put_bytes(self, key: str, data: bytes) -> StoredObject:
        """Store a small object whole, atomically."""

    def get_bytes(self, key: str) -> bytes | None:
        """Read a whole (small) object, or None if it does not exist."""

    def open_reader(self, key: str) -> BinaryIO:
        """Stream an object's bytes; raises StorageError if it does not exist."""

    def stat(self, key: str) -> StoredObject | None:
        """Size (and checksums where the backend keeps them) of ``key``, or None if absent."""

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


def open_storage(url: str, options: StorageOptions | None = None) -> Storage:
    """Open the backend for ``url``: ``s3://bucket/prefix``, ``file:///path`` or a plain path."""
    options = options or StorageOptions()
    scheme = urlparse(url).scheme.lower()
    if scheme == "s3":
        from dbarchive.storage.s3 import S3Storage

        return S3Storage(url, options)
    if scheme in {"", "file"}:
        from dbarchive.storage.local import LocalStorage

        return LocalStorage(url)
    raise ConfigError(
        f"destination {url!r}: unsupported scheme {scheme!r}; use s3://bucket/prefix or a local path"
    )


__all__ = [
    "ObjectWriter",
    "Storage",
    "StorageOptions",
    "StoredObject",
    "open_storage",
    "write_whole",
]
