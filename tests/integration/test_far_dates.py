"""Rows dated far back — 0001-01-01 (an application's "minimum date"), 1000-01-01, 1970-01-01 —
are archived and purged like any expired day, in zones either side of the column's. Found by an
outside trial: 0001-01-01 crashed `status`, `purge` and `run` (no table after it ran), 1000-01-01
failed every run with "375020 days asked for", and 1970-01-01 made each run count 20,000 days."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from dbarchive import build_context, load_job
from dbarchive.cli import cli
from dbarchive.jobs.catch_up import expired_days
from tests.integration.mysql_fixtures import MySqlSchema, mysql_schema  # noqa: F401

TODAY = "2026-12-01"
FAR = ["0001-01-01 00:00:00", "0001-01-01 23:59:59.999999", "1000-01-01 00:00:00",
       "1970-01-01 00:00:00", "2026-08-01 12:00:00"]  # fmt: skip
KEPT = "2026-11-30 12:00:00"  # inside the retention


def _tables(schema: MySqlSchema) -> None:
    for name in ("far", "after"):
        schema.execute(
            f"CREATE TABLE {name} (id INT PRIMARY KEY, created_at DATETIME(6) NULL,"
            " note VARCHAR(20), KEY (created_at))"
        )
        schema.execute(
            f"INSERT INTO {name} VALUES " + ", ".join(
                f"({i}, '{ts}', 'n{i}')" for i, ts in enumerate([*FAR, KEPT], start=1)
            )
        )  # fmt: skip


def _config(tmp_path: Path, schema: MySqlSchema, zone: str) -> Path:
    path = tmp_path / "far.toml"
    path.write_text(
        f'[source]\nurl = "{schema.url}"\ntimezone = "UTC"\n'
        f'[destination]\nurl = "{tmp_path / "arch"}"\n'
        f'[defaults]\nretention = "2 months"\ntimezone = "{zone}"\n'
        '[[tables]]\nname = "far"\ntimestamp_column = "created_at"\n'
        '[[tables]]\nname = "after"\ntimestamp_column = "created_at"\n'
    )
    return path


def _cli(config: Path, *args: str) -> Any:
    return CliRunner().invoke(cli, [args[0], "-c", str(config), *args[1:], "--today", TODAY])


@pytest.mark.parametrize("zone", ["UTC", "America/New_York", "Asia/Tokyo"])
def test_rows_dated_far_back_are_archived_purged_and_restored(
    mysql_schema: MySqlSchema, tmp_path: Path, zone: str
) -> None:
    """`status` and a dry run answer; `run` archives and purges every expired row of both tables
    (exit 0), keeping the one inside the retention; each day restores its rows exactly. The days
    the purge visits are those holding rows and their neighbours, not every day since year 1."""
    _tables(mysql_schema)
    config = _config(tmp_path, mysql_schema, zone)
    before = mysql_schema.execute("SELECT id, created_at, note FROM far ORDER BY id")
    ctx = build_context(load_job(config))
    visited = expired_days(ctx, ctx.job.tables[0], dt.date.fromisoformat(TODAY))
    assert len(visited) <= 4 * 5, visited  # four far days, each with two neighbours a side
    ctx.close()
    for command in (("status",), ("purge", "--dry-run")):
        result = _cli(config, *command)
        assert result.exit_code == 0, (command, result.output)

    result = _cli(config, "run")
    assert result.exit_code == 0, result.output
    for table in ("far", "after"):
        assert mysql_schema.execute(f"SELECT id FROM {table}") == [(len(FAR) + 1,)]
    archived = sorted(p.parent.name for p in (tmp_path / "arch").rglob("far/**/_manifest.json"))
    days = {p.relative_to(tmp_path / "arch" / "far").parent.as_posix() for p in
            (tmp_path / "arch" / "far").rglob("_manifest.json")}  # fmt: skip
    assert archived and len(days) >= 4
    for day in sorted(days):
        y, m, d = (int(part.split("=")[1]) for part in day.split("/"))
        restored = CliRunner().invoke(
            cli, ["restore", "-c", str(config), "-t", "far", "--date",
                  dt.date(y, m, d).isoformat(), "--into", "back"],
        )  # fmt: skip
        assert restored.exit_code == 0, (day, restored.output)
    back = mysql_schema.execute("SELECT id, created_at, note FROM back ORDER BY id")
    assert back == before  # the kept row too: run archived yesterday
