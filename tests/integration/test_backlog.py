"""The backlog: a purge cut short leaves rows past retention; each run records how far behind the
table is in ``_backlog.json``, the next run says when it grew, and ``status`` shows it."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from dbarchive import api, build_context, export_day, load_job
from dbarchive.clock import FixedClock
from dbarchive.events import Event
from dbarchive.jobs.daily import TableReport
from dbarchive.throttle import Throttle
from tests.integration.helpers import LOG_TABLE_DDL, fill_events
from tests.integration.mysql_fixtures import MySqlSchema, mysql_schema  # noqa: F401

pytestmark = pytest.mark.integration

NOW = dt.datetime(2026, 12, 15, 12, tzinfo=dt.UTC)  # today 2026-12-15: cutoff 2026-11-15
DAYS = [dt.date(2026, 11, d) for d in (12, 13, 14, 15)]  # 3 expired, and the cutoff day
ROWS_PER_DAY = 1000


class _StopAtFirstChunk:
    """Asks the purge to stop after its first chunk: a run cut short by max_runtime."""

    def __init__(self) -> None:
        self.throttle: Throttle | None = None

    def emit(self, event: Event) -> None:
        if event.step == "purge" and event.kind == "chunk" and self.throttle is not None:
            self.throttle.stop.request("the test stops the purge")


def _purge_cut_short(config: Path, now: dt.datetime) -> TableReport:
    stopper = _StopAtFirstChunk()
    ctx = build_context(load_job(config), reporter=stopper, wall_clock=FixedClock(now))
    try:
        stopper.throttle = api.throttle_for(ctx)
        (report,) = api.purge(ctx, stopping=stopper.throttle)
        stopper.throttle.close()
    finally:
        ctx.source.close()
    return report


def _events_job(schema: MySqlSchema, tmp_path: Path, extra: str, defaults: str = "") -> Path:
    """``events`` with ROWS_PER_DAY rows on each of DAYS, and a config file archiving it with a
    retention of 30 days (``defaults``: more [defaults] lines, ``extra``: more sections)."""
    schema.execute(LOG_TABLE_DDL)
    for day in DAYS:
        fill_events(schema, day.isoformat(), ROWS_PER_DAY)
    config = tmp_path / "job.toml"
    config.write_text(
        f'[source]\nurl = "{schema.url}"\n\n[destination]\nurl = "{tmp_path / "archive"}"\n\n'
        f'[defaults]\nretention = "30 days"\n{defaults}\n{extra}\n'
        '[[tables]]\nname = "events"\ntimestamp_column = "created_at"\n'
    )
    return config


def test_runs_record_the_backlog_warn_when_it_grows_and_status_shows_it(
    mysql_schema: MySqlSchema, tmp_path: Path
) -> None:
    """Run 1 (cut short): 3 days and 3000 rows minus a chunk behind, recorded, no warning. Run 2
    a day later (cut short again): the cutoff day has expired too, so 4 days and more rows:
    a note says the backlog grew and what to do. status shows the backlog and the last run's."""
    config = _events_job(mysql_schema, tmp_path, "[throttle]\nmax_chunk_rows = 200\n")
    ctx = build_context(load_job(config), wall_clock=FixedClock(NOW))
    try:
        for day in DAYS:
            export_day(ctx, ctx.job.tables[0], day)
    finally:
        ctx.source.close()

    first = _purge_cut_short(config, NOW)
    assert first.stopped and first.backlog is not None
    assert (first.backlog.cutoff, first.backlog.days) == (dt.date(2026, 11, 15), 3)
    assert 2 * ROWS_PER_DAY < first.backlog.rows < 3 * ROWS_PER_DAY
    assert not [n for n in first.notes if "backlog" in n]
    record = json.loads((tmp_path / "archive" / "events" / "_backlog.json").read_text())
    assert record == {**first.backlog.to_json(), "recorded_at": "2026-12-15T12:00:00+00:00"}

    second = _purge_cut_short(config, NOW + dt.timedelta(days=1))
    assert second.backlog is not None
    assert (second.backlog.cutoff, second.backlog.days) == (dt.date(2026, 11, 16), 4)
    assert second.backlog.rows > first.backlog.rows
    (grew,) = [n for n in second.notes if "backlog" in n]
    assert "3 -> 4 days" in grew and "does not keep up" in grew and "min_rate" in grew

    ctx = build_context(load_job(config), wall_clock=FixedClock(NOW + dt.timedelta(days=1)))
    try:
        status = api.status(ctx, "events")
    finally:
        ctx.source.close()
    assert status.backlog is not None and status.backlog_last_run is not None
    assert (status.backlog.days, status.backlog.rows) == (4, second.backlog.rows)
    assert status.backlog_last_run.recorded_at == "2026-12-16T12:00:00+00:00"
    assert status.to_json()["backlog"]["rows"] == second.backlog.rows


def test_a_run_with_a_day_that_failed_its_verification_still_records_the_backlog(
    mysql_schema: MySqlSchema, tmp_path: Path
) -> None:
    """The purge goes on past a day that fails its verification; that day's rows are the
    backlog, recorded like any other (a table with such a day fails every run: without the record
    a backlog growing behind it would never be said)."""
    config = _events_job(mysql_schema, tmp_path, "", 'on_unarchived = "fail"\n')
    ctx = build_context(load_job(config), wall_clock=FixedClock(NOW))
    try:
        for day in DAYS[1:]:  # the first day is left unarchived: it fails, the others purge
            export_day(ctx, ctx.job.tables[0], day)
        (report,) = api.purge(ctx)
    finally:
        ctx.source.close()
    assert [f.day for f in report.failures] == [DAYS[0]]
    assert report.rows_deleted == 2 * ROWS_PER_DAY
    assert report.backlog is not None
    assert (report.backlog.days, report.backlog.rows) == (3, ROWS_PER_DAY)
    assert (tmp_path / "archive" / "events" / "_backlog.json").exists()


def test_a_rehearsal_with_another_today_records_no_backlog(
    mysql_schema: MySqlSchema, tmp_path: Path
) -> None:
    """`--today` a day ahead of the clock moves the cutoff, not the table's real backlog: nothing
    is recorded, and no note says that the purge does not keep up (an outside trial got one)."""
    config = _events_job(mysql_schema, tmp_path, "")
    ctx = build_context(load_job(config), wall_clock=FixedClock(NOW))
    try:
        (report,) = api.purge(ctx, today=NOW.date() + dt.timedelta(days=1))
    finally:
        ctx.source.close()
    assert report.ok and report.rows_deleted == 4 * ROWS_PER_DAY and report.backlog is None
    assert not (tmp_path / "archive" / "events" / "_backlog.json").exists()
    assert [n for n in report.notes if "retention cutoff counts from 2026-12-16" in n]


def test_a_backlog_grown_by_failed_days_and_a_shorter_retention_says_so_not_speed(
    mysql_schema: MySqlSchema, tmp_path: Path
) -> None:
    """Two days are left unarchived (``on_unarchived = "fail"``) and the retention is cut from
    30 to 29 days between two runs of the same day: the backlog grew, and the note names the
    moved cutoff and the failed days instead of telling a purge that ran to its end to go
    faster (an outside trial got "the purge does not keep up" for both)."""
    config = _events_job(mysql_schema, tmp_path, "", 'on_unarchived = "fail"\n')
    ctx = build_context(load_job(config), wall_clock=FixedClock(NOW))
    try:
        for day in DAYS[1:3]:  # 11-12 and the cutoff day 11-15 stay unarchived
            export_day(ctx, ctx.job.tables[0], day)
        (first,) = api.purge(ctx)
    finally:
        ctx.source.close()
    assert first.backlog is not None and (first.backlog.days, first.backlog.rows) == (3, 1000)
    config.write_text(config.read_text().replace('"30 days"', '"29 days"'))
    ctx = build_context(load_job(config), wall_clock=FixedClock(NOW))
    try:
        (second,) = api.purge(ctx)
    finally:
        ctx.source.close()
    assert [f.day for f in second.failures] == [DAYS[0], DAYS[3]]
    assert second.backlog is not None and (second.backlog.days, second.backlog.rows) == (4, 2000)
    (grew,) = [n for n in second.notes if "backlog grew" in n]
    assert "cutoff moved from 2026-11-15 to 2026-11-16 in 0 days" in grew, grew
    assert "2 expired days failed (above) and kept their rows: 2026-11-12, 2026-11-15" in grew
    assert "does not keep up" not in grew


def test_a_cutoff_moved_by_the_tables_own_midnight_is_no_shorter_retention(
    mysql_schema: MySqlSchema, tmp_path: Path
) -> None:
    """In a table of UTC+14 the cutoff moves at its own midnight, 10:00 UTC: two runs two hours
    apart across it moved it a day in 0 UTC days, and the note blamed a shorter retention (an
    outside re-test). Days are counted in the table's zone: only the failed days are named."""
    config = _events_job(
        mysql_schema, tmp_path, "", 'on_unarchived = "fail"\ntimezone = "Pacific/Kiritimati"\n'
    )
    first_run = dt.datetime(2026, 12, 15, 9, tzinfo=dt.UTC)  # 23:00 on the 15th there
    ctx = build_context(load_job(config), wall_clock=FixedClock(first_run))
    try:
        for day in DAYS[1:3]:
            export_day(ctx, ctx.job.tables[0], day)
        (first,) = api.purge(ctx)
    finally:
        ctx.source.close()
    assert first.backlog is not None and first.backlog.cutoff == dt.date(2026, 11, 15)
    ctx = build_context(load_job(config), wall_clock=FixedClock(first_run + dt.timedelta(hours=2)))
    try:
        (second,) = api.purge(ctx)
    finally:
        ctx.source.close()
    assert second.backlog is not None and second.backlog.cutoff == dt.date(2026, 11, 16)
    (grew,) = [n for n in second.notes if "backlog grew" in n]
    assert "cutoff moved" not in grew and "2 expired days failed" in grew, grew
