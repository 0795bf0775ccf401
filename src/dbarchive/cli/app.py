"""The ``dbarchive`` command group: every subcommand, and the one-line rendering of our errors."""

from __future__ import annotations

import logging
import sys

import click

from dbarchive import __version__
from dbarchive.cli.backfill import backfill_cmd
from dbarchive.cli.check import check_cmd
from dbarchive.cli.commands import demo, export_cmd, plan
from dbarchive.cli.lake import ddl_cmd, restore_cmd
from dbarchive.cli.maintain import purge_cmd, run_cmd, status_cmd, verify_cmd
from dbarchive.cli.sql import sql_cmd
from dbarchive.errors import DbArchiveError


class _Group(click.Group):
    """Turns our own errors into one line on stderr and the error's exit code."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except DbArchiveError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(130)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="dbarchive")
@click.option(
    "-v", "--verbose", is_flag=True, help="DEBUG logs on stderr (every chunk, S3 and retries)."
)
def cli(verbose: bool) -> None:
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
    """
    if verbose:
        logging.basicConfig(
            stream=sys.stderr, level=logging.DEBUG, format="%(asctime)s %(levelname)s %(message)s"
        )


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
