"""Subcommands. Each parses options, builds a Context, calls one core function and renders."""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any

import click

from dbarchive import api
from dbarchive.build import build_context
from dbarchive.checks import system_versioning_note
from dbarchive.cli.backfill import backfill_plan_options, render_backfill_plan
from dbarchive.cli.failure import WHERE
from dbarchive.cli.options import (
    archivable_days,
    config_option,
    json_option,
    load_config,
    output_options,
    quiet_option,
    selected,
    selection_options,
    stderr_console,
    working_context,
)
from dbarchive.cli.progress import make_reporter
from dbarchive.cli.render import Record, print_lines, print_records
from dbarchive.cli.reports import print_throttle
from dbarchive.config import SourceSettings, TableSpec
from dbarchive.context import Context
from dbarchive.dates import newest_settled_day
from dbarchive.jobs import demo as demo_core
from dbarchive.pipeline import PlannedPartition
from dbarchive.steps.outcome import ExportResult
from dbarchive.throttle import StopFlag


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

    A day is exported only once it has ended in its table's timezone plus `settle`; asking for
    one that has not exits 2 and writes nothing.

    \b
    Examples:
      dbarchive export -c archive.toml                      yesterday, every table
      dbarchive export -c archive.toml -t events --date 2026-11-01
      dbarchive export -c archive.toml --from 2026-10-01 --to 2026-10-31 --json
    """
    job = load_config(config_path)
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
    throttle = api.throttle_for(ctx, stop=stop)  # the export stops after its chunk on Ctrl-C
    paced = throttle if throttle.settings.has_budget else None  # a budget covers reads, as in run
    try:
        for spec, day in archivable_days(ctx, specs, date, first, last):
            WHERE.at("export", spec.name, day)
            results.append(api.export(ctx, spec, day, stopping=paced))
    finally:
        throttle.close()  # its latency probe, if a budget started one
        restore()
        reporter.close()
        ctx.close()
    _render_results(results, as_json, quiet)
    if paced is not None and not (as_json or quiet):  # what the budget did, as run says it
        print_throttle(paced.stats)


@click.command("plan")
@config_option
@selection_options
@json_option("Print the plan as JSON.")
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
    job = load_config(config_path)
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
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "parquet", "iceberg"]),
    default="csv",
    show_default=True,
    help="iceberg: Parquet files plus a SQLite Iceberg catalog in --out/_iceberg.",
)
@quiet_option
def demo(out: Path, rows_per_day: int, days: int, fmt: str, quiet: bool) -> None:
    """Archive yesterday (once it has settled) of a demo log table to a local folder.

    Drops and recreates the table ``payment_events`` in the database of DBARCHIVE_DEMO_URL
    (default mysql://root@127.0.0.1:3306/dbarchive_demo, created if missing) — only a table an
    earlier demo created: any other ``payment_events`` is left alone and the demo stops —, fills
    it with a few days of realistic rows (NULLs, unicode, quotes, newlines, JSON, binary),
    exports yesterday and checks the archive against the database.

    \b
    Examples:
      dbarchive demo
      DBARCHIVE_DEMO_URL=mysql://me@db:3306/scratch dbarchive demo --out /tmp/archive
      dbarchive demo --format iceberg
    """
    url = demo_core.demo_url()
    job = demo_core.demo_job(url, out, fmt)
    spec = job.tables[0]
    console = stderr_console()
    settings = SourceSettings(url=url)
    reporter = make_reporter(quiet, console)
    ctx = working_context(job, reporter=reporter)  # connects on first use, after the data
    day = newest_settled_day(spec, ctx.wall_clock.now())  # yesterday, once it has settled
    console.print(
        f"Creating demo data: {days} days x {rows_per_day:,} rows in the table "
        f"{demo_core.TABLE} of {settings.safe_url()} (dropped and recreated)"
    )
    WHERE.at("demo", demo_core.TABLE)
    demo_core.create_demo_data(url, days, rows_per_day, day + dt.timedelta(days=1))
    try:
        result = api.export(ctx, spec, day)
        in_db = _database_digest(ctx, spec, result.day)
    finally:
        reporter.close()
        ctx.close()
    _render_results([result], False, False)
    _print_demo_guide(result, out, in_db, fmt)


def _database_digest(ctx: Context, spec: TableSpec, day: dt.date) -> str:
    info = ctx.describe(spec)
    return ctx.source.digest_day(info, ctx.source.window(spec, info, day)).describe()


def _query_hint(out: Path, fmt: str) -> list[str]:
    """How to look at the demo's archive, for its format."""
    if fmt == "iceberg":
        return [
            "Query the Iceberg table, e.g. with pyiceberg:",
            "  from pyiceberg.catalog.sql import SqlCatalog",
            f'  catalog = SqlCatalog("dbarchive", uri="sqlite:///{out.resolve()}/_iceberg/catalog.db")',
            '  catalog.load_table("dbarchive.payment_events").scan().to_arrow()',
        ]
    if fmt == "parquet":
        return [
            "Query it, e.g. with DuckDB:",
            f"  SELECT event_type, count(*), sum(amount) FROM read_parquet('{out}/**/*.parquet',",
            "    hive_partitioning=true) GROUP BY ALL;",
        ]
    return [
        "Query it, e.g. with DuckDB:",
        f"  SELECT event_type, count(*), sum(amount) FROM read_csv('{out}/**/*.csv.gz',",
        "    hive_partitioning=true, header=true, quote='\"', escape='\"', nullstr='\\N',",
        "    allow_quoted_nulls=false, types={'amount': 'DECIMAL(18,4)'}) GROUP BY ALL;",
        "  (a CSV carries no types: `dbarchive ddl -c archive.toml --engine duckdb` types every column)",
        "or with Python: dbarchive.formats.csv.iter_rows(gzip.open(path)) yields exact values.",
    ]


def _print_demo_guide(result: ExportResult, out: Path, in_db: str, fmt: str = "csv") -> None:
    """What the demo made, how to look at it, and the next step: a config of one's own."""
    from dbarchive.steps.upload import read_manifest
    from dbarchive.storage.local import LocalStorage

    manifest = read_manifest(LocalStorage(str(out.resolve())), _partition_of(result))
    assert manifest is not None
    same = manifest.digest.describe() == in_db
    print_lines(
        [
            "",
            f"Archive:  {out.resolve()}/{result.manifest_key.rsplit('/', 1)[0]}/",
            f"Manifest: {manifest.digest.describe()}",
            f"Database: {in_db}  {'(matches)' if same else '(DIFFERENT!)'}",
            "",
            *_query_hint(out, fmt),
            "",
            "Next: archive a table of your own. Write a config from examples/archive.toml (every",
            "setting explained); the essentials are:",
            '  [source]       url = "mysql://archiver@db-host:3306/yourdb"   (password: '
            "$DBARCHIVE_MYSQL_PASSWORD)",
            '  [destination]  url = "s3://your-bucket/prefix"   (or a local folder)',
            '  [[tables]]     name = "your_table"  timestamp_column = "created_at"',
            'Compliance (README "Compliance"): [ledger] enabled = true records every purged row,',
            "  and dbarchive audit -c archive.toml -t your_table proves them; on S3, [destination]",
            '  object_lock = { mode = "COMPLIANCE", retain = "7 years" } makes the archive WORM.',
            "then: dbarchive check -c archive.toml   (what is missing: grants, bucket)",
            "      dbarchive plan -c archive.toml    (what an export would do, touching nothing)",
        ]
    )
    if not same:
        sys.exit(5)


def _partition_of(result: ExportResult) -> Any:
    from dbarchive.layout import PartitionPath

    return PartitionPath(result.table, result.day)


def _render_results(results: list[ExportResult], as_json: bool, quiet: bool) -> None:
    if as_json:
        click.echo(json.dumps([_result_json(r) for r in results], indent=2))
        return
    if quiet:
        return
    print_records([_result_record(r) for r in results], "dbarchive export")


def _result_record(r: ExportResult) -> Record:
    return {
        "result": "published" if r.published else "unchanged",
        "table": r.table,
        "day": r.day,
        "rows": r.rows,
        "bytes": r.bytes,
        "files": len(r.files),
        "generation": r.generation,
        "scan": r.scan,
        "seconds": r.seconds,
    }


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
        "generation": r.generation,
        "published": r.published,
        "overlap_seconds": round(r.overlap_seconds, 3),
    }


def _render_plan(
    ctx: Context, specs: list[TableSpec], date: Any, first: Any, last: Any, as_json: bool
) -> None:
    try:
        planned = [
            api.plan(ctx, s, day) for s, day in archivable_days(ctx, specs, date, first, last)
        ]
        notes = {
            spec.name: [n for n in (system_versioning_note(ctx, spec),) if n] for spec in specs
        }
    finally:
        ctx.close()
    if as_json:
        click.echo(json.dumps([_plan_json(p, notes[p.table]) for p in planned], indent=2))
        return
    for spec in specs:
        for note in notes[spec.name]:
            click.echo(f"note: {note}; dbarchive check says how to remove that history")
    for p in planned:
        click.echo(
            f"{p.table} {p.day}: ~{p.scan.estimated_rows:,} rows by {p.scan.strategy} "
            f"({p.scan.reason}); window [{p.window.start_param}, {p.window.end_param}); "
            f"-> {p.prefix} ({'archived: ' + str(p.archived_rows) + ' rows' if p.archived_rows is not None else 'not archived'})"
        )
        click.echo(f"  first chunk: {p.first_chunk_sql}")


def _plan_json(p: PlannedPartition, notes: list[str]) -> dict[str, Any]:
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
        "notes": notes,
    }


__all__ = ["demo", "export_cmd", "plan"]
