"""Where the steps call the ledger: a purge's chunks, a partition drop, a restore, a new run.

Each entry point returns an object with the same calls whether the ledger is on or off (off:
they do nothing), so a step needs one or two lines for it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable
from typing import Any, Protocol

from dbarchive.checksum import RowDigest
from dbarchive.config import TableSpec
from dbarchive.context import Context
from dbarchive.errors import DbArchiveError
from dbarchive.formats.csv import add_hex_rows
from dbarchive.ledger.chain import open_days
from dbarchive.ledger.records import KeySet
from dbarchive.ledger.session import DaySession, signer
from dbarchive.manifest import FileEntry, Manifest
from dbarchive.sources import mysql_sql as q
from dbarchive.sources.table import ScanPlan, TableInfo


class ChunkLedger(Protocol):
    """What the purge's chunk loop tells the ledger."""

    def before_commit(self, rows: list[Any], matched: list[tuple[Any, ...]]) -> None:
        """The chunk's DELETE ran (``matched``: the deleted keys, ``rows``: the locked rows in
        ``hash_shape``); store its intent now, before the COMMIT."""

    def committed(self) -> None:
        """The chunk's COMMIT returned."""

    def rolled_back(self) -> None:
        """The chunk's transaction was rolled back (or its COMMIT failed)."""

    def close(self) -> None:
        """The day's chunks are over: store what is not stored yet."""

    def head(self) -> dict[str, Any]:
        """What the day's purge record keeps of the chain (its last record)."""


class _Off:
    """The ledger is off: every call does nothing."""

    def before_commit(self, rows: list[Any], matched: list[tuple[Any, ...]]) -> None:
        return None

    def committed(self, *_: Any) -> None:
        return None

    def rolled_back(self) -> None:
        return None

    def close(self) -> None:
        return None

    def head(self) -> dict[str, Any]:
        return {}

    def finished(self, written: int, proven: bool) -> None:
        return None


OFF = _Off()


def enabled(ctx: Context) -> bool:
    return ctx.job.ledger.enabled


def for_purge(
    ctx: Context, spec: TableSpec, manifest: Manifest, info: TableInfo, plan: ScanPlan
) -> ChunkLedger:
    """The ledger of one day's chunk loop (open intents of the day reconciled first)."""
    if not enabled(ctx):
        return OFF
    return _PurgeLedger(ctx, spec, manifest, info, plan)


class _PurgeLedger:
    def __init__(
        self, ctx: Context, spec: TableSpec, manifest: Manifest, info: TableInfo, plan: ScanPlan
    ) -> None:
        self.session = DaySession(ctx, spec, info, manifest.day)
        self.session.reconcile()
        self.manifest, self.info, self.plan = manifest, info, plan
        self.positions = q.hash_shape(info).key_positions
        self.integer = len(info.key) == 1 and info.key[0].is_integer
        self.window = [manifest.query_window[0], manifest.query_window[1]]
        self._seq: int | None = None

    def before_commit(self, rows: list[Any], matched: list[tuple[Any, ...]]) -> None:
        if len(matched) == len(rows):  # the usual chunk: every locked row matched and went
            digest = rows_digest(rows)
        else:
            wanted = set(matched)
            digest = rows_digest(r for r in rows if tuple(r[i] for i in self.positions) in wanted)
        keys = key_set(self.info, matched)
        fields = {
            **deleted_rows(digest, keys),
            "files": file_refs(self.manifest, keys, self.plan.strategy == "key"),
            "window": self.window,
            "manifest_generation": self.manifest.generation,
        }
        self._seq = self.session.intent("delete", fields)

    def committed(self) -> None:
        if self._seq is not None:
            self.session.committed(self._seq)
            self._seq = None

    def rolled_back(self) -> None:
        if self._seq is not None:
            self.session.rolled_back(self._seq)
            self._seq = None

    def close(self) -> None:
        self.session.close()

    def head(self) -> dict[str, Any]:
        return self.session.head()


def key_set(info: TableInfo, keys: list[tuple[Any, ...]]) -> KeySet:
    """Deleted keys (canonical text bytes, one tuple per row) as a record's key set."""
    if len(info.key) == 1 and info.key[0].is_integer:  # int() reads the text bytes as they are
        return KeySet.of_integers(info.key[0].name, (int(key[0]) for key in keys))
    columns = tuple(c.name for c in info.key)
    return KeySet.of(columns, False, [tuple(bytes(v).decode() for v in key) for key in keys])


def rows_digest(rows: Iterable[Any]) -> RowDigest:
    """The digest of rows read in ``hash_shape`` (the server's SHA-256 of each row first): the
    manifest's digest of the same rows (folded in C when built: ~0.1 µs a row)."""
    digest = RowDigest()
    add_hex_rows(rows if isinstance(rows, list) else list(rows), digest)
    return digest


def deleted_rows(digest: RowDigest, keys: KeySet) -> dict[str, Any]:
    return {"rows": digest.count, "digest": digest.to_json(), "keys": keys.to_json()}


def file_refs(manifest: Manifest, keys: KeySet, key_order: bool) -> list[dict[str, Any]]:
    """The archive files that hold the keys: for an integer key read in key order, those whose
    key range meets the keys'; else every file of the day. Each with its size, SHA-256 and row
    digest, so an audit proves the rows without trusting the (replaceable) manifest."""
    entries = list(manifest.files)
    if key_order and keys.runs and all(e.first_key and e.last_key for e in entries):
        low, high = keys.runs[0][0], keys.runs[-1][1]
        entries = [e for e in entries if _meets(e, low, high)]
    return [file_ref(e) for e in entries]


def file_ref(entry: FileEntry) -> dict[str, Any]:
    return {"key": entry.key, "bytes": entry.bytes, "sha256": entry.sha256,
            "digest": entry.digest.to_json()}  # fmt: skip


def _meets(entry: FileEntry, low: int, high: int) -> bool:
    assert entry.first_key and entry.last_key
    try:
        return int(entry.first_key[0]) <= high and low <= int(entry.last_key[0])
    except ValueError:
        return True


# -- partition drops ------------------------------------------------------------------------------
class DropRecords:
    """A partition drop's intents, one per chunk of each day's rows in the exchange clone."""

    def __init__(self, sessions: list[tuple[DaySession, list[int]]]) -> None:
        self.sessions = sessions

    def confirm(self) -> None:
        """The clone is dropped: the rows are gone for good."""
        for session, seqs in self.sessions:
            for seq in seqs:
                session.committed(seq, {"how": "the exchange clone was dropped"})
            session.close()


def for_drop(
    ctx: Context,
    spec: TableSpec,
    clone: TableInfo,
    manifests: dict[dt.date, Manifest],
) -> DropRecords:
    """Store the intents of dropping the clone's rows (read day by day, as ``prove`` reads them),
    before the clone is dropped; ``manifests``: the verified days holding rows."""
    if not enabled(ctx):
        return DropRecords([])
    info = dataclasses.replace(clone, name=spec.name)
    shape = q.hash_shape(clone)
    full = dataclasses.replace(shape, width=1 + max(*shape.key_positions, shape.ts_position))
    sessions = []
    for day, manifest in sorted(manifests.items()):
        session = DaySession(ctx, spec, info, day)
        session.reconcile()
        window = ctx.source.window(spec, clone, day)
        plan = ctx.source.plan_scan(clone, window, spec.scan)
        seqs = []
        for chunk, _last in ctx.source.read_chunks(clone, window, plan, spec.chunk_rows, full):
            digest = rows_digest(chunk)
            keys = key_set(info, [tuple(r[i] for i in shape.key_positions) for r in chunk])
            fields = {**deleted_rows(digest, keys), "clone": clone.name,
                      "files": [file_ref(e) for e in manifest.files],
                      "manifest_generation": manifest.generation}  # fmt: skip
            seqs.append(session.intent("drop", fields))
        sessions.append((session, seqs))
    return DropRecords(sessions)


# -- restores and new runs --------------------------------------------------------------------
class _Restore:
    def __init__(self, session: DaySession, seq: int) -> None:
        self.session, self.seq = session, seq

    def finished(self, written: int, proven: bool) -> None:
        """The load ended: ``written`` rows went in; ``proven``: the day now equals its archive."""
        self.session.committed(self.seq, {"written": written, "proven": proven})
        self.session.close()


def for_restore(
    ctx: Context, spec: TableSpec, manifest: Manifest, info: TableInfo, target: str
) -> _Restore | _Off:
    """A restore into the table itself is a ledger event (stored before its first row goes in):
    it explains, to an audit, deleted keys that are back. Into another table: nothing."""
    if not enabled(ctx) or target != spec.name:
        return OFF
    session = DaySession(ctx, spec, info, manifest.day)
    session.reconcile()
    digest = manifest.effective_digest
    fields = {"rows": digest.count, "digest": digest.to_json(),
              "files": [file_ref(e) for e in manifest.files],
              "manifest_generation": manifest.generation}  # fmt: skip
    return _Restore(session, session.intent("restore", fields))


class _Erase:
    def __init__(self, session: DaySession, seq: int) -> None:
        self.session, self.seq, self.done = session, seq, False

    def finished(self, rows: int, digest: RowDigest, generation: int) -> None:
        """The day's generation without the rows is published."""
        self.session.committed(
            self.seq, {"rows": rows, "digest": digest.to_json(), "generation": generation}
        )
        self.done = True

    def __enter__(self) -> _Erase:
        return self

    def __exit__(self, *exc: object) -> None:
        if not self.done:  # failed before its publication: decided from the manifest
            self.session.rolled_back(self.seq)
        self.session.close()


def for_erase(ctx: Context, spec: TableSpec, manifest: Manifest, where: str) -> _Erase:
    """An erasure is a ledger event, stored before the day's new generation is published: it
    explains, to an audit, the deleted rows no longer in the archive and the files replaced. Its
    earlier deletions were audited against the replaced files just before (``jobs/erase.py``)."""
    session = DaySession(ctx, spec, ctx.describe(spec), manifest.day)
    session.reconcile()
    fields = {"where": where, "files": [file_ref(e) for e in manifest.files],
              "replaced_generation": manifest.generation, "audited_before": True}  # fmt: skip
    return _Erase(session, session.intent("erase", fields))


def reconcile_open(ctx: Context, spec: TableSpec) -> list[dt.date]:
    """Resolve the intents a killed run left open in any day of the table (before this run
    changes anything); returns the days looked at. A signing key that is not there stops the
    purge here (ConfigError), before anything is deleted or recorded."""
    if not enabled(ctx):
        return []
    signer(ctx)
    days = open_days(ctx.storage, ctx.folder(spec))
    for day in days:
        try:
            DaySession(ctx, spec, ctx.describe(spec), day).reconcile()
        except DbArchiveError:
            continue  # left open: the day's own purge (or the next run) tries again
    return days
