"""One table-day's chain in the destination: finding its tail, appending create-only, reading it.

Appending takes the next sequence number create-only (``Storage.put_retained`` with
``if_absent``: under the archive's Object Lock retention when one is configured), so two writers racing
for one day (backfill workers, a retried Airflow task beside its zombie) never both get a number:
the loser reads the new tail and builds its record again on top of it. Every record goes through
:meth:`DayChain.store`, the one place that writes ledger records (where Object Lock retention
is applied when it is configured).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from typing import Any

from dbarchive import failpoints
from dbarchive.errors import StorageError, VerificationError
from dbarchive.ledger import records as r
from dbarchive.ledger.signing import Signer, sign
from dbarchive.storage import Storage

# A body for the next record given the current tail, or None when there is nothing left to say
# (what it would have resolved was resolved by another writer meanwhile).
Build = Callable[[r.Record | None], dict[str, Any] | None]
_RACES = 50


class DayChain:
    """The chain of one table-day under ``<folder>/_ledger/<day>/``."""

    def __init__(
        self,
        storage: Storage,
        folder: str,
        schema: str,
        table: str,
        day: dt.date,
        signer: Signer | None = None,
    ) -> None:
        self.storage, self.folder, self.schema, self.table, self.day = (
            storage, folder, schema, table, day
        )  # fmt: skip
        self.signer = signer
        self.prefix = r.day_prefix(folder, day)
        self._tail: r.Record | None = None
        self._loaded = False

    def stored_keys(self) -> list[tuple[int, str]]:
        """(seq, key) of every stored record, in order."""
        found = []
        for obj in self.storage.list_objects(self.prefix):
            seq = r.seq_of_key(obj.key)
            if seq is not None and obj.key.rsplit("/", 1)[0] + "/" == self.prefix:
                found.append((seq, obj.key))
        return sorted(found)

    def tail(self) -> r.Record | None:
        """The last record (read once, then kept up to date by :meth:`append`)."""
        if not self._loaded:
            self._tail = self._read_tail()
            self._loaded = True
        return self._tail

    def _read_tail(self) -> r.Record | None:
        stored = self.stored_keys()
        if not stored:
            return None
        seq, key = stored[-1]
        record = self.read(key)
        if record.seq != seq:
            raise VerificationError(
                f"the ledger of {self.table} {self.day} is damaged: {key} holds record "
                f"{record.seq}; nothing more is written to it. Run `dbarchive audit`"
            )
        return record

    def read(self, key: str) -> r.Record:
        """The record stored under ``key`` (VerificationError if it is missing or not one)."""
        data = self.storage.get_bytes(key)
        if data is None:
            raise VerificationError(f"ledger record {key} vanished while it was read")
        return r.Record.parse(data, key)

    def record(self, seq: int) -> r.Record:
        return self.read(r.record_key(self.folder, self.day, seq))

    def append(self, build: Build) -> r.Record | None:
        """Store the record ``build`` makes on top of the tail as the next one; on a lost race,
        read the new tail and build again. Returns the stored record (None: nothing to store)."""
        for _ in range(_RACES):
            tail = self.tail()
            body = build(tail)
            if body is None:
                return None
            record = self._seal(tail, body)
            if self.store(record):
                self._tail = record
                failpoints.hit("ledger.record-stored")
                return record
            self._loaded = False  # another writer took the number: build on the new tail
        raise StorageError(
            f"the ledger of {self.table} {self.day}: {_RACES} writers in a row took the next "
            "record number first; nothing was deleted without its record. Run again"
        )

    def _seal(self, tail: r.Record | None, body: dict[str, Any]) -> r.Record:
        seq = 1 if tail is None else tail.seq + 1
        resolved = [int(x["seq"]) for x in body.get("resolves", [])]
        full = {
            **body,
            "ledger": r.LEDGER_VERSION,
            "schema": self.schema,
            "table": self.table,
            "day": self.day.isoformat(),
            "seq": seq,
            "prev": r.genesis(self.schema, self.table, self.day) if tail is None else tail.sha256,
            "open": r.next_open(tail, seq, body["kind"], resolved),
        }
        data = r.canonical(sign(full, self.signer)) + b"\n"
        return r.Record(data, json.loads(data))

    def store(self, record: r.Record) -> bool:
        """Create the record's object once. True if it is now stored (also when a retried PUT
        had stored these very bytes before its answer was lost); False if the number is taken."""
        key = r.record_key(self.folder, self.day, record.seq)
        if self.storage.put_retained(key, record.data, if_absent=True) is not None:
            return True  # locked like the archive where Object Lock is configured
        return self.storage.get_bytes(key) == record.data

    def mark_open(self, run: str) -> None:
        """Note that this day may hold an intent a run has not resolved (before its first one)."""
        note = {"day": self.day.isoformat(), "run": run}
        self.storage.put_bytes(r.open_flag_key(self.folder, self.day), r.canonical(note))

    def clear_open(self) -> None:
        """Remove the note once the chain's last record leaves nothing open."""
        tail = self.tail()
        if tail is None or not tail.open:
            self.storage.delete_keys([r.open_flag_key(self.folder, self.day)])

    def records(self) -> Iterator[tuple[int, str, bytes | None]]:
        """(seq, key, bytes) of every stored record in order (bytes None if it vanished)."""
        for seq, key in self.stored_keys():
            yield seq, key, self.storage.get_bytes(key)


def open_days(storage: Storage, folder: str) -> list[dt.date]:
    """The days whose chain a run noted as possibly holding an unresolved intent."""
    prefix = r.ledger_prefix(folder) + r.OPEN_FOLDER + "/"
    days = {r.day_of_ledger_key(folder, obj.key) for obj in storage.list_objects(prefix)}
    return sorted(d for d in days if d is not None)


def ledger_days(storage: Storage, folder: str) -> list[dt.date]:
    """Every day that has a chain."""
    days = set()
    for obj in storage.list_objects(r.ledger_prefix(folder)):
        if r.seq_of_key(obj.key) is not None:
            day = r.day_of_ledger_key(folder, obj.key)
            if day is not None:
                days.add(day)
    return sorted(days)
