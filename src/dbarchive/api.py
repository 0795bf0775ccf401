"""The public API: what the CLI, the Airflow operators and a user's own code call.

Each function takes either an :class:`ArchiveJob` (a context is opened for the call and closed
after it) or a :class:`Context` the caller owns (the CLI and Airflow build theirs with their own
reporter, storage and connections), and a table by name or by its spec. Safety-relevant options
are keyword-only. A stop request — SIGTERM/SIGINT, the throttle's ``stop_file``, ``max_runtime``
— is wired here (:func:`throttle_for`), so every caller stops the same way::

    import dbarchive, datetime as dt
    job = dbarchive.load_job("archive.toml")
    reports = dbarchive.run(job)                      # the daily job: export, verify, purge
    result = dbarchive.export(job, "events", dt.date(2026, 11, 24))
    assert dbarchive.verify(job, "events", dt.date(2026, 11, 24)).ok
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from dbarchive.build import build_context, build_throttle
from dbarchive.config import ArchiveJob, TableSpec
from dbarchive.context import Context
from dbarchive.errors import ConfigError
from dbarchive.events import LogReporter
from dbarchive.jobs import daily
from dbarchive.jobs.audit import AuditReport, audit_table
from dbarchive.jobs.erase import EraseReport
from dbarchive.jobs.erase import erase as erase_rows
from dbarchive.jobs.hold import HoldResult, hold_days
from dbarchive.jobs.lifecycle import LifecyclePlan, lifecycle_plan
from dbarchive.jobs.purge_preview import PurgePreview, preview
from dbarchive.jobs.restore import RestoreResult, restore_day
from dbarchive.jobs.status import TableStatus, table_status
from dbarchive.jobs.table_report import TableReport
from dbarchive.pipeline import PlannedPartition, export_day_as_configured, plan_day
from dbarchive.row_filter import parse_where
from dbarchive.steps.archive_files import FileCheck
from dbarchive.steps.outcome import ExportResult
from dbarchive.steps.verify import VerifyResult, verify_day
from dbarchive.throttle import StopFlag, Throttle

T = TypeVar("T")
JobOrContext = ArchiveJob | Context
Table = str | TableSpec
Day = dt.date | str  # a date, or its ISO text ("2026-11-24")


def _day(value: Day) -> dt.date:
    """``value`` as a date; ISO text is read, anything else is a ConfigError naming it."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{value!r} is not a day: give a date or 'YYYY-MM-DD'") from None


def _maybe_day(value: Day | None) -> dt.date | None:
    return None if value is None else _day(value)


@contextmanager
def session(target: JobOrContext) -> Iterator[Context]:
    """The context to work in: the caller's, or one opened for ``job`` and closed after. An
    opened one reports to the ``dbarchive`` logger (progress at INFO, every chunk at DEBUG), so
    a program's logging configuration decides what is shown."""
    if isinstance(target, Context):
        yield target
        return
    ctx = build_context(target, reporter=LogReporter())
    try:
        yield ctx
    finally:
        ctx.close()


def throttle_for(
    ctx: Context,
    *,
    max_runtime: float | None = None,
    stop_file: Path | str | None = None,
    stop: StopFlag | None = None,
) -> Throttle:
    """The job's throttle (with these overrides), wired into ``ctx`` so an export also stops
    after its chunk on a stop request, the ``stop_file`` or ``max_runtime``."""
    overrides: dict[str, object] = {}
    if max_runtime is not None:
        overrides["max_runtime"] = max_runtime
    if stop_file is not None:
        overrides["stop_file"] = str(stop_file)
    built = build_throttle(ctx, overrides or None, stop)
    ctx.check_stop = built.check_stop
    return built


def plan(target: JobOrContext, table: Table, day: Day) -> PlannedPartition:
    """What exporting ``day`` of ``table`` would do, touching nothing (a day not over: refused)."""
    return _with(target, lambda ctx: plan_day(ctx, _spec(ctx, table), _day(day)))


def export(
    target: JobOrContext, table: Table, day: Day, *, stopping: Throttle | None = None
) -> ExportResult:
    """Archive ``day`` of ``table`` as configured (in work units for a ranged table) and publish
    it; a day whose purge has begun grows, the same rows publish nothing (docs/design)."""
    return _with(
        target, lambda ctx: export_day_as_configured(ctx, _spec(ctx, table), _day(day), stopping)
    )


def verify(
    target: JobOrContext,
    table: Table,
    day: Day,
    *,
    depth: FileCheck = "rows",
    check_source: bool = True,
) -> VerifyResult:
    """Compare the day's manifest, files (as deep as ``depth``) and, unless ``check_source`` is
    False, the database's rows; ``ok`` only when all agree."""
    return _with(
        target,
        lambda ctx: verify_day(ctx, _spec(ctx, table), _day(day), depth, check_source=check_source),
    )


def run(
    target: JobOrContext,
    tables: Sequence[Table] | Table = (),
    *,
    today: Day | None = None,
    export: bool = True,
    purge: bool = True,
    stopping: Throttle | None = None,
) -> list[TableReport]:
    """The daily job for ``tables`` (default: every configured one): export yesterday and missed
    days, then verify and purge the days past retention. ``today`` moves the retention cutoff,
    never the rule that a day must be over (plus ``settle``) to be exported. One table may be
    given alone (``run(job, "events")``)."""
    named = [tables] if isinstance(tables, str | TableSpec) else list(tables)

    def work(ctx: Context) -> list[TableReport]:
        specs = [_spec(ctx, t) for t in named] or list(ctx.job.tables)
        throttle = stopping or throttle_for(ctx)
        try:
            return daily.run(ctx, specs, _maybe_day(today), throttle, purge=purge, export=export)
        finally:
            if stopping is None:
                throttle.close()  # its latency probe and replica sessions; the caller's stays

    return _with(target, work)


def purge(
    target: JobOrContext,
    tables: Sequence[Table] | Table = (),
    *,
    today: Day | None = None,
    stopping: Throttle | None = None,
) -> list[TableReport]:
    """Only the purge of :func:`run`: days past retention, each verified (exported first if it
    has no archive) before a row of it is deleted."""
    return run(target, tables, today=today, export=False, purge=True, stopping=stopping)


def purge_preview(
    target: JobOrContext, tables: Sequence[Table] | Table = (), *, today: Day | None = None
) -> list[PurgePreview]:
    """What :func:`purge` would do (``purge --dry-run``), changing nothing: per table, its
    cutoff and each expired day's rows, with the days it would export first and the days that
    would keep their rows, and why."""
    named = [tables] if isinstance(tables, str | TableSpec) else list(tables)

    def work(ctx: Context) -> list[PurgePreview]:
        specs = [_spec(ctx, t) for t in named] or list(ctx.job.tables)
        given = _maybe_day(today)
        return [preview(ctx, spec, given or ctx.today(spec)) for spec in specs]

    return _with(target, work)


def restore(
    target: JobOrContext,
    table: Table,
    day: Day,
    *,
    into: str | None = None,
    replace: bool = False,
    stopping: Throttle | None = None,
) -> RestoreResult:
    """Load an archived day back into ``into`` (default: its own table) and prove it."""
    return _with(
        target,
        lambda ctx: restore_day(ctx, _spec(ctx, table), _day(day), into, replace, stopping),
    )


def status(target: JobOrContext, table: Table, *, today: Day | None = None) -> TableStatus:
    """What is archived, purged, restored and pending for ``table``."""

    def work(ctx: Context) -> TableStatus:
        spec = _spec(ctx, table)
        return table_status(ctx, spec, _maybe_day(today) or ctx.today(spec))

    return _with(target, work)


def hold(
    target: JobOrContext, table: Table, first: dt.date, last: dt.date, *, release: bool = False
) -> HoldResult:
    """Set (or, with ``release``, clear) the S3 Object Lock legal hold on every object version
    the committed manifests of ``first``..``last`` name; reports what changed."""
    return _with(target, lambda ctx: hold_days(ctx, _spec(ctx, table), first, last, not release))


def lifecycle(target: JobOrContext, *, scan: bool = True) -> LifecyclePlan:
    """The S3 Lifecycle configuration ``[destination] lifecycle`` asks for (printed, not
    applied); ``scan`` counts data files too small for S3 to move."""
    return _with(target, lambda ctx: lifecycle_plan(ctx, scan))


def audit(
    target: JobOrContext,
    table: Table,
    *,
    first: dt.date | None = None,
    last: dt.date | None = None,
    check_source: bool = True,
) -> AuditReport:
    """Check ``table``'s deletion ledger from ``first`` to ``last`` (default: every day it has):
    the hash chains and signatures, that each deletion's rows are in the archive files it names,
    and (unless ``check_source`` is False) that the database holds none of the deleted keys.
    ``ok`` only when nothing is broken."""
    return _with(
        target,
        lambda ctx: audit_table(ctx, _spec(ctx, table), first, last, check_source=check_source),
    )


def erase(
    target: JobOrContext,
    table: Table,
    first: dt.date,
    last: dt.date,
    where: str,
    *,
    dry_run: bool = False,
    stopping: StopFlag | None = None,
) -> EraseReport:
    """Erase the archived rows ``where`` matches (``customer_id = 42``; the grammar is in
    ``dbarchive.row_filter``) from the days ``first``..``last``: each day is rewritten without
    every version of the matching keys, and the result read back to prove them gone. Days whose
    rows the database still holds are refused (``report.refused``); an archive under Object Lock
    is refused whole (ConfigError). ``dry_run``: count only. ``stopping`` (set by a signal):
    stop before the next day, the days done proven, and raise StopRequested naming the rest."""
    parsed = parse_where(where)
    return _with(
        target,
        lambda ctx: erase_rows(
            ctx, _spec(ctx, table), first, last, parsed, dry_run=dry_run, stopping=stopping
        ),
    )


def _with(target: JobOrContext, action: Callable[[Context], T]) -> T:
    with session(target) as ctx:
        return action(ctx)


def _spec(ctx: Context, table: Table) -> TableSpec:
    return table if isinstance(table, TableSpec) else ctx.job.table(table)
