"""The database-side mode's procedures and DAG: golden text, zones, names, refusals.

The golden files are the reviewed output (``DBARCHIVE_UPDATE_GOLDEN=1`` rewrites them after a
deliberate change; review the diff).
"""

from __future__ import annotations

import ast
import os
from pathlib import Path
from typing import Any

import pytest

from dbarchive.config import job_from_dict
from dbarchive.errors import ConfigError
from dbarchive.sources.canonical import Column
from dbarchive.sources.table import TableInfo
from dbarchive.strategies.aurora.procedures import airflow_dag, build_procedures, procedure_name
from tests.unit.test_aurora_statement import INFO

GOLDEN = Path(__file__).parent / "golden"


def _golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("DBARCHIVE_UPDATE_GOLDEN") == "1":
        path.write_text(text)
    assert text == path.read_text(), f"{name} differs from its golden file"


def _job(**table: Any) -> Any:
    return job_from_dict(
        {
            "source": {"url": "mysql://u@h/payments", **table.pop("source", {})},
            "destination": {"url": "s3://acme-archive/prod", "region": "eu-west-1"},
            "tables": [{"name": "events", "timestamp_column": "created_at", **table}],
        }
    )


def test_procedures_match_the_golden_script() -> None:
    """Export in key ranges of range_rows keys through the archive's statement and layout; purge
    in committed chunks with a pause; both restore the session's time zone."""
    job = _job(range_rows=500_000, retention="2 months")
    _golden("aurora-procedures.sql", build_procedures(job, job.tables[0], INFO).script())


def test_the_dag_matches_the_golden_file_and_is_python() -> None:
    """Two SQL tasks calling the procedures: the day before the interval's end, then the purge."""
    job = _job()
    text = airflow_dag(build_procedures(job, job.tables[0], INFO), "events")
    ast.parse(text)
    _golden("aurora-procedures-dag.py.txt", text)


def test_composite_keys_export_the_day_in_one_ordered_statement() -> None:
    """Without a single integer key the day is one statement, ordered by time then key."""
    a, b = Column("a", "varchar", "varchar(10)", False), Column("b", "int", "int", False)
    ts = Column("ts", "timestamp", "timestamp(6)", False)
    info = TableInfo("s", "t", (a, b, ts), (a, b), "PRIMARY", ts, "ix_ts")
    job = _job(name="t", timestamp_column="ts")
    sql = build_procedures(job, job.tables[0], info).export_sql
    assert "WHILE" not in sql and "ORDER BY `ts`, `a`, `b`" in sql
    assert "FORCE INDEX (`ix_ts`)" in sql


def test_a_table_zone_other_than_the_columns_converts_the_day_bounds() -> None:
    """A Berlin day over a UTC DATETIME column: midnights converted, like dbarchive's windows."""
    job = _job(timezone="Europe/Berlin", source={"timezone": "UTC"})
    procs = build_procedures(job, job.tables[0], INFO)
    assert (
        "SET v_start = CONVERT_TZ(TIMESTAMP(v_day), 'Europe/Berlin', '+00:00');" in procs.export_sql
    )
    assert "DATE(CONVERT_TZ(UTC_TIMESTAMP(), '+00:00', 'Europe/Berlin'))" in procs.purge_sql


def test_long_table_names_give_valid_procedure_names() -> None:
    """MySQL allows 64 characters: longer names are cut and keep a hash, so they stay distinct."""
    a, b = procedure_name("export", "x" * 60), procedure_name("export", "x" * 59 + "y")
    assert len(a) == len(b) == 64 and a != b
    assert procedure_name("purge", "events") == "dbarchive_purge_events"


def test_a_filter_with_a_backslash_is_refused() -> None:
    """A backslash would mean different things under different sql_modes: refused, clearly."""
    job = _job(where="note NOT LIKE 'a\\\\_b'")
    with pytest.raises(ConfigError, match="backslash"):
        build_procedures(job, job.tables[0], INFO)


def test_a_local_destination_is_refused() -> None:
    """The procedures write to S3 from the database: a local destination cannot be one."""
    job = job_from_dict(
        {
            "source": {"url": "mysql://u@h/payments"},
            "destination": {"url": "/tmp/archive"},
            "tables": [{"name": "events", "timestamp_column": "created_at"}],
        }
    )
    with pytest.raises(ConfigError, match="s3://"):
        build_procedures(job, job.tables[0], INFO)
