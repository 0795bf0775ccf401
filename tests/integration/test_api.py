"""The public API (``dbarchive.export``/``verify``/``run``/``purge``/``restore``/``status``/``plan``)
does the daily job from a user's own Python code, on the real MariaDB and a local archive folder.

A job opens its own connection per call and closes it; a caller's Context stays the caller's.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from pathlib import Path

import pytest

import dbarchive
from dbarchive.errors import StopRequested
from tests.integration.helpers import LOG_TABLE_DDL, fill_events, make_job
from tests.integration.mysql_fixtures import MySqlSchema, mysql_schema  # noqa: F401

pytestmark = pytest.mark.integration

OLD, RECENT = dt.date(2026, 9, 1), dt.date(2026, 11, 24)
TODAY = dt.date(2026, 11, 25)


@pytest.fixture
def job(
    mysql_schema: MySqlSchema, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> dbarchive.ArchiveJob:
    mysql_schema.execute(LOG_TABLE_DDL)
    fill_events(mysql_schema, OLD.isoformat(), 300)
    fill_events(mysql_schema, RECENT.isoformat(), 200)
    monkeypatch.setenv("DBARCHIVE_NOW", "2026-11-25T06:00:00+00:00")
    table = {"name": "events", "timestamp_column": "created_at", "retention": "60 days"}
    return make_job(mysql_schema.url, str(tmp_path / "archive"), [table], chunk_rows=64)


def test_the_daily_job_from_python(job: dbarchive.ArchiveJob, mysql_schema: MySqlSchema) -> None:
    """plan → export → verify → run (purge) → status → restore, each called with the job."""
    planned = dbarchive.plan(job, "events", RECENT)
    assert planned.scan.estimated_rows > 0 and planned.archived_rows is None
    result = dbarchive.export(job, "events", RECENT)
    assert (result.table, result.day, result.rows) == ("events", RECENT, 200)
    assert dbarchive.verify(job, "events", RECENT).ok

    (report,) = dbarchive.run(job, today=TODAY)
    assert [p.day for p in report.purged] == [OLD] and report.rows_deleted == 300
    assert not report.errors
    assert mysql_schema.execute("SELECT COUNT(*) FROM events WHERE created_at < '2026-10-01'") == [
        (0,)
    ]

    status = dbarchive.status(job, job.table("events"), today=TODAY)
    assert OLD in status.purged_days and RECENT in status.archived_days

    restored = dbarchive.restore(job, "events", OLD, into="events_back")
    assert restored.ok and restored.written == 300 and restored.created_table
    assert mysql_schema.execute("SELECT COUNT(*) FROM events_back") == [(300,)]


def test_manifests_and_purge_records_keep_the_real_time_under_a_fixed_clock(
    job: dbarchive.ArchiveJob, tmp_path: Path
) -> None:
    """The job's clock is fixed (DBARCHIVE_NOW, 2026-11-25 06:00): what day it is comes from
    it, but when things ran is the machine's time (README); some manifests and every purge
    record stored the fixed time (an outside trial)."""
    started = dt.datetime.now(dt.UTC).replace(microsecond=0)
    (report,) = dbarchive.run(job, today=TODAY)
    assert report.rows_deleted == 300
    records = [json.loads(p.read_bytes()) for p in (tmp_path / "archive").rglob("_*.json")]
    times = [
        dt.datetime.fromisoformat(r[k])
        for r in records
        for k in ("started_at", "finished_at", "verified_at")
        if isinstance(r.get(k), str)
    ]
    ended = dt.datetime.now(dt.UTC)
    assert len(times) >= 4  # the manifests' and the purge record's
    assert all(started <= t <= ended for t in times), sorted(set(times))


def test_a_callers_context_stays_open_and_a_jobs_is_closed(job: dbarchive.ArchiveJob) -> None:
    with dbarchive.session(job) as opened:
        dbarchive.export(opened, "events", RECENT)
        assert dbarchive.verify(opened, "events", RECENT).ok
        assert opened.source.is_open  # the API did not close what the caller owns
    assert not opened.source.is_open


def test_purge_only_deletes_what_is_expired_and_exports_it_first(
    job: dbarchive.ArchiveJob, mysql_schema: MySqlSchema
) -> None:
    (report,) = dbarchive.purge(job, ["events"], today=TODAY)
    assert [e.day for e in report.exported] == [OLD]  # not archived yet: exported, then purged
    assert report.rows_deleted == 300
    assert mysql_schema.execute("SELECT COUNT(*) FROM events") == [(200,)]  # RECENT is kept


def test_purge_preview_says_what_purge_would_do_and_changes_nothing(
    job: dbarchive.ArchiveJob, mysql_schema: MySqlSchema, tmp_path: Path
) -> None:
    """The library's ``purge --dry-run``: the cutoff, each expired day's rows and whether it
    would be exported first; nothing is written or deleted. Once the day is archived, the same
    preview says it would be verified and deleted as it is."""
    (preview,) = dbarchive.purge_preview(job, "events", today=TODAY)
    assert (preview.table, preview.cutoff) == ("events", TODAY - dt.timedelta(days=60))
    assert [(d.day, d.rows, d.kept) for d in preview.days] == [(OLD, 300, False)]
    assert preview.days[0].export_first is not None
    assert "not archived" in preview.days[0].export_first
    assert preview.rows == 300 and "`events` WHERE `id` IN (%s, %s)" in preview.delete_sql
    assert mysql_schema.execute("SELECT COUNT(*) FROM events") == [(500,)]
    assert not (tmp_path / "archive").exists() or not any((tmp_path / "archive").rglob("*.csv*"))

    dbarchive.export(job, "events", OLD)
    (archived,) = dbarchive.purge_preview(job, today=TODAY)
    assert [(d.day, d.rows, d.export_first) for d in archived.days] == [(OLD, 300, None)]
    assert mysql_schema.execute("SELECT COUNT(*) FROM events") == [(500,)]


def test_one_table_may_be_named_alone(job: dbarchive.ArchiveJob) -> None:
    """``purge(job, "events")`` read the name as the tables 'e', 'v', …: "table 'e' is not in
    the config" (an outside trial). One name (or spec) alone is that table."""
    (report,) = dbarchive.purge(job, "events", today=TODAY)
    assert report.table == "events" and report.rows_deleted == 300
    (again,) = dbarchive.run(job, job.table("events"), today=TODAY)
    assert again.table == "events" and not again.errors


def test_a_job_called_from_python_logs_to_the_dbarchive_logger(
    job: dbarchive.ArchiveJob, caplog: pytest.LogCaptureFixture
) -> None:
    """A program that configures logging sees what a call did (it saw nothing, even at DEBUG:
    an outside trial); a caller's own context keeps the reporter it was built with."""
    with caplog.at_level(logging.DEBUG, logger="dbarchive"):
        dbarchive.export(job, "events", RECENT)
    lines = [r.getMessage() for r in caplog.records if r.name == "dbarchive"]
    assert any(line.startswith(f"export events {RECENT} finish") for line in lines), lines
    assert any(f"export events {RECENT}: chunk, 64 rows" in line for line in lines), lines


def test_max_runtime_stops_an_export_after_its_chunk(job: dbarchive.ArchiveJob) -> None:
    """The throttle the API wires is what stops an export: a spent max_runtime stops it at its
    first chunk, and nothing is published. A bad override is a ConfigError, as in a config."""
    with dbarchive.session(job) as ctx:
        with pytest.raises(dbarchive.ConfigError, match="max_runtime"):
            dbarchive.throttle_for(ctx, max_runtime=0)
        stopping = dbarchive.throttle_for(ctx, max_runtime=1e-9, stop_file=Path("/nonexistent"))
        with pytest.raises(StopRequested):
            dbarchive.export(ctx, "events", RECENT, stopping=stopping)
        with pytest.raises(StopRequested):  # wired into the context: what `run` exports by
            dbarchive.export(ctx, "events", RECENT)
    assert dbarchive.status(job, "events", today=TODAY).archived_days == []


def test_a_day_not_over_is_refused(job: dbarchive.ArchiveJob) -> None:
    with pytest.raises(dbarchive.DayNotSettled):
        dbarchive.export(job, "events", TODAY)
    with pytest.raises(dbarchive.ConfigError, match="nope"):
        dbarchive.export(job, "nope", RECENT)


def test_days_may_be_given_as_iso_text(job: dbarchive.ArchiveJob) -> None:
    """`export(job, "events", "2026-11-24")` (a date read from a config or a command line) works
    like a date; text that is no day is a ConfigError naming it, not a TypeError."""
    assert dbarchive.export(job, "events", "2026-11-24").rows == 200
    assert dbarchive.verify(job, "events", "2026-11-24").ok
    assert RECENT in dbarchive.status(job, "events", today="2026-11-25").archived_days
    with pytest.raises(dbarchive.ConfigError, match="'24/11/2026' is not a day"):
        dbarchive.export(job, "events", "24/11/2026")
