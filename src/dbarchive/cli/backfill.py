"""``dbarchive backfill``: archive years of history with N parallel readers, resumably."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import sys
import time
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.filesize import decimal
from rich.progress import (
    BarColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from dbarchive import dates
from dbarchive.build import build_context
from dbarchive.cli.failure import TrackingReporter, combined_code
from dbarchive.cli.options import (
    config_option,
    json_option,
    load_config,
    quiet_option,
    refuse_later_today,
    selected,
    stderr_console,
    working_context,
)
from dbarchive.cli.render import Record, print_records, stdout_console
from dbarchive.config import ArchiveJob, TableSpec
from dbarchive.events import Event, LogReporter, NullReporter
from dbarchive.jobs.backfill import (
    BackfillOptions,
    BackfillReport,
    DayOutcome,
    backfill,
    backfill_days,
)
from dbarchive.jobs.capacity import BackfillEstimate, estimate_backfill
from dbarchive.throttle import StopFlag

_DATE = click.DateTime(formats=["%Y-%m-%d"])


class BackfillBar:
    """One bar for the whole backfill: days done of days, rows/s, rows and ETA."""

    def __init__(self, console: Console) -> None:
        self._progress = Progress(
            TextColumn("[bold]backfill"),
            BarColumn(),
            TextColumn("{task.completed:,.0f}/{task.total:,.0f} days"),
            TextColumn("{task.fields[rate]:>10} rows/s  {task.fields[rows]:>13} rows"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console,
        )
        self._task: TaskID | None = None
        self._started = time.monotonic()
        self._progress.start()

    def emit(self, event: Event) -> None:
        if event.step != "backfill":
            return
        total = event.data.get("days_total", 0)
        if self._task is None:
            self._task = self._progress.add_task("backfill", total=total, rate="-", rows="0")
        elapsed = time.monotonic() - self._started
        rate = f"{event.rows / elapsed:,.0f}" if elapsed > 0 else "-"
        done = event.data.get("days_done", 0)
        self._progress.update(self._task, completed=done, rate=rate, rows=f"{event.rows:,}")
        if event.kind == "info" and event.message.startswith("failed"):
            self._progress.console.print(f"{event.table} {event.day}: {event.message}")

    def close(self) -> None:
        self._progress.stop()


def _reporter(quiet: bool, console: Console) -> TrackingReporter:
    if quiet:
        return TrackingReporter(NullReporter())
    if console.is_terminal:
        return TrackingReporter(BackfillBar(console))
    import logging

    logging.basicConfig(
        stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s"
    )
    return TrackingReporter(LogReporter())


@click.command("backfill")
@config_option
@click.option("-t", "--table", "tables", multiple=True, help="Only this table (repeatable).")
@click.option("--from", "first", type=_DATE, help="First day (default: the oldest row's day).")
@click.option("--to", "last", type=_DATE,
              help="Last day (default: the day before the cutoff); a day not over is refused.")  # fmt: skip
@click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Parallel readers (each one database session).")  # fmt: skip
@click.option("--purge", is_flag=True, help="Purge each verified day before the retention cutoff.")
@click.option("--max-runtime", type=float, help="Stop cleanly after this many seconds.")
@click.option("--stop-file", type=click.Path(path_type=Path), help="Stop once this file exists.")
@click.option("--today", type=_DATE, help="Pretend today is this day (the retention cutoff).")
@quiet_option
@json_option()
def backfill_cmd(
    config_path: Path,
    tables: tuple[str, ...],
    first: Any,
    last: Any,
    workers: int,
    purge: bool,
    max_runtime: float | None,
    stop_file: Path | None,
    today: Any,
    quiet: bool,
    as_json: bool,
) -> None:
    """Archive (and with --purge delete) a range of history days, oldest first, in parallel.

    Days already archived and verified are skipped, so a killed or stopped backfill is simply
    run again. Reads are throttled like the purge ([throttle]: load, replica lag, sleep).
    Exits 0 when every day succeeded, else with the cause of the failed days (named on
    stderr; 1 when they failed for different causes), 6 when stopped, 7 on critical load.

    \b
    Examples:
      dbarchive plan -c archive.toml --backfill --workers 4     how long would it take?
      dbarchive backfill -c archive.toml -t events --workers 4
      dbarchive backfill -c archive.toml --from 2023-01-01 --to 2023-12-31 --purge
    """
    job = load_config(config_path)
    specs = selected(job, tables)
    console = stderr_console()
    reporter = _reporter(quiet or as_json, console)
    overrides: dict[str, object] = {}
    if max_runtime is not None:
        overrides["max_runtime"] = max_runtime
    if stop_file is not None:
        overrides["stop_file"] = str(stop_file)
    day_of = _date_of
    options = BackfillOptions(workers, purge, day_of(today), overrides)
    if purge and options.today is not None:
        for spec in specs:
            refuse_later_today(spec, options.today, dates.today(spec.timezone, options.clock.now()))
    planner = working_context(job)  # at [throttle] nice; the worker threads inherit it
    try:
        planner.storage.check()
        work = [(s, backfill_days(planner, s, day_of(first), day_of(last), _today(s, options)))
                for s in specs]  # fmt: skip
    finally:
        planner.close()
    stop = StopFlag()
    restore = stop.install()
    try:
        report = backfill(lambda r: build_context(job, reporter=r), work, options, stop, reporter)
    finally:
        restore()
        reporter.close()
    _render(report, as_json, quiet)
    sys.exit(_exit_code(report))


def _date_of(value: Any) -> dt.date | None:
    return value.date() if value else None


def _today(spec: TableSpec, options: BackfillOptions) -> dt.date:
    """``--today``, else today in the table's zone by the wall clock."""
    return options.today or dates.today(spec.timezone, options.clock.now())


def _exit_code(report: BackfillReport) -> int:
    if report.critical:
        return 7
    if report.stopped:
        return 6
    return combined_code(d.exit_code or 1 for d in report.failed)


def _render(report: BackfillReport, as_json: bool, quiet: bool) -> None:
    for d in report.failed:  # errors reach stderr even with --quiet or --json
        click.echo(f"{d.table} {d.day}: {d.error}", err=True)
    for reason in (report.stopped, report.critical):
        if reason:
            click.echo(reason, err=True)
    if as_json:
        click.echo(json.dumps(_report_json(report), indent=2))
        return
    if quiet:
        return
    console = stdout_console()
    records = [_table_record(name, report) for name in dict.fromkeys(d.table for d in report.days)]
    if not console.is_terminal:  # a file or a pipe: every day on its line, then the totals
        records = [*(_day_record(d) for d in report.days), *records]
    print_records(records, "dbarchive backfill", console, details="error")
    rate = report.rows_archived / report.seconds if report.seconds else 0.0
    if console.is_terminal:
        console.print(
            f"{report.seconds:.1f}s, {rate:,.0f} rows/s archived, "
            f"{report.throttle_pauses} throttle pauses"
        )
        return
    outcome = "stopped" if report.stopped else "critical_load" if report.critical else None
    summary: Record = {
        "result": outcome or ("ok" if report.ok else "FAILED"),
        "seconds": report.seconds,
        "rows_archived": report.rows_archived,
        "rows_per_second": round(rate),
        "throttle_pauses": report.throttle_pauses,
    }
    print_records([summary], "", console)


def _table_record(name: str, report: BackfillReport) -> Record:
    """A table's totals: days by what happened to them, purged days, rows and bytes archived."""
    days = [d for d in report.days if d.table == name]
    archived = [d for d in days if d.action == "archived"]
    counts = {a: sum(d.action == a for d in days) for a in _ACTIONS}
    return {
        "result": "FAILED" if counts["failed"] else "ok",
        "table": name,
        "days": len(days),
        **counts,
        "purged": sum(d.purged for d in days),
        "rows": sum(d.rows for d in archived),
        "bytes": sum(d.bytes for d in archived),
    }


def _day_record(d: DayOutcome) -> Record:
    return {
        "result": d.action,
        "table": d.table,
        "day": d.day,
        "rows": d.rows,
        "bytes": d.bytes,
        "units": d.units,
        "purged": d.purged,
        "rows_deleted": d.rows_deleted,
        "error": d.error,
    }


_ACTIONS = ("skipped", "archived", "verified", "failed", "pending")


def _report_json(report: BackfillReport) -> dict[str, Any]:
    return {
        "ok": report.ok,
        "seconds": round(report.seconds, 3),
        "rows_archived": report.rows_archived,
        "stopped": report.stopped,
        "critical": report.critical,
        "throttle_pauses": report.throttle_pauses,
        "days": [_day_json(d) for d in report.days],
    }


def _day_json(d: DayOutcome) -> dict[str, Any]:
    data = dataclasses.asdict(d)
    data["day"] = d.day.isoformat()
    return data


def backfill_plan_options(f: Any) -> Any:
    """``plan --backfill`` and the knobs of its estimate."""
    for option in reversed(
        [
            click.option("--backfill", is_flag=True, help="Estimate a backfill (see below)."),
            click.option("--workers", type=click.IntRange(1, 10_000), default=1,
                         show_default=True, help="Parallel workers (backfill estimate)."),
            click.option("--db-cap", type=click.IntRange(1, 10_000), default=None,
                         help="Sessions allowed on the database at once, e.g. the Airflow pool "
                         "(default: --workers)."),
            click.option("--rows-per-second", type=click.FloatRange(min=1), default=None,
                         help="Throughput of one worker (default: measured from the archive)."),
        ]
    ):  # fmt: skip
        f = option(f)
    return f


def render_backfill_plan(
    job: ArchiveJob,
    specs: list[TableSpec],
    first: Any,
    last: Any,
    workers: int,
    db_cap: int | None,
    rows_per_second: float | None,
    as_json: bool,
) -> None:
    """Print :func:`dbarchive.jobs.capacity.estimate_backfill` for every table."""
    ctx = build_context(job)
    cap = db_cap or workers
    try:
        estimates = []
        for spec in specs:
            options = BackfillOptions()
            days = backfill_days(ctx, spec, _date_of(first), _date_of(last), _today(spec, options))
            estimates.append(estimate_backfill(ctx, spec, days, workers, cap, rows_per_second))
    finally:
        ctx.close()
    if as_json:
        click.echo(json.dumps([_estimate_json(e) for e in estimates], indent=2))
        return
    for e in estimates:
        span = f"{e.first} .. {e.last}" if e.days else "nothing to backfill"
        click.echo(
            f"{e.table}: {e.days:,} days ({span}), ~{e.rows:,} rows, ~{decimal(e.bytes)} in the "
            f"database, {e.units:,} work units"
        )
        click.echo(
            f"  {e.workers} worker(s), database cap {e.db_cap} -> {e.parallel} at once, "
            f"{e.throughput.rows_per_second:,.0f} rows/s each ({e.throughput.source}): "
            f"~{_duration(e.seconds)}"
        )


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def _estimate_json(e: BackfillEstimate) -> dict[str, Any]:
    return {
        "table": e.table,
        "first_day": e.first.isoformat() if e.first else None,
        "last_day": e.last.isoformat() if e.last else None,
        "days": e.days,
        "rows": e.rows,
        "bytes": e.bytes,
        "units": e.units,
        "workers": e.workers,
        "db_cap": e.db_cap,
        "parallel": e.parallel,
        "rows_per_second_per_worker": round(e.throughput.rows_per_second, 1),
        "throughput_source": e.throughput.source,
        "seconds": round(e.seconds, 1),
    }


__all__ = ["backfill_cmd", "backfill_plan_options", "render_backfill_plan"]
