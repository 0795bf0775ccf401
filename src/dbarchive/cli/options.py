"""Options and helpers shared by the subcommands."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console

from dbarchive.build import build_context
from dbarchive.config import ArchiveJob, TableSpec
from dbarchive.context import Context
from dbarchive.dates import select_days
from dbarchive.events import Reporter
from dbarchive.priority import lower_cpu_priority

F = TypeVar("F", bound=Callable[..., Any])
_DATE = click.DateTime(formats=["%Y-%m-%d"])


def config_option(f: F) -> F:
    return click.option(
        "-c",
        "--config",
        "config_path",
        type=click.Path(dir_okay=False, path_type=Path),
        default="dbarchive.toml",
        show_default=True,
        envvar="DBARCHIVE_CONFIG",
        help="The job's TOML config (env DBARCHIVE_CONFIG).",
    )(f)


def selection_options(f: F) -> F:
    for option in reversed(
        [
            click.option(
                "-t", "--table", "tables", multiple=True, help="Only this table (repeatable)."
            ),
            click.option(
                "--date", "date", type=_DATE, help="The day to export (default: yesterday)."
            ),
            click.option("--from", "first", type=_DATE, help="First day of a range (inclusive)."),
            click.option("--to", "last", type=_DATE, help="Last day of a range (inclusive)."),
        ]
    ):
        f = option(f)
    return f


def output_options(f: F) -> F:
    f = click.option("-q", "--quiet", is_flag=True, help="No progress output.")(f)
    return click.option("--json", "as_json", is_flag=True, help="Print a JSON summary on stdout.")(
        f
    )


def selected(job: ArchiveJob, names: tuple[str, ...]) -> list[TableSpec]:
    return [job.table(n) for n in names] if names else list(job.tables)


def days_of(spec: TableSpec, date: Any, first: Any, last: Any) -> list[dt.date]:
    as_day = [d.date() if d else None for d in (date, first, last)]
    return select_days(spec.timezone, *as_day)


def stderr_console() -> Console:
    # soft_wrap: paths and SQL are printed whole even when stderr is not a terminal.
    return Console(stderr=True, soft_wrap=True)


def working_context(job: ArchiveJob, reporter: Reporter | None = None) -> Context:
    """The Context of a command that reads, writes or deletes rows: it runs at the job's CPU
    priority (``[throttle] nice``), below anything else on the host."""
    lower_cpu_priority(job.throttle.nice)
    return build_context(job, reporter=reporter)
