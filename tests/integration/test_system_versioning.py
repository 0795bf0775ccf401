"""A table WITH SYSTEM VERSIONING (MariaDB): the purge deletes current rows, history stays.

MariaDB turns every DELETE on such a table into history: the deleted row stays, readable with
``FOR SYSTEM_TIME ALL``, and no space is freed. dbarchive archives and purges the current rows
only (history can be a table's audit trail; it is never deleted behind the user's back), says
so in ``check`` and ``plan``, and names the statement that removes history: DELETE HISTORY.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.integration.mysql_fixtures import MySqlSchema, mysql_schema  # noqa: F401
from tests.integration.test_cli import run_cli, write_config

pytestmark = pytest.mark.integration

DDL = "CREATE TABLE {name} (id INT PRIMARY KEY, ts DATETIME NOT NULL, note VARCHAR(20), KEY (ts))"


def _count(schema: MySqlSchema, table: str, history: bool = False) -> int:
    every = " FOR SYSTEM_TIME ALL" if history else ""
    return int(schema.execute(f"SELECT COUNT(*) FROM {table}{every}")[0][0])


def test_purge_of_a_versioned_table_keeps_history_and_says_so(
    mysql_schema: MySqlSchema,
    tmp_path: Path,
) -> None:
    mysql_schema.execute(DDL.format(name="versioned") + " WITH SYSTEM VERSIONING")
    mysql_schema.execute(DDL.format(name="plain"))
    for table in ("versioned", "plain"):
        mysql_schema.execute(
            f"INSERT INTO {table} SELECT seq, TIMESTAMP('2026-01-05') + INTERVAL seq MINUTE,"
            " CONCAT('n', seq) FROM seq_1_to_50"
        )
    tables = [
        {"name": t, "timestamp_column": "ts", "retention": "7 days"} for t in ("versioned", "plain")
    ]
    config = str(
        write_config(
            tmp_path / "a.toml", {"url": mysql_schema.url}, {"url": str(tmp_path / "arch")}, tables
        )
    )

    result = run_cli("check", "-c", config, "--json")
    assert result.exit_code == 0, result.output
    warnings = [r for r in json.loads(result.stdout) if r["warning"]]
    assert [r["name"] for r in warnings] == ["mysql: system versioning of versioned"]
    assert "deletes its current rows only" in warnings[0]["detail"]
    assert f"DELETE HISTORY FROM `{mysql_schema.name}`.`versioned`" in warnings[0]["fix"]
    result = run_cli("plan", "-c", config, "--date", "2026-01-05", "--json")
    assert result.exit_code == 0, result.output
    notes = {p["table"]: p["notes"] for p in json.loads(result.stdout)}
    assert notes["plain"] == [] and "WITH SYSTEM VERSIONING" in notes["versioned"][0]
    result = run_cli("plan", "-c", config, "--date", "2026-01-05")
    assert result.stdout.startswith("note: versioned is WITH SYSTEM VERSIONING")

    result = run_cli("run", "-c", config, "--today", "2026-02-01", "--json")
    assert result.exit_code == 0, result.output
    assert [r["purged"][0]["rows_deleted"] for r in json.loads(result.stdout)["tables"][:2]] == [
        50,
        50,
    ]
    assert (_count(mysql_schema, "versioned"), _count(mysql_schema, "plain")) == (0, 0)
    assert _count(mysql_schema, "versioned", history=True) == 50  # deleted rows kept as history

    mysql_schema.execute("DELETE HISTORY FROM versioned BEFORE SYSTEM_TIME CURRENT_TIMESTAMP(6)")
    assert _count(mysql_schema, "versioned", history=True) == 0  # the documented way out
    result = run_cli("restore", "-c", config, "-t", "versioned", "--date", "2026-01-05")
    assert result.exit_code == 0, result.output
    assert _count(mysql_schema, "versioned") == 50


def test_a_restore_names_the_system_versioning_columns_it_cannot_write_back(
    mysql_schema: MySqlSchema, tmp_path: Path
) -> None:
    """Named period columns (ROW START / ROW END) are archived; a restore into a versioned table
    lets the server set them to its own time, so the day is not verified. The message blamed
    generated expressions (an outside trial): it now names the period columns and the way out."""
    mysql_schema.execute(
        "CREATE TABLE named (id INT PRIMARY KEY, ts DATETIME NOT NULL, note VARCHAR(20),"
        " rs TIMESTAMP(6) GENERATED ALWAYS AS ROW START,"
        " re TIMESTAMP(6) GENERATED ALWAYS AS ROW END,"
        " PERIOD FOR SYSTEM_TIME(rs, re), KEY (ts)) WITH SYSTEM VERSIONING"
    )
    mysql_schema.execute(
        "INSERT INTO named (id, ts, note) SELECT seq, TIMESTAMP('2026-01-05') + INTERVAL seq"
        " MINUTE, CONCAT('n', seq) FROM seq_1_to_20"
    )
    tables = [{"name": "named", "timestamp_column": "ts"}]
    config = str(
        write_config(
            tmp_path / "a.toml", {"url": mysql_schema.url}, {"url": str(tmp_path / "arch")}, tables
        )
    )
    assert run_cli("export", "-c", config, "--date", "2026-01-05").exit_code == 0
    result = run_cli(
        "restore", "-c", config, "-t", "named", "--date", "2026-01-05", "--into", "named_back"
    )
    assert result.exit_code == 5, result.output
    assert "rs, re are the table's system-versioning columns" in result.output
    assert "generated column" not in result.output
