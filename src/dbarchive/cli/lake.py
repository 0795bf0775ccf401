"""The data-lake commands: ``ddl`` (table definitions for query engines) and ``restore``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import click

from dbarchive.build import build_storage, build_throttle
from dbarchive.cli.options import config_option, stderr_console, working_context
from dbarchive.config import ArchiveJob, load_job
from dbarchive.ddl import ENGINES, ddl_text, read_definition
from dbarchive.restore import RestoreResult, restore_day

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
def ddl_cmd(config_path: Path, table: str, engine: str, database: str, apply: bool) -> None:
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
    """
    if apply and engine != "glue":
        raise click.UsageError("--apply registers a Glue table: use it with --engine glue")
    job = load_job(config_path)
    spec = job.table(table)
    storage = build_storage(job)
    defn = read_definition(storage, _location_root(job), spec.name, job.destination.layout)
    if engine == "glue":
        for note in defn.notes:
            click.echo(f"note: {note}", err=True)
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
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def restore_cmd(
    config_path: Path, table: str, date: Any, into: str | None, replace: bool, as_json: bool
) -> None:
    """Load an archived day back into MySQL, checked before and verified after.

    The partition's files are checked against the manifest first (nothing changes if one
    differs); rows go back in small batches, skipping keys already there (or overwriting them
    with --replace); then the day in the target must have the manifest's row digest.
    Restoring --into a new table is the safe way to look at old data.

    \b
    Examples:
      dbarchive restore -c archive.toml -t events --date 2026-05-01 --into events_20260501
      dbarchive restore -c archive.toml -t events --date 2026-05-01
      dbarchive restore -c archive.toml -t events --date 2026-05-01 --replace --json
    """
    job = load_job(config_path)
    spec = job.table(table)
    ctx = working_context(job)
    try:
        result = restore_day(ctx, spec, date.date(), into, replace, build_throttle(ctx))
    finally:
        ctx.source.close()
    _render(result, as_json)
    if not result.ok:
        sys.exit(5)


def _render(r: RestoreResult, as_json: bool) -> None:
    if as_json:
        data = {
            "table": r.table,
            "into": r.into,
            "day": r.day.isoformat(),
            "archived_rows": r.archived_rows,
            "written": r.written,
            "skipped": r.skipped,
            "batches": r.batches,
            "created_table": r.created_table,
            "verified": r.ok,
            "problems": list(r.problems),
        }
        click.echo(json.dumps(data, indent=2))
        return
    console = stderr_console()
    created = " (created)" if r.created_table else ""
    console.print(
        f"{r.table} {r.day} -> {r.into}{created}: {r.written:,} rows written, {r.skipped:,} "
        f"already there, {r.batches} batch(es); "
        + ("verified: the day matches the archive" if r.ok else "NOT verified")
    )
    for problem in r.problems:
        console.print(f"problem: {problem}")
