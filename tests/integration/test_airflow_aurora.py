"""One DAG factory, both strategies: the daily DAG (dag.test(), Airflow 3 here and 2.11 in
``make test-airflow2``) archives an aurora-outfile table (Aurora emulated on MariaDB) and a
stream table side by side; the aurora export tasks read no row; the generated database-side
DAG parses."""

from __future__ import annotations

import datetime as dt
import json
import os
import sqlite3
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

from dbarchive import build_context, job_from_dict
from dbarchive.layout import PartitionPath
from dbarchive.steps import upload
from dbarchive.steps.verify import verify_day
from dbarchive.strategies.aurora.procedures import airflow_dag, build_procedures
from tests.integration.airflow_fixtures import AirflowHome, airflow_home, dag_file  # noqa: F401
from tests.integration.aurora_emulation import (
    OUTFILE_DIR_ENV,
    ROLL_ENV,
    OutfileSchema,
    OutfileServer,
    outfile_schema,  # noqa: F401
    outfile_server,  # noqa: F401
)
from tests.integration.helpers import LOG_TABLE_DDL

pytestmark = [
    pytest.mark.timeout(240),
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::PendingDeprecationWarning"),
    pytest.mark.filterwarnings("ignore:Using `httpx` with `starlette.testclient` is deprecated"),
]
RUN_DATE = dt.datetime(2026, 11, 25, tzinfo=dt.UTC)  # archives 2026-11-24
YESTERDAY = dt.date(2026, 11, 24)


def _fill(schema: OutfileSchema, table: str) -> None:
    """40 rows a day from 2026-09-20 to 09-25 (expired), 4000 on 2026-11-24 (several units)."""
    schema.execute(LOG_TABLE_DDL.replace("`events`", f"`{table}`"))
    schema.execute(
        f"INSERT INTO `{table}` (created_at, account_id, amount, note) SELECT TIMESTAMP('2026-09-20')"
        " + INTERVAL (seq DIV 40) DAY + INTERVAL (seq MOD 40) * 2000 SECOND, seq MOD 5, seq / 3,"
        " CONCAT('r\"', seq) FROM seq_0_to_239"  # 09-20 .. 09-25: expired on 11-25
    )
    schema.execute(
        f"INSERT INTO `{table}` (created_at, account_id, amount, note) SELECT TIMESTAMP('2026-11-24')"
        " + INTERVAL seq * 20 SECOND, 7, NULL, 'late, \"quoted\"' FROM seq_1_to_4000"
    )


@pytest.fixture
def connections(
    outfile_schema: OutfileSchema,
    outfile_server: OutfileServer,
    s3_endpoint: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> OutfileSchema:
    """mysql_default → the outfile server's schema; aws_default → SeaweedFS; Aurora emulated."""
    server = urlparse(outfile_server.root_url)
    mysql = {"conn_type": "mysql", "host": server.hostname, "port": server.port or 3306,
             "login": "root", "password": "", "schema": outfile_schema.name}  # fmt: skip
    aws = {"conn_type": "aws", "login": s3_endpoint.access_key, "password": s3_endpoint.secret_key,
           "extra": {"endpoint_url": s3_endpoint.url, "region_name": s3_endpoint.region}}  # fmt: skip
    monkeypatch.setenv("AIRFLOW_CONN_MYSQL_DEFAULT", json.dumps(mysql))
    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", json.dumps(aws))
    monkeypatch.setenv("DBARCHIVE_OUTFILE_RUNNER", "tests.integration.aurora_emulation:runner")
    monkeypatch.setenv(OUTFILE_DIR_ENV, str(outfile_server.outdir))
    monkeypatch.setenv(ROLL_ENV, "100000")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name, raising=False)
    return outfile_schema


def _xcoms(home: AirflowHome, dag_id: str, task_id: str) -> list[dict[str, Any]]:
    """The tasks' return values, read from the metadata DB (Airflow 2 and 3 both store JSON)."""
    with sqlite3.connect(home.home / "airflow.db") as db:
        rows = db.execute(
            "SELECT value FROM xcom WHERE dag_id = ? AND task_id = ? AND key = 'return_value'"
            " ORDER BY map_index",
            (dag_id, task_id),
        ).fetchall()
    values = []
    for (raw,) in rows:
        value = json.loads(raw)
        values.append(json.loads(value) if isinstance(value, str) else value)
    return values


def test_the_same_factory_runs_aurora_and_stream_tables(
    connections: OutfileSchema,
    s3_endpoint: Any,
    s3_bucket: str,
    tmp_path: Path,
    dag_file: Any,
    airflow_home: AirflowHome,
) -> None:
    """catch_up >> plan >> export[unit] >> verify >> purge for both tables: the aurora export
    tasks read no row (Aurora writes), the stream ones read theirs; both days verify, expired
    days are purged (no day between them has rows: catch_up finds nothing)."""
    schema = connections
    for table in ("events", "ledger"):
        _fill(schema, table)
    config = tmp_path / "archive.toml"
    config.write_text(
        f'[destination]\nurl = "s3://{s3_bucket}/archive"\n[defaults]\nretention = "60 days"\n'
        "range_rows = 1500\n"
        '[[tables]]\nname = "events"\ntimestamp_column = "created_at"\n'
        'export.strategy = "aurora-outfile"\n'
        '[[tables]]\nname = "ledger"\ntimestamp_column = "created_at"\n'
    )
    source = f"from dbarchive.airflow import build_dag\ndag = build_dag({str(config)!r}, dag_id='dbarchive_both', retries=0)\n"
    dag = dag_file(source, "dbarchive_both")
    assert {t.task_id for t in dag.tasks} == {
        f"{t}.{step}"
        for t in ("events", "ledger")
        for step in ("settle", "catch_up", "plan", "export", "verify", "purge")
    }
    from dbarchive.airflow._compat import run_dag_test

    assert run_dag_test(dag, RUN_DATE).state == "success"
    aurora = _xcoms(airflow_home, "dbarchive_both", "events.export")
    stream = _xcoms(airflow_home, "dbarchive_both", "ledger.export")
    assert len(aurora) == len(stream) == 3  # 4000 rows in units of 1500
    assert all(x["rows_read"] == 0 and x["files"] == [] for x in aurora)
    assert sum(x["rows"] for x in aurora) == 4000
    assert all(x["rows_read"] > 0 for x in stream)
    text = config.read_text().replace(
        "[destination]", f'[source]\nurl = "{schema.url}"\n[destination]'
    )
    text = text.replace('url = "s3://', f'endpoint_url = "{s3_endpoint.url}"\nurl = "s3://', 1)
    os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"] = (s3_endpoint.access_key,
                                                                          s3_endpoint.secret_key)  # fmt: skip
    ctx = build_context(job_from_dict(tomllib.loads(text)))
    for spec in ctx.job.tables:
        manifest = upload.read_manifest(ctx.storage, PartitionPath(spec.name, YESTERDAY))
        assert manifest is not None and manifest.rows == 4000
        assert manifest.extra["export_strategy"] == spec.export.strategy
        assert verify_day(ctx, spec, YESTERDAY).ok
        oldest = schema.execute(f"SELECT MIN(created_at) FROM `{spec.name}`")[0][0]
        assert str(oldest).startswith("2026-11-24"), spec.name  # expired days purged
    ctx.source.close()


def test_the_generated_database_side_dag_parses(
    outfile_schema: OutfileSchema, dag_file: Any, tmp_path: Path
) -> None:
    """`dbarchive sql --airflow` gives a DAG the DAG processor imports: export >> purge, CALLs."""
    outfile_schema.execute(LOG_TABLE_DDL)
    job = job_from_dict({
        "source": {"url": outfile_schema.url},
        "destination": {"url": "s3://archive-bucket/prod"},
        "tables": [{"name": "events", "timestamp_column": "created_at"}],
    })  # fmt: skip
    ctx = build_context(job)
    procedures = build_procedures(job, job.tables[0], ctx.describe(job.tables[0]))
    ctx.source.close()
    dag = dag_file(airflow_dag(procedures, "events"), "dbarchive_database_side_events")
    export, purge = dag.get_task("export_events"), dag.get_task("purge_events")
    assert purge.task_id in export.downstream_task_ids
    assert export.sql.startswith(f"CALL `{outfile_schema.name}`.`dbarchive_export_events`(")
