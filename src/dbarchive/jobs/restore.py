"""Restore: load an archived table-day back into MySQL exactly, then prove it.

1. **Check first.** Every file of the partition is read back against the manifest (size,
   SHA-256, row digest). A damaged or missing file refuses the restore before the database is
   touched — no table is created, no row written.
2. **The target** is the original table, or ``into`` (created ``LIKE`` the original, or from the
   manifest's columns — types, charsets and collations — when the original is gone). Its
   archived columns must have the archived MySQL types and charsets, or the restore refuses: a
   retyped column would not give the same values (or bytes) back.
3. **Load** in bounded multi-row ``INSERT`` statements (autocommit, throttled like the purge)
   from the canonical text: ``UNHEX`` for binary, ``CAST(… AS UNSIGNED)`` for BIT, the text as is
   for everything else (the server converts UTF-8 back to the column's charset), on a session
   pinned to UTC (TIMESTAMP) and a strict ``sql_mode`` that still accepts zero dates. A row
   whose key is already there is skipped, or overwritten with ``replace``: never duplicated.
   A row the server refuses as a duplicate of another live row's value in a UNIQUE index is
   left, the rest of its batch written, and the restore is not verified (``_Loader._write``).
   Generated columns of the target are left out: the server computes them.
4. **Prove.** The database's digest of the day in the target must equal the archive's (its newest
   version of each key: ``Manifest.effective_digest``) — which also checks every generated value
   the server computed against the archived one. A day archived in several generations has
   older versions of changed rows: without ``replace`` the newest generation goes first and older
   versions of its keys are skipped; with it, the oldest goes first and newer versions overwrite.
5. **Record.** A day restored into its own table is recorded as restored (its purge record), so
   verify compares it whole again and the next purge needs no re-export.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from dbarchive import failpoints
from dbarchive.checksum import RowDigest, Value
from dbarchive.config import TableSpec
from dbarchive.context import Context
from dbarchive.errors import ConfigError, DbArchiveError, SourceError, VerificationError
from dbarchive.events import Event
from dbarchive.identity import require_same_source
from dbarchive.jobs.restore_target import (
    ensure_target,
    require_not_archived,
    require_plain_target,
    target_info,
    target_schema,
)
from dbarchive.ledger import hooks as ledger
from dbarchive.manifest import Manifest
from dbarchive.sources import restore_sql
from dbarchive.sources.charsets import escaped_length
from dbarchive.sources.table import TableInfo
from dbarchive.steps import upload
from dbarchive.steps.archive_files import check_files, iter_file_chunks
from dbarchive.steps.matching import generations, value_text
from dbarchive.steps.verify import archive_scope
from dbarchive.throttle import Throttle

BATCH_ROWS = 1000
BATCH_BYTES = 4 * 1024 * 1024  # well below max_allowed_packet (16 MiB on MariaDB, 64 on MySQL 8)
STATEMENT_OVERHEAD = 64 * 1024  # the INSERT's own text and the driver's escapes, generously


@dataclass(frozen=True)
class RestoreResult:
    """What the restore of one table-day did, and whether the target now matches the archive."""

    table: str
    into: str
    day: dt.date
    archived_rows: int
    written: int  # rows inserted (or, with replace, inserted or overwritten: see _Loader._count)
    skipped: int  # rows whose key was already there (without replace; older versions apart)
    batches: int
    created_table: bool
    target_digest: RowDigest
    problems: tuple[str, ...]
    # Older versions of changed rows the archive also holds (a row updated, or a key used again,
    # after the day was archived): the newest version of each key is the one restored.
    older_versions: int = 0
    # Rows the server refused as duplicate entries of another live row's unique value: left.
    left: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems


def restore_day(
    ctx: Context,
    spec: TableSpec,
    day: dt.date,
    into: str | None = None,
    replace: bool = False,
    throttle: Throttle | None = None,
) -> RestoreResult:
    """Restore one archived table-day into ``into`` (default: the original table).

    Raises:
        VerificationError: the partition is not archived or its files differ from the manifest
            (nothing was changed).
        ConfigError: the target's columns do not match the archive's (nothing was changed).
    """
    target = into or spec.name
    if target == spec.name and ctx.source.table_exists(target_schema(ctx, spec), target):
        # a restore into the table races a run's purge or an erasure of the same day (an
        # erased row came back, and the next run archived it again: an outside trial)
        ctx.source.lock_table(ctx.describe(spec))
    manifest = _checked_manifest(ctx, spec, day)
    require_not_archived(ctx, spec, target)
    require_plain_target(ctx, spec, target)
    created = ensure_target(ctx, spec, manifest, target)
    try:
        info = target_info(ctx, spec, manifest, target)
    except ConfigError as exc:
        if created:  # created LIKE an original that changed since: leave nothing behind
            _drop_created(ctx, spec, target, exc)
        raise
    loader = _Loader(ctx, info, manifest, replace, throttle)
    restoring = ledger.for_restore(ctx, spec, manifest, info, target)  # before the first row
    try:
        loader.run()
    except SourceError as exc:
        if created and loader.written == 0:  # e.g. no INSERT on it: leave no empty table behind
            _drop_created(ctx, spec, target, exc)
        raise
    digest = ctx.source.digest_day(*archive_scope(info, manifest))
    problems = [_left_problem(target, day, loader)] if loader.left else []
    if digest != manifest.effective_digest:
        problems.append(
            f"{target} {day}: the table now holds {digest.describe()} for this day, the archive "
            f"{manifest.effective_digest.describe()}; rows already there differ from the archive "
            "(--replace overwrites them), a row holds one of their values in another unique "
            "index (it is never overwritten: restore --into a new table), or the day holds "
            "rows the archive does not" + _generated_hint(info)
        )
    elif target == spec.name:
        _record_restored(ctx, spec, day)
    restoring.finished(loader.written, not problems)
    return RestoreResult(
        spec.name,
        target,
        day,
        manifest.rows,
        loader.written,
        loader.skipped - (0 if replace else manifest.superseded.count),  # older versions apart
        loader.batches,
        created,
        digest,
        tuple(problems),
        manifest.superseded.count,
        loader.left,
    )


def _left_problem(target: str, day: dt.date, loader: _Loader) -> str:
    """Why the rows the server refused as duplicates are not there, and where they are."""
    n = loader.left
    indexes = ", ".join(loader.left_indexes) or "a unique index"
    return (
        f"{target} {day}: {n} archived row{'' if n == 1 else 's'} {'was' if n == 1 else 'were'} "
        f"left unwritten: writing {'it' if n == 1 else 'them'} would give another live row's "
        f"value in {indexes} (MySQL refused a duplicate entry); the live rows are kept as they "
        "are. Restore --into a new table to see the archived rows"
    )


def _drop_created(ctx: Context, spec: TableSpec, target: str, failure: DbArchiveError) -> None:
    """Drop the table this restore created and could not fill; if that fails too, ``failure``
    (about to be raised, its type and exit code kept) says the empty table is left (an outside
    re-test: without DROP it stayed, unmentioned)."""
    try:
        ctx.source.drop_table(target_schema(ctx, spec), target)
    except SourceError as exc:
        failure.args = (f"{failure}; the empty table {target!r} it created is left ({exc})",)


def _record_restored(ctx: Context, spec: TableSpec, day: dt.date) -> None:
    """The day's rows are all back in its table: its purge record says so (a day never purged
    has none, and needs none)."""
    partition = ctx.partition(spec, day)
    marker = upload.read_purge_marker(ctx.storage, partition)
    if marker is not None:
        now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        upload.write_purge_marker(
            ctx.storage, partition, {**marker, "status": "restored", "restored_at": now}
        )


def _checked_manifest(ctx: Context, spec: TableSpec, day: dt.date) -> Manifest:
    partition = ctx.partition(spec, day)
    manifest = upload.read_manifest(ctx.storage, partition)
    if manifest is None:
        raise VerificationError(
            f"{spec.name} {day}: not archived (no manifest), nothing to restore"
        )
    require_same_source(manifest, ctx.identity(spec), partition.manifest_key)
    problems = check_files(ctx.storage, manifest, "rows")
    if problems:
        raise VerificationError(
            f"{spec.name} {day}: the archive does not match its manifest, so nothing was "
            "restored: " + "; ".join(problems)
        )
    return manifest


class _Loader:
    """Bounded, throttled multi-row INSERTs of the archived rows into the target."""

    def __init__(
        self,
        ctx: Context,
        info: TableInfo,
        manifest: Manifest,
        replace: bool,
        throttle: Throttle | None,
    ) -> None:
        self.ctx, self.info, self.manifest = ctx, info, manifest
        self.replace, self.throttle = replace, throttle
        self.written = self.skipped = self.batches = self.bytes = self.left = 0
        self.left_indexes: dict[str, None] = {}  # the unique indexes the left rows clashed on
        # The target computes its generated columns: only the others are written.
        self._positions = [i for i, c in enumerate(info.columns) if c.generated is None]
        self._types = [c.mysql_type for c in manifest.columns]
        self._load = ctx.source.upsert_rows if replace else ctx.source.insert_rows

    def run(self) -> None:
        with self.ctx.source.restoring() as max_packet:
            self._emit("start", f"into {self.info.qualified}")
            for batch in _batches(self._chunks(), min(BATCH_BYTES, max_packet // 2)):
                self._require_fits(batch, max_packet)
                if self.throttle is not None:
                    self.throttle.check_stop()
                started = time.monotonic()
                # into the table, a restore holds its run lock: a lost one stops it before the
                # next batch (an erasure that took the lock meanwhile saw its rows come back)
                self.ctx.source.check_run_lock(self.info)
                self._insert(batch)
                self._emit("chunk")
                failpoints.hit("restore.batch-inserted")
                if self.throttle is not None:
                    self.throttle.between_chunks(time.monotonic() - started)
        left = f", {self.left} left (duplicate entries)" if self.left else ""
        self._emit("finish", f"{self.written} rows written, {self.skipped} already there{left}")

    def _emit(self, kind: str, message: str = "") -> None:
        """``restore`` progress for the reporter: rows done (written, already there or left) of the
        archived rows, and the bytes of their values."""
        self.ctx.reporter.emit(
            Event("restore", self.manifest.table, self.manifest.day.isoformat(), kind,
                  self.written + self.skipped + self.left, self.bytes, self.manifest.rows,
                  message)
        )  # fmt: skip

    def _chunks(self) -> Iterator[list[list[Value]]]:
        """The archived rows, generation by generation: newest first (older versions of a key
        are then skipped), or oldest first with ``replace`` (newer versions overwrite)."""
        groups = generations(self.manifest)
        for files in reversed(groups) if self.replace else groups:
            for entry in files:
                yield from iter_file_chunks(self.ctx.storage, entry)

    def _require_fits(self, batch: list[list[Value]], max_packet: int) -> None:
        """A row too long for one INSERT (a batch holds such a row alone) is refused, naming its
        key and the setting: the server would only drop the session (an outside trial: an 18 MB
        text, archived whole, "lost the session", and every rerun the same)."""
        size = sum(escaped_length(v) + 4 for v in batch[0] if v is not None) + STATEMENT_OVERHEAD
        if len(batch) > 1 or size <= max_packet:
            return
        names = [c.name for c in self.manifest.columns]
        key = ", ".join(
            f"{k} = {value_text(batch[0][names.index(k)])}" for k in self.manifest.key_columns
        )
        raise SourceError(
            f"{self.manifest.table} {self.manifest.day}: the row with {key} needs an INSERT of "
            f"about {size} bytes, more than the server's max_allowed_packet ({max_packet}); "
            "nothing of it was written. Raise max_allowed_packet (SET GLOBAL, or the DB parameter "
            "group on RDS/Aurora) above that, then restore again: rows already written stay"
        )

    def _insert(self, rows: Sequence[Sequence[Value]]) -> None:
        self._write(rows)
        self.batches += 1
        self.bytes += sum(len(v) for row in rows for i in self._positions if (v := row[i]))

    def _write(self, rows: Sequence[Sequence[Value]]) -> None:
        """One INSERT of ``rows``. An overwrite (``replace``) that would give another live row's
        value in a UNIQUE index makes the server refuse the whole statement (1062), and every
        rerun failed the same (an outside trial): the rows are then written in halves, down to
        the refused ones, which are left as the live data has them (like rows the key guard
        leaves, ``restore_sql._on_duplicate``); the restore is then not verified."""
        try:
            affected = self._load(self.info, rows, self._types, self.manifest.key_columns)
        except SourceError as exc:
            if exc.mysql_code != restore_sql.DUPLICATE_ENTRY:
                raise
            if len(rows) > 1:
                half = len(rows) // 2
                self._write(rows[:half])
                self._write(rows[half:])
            else:
                self.left += 1
                self.left_indexes[restore_sql.clashing_index(str(exc)) or "a unique index"] = None
            return
        self._count(rows, affected)

    def _count(self, rows: Sequence[Sequence[Value]], affected: int) -> None:
        """Rows written, or already there. With ``replace`` the server's count (1 per insert, 2
        per change, 0 per row left as it was) cannot tell a row the key guard left from one
        already equal to the archive's: all count as written, and the digest check tells."""
        if self.replace:
            self.written += len(rows)
        else:
            self.written += affected
            self.skipped += len(rows) - affected


def _generated_hint(info: TableInfo) -> str:
    """What to suspect when a target with generated columns does not give the archive back."""
    period = [c.name for c in info.columns if c.is_period]
    if period:
        return (
            f"; {', '.join(period)} are the table's system-versioning columns, which the server "
            "sets to the time of the restore: a table WITH SYSTEM VERSIONING cannot take their "
            "archived values back (that needs MariaDB 10.11's system_versioning_insert_history, "
            "not used yet); restore --into a table without system versioning"
        )
    generated = [c.name for c in info.columns if c.generated is not None]
    if not generated:
        return ""
    return (
        f"; the server computed the generated column(s) {', '.join(generated)}: if their "
        "expression changed since the day was archived, their values differ from the archive's"
    )


def _row_bytes(row: Sequence[Value]) -> int:
    """About what a row adds to an INSERT, to cut batches: its values' raw text (binary as hex,
    sent to UNHEX). Escapes are not counted, as batches are cut at half the packet; a row that
    goes alone is measured with its escapes (``_Loader._require_fits``)."""
    return sum(len(v) for v in row if v is not None) + 4 * len(row)


def _batches(
    chunks: Iterator[list[list[Value]]], max_bytes: int = BATCH_BYTES
) -> Iterator[list[list[Value]]]:
    """Re-cut the archive's chunks into INSERTs of at most BATCH_ROWS rows and ~``max_bytes``
    (a longer row goes alone)."""
    batch: list[list[Value]] = []
    size = 0
    for chunk in chunks:
        for row in chunk:
            row_size = _row_bytes(row)
            if batch and (len(batch) >= BATCH_ROWS or size + row_size > max_bytes):
                yield batch
                batch, size = [], 0
            batch.append(row)
            size += row_size
    if batch:
        yield batch
