"""verify, purge, run and status: the commands that check the archive and shrink the database."""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import click
from rich.console import Console
from rich.table import Table

from dbarchive.build import build_context, build_throttle
from dbarchive.cli.options import (
    config_option,
    days_of,
    output_options,
    selected,
    selection_options,
    stderr_console,
    working_context,
)
from dbarchive.cli.progress import RichReporter, make_reporter
from dbarchive.config import TableSpec, load_job
from dbarchive.context import Context
from dbarchive.daily import TableReport, expired_days, run
from dbarchive.status import TableStatus, table_status
from dbarchive.steps.verify import verify_day

_DATE = click.DateTime(formats=["%Y-%m-%d"])


def _today(spec: TableSpec, given: Any) -> dt.date:
    if given:
        return given.date()  # type: ignore[no-any-return]
    return dt.datetime.now(ZoneInfo(spec.timezone)).date()


def _throttle_options(f: Any) -> Any:
    f = click.option("--max-runtime", type=float, help="Stop cleanly after this many seconds.")(f)
    f = click.option(
        "--stop-file", type=click.Path(path_type=Path), help="Stop cleanly once this file exists."
    )(f)
    return click.option(
        "--today",
        type=_DATE,
        help="Pretend today is this day (default: today in the table's zone).",
    )(f)


def _overrides(max_runtime: float | None, stop_file: Path | None) -> dict[str, object]:
    out: dict[str, object] = {}
    if max_runtime is not None:
        out["max_runtime"] = max_runtime
    if stop_file is not None:
        out["stop_file"] = str(stop_file)
    return out


@click.command("verify")
@config_option
@selection_options
@click.option(
    "--quick", is_flag=True, help="Trust object sizes and S3 checksums; do not read files."
)
@click.option("--no-source", is_flag=True, help="Do not compare with the database (archive only).")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
def verify_cmd(
    config_path: Path,
    tables: tuple[str, ...],
    date: Any,
    first: Any,
    last: Any,
    quick: bool,
    no_source: bool,
    as_json: bool,
) -> None:
    """Check archived days: manifest, files and the database's rows must all agree.

    Exits 5 if any day does not verify, naming the day and what differs.

    \b
    Examples:
      dbarchive verify -c archive.toml --date 2026-11-24
      dbarchive verify -c archive.toml -t events --from 2026-09-01 --to 2026-09-30 --quick
    """
    job = load_job(config_path)
    ctx = working_context(job)
    try:
        results = [
            verify_day(ctx, spec, day, "quick" if quick else "rows", check_source=not no_source)
            for spec in selected(job, tables)
            for day in days_of(spec, date, first, last)
        ]
    finally:
        ctx.source.close()
    if as_json:
        click.echo(
            json.dumps(
                [
                    {
                        "table": r.table,
                        "day": r.day.isoformat(),
                        "ok": r.ok,
                        "archived_rows": r.archived_rows,
                        "source_rows": r.source_rows,
                        "problems": list(r.problems),
                    }
                    for r in results
                ],
                indent=2,
            )
        )
    else:
        for r in results:
            click.echo(
                f"{'OK  ' if r.ok else 'FAIL'} {r.table} {r.day}: archive {r.archived_rows} rows, database {r.source_rows}"
            )
            for problem in r.problems:
                click.echo(f"     {problem}")
    if not all(r.ok for r in results):
        sys.exit(5)


@click.command("purge")
@config_option
@click.option("-t", "--table", "tables", multiple=True, help="Only this table (repeatable).")
@_throttle_options
@output_options
@click.option(
    "--dry-run", is_flag=True, help="List the expired days and their rows; delete nothing."
)
def purge_cmd(
    config_path: Path,
    tables: tuple[str, ...],
    today: Any,
    max_runtime: float | None,
    stop_file: Path | None,
    quiet: bool,
    as_json: bool,
    dry_run: bool,
) -> None:
    """Delete rows older than the retention window, day by day, only once each day verifies.

    \b
    Examples:
      dbarchive purge -c archive.toml --dry-run
      dbarchive purge -c archive.toml -t events --max-runtime 3600 --stop-file /tmp/stop-purge
    """
    _daily(
        config_path, tables, today, max_runtime, stop_file, quiet, as_json, dry_run, export=False
    )


@click.command("run")
@config_option
@click.option("-t", "--table", "tables", multiple=True, help="Only this table (repeatable).")
@_throttle_options
@output_options
@click.option("--no-purge", is_flag=True, help="Export and stop; delete nothing.")
def run_cmd(
    config_path: Path,
    tables: tuple[str, ...],
    today: Any,
    max_runtime: float | None,
    stop_file: Path | None,
    quiet: bool,
    as_json: bool,
    no_purge: bool,
) -> None:
    """The daily job: export yesterday (and missed days), verify, purge expired days.

    Exits 0 when every table succeeded, 1 if any failed (after doing every table it safely
    could), 6 if it was stopped by a signal, the stop file or --max-runtime.

    \b
    Examples:
      dbarchive run -c archive.toml
      dbarchive run -c archive.toml --max-runtime 7200 --json
    """
    _daily(
        config_path,
        tables,
        today,
        max_runtime,
        stop_file,
        quiet,
        as_json,
        dry_run=False,
        export=True,
        purge=not no_purge,
    )


def _daily(
    config_path: Path,
    tables: tuple[str, ...],
    today: Any,
    max_runtime: float | None,
    stop_file: Path | None,
    quiet: bool,
    as_json: bool,
    dry_run: bool,
    export: bool,
    purge: bool = True,
) -> None:
    job = load_job(config_path)
    specs = selected(job, tables)
    console = stderr_console()
    reporter = make_reporter(quiet or as_json or dry_run, console)
    ctx = working_context(job, reporter=reporter)
    if dry_run:
        _print_purge_plan(ctx, specs, today)
        return
    ctx.storage.check()
    throttle = build_throttle(ctx, _overrides(max_runtime, stop_file))
    restore = throttle.stop.install()
    ctx.check_stop = throttle.check_stop  # the export stops after its chunk too
    try:
        day = _today(specs[0], today)
        reports = run(ctx, specs, day, throttle, purge=purge, export=export)
    finally:
        restore()
        if isinstance(reporter, RichReporter):
            reporter.close()
        ctx.source.close()
    retried = ctx.source.counters.retries + ctx.source.counters.reconnects
    _render_reports(reports, throttle, as_json, quiet, console, retried)
    if any(r.stopped for r in reports):
        sys.exit(6)
    if not all(r.ok for r in reports):
        sys.exit(1)


def _print_purge_plan(ctx: Context, specs: list[TableSpec], today: Any) -> None:
    from dbarchive.daily import day_rows
    from dbarchive.sources import mysql_sql as q

    try:
        for spec in specs:
            day = _today(spec, today)
            cutoff = spec.retention.cutoff(day)
            click.echo(f"{spec.name}: retention {spec.retention}, keeps {cutoff} and later")
            for d in expired_days(ctx, spec, day):
                rows = day_rows(ctx, spec, d)
                if rows:
                    click.echo(f"  {d}: {rows:,} rows would be verified and deleted")
            info = ctx.describe(spec)
            click.echo(
                f"  per chunk: {q.delete_keys_sql(info, 2)}  (keys that matched the archive)"
            )
    finally:
        ctx.source.close()


def _render_reports(
    reports: list[TableReport],
    throttle: Any,
    as_json: bool,
    quiet: bool,
    console: Console,
    source_retries: int = 0,
) -> None:
    for r in reports:  # errors reach stderr even with --quiet or --json: cron mails them
        for message in [*r.errors, *([r.stopped] if r.stopped else [])]:
            click.echo(f"{r.table}: {message}", err=True)
    if as_json:
        click.echo(
            json.dumps(
                [_report_json(r) for r in reports]
                + [{"throttle": vars(throttle.stats), "source_retries": source_retries}],
                indent=2,
            )
        )
        return
    if quiet:
        return
    table = Table(title="dbarchive run: days exported and purged, rows, bytes")
    for name in (
        "table",
        "exported",
        "rows",
        "bytes",
        "purged",
        "deleted",
        "secs",
        "pauses",
        "result",
    ):
        table.add_column(name, no_wrap=True)
    for r in reports:
        result = "ok" if r.ok else ("stopped" if r.stopped else "FAILED")
        table.add_row(
            r.table,
            str(len(r.exported)),
            f"{r.rows_exported:,}",
            f"{r.bytes_exported:,}",
            str(len(r.purged)),
            f"{r.rows_deleted:,}",
            f"{r.seconds:.1f}",
            str(r.throttle_pauses),
            result,
        )
    console.print(table)
    stats = throttle.stats
    console.print(
        f"throttle: {stats.pauses} pauses, {stats.paused_seconds:.1f}s paused, {stats.slept_seconds:.1f}s slept"
    )


def _report_json(r: TableReport) -> dict[str, Any]:
    return {
        "table": r.table,
        "ok": r.ok,
        "exported": [
            {"day": e.day.isoformat(), "rows": e.rows, "bytes": e.bytes} for e in r.exported
        ],
        "purged": [
            {
                "day": p.day.isoformat(),
                "rows_deleted": p.rows_deleted,
                "rows_kept": p.rows_kept,
                "chunks": p.chunks,
                "retries": p.retries,
                "seconds": round(p.seconds, 3),
                "longest_chunk_seconds": round(p.longest_chunk_seconds, 4),
                "longest_delete_seconds": round(p.longest_delete_seconds, 4),
            }
            for p in r.purged
        ],
        "errors": r.errors,
        "stopped": r.stopped,
        "seconds": round(r.seconds, 3),
        "throttle_pauses": r.throttle_pauses,
    }


@click.command("status")
@config_option
@click.option("-t", "--table", "tables", multiple=True, help="Only this table (repeatable).")
@click.option("--today", type=_DATE, help="Pretend today is this day.")
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
def status_cmd(config_path: Path, tables: tuple[str, ...], today: Any, as_json: bool) -> None:
    """Per table: archived days, purged days, days still to archive, oldest row in the database.

    \b
    Examples:
      dbarchive status -c archive.toml
      dbarchive status -c archive.toml -t events --json
    """
    job = load_job(config_path)
    ctx = build_context(job)
    try:
        statuses = [table_status(ctx, spec, _today(spec, today)) for spec in selected(job, tables)]
    finally:
        ctx.source.close()
    if as_json:
        click.echo(json.dumps([s.to_json() for s in statuses], indent=2))
        return
    for s in statuses:
        _print_status(s)


def _print_status(s: TableStatus) -> None:
    click.echo(f"{s.table}: retention {s.retention} (keeps {s.cutoff} and later)")
    click.echo(f"  oldest row in the database: {s.oldest_day or '-'}")
    archived = s.archived_days
    span = f"{archived[0]} .. {archived[-1]}" if archived else "-"
    click.echo(
        f"  archived: {len(archived)} days ({span}), {s.archived_rows:,} rows, {s.archived_bytes:,} bytes"
    )
    click.echo(
        f"  purged:   {len(s.purged_days)} days; partially purged: {', '.join(map(str, s.partial_days)) or '-'}"
    )
    click.echo(f"  pending:  {', '.join(map(str, s.pending_days)) or 'nothing to archive'}")
