"""The ``dbarchive`` command group: every subcommand, and the one-line rendering of our errors."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from dbarchive.cli.audit import audit_cmd
from dbarchive.cli.backfill import backfill_cmd
from dbarchive.cli.check import check_cmd
from dbarchive.cli.commands import demo, export_cmd, plan
from dbarchive.cli.erase import erase_cmd
from dbarchive.cli.failure import (
    STOPPED,
    WHERE,
    done_before,
    error_object,
    error_of_exception,
    exit_codes_help,
    led_by,
)
from dbarchive.cli.lake import ddl_cmd, restore_cmd
from dbarchive.cli.maintain import purge_cmd, run_cmd, status_cmd
from dbarchive.cli.options import JSON_KEY, quiet_option, verbose, verbosity_params
from dbarchive.cli.sql import sql_cmd
from dbarchive.cli.verify import verify_cmd
from dbarchive.cli.worm import hold_cmd, lifecycle_cmd
from dbarchive.errors import DbArchiveError

_ARGS_KEY = "dbarchive.args"


class _Group(click.Group):
    """Turns our own errors into one line on stderr (and with --json the error object on
    stdout) and the cause's exit code; gives every subcommand -v/-q and the exit-code table."""

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        verbosity_params(cmd)
        cmd.epilog = exit_codes_help()
        super().add_command(cmd, name)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        ctx.meta[_ARGS_KEY] = list(args)  # --json is known even when the options do not parse
        return super().parse_args(ctx, args)

    def invoke(self, ctx: click.Context) -> object:
        WHERE.reset()
        try:
            return super().invoke(ctx)
        except DbArchiveError as exc:
            done = done_before(exc)
            for line in done:
                click.echo(f"note: before it ended: {line}", err=True)
            error = error_of_exception(exc, exc.exit_code)
            click.echo(f"error: {_placed(error)}", err=True)
            _json_error(ctx, {**error, "done_before": done} if done else error)
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            message = "interrupted (Ctrl-C) before anything more was done; run it again to go on"
            click.echo(message, err=True)
            _json_error(ctx, error_object(STOPPED, message, WHERE.table, WHERE.day, WHERE.step))
            sys.exit(STOPPED)
        except click.ClickException as exc:  # a usage error: click prints it and exits 2
            _json_error(ctx, error_object(exc.exit_code, exc.format_message(), None, None, None))
            raise


def _placed(error: dict[str, Any]) -> str:
    """The message, led by the table and day it is about when it does not name the table."""
    return led_by(error["table"], error["day"], error["message"])


def _json_error(ctx: click.Context, error: dict[str, object]) -> None:
    """With --json, the failure as ``{"error": {…}}`` on stdout, for the program that reads it."""
    if ctx.meta.get(JSON_KEY) or "--json" in ctx.meta.get(_ARGS_KEY, []):
        click.echo(json.dumps({"error": error}, indent=2))


def _show_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    """``--version``: the version, and whether the C speedups were loaded (a wheel or a build
    without them installs fine and runs slower: this is where to see it)."""
    if not value or ctx.resilient_parsing:
        return
    from dbarchive.cli.version import version_lines

    for line in version_lines():
        click.echo(line)
    ctx.exit()


@click.group(
    cls=_Group, context_settings={"help_option_names": ["-h", "--help"]}, epilog=exit_codes_help()
)
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_show_version,
    help="Show the version and which C speedups are loaded, then exit.",
)
@click.option(
    "-v",
    "--verbose",
    is_flag=True,
    expose_value=False,
    callback=verbose,
    help="DEBUG logs on stderr (every chunk, S3 and retries); also after the subcommand.",
)
@quiet_option
def cli(quiet: bool) -> None:
    """Archive old rows of big MySQL tables to S3 as verified, Athena-ready files.

    \b
    Start here:
      dbarchive demo                         archive a demo table to ./dbarchive-demo-archive
      dbarchive plan -c archive.toml         what an export would do, touching nothing
      dbarchive export -c archive.toml       export yesterday of every configured table
      dbarchive run -c archive.toml          the daily job: export, verify, purge expired days
      dbarchive status -c archive.toml       what is archived, purged and pending
      dbarchive ddl -c archive.toml -t T --engine athena    query the archive
      dbarchive restore -c archive.toml -t T --date D --into T_copy   bring a day back
      dbarchive backfill -c archive.toml     archive the history, N workers, resumable
      dbarchive sql -c archive.toml -t T     stored procedures for the database-side mode
      dbarchive check -c archive.toml        which privilege, permission or setting is missing
      dbarchive hold -c archive.toml -t T --from D1 --to D2   legal hold on archived days (WORM)
      dbarchive audit -c archive.toml -t T   prove the deletion ledger ([ledger])
    """
    del quiet  # kept in ctx.meta: the subcommand reads it (see quiet_option)


cli.add_command(export_cmd)
cli.add_command(plan)
cli.add_command(demo)
cli.add_command(verify_cmd)
cli.add_command(purge_cmd)
cli.add_command(run_cmd)
cli.add_command(status_cmd)
cli.add_command(ddl_cmd)
cli.add_command(restore_cmd)
cli.add_command(backfill_cmd)
cli.add_command(sql_cmd)
cli.add_command(check_cmd)
cli.add_command(hold_cmd)
cli.add_command(lifecycle_cmd)
cli.add_command(audit_cmd)
cli.add_command(erase_cmd)
