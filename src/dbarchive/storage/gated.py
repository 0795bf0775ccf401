"""A storage whose writes wait behind a gate, so rows can stream before the destination is ready.

Why: an export must not write a byte before its partition is made safe (foreign objects refused,
unfinished uploads aborted, the old manifest deleted), but reaching S3 for that takes ~0.2 s of
client start-up and round trips. Behind the gate the export reads and compresses its first rows
meanwhile: a writer holds what it is given (bounded by ``HOLD_LIMIT``) until the gate is ready,
then opens the gate — which runs the preparation, once — and only then opens the real writer.
Every other operation opens the gate first, so nothing reaches the inner storage out of order.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from typing import BinaryIO, Protocol

from dbarchive.storage.base import ObjectWriter, Storage, StoredObject

HOLD_LIMIT = 8 * 1024 * 1024  # bytes a writer holds before it waits for the gate (one S3 part)


class Gate(Protocol):
    """What must happen before the first write, and whether it can happen without waiting."""

    def ready(self) -> bool:
        """True when ``open`` would not wait (or the gate is open already)."""

    def open(self) -> None:
        """Wait for the preparation and run what must precede the first write (once); raises,
        and keeps the gate shut, if writing must not happen."""


class GatedStorage:
    """``inner`` behind ``gate``: writers hold their first bytes; every other call opens it."""

    def __init__(self, inner: Storage, gate: Gate) -> None:
        self.inner = inner
        self.gate = gate
        self.url = inner.url

    def open_writer(self, key: str, *, create_only: bool = False) -> ObjectWriter:
        if self.gate.ready():
            self.gate.open()
            return self.inner.open_writer(key, create_only=create_only)
        return _HoldingWriter(self, key, create_only)

    def check(self) -> None:
        self.gate.open()
        self.inner.check()

    def put_bytes(self, key: str, data: bytes) -> StoredObject:
        self.gate.open()
        return self.inner.put_bytes(key, data)

    def put_if_absent(self, key: str, data: bytes) -> bool:
        self.gate.open()
        return self.inner.put_if_absent(key, data)

    def put_retained(
        self, key: str, data: bytes, *, if_absent: bool = False
    ) -> StoredObject | None:
        self.gate.open()
        return self.inner.put_retained(key, data, if_absent=if_absent)

    def put_if_match(self, key: str, data: bytes, etag: str | None) -> StoredObject | None:
        self.gate.open()
        return self.inner.put_if_match(key, data, etag)

    def get_bytes(self, key: str) -> bytes | None:
        self.gate.open()
        return self.inner.get_bytes(key)

    def get_with_etag(self, key: str) -> tuple[bytes, str] | None:
        self.gate.open()
        return self.inner.get_with_etag(key)

    def open_reader(self, key: str, version_id: str | None = None) -> BinaryIO:
        self.gate.open()
        return self.inner.open_reader(key, version_id)

    def stat(self, key: str, version_id: str | None = None) -> StoredObject | None:
        self.gate.open()
        return self.inner.stat(key, version_id)

    def list_objects(self, prefix: str) -> Iterator[StoredObject]:
        self.gate.open()
        return self.inner.list_objects(prefix)

    def copy_object(self, source: str, key: str) -> StoredObject:
        self.gate.open()
        return self.inner.copy_object(source, key)

    def delete_keys(self, keys: Iterable[str]) -> None:
        self.gate.open()
        self.inner.delete_keys(keys)

    def abort_incomplete(self, prefix: str) -> int:
        self.gate.open()
        return self.inner.abort_incomplete(prefix)


class _HoldingWriter:
    """Keeps the bytes written while the gate is not ready; the first write after it is ready
    (or past ``HOLD_LIMIT``, or the commit) opens the gate and passes them on in order."""

    def __init__(self, storage: GatedStorage, key: str, create_only: bool) -> None:
        self._storage = storage
        self._key = key
        self._create_only = create_only
        self._held: deque[bytes] = deque()
        self._held_bytes = 0
        self._inner: ObjectWriter | None = None

    def write(self, data: bytes) -> None:
        if self._inner is None:
            if self._held_bytes + len(data) <= HOLD_LIMIT and not self._storage.gate.ready():
                self._held.append(bytes(data))  # a copy: callers may reuse their buffer
                self._held_bytes += len(data)
                return
            self._pass_on()
        assert self._inner is not None
        self._inner.write(data)

    def commit(self) -> StoredObject:
        if self._inner is None:
            self._pass_on()
        assert self._inner is not None
        return self._inner.commit()

    def abort(self) -> None:
        self._held.clear()
        self._held_bytes = 0
        if self._inner is not None:
            self._inner.abort()

    def _pass_on(self) -> None:
        """Open the gate, then the real writer, and give it the held bytes one by one (each is
        freed once passed, so memory does not double)."""
        self._storage.gate.open()
        self._inner = self._storage.inner.open_writer(self._key, create_only=self._create_only)
        while self._held:
            self._inner.write(self._held.popleft())
        self._held_bytes = 0
