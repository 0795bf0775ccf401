"""``dbarchive check``: which privilege, bucket permission or setting a run is missing."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path

import click

from dbarchive.build import build_context
from dbarchive.checks import run_checks
from dbarchive.cli.options import config_option, selected
from dbarchive.config import load_job


@click.command("check")
@config_option
@click.option("-t", "--table", "tables", multiple=True, help="Only this table (repeatable).")
@click.option("--no-purge", is_flag=True, help="Check only what an export needs (no DELETE).")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
def check_cmd(config_path: Path, tables: tuple[str, ...], no_purge: bool, as_json: bool) -> None:
    """Probe every privilege, bucket permission and setting a run needs; change nothing.

    Exits 0 when everything a run needs is there, 1 otherwise (each missing thing is named with
    its fix). The bucket check writes one probe object under _dbarchive-check/ and deletes it.

    \b
    Examples:
      dbarchive check -c archive.toml
      dbarchive check -c archive.toml -t events --no-purge --json
    """
    job = load_job(config_path)
    ctx = build_context(job)
    try:
        results = run_checks(ctx, selected(job, tables), purge=not no_purge)
    finally:
        ctx.source.close()
    if as_json:
        click.echo(json.dumps([asdict(r) for r in results], indent=2))
    else:
        for r in results:
            click.echo(f"{'ok  ' if r.ok else 'MISSING'} {r.name}: {r.detail}")
            if not r.ok:
                click.echo(f"        fix: {r.fix}")
    if not all(r.ok for r in results):
        sys.exit(1)
