"""LocalStorage: archive objects as files under a folder, published by fsync + rename."""

from __future__ import annotations

import errno
import fcntl
import hashlib
import os
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import BinaryIO
from urllib.parse import unquote, urlparse

from dbarchive import failpoints
from dbarchive.errors import StorageError
from dbarchive.storage.base import StoredObject, name_taken, write_whole

_TMP_MARK = ".dbarchive-tmp-"


def _root_from_url(url: str) -> Path:
    parsed = urlparse(url)
    if parsed.scheme == "file":
        return Path(unquote(parsed.path))
    return Path(url).expanduser()


_FULL = {errno.ENOSPC, errno.EDQUOT}


@contextmanager
def _disk_errors(action: str, key: str) -> Iterator[None]:
    """A full disk or an I/O error is a StorageError that names the object, the cause and what
    to do about that cause: only a full disk is told to free space."""
    try:
        yield
    except OSError as exc:
        raise StorageError(
            f"cannot {action} {key}: {exc.strerror or exc} (errno {exc.errno}); {_advice(exc)}"
        ) from exc


def _advice(exc: OSError) -> str:
    if exc.errno in _FULL:
        return "free space on the destination or choose another one"
    if exc.errno == errno.ENOENT:
        # The temp file (or its folder) vanished between open and rename: the usual remover is
        # another run's clean-up of unfinished writes (abort_incomplete) in the same partition.
        return (
            "the unfinished file was removed while it was being written, most likely by another "
            "run clearing the same partition; nothing was published. Make sure only one run "
            "works on this table (see 'lost the run lock' / 'already running'), then run again"
        )
    return "check that the destination folder is writable and mounted"


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def _folder_locked(folder: Path) -> Iterator[None]:
    """An exclusive ``flock`` on ``folder`` (every writer of this machine that asks waits), so a
    compare and the rename after it happen as one step."""
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


class _FileWriter:
    """Writes to a hidden temp file beside the target; commit fsyncs and renames it into place
    (``create_only``: hard-links it, which fails if the name exists)."""

    def __init__(self, final: Path, key: str, create_only: bool = False) -> None:
        self._final = final
        self._key = key
        self._create_only = create_only
        # A leading dot hides the temp file from Athena/Spark/Hive if a crash leaves it behind.
        self._tmp = final.parent / f".{final.name}{_TMP_MARK}{uuid.uuid4().hex}"
        with _disk_errors("start writing", key):
            final.parent.mkdir(parents=True, exist_ok=True)
            self._file: BinaryIO | None = open(self._tmp, "wb")  # noqa: SIM115 - closed in commit/abort
        self._sha = hashlib.sha256()
        self._size = 0

    def write(self, data: bytes) -> None:
        if self._file is None:
            raise StorageError(f"write to {self._key} after commit or abort")
        with _disk_errors("write", self._key):
            self._file.write(data)
        self._sha.update(data)
        self._size += len(data)

    def commit(self) -> StoredObject:
        tmp = self.commit_as_temp()
        with _disk_errors("commit", self._key):
            if not self._create_only:
                os.replace(tmp, self._final)
            else:
                failpoints.hit("storage.before-create")
                try:
                    os.link(tmp, self._final)
                except FileExistsError:
                    raise name_taken(self._key) from None
                finally:
                    tmp.unlink(missing_ok=True)
            _fsync_dir(self._final.parent)
        return StoredObject(self._key, self._size, self._sha.hexdigest())

    def commit_as_temp(self) -> Path:
        """Flush and fsync the written bytes but leave them under the temp name (which ``abort``
        removes): for a caller that publishes the name itself."""
        if self._file is None:
            raise StorageError(f"commit of {self._key} after commit or abort")
        with _disk_errors("commit", self._key):
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
        self._file = None
        return self._tmp

    def abort(self) -> None:
        if self._file is not None:
            with suppress(OSError):  # closing flushes: on a full disk that fails too
                self._file.close()
            self._file = None
        self._tmp.unlink(missing_ok=True)


class LocalStorage:
    """A folder on a local or mounted filesystem."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.root = _root_from_url(url)

    def location(self, key: str) -> str:
        """The file's absolute path, as other readers (pyiceberg, DuckDB) name it."""
        return str(self._path(key))

    def io_properties(self) -> dict[str, str]:
        """Nothing: local files need no settings to be read."""
        return {}

    def _path(self, key: str) -> Path:
        parts = [p for p in key.split("/") if p]
        if not parts or any(p in {".", ".."} for p in parts):
            raise StorageError(f"invalid object key {key!r}")
        return self.root.joinpath(*parts)

    def check(self) -> None:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            probe = self.root / f".dbarchive-check-{uuid.uuid4().hex}"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            raise StorageError(
                f"cannot write to the destination folder {str(self.root)!r}: {exc.strerror}; "
                "create it or choose a writable path"
            ) from exc

    def open_writer(self, key: str, *, create_only: bool = False) -> _FileWriter:
        return _FileWriter(self._path(key), key, create_only)

    def put_bytes(self, key: str, data: bytes) -> StoredObject:
        return write_whole(self.open_writer(key), data)

    def put_if_absent(self, key: str, data: bytes) -> bool:
        """Written and fsynced under a temp name, then hard-linked to ``key``: ``link`` fails if the
        name exists, so exactly one of two racing writers creates it, whole."""
        final = self._path(key)
        writer = _FileWriter(final, key)
        try:
            writer.write(data)
            tmp = writer.commit_as_temp()
            with _disk_errors("create", key):
                try:
                    os.link(tmp, final)
                except FileExistsError:
                    return False
                _fsync_dir(final.parent)
            return True
        finally:
            writer.abort()  # removes the temp name (the link keeps the data)

    def put_retained(
        self, key: str, data: bytes, *, if_absent: bool = False
    ) -> StoredObject | None:
        """A folder has no Object Lock: the record is written as any other (create-only with
        ``if_absent``)."""
        if not if_absent:
            return self.put_bytes(key, data)
        return self.stat(key) if self.put_if_absent(key, data) else None

    def put_if_match(self, key: str, data: bytes, etag: str | None) -> StoredObject | None:
        """Compared and replaced under the folder's lock: the tag is the SHA-256 of the bytes."""
        with _folder_locked(self._path(key).parent):
            current = self.get_with_etag(key)
            if (current[1] if current else None) != etag:
                return None
            if etag is None:
                return self.stat(key) if self.put_if_absent(key, data) else None
            return self.put_bytes(key, data)

    def get_bytes(self, key: str) -> bytes | None:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            return None

    def get_with_etag(self, key: str) -> tuple[bytes, str] | None:
        data = self.get_bytes(key)
        return None if data is None else (data, hashlib.sha256(data).hexdigest())

    def open_reader(self, key: str, version_id: str | None = None) -> BinaryIO:
        """The file (a folder keeps no versions: ``version_id`` cannot be honoured, and an
        archive written here never records one)."""
        try:
            return open(self._path(key), "rb")
        except FileNotFoundError as exc:
            raise StorageError(f"object {key!r} does not exist in {self.url}") from exc

    def stat(self, key: str, version_id: str | None = None) -> StoredObject | None:
        try:
            return StoredObject(key, self._path(key).stat().st_size)
        except FileNotFoundError:
            return None

    def list_objects(self, prefix: str) -> Iterator[StoredObject]:
        if not self.root.exists():
            return
        found = []
        for dirpath, _dirs, files in os.walk(self.root):
            for name in files:
                if _TMP_MARK in name or name.startswith(".dbarchive-check-"):
                    continue
                path = Path(dirpath) / name
                key = path.relative_to(self.root).as_posix()
                if key.startswith(prefix):
                    found.append(StoredObject(key, path.stat().st_size))
        yield from sorted(found, key=lambda o: o.key)

    def copy_object(self, source: str, key: str) -> StoredObject:
        """A hard link under a temp name, renamed into place (atomic, no byte copied); a byte copy
        where the filesystem has no hard links."""
        src, final = self._path(source), self._path(key)
        if not src.exists():
            raise StorageError(f"cannot copy {source}: it does not exist in {self.url}")
        tmp = final.parent / f".{final.name}{_TMP_MARK}{uuid.uuid4().hex}"
        try:
            final.parent.mkdir(parents=True, exist_ok=True)
            os.link(src, tmp)
            os.replace(tmp, final)
            _fsync_dir(final.parent)
            return StoredObject(key, final.stat().st_size)
        except OSError:
            tmp.unlink(missing_ok=True)
        return self._copy_bytes(source, key)

    def _copy_bytes(self, source: str, key: str) -> StoredObject:
        writer = self.open_writer(key)
        try:
            with self.open_reader(source) as reader:
                while block := reader.read(1 << 20):
                    writer.write(block)
            return writer.commit()
        except BaseException:
            writer.abort()
            raise

    def delete_keys(self, keys: Iterable[str]) -> None:
        for key in keys:
            self._path(key).unlink(missing_ok=True)

    def abort_incomplete(self, prefix: str) -> int:
        if not self.root.exists():
            return 0
        removed = 0
        for dirpath, _dirs, files in os.walk(self.root):
            for name in files:
                path = Path(dirpath) / name
                if _TMP_MARK in name and _target_key(path, self.root).startswith(prefix):
                    path.unlink(missing_ok=True)
                    removed += 1
        return removed


def _target_key(tmp: Path, root: Path) -> str:
    """The key a temp file would have been published as (``.<name><mark><uuid>`` → ``<name>``).

    Matching the prefix against that key, as S3 matches upload keys, keeps a writer of
    ``day/part-00001-…`` from removing the temp file of a concurrent writer of ``day/part-00002-…``.
    """
    name = tmp.name.removeprefix(".").split(_TMP_MARK, 1)[0]
    return (tmp.parent / name).relative_to(root).as_posix()
