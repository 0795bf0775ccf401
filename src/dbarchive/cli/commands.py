"""Subcommands. Each parses options, builds a Context, calls one core function and renders."""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from dbarchive import demo as demo_core
from dbarchive.build import build_context
from dbarchive.cli.backfill import backfill_plan_options, render_backfill_plan
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
from dbarchive.config import SourceSettings, TableSpec, load_job
from dbarchive.context import Context
from dbarchive.pipeline import ExportResult, PlannedPartition, export_day, plan_day
from dbarchive.steps.units import export_day_as_configured
from dbarchive.throttle import StopFlag, Throttle


@click.command("export")
@config_option
@selection_options
@output_options
@click.option("--dry-run", is_flag=True, help="Show the plan and the SQL; write nothing.")
def export_cmd(
    config_path: Path,
    tables: tuple[str, ...],
    date: Any,
    first: Any,
    last: Any,
    quiet: bool,
    as_json: bool,
    dry_run: bool,
) -> None:
    """Export table-days to the archive: CSV or Parquet parts, then the manifest.

    \b
    Examples:
      dbarchive export -c archive.toml                      yesterday, every table
      dbarchive export -c archive.toml -t events --date 2026-11-01
      dbarchive export -c archive.toml --from 2026-10-01 --to 2026-10-31 --json
    """
    job = load_job(config_path)
    specs = selected(job, tables)
    if dry_run:
        _render_plan(build_context(job), specs, date, first, last, as_json)
        return
    console = stderr_console()
    reporter = make_reporter(quiet or as_json, console)
    ctx = working_context(job, reporter=reporter)  # each export checks S3 beside MySQL's work
    results: list[ExportResult] = []
    stop = StopFlag()
    restore = stop.install()
    ctx.check_stop = Throttle(job.throttle, None, stop).check_stop
    try:
        for spec in specs:
            for day in days_of(spec, date, first, last):
                results.append(export_day_as_configured(ctx, spec, day))
    finally:
        restore()
        if isinstance(reporter, RichReporter):
            reporter.close()
        ctx.source.close()
    _render_results(results, as_json, quiet, console)


@click.command("plan")
@config_option
@selection_options
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON.")
@backfill_plan_options
def plan(
    config_path: Path,
    tables: tuple[str, ...],
    date: Any,
    first: Any,
    last: Any,
    as_json: bool,
    backfill: bool,
    workers: int,
    db_cap: int,
    rows_per_second: float | None,
) -> None:
    """Show what an export would do: windows, estimated rows, keys and SQL. Writes nothing.

    With --backfill: per table the days, rows, bytes and work units of a backfill (default: the
    oldest row's day to the day before the cutoff) and its wall time for --workers and --db-cap.

    \b
    Examples:
      dbarchive plan -c archive.toml
      dbarchive plan -c archive.toml -t events --from 2026-10-01 --to 2026-10-03 --json
      dbarchive plan -c archive.toml --backfill --workers 8 --db-cap 4
    """
    job = load_job(config_path)
    if backfill:
        render_backfill_plan(job, selected(job, tables), first, last, workers, db_cap,
                             rows_per_second, as_json)  # fmt: skip
        return
    _render_plan(build_context(job), selected(job, tables), date, first, last, as_json)


@click.command("demo")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default="dbarchive-demo-archive",
    show_default=True,
    help="Folder that receives the archive.",
)
@click.option(
    "--rows-per-day", type=click.IntRange(1, 2_000_000), default=20_000, show_default=True
)
@click.option("--days", type=click.IntRange(2, 60), default=4, show_default=True)
@click.option("-q", "--quiet", is_flag=True, help="No progress output.")
def demo(out: Path, rows_per_day: int, days: int, quiet: bool) -> None:
    """Archive yesterday of a demo log table from the local MySQL to a local folder.

    Creates the database ``dbarchive_demo`` in the server of DBARCHIVE_DEMO_URL (default
    mysql://root@127.0.0.1:3306/dbarchive_demo), fills a payments log table with a few days of
    realistic rows (NULLs, unicode, quotes, newlines, JSON, binary), exports yesterday and
    checks the archive against the database.

    \b
    Examples:
      dbarchive demo
      DBARCHIVE_DEMO_URL=mysql://me@db:3306/scratch dbarchive demo --out /tmp/archive
    """
    url = demo_core.demo_url()
    today = dt.datetime.now(dt.UTC).date()
    console = stderr_console()
    console.print(
        f"Creating demo data: {days} days x {rows_per_day:,} rows in "
        f"{SourceSettings(url=url).safe_url()}"
    )
    demo_core.create_demo_data(url, days, rows_per_day, today)
    job = demo_core.demo_job(url, out)
    spec = job.tables[0]
    reporter = make_reporter(quiet, console)
    ctx = working_context(job, reporter=reporter)
    try:
        result = export_day(ctx, spec, today - dt.timedelta(days=1))
        in_db = _database_digest(ctx, spec, result.day)
    finally:
        if isinstance(reporter, RichReporter):
            reporter.close()
        ctx.source.close()
    _render_results([result], False, False, console)
    _print_demo_guide(result, out, in_db, console)


def _database_digest(ctx: Context, spec: TableSpec, day: dt.date) -> str:
    info = ctx.describe(spec)
    return ctx.source.digest_day(info, ctx.source.window(spec, info, day)).describe()


def _print_demo_guide(result: ExportResult, out: Path, in_db: str, console: Console) -> None:
    from dbarchive.steps.upload import read_manifest
    from dbarchive.storage.local import LocalStorage

    manifest = read_manifest(LocalStorage(str(out.resolve())), _partition_of(result))
    assert manifest is not None
    same = manifest.digest.describe() == in_db
    console.print(f"\nArchive:  {out.resolve()}/{result.manifest_key.rsplit('/', 1)[0]}/")
    console.print(f"Manifest: {manifest.digest.describe()}")
    console.print(f"Database: {in_db}  {'(matches)' if same else '(DIFFERENT!)'}")
    console.print(
        "\nQuery it, e.g. with DuckDB:\n"
        f"  SELECT event_type, count(*), sum(amount) FROM read_csv('{out}/**/*.csv.gz',\n"
        "    hive_partitioning=true, header=true, quote='\"', escape='\"', nullstr='\\N',\n"
        "    allow_quoted_nulls=false) GROUP BY ALL;\n"
        "or with Python: dbarchive.formats.csv.iter_rows(gzip.open(path)) yields exact values."
    )
    if not same:
        sys.exit(5)


def _partition_of(result: ExportResult) -> Any:
    from dbarchive.layout import PartitionPath

    return PartitionPath(result.table, result.day)


def _render_results(
    results: list[ExportResult], as_json: bool, quiet: bool, console: Console
) -> None:
    if as_json:
        click.echo(json.dumps([_result_json(r) for r in results], indent=2))
        return
    if quiet:
        return
    table = Table(title="dbarchive export")
    for name in ("table", "day", "rows", "bytes", "files", "scan", "seconds"):
        table.add_column(name, justify="right" if name in {"rows", "bytes", "seconds"} else "left")
    for r in results:
        table.add_row(
            r.table,
            str(r.day),
            f"{r.rows:,}",
            f"{r.bytes:,}",
            str(len(r.files)),
            r.scan,
            f"{r.seconds:.2f}",
        )
    console.print(table)


def _result_json(r: ExportResult) -> dict[str, Any]:
    return {
        "table": r.table,
        "day": r.day.isoformat(),
        "rows": r.rows,
        "bytes": r.bytes,
        "files": list(r.files),
        "manifest": r.manifest_key,
        "scan": r.scan,
        "seconds": round(r.seconds, 3),
        "removed_stale": list(r.removed_stale),
    }


def _render_plan(
    ctx: Context, specs: list[TableSpec], date: Any, first: Any, last: Any, as_json: bool
) -> None:
    try:
        planned = [
            plan_day(ctx, spec, day) for spec in specs for day in days_of(spec, date, first, last)
        ]
    finally:
        ctx.source.close()
    if as_json:
        click.echo(json.dumps([_plan_json(p) for p in planned], indent=2))
        return
    for p in planned:
        click.echo(
            f"{p.table} {p.day}: ~{p.scan.estimated_rows:,} rows by {p.scan.strategy} "
            f"({p.scan.reason}); window [{p.window.start_param}, {p.window.end_param}); "
            f"-> {p.prefix} ({'archived: ' + str(p.archived_rows) + ' rows' if p.archived_rows is not None else 'not archived'})"
        )
        click.echo(f"  first chunk: {p.first_chunk_sql}")


def _plan_json(p: PlannedPartition) -> dict[str, Any]:
    return {
        "table": p.table,
        "day": p.day.isoformat(),
        "window": [p.window.start_param, p.window.end_param],
        "estimated_rows": p.scan.estimated_rows,
        "scan": p.scan.strategy,
        "reason": p.scan.reason,
        "prefix": p.prefix,
        "manifest": p.manifest_key,
        "archived_rows": p.archived_rows,
        "first_chunk_sql": p.first_chunk_sql,
    }


__all__ = ["demo", "export_cmd", "plan"]
