"""``dbarchive sql``: the database-side mode's stored procedures (and the DAG that calls them)."""

from __future__ import annotations

from pathlib import Path

import click

from dbarchive.build import build_context
from dbarchive.cli.options import config_option, load_config
from dbarchive.strategies.aurora.procedures import airflow_dag, install_procedures, procedures_for


@click.command("sql")
@config_option
@click.option("-t", "--table", "table", required=True, help="The configured table.")
@click.option("--apply", is_flag=True, help="Install the procedures (needs CREATE ROUTINE).")
@click.option("--airflow", "as_dag", is_flag=True, help="Print the Airflow DAG that calls them.")
@click.option("--conn-id", default="mysql_default", show_default=True, help="The DAG's connection.")
def sql_cmd(config_path: Path, table: str, apply: bool, as_dag: bool, conn_id: str) -> None:
    """Stored procedures for the database-side mode: Aurora exports a day, then deletes expired rows.

    Prints a script for the mysql client with two procedures for the table: one exports a day
    to S3 with SELECT … INTO OUTFILE S3 (Aurora MySQL only), in key ranges, in the archive's
    layout and CSV dialect; one deletes rows older than the retention in committed chunks with
    a pause between them. Nothing verifies the files before rows are deleted: dbarchive's own
    export.strategy = "aurora-outfile" keeps that guarantee (see the README).

    \b
    Examples:
      dbarchive sql -c archive.toml -t events > procedures.sql
      dbarchive sql -c archive.toml -t events --apply
      dbarchive sql -c archive.toml -t events --airflow > dags/events_database_side.py
    """
    job = load_config(config_path)
    spec = job.table(table)
    ctx = build_context(job)
    try:
        procedures = procedures_for(ctx, spec)
        installed = install_procedures(ctx, procedures) if apply else []
    finally:
        ctx.close()
    if as_dag:
        click.echo(airflow_dag(procedures, spec.name, conn_id), nl=False)
    elif installed:
        click.echo("installed " + ", ".join(installed))
    else:
        click.echo(procedures.script(), nl=False)
