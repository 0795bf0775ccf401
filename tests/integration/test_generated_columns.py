"""Generated and invisible columns: archived with their values, restored by letting the server
compute the generated ones, then checked against the archive (issue 17, item 2).

The oracle is the table's own rows read back as stored (``CAST(col AS BINARY)``), before and
after; the restore's digest check is what is being tested, not used as the proof.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from dbarchive import build_context, export_day, restore_day
from dbarchive.build import build_throttle
from dbarchive.cli import cli
from dbarchive.jobs.daily import TableReport, purge_table
from dbarchive.steps import upload
from dbarchive.steps.verify import verify_day
from tests.integration.helpers import make_job
from tests.integration.mysql_fixtures import MySqlSchema, mysql_schema  # noqa: F401

DAY = dt.date(2026, 5, 1)
DDL = """
CREATE TABLE `orders` (
  id INT NOT NULL PRIMARY KEY,
  ts DATETIME NOT NULL,
  qty INT NOT NULL,
  price DECIMAL(10,2) NOT NULL,
  total DECIMAL(12,2) AS (qty * price) VIRTUAL,
  label VARCHAR(40) AS (CONCAT('order-', id, '/', qty)) STORED,
  memo VARCHAR(20) NULL INVISIBLE,
  KEY (ts)
) DEFAULT CHARSET=utf8mb4
"""
COLUMNS = ["id", "ts", "qty", "price", "total", "label", "memo"]
ROWS = 5


def _load(schema: MySqlSchema) -> None:
    schema.execute(DDL)
    for i in range(1, ROWS + 1):
        memo = None if i == 3 else f"memo {i}"
        schema.execute(
            "INSERT INTO orders (id, ts, qty, price, memo) VALUES (%s, %s, %s, %s, %s)",
            (i, f"2026-05-01 0{i}:00:00", i * 2, f"{i}.25", memo),
        )


def _rows(schema: MySqlSchema, table: str = "orders") -> list[tuple[Any, ...]]:
    """Every column, invisible ones too (SELECT * would skip them), as stored."""
    cols = ", ".join(f"CAST(`{c}` AS BINARY)" for c in COLUMNS)
    return schema.execute(f"SELECT {cols} FROM `{table}` ORDER BY id")


def _job(schema: MySqlSchema, tmp_path: Path, fmt: str = "csv") -> Any:
    table = {"name": "orders", "timestamp_column": "ts", "chunk_rows": 2}
    return make_job(schema.url, str(tmp_path / "arch"), [table], format=fmt)


def _purge(ctx: Any) -> TableReport:
    report = TableReport("orders")
    purge_table(ctx, ctx.job.tables[0], DAY + dt.timedelta(days=90), build_throttle(ctx), report)
    assert report.ok, report.errors
    return report


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_export_purge_restore_gives_back_generated_and_invisible_values(
    mysql_schema: MySqlSchema, tmp_path: Path, fmt: str
) -> None:
    """Generated values and the invisible column are in the archive; after the purge, restore
    writes the base columns, the server computes the rest, and the rows are back as they were."""
    _load(mysql_schema)
    before = _rows(mysql_schema)
    ctx = build_context(_job(mysql_schema, tmp_path, fmt))
    spec = ctx.job.tables[0]
    export_day(ctx, spec, DAY)
    manifest = upload.read_manifest(ctx.storage, ctx.partition(spec, DAY))
    assert manifest is not None and [c.name for c in manifest.columns] == COLUMNS
    assert verify_day(ctx, spec, DAY).ok
    assert _purge(ctx).rows_deleted == ROWS
    assert mysql_schema.execute("SELECT COUNT(*) FROM orders") == [(0,)]
    restored = restore_day(ctx, spec, DAY)
    assert restored.ok, restored.problems
    assert (restored.written, restored.skipped) == (ROWS, 0)
    assert _rows(mysql_schema) == before
    again = restore_day(ctx, spec, DAY, replace=True)  # overwrites the base columns only
    assert again.ok, again.problems
    assert _rows(mysql_schema) == before
    info = ctx.describe(spec)
    assert {c.name: c.generated for c in info.columns if c.generated} == {
        "total": "VIRTUAL",
        "label": "STORED",
    }
    ctx.source.close()


def test_restore_into_a_copy_and_into_a_table_from_the_manifest(
    mysql_schema: MySqlSchema, tmp_path: Path
) -> None:
    """--into a table LIKE the original computes the generated columns again; with the original
    gone, the table built from the manifest holds the archived values as plain columns."""
    _load(mysql_schema)
    before = _rows(mysql_schema)
    ctx = build_context(_job(mysql_schema, tmp_path))
    spec = ctx.job.tables[0]
    export_day(ctx, spec, DAY)
    like = restore_day(ctx, spec, DAY, into="orders_copy")
    assert like.ok, like.problems
    assert _rows(mysql_schema, "orders_copy") == before
    ctx.source.close()
    mysql_schema.execute("DROP TABLE orders")
    ctx = build_context(ctx.job)
    rebuilt = restore_day(ctx, spec, DAY, into="orders_rebuilt")
    assert rebuilt.ok and rebuilt.created_table, rebuilt.problems
    assert _rows(mysql_schema, "orders_rebuilt") == before
    ctx.source.close()


def test_restore_says_when_the_server_computes_other_values_than_the_archive(
    mysql_schema: MySqlSchema, tmp_path: Path
) -> None:
    """The expression changed after the day was archived: the recomputed values differ from the
    archived ones, and restore says so (not OK), naming the generated columns."""
    _load(mysql_schema)
    ctx = build_context(_job(mysql_schema, tmp_path))
    spec = ctx.job.tables[0]
    export_day(ctx, spec, DAY)
    _purge(ctx)
    mysql_schema.execute(
        "ALTER TABLE orders MODIFY total DECIMAL(12,2) AS (qty * price + 1) VIRTUAL"
    )
    restored = restore_day(ctx, spec, DAY)
    assert not restored.ok
    assert "computed the generated column(s) total, label" in restored.problems[0]
    ctx.source.close()


def test_check_warns_about_generated_columns(mysql_schema: MySqlSchema, tmp_path: Path) -> None:
    """`dbarchive check` names the generated columns and what restore does with them, as a
    warning: it does not fail the check."""
    _load(mysql_schema)
    config = tmp_path / "job.toml"
    config.write_text(
        f'[source]\nurl = "{mysql_schema.url}"\n[destination]\nurl = "{tmp_path / "arch"}"\n'
        '[[tables]]\nname = "orders"\ntimestamp_column = "ts"\n'
    )
    result = CliRunner().invoke(cli, ["check", "-c", str(config)])
    assert result.exit_code == 0, result.output
    line = next(x for x in result.output.splitlines() if "generated columns of orders" in x)
    assert line.startswith("WARN") and "total (VIRTUAL), label (STORED)" in line
    as_json = json.loads(CliRunner().invoke(cli, ["check", "-c", str(config), "--json"]).stdout)
    warned = [r for r in as_json if r["warning"]]
    assert [r["name"] for r in warned] == ["mysql: generated columns of orders"]
    assert warned[0]["ok"]


def test_an_invisible_column_is_archived_and_restored(
    mysql_schema: MySqlSchema, tmp_path: Path
) -> None:
    """An INVISIBLE column (which SELECT * leaves out) is a column of the archive like any
    other: in the CSV header and rows, and back after purge and restore."""
    mysql_schema.execute(
        "CREATE TABLE notes (id INT NOT NULL PRIMARY KEY, ts DATETIME NOT NULL,"
        " hidden VARCHAR(20) NULL INVISIBLE, KEY (ts))"
    )
    mysql_schema.execute(
        "INSERT INTO notes (id, ts, hidden) VALUES (1, '2026-05-01 01:00:00', 'only here'),"
        " (2, '2026-05-01 02:00:00', NULL)"
    )
    before = mysql_schema.execute("SELECT id, ts, hidden FROM notes ORDER BY id")
    table = {"name": "notes", "timestamp_column": "ts"}
    job = make_job(mysql_schema.url, str(tmp_path / "arch"), [table], compression="none")
    ctx = build_context(job)
    spec = job.tables[0]
    export_day(ctx, spec, DAY)
    (part,) = (tmp_path / "arch").rglob("part-*.csv")
    assert part.read_bytes().splitlines()[:2] == [
        b'"id","ts","hidden"',
        b'"1","2026-05-01 01:00:00","only here"',
    ]
    report = TableReport("notes")
    purge_table(ctx, spec, DAY + dt.timedelta(days=90), build_throttle(ctx), report)
    assert report.ok and report.rows_deleted == 2, report.errors
    assert restore_day(ctx, spec, DAY).ok
    assert mysql_schema.execute("SELECT id, ts, hidden FROM notes ORDER BY id") == before
    assert mysql_schema.execute(
        "SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE()"
        " AND TABLE_NAME = 'notes' AND EXTRA LIKE '%%INVISIBLE%%'"
    ) == [("hidden",)]
    ctx.source.close()
