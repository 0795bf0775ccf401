"""The data-lake commands: ``ddl`` (table definitions for query engines) and ``restore``."""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import click

from dbarchive import api
from dbarchive.build import build_storage
from dbarchive.cli.failure import WHERE, TrackingReporter
from dbarchive.cli.options import (
    config_option,
    json_option,
    load_config,
    quiet_option,
    stderr_console,
    working_context,
)
from dbarchive.cli.progress import make_reporter
from dbarchive.cli.render import Record, print_records
from dbarchive.config import ArchiveJob
from dbarchive.ddl import ENGINES, ddl_text, engine_notes, read_definition
from dbarchive.errors import StopRequested, VerificationError
from dbarchive.jobs.restore import RestoreResult

_DATE = click.DateTime(formats=["%Y-%m-%d"])


def _location_root(job: ArchiveJob) -> str:
    """The destination as query engines address it: the s3:// URL, or an absolute local path."""
    url = job.destination.url
    parsed = urlparse(url)
    if parsed.scheme == "s3":
        return url
    return str(Path(parsed.path if parsed.scheme == "file" else url).resolve())


@click.command("ddl")
@config_option
@click.option("-t", "--table", "table", required=True, help="The configured table.")
@click.option("--engine", type=click.Choice(ENGINES), required=True, help="Query engine.")
@click.option("--database", default="default", show_default=True, help="Glue database (glue).")
@click.option("--apply", is_flag=True, help="glue: create/update the table and add partitions.")
@click.option(
    "--name",
    "lake_name",
    default=None,
    help="The table's name in the lake (default: its name; <schema>_<name> for a table of "
    "another schema).",
)
def ddl_cmd(
    config_path: Path, table: str, engine: str, database: str, apply: bool, lake_name: str | None
) -> None:
    """Print the table definition of an archived table for a query engine.

    Column types come from the manifests (the MySQL types recorded at export). When archived
    days disagree on their columns, the statements start with comments that say which days
    differ and what the definition does about it (on stderr for glue's JSON).

    \b
    Examples:
      dbarchive ddl -c archive.toml -t events --engine athena
      dbarchive ddl -c archive.toml -t events --engine databricks
      dbarchive ddl -c archive.toml -t events --engine duckdb | duckdb archive.db
      dbarchive ddl -c archive.toml -t events --engine glue --database logs > events.json
      dbarchive ddl -c archive.toml -t events --engine glue --database logs --apply
      dbarchive ddl -c archive.toml -t events --engine athena --name events_eu
    """
    if apply and engine != "glue":
        raise click.UsageError("--apply registers a Glue table: use it with --engine glue")
    job = load_config(config_path)
    spec = job.table(table)
    WHERE.at("ddl", spec.name)
    storage = build_storage(job)
    dest = job.destination
    defn = read_definition(
        storage,
        _location_root(job),
        spec.name,
        dest.layout,
        job.folder(spec),
        endpoint_url=dest.endpoint_url,
        region=dest.region,
        name=lake_name or job.lake_name(spec),
    )
    if engine == "glue":
        for note in engine_notes(engine, defn):
            click.echo(
                note if note.startswith(("WARNING:", "note:")) else f"note: {note}", err=True
            )
    if not apply:
        click.echo(ddl_text(engine, defn, database), nl=False)
        return
    import boto3

    from dbarchive.ddl.glue import apply_glue

    client = boto3.client("glue", region_name=job.destination.region)
    result = apply_glue(client, defn, database)
    verb = "created" if result.created else "updated"
    click.echo(
        f"{database}.{result.table}: table {verb}, {result.partitions_added} partition(s) added, "
        f"{result.partitions_existing} already registered"
    )


@click.command("restore")
@config_option
@click.option("-t", "--table", "table", required=True, help="The configured table.")
@click.option("--date", "date", type=_DATE, required=True, help="The archived day to restore.")
@click.option("--into", default=None, help="Restore into this table (created if missing).")
@click.option("--replace", is_flag=True, help="Overwrite rows whose key is already there.")
@json_option("Print the result as JSON.")
@quiet_option
def restore_cmd(
    config_path: Path,
    table: str,
    date: Any,
    into: str | None,
    replace: bool,
    as_json: bool,
    quiet: bool,
) -> None:
    """Load an archived day back into MySQL, checked before and verified after.

    The partition's files are checked against the manifest first (nothing changes if one
    differs); rows go back in small batches, skipping keys already there (or overwriting them
    with --replace); then the day in the target must have the manifest's row digest.
    Restoring --into a new table is the safe way to look at old data. Shows its progress (rows,
    bytes, rate, time left) on stderr; Ctrl-C stops it after the current batch (exit 6), says
    how many rows are back, and the same command carries on.

    \b
    Examples:
      dbarchive restore -c archive.toml -t events --date 2026-05-01 --into events_20260501
      dbarchive restore -c archive.toml -t events --date 2026-05-01
      dbarchive restore -c archive.toml -t events --date 2026-05-01 --replace --json
    """
    job = load_config(config_path)
    spec = job.table(table)
    day = date.date()
    reporter = make_reporter(quiet or as_json, stderr_console())
    ctx = working_context(job, reporter=reporter)
    throttle = api.throttle_for(ctx)
    restore_signals = throttle.stop.install()  # Ctrl-C: stop after the batch in hand
    WHERE.at("restore", spec.name, day)
    try:
        result = api.restore(ctx, spec, day, into=into, replace=replace, stopping=throttle)
    except StopRequested as exc:
        raise StopRequested(_what_was_left(exc, reporter, spec.name, day, into)) from None
    finally:
        restore_signals()
        reporter.close()
        ctx.close()
    _render(result, as_json, quiet)
    if not result.ok:
        sys.exit(VerificationError.exit_code)


def _what_was_left(
    exc: StopRequested, tracker: TrackingReporter, table: str, day: dt.date, into: str | None
) -> str:
    """The stop, with how many rows were back (``187,000 of 2,000,000 rows restored``)."""
    latest = tracker.latest.get(("restore", table, day.isoformat()))
    done = latest.rows if latest is not None else 0
    total = f" of {latest.total_rows:,}" if latest is not None and latest.total_rows else ""
    return (
        f"{exc}: {done:,}{total} rows of {table} {day} restored into {into or table}; the same "
        "restore carries on (rows already there are skipped)"
    )


def _render(r: RestoreResult, as_json: bool, quiet: bool) -> None:
    if quiet and not as_json:  # a failure only, on stderr (cron mails it)
        if not r.ok:
            click.echo(f"NOT verified: {'; '.join(r.problems)}", err=True)
        return
    if as_json:
        data = {
            "table": r.table,
            "into": r.into,
            "day": r.day.isoformat(),
            "archived_rows": r.archived_rows,
            "written": r.written,
            "skipped": r.skipped,
            "left": r.left,  # refused as duplicates of another live row's unique value
            "older_versions_not_restored": r.older_versions,
            "batches": r.batches,
            "created_table": r.created_table,
            "verified": r.ok,
            "problems": list(r.problems),
        }
        click.echo(json.dumps(data, indent=2))
        return
    record: Record = {
        "result": "verified" if r.ok else "NOT verified",
        "table": r.table,
        "day": r.day,
        "into": r.into,
        "created": r.created_table,
        "archived_rows": r.archived_rows,
        "written": r.written,
        "already_there": r.skipped,
        "left": r.left,
        "older_versions": r.older_versions,  # in the archive: the newest version is restored
        "batches": r.batches,
        "problems": "; ".join(r.problems) or None,
    }
    print_records([record], "dbarchive restore", details="problems")
