"""The daily job per table: export yesterday (and missed days), then purge the expired days.

Purge, for each day older than the retention cutoff, oldest first:
1. the day must be archived: export it first if it has no manifest (``on_unarchived="export"``)
   or stop (``"fail"``);
2. verify it — manifest, files read back, and the database's digest of the day; if the database
   holds rows the archive lacks (late rows), export the day again and verify again;
3. delete exactly the archived rows, chunk by chunk (``steps/purge.py``).
A table stops at its first day that fails; other tables go on. Nothing is deleted unverified.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field

from dbarchive import failpoints
from dbarchive.checks import require_delete
from dbarchive.config import TableSpec
from dbarchive.context import Context
from dbarchive.dates import day_range
from dbarchive.errors import AlreadyRunning, DbArchiveError, StopRequested, VerificationError
from dbarchive.events import Event
from dbarchive.pipeline import ExportResult
from dbarchive.sources.table import ScanPlan
from dbarchive.steps import partitions, upload
from dbarchive.steps.purge import ChunkSizer, PurgeResult, finish_interrupted, purge_day
from dbarchive.steps.units import export_day_as_configured
from dbarchive.steps.verify import KnownDay, VerifyResult, verify_day
from dbarchive.throttle import CriticalLoad, Throttle


@dataclass
class TableReport:
    """Everything one table's run did, and what went wrong."""

    table: str
    exported: list[ExportResult] = field(default_factory=list)
    verified: list[VerifyResult] = field(default_factory=list)
    purged: list[PurgeResult] = field(default_factory=list)
    dropped: list[partitions.DroppedPartition] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    stopped: str | None = None
    seconds: float = 0.0
    throttle_pauses: int = 0

    @property
    def ok(self) -> bool:
        return not self.errors and self.stopped is None

    @property
    def rows_exported(self) -> int:
        return sum(r.rows for r in self.exported)

    @property
    def bytes_exported(self) -> int:
        return sum(r.bytes for r in self.exported)

    @property
    def rows_deleted(self) -> int:
        return sum(p.rows_deleted for p in self.purged) + sum(d.rows for d in self.dropped)


def expired_days(ctx: Context, spec: TableSpec, today: dt.date) -> list[dt.date]:
    """Days from the oldest row's day up to (not including) the retention cutoff."""
    info = ctx.describe(spec)
    oldest = ctx.source.oldest_day(spec, info)
    cutoff = spec.retention.cutoff(today)
    if oldest is None or oldest >= cutoff:
        return []
    return day_range(oldest, cutoff - dt.timedelta(days=1), limit=100_000)


def day_rows(ctx: Context, spec: TableSpec, day: dt.date) -> int:
    return _day_plan(ctx, spec, day).estimated_rows


def _day_plan(ctx: Context, spec: TableSpec, day: dt.date, scan: str | None = None) -> ScanPlan:
    """The day's scan plan: its row count and key bounds (one short index-only statement)."""
    info = ctx.describe(spec)
    window = ctx.source.window(spec, info, day)
    return ctx.source.plan_scan(info, window, scan or ("key" if len(info.key) == 1 else "time"))


def ready_for_purge(
    ctx: Context,
    spec: TableSpec,
    day: dt.date,
    report: TableReport,
    plan: ScanPlan | None = None,
) -> KnownDay:
    """Make sure the day is archived and verified against the database.

    Returns its manifest, purge record and scan plan (in the archive's strategy), each read once,
    for the purge that follows. ``plan``: the day's plan if the caller has one.
    """
    partition = ctx.partition(spec, day)
    if upload.read_manifest(ctx.storage, partition) is None:
        _export_unarchived(ctx, spec, day, report, "it has rows but no archive")
    known = _known(ctx, spec, day, plan)
    partially_purged = known.marker is not None
    # The files' bytes are checked here; their rows are re-hashed by the purge as it reads them.
    result = verify_day(ctx, spec, day, "bytes", not partially_purged, known)
    if not result.ok and not partially_purged and _only_source_differs(result):
        _export_unarchived(ctx, spec, day, report, "the database holds rows the archive lacks")
        known = _known(ctx, spec, day, None)
        result = verify_day(ctx, spec, day, "bytes", True, known)
    report.verified.append(result)
    if not result.ok:
        raise VerificationError("; ".join(result.problems))
    failpoints.hit("purge.after-verify")
    return known


def _known(ctx: Context, spec: TableSpec, day: dt.date, plan: ScanPlan | None) -> KnownDay:
    partition = ctx.partition(spec, day)
    manifest = upload.read_manifest(ctx.storage, partition)
    assert manifest is not None
    if plan is None or plan.strategy != manifest.scan:
        plan = _day_plan(ctx, spec, day, manifest.scan)
    return KnownDay(manifest, upload.read_purge_marker(ctx.storage, partition), plan)


def _only_source_differs(result: VerifyResult) -> bool:
    return result.archived_rows is not None and all(
        "the database holds" in p for p in result.problems
    )


def _export_unarchived(
    ctx: Context, spec: TableSpec, day: dt.date, report: TableReport, why: str
) -> None:
    if spec.on_unarchived == "fail":
        raise VerificationError(
            f"{spec.name} {day}: {why}; on_unarchived = 'fail', so it is not purged"
        )
    report.exported.append(export_day_as_configured(ctx, spec, day))


def _drop_expired_partitions(
    ctx: Context, spec: TableSpec, today: dt.date, report: TableReport
) -> None:
    """Drop partitions wholly before the cutoff once every day in them is verified."""
    info = ctx.describe(spec)
    for part, days in partitions.droppable(ctx, spec, info, spec.retention.cutoff(today)):
        verified = 0
        busy_days = [d for d in days if day_rows(ctx, spec, d)]
        for day in busy_days:
            manifest = ready_for_purge(ctx, spec, day, report).manifest
            assert manifest is not None
            verified += manifest.rows
        report.dropped.append(partitions.drop_partition(ctx, spec, info, part, verified, busy_days))


def purge_table(
    ctx: Context, spec: TableSpec, today: dt.date, throttle: Throttle, report: TableReport
) -> None:
    """Purge every expired day of one table, oldest first; stops at the first failing day."""
    ctx.source.lock_table(ctx.describe(spec))
    require_delete(ctx, spec)  # no DELETE grant: fail before any export, record or row
    finish_interrupted(ctx, spec, spec.retention.cutoff(today))
    _drop_expired_partitions(ctx, spec, today, report)
    sizer = ChunkSizer(throttle.settings)  # one per table: chunk speed is the table's
    for day in expired_days(ctx, spec, today):
        plan = _day_plan(ctx, spec, day)
        if not plan.estimated_rows:
            continue
        known = ready_for_purge(ctx, spec, day, report, plan)
        manifest = known.manifest
        assert manifest is not None
        _emit(ctx, spec, day, "start", f"deleting {manifest.rows} archived rows")
        try:
            report.purged.append(purge_day(ctx, spec, manifest, throttle, sizer, known))
        except StopRequested as exc:
            partial = getattr(exc, "partial", None)
            if partial is not None:
                report.purged.append(partial)  # what the stopped day did still counts
            raise
        if report.purged[-1].rows_kept:
            report.errors.append(
                f"{spec.name} {day}: {report.purged[-1].rows_kept} rows are not in the archive and "
                "were kept; export the day again to archive them"
            )


def catch_up_days(ctx: Context, spec: TableSpec, today: dt.date) -> list[dt.date]:
    """Yesterday, plus earlier days inside the retention window with rows but no archive.

    An archived day is exported again only if its row count in the database changed (late
    rows); so a second run on the same day exports nothing.
    """
    yesterday = today - dt.timedelta(days=1)
    cutoff = spec.retention.cutoff(today)
    oldest = ctx.source.oldest_day(spec, ctx.describe(spec)) or yesterday
    earlier = day_range(max(cutoff, oldest), yesterday, limit=100_000)[:-1]
    return [d for d in [*earlier, yesterday] if _needs_export(ctx, spec, d, always=d == yesterday)]


def _needs_export(ctx: Context, spec: TableSpec, day: dt.date, always: bool) -> bool:
    """Not archived yet (an older day only if it has rows), or its row count changed since."""
    partition = ctx.partition(spec, day)
    manifest = upload.read_manifest(ctx.storage, partition)
    if manifest is None:
        return always or day_rows(ctx, spec, day) > 0
    if upload.read_purge_marker(ctx.storage, partition) is not None:
        return False
    return day_rows(ctx, spec, day) != manifest.rows


def run_table(
    ctx: Context,
    spec: TableSpec,
    today: dt.date,
    throttle: Throttle,
    purge: bool = True,
    export: bool = True,
) -> TableReport:
    """The daily job for one table; errors are recorded in the report (CriticalLoad is raised).

    ``export=False`` is the ``purge`` command: only expired days (exported first if unarchived).
    """
    report = TableReport(spec.name)
    started, pauses = time.monotonic(), throttle.stats.pauses
    try:
        if purge:  # a purge that cannot delete fails before the export changes anything
            ctx.describe(spec)  # (an unknown table is said as such first)
            require_delete(ctx, spec)
        for day in catch_up_days(ctx, spec, today) if export else []:
            report.exported.append(export_day_as_configured(ctx, spec, day))
        if purge:
            purge_table(ctx, spec, today, throttle, report)
    except StopRequested as exc:
        report.stopped = str(exc)
    except (CriticalLoad, AlreadyRunning):
        raise  # the server is overloaded (exit 7) / another run has the table (exit 8): abort
    except DbArchiveError as exc:
        report.errors.append(str(exc))
    finally:
        report.seconds = time.monotonic() - started
        report.throttle_pauses = throttle.stats.pauses - pauses
    return report


def run(
    ctx: Context,
    specs: list[TableSpec],
    today: dt.date,
    throttle: Throttle,
    purge: bool = True,
    export: bool = True,
) -> list[TableReport]:
    """Every table in turn; a failing table does not stop the others, a stop request does."""
    reports = []
    for spec in specs:
        reports.append(run_table(ctx, spec, today, throttle, purge, export))
        if reports[-1].stopped:
            break
    return reports


def _emit(ctx: Context, spec: TableSpec, day: dt.date, kind: str, message: str) -> None:
    ctx.reporter.emit(Event("purge", spec.name, day.isoformat(), kind, message=message))
