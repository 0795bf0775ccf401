"""The WORM commands (issue 22): ``hold`` (S3 Object Lock legal hold on archived days) and
``lifecycle`` (the S3 Lifecycle rules for the archive's own retention)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from dbarchive import api
from dbarchive.cli.options import config_option, json_option, load_config
from dbarchive.jobs.hold import HoldResult

_DATE = click.DateTime(formats=["%Y-%m-%d"])


@click.command("hold")
@config_option
@click.option("-t", "--table", "table", required=True, help="The configured table.")
@click.option("--from", "first", type=_DATE, required=True, help="First day (YYYY-MM-DD).")
@click.option("--to", "last", type=_DATE, help="Last day (default: --from).")
@click.option("--release", is_flag=True, help="Clear the legal hold instead of setting it.")
@json_option("Print every object version looked at as JSON.")
def hold_cmd(
    config_path: Path, table: str, first: Any, last: Any, release: bool, as_json: bool
) -> None:
    """Set (or --release) the S3 Object Lock legal hold on archived days.

    A legal hold keeps an object version from being deleted, even after its retention ends,
    until it is released (s3:PutObjectLegalHold). It is placed on exactly the versions each
    day's committed manifest names: every data file, the generation's manifest and the
    committed _manifest.json. Nothing else changes; days that are not archived are listed.
    Running it again changes nothing more.

    \b
    Examples:
      dbarchive hold -c archive.toml -t payments --from 2026-01-01 --to 2026-03-31
      dbarchive hold -c archive.toml -t payments --from 2026-01-01 --to 2026-03-31 --release
    """
    job = load_config(config_path)
    result = api.hold(job, table, first.date(), (last or first).date(), release=release)
    if as_json:
        click.echo(json.dumps(_hold_json(result), indent=2))
    else:
        click.echo(result.summary())


def _hold_json(result: HoldResult) -> dict[str, Any]:
    return {
        "table": result.table,
        "legal_hold": "ON" if result.on else "OFF",
        "days": [d.isoformat() for d in result.days],
        "not_archived": [d.isoformat() for d in result.not_archived],
        "changed": len(result.changed),
        "objects": [
            {"key": o.key, "version_id": o.version_id, "changed": o.changed} for o in result.objects
        ],
    }


@click.command("lifecycle")
@config_option
@click.option("--no-scan", is_flag=True, help="Do not list the archive to count small files.")
def lifecycle_cmd(config_path: Path, no_scan: bool) -> None:
    """Print the S3 Lifecycle configuration of [destination] lifecycle (applies nothing).

    Data files (tagged dbarchive-kind=data as they are written) move to the configured class
    after the configured age, never before their day's purge for classes that must be restored
    before a read (GLACIER, DEEP_ARCHIVE); manifests, purge records and the ledger stay
    immediately readable. Replaced versions expire after noncurrent_days, which S3 holds back
    while Object Lock retention or a legal hold keeps them. Warnings go to stderr.

    \b
    Examples:
      dbarchive lifecycle -c archive.toml > lifecycle.json
      aws s3api put-bucket-lifecycle-configuration --bucket BUCKET \\
          --lifecycle-configuration file://lifecycle.json
    """
    job = load_config(config_path)
    plan = api.lifecycle(job, scan=not no_scan)
    for warning in plan.warnings:
        click.echo(f"warning: {warning}", err=True)
    click.echo(json.dumps(plan.configuration, indent=2))
