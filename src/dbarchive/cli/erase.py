"""``dbarchive erase``: an erasure request (a data subject's rows) applied to the archive."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from dbarchive import api
from dbarchive.cli.options import config_option, json_option, load_config
from dbarchive.errors import VerificationError
from dbarchive.throttle import StopFlag

_DATE = click.DateTime(formats=["%Y-%m-%d"])


@click.command("erase")
@config_option
@click.option("-t", "--table", "table", required=True, help="The configured table.")
@click.option(
    "--where", "where", required=True, help="The rows: column = 42 AND other IN ('a', 'b')."
)
@click.option("--from", "first", type=_DATE, required=True, help="First day (YYYY-MM-DD).")
@click.option("--to", "last", type=_DATE, help="Last day (default: --from).")
@click.option("--dry-run", is_flag=True, help="Count the rows each day holds; change nothing.")
@json_option("Print what was erased, day by day, as JSON.")
def erase_cmd(
    config_path: Path,
    table: str,
    where: str,
    first: Any,
    last: Any,
    dry_run: bool,
    as_json: bool,
) -> None:
    """Erase rows from the archive (an erasure request), proving them gone.

    Each archived day in the range is rewritten without every archived version of each key a
    matching row has, published as a new generation (an Iceberg table gets one overwrite, and its
    older snapshots, which named the old files, are expired), and read back: no matching row may
    be left. The replaced files are deleted (on a versioned bucket, their versions too). Days whose
    rows the database still holds are not erased (delete them there first) and make the command
    exit 5. An archive under S3 Object Lock cannot be erased from, by design, and is refused. With
    the deletion ledger on, each erasure is a ledger record.

    \b
    Examples:
      dbarchive erase -c archive.toml -t payments --where "customer_id = 42" \\
        --from 2026-01-01 --to 2026-03-31 --dry-run
      dbarchive erase -c archive.toml -t payments --where "customer_id = 42" \\
        --from 2026-01-01 --to 2026-03-31
    """
    job = load_config(config_path)
    stop = StopFlag()
    restore_signals = stop.install()  # SIGTERM/Ctrl-C: stop before the next day, exit 6
    try:
        report = api.erase(
            job, table, first.date(), (last or first).date(), where, dry_run=dry_run, stopping=stop
        )
    finally:
        restore_signals()
    if as_json:
        click.echo(json.dumps(report.to_json(), indent=2))
    else:
        click.echo(report.summary())
    if not report.ok:
        sys.exit(VerificationError.exit_code)
