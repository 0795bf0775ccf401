"""Options and helpers shared by the subcommands."""

from __future__ import annotations

import datetime as dt
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console

from dbarchive.build import build_context
from dbarchive.config import ArchiveJob, TableSpec, job_from_dict, load_job
from dbarchive.context import Context
from dbarchive.dates import select_days
from dbarchive.errors import ConfigError
from dbarchive.events import Reporter
from dbarchive.runtime.log_secrets import redact_root_handlers
from dbarchive.runtime.priority import lower_cpu_priority

F = TypeVar("F", bound=Callable[..., Any])
_DATE = click.DateTime(formats=["%Y-%m-%d"])
# Shared by the group's and the subcommand's contexts (click shares ``meta`` between them).
JSON_KEY, QUIET_KEY, DESTINATION_KEY = "dbarchive.json", "dbarchive.quiet", "dbarchive.destination"
CONN_ENV_KEY, CONNECTION_KEY = "dbarchive.conn_from_env", "dbarchive.connection"


def config_option(f: F) -> F:
    """``-c/--config``, ``--destination`` and the Airflow connection options (read them with
    :func:`load_config`)."""
    f = click.option(
        "--conn-from-env",
        metavar="CONN_ID",
        expose_value=False,
        callback=_remember(CONN_ENV_KEY),
        help="Take [source] from the Airflow connection CONN_ID, read from its variable "
        "AIRFLOW_CONN_<CONN_ID> (URI or JSON, extras ssl/ssl_mode/iam as on Airflow): the "
        "archive.toml of your DAGs, without a [source], works as is.",
    )(f)
    f = click.option(
        "--connection",
        metavar="URI",
        expose_value=False,
        callback=_remember(CONNECTION_KEY),
        help="Take [source] from this Airflow connection URI (mysql://user@host:3306/db?ssl=…); "
        "a password in it is visible to other users of the host: prefer --conn-from-env.",
    )(f)
    f = click.option(
        "--destination",
        metavar="URL",
        expose_value=False,
        callback=_remember(DESTINATION_KEY),
        help="Use this archive destination instead of the config's [destination] url, for this "
        "call only (s3://bucket/prefix or a local folder).",
    )(f)
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


def load_config(path: Path) -> ArchiveJob:
    """The job of ``--config``, its destination replaced by ``--destination`` when given (the
    whole job validated again: e.g. aurora-outfile tables still need an s3:// destination)."""
    if not path.exists():
        raise ConfigError(f"{path}: config file not found; pass --config PATH")
    job = load_job(path)
    meta = click.get_current_context().meta
    url = meta.get(DESTINATION_KEY)
    if url is not None:
        destination = {**job.destination.model_dump(), "url": url}
        job = job_from_dict({**dict(job), "destination": destination}, f"{path} with --destination")
    return _with_connection(job, meta.get(CONNECTION_KEY), meta.get(CONN_ENV_KEY))


def _with_connection(job: ArchiveJob, uri: str | None, conn_id: str | None) -> ArchiveJob:
    """The job with [source] from an Airflow connection, read the way the operators read it
    (``dbarchive.airflow.conn_settings``; Airflow itself is not needed)."""
    if uri is None and conn_id is None:
        return job
    if uri is not None and conn_id is not None:
        raise ConfigError("give either --connection or --conn-from-env, not both")
    from dbarchive.airflow import conn_settings

    if conn_id is not None:
        conn = conn_settings.connection_from_env(conn_id)
    else:
        conn = conn_settings.parse_connection("--connection", str(uri), "--connection")
    return job.model_copy(update={"source": conn_settings.source_settings(conn, job)})


def _remember(key: str) -> Callable[[click.Context, click.Parameter, Any], Any]:
    """An option callback that keeps a given value in the shared ``ctx.meta``."""

    def callback(ctx: click.Context, _param: click.Parameter, value: Any) -> Any:
        if value:
            ctx.meta[key] = value
        return value

    return callback


def json_option(help_text: str = "Print a JSON summary on stdout.") -> Callable[[F], F]:
    """``--json``: results as JSON on stdout, and on failure the error object."""
    return click.option(
        "--json", "as_json", is_flag=True, callback=_remember(JSON_KEY), help=help_text
    )


QUIET_HELP = "No progress, result lines or notes (errors still go to stderr)."


def _quiet(ctx: click.Context, _param: click.Parameter, value: bool) -> bool:
    """``-q`` after the subcommand, or before it (``dbarchive -q run``)."""
    if value:
        ctx.meta[QUIET_KEY] = True
    return bool(value or ctx.meta.get(QUIET_KEY))


def quiet_option(f: F) -> F:
    return click.option("-q", "--quiet", is_flag=True, callback=_quiet, help=QUIET_HELP)(f)


def verbose(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    """``-v``: DEBUG log lines on stderr (every chunk, S3 and retries), before or after the
    subcommand."""
    if value and not ctx.meta.get("dbarchive.verbose"):
        ctx.meta["dbarchive.verbose"] = True
        logging.basicConfig(
            stream=sys.stderr, level=logging.DEBUG, format="%(asctime)s %(levelname)s %(message)s"
        )
        logging.getLogger().setLevel(logging.DEBUG)
        redact_root_handlers()  # botocore's DEBUG lines hold the AWS session token


def verbosity_params(command: click.Command) -> None:
    """Give a subcommand ``-v`` and ``-q`` if it has none, so both work after its name too."""
    names = {n for p in command.params for n in getattr(p, "opts", [])}
    if "-v" not in names:
        command.params.append(
            click.Option(
                ["-v", "--verbose"],
                is_flag=True,
                expose_value=False,
                callback=verbose,
                help="DEBUG logs on stderr (every chunk, S3 and retries).",
            )
        )
    if "-q" not in names:
        command.params.append(
            click.Option(
                ["-q", "--quiet"],
                is_flag=True,
                expose_value=False,
                callback=_quiet,
                help=QUIET_HELP,
            )
        )


def selection_options(f: F) -> F:
    for option in reversed(
        [
            click.option(
                "-t", "--table", "tables", multiple=True, help="Only this table (repeatable)."
            ),
            click.option("--date", "date", type=_DATE, help="The day (default: yesterday)."),
            click.option("--from", "first", type=_DATE, help="First day of a range (inclusive)."),
            click.option("--to", "last", type=_DATE, help="Last day of a range (inclusive)."),
        ]
    ):
        f = option(f)
    return f


def output_options(f: F) -> F:
    return json_option()(quiet_option(f))


def selected(job: ArchiveJob, names: tuple[str, ...]) -> list[TableSpec]:
    return [job.table(n) for n in names] if names else list(job.tables)


def days_of(ctx: Context, spec: TableSpec, date: Any, first: Any, last: Any) -> list[dt.date]:
    """The days of ``--date`` / ``--from``/``--to`` (default: yesterday by the wall clock)."""
    day, first_day, last_day = (d.date() if d else None for d in (date, first, last))
    return select_days(spec.timezone, day, first_day, last_day, ctx.wall_clock.now())


def archivable_days(
    ctx: Context, specs: list[TableSpec], date: Any, first: Any, last: Any
) -> list[tuple[TableSpec, dt.date]]:
    """Every (table, day) asked for, once each has been checked against the settle rule: a day
    not over is refused (exit 2) before the first one is touched."""
    work = [(spec, day) for spec in specs for day in days_of(ctx, spec, date, first, last)]
    for spec, day in work:
        ctx.require_settled(spec, day)
    return work


def stderr_console() -> Console:
    # soft_wrap: paths and SQL are printed whole even when stderr is not a terminal.
    return Console(stderr=True, soft_wrap=True)


def working_context(job: ArchiveJob, reporter: Reporter | None = None) -> Context:
    """The Context of a command that reads, writes or deletes rows: it runs at the job's CPU
    priority (``[throttle] nice``), below anything else on the host."""
    lower_cpu_priority(job.throttle.nice)
    return build_context(job, reporter=reporter)


def refuse_later_today(spec: TableSpec, day: dt.date, clock: dt.date) -> None:
    """``--today`` may count the cutoff from an earlier day, never from a later one than the
    table's today (``clock``): its cutoff would purge rows the retention keeps (ConfigError,
    nothing touched; the API and Airflow, which pass their run's day, get a note instead)."""
    if day > clock:
        raise ConfigError(
            f"--today {day} is after today for table {spec.name!r} ({clock} in "
            f"{spec.timezone}): its retention cutoff {spec.retention.cutoff(day)} would purge "
            f"rows that retention {spec.retention} keeps until {spec.retention.cutoff(clock)}; "
            "give today or an earlier day (to keep fewer days, shorten retention)"
        )
