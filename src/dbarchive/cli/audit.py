"""``dbarchive audit``: prove a table's deletion ledger (chains, archive, database)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from dbarchive import api
from dbarchive.cli.failure import WHERE
from dbarchive.cli.options import config_option, json_option, load_config, working_context
from dbarchive.cli.render import Record, print_lines, print_records
from dbarchive.errors import VerificationError
from dbarchive.jobs.audit import AuditReport

_DATE = click.DateTime(formats=["%Y-%m-%d"])


@click.command("audit")
@config_option
@click.option("-t", "--table", "table", required=True, help="The table whose ledger to audit.")
@click.option("--from", "first", type=_DATE, help="First day to audit (default: the oldest).")
@click.option("--to", "last", type=_DATE, help="Last day to audit (default: the newest).")
@click.option(
    "--no-source",
    is_flag=True,
    help="Do not look for the deleted keys in the database (chains and archive only).",
)
@json_option("Print the audit as JSON.")
def audit_cmd(
    config_path: Path, table: str, first: Any, last: Any, no_source: bool, as_json: bool
) -> None:
    """Prove the deletion ledger ([ledger] in the config) of a table.

    For each day: the hash chain of its records is whole (none changed, removed or reordered) and,
    with a key, every signature holds; every deleted row is in the archive files its record names
    (by digest); and the database holds none of the deleted keys (keys back after a restore are
    reported as restored). Exits 5 on any break, naming the day, the record and what is wrong.

    \b
    Examples:
      dbarchive audit -c archive.toml -t events
      dbarchive audit -c archive.toml -t events --from 2026-10-01 --to 2026-10-31 --json
    """
    job = load_config(config_path)
    ctx = working_context(job)
    WHERE.at("audit", table, None)
    try:
        report = api.audit(
            ctx,
            table,
            first=first.date() if first else None,
            last=last.date() if last else None,
            check_source=not no_source,
        )
    finally:
        ctx.close()
    _render(report, as_json)
    if not report.ok:
        sys.exit(VerificationError.exit_code)


def _render(report: AuditReport, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(report.to_json(), indent=2))
        return
    records: list[Record] = [
        {
            "result": "BROKEN" if d.breaks else ("OPEN" if d.open else "OK"),
            "day": d.day,
            "records": d.records,
            "rows_deleted": d.rows_deleted,
            "void": d.void,
            "restores": d.restores,
            "restored_keys": d.restored_keys,
            "open": ", ".join(map(str, d.open)) or None,
        }
        for d in report.days
    ]
    print_records(records, f"dbarchive audit {report.table}")
    source = "checked" if report.checked_source else "not checked (--no-source)"
    summary = [
        f"{report.table}: {len(report.days)} day(s) with a ledger, {report.rows_deleted} rows "
        f"deleted; signatures: {report.signatures}; database {source}"
    ]
    if not report.days:
        summary.append(f"{report.table}: no ledger records (is [ledger] enabled = true?)")
    if any(d.open for d in report.days):
        summary.append(
            "OPEN: an intent whose run was killed is not resolved yet; the next purge of the "
            "table resolves it from the database"
        )
    summary += [f"BREAK {b}" for b in report.breaks]
    summary.append("OK: the ledger is whole" if report.ok else f"{len(report.breaks)} break(s)")
    print_lines(summary)
