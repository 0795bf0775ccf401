"""The ``dbarchive`` command: a thin shell over the library (parse → build → call → render)."""

from __future__ import annotations

import sys

import click

from dbarchive import __version__
from dbarchive.cli.commands import demo, export_cmd, plan
from dbarchive.cli.maintain import purge_cmd, run_cmd, status_cmd, verify_cmd
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
def cli() -> None:
    """Archive old rows of big MySQL tables to S3 as verified, Athena-ready files.

    \b
    Start here:
      dbarchive demo                         archive a demo table to ./dbarchive-demo-archive
      dbarchive plan -c archive.toml         what an export would do, touching nothing
      dbarchive export -c archive.toml       export yesterday of every configured table
      dbarchive run -c archive.toml          the daily job: export, verify, purge expired days
      dbarchive status -c archive.toml       what is archived, purged and pending
    """


cli.add_command(export_cmd)
cli.add_command(plan)
cli.add_command(demo)
cli.add_command(verify_cmd)
cli.add_command(purge_cmd)
cli.add_command(run_cmd)
cli.add_command(status_cmd)


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="dbarchive")
