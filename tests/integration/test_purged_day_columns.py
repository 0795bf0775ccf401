"""A day whose purge has begun, after the table's columns changed: its archive is the only copy of
the rows already deleted, so it only grows, on its archived columns. A late row is archived and
deleted only when a restore gives it back whole (its added columns hold their defaults); any
other row of the day is kept, and reported; the table's other expired days are purged whatever
becomes of that one."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from dbarchive import api
from dbarchive.layout import PartitionPath
from dbarchive.manifest import Manifest
from tests.integration.helpers import LOG_TABLE_DDL, make_job
from tests.integration.mysql_fixtures import MySqlSchema, mysql_schema  # noqa: F401

TODAY = dt.date(2026, 11, 25)
PURGED, LATER = TODAY - dt.timedelta(days=70), TODAY - dt.timedelta(days=69)


def _job(schema: MySqlSchema, dest: Path) -> Any:
    spec = {"name": "events", "timestamp_column": "created_at", "retention": "60 days"}
    return make_job(schema.url, str(dest), [spec])


def _fill(schema: MySqlSchema, day: dt.date, rows: int) -> None:
    schema.execute(
        "INSERT INTO events (created_at, account_id, amount, note) SELECT TIMESTAMP(%s) + "
        "INTERVAL seq * 1000 SECOND, seq MOD 7, seq / 4, CONCAT('n', seq) FROM seq_0_to_"
        + str(rows - 1),
        (day.isoformat(),),
    )


def _late(schema: MySqlSchema, sql_values: str) -> list[int]:
    """Insert late rows into the purged day; their ids."""
    before = schema.execute("SELECT COALESCE(MAX(id), 0) FROM events")[0][0]
    schema.execute(f"INSERT INTO events (created_at, account_id, amount, note{sql_values}")
    return [r[0] for r in schema.execute("SELECT id FROM events WHERE id > %s", (before,))]


def _rows(schema: MySqlSchema, table: str, ids: list[int]) -> list[tuple[Any, ...]]:
    marks = ", ".join(["%s"] * len(ids))
    return sorted(schema.execute(f"SELECT * FROM `{table}` WHERE id IN ({marks})", tuple(ids)))


def _manifest(job: Any, day: dt.date) -> Manifest:
    with api.session(job) as ctx:
        raw = ctx.storage.get_bytes(PartitionPath("events", day).manifest_key)
    assert raw is not None
    return Manifest.loads(raw)


def test_late_rows_of_a_purged_day_after_columns_were_added_are_archived_if_restorable(
    mysql_schema: MySqlSchema, tmp_path: Path
) -> None:
    """Purged, then two columns added (one nullable, one NOT NULL DEFAULT 0), then five late rows:
    three hold the defaults, one a channel, one a flag. The run archives the three (on the
    archived columns: a restore gives them back exactly, defaults included) and deletes them;
    the two others stay in the table, neither archived nor deleted, and the day is reported
    (exit 5) and listed by status. A later day, archived with today's columns, is purged."""
    mysql_schema.execute(LOG_TABLE_DDL)
    _fill(mysql_schema, PURGED, 20)
    job = _job(mysql_schema, tmp_path / "arch")
    (first,) = api.purge(job, today=TODAY)
    assert first.rows_deleted == 20 and not first.errors
    mysql_schema.execute(
        "ALTER TABLE events ADD COLUMN channel VARCHAR(10) NULL, "
        "ADD COLUMN flag TINYINT NOT NULL DEFAULT 0"
    )
    at = f"'{PURGED} 23:30:00'"
    restorable = _late(
        mysql_schema,
        f") VALUES ({at}, 1, 1.5, 'late'), ({at}, 2, NULL, NULL), ({at}, 3, 3.25, 'ü😀')",
    )
    held = _late(
        mysql_schema,
        f", channel, flag) VALUES ({at}, 4, 4, 'web', 'app', 0), ({at}, 5, 5, 'x', NULL, 1)",
    )
    _fill(mysql_schema, LATER, 10)
    before = _rows(mysql_schema, "events", restorable)

    (report,) = api.purge(job, today=TODAY)

    assert report.rows_deleted == 3 + 10
    (error,) = report.errors
    assert error.startswith(f"events {PURGED}: kept 2 of its rows, which hold values in columns ")
    assert report.error_codes == [5]
    left = [r[0] for r in mysql_schema.execute("SELECT id FROM events ORDER BY id")]
    assert left == held, "only the rows whose added columns hold other values stay"
    grown = _manifest(job, PURGED)
    assert grown.rows == 23 and "channel" not in [c.name for c in grown.columns]
    assert "channel" in [c.name for c in _manifest(job, LATER).columns]

    restored = api.restore(job, "events", PURGED, into="events_back")
    assert restored.written == 23 and restored.ok, restored
    assert _rows(mysql_schema, "events_back", restorable) == before, "given back whole"
    with api.session(job) as ctx:
        assert api.status(ctx, "events", today=TODAY).held_days == [PURGED]
        result = api.verify(ctx, "events", PURGED)
    assert result.ok, result.problems
    assert any("neither archived nor deleted: 2 of its rows, holding" in n for n in result.notes)


def test_a_purged_day_that_cannot_grow_keeps_its_rows_and_the_later_days_are_purged(
    mysql_schema: MySqlSchema, tmp_path: Path
) -> None:
    """A column retyped after the day's purge: its archive cannot grow by a late row (the rows no
    longer have the archived columns as archived). That day keeps its row, with an error naming
    the column; the next expired day is still verified and purged."""
    mysql_schema.execute(LOG_TABLE_DDL)
    _fill(mysql_schema, PURGED, 20)
    job = _job(mysql_schema, tmp_path / "arch")
    (first,) = api.purge(job, today=TODAY)
    assert first.rows_deleted == 20
    mysql_schema.execute("ALTER TABLE events MODIFY amount DECIMAL(20,4) NULL")
    late = _late(mysql_schema, f") VALUES ('{PURGED} 23:30:00', 1, 1.5, 'late')")
    _fill(mysql_schema, LATER, 10)

    (report,) = api.purge(job, today=TODAY)

    (error,) = report.errors
    assert f"events {PURGED}: the table's columns changed since" in error
    assert "changed or dropped: amount" in error
    assert report.rows_deleted == 10, "the later day is purged"
    assert [r[0] for r in mysql_schema.execute("SELECT id FROM events")] == late
    assert _manifest(job, PURGED).rows == 20


def test_a_column_added_with_an_expression_default_keeps_every_late_row(
    mysql_schema: MySqlSchema, tmp_path: Path
) -> None:
    """``DEFAULT CURRENT_TIMESTAMP``: a restore would give the row another time than it holds,
    so no late row of the purged day is archived or deleted, even one the application left at
    its default."""
    mysql_schema.execute(LOG_TABLE_DDL)
    _fill(mysql_schema, PURGED, 20)
    job = _job(mysql_schema, tmp_path / "arch")
    api.purge(job, today=TODAY)
    mysql_schema.execute("ALTER TABLE events ADD COLUMN seen DATETIME NULL DEFAULT NOW()")
    late = _late(mysql_schema, f") VALUES ('{PURGED} 23:30:00', 1, 1.5, 'late')")

    (report,) = api.purge(job, today=TODAY)

    assert report.rows_deleted == 0
    (error,) = report.errors
    assert error.startswith(f"events {PURGED}: kept 1 of its rows, which hold values in columns ")
    assert [r[0] for r in mysql_schema.execute("SELECT id FROM events")] == late
    assert _manifest(job, PURGED).rows == 20
