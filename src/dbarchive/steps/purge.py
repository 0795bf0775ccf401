"""Purge one archived table-day: delete exactly the rows the archive proves it holds.

Each chunk is one short transaction:
1. ``SELECT <row SHA-256>, <key>, <ts> … WHERE <day> AND <after last> ORDER BY … LIMIT n FOR UPDATE``
   locks the next rows of the day (nobody can change them until the commit); with
   ``statement_rows`` it and step 3 run as several statements of that many rows
   (``chunk_statements.py``);
2. each row is matched against the archive walked in the same order (``archive_walk.py``), read
   from files whose size and SHA-256 were checked against the manifest before their first row;
3. ``DELETE … WHERE key BETWEEN <first> AND <last> AND <day>`` when every locked row matched (a
   single integer key), else ``DELETE … WHERE key IN (<matched keys>) AND <day>`` — the affected
   count must equal the number of matched rows, or the chunk is rolled back;
4. COMMIT, adapt the chunk size to ``chunk_time``, let the throttle pause or stop.
Rows the archive does not hold are kept and counted. Killed at any point, a rerun skips archive
rows already gone and carries on; lock-wait timeouts and deadlocks roll back and retry.

Each chunk runs in READ COMMITTED, set per transaction whatever the server's default. The
locking read then locks only the rows it returns: no gap locks, and the rows it passes over
(other days' rows inside the key range, rows outside the table's filter) are unlocked at once,
so the application can go on inserting and updating them. Without gap locks a row may be
inserted into the chunk's key range between the locking read and a range DELETE; the
affected-count check of step 3 catches it (``ChunkMismatch``): the chunk rolls back, and its
retry reads the new row, finds it unarchived and keeps it. On a server that writes its binary
log as statements InnoDB refuses READ COMMITTED deletes, so there the chunk runs in REPEATABLE
READ, whose gap locks keep such rows out of the range until the chunk commits.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Sequence
from contextlib import suppress
from typing import Any

from dbarchive import failpoints
from dbarchive.config import TableSpec
from dbarchive.context import Context
from dbarchive.errors import DbArchiveError, SourceError, VerificationError
from dbarchive.events import Event
from dbarchive.identity import require_same_source
from dbarchive.layout import PURGE_MARKER_NAME, PartitionPath
from dbarchive.ledger import hooks as ledger
from dbarchive.manifest import Manifest
from dbarchive.sources import mysql_sql as q
from dbarchive.sources import retry
from dbarchive.sources.canonical import key_parameter
from dbarchive.sources.charsets import check_rows
from dbarchive.sources.mysql_session import Isolation
from dbarchive.sources.table import ScanPlan
from dbarchive.steps import upload
from dbarchive.steps.archive_walk import NewestVersions
from dbarchive.steps.archived_columns import matching_scope
from dbarchive.steps.chunk_statements import ChunkSizer as ChunkSizer
from dbarchive.steps.chunk_statements import is_refusal, key_slices, lock_rows, tiled_ranges
from dbarchive.steps.known_day import KnownDay
from dbarchive.steps.matching import archived_hashes, int_key_path, open_newest
from dbarchive.steps.outcome import now_text
from dbarchive.steps.purge_result import PurgeResult as PurgeResult
from dbarchive.steps.verify import archive_scope
from dbarchive.throttle import Throttle


class ChunkMismatch(VerificationError):
    """A chunk's DELETE did not remove exactly its verified rows: rolled back, then redone from a
    fresh read (a statement interrupted by KILL QUERY was seen to report 0 rows); if it keeps
    happening the purge of the day stops."""


class DayPurger:
    """The chunk loop of one table-day (see the module docstring)."""

    def __init__(
        self,
        ctx: Context,
        spec: TableSpec,
        manifest: Manifest,
        throttle: Throttle,
        sizer: ChunkSizer | None = None,
        plan: ScanPlan | None = None,
    ) -> None:
        self.ctx, self.spec, self.manifest, self.throttle = ctx, spec, manifest, throttle
        # Exactly the rows the archive was made from (its recorded window and day rule), matched
        # on the archived columns (a row with values in columns added since is held, kept).
        info, self.window = archive_scope(ctx.describe(spec), manifest)
        self.info = matching_scope(info, manifest)
        # Walk in the order the archive was written in, whatever ``auto`` would choose today.
        if plan is None or plan.strategy != manifest.scan:
            plan = ctx.source.plan_scan(self.info, self.window, manifest.scan)
        self.plan = plan
        self.shape = q.hash_shape(self.info)
        self.sizer = sizer or ChunkSizer(throttle.settings)
        self.per_statement = throttle.settings.rows_per_statement  # None: one statement a chunk
        self.deleted = self.kept = self.held = self.refused = self.chunks = self.retries = 0
        self.refusal = ""
        self.longest = 0.0
        self.longest_delete = 0.0
        self.isolation: Isolation = (
            "repeatable read" if ctx.source.logs_statements() else "read committed"
        )
        self.ledger: ledger.ChunkLedger = ledger.OFF

    def run(self) -> PurgeResult:
        """The chunk loop; a stop request or a failure of the day carries what was done so far
        (``partial``)."""
        t0 = time.monotonic()
        try:
            self._loop()
        except DbArchiveError as exc:
            exc.partial = self._result(t0)
            raise
        return self._result(t0)

    def _loop(self) -> None:
        # The deletion ledger (off unless [ledger] enabled): its intents of this day resolved first.
        self.ledger = ledger.for_purge(self.ctx, self.spec, self.manifest, self.info, self.plan)
        self._walk = self._open_walk()
        try:
            self._chunks()
        except BaseException:
            with suppress(DbArchiveError):  # if this fails too, the open note makes a rerun do it
                self.ledger.close()
            raise
        finally:
            self._walk.close()
        self.ledger.close()  # the last chunk's outcome

    def _chunks(self) -> None:
        first, last = True, None
        while not self.plan.is_empty:
            self.throttle.check_stop()
            started = time.monotonic()
            rows = self._chunk_with_retries(first, last)
            elapsed = time.monotonic() - started
            self.longest = max(self.longest, elapsed)
            self.chunks += 1
            self._emit("chunk", {"seconds": elapsed, "rows": len(rows)})
            if len(rows) < self.sizer.rows:
                break
            self.sizer.adapt(elapsed, len(rows))
            first, last = False, rows[-1]
            self.throttle.between_chunks(elapsed, len(rows))
            self.sizer.limit(self.throttle.chunk_rows_limit)  # a rate cap also bounds chunks

    def _result(self, t0: float) -> PurgeResult:
        return PurgeResult(
            self.spec.name,
            self.manifest.day,
            self.deleted,
            self.kept,
            self.chunks,
            self.retries,
            time.monotonic() - t0,
            self.longest,
            self.longest_delete,
            self.held,
            self.refused,
            self.refusal,
        )

    def _chunk_with_retries(self, first: bool, last: Any) -> list[Any]:
        """The chunk, rolled back and redone (smaller) on a retryable error or a mismatch, with
        the pauses of :func:`retry.purge_chunk` (not ``RetryPolicy.call``: a rolled-back chunk
        also restarts the archive walk, and a mismatch is ours, not MySQL's)."""
        policy = retry.purge_chunk(self.throttle.settings.max_retries)
        delays = policy.delays()
        attempt = 0
        while True:
            attempt += 1
            try:
                return self._chunk(self._walk, first, last)
            except (SourceError, ChunkMismatch) as exc:
                self.ctx.source.rollback()
                again = isinstance(exc, ChunkMismatch) or exc.mysql_code in policy.errors
                if not again or attempt >= (policy.attempts or 1):
                    raise
            self.retries += 1
            self.sizer.shrink()
            time.sleep(next(delays))
            # The walk consumed archive rows for the rolled-back chunk: start it again; rows
            # already deleted are skipped by order.
            self._walk.close()
            self._walk = self._open_walk()

    def _open_walk(self) -> NewestVersions:
        # The archive is read (downloaded, decompressed, hashed) on threads of its own, a few
        # blocks ahead, while the chunk loop waits for the database.
        return open_newest(self.ctx.storage, self.manifest, self.info, self.plan)

    def _chunk(self, walk: NewestVersions, first: bool, last: Any) -> list[Any]:
        src = self.ctx.source
        src.begin(self.throttle.settings.lock_wait_timeout, self.isolation)
        try:
            rows = lock_rows(
                src, self.info, self.shape, self.window, self.plan, (first, last),
                self.sizer.rows, self.per_statement,
            )  # fmt: skip
            # text that does not convert to UTF-8: stop before a row of it could be deleted
            check_rows(self.info, self.shape.key_positions, self.shape.guard_position, rows)
            failpoints.hit("purge.chunk-locked")
            matched = self._match(walk, rows)
            refused = self._delete(matched, len(matched) == len(rows)) if matched else []
            matched = [key for key in matched if key not in refused] if refused else matched
            if matched:
                self.ledger.before_commit(rows, matched)  # the intent, stored before the COMMIT
            failpoints.hit("purge.before-commit")
            src.check_run_lock(self.info)  # a second run may have started: roll back instead
            src.commit()
        except BaseException:
            src.rollback()
            self.ledger.rolled_back()
            raise
        self.ledger.committed()
        failpoints.hit("purge.after-commit")
        self.deleted += len(matched)
        self.kept += len(rows) - len(matched)
        self.refused += len(refused)
        if self.info.held_unless is not None:  # columns added since the archive (rare)
            self.held += sum(1 for row in rows if row[0].decode() == q.HELD)
        return rows

    def _match(self, walk: NewestVersions, rows: list[Any]) -> list[tuple[Any, ...]]:
        """The keys of the locked rows that the archive holds exactly (the newest archived version
        of their key), in read order."""
        archived = archived_hashes(walk, self.info, self.plan, self.shape, rows)
        positions = self.shape.key_positions
        return [
            tuple(row[i] for i in positions)
            for row, digest in zip(rows, archived, strict=True)
            if digest is not None and digest == row[0].decode()
        ]

    def _delete(self, keys: list[tuple[Any, ...]], whole_chunk: bool) -> list[tuple[Any, ...]]:
        """Delete the matched keys (a wholly matched chunk of a single-key table as ranges); a
        statement the server refuses (``is_refusal``) goes again key by key. Returns the keys it
        refused: their rows stay, archived, and each purge tries them again."""
        ranged = whole_chunk and int_key_path(self.info, self.plan)  # read in key order
        spans = tiled_ranges(keys, self.per_statement) if ranged else None
        refused: list[tuple[Any, ...]] = []
        for part in key_slices(keys, self.per_statement):
            try:
                if spans is None:
                    self._delete_keys(part)
                else:
                    low, high, rows = next(spans)
                    self._run_delete(q.delete_key_range_sql(self.info), [low, high], rows)
            except SourceError as exc:
                if not is_refusal(exc):
                    raise
                refused += [key for key in part if not self._deleted_alone(key)]
        return refused

    def _delete_keys(self, part: Sequence[tuple[Any, ...]]) -> None:
        params = [
            key_parameter(col, value)
            for key in part
            for col, value in zip(self.info.key, key, strict=True)
        ]
        self._run_delete(q.delete_keys_sql(self.info, len(part)), params, len(part))

    def _deleted_alone(self, key: tuple[Any, ...]) -> bool:
        """Delete one row; False (its first refusal kept for the report) if the server refuses."""
        try:
            self._delete_keys([key])
        except SourceError as exc:
            if not is_refusal(exc):
                raise
            self.refusal = self.refusal or str(exc)
            return False
        return True

    def _run_delete(self, sql: str, params: list[Any], rows: int) -> None:
        """One DELETE of ``rows`` verified rows (inside the day); any other count rolls back."""
        started = time.monotonic()
        params = [*params, self.window.start_param, self.window.end_param]
        affected = self.ctx.source.execute(sql, params, "deleting a chunk")
        self.longest_delete = max(self.longest_delete, time.monotonic() - started)
        failpoints.hit("purge.statement-deleted")
        if affected != rows:
            raise ChunkMismatch(
                f"{self.spec.name} {self.manifest.day}: a chunk deleted {affected} rows instead of "
                f"the {rows} verified ones; rolled back"
            )

    def _emit(self, kind: str, data: dict[str, Any] | None = None) -> None:
        self.ctx.reporter.emit(
            Event(
                "purge",
                self.spec.name,
                self.manifest.day.isoformat(),
                kind,
                self.deleted,
                total_rows=self.plan.estimated_rows,
                data=data or {},
            )
        )


def purge_day(
    ctx: Context,
    spec: TableSpec,
    manifest: Manifest,
    throttle: Throttle,
    sizer: ChunkSizer | None = None,
    known: KnownDay | None = None,
) -> PurgeResult:
    """Delete the archived rows of one verified day, recording progress next to its manifest.

    Pass the same ``sizer`` for the days of one table, so each day starts at the chunk size the
    last one settled on instead of warming up again, and what verify just read as ``known``.
    """
    partition = ctx.partition(spec, manifest.day)
    require_same_source(manifest, ctx.identity(spec), partition.manifest_key)  # before any change
    throttle.before_first_chunk()  # a busy server, a stop request: not one row, no record
    if known is None:
        known = KnownDay(manifest, upload.read_purge_marker(ctx.storage, partition), None)
    marker = known.marker or {}
    resumed = marker.get("status") not in {None, "restored"}  # a restored day is purged anew
    started = (marker.get("started_at") if resumed else None) or _now()
    upload.write_purge_marker(ctx.storage, partition, {"status": "started", "started_at": started})
    purger = DayPurger(ctx, spec, manifest, throttle, sizer, known.plan)
    try:
        result = purger.run()
    except VerificationError:
        if not resumed and purger.deleted == 0:  # e.g. a damaged file: the day stays unbegun
            _unstart(ctx, partition, known.marker)
        raise
    failpoints.hit("purge.before-record")
    upload.write_purge_marker(
        ctx.storage,
        partition,
        {
            "status": "purged" if result.rows_kept == 0 else "partial",
            "started_at": started,
            "finished_at": _now(),
            "rows_deleted_last_run": result.rows_deleted,
            "rows_kept_unarchived": result.rows_unarchived,
            "rows_held_added_columns": result.rows_held,
            "rows_refused_by_server": result.rows_refused,
            **purger.ledger.head(),
        },
    )
    failpoints.hit("purge.after-record")
    return result


def _unstart(ctx: Context, partition: PartitionPath, before: dict[str, Any] | None) -> None:
    """Put the day's purge record back as it was before a purge that deleted nothing: a day
    recorded as begun is never exported again, which a damaged archive of it may need."""
    if before is None:
        ctx.storage.delete_keys([partition.purge_marker_key])
    else:
        upload.write_purge_marker(ctx.storage, partition, before)


def finish_interrupted(ctx: Context, spec: TableSpec, cutoff: dt.date) -> list[dt.date]:
    """Record as purged the expired days whose purge was killed after their last DELETE.

    Such a day's record still says "started", and with no rows left it is no longer among the
    expired days (they begin at the oldest row), so no rerun would finish it: verify and status
    would call it partially purged forever. Returns the days recorded.
    """
    layout = ctx.job.destination.layout
    finished = []
    for day in upload.days_holding(ctx.storage, ctx.folder(spec), layout, PURGE_MARKER_NAME):
        if day >= cutoff:
            continue
        partition = ctx.partition(spec, day)
        try:  # a damaged record is passed over: the day's own purge (rows left) reports it
            marker = upload.read_purge_marker(ctx.storage, partition) or {}
            if marker.get("status") != "started":
                continue
            manifest = upload.read_manifest(ctx.storage, partition)
        except VerificationError:
            continue
        if manifest is None:
            continue
        info, window = archive_scope(ctx.describe(spec), manifest)
        (count,) = ctx.source.query(
            q.day_count_sql(info), (window.start_param, window.end_param), "counting a day"
        )[0]
        if int(count) == 0:
            upload.write_purge_marker(
                ctx.storage, partition, {**marker, "status": "purged", "finished_at": _now()}
            )
            finished.append(day)
    return finished


def _now() -> str:
    return now_text()  # the machine's real time (README)
