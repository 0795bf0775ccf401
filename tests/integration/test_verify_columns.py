"""A day archived before the table's columns changed: verify names the change and compares the
database with the archive on the archived columns unchanged since; the purge exports such a day
again, with today's columns, before it deletes a row of it. A day whose purge has begun is never
exported again: it grows on its archived columns, and a row whose added columns a restore would
not give back is kept; the table's other expired days are purged whatever becomes of that one."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from dbarchive import api, build_context
from dbarchive.build import build_throttle
from dbarchive.cli import cli
from dbarchive.jobs.daily import TableReport, purge_table
from dbarchive.jobs.purge_preview import preview_day
from dbarchive.layout import PartitionPath
from dbarchive.manifest import Manifest
from dbarchive.pipeline import export_day
from tests.integration.every_type import COLUMNS
from tests.integration.helpers import LOG_TABLE_DDL, make_job
from tests.integration.lake_drift import DAYS, archive_drifted
from tests.integration.mysql_fixtures import MySqlSchema, mysql_schema  # noqa: F401

DRIFT = "added note; dropped latin; retyped i int(11) -> bigint(20)"
KEPT = len(COLUMNS) - 2  # every archived column but latin (dropped) and i (retyped)


def _config(path: Path, schema: MySqlSchema, dest: str) -> Path:
    path.write_text(
        f'[source]\nurl = "{schema.url}"\n[destination]\nurl = "{dest}"\n'
        '[[tables]]\nname = "everything"\ntimestamp_column = "ts"\n'
    )
    return path


def _verify(config: Path, day: dt.date) -> Any:
    return CliRunner().invoke(cli, ["verify", "-c", str(config), "--date", day.isoformat()])


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_verify_names_the_changed_columns_and_compares_the_others(
    mysql_schema: MySqlSchema, tmp_path: Path, fmt: str
) -> None:
    """Every-type table: a column added, one dropped, one retyped after its first day was
    archived. Verify of that day passes, saying what changed and that the other archived
    columns agree (the archive's digest over them recomputed from the files); a value changed
    in one of those columns since is then found."""
    dest = str(tmp_path / "arch")
    drifted = archive_drifted(mysql_schema, dest, fmt)
    ctx = build_context(drifted.job)
    result = api.verify(ctx, "everything", DAYS[0])
    assert result.ok, result.problems
    assert result.column_change is not None and result.column_change.describe() == DRIFT
    (note,) = result.notes
    assert re.fullmatch(
        re.escape(
            f"everything {DAYS[0]}: the table's columns changed since the day was archived "
            f"({DRIFT}); on the {KEPT} archived columns unchanged since the database and the "
            "archive agree (rows=13 "
        )
        + r"x1=\w+ x2=\w+ s1=\d+\); a purge keeps this day's rows: the archive alone holds the "
        r"dropped columns' values",
        note,
    ), note
    assert api.verify(ctx, "everything", DAYS[1]).column_change is None  # archived after it
    config = _config(tmp_path / "job.toml", mysql_schema, dest)
    assert _verify(config, DAYS[0]).exit_code == 0
    mysql_schema.execute("UPDATE everything SET vc = 'changed' WHERE id = 1")
    changed = _verify(config, DAYS[0])
    assert changed.exit_code == 5, changed.output
    said = " ".join(changed.output.split())
    assert f"on the {KEPT} archived columns unchanged since the database holds rows=13" in said
    ctx.source.close()


def _events_job(schema: MySqlSchema, dest: Path) -> Any:
    spec = {"name": "events", "timestamp_column": "created_at", "retention": "60 days"}
    return make_job(schema.url, str(dest), [spec])


def _fill(schema: MySqlSchema, day: dt.date, rows: int) -> None:
    schema.execute(
        "INSERT INTO events (created_at, account_id, amount, note) SELECT TIMESTAMP(%s) + "
        "INTERVAL seq * 1000 SECOND, seq MOD 7, seq / 4, CONCAT('n', seq) FROM seq_0_to_"
        + str(rows - 1),
        (day.isoformat(),),
    )


def test_a_column_added_is_compared_on_the_manifest_and_purged_after_a_new_export(
    mysql_schema: MySqlSchema, tmp_path: Path
) -> None:
    """Only a column added: every archived column is still there, so the database's digest over
    them equals the manifest's; the purge exports the day again with the new column (no row is
    deleted whose new column's value is not archived), then deletes the day."""
    mysql_schema.execute(LOG_TABLE_DDL)
    today = dt.date(2026, 11, 25)
    day = today - dt.timedelta(days=70)
    _fill(mysql_schema, day, 20)
    ctx = build_context(_events_job(mysql_schema, tmp_path))
    export_day(ctx, ctx.job.tables[0], day)
    ctx.source.close()
    mysql_schema.execute("ALTER TABLE events ADD COLUMN channel VARCHAR(10) NULL DEFAULT 'web'")
    ctx = build_context(ctx.job)
    result = api.verify(ctx, "events", day)
    assert result.ok, result.problems
    assert "(added channel); on the 5 archived columns unchanged since" in result.notes[0]
    report = TableReport("events")
    purge_table(ctx, ctx.job.tables[0], today, build_throttle(ctx), report)
    assert report.rows_deleted == 20
    assert [e.day for e in report.exported] == [day]
    raw = ctx.storage.get_bytes(PartitionPath("events", day).manifest_key)
    assert raw is not None
    manifest = Manifest.loads(raw)
    assert [c.name for c in manifest.columns][-1] == "channel"
    assert manifest.generation == 2 and manifest.rows == 20
    ctx.source.close()


def _purge_config(path: Path, schema: MySqlSchema, dest: Path, on_unarchived: str) -> Path:
    path.write_text(
        f'[source]\nurl = "{schema.url}"\n[destination]\nurl = "{dest}"\n[[tables]]\n'
        'name = "events"\ntimestamp_column = "created_at"\nretention = "60 days"\n'
        f'on_unarchived = "{on_unarchived}"\n'
    )
    return path


def test_purge_dry_run_says_which_days_it_would_export_first_and_with_which_columns(
    mysql_schema: MySqlSchema, tmp_path: Path
) -> None:
    """Three expired days: one archived before a column was added, one never archived, one
    archived with today's columns that has gained a late row. The dry run says of each why it
    would be exported first and with which columns, or, with on_unarchived = 'fail', that it
    keeps its rows; it changes nothing. (A dropped column: the next test.)"""
    mysql_schema.execute(LOG_TABLE_DDL)
    today = dt.date(2026, 11, 25)
    days = [today - dt.timedelta(days=n) for n in (70, 69, 68)]
    for day in days:
        _fill(mysql_schema, day, 20)
    job = _events_job(mysql_schema, tmp_path / "arch")
    ctx = build_context(job)
    export_day(ctx, job.tables[0], days[0])
    ctx.source.close()
    mysql_schema.execute("ALTER TABLE events ADD COLUMN channel VARCHAR(10) NULL")
    ctx = build_context(job)
    export_day(ctx, job.tables[0], days[2])
    ctx.source.close()
    mysql_schema.execute(
        "INSERT INTO events (created_at, account_id) VALUES (%s, 1)", (f"{days[2]} 23:00:00",)
    )
    before = sorted(p.read_bytes() for p in tmp_path.rglob("_manifest*.json"))
    config = _purge_config(tmp_path / "job.toml", mysql_schema, tmp_path / "arch", "export")
    dry = CliRunner().invoke(cli, ["purge", "-c", str(config), "--today", str(today), "--dry-run"])
    assert dry.exit_code == 0, dry.output
    lines = [" ".join(line.split()) for line in dry.output.splitlines()]
    assert (
        f"{days[0]}: 20 rows would be verified and deleted; columns changed since it was archived "
        "(added channel): exported again first, with today's 6 columns"
    ) in lines, "\n".join(lines)
    assert (
        f"{days[1]}: 20 rows would be verified and deleted; not archived: exported first, with "
        "today's 6 columns"
    ) in lines
    assert (
        f"{days[2]}: 21 rows would be verified and deleted; the database holds 21 of its rows, "
        "the archive 20: exported again first, with the archived columns"
    ) in lines
    config = _purge_config(tmp_path / "job.toml", mysql_schema, tmp_path / "arch", "fail")
    args = ["purge", "-c", str(config), "--today", str(today), "--dry-run", "--json"]
    dry = CliRunner().invoke(cli, args)
    assert dry.exit_code == 0, dry.output
    (plan,) = json.loads(dry.stdout)["tables"]
    assert [(d["day"], d["would_delete"]) for d in plan["days"]] == [(str(d), False) for d in days]
    assert plan["days"][0]["export_first"] == (
        "columns changed since it was archived (added channel); "
        "on_unarchived = 'fail': the day is not purged"
    )
    assert sorted(p.read_bytes() for p in tmp_path.rglob("_manifest*.json")) == before
    assert mysql_schema.execute("SELECT COUNT(*) FROM events")[0][0] == 61


def test_a_day_whose_archive_holds_a_dropped_column_is_not_purged_until_exported_on_purpose(
    mysql_schema: MySqlSchema, tmp_path: Path
) -> None:
    """A column dropped after the day was archived: the archive is the only copy of its values.
    The daily run neither re-exports nor purges the day (it says why); an export asked for on
    purpose replaces the archive, and the purge then deletes the day."""
    mysql_schema.execute(LOG_TABLE_DDL)
    today = dt.date(2026, 11, 25)
    day = today - dt.timedelta(days=70)
    _fill(mysql_schema, day, 20)
    job = _events_job(mysql_schema, tmp_path / "arch")
    ctx = build_context(job)
    export_day(ctx, job.tables[0], day)
    ctx.source.close()
    mysql_schema.execute("ALTER TABLE events DROP COLUMN note")
    with api.session(job) as ctx:
        preview = preview_day(ctx, job.tables[0], day)
    assert preview.kept and preview.export_first is not None
    assert preview.export_first.startswith(f"events {day}: columns dropped since the day was")
    (report,) = api.run(job, today=today)
    (error,) = report.errors
    assert f"events {day}: columns dropped since the day was archived (note)" in error
    assert report.rows_deleted == 0 and day not in [e.day for e in report.exported]
    key = PartitionPath("events", day).manifest_key
    with api.session(job) as ctx:
        raw = ctx.storage.get_bytes(key)
        assert raw is not None
        kept = Manifest.loads(raw)
        assert kept.generation == 1 and "note" in [c.name for c in kept.columns]
        assert api.export(ctx, "events", day).generation == 2  # on purpose: today's columns
    (report,) = api.purge(job, today=today)
    assert report.rows_deleted == 20 and not report.errors


# A day purged, then its table's columns changed, then late rows: its archive only grows, on its
# archived columns (a late row goes only if a restore gives it back whole); other days go on.
TODAY = dt.date(2026, 11, 25)
PURGED, LATER = TODAY - dt.timedelta(days=70), TODAY - dt.timedelta(days=69)


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
    job = _events_job(mysql_schema, tmp_path / "arch")
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
    assert [f.exit_code for f in report.failures] == [5]
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
    assert result.ok, result.problems  # the purge goes on with the other rows
    assert any("neither archived nor deleted: 2 of its rows, holding" in n for n in result.notes)
    assert (result.rows_held, result.complete) == (2, False)
    config = tmp_path / "job.toml"  # dbarchive verify: not every row is archived, exit 5
    config.write_text(
        f'[source]\nurl = "{mysql_schema.url}"\n[destination]\nurl = "{tmp_path / "arch"}"\n'
        '[[tables]]\nname = "events"\ntimestamp_column = "created_at"\n'
    )
    verified = CliRunner().invoke(cli, ["verify", "-c", str(config), "--date", str(PURGED)])
    assert verified.exit_code == 5 and "result=FAIL" in verified.output, verified.output


@pytest.mark.parametrize(
    ("alter", "named"),
    [
        ("MODIFY amount DECIMAL(20,4) NULL", "retyped amount decimal(18,4) -> decimal(20,4)"),
        ("MODIFY account_id INT NULL", "NULL allowed or not: account_id"),
    ],
)
def test_a_purged_day_that_cannot_grow_keeps_its_rows_and_the_later_days_are_purged(
    mysql_schema: MySqlSchema, tmp_path: Path, alter: str, named: str
) -> None:
    """A column retyped, or made nullable, after the day's purge: its archive cannot grow by a
    late row (the rows no longer have the archived columns as archived). That day keeps its row,
    with an error naming the change; the next expired day is still verified and purged."""
    mysql_schema.execute(LOG_TABLE_DDL)
    _fill(mysql_schema, PURGED, 20)
    job = _events_job(mysql_schema, tmp_path / "arch")
    (first,) = api.purge(job, today=TODAY)
    assert first.rows_deleted == 20
    mysql_schema.execute(f"ALTER TABLE events {alter}")
    late = _late(mysql_schema, f") VALUES ('{PURGED} 23:30:00', 1, 1.5, 'late')")
    _fill(mysql_schema, LATER, 10)

    (report,) = api.purge(job, today=TODAY)

    (error,) = report.errors
    assert f"events {PURGED}: the table's columns changed since" in error
    assert named in error
    assert report.rows_deleted == 10, "the later day is purged"
    assert [r[0] for r in mysql_schema.execute("SELECT id FROM events")] == late
    assert _manifest(job, PURGED).rows == 20
    # verify says why (it advised "export the day again", which export refuses)
    if named.startswith("retyped"):
        (problem,) = api.verify(job, "events", PURGED).problems
        assert f"the table's columns changed since the archive ({named}" in problem
        assert "they stay in the table, none deleted" in problem
        assert "export the day again" not in problem


def test_a_purged_day_after_a_column_was_dropped_says_what_can_finish_it(
    mysql_schema: MySqlSchema, tmp_path: Path
) -> None:
    """A column dropped after the day's purge began, a late row: the day keeps it, and the error
    does not advise an export on purpose (which refuses a day whose purge has begun) but what
    can finish the day (found by an outside trial)."""
    mysql_schema.execute(LOG_TABLE_DDL)
    _fill(mysql_schema, PURGED, 20)
    job = _events_job(mysql_schema, tmp_path / "arch")
    (first,) = api.purge(job, today=TODAY)
    assert first.rows_deleted == 20
    mysql_schema.execute("ALTER TABLE events DROP COLUMN note")
    mysql_schema.execute(
        f"INSERT INTO events (created_at, account_id) VALUES ('{PURGED} 23:30:00', 1)"
    )
    (report,) = api.purge(job, today=TODAY)
    (error,) = report.errors
    assert f"events {PURGED}: columns dropped since the day was archived (note), and its purge" in (
        error
    )
    assert "add the columns back" in error and "export it again on purpose" not in error
    assert len(mysql_schema.execute("SELECT id FROM events")) == 1


def test_a_column_added_with_an_expression_default_keeps_every_late_row(
    mysql_schema: MySqlSchema, tmp_path: Path
) -> None:
    """``DEFAULT CURRENT_TIMESTAMP``: a restore would give the row another time than it holds,
    so no late row of the purged day is archived or deleted, even one the application left at
    its default."""
    mysql_schema.execute(LOG_TABLE_DDL)
    _fill(mysql_schema, PURGED, 20)
    job = _events_job(mysql_schema, tmp_path / "arch")
    api.purge(job, today=TODAY)
    mysql_schema.execute("ALTER TABLE events ADD COLUMN seen DATETIME NULL DEFAULT NOW()")
    late = _late(mysql_schema, f") VALUES ('{PURGED} 23:30:00', 1, 1.5, 'late')")

    (report,) = api.purge(job, today=TODAY)

    assert report.rows_deleted == 0
    (error,) = report.errors
    assert error.startswith(f"events {PURGED}: kept 1 of its rows, which hold values in columns ")
    assert [r[0] for r in mysql_schema.execute("SELECT id FROM events")] == late
    assert _manifest(job, PURGED).rows == 20


def test_a_widened_column_does_not_stop_a_begun_day_and_restore_builds_the_archived_type(
    mysql_schema: MySqlSchema, tmp_path: Path
) -> None:
    """The application deletes one archived row (the day is recorded grown-only), then a
    column is widened, keeping every value's text (DECIMAL(18,4) to (20,4)). That day was kept
    whole at every run ("the table's columns changed … and its purge has begun"), and restore
    --into a new table refused the table it had just created ("restore into a new table with
    --into"), both found by an outside trial. Now the rows still match their archived versions
    and are purged; restore builds the new table with the archived types."""
    mysql_schema.execute(LOG_TABLE_DDL)
    _fill(mysql_schema, PURGED, 20)
    job = _events_job(mysql_schema, tmp_path / "arch")
    ctx = build_context(job)
    export_day(ctx, job.tables[0], PURGED)
    mysql_schema.execute("DELETE FROM events ORDER BY id LIMIT 1")
    assert not export_day(ctx, job.tables[0], PURGED).published  # recorded, nothing to add
    mysql_schema.execute("ALTER TABLE events MODIFY amount DECIMAL(20,4) NULL")
    ctx.source.close()

    (report,) = api.purge(job, today=TODAY)

    assert report.errors == [] and report.rows_deleted == 19, report.errors
    assert mysql_schema.execute("SELECT COUNT(*) FROM events") == [(0,)]
    ctx = build_context(job)
    assert api.verify(ctx, "events", PURGED).ok
    restored = api.restore(ctx, "events", PURGED, into="back")
    assert restored.ok and restored.created_table and restored.written == 20, restored.problems
    (kind,) = mysql_schema.execute(
        "SELECT COLUMN_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = %s AND "
        "TABLE_NAME = 'back' AND COLUMN_NAME = 'amount'",
        (mysql_schema.name,),
    )[0]
    assert (kind.decode() if isinstance(kind, bytes) else kind) == "decimal(18,4)"
    ctx.source.close()
