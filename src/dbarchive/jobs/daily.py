"""The daily job per table: export yesterday (and missed days), then purge the expired days.

Export: yesterday and the missed days of the retention window, each only once it has ended in the
table's zone plus ``settle`` (``dates.is_settled``); a day not over yet is skipped with a note
(the run does not fail) and caught up by a later run.

Purge, for each day older than the retention cutoff, oldest first:
1. the day must be archived: export it first if it has no manifest (``on_unarchived="export"``)
   or stop (``"fail"``);
2. verify it — manifest, files read back, and the database's digest of the day (a day whose purge
   has begun: every row left is archived); if the database holds rows the archive lacks (late or
   changed rows), export the day again — a purged day's archive grows by them — and verify again;
3. delete exactly the archived rows, chunk by chunk (``steps/purge.py``); rows that arrive or
   change during it are kept, archived by growth and purged in one more round.
A day that fails its verification, or holds text with no UTF-8 form, keeps its rows and is
reported, and the table's other days go on; any other error stops the table, and other tables go
on. Nothing is deleted unverified.
"""

from __future__ import annotations

import datetime as dt
import time

from dbarchive import failpoints, lakehouse
from dbarchive.checks import require_delete
from dbarchive.checks.dependents import require_no_cascades
from dbarchive.config import TableSpec
from dbarchive.context import Context
from dbarchive.errors import (
    AlreadyRunning,
    DbArchiveError,
    StopRequested,
    UnconvertibleTextError,
    VerificationError,
)
from dbarchive.events import Event
from dbarchive.identity import require_same_zone
from dbarchive.jobs import backlog
from dbarchive.jobs.catch_up import (
    catch_up_days,
    day_plan,
    day_rows,
    expired_days,
    waiting_days,
    waiting_note,
)
from dbarchive.jobs.table_report import TableError as TableError
from dbarchive.jobs.table_report import TableReport as TableReport
from dbarchive.ledger import hooks as ledger
from dbarchive.manifest import Manifest
from dbarchive.pipeline import export_day_as_configured
from dbarchive.sources.table import ScanPlan
from dbarchive.steps import partitions, upload
from dbarchive.steps.archive_files import FileCheck
from dbarchive.steps.archived_columns import dropped_columns_refusal
from dbarchive.steps.known_day import KnownDay
from dbarchive.steps.purge import ChunkSizer, PurgeResult, finish_interrupted, purge_day
from dbarchive.steps.verify import (
    VerifyResult,
    purge_begun,
    verify_day,
)
from dbarchive.throttle import CriticalLoad, Throttle

# What fails one day of a purge, not its table: the day's archive does not verify (its own
# files, manifest or rows), or a row of the day holds text that has no UTF-8 form. The day keeps
# its rows and is reported; the table's other days are verified on their own and go on.
DayFailure = VerificationError | UnconvertibleTextError
DAY_FAILURES = (VerificationError, UnconvertibleTextError)


def ready_for_purge(
    ctx: Context,
    spec: TableSpec,
    day: dt.date,
    report: TableReport,
    plan: ScanPlan | None = None,
    matched_rows: bool = False,
    manifest: Manifest | None = None,
) -> KnownDay:
    """Make sure the day is archived and verified against the database.

    Returns its manifest, purge record and scan plan (in the archive's strategy), each read once,
    for the purge that follows. ``plan`` and ``manifest``: the day's, if the caller has just
    read them (one read of the manifest less per day; None: read here). ``matched_rows``:
    a chunked purge follows, which deletes only rows equal to their archived rows, so a count
    equal to the archive's stands for the digest (``KnownDay.count_instead_of_digest``); a
    partition drop removes whole days at once and is always verified by digest.
    """
    _emit(ctx, spec, day, "info", "checking the day's archive before the purge")
    partition = ctx.partition(spec, day)
    manifest = manifest or upload.read_manifest(ctx.storage, partition)
    if manifest is None:
        _export_unarchived(ctx, spec, day, report, "it has rows but no archive")
    else:
        require_same_zone(spec, manifest)
    known = _known(ctx, spec, day, plan, matched_rows, manifest)
    if known.manifest is not None:
        lakehouse.commit_day(ctx, spec, known.manifest)  # a snapshot a killed export did not commit
    # Before a chunked purge each file's size (and S3 checksum) is checked here, its SHA-256 as
    # the purge copies it, before any row of it is matched; reading every file twice doubled
    # the purge's reads of the archive. A partition drop has every file's bytes checked first.
    depth: FileCheck = "quick" if matched_rows else "bytes"
    result = verify_day(ctx, spec, day, depth, True, known)
    if result.column_change is not None and result.column_change.dropped:
        begun = purge_begun(known.marker)
        raise VerificationError(
            dropped_columns_refusal(spec.name, day, result.column_change, begun)
        )
    if _rows_gone(result, known):  # deleted or moved away since: the archive may only grow
        upload.mark_rows_gone(ctx.storage, ctx.partition(spec, day))
        known = _known(ctx, spec, day, known.plan, matched_rows, known.manifest)
        result = verify_day(ctx, spec, day, depth, True, known)
    if why := _export_again(result, purge_begun(known.marker)):
        _export_unarchived(ctx, spec, day, report, why)
        known = _known(ctx, spec, day, None, matched_rows)
        result = verify_day(ctx, spec, day, depth, True, known)
    report.verified.append(result)
    if not result.ok:
        raise VerificationError("; ".join(result.problems))
    failpoints.hit("purge.after-verify")
    return known


def _rows_gone(result: VerifyResult, known: KnownDay) -> bool:
    """Whether the database now holds fewer of the day's rows than its (unpurged) archive."""
    assert known.manifest is not None
    archived = known.manifest.effective_digest.count
    gone = result.source_rows is not None and result.source_rows < archived
    return gone and result.source_differs and not purge_begun(known.marker)


def _known(
    ctx: Context,
    spec: TableSpec,
    day: dt.date,
    plan: ScanPlan | None,
    matched_rows: bool,
    manifest: Manifest | None = None,
) -> KnownDay:
    """What the purge needs to know of the day; ``manifest``: the one just read, if any."""
    partition = ctx.partition(spec, day)
    manifest = manifest or upload.read_manifest(ctx.storage, partition)
    assert manifest is not None
    if plan is None or plan.strategy != manifest.scan:
        plan = day_plan(ctx, spec, day, manifest.scan, manifest)
    marker = upload.read_purge_marker(ctx.storage, partition)
    return KnownDay(manifest, marker, plan, matched_rows)


def _export_again(result: VerifyResult, begun: bool) -> str | None:
    """Why the day must be exported again before its purge, if it must: the database holds rows
    the archive lacks, or the table's columns changed since (the purge matches whole rows). A
    day whose purge has begun only grows, on its archived columns (``matching_scope``)."""
    if not result.ok:
        only = result.source_differs and len(result.problems) == 1
        return "the database holds rows the archive lacks" if only else None
    if result.column_change is not None and not begun:
        return (
            f"the table's columns changed since it was archived ({result.column_change.describe()})"
        )
    return None


def _export_unarchived(
    ctx: Context, spec: TableSpec, day: dt.date, report: TableReport, why: str
) -> None:
    if spec.on_unarchived == "fail":
        raise VerificationError(
            f"{spec.name} {day}: {why}; on_unarchived = 'fail', so it is not purged"
        )
    report.exported.append(export_day_as_configured(ctx, spec, day))


def _drop_expired_partitions(
    ctx: Context, spec: TableSpec, today: dt.date, report: TableReport, throttle: Throttle
) -> dict[dt.date, DayFailure]:
    """Drop partitions wholly before the cutoff once every day in them is verified; first finish
    a drop that was interrupted after its exchange. A partition with a day that fails is left to
    the chunked purge, which purges its other days; returns the failing days with their errors,
    for the chunked purge to report rather than verify them a second time."""
    info = ctx.describe(spec)
    recovered = partitions.recover_exchange(ctx, spec, info, throttle)
    if recovered is not None:
        report.dropped.append(recovered)
    failed: dict[dt.date, DayFailure] = {}
    if not partitions.drops_partitions(ctx, spec, info):  # a filter, a DELETE trigger: chunks
        return failed
    for part, days in partitions.droppable(ctx, spec, info, spec.retention.cutoff(today)):
        busy = [d for d in days if day_rows(ctx, spec, d)]
        if any(_purge_begun(ctx, spec, d) for d in busy):
            continue  # the database holds part of such a day: its rows go chunk by chunk
        verified = {}
        for day in busy:
            try:
                manifest = ready_for_purge(ctx, spec, day, report).manifest
            except DAY_FAILURES as exc:
                failed[day] = exc
                break
            assert manifest is not None
            verified[day] = manifest
        else:
            try:
                dropped = partitions.drop_partition(ctx, spec, info, part, days, verified, throttle)
            except partitions.PartitionRowsDiffer as exc:  # untouched: its days go chunk by chunk
                report.notes.append(str(exc))
                continue
            report.dropped.append(dropped)
    return failed


def _purge_begun(ctx: Context, spec: TableSpec, day: dt.date) -> bool:
    try:
        return purge_begun(upload.read_purge_marker(ctx.storage, ctx.partition(spec, day)))
    except VerificationError:
        return True  # a damaged record: left to the chunked purge, which reports the day


def purge_table(
    ctx: Context, spec: TableSpec, today: dt.date, throttle: Throttle, report: TableReport
) -> None:
    """Purge every expired day of one table, oldest first; a day that fails on its own
    (``DAY_FAILURES``) is reported and passed over (it keeps its rows), any other error stops
    the table."""
    ctx.source.lock_table(ctx.describe(spec))
    require_delete(ctx, spec)  # no DELETE grant: fail before any export, record or row
    ledger.reconcile_open(ctx, spec)  # intents a killed run left open: committed or void
    finish_interrupted(ctx, spec, spec.retention.cutoff(today))
    failed = _drop_expired_partitions(ctx, spec, today, report, throttle)
    sizer = ChunkSizer(throttle.settings)  # one per table: chunk speed is the table's
    for index, day in enumerate(expired_days(ctx, spec, today)):
        if index:  # the first day's was read by require_delete: a key created since stops here
            require_no_cascades(ctx, spec)
        try:
            if day in failed:  # its verification has just failed, before a partition's drop
                raise failed[day]
            purge_expired_day(ctx, spec, day, throttle, sizer, report)
        except DAY_FAILURES as exc:  # this day's rows stay; its archive is not the others'
            report.failed(exc, day)


def purge_expired_day(
    ctx: Context,
    spec: TableSpec,
    day: dt.date,
    throttle: Throttle,
    sizer: ChunkSizer,
    report: TableReport,
) -> None:
    """Verify (archiving first what the archive lacks) and purge one expired day."""
    archived = upload.read_manifest(ctx.storage, ctx.partition(spec, day))
    plan = day_plan(ctx, spec, day, manifest=archived)  # the archive's rows, if archived
    if not plan.estimated_rows:
        return
    known = ready_for_purge(ctx, spec, day, report, plan, matched_rows=True, manifest=archived)
    _purge_one(ctx, spec, day, throttle, sizer, known, report)
    if _unarchived_kept(report.purged[-1]):  # arrived or changed since the verification: again
        _purge_one(ctx, spec, day, throttle, sizer, ready_for_purge(ctx, spec, day, report), report)
    result = report.purged[-1]
    if _unarchived_kept(result):
        report.fail(
            f"{spec.name} {day}: {_unarchived_kept(result)} rows arrived or changed while the day "
            "was purged, twice, and were kept; the next run archives and purges them",
            VerificationError.exit_code,
            day,
        )
    if result.rows_held:
        failure = held_rows_failure(spec, day, result.rows_held)
        report.fail(failure, VerificationError.exit_code, day)
    if result.rows_refused:
        report.notes.append(result.refused_note())


def _unarchived_kept(result: PurgeResult) -> int:
    return result.rows_unarchived - result.rows_held


def held_rows_failure(spec: TableSpec, day: dt.date, held: int) -> str:
    return (
        f"{spec.name} {day}: kept {held} of its rows, which hold values in columns added since "
        "the day was archived: a partly purged day's archive only grows by rows of its archived "
        "columns (dbarchive verify names the columns; the table's other days went on)"
    )


def _purge_one(
    ctx: Context,
    spec: TableSpec,
    day: dt.date,
    throttle: Throttle,
    sizer: ChunkSizer,
    known: KnownDay,
    report: TableReport,
) -> None:
    manifest = known.manifest
    assert manifest is not None
    _emit(ctx, spec, day, "start", f"deleting the archived rows ({manifest.rows:,} archived)")
    try:
        report.purged.append(purge_day(ctx, spec, manifest, throttle, sizer, known))
    except DbArchiveError as exc:
        partial = exc.partial
        if isinstance(partial, PurgeResult) and (
            isinstance(exc, StopRequested) or partial.rows_deleted
        ):
            report.purged.append(partial)  # what the stopped or failed day did still counts
        raise


def run_table(
    ctx: Context,
    spec: TableSpec,
    today: dt.date | None,
    throttle: Throttle,
    purge: bool = True,
    export: bool = True,
) -> TableReport:
    """The daily job for one table; errors are recorded in the report (CriticalLoad is raised).

    ``today`` sets the retention cutoff and the catch-up (None: today in the table's zone by
    the wall clock); days that have not ended plus ``settle`` are skipped with a note, whatever
    it says. ``export=False`` is the ``purge`` command: only expired days (exported first if
    unarchived).
    """
    report = TableReport(spec.name)
    started, pauses = time.monotonic(), throttle.stats.pauses
    clock_today = ctx.today(spec)
    today = today or clock_today
    if purge and today > clock_today:  # allowed (a rehearsal), but never silently
        report.notes.append(
            f"{spec.name}: today is {clock_today} in the table's zone, and the retention cutoff "
            f"counts from {today}: rows up to {spec.retention.cutoff(today)} are purged, "
            f"{(today - clock_today).days} days before their retention ends"
        )
    try:
        if purge:  # a purge that cannot delete fails before the export changes anything
            ctx.describe(spec)  # (an unknown table is said as such first)
            require_delete(ctx, spec)
        if export and (waiting := waiting_days(ctx, spec, today)):
            report.notes.append(waiting_note(spec, waiting))
        paced = throttle if throttle.settings.has_budget else None  # a budget covers reads too
        for day in catch_up_days(ctx, spec, today, throttle=paced) if export else []:
            try:
                report.exported.append(export_day_as_configured(ctx, spec, day, paced))
            except DAY_FAILURES as exc:  # this day's rows stay unarchived; the others go on
                report.failed(exc, day)
        if purge:
            purge_table(ctx, spec, today, throttle, report)
    except StopRequested as exc:
        report.stopped = str(exc)
    except (CriticalLoad, AlreadyRunning) as exc:
        exc.partial = [report]  # what it did before, for the caller to say
        raise  # the server is overloaded (exit 7) / another run has the table (exit 8): abort
    except DbArchiveError as exc:
        report.failed(exc)
    finally:
        report.seconds = time.monotonic() - started
        report.throttle_pauses = throttle.stats.pauses - pauses
    # A cutoff counted from another day than the clock's (``--today``) is no backlog to record.
    if purge and today == clock_today and _purge_went_through(report):
        report.backlog, note = backlog.track(ctx, spec, today, day_rows, report.purge_outcome)
        report.notes += [note] if note else []
    return report


def _purge_went_through(report: TableReport) -> bool:
    """Whether the purge went through the table's expired days, so what is left past retention
    is its backlog: also when stopped (a purge cut short leaves one) or when some days failed
    their verification and kept their rows (they are part of it), not after any other error."""
    return all(f.day is not None for f in report.failures)


def run(
    ctx: Context,
    specs: list[TableSpec],
    today: dt.date | None,
    throttle: Throttle,
    purge: bool = True,
    export: bool = True,
) -> list[TableReport]:
    """Every table in turn; a failing table does not stop the others, a stop request does.

    ``today``: the day the retention cutoff counts from (None: each table's own today).
    """
    reports: list[TableReport] = []
    for spec in specs:
        try:
            reports.append(run_table(ctx, spec, today, throttle, purge, export))
        except (CriticalLoad, AlreadyRunning) as exc:  # the tables done before it count too
            exc.partial = [*reports, *(exc.partial if isinstance(exc.partial, list) else [])]
            raise
        if reports[-1].stopped:
            break
    return reports


def _emit(ctx: Context, spec: TableSpec, day: dt.date, kind: str, message: str) -> None:
    ctx.reporter.emit(Event("purge", spec.name, day.isoformat(), kind, message=message))
