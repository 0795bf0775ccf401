"""Table and column names that fight SQL text: ``%``, ``%s``, ``%%``, ``{}``, a backtick, quotes,
spaces and non-ASCII, through every command that builds SQL from them.

MySQLdb binds parameters with Python's ``%`` over the whole statement, so a column named ``100%``
once crashed export and purge ("unsupported format character"), and ``%s`` in a name could take
a parameter's place. The oracle is the table's own rows, read with a plain cursor before the
purge and after the restore.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb
import pytest

from tests.integration.mysql_fixtures import MySqlSchema, mysql_schema  # noqa: F401
from tests.integration.test_cli import run_cli, write_config

pytestmark = pytest.mark.integration

TABLE = "t %s %% % {} ` ' \" é"
KEY = "k%s"
TS = "t 100%"
DAYS = ("2026-01-05", "2026-01-06")


def q(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


COLUMNS = [  # (name, type): besides the key and the time column
    ("%%", "INT"), ("{}", "VARCHAR(20)"), ("a`b", "TEXT"), ("it's", "DECIMAL(8,2)"),
    ('say "hi"', "INT"), ("ünï %", "VARCHAR(10)"), ("%", "INT"),
]  # fmt: skip


def _create(schema: MySqlSchema) -> None:
    """200 rows over two days; every name (table, key, time column, index) is an odd one."""
    columns = ", ".join(f"{q(name)} {kind}" for name, kind in COLUMNS)
    schema.execute(
        f"CREATE TABLE {q(TABLE)} ({q(KEY)} BIGINT NOT NULL PRIMARY KEY,"
        f" {q(TS)} DATETIME(6) NOT NULL, {columns}, KEY {q('ix %s')} ({q(TS)}))"
        " CHARACTER SET utf8mb4"
    )
    schema.execute(  # no parameters: the driver leaves the text alone
        f"INSERT INTO {q(TABLE)} SELECT seq * 7, TIMESTAMP('{DAYS[0]}') + INTERVAL (seq - 1) * 864"
        " SECOND, seq, CONCAT('x%s', seq), 'a`b', seq / 4, NULL, 'ü%', seq % 3 FROM seq_1_to_200"
    )


def _rows(schema: MySqlSchema, table: str = TABLE) -> list[tuple[Any, ...]]:
    return schema.execute(f"SELECT * FROM {q(table)} ORDER BY {q(KEY)}")


def _config(schema: MySqlSchema, tmp_path: Path, fmt: str, scan: str) -> Path:
    table = {
        "name": TABLE,
        "timestamp_column": TS,
        "format": fmt,
        "scan": scan,
        "chunk_rows": 30,
        "retention": "7 days",
        "where": "`{}` LIKE 'x%'",  # a filter with its own '%' and an odd name
    }
    return write_config(
        tmp_path / "archive.toml", {"url": schema.url}, {"url": str(tmp_path / "arch")}, [table]
    )


@pytest.mark.parametrize(
    ("fmt", "scan", "reader"),
    [("csv", "key", "c"), ("parquet", "time", "c"), ("csv", "time", "python"),
     ("parquet", "key", "python")],
)  # fmt: skip
def test_odd_names_survive_every_command(
    mysql_schema: MySqlSchema,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    fmt: str,
    scan: str,
    reader: str,
) -> None:
    """export, verify, status, check, ddl, purge and restore (in place and --into) of a table
    whose every name holds ``%``, ``%s``, ``%%``, ``{}``, a backtick, quotes, spaces, non-ASCII."""
    if reader == "python":
        from dbarchive.sources import mysql_direct

        monkeypatch.setattr(mysql_direct, "_module", None)
    _create(mysql_schema)
    original = _rows(mysql_schema)
    config = str(_config(mysql_schema, tmp_path, fmt, scan))
    days = ["--from", DAYS[0], "--to", DAYS[1]]

    result = run_cli("export", "-c", config, *days, "--json")
    assert result.exit_code == 0, result.output
    assert [s["rows"] for s in json.loads(result.stdout)] == [100, 100]

    result = run_cli("verify", "-c", config, *days, "--json")
    assert result.exit_code == 0, result.output
    assert [(r["archived_rows"], r["source_rows"]) for r in json.loads(result.stdout)] == [
        (100, 100),
        (100, 100),
    ]

    result = run_cli("status", "-c", config, "--today", "2026-01-07", "--json")
    assert result.exit_code == 0, result.output
    (status,) = json.loads(result.stdout)
    assert status["oldest_day_in_database"] == DAYS[0]
    assert status["archived_rows"] == 200

    result = run_cli("check", "-c", config, "--json")
    assert result.exit_code == 0, result.output
    assert all(r["ok"] for r in json.loads(result.stdout))

    result = run_cli("ddl", "-c", config, "-t", TABLE, "--engine", "duckdb")
    assert result.exit_code == 0, result.output
    lake = duckdb.connect()
    lake.execute(result.stdout)
    name = TABLE.replace('"', '""')
    assert lake.execute(f'SELECT COUNT(*), SUM("%%") FROM "{name}"').fetchone() == (200, 20100)

    result = run_cli("purge", "-c", config, "--today", "2026-03-01", "--json")
    assert result.exit_code == 0, result.output
    assert sum(p["rows_deleted"] for p in json.loads(result.stdout)["tables"][0]["purged"]) == 200
    assert _rows(mysql_schema) == []

    for day in DAYS:
        result = run_cli("restore", "-c", config, "-t", TABLE, "--date", day)
        assert result.exit_code == 0, result.output
        result = run_cli("restore", "-c", config, "-t", TABLE, "--date", day, "--into", "r" + TABLE)
        assert result.exit_code == 0, result.output
    assert _rows(mysql_schema) == original
    assert _rows(mysql_schema, "r" + TABLE) == original
