"""``dbarchive verify``: manifest, files and the database's rows must all agree, day by day."""

from __future__ import annotations

import datetime as dt
import json
import signal
import sys
from pathlib import Path
from typing import Any

import click

from dbarchive import api
from dbarchive.cli.failure import WHERE, TrackingReporter
from dbarchive.cli.options import (
    config_option,
    days_of,
    json_option,
    load_config,
    quiet_option,
    selected,
    selection_options,
    stderr_console,
    working_context,
)
from dbarchive.cli.progress import make_reporter
from dbarchive.cli.render import Record, print_records
from dbarchive.cli.reports import days_text
from dbarchive.config import TableSpec
from dbarchive.errors import StopRequested, VerificationError
from dbarchive.steps.verify import VerifyResult


@click.command("verify")
@config_option
@selection_options
@click.option(
    "--quick", is_flag=True, help="Trust object sizes and S3 checksums; do not read files."
)
@click.option("--no-source", is_flag=True, help="Do not compare with the database (archive only).")
@json_option("Print the results as JSON.")
@quiet_option
def verify_cmd(
    config_path: Path,
    tables: tuple[str, ...],
    date: Any,
    first: Any,
    last: Any,
    quick: bool,
    no_source: bool,
    as_json: bool,
    quiet: bool,
) -> None:
    """Check archived days: manifest, files and the database's rows must all agree.

    Exits 5 if any day does not verify, naming the day and what differs. Shows its progress
    (rows, bytes, rate, time left) on stderr; Ctrl-C stops it (exit 6) and says which days were
    not verified.

    \b
    Examples:
      dbarchive verify -c archive.toml --date 2026-11-24
      dbarchive verify -c archive.toml -t events --from 2026-09-01 --to 2026-09-30 --quick
    """
    job = load_config(config_path)
    reporter = make_reporter(quiet or as_json, stderr_console())
    ctx = working_context(job, reporter=reporter)
    work = [(s, d) for s in selected(job, tables) for d in days_of(ctx, s, date, first, last)]
    results: list[VerifyResult] = []
    previous = signal.signal(signal.SIGTERM, _interrupt)  # SIGTERM stops it as Ctrl-C does
    try:
        for spec, day in work:
            WHERE.at("verify", spec.name, day)
            results.append(
                api.verify(
                    ctx, spec, day, depth="quick" if quick else "rows", check_source=not no_source
                )
            )
    except KeyboardInterrupt as exc:
        reporter.close()
        if not as_json:  # a program gets one document: the error object
            _render_verified(results, as_json, quiet)
        how = "SIGTERM" if isinstance(exc, _Terminated) else "Ctrl-C"
        raise StopRequested(_not_verified(work, results, reporter, how)) from None
    finally:
        signal.signal(signal.SIGTERM, previous)
        reporter.close()
        ctx.close()
    _render_verified(results, as_json, quiet)
    if not all(r.complete for r in results):
        sys.exit(VerificationError.exit_code)


class _Terminated(KeyboardInterrupt):
    """SIGTERM (a scheduler's stop), stopping the verify as Ctrl-C does."""


def _interrupt(_signum: int, _frame: object) -> None:
    raise _Terminated


def _not_verified(
    work: list[tuple[TableSpec, dt.date]],
    done: list[VerifyResult],
    tracker: TrackingReporter,
    how: str,
) -> str:
    """What an interrupted verify left: the day it was on (how far) and the days not reached."""
    spec, day = work[len(done)]
    latest = tracker.latest.get(("verify", spec.name, day.isoformat()))
    how_far = ""
    if latest is not None and latest.kind != "start":
        how_far = f" after {latest.rows:,} of {latest.total_rows or 0:,} rows"
    left = work[len(done) :]
    by_table: dict[str, list[dt.date]] = {}
    for s, d in left:
        by_table.setdefault(s.name, []).append(d)
    days = "; ".join(f"{name} {days_text(ds)}" for name, ds in by_table.items())
    return (
        f"interrupted ({how}) while verifying {spec.name} {day}{how_far}: {len(done)} of "
        f"{len(work)} table-days verified, not verified: {days}; run verify again for them"
    )


def _render_verified(results: list[VerifyResult], as_json: bool, quiet: bool) -> None:
    if as_json:
        click.echo(json.dumps([_verify_json(r) for r in results], indent=2))
        return
    if quiet:  # the days that failed only, on stderr (cron mails them)
        for r in results:
            if not r.complete:
                why = "; ".join([*r.problems, *r.notes])
                click.echo(f"FAIL: {why}", err=True)  # (each names its table and day)
        return
    records: list[Record] = [
        {
            "result": "OK" if r.complete else "FAIL",
            "table": r.table,
            "day": r.day,
            "archived_rows": r.archived_rows,
            "database_rows": r.source_rows,
            "files": r.files_checked,
            "details": "; ".join([*r.problems, *r.notes]) or None,
        }
        for r in results
    ]
    print_records(records, "dbarchive verify", details="details")


def _verify_json(r: VerifyResult) -> dict[str, Any]:
    return {
        "table": r.table,
        "day": r.day.isoformat(),
        "ok": r.complete,
        "rows_held": r.rows_held,
        "archived_rows": r.archived_rows,
        "source_rows": r.source_rows,
        "files_checked": r.files_checked,
        "problems": list(r.problems),
        "notes": list(r.notes),
    }
