"""purge, run and status: the commands that shrink the database and say where it stands
(``verify`` is in ``cli/verify.py``)."""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any

import click

from dbarchive import api
from dbarchive.build import build_context
from dbarchive.cli.failure import WHERE, led_by
from dbarchive.cli.options import (
    config_option,
    json_option,
    load_config,
    output_options,
    refuse_later_today,
    selected,
    stderr_console,
    working_context,
)
from dbarchive.cli.progress import make_reporter
from dbarchive.cli.render import print_lines
from dbarchive.cli.reports import (
    PurgePlan,
    exit_code,
    print_purge_plans,
    print_reports,
    reports_json,
    status_lines,
)
from dbarchive.config import Retention, TableSpec
from dbarchive.context import Context
from dbarchive.errors import ConfigError

_DATE = click.DateTime(formats=["%Y-%m-%d"])


def _today(ctx: Context, spec: TableSpec, given: Any) -> dt.date:
    """``--today`` if given, else today in the table's zone by the context's wall clock."""
    return given.date() if given else ctx.today(spec)


def _throttle_options(f: Any) -> Any:
    f = click.option("--max-runtime", type=float, help="Stop cleanly after this many seconds.")(f)
    f = click.option(
        "--stop-file", type=click.Path(path_type=Path), help="Stop cleanly once this file exists."
    )(f)
    return click.option(
        "--today",
        type=_DATE,
        help="Count the retention cutoff and the catch-up from this day (default: today in the "
        "table's zone). A day not over (plus settle) is never exported, whatever it says.",
    )(f)


def _overrides(max_runtime: float | None, stop_file: Path | None) -> dict[str, object]:
    out: dict[str, object] = {}
    if max_runtime is not None:
        out["max_runtime"] = max_runtime
    if stop_file is not None:
        out["stop_file"] = str(stop_file)
    return out


@click.command("purge")
@config_option
@click.option("-t", "--table", "tables", multiple=True, help="Only this table (repeatable).")
@_throttle_options
@click.option(
    "--before",
    type=_DATE,
    help="Purge only days before this day (default: the retention cutoff); it may not be later "
    "than the cutoff.",
)
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
    before: Any,
    quiet: bool,
    as_json: bool,
    dry_run: bool,
) -> None:
    """Delete rows older than the retention window, day by day, only once each day verifies.

    \b
    Examples:
      dbarchive purge -c archive.toml --dry-run
      dbarchive purge -c archive.toml --before 2026-01-01 --dry-run --json
      dbarchive purge -c archive.toml -t events --max-runtime 3600 --stop-file /tmp/stop-purge
    """
    _daily(
        config_path,
        tables,
        today,
        max_runtime,
        stop_file,
        quiet,
        as_json,
        dry_run,
        export=False,
        before=before.date() if before else None,
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

    Does every table it safely can, then exits with the cause of its failures (below: 1 when
    tables failed for different causes), 6 if it was stopped by a signal, the stop file or
    --max-runtime.

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
    before: dt.date | None = None,
) -> None:
    command = "run" if export else "purge"
    job = load_config(config_path)
    console = stderr_console()
    reporter = make_reporter(quiet or as_json or dry_run, console)
    ctx = working_context(job, reporter=reporter)  # connects on first use
    specs = []
    for spec in selected(job, tables):
        WHERE.at(command, spec.name)
        day = _today(ctx, spec, today)
        if purge:
            refuse_later_today(spec, day, ctx.today(spec))
        specs.append(_purging_before(spec, day, before))
    if dry_run:
        _print_purge_plan(ctx, specs, today, before, as_json)
        return
    ctx.storage.check()
    throttle = api.throttle_for(ctx, max_runtime=max_runtime, stop_file=stop_file)
    restore = throttle.stop.install()
    try:
        given = today.date() if today else None
        reports = api.run(ctx, specs, today=given, purge=purge, export=export, stopping=throttle)
    finally:
        restore()
        throttle.close()
        reporter.close()
        ctx.close()
    retried = ctx.source.counters.retries + ctx.source.counters.reconnects
    for r in reports:  # errors reach stderr even with --quiet or --json: cron mails them
        for note in [] if quiet else r.notes:  # notes (a day not over yet) are no failure
            click.echo(f"note: {note}", err=True)
        for message in [*r.errors, *([r.stopped] if r.stopped else [])]:
            click.echo(led_by(r.table, None, message), err=True)
    if as_json:
        data = reports_json(reports, command, throttle, retried, reporter)
        click.echo(json.dumps(data, indent=2))
    elif not quiet:
        print_reports(reports, command, throttle)
    sys.exit(exit_code(reports))


def _purging_before(spec: TableSpec, today: dt.date, before: dt.date | None) -> TableSpec:
    """The table as ``purge --before DAY`` sees it: a retention that keeps DAY and later.

    Refused (ConfigError, nothing touched) when DAY is later than the table's own cutoff: an
    explicit day may narrow a purge, never reach into the days the retention keeps.
    """
    if before is None:
        return spec
    cutoff = spec.retention.cutoff(today)
    if before > cutoff:
        raise ConfigError(
            f"--before {before} is inside the retention window of table {spec.name!r} (retention "
            f"{spec.retention} keeps {cutoff} and later): give --before {cutoff} or an earlier day"
        )
    return spec.model_copy(
        update={"retention": Retention(amount=(today - before).days, unit="days")}
    )


def _print_purge_plan(
    ctx: Context, specs: list[TableSpec], today: Any, before: dt.date | None, as_json: bool
) -> None:
    """What a purge would delete, per table and day (``--dry-run``), as text or JSON."""
    from dbarchive.jobs.purge_preview import preview

    plans = []
    try:
        for spec in specs:
            found = preview(ctx, spec, _today(ctx, spec, today))
            rows = {p.day: p.rows for p in found.days}
            exports = {p.day: p.export_first for p in found.days if p.export_first}
            kept = frozenset(p.day for p in found.days if p.kept)
            plans.append(
                PurgePlan(found.table, found.cutoff, before, rows, found.delete_sql, exports, kept)
            )
    finally:
        ctx.close()
    print_purge_plans(plans, as_json)


@click.command("status")
@config_option
@click.option("-t", "--table", "tables", multiple=True, help="Only this table (repeatable).")
@click.option("--today", type=_DATE, help="Count the cutoff and pending days from this day.")
@json_option("Print the status as JSON.")
def status_cmd(config_path: Path, tables: tuple[str, ...], today: Any, as_json: bool) -> None:
    """Per table: archived, purged and restored days, days still to archive, expired days never
    archived, the oldest row in the database. Consecutive days are shown as ranges.

    \b
    Examples:
      dbarchive status -c archive.toml
      dbarchive status -c archive.toml -t events --json
    """
    job = load_config(config_path)
    ctx = build_context(job)
    try:
        statuses = []
        for spec in selected(job, tables):
            WHERE.at("status", spec.name)
            statuses.append(api.status(ctx, spec, today=_today(ctx, spec, today)))
    finally:
        ctx.close()
    if as_json:
        click.echo(json.dumps([s.to_json() for s in statuses], indent=2))
        return
    print_lines([line for s in statuses for line in status_lines(s)])
