"""``dbarchive check``: which privilege, bucket permission or setting a run is missing."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path

import click

from dbarchive.build import build_context
from dbarchive.checks import CheckResult, run_checks
from dbarchive.checks.grants import grant_statements, read_facts
from dbarchive.cli.failure import combined_code
from dbarchive.cli.options import config_option, json_option, load_config, selected
from dbarchive.config import ArchiveJob
from dbarchive.errors import SourceError, StorageError


@click.command("check")
@config_option
@click.option("-t", "--table", "tables", multiple=True, help="Only this table (repeatable).")
@click.option("--no-purge", is_flag=True, help="Check only what an export needs (no DELETE).")
@json_option("Print the results as JSON.")
@click.option(
    "--strict",
    is_flag=True,
    help="Fail on advisory findings too (the S3 bucket's security settings: exit 4).",
)
@click.option(
    "--grants",
    "print_grants",
    is_flag=True,
    help="Print the exact GRANT statements the configuration needs, and probe nothing else.",
)
@click.option(
    "--config-only",
    is_flag=True,
    help="Validate the config and contact nothing (no MySQL, no S3): a DAGs repository's CI step.",
)
@click.option(
    "--grantee",
    metavar="'USER'@'HOST'",
    help="Who the GRANTs are for (default: the logged-in account, else the URL's user at '%').",
)
def check_cmd(
    config_path: Path,
    tables: tuple[str, ...],
    no_purge: bool,
    as_json: bool,
    strict: bool,
    print_grants: bool,
    config_only: bool,
    grantee: str | None,
) -> None:
    """Probe every privilege, bucket permission and setting a run needs; change nothing.

    Exits 0 when everything a run needs is there, else with the cause of what is missing (3 in
    MySQL, 4 in storage, 1 for both; each missing thing is named with its fix). WARN lines (e.g. generated columns) say what to know; they do not fail the check.
    The bucket check writes one probe object under _dbarchive-check/ and deletes it.
    The S3 bucket's security settings (default encryption against [destination] sse, public
    access block, a policy denying requests without TLS, versioning) are advisory: WARN with
    the fix, failing the check only with --strict.
    With --grants it prints the GRANT statements instead (what each table's export, verify,
    purge and partition drops need, Aurora's role, replicas) and exits 0.
    With --config-only it validates the config (every field, the tables' folders, -t names)
    without contacting anything: exit 0, or 2 naming what is wrong.

    \b
    Examples:
      dbarchive check -c archive.toml
      dbarchive check -c archive.toml -t events --no-purge --json
      dbarchive check -c archive.toml --strict
      dbarchive check -c archive.toml --grants --grantee "'archiver'@'10.0.%'"
      dbarchive check -c dags/archive.toml --config-only    in CI, before deploying DAGs
    """
    job = load_config(config_path)
    if config_only:
        _config_only(job, tables, as_json)
        return
    ctx = build_context(job)
    if print_grants:
        try:
            specs = selected(job, tables)
            facts = read_facts(ctx, specs, purge=not no_purge)
            lines = grant_statements(ctx, specs, facts, purge=not no_purge, grantee_text=grantee)
        finally:
            ctx.close()
        click.echo("\n".join(lines))
        return
    try:
        results = run_checks(ctx, selected(job, tables), purge=not no_purge)
    finally:
        ctx.close()
    if as_json:
        click.echo(json.dumps([asdict(r) for r in results], indent=2))
    else:
        for r in results:
            warned = r.warning or (r.advisory and not r.ok)
            status = "ok" if r.ok and not r.warning else "WARN" if warned else "MISSING"
            click.echo(f"{status:<7} {r.name}: {r.detail}")  # the result first, aligned
            if not r.ok and r.fix:
                click.echo(f"        fix: {r.fix}")
            elif r.warning and r.fix:
                click.echo(f"        note: {r.fix}")
    sys.exit(combined_code(_code(r) for r in results if not (r.ok or (r.advisory and not strict))))


def _config_only(job: ArchiveJob, tables: tuple[str, ...], as_json: bool) -> None:
    """The config loaded and validated (load_config exits 2 otherwise): say what it holds."""
    names = [spec.name for spec in selected(job, tables)]
    destination = job.destination.url
    if as_json:
        click.echo(json.dumps({"ok": True, "tables": names, "destination": destination}))
        return
    click.echo(f"ok      config: {len(names)} table(s) ({', '.join(names)}) to {destination}")
    click.echo("        nothing was contacted: dbarchive check -c … (no --config-only) probes them")


def _code(result: CheckResult) -> int:
    """The exit code of a missing requirement: storage (4) or the database (3)."""
    return (
        StorageError.exit_code
        if result.name.startswith(("storage", "s3"))
        else SourceError.exit_code
    )
