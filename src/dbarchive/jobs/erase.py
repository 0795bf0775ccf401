"""``dbarchive erase``: remove one data subject's rows from the archive (an erasure request).

For each archived day in the range (``steps/erase.py`` rewrites a day):

1. **Refused up front**, changing nothing: an archive under S3 Object Lock (its versions cannot be
   deleted before their retention ends — that is what the lock is for), a filter outside the
   grammar or naming a column the archive lacks.
2. **A day the database still holds matching rows of is refused** (named, with the count): the
   next purge would export them again. Delete them in the database first.
3. With the deletion ledger on, the day's earlier deletions are audited against the archive
   before it changes (a later audit cannot read the replaced files), and the erasure is a
   ledger record: intent before the new generation is published, outcome after.
4. The day is rewritten without every version of each matching key and published; the replaced
   files are deleted, and on a versioned bucket their versions too.
5. **Proven gone**: the new files are read back (size, SHA-256, row digest) and hold no matching
   row; an Iceberg table's current snapshot holds none either, and its older snapshots — which
   still name the replaced files — are expired.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from dbarchive import lakehouse
from dbarchive.config import TableSpec
from dbarchive.context import Context
from dbarchive.dates import day_range
from dbarchive.errors import ConfigError, StopRequested, StorageError, VerificationError
from dbarchive.layout import PartitionPath, is_part_name, is_staged_name
from dbarchive.ledger import hooks as ledger
from dbarchive.manifest import Manifest
from dbarchive.row_filter import RowFilter
from dbarchive.sources import mysql_sql as q
from dbarchive.steps import publish, upload
from dbarchive.steps.archive_files import check_files, iter_archive_chunks
from dbarchive.steps.erase import DayErasure, erase_rows, matching_keys
from dbarchive.storage.base import locking
from dbarchive.throttle import StopFlag

MAX_DAYS = 3660


@dataclass
class EraseReport:
    """What ``erase`` did (or, with ``dry_run``, would do), day by day."""

    table: str
    where: str
    dry_run: bool
    days: list[DayErasure] = field(default_factory=list)  # days that held matching rows
    refused: dict[dt.date, str] = field(default_factory=dict)
    not_archived: list[dt.date] = field(default_factory=list)
    expired_snapshots: int = 0
    removed_metadata: int = 0  # Iceberg metadata files only the expired snapshots reached

    @property
    def ok(self) -> bool:
        return not self.refused

    @property
    def rows(self) -> int:
        return sum(d.rows for d in self.days)

    def summary(self) -> str:
        verb = "would erase" if self.dry_run else "erased"
        erased = sum(1 for d in self.days if d.rows)
        head = (
            f"{self.table}: {verb} {self.rows} row(s) matching {self.where!r} from {erased} day(s)"
        )
        if swept := len(self.days) - erased:  # a rerun that only finished a stopped run's work
            head += f"; {swept} day(s) cleaned up after a stopped run"
        lines = [head]
        for d in self.days:
            done = (
                ""
                if self.dry_run
                else (
                    f", generation {d.generation}, {len(d.removed_files)} file(s) replaced and deleted"
                )
            )
            if d.left_behind and not self.dry_run:
                done += f", {len(d.left_behind)} file(s) a stopped run left deleted"
            lines.append(f"  {d.day}: {d.rows} row(s){done}")
        for day, why in sorted(self.refused.items()):
            lines.append(f"  {day}: NOT erased: {why}")
        if self.expired_snapshots:
            lines.append(
                f"  Iceberg: {self.expired_snapshots} older snapshot(s) expired (they named the "
                f"replaced files) and {self.removed_metadata} metadata file(s) only they reached "
                "deleted; time travel before the erasure is no longer possible"
            )
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        return {
            "table": self.table, "where": self.where, "dry_run": self.dry_run, "ok": self.ok,
            "rows": self.rows, "expired_snapshots": self.expired_snapshots,
            "removed_metadata": self.removed_metadata,
            "days": [{"day": d.day.isoformat(), "rows": d.rows, "generation": d.generation,
                      "removed_files": d.removed_files, "left_behind": d.left_behind}
                     for d in self.days],
            "refused": {d.isoformat(): why for d, why in sorted(self.refused.items())},
            "not_archived": [d.isoformat() for d in self.not_archived],
        }  # fmt: skip


def erase(
    ctx: Context,
    spec: TableSpec,
    first: dt.date,
    last: dt.date,
    where: RowFilter,
    dry_run: bool = False,
    stopping: StopFlag | None = None,
) -> EraseReport:
    """Erase the rows ``where`` matches from the archived days ``first``..``last``; a stop asked
    on ``stopping`` ends it before the next day (StopRequested, after the days done are proven)."""
    refuse_locked(ctx)
    if not dry_run:  # one run per table: an export or purge publishing a generation meanwhile
        ctx.source.lock_table(ctx.describe(spec))  # would race this one's (AlreadyRunning)
    report = EraseReport(spec.name, where.text, dry_run)
    held = _Holds(ctx)
    days = day_range(first, last, limit=MAX_DAYS)
    left: list[dt.date] = []
    for index, day in enumerate(days):
        if stopping is not None and stopping.requested:
            left = days[index:]
            break
        partition = ctx.partition(spec, day)
        manifest = upload.read_manifest(ctx.storage, partition)
        if manifest is None:
            report.not_archived.append(day)
            continue
        where.bind([c.name for c in manifest.columns])  # an unknown column: refused, no change
        in_database = _matching_in_database(ctx, spec, day, where)
        if in_database:
            report.refused[day] = (
                f"the database still holds {in_database} matching row(s) of the day; delete them "
                "there first (else the next purge archives them again), then run erase again"
            )
            continue
        if held.any_in(partition):
            report.refused[day] = (
                "a version of its files is under legal hold, which no erasure may delete; "
                "release it first (dbarchive hold --release), then run erase again"
            )
            continue
        try:
            unresolved = 0 if dry_run else _audit_before(ctx, spec, day)
        except VerificationError as exc:  # this day only: the days before it were erased
            report.refused[day] = str(exc)  # (said "nothing was erased": an outside trial)
            continue
        done = _erase_day(ctx, spec, manifest, where, dry_run, unresolved)
        if not dry_run:
            done.left_behind = _sweep(ctx, spec, day, set(done.removed_files))
        if done.rows or done.left_behind:
            report.days.append(done)
    if report.days and not dry_run:
        report.expired_snapshots, report.removed_metadata = lakehouse.forget_history(ctx, spec)
        for done in report.days:
            _prove_gone(ctx, spec, done.day, where)
    if left:
        assert stopping is not None
        erased = f"{len(report.days)} day(s) erased and proven" if report.days else "nothing erased"
        raise StopRequested(
            f"{spec.name}: erase stopped ({stopping.reason}): {erased}; not reached: "
            f"{left[0]} .. {left[-1]} ({len(left)} day(s)); run the same erase again for them "
            "(days already erased have nothing left to erase)"
        )
    return report


class _Holds:
    """Whether a day's stored versions are under legal hold (asked only of a bucket with
    Object Lock enabled: elsewhere no version is held)."""

    def __init__(self, ctx: Context) -> None:
        storage = locking(ctx.storage)
        try:
            locked = storage is not None and storage.has_object_lock()
        except StorageError:  # not allowed to ask: a held version then refuses its delete
            locked = False
        self._storage = storage if locked else None

    def any_in(self, partition: PartitionPath) -> bool:
        storage = self._storage
        if storage is None:
            return False
        return any(storage.is_held(k, v) for k, v in storage.list_versions(partition.prefix))


def refuse_locked(ctx: Context) -> None:
    """Object Lock exists so that nothing can delete the archive early: erasure cannot work."""
    lock = ctx.job.destination.object_lock
    if lock is not None:
        raise ConfigError(
            f"the archive is under S3 Object Lock ({lock.mode}, {lock.retain}): no version of "
            "its files can be deleted before its retention ends, so rows cannot be erased from "
            "it (dbarchive never asks to bypass retention). Erasure and WORM retention exclude "
            "each other: archive such data to a destination without object_lock (another job)"
        )


def _erase_day(
    ctx: Context,
    spec: TableSpec,
    manifest: Manifest,
    where: RowFilter,
    dry_run: bool,
    unresolved: int,
) -> DayErasure:
    """Erase one day; with the ledger on, recorded, unless nothing matches and no earlier
    intent is open (a killed erasure's, which this record resolves)."""
    partition = ctx.partition(spec, manifest.day)
    if dry_run or not ledger.enabled(ctx):
        done = erase_rows(ctx, spec, partition, manifest, where, dry_run)
    elif not (found := matching_keys(ctx, manifest, where)).keys and not unresolved:
        done = DayErasure(manifest.day)  # nothing to erase: no record of an erasure
    else:
        with ledger.for_erase(ctx, spec, manifest, where.text) as record:
            done = erase_rows(ctx, spec, partition, manifest, where, found=found)
            record.finished(done.rows, done.erased, done.generation)
    return done


def _matching_in_database(ctx: Context, spec: TableSpec, day: dt.date, where: RowFilter) -> int:
    info = ctx.describe(spec)
    names = {c.name for c in info.columns}
    conditions = [c for c in where.conditions if c.column in names]
    if len(conditions) < len(where.conditions):
        return 0  # a column the table no longer has: no row of it can match
    window = ctx.source.window(spec, info, day)
    sql = q.day_match_count_sql(info, [(c.column, len(c.values)) for c in conditions])
    values = [str(v) for c in conditions for v in c.values]
    rows = ctx.source.query(
        sql, (window.start_param, window.end_param, *values), "counting rows to erase"
    )
    return int(rows[0][0])


def _audit_before(ctx: Context, spec: TableSpec, day: dt.date) -> int:
    """With the ledger on, the day's earlier deletions must be proven against the files the
    erasure replaces: a later audit accepts them on this proof (``jobs/audit.py``). Returns
    the day's intents still open (0 without a ledger)."""
    if not ledger.enabled(ctx):
        return 0
    from dbarchive.jobs.audit import audit_table

    audit = audit_table(ctx, spec, day, day, check_source=False)
    breaks = [b for d in audit.days for b in d.breaks]
    if breaks:
        raise VerificationError(
            f"the deletion ledger does not match the archive ({breaks[0]}), so the day was not "
            "erased; run dbarchive audit and resolve it first"
        )
    return sum(len(d.open) for d in audit.days)


def _sweep(ctx: Context, spec: TableSpec, day: dt.date, removed: set[str]) -> list[str]:
    """Delete what the day holds beside its committed files; the files deleted that the erasure
    itself did not just replace (``removed``).

    A run stopped after the commit left the replaced generation's files — the erased rows are in
    them — and its rerun finds nothing left to erase in the committed files; staged files of a
    stopped run are there too. On a versioned bucket a delete only hides a file, so every version
    of a data file the manifest does not name goes (the erased rows are also in the versions of
    generations replaced before, by late rows). The table's run lock is held: no export writes
    the day meanwhile. A table format's snapshot a stopped run did not commit is committed first,
    so none names a file deleted here."""
    partition = ctx.partition(spec, day)
    manifest = upload.read_manifest(ctx.storage, partition)
    assert manifest is not None
    lakehouse.commit_day(ctx, spec, manifest)  # nothing when the table holds the day already
    left = publish.clean_up(ctx.storage, partition, manifest)
    storage: Any = ctx.storage  # S3 lists and deletes versions; a folder keeps none
    # Only where the manifest names versions: an unversioned bucket lists each object once, as
    # version "null", and the committed files themselves would not match the names.
    if manifest.versions and hasattr(storage, "list_versions"):
        named = {(f.key, f.version_id) for f in manifest.files}
        storage.delete_versions(
            (key, version)
            for key, version in storage.list_versions(partition.prefix)
            if _is_data(key) and (key, version) not in named
        )
    return [key for key in left if key not in removed]


def _is_data(key: str) -> bool:
    name = key.rsplit("/", 1)[-1]
    return is_part_name(name) or is_staged_name(name)


def _prove_gone(ctx: Context, spec: TableSpec, day: dt.date, where: RowFilter) -> None:
    """Read the day back: every file intact, no matching row, the table format agreeing."""
    manifest = upload.read_manifest(ctx.storage, ctx.partition(spec, day))
    assert manifest is not None
    problems = check_files(ctx.storage, manifest, "rows") + lakehouse.day_problems(
        ctx, spec, manifest
    )
    bound = where.bind([c.name for c in manifest.columns])
    left = sum(1 for chunk in iter_archive_chunks(ctx.storage, manifest) for row in chunk
               if bound.matches(row))  # fmt: skip
    left_in_table = lakehouse.rows_matching(ctx, spec, where, day)
    if problems or left or left_in_table:
        raise VerificationError(
            f"{spec.name} {day}: after the erasure {left} archived row(s) and {left_in_table} "
            f"row(s) of the table format still match; {'; '.join(problems)}"
        )
