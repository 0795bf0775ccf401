"""Publication (docs/design/publication.md): a committed day is never unpublished, a re-export of
the same rows changes nothing, a purged day grows by its late and changed rows, a restored day
compares whole again. The oracle is the table's own rows, read with the server's SHA2 over the
stored bytes, never the tool's digest."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from dbarchive import build_context
from dbarchive.build import build_throttle
from dbarchive.config import job_from_dict
from dbarchive.errors import ConfigError
from dbarchive.events import Event
from dbarchive.jobs.daily import TableReport, purge_table, run
from dbarchive.jobs.restore import restore_day
from dbarchive.layout import PartitionPath
from dbarchive.manifest import Manifest
from dbarchive.pipeline import export_day
from dbarchive.steps.archive_files import check_files, iter_archive_rows
from dbarchive.steps.verify import verify_day
from tests.integration.helpers import LOG_TABLE_DDL
from tests.integration.mysql_fixtures import MySqlSchema, mysql_schema  # noqa: F401

TODAY = dt.date(2026, 11, 25)
D1 = dt.date(2026, 9, 1)  # expired: purged by a run on TODAY
D2 = dt.date(2026, 9, 2)
PER_DAY = 400
ROW_SQL = (
    "SHA2(CONCAT_WS('|', id, created_at, account_id, IFNULL(amount, 'N'), IFNULL(note, 'N')), 256)"
)


def _fill(schema: MySqlSchema, day: dt.date, count: int, first_second: int = 0) -> None:
    """``count`` rows spread from ``first_second`` to the end of ``day``."""
    step = (86_000 - first_second) // count
    schema.execute(
        "INSERT INTO events (created_at, account_id, amount, note) "
        "SELECT TIMESTAMP(%s) + INTERVAL (%s + seq * %s) SECOND, seq MOD 7, seq / 4, "
        "CONCAT('n', seq) FROM seq_0_to_" + str(count - 1),
        (day.isoformat(), first_second, step),
    )


def _job(
    schema: MySqlSchema, dest: Path, throttle: dict[str, Any] | None = None, scan: str = "auto"
) -> Any:
    spec = {
        "name": "events",
        "timestamp_column": "created_at",
        "retention": "60 days",
        "scan": scan,
    }
    return job_from_dict(
        {
            "source": {"url": schema.url},
            "destination": {"url": str(dest)},
            "defaults": {"compression": "none"},
            "throttle": throttle or {},
            "tables": [spec],
        }
    )


def _manifest(ctx: Any, day: dt.date) -> Manifest:
    raw = ctx.storage.get_bytes(PartitionPath("events", day).manifest_key)
    assert raw is not None
    return Manifest.loads(raw)


def _snapshot(schema: MySqlSchema, table: str = "events") -> dict[int, str]:
    """key → SHA-256 of the row's stored values (the oracle)."""
    rows = schema.execute(f"SELECT id, {ROW_SQL} FROM `{table}`")
    return {int(k): (v.decode() if isinstance(v, bytes) else v) for k, v in rows}


def _purge(ctx: Any, today: dt.date = TODAY) -> TableReport:
    report = TableReport("events")
    purge_table(ctx, ctx.job.tables[0], today, build_throttle(ctx), report)
    return report


def _restored(schema: MySqlSchema, ctx: Any, days: list[dt.date], into: str) -> dict[int, str]:
    for day in days:
        assert restore_day(ctx, ctx.job.tables[0], day, into=into).ok
    return _snapshot(schema, into)


def test_reexport_of_unchanged_day_changes_nothing(
    mysql_schema: MySqlSchema, tmp_path: Path
) -> None:
    """Exporting a day again with the same rows publishes nothing: no generation, no object."""
    mysql_schema.execute(LOG_TABLE_DDL)
    _fill(mysql_schema, D1, PER_DAY)
    ctx = build_context(_job(mysql_schema, tmp_path))
    first = export_day(ctx, ctx.job.tables[0], D1)
    objects = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    again = export_day(ctx, ctx.job.tables[0], D1)
    assert (first.published, again.published) == (True, False)
    assert again.generation == first.generation == 1 and again.files == first.files
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file()) == objects


def test_changed_day_is_replaced_by_a_new_generation(
    mysql_schema: MySqlSchema, tmp_path: Path
) -> None:
    """A day whose rows changed gets generation 2: new names, the old files gone after the commit,
    the database's digest equal to the archive's."""
    mysql_schema.execute(LOG_TABLE_DDL)
    _fill(mysql_schema, D1, PER_DAY)
    ctx = build_context(_job(mysql_schema, tmp_path))
    first = export_day(ctx, ctx.job.tables[0], D1)
    mysql_schema.execute("UPDATE events SET note = 'changed' WHERE id = 10")
    second = export_day(ctx, ctx.job.tables[0], D1)
    assert second.generation == 2 and set(first.files).isdisjoint(second.files)
    assert all(not (tmp_path / key).exists() for key in first.files)
    assert verify_day(ctx, ctx.job.tables[0], D1).ok
    assert not list(tmp_path.rglob("_staged-*"))


REEXPORT_POINTS = [
    "export.chunk-read:2",
    "export.part-committed:2",
    "export.part-committed",
    "publish.claimed",
    "publish.promoted",
    "export.before-manifest",
    "export.after-manifest",
]


@pytest.mark.parametrize("point", REEXPORT_POINTS)
def test_reexport_killed_at_every_failpoint_keeps_a_verifying_manifest(
    mysql_schema: MySqlSchema, tmp_path: Path, point: str
) -> None:
    """A re-export SIGKILLed anywhere: the day still has a committed manifest whose every file is
    present and matches it (the old one, or after the commit the new one); the rerun is exact."""
    mysql_schema.execute(LOG_TABLE_DDL)
    _fill(mysql_schema, D1, 3000)
    config = tmp_path / "job.toml"
    config.write_text(
        f'[source]\nurl = "{mysql_schema.url}"\n[destination]\nurl = "{tmp_path / "arch"}"\n'
        '[defaults]\ncompression = "none"\nmax_file_mib = 1\nchunk_rows = 500\n'
        '[[tables]]\nname = "events"\ntimestamp_column = "created_at"\n'
    )
    assert _cli(config) == 0
    ctx = build_context(_job(mysql_schema, tmp_path / "arch"))
    old = _manifest(ctx, D1)
    mysql_schema.execute("UPDATE events SET note = REPEAT('x', 900)")  # bigger: several files
    assert _cli(config, point) == -signal.SIGKILL
    committed = _manifest(ctx, D1)
    assert check_files(ctx.storage, committed, "rows") == []
    assert committed.content() == old.content() or point == "export.after-manifest"
    assert _cli(config) == 0
    final = _manifest(ctx, D1)
    assert verify_day(ctx, ctx.job.tables[0], D1).ok
    listed = {f.key for f in final.files}
    data = {
        p.relative_to(tmp_path / "arch").as_posix()
        for p in (tmp_path / "arch").rglob("*")
        if p.is_file() and not p.name.startswith(("_", "."))
    }
    assert data == listed  # nothing stale, nothing missing
    assert not list((tmp_path / "arch").rglob("_staged-*"))


def _cli(config: Path, failpoint: str | None = None) -> int:
    env = {k: v for k, v in os.environ.items() if k != "DBARCHIVE_FAILPOINT"}
    if failpoint:
        env["DBARCHIVE_FAILPOINT"] = failpoint
    cmd = [sys.executable, "-m", "dbarchive", "export", "-c", str(config), "--date", D1.isoformat(), "-q"]  # fmt: skip
    return subprocess.run(cmd, env=env, timeout=180, capture_output=True, check=False).returncode


@pytest.mark.parametrize("scan", ["key", "time"])  # one dict per chunk, or the general walk
def test_late_and_changed_rows_of_purged_days_are_archived_and_the_next_run_is_clean(
    mysql_schema: MySqlSchema, tmp_path: Path, scan: str
) -> None:
    """Rows inserted into a purged day and into a partly purged one, and rows of the partly purged
    day changed after its archive: the next run archives them (the days grow) and purges them,
    exiting clean; a second run has nothing to do; restoring the days gives back every row in its
    newest version (oracle: the server's hash of the stored values)."""
    mysql_schema.execute(LOG_TABLE_DDL)
    _fill(mysql_schema, D1, PER_DAY)
    _fill(mysql_schema, D2, PER_DAY)
    throttle = {"min_chunk_rows": 50, "max_chunk_rows": 50}
    ctx = build_context(_job(mysql_schema, tmp_path, throttle, scan))
    oracle = _snapshot(mysql_schema)
    for day in (D1, D2):
        export_day(ctx, ctx.job.tables[0], day)
    # D1 purged whole; D2 in part, as a purge killed half-way leaves it: its record says
    # "started" and its first rows in key (= time) order are gone.
    assert _purge(ctx, D1 + dt.timedelta(days=61)).ok
    marker = ctx.partition(ctx.job.tables[0], D2).purge_marker_key
    ctx.storage.put_bytes(marker, b'{"status": "started", "started_at": "2026-11-25T00:00:00"}\n')
    mysql_schema.execute("DELETE FROM events WHERE created_at < '2026-09-02 12:00'")
    # Late rows into both days, and changes to rows D2 still holds.
    _fill(mysql_schema, D1, 5, first_second=30)
    _fill(mysql_schema, D2, 5, first_second=50_000)
    mysql_schema.execute(
        "UPDATE events SET note = 'changed' WHERE created_at >= '2026-09-02 20:00' AND id % 3 = 0"
    )
    oracle.update(_snapshot(mysql_schema))
    assert not verify_day(ctx, ctx.job.tables[0], D2).ok  # says which rows are not archived

    (report,) = run(ctx, list(ctx.job.tables), TODAY, build_throttle(ctx))
    assert report.ok, report.errors
    assert mysql_schema.execute("SELECT COUNT(*) FROM events WHERE created_at < '2026-09-03'") == [
        (0,)
    ]
    assert [m.generation for m in (_manifest(ctx, D1), _manifest(ctx, D2))] == [2, 2]
    assert _manifest(ctx, D2).superseded.count > 0  # the changed rows' old versions
    (note,) = verify_day(ctx, ctx.job.tables[0], D2).notes  # the files' rows said apart
    older = _manifest(ctx, D2).superseded.count
    assert f"({_manifest(ctx, D2).rows} in its files, {older} of them older versions)" in note
    (again,) = run(ctx, list(ctx.job.tables), TODAY, build_throttle(ctx))
    assert again.ok and not again.exported and again.rows_deleted == 0
    assert _restored(mysql_schema, ctx, [D1, D2], "back") == oracle


def test_advised_export_of_a_purged_day_grows_it(mysql_schema: MySqlSchema, tmp_path: Path) -> None:
    """`export` of a purged day that received late rows archives them (it used to refuse: 'the
    source now holds 4 rows but the archive holds …'); a second export does nothing."""
    mysql_schema.execute(LOG_TABLE_DDL)
    _fill(mysql_schema, D1, PER_DAY)
    ctx = build_context(_job(mysql_schema, tmp_path))
    export_day(ctx, ctx.job.tables[0], D1)
    assert _purge(ctx).ok
    _fill(mysql_schema, D1, 4, first_second=45)
    late = _snapshot(mysql_schema)
    grown = export_day(ctx, ctx.job.tables[0], D1)
    assert grown.published and grown.generation == 2 and grown.rows == PER_DAY + 4
    result = verify_day(ctx, ctx.job.tables[0], D1)
    assert result.ok and result.notes  # "purged; … each of them archived exactly"
    assert not export_day(ctx, ctx.job.tables[0], D1).published
    restored = _restored(mysql_schema, ctx, [D1], "back")
    assert late.items() <= restored.items() and len(restored) == PER_DAY + 4


def test_restore_into_the_table_records_the_day_and_the_next_purge_needs_no_export(
    mysql_schema: MySqlSchema, tmp_path: Path
) -> None:
    """A purged day restored into its own table is recorded as restored: status says so, verify
    compares it whole (OK), and the next purge deletes it again without exporting anything."""
    from dbarchive.jobs.status import table_status

    mysql_schema.execute(LOG_TABLE_DDL)
    _fill(mysql_schema, D1, PER_DAY)
    ctx = build_context(_job(mysql_schema, tmp_path))
    export_day(ctx, ctx.job.tables[0], D1)
    assert _purge(ctx).ok
    assert restore_day(ctx, ctx.job.tables[0], D1).ok
    status = table_status(ctx, ctx.job.tables[0], TODAY)
    assert status.restored_days == [D1] and D1 not in status.purged_days
    result = verify_day(ctx, ctx.job.tables[0], D1)
    assert result.ok and result.source_rows == PER_DAY and not result.notes
    report = _purge(ctx)
    assert report.ok and not report.exported and report.rows_deleted == PER_DAY


def _recent_days_archived(schema: MySqlSchema, tmp_path: Path) -> Any:
    """The three days before TODAY, 50 rows each, archived by a run (no purge); its context."""
    schema.execute(LOG_TABLE_DDL)
    for back in (1, 2, 3):
        _fill(schema, TODAY - dt.timedelta(days=back), 50)
    ctx = build_context(_job(schema, tmp_path))
    (first,) = run(ctx, list(ctx.job.tables), TODAY, build_throttle(ctx), purge=False)
    assert len(first.exported) == 3
    return ctx


def test_the_run_archives_missed_empty_days_as_empty(
    mysql_schema: MySqlSchema, tmp_path: Path
) -> None:
    """Yesterday got a 0-row manifest, but a missed earlier day without rows got none, so it was
    neither archived nor pending and a lake reader could not tell it from a day never archived
    (an outside trial). Every day from the oldest row on gets its manifest, once."""
    mysql_schema.execute(LOG_TABLE_DDL)
    _fill(mysql_schema, TODAY - dt.timedelta(days=5), 30)
    ctx = build_context(_job(mysql_schema, tmp_path))
    (first,) = run(ctx, list(ctx.job.tables), TODAY, build_throttle(ctx), purge=False)
    assert first.ok, first.errors
    days = [TODAY - dt.timedelta(days=back) for back in (5, 4, 3, 2, 1)]
    assert [e.day for e in first.exported] == days
    assert [_manifest(ctx, d).effective_digest.count for d in days] == [30, 0, 0, 0, 0]
    (second,) = run(ctx, list(ctx.job.tables), TODAY, build_throttle(ctx), purge=False)
    assert [e.day for e in second.exported if e.published] == []


def test_run_reexports_an_updated_day_within_recheck_days(
    mysql_schema: MySqlSchema, tmp_path: Path
) -> None:
    """An UPDATE keeps a day's row count: the run finds it by digest in the ``recheck_days`` days
    before yesterday (default 1) and re-exports that day; older days wait for their purge's
    verification (which re-exports them by digest too)."""
    ctx = _recent_days_archived(mysql_schema, tmp_path)
    mysql_schema.execute(
        "UPDATE events SET note = 'updated' WHERE DATE(created_at) >= %s",
        ((TODAY - dt.timedelta(days=3)).isoformat(),),
    )
    (second,) = run(ctx, list(ctx.job.tables), TODAY, build_throttle(ctx), purge=False)
    assert [e.day for e in second.exported if e.published] == [
        TODAY - dt.timedelta(days=2),
        TODAY - dt.timedelta(days=1),
    ]
    assert verify_day(ctx, ctx.job.tables[0], TODAY - dt.timedelta(days=2)).ok
    assert not verify_day(ctx, ctx.job.tables[0], TODAY - dt.timedelta(days=3)).ok


def test_a_row_the_application_deletes_from_an_archived_day_does_not_fail_the_runs(
    mysql_schema: MySqlSchema, tmp_path: Path
) -> None:
    """A routine DELETE of an archived row inside the retention window made every daily run
    fail (exit 5, "the source now holds 49 rows but the archive holds 50") until the day
    expired, hiding real failures (an outside trial). The archive keeps the row; the day is
    recorded as grown-only, so runs go on."""
    ctx = _recent_days_archived(mysql_schema, tmp_path)
    day = TODAY - dt.timedelta(days=3)
    mysql_schema.execute("DELETE FROM events WHERE DATE(created_at) = %s LIMIT 1", (str(day),))
    for _ in range(2):
        (again,) = run(ctx, list(ctx.job.tables), TODAY, build_throttle(ctx), purge=False)
        assert again.ok and again.errors == [], again.errors
        assert [e.day for e in again.exported if e.published] == []
    assert verify_day(ctx, ctx.job.tables[0], day).ok
    assert _manifest(ctx, day).effective_digest.count == 50  # the deleted row's only copy
    from dbarchive.jobs.status import table_status

    status = table_status(ctx, ctx.job.tables[0], TODAY)  # not "partly purged": none begun
    assert status.grown_only_days == [day] and status.partial_days == []


@pytest.mark.parametrize("scan", ["key", "time"])
def test_a_key_reused_after_the_table_was_re_created_does_not_hide_the_archived_row(
    scan: str, mysql_schema: MySqlSchema, tmp_path: Path
) -> None:
    """D1 (keys 1..400) archived and purged; the table is rotated (RENAME, CREATE LIKE: its
    AUTO_INCREMENT starts at 1 again) and a late row of D1 gets key 6 again. Growth took it for
    row 6 changed: the archived row 6 became an "older version", restore gave back the new row
    only, and verify said OK (an outside trial). The counter is not past D1's archived keys, so
    the growth stops: the row is kept, the archive unchanged."""
    mysql_schema.execute(LOG_TABLE_DDL)
    _fill(mysql_schema, D1, PER_DAY)
    ctx = build_context(_job(mysql_schema, tmp_path, scan=scan))
    (first,) = run(ctx, list(ctx.job.tables), TODAY, build_throttle(ctx))
    assert first.ok and first.rows_deleted == PER_DAY, first.errors
    archived = _manifest(ctx, D1)
    mysql_schema.execute("RENAME TABLE events TO events_old")
    mysql_schema.execute("CREATE TABLE events LIKE events_old")
    _fill(mysql_schema, TODAY - dt.timedelta(days=1), 5)  # keys from 1 again
    _fill(mysql_schema, D1, 1, first_second=300)  # a late row of D1
    ((key,),) = mysql_schema.execute("SELECT id FROM events WHERE created_at < %s", (str(D2),))
    assert 1 <= key <= PER_DAY  # a key D1's archive holds for another row

    (report,) = run(ctx, list(ctx.job.tables), TODAY, build_throttle(ctx))

    (error,) = report.errors
    assert f"events {D1}: key {key} is archived in this day with other values" in error
    assert (
        "is not past the keys archived from this day on (up to 400): the table was re-cr" in error
    )
    assert _manifest(ctx, D1) == archived
    assert mysql_schema.execute("SELECT COUNT(*) FROM events WHERE id = %s", (key,)) == [(1,)]
    restored = restore_day(ctx, ctx.job.tables[0], D1, into="back")
    assert restored.ok and restored.written == PER_DAY
    assert mysql_schema.execute("SELECT note FROM back WHERE id = %s", (key,)) == [(f"n{key - 1}",)]


def test_a_reused_key_is_caught_after_the_counter_passed_the_days_own_keys(
    mysql_schema: MySqlSchema, tmp_path: Path
) -> None:
    """D1 (keys 1..20) and D2 (21..420) archived and purged; the table is rotated, a late row
    of D1 takes key 1 again, then the new table's counter passes D1's keys (yesterday's rows).
    Compared with D1's own keys only, the counter looked healthy and the growth took the new
    row for row 1 changed (an outside trial's year, its very first day). The counter is
    compared with the keys archived since D1 too (up to 420): the growth stops."""
    mysql_schema.execute(LOG_TABLE_DDL)
    _fill(mysql_schema, D1, 20)
    _fill(mysql_schema, D2, PER_DAY)
    ctx = build_context(_job(mysql_schema, tmp_path))
    (first,) = run(ctx, list(ctx.job.tables), TODAY, build_throttle(ctx))
    assert first.ok and first.rows_deleted == 20 + PER_DAY, first.errors
    archived = _manifest(ctx, D1)
    mysql_schema.execute("RENAME TABLE events TO events_old")
    mysql_schema.execute("CREATE TABLE events LIKE events_old")
    _fill(mysql_schema, D1, 1, first_second=300)  # a late row of D1: key 1 again
    _fill(mysql_schema, TODAY - dt.timedelta(days=1), 30)  # keys 2..31: past D1's 20

    (report,) = run(ctx, list(ctx.job.tables), TODAY, build_throttle(ctx))

    (error,) = report.errors
    assert f"events {D1}: key 1 is archived in this day with other values" in error
    top = _manifest(ctx, D2).max_key[0]  # type: ignore[index]
    assert f") is not past the keys archived from this day on (up to {top})" in error
    assert _manifest(ctx, D1) == archived
    assert mysql_schema.execute("SELECT COUNT(*) FROM events WHERE id = 1") == [(1,)]


def test_a_table_whose_timezone_changed_is_refused_before_anything_changes(
    mysql_schema: MySqlSchema, tmp_path: Path
) -> None:
    """Days archived in UTC, then the config says Asia/Tokyo: a re-export of one day took the
    Tokyo window while its neighbours kept UTC's, and 19 rows between them were in no day,
    never archived nor purged, every run exit 0 (an outside trial). Export, run and purge now
    refuse each day archived in the other zone (ConfigError), naming both zones; nothing of
    them is written or deleted (a day never archived is archived in the new zone)."""
    mysql_schema.execute(LOG_TABLE_DDL)
    for day in (D1, D2):
        _fill(mysql_schema, day, 50)
    ctx = build_context(_job(mysql_schema, tmp_path))
    for day in (D1, D2):
        export_day(ctx, ctx.job.tables[0], day)
    ctx.close()  # (its run lock)
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    tokyo = ctx.job.model_copy(
        update={"tables": [ctx.job.tables[0].model_copy(update={"timezone": "Asia/Tokyo"})]}
    )
    ctx = build_context(tokyo)
    with pytest.raises(ConfigError, match="archived with timezone 'UTC', and the config now"):
        export_day(ctx, ctx.job.tables[0], D2)
    (report,) = run(ctx, list(ctx.job.tables), TODAY, build_throttle(ctx))
    assert report.rows_deleted == 0 and any("'Asia/Tokyo'" in e for e in report.errors)
    assert mysql_schema.execute("SELECT COUNT(*) FROM events") == [(100,)]
    after = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    assert {p: b for p, b in after.items() if p in before} == before  # the UTC days untouched
    assert all(
        f"month={D1.month:02d}/day={D1.day:02d}" not in str(p) for p in after.keys() - before.keys()
    )


@pytest.mark.parametrize("late", [1, 3])  # as many rows as archived, or more
@pytest.mark.parametrize("scan", ["key", "time"])
def test_rows_deleted_before_late_rows_arrive_are_not_replaced_away(
    scan: str, late: int, mysql_schema: MySqlSchema, tmp_path: Path
) -> None:
    """A never-purged day: the application deletes an archived row, then late rows arrive, so
    the database holds as many rows as the archive, or more. The day was replaced whole and the
    deleted row's only copy was gone, verify saying OK (an outside trial). Counted by key, the
    archive's rows the database no longer holds make the day grown-only: it gains the late rows
    and keeps the deleted one."""
    mysql_schema.execute(LOG_TABLE_DDL)
    _fill(mysql_schema, D1, 30)
    ctx = build_context(_job(mysql_schema, tmp_path, scan=scan))
    spec = ctx.job.tables[0]
    export_day(ctx, spec, D1)
    oracle = _snapshot(mysql_schema)
    mysql_schema.execute("DELETE FROM events WHERE id = 2")
    _fill(mysql_schema, D1, late, first_second=50_000)
    oracle.update(_snapshot(mysql_schema))
    grown = export_day(ctx, spec, D1)
    assert grown.published and grown.generation == 2
    assert _manifest(ctx, D1).effective_digest.count == 30 + late
    assert verify_day(ctx, spec, D1).ok
    restored = restore_day(ctx, spec, D1, into="back")
    assert restored.ok, restored.problems
    assert _snapshot(mysql_schema, "back") == oracle  # row 2 as archived, and the late rows


def test_a_restored_day_keeps_its_rows_the_application_deletes_again(
    mysql_schema: MySqlSchema, tmp_path: Path
) -> None:
    """D1 purged, restored into its table, then one of its rows deleted and late rows added:
    the run replaced the day whole, and the deleted row's only copy was gone (an outside
    trial). It grows instead."""
    mysql_schema.execute(LOG_TABLE_DDL)
    _fill(mysql_schema, D1, 30)
    ctx = build_context(_job(mysql_schema, tmp_path))
    oracle = _snapshot(mysql_schema)
    (first,) = run(ctx, list(ctx.job.tables), TODAY, build_throttle(ctx))
    assert first.rows_deleted == 30
    assert restore_day(ctx, ctx.job.tables[0], D1).ok  # back into events
    mysql_schema.execute("DELETE FROM events WHERE id = 2")
    _fill(mysql_schema, D1, 3, first_second=50_000)
    oracle.update(_snapshot(mysql_schema))
    (again,) = run(ctx, list(ctx.job.tables), TODAY, build_throttle(ctx))
    assert again.ok and again.rows_deleted == 32, again.errors
    restored = restore_day(ctx, ctx.job.tables[0], D1, into="back")
    assert restored.ok, restored.problems
    assert _snapshot(mysql_schema, "back") == oracle


def test_the_recheck_read_is_said_and_stops_on_a_stop_request(
    mysql_schema: MySqlSchema, tmp_path: Path
) -> None:
    """The ``recheck_days`` digest reads a whole archived day: it says so first, and a stop
    (signal, stop file, max_runtime) ends the run after a chunk of it, as it ends an export,
    instead of reading on unstoppable (an outside trial: it ate max_runtime, silently)."""
    mysql_schema.execute(LOG_TABLE_DDL)
    for back in (1, 2):
        _fill(mysql_schema, TODAY - dt.timedelta(days=back), 50)
    events: list[Event] = []
    ctx = build_context(_job(mysql_schema, tmp_path), reporter=_Recorder(events))
    (first,) = run(ctx, list(ctx.job.tables), TODAY, build_throttle(ctx), purge=False)
    assert len(first.exported) == 2 and first.stopped is None
    throttle = build_throttle(ctx)
    ctx.check_stop = throttle.check_stop  # as the CLI and Airflow wire it
    throttle.stop.request("received SIGTERM")
    del events[:]
    (second,) = run(ctx, list(ctx.job.tables), TODAY, throttle, purge=False)
    assert second.stopped is not None and "received SIGTERM" in second.stopped
    assert second.exported == []
    said = [e for e in events if e.step == "recheck"]
    assert [(e.day, e.kind) for e in said] == [(str(TODAY - dt.timedelta(days=2)), "info")]
    assert "reading the day's 50 archived rows again" in said[0].message


@dataclass
class _Recorder:
    events: list[Event]

    def emit(self, event: Event) -> None:
        self.events.append(event)


def test_a_generation_claimed_by_another_writer_is_not_published(
    mysql_schema: MySqlSchema, tmp_path: Path
) -> None:
    """Two writers of one generation: the one whose claim comes second publishes nothing (no
    copy, no manifest change) and says why; the committed day is untouched."""
    from dbarchive.errors import AlreadyRunning
    from dbarchive.steps import publish, upload

    mysql_schema.execute(LOG_TABLE_DDL)
    _fill(mysql_schema, D1, PER_DAY)
    ctx = build_context(_job(mysql_schema, tmp_path))
    export_day(ctx, ctx.job.tables[0], D1)
    partition = ctx.partition(ctx.job.tables[0], D1)
    committed = upload.read_committed(ctx.storage, partition, ctx.identity(ctx.job.tables[0]))
    target = committed.target(partition)
    old = committed.manifest
    assert old is not None and target.staged and target.generation == 2
    staged = target.part_key(0, "csv")
    ctx.storage.put_bytes(target.write_key(staged), b"id\n")  # our staged file
    mine = _renamed(old, staged, 2)
    assert ctx.storage.put_if_absent(partition.generation_manifest_key(2), b"the other writer")
    with pytest.raises(AlreadyRunning, match="generation 2 of the day was claimed"):
        publish.publish(ctx.storage, target, mine, base=old)
    assert _manifest(ctx, D1) == old and ctx.storage.stat(staged) is None


def _renamed(manifest: Manifest, key: str, generation: int) -> Manifest:
    import dataclasses

    entry = dataclasses.replace(manifest.files[0], key=key)
    return dataclasses.replace(manifest, files=(entry,), generation=generation)


def test_rows_deleted_or_moved_away_by_the_application_do_not_stop_the_purge(
    mysql_schema: MySqlSchema, tmp_path: Path
) -> None:
    """After D1 and D2 were archived (not purged) the application deleted rows of D1 and moved
    others to D2. The run used to fail both days at every run ("the source now holds … rows
    were purged or deleted"); now the rest of D1 is matched row by row and purged, its archive
    kept whole (the deleted rows' only copy), and D2 grows by the moved rows and is purged."""
    mysql_schema.execute(LOG_TABLE_DDL)
    _fill(mysql_schema, D1, PER_DAY)
    _fill(mysql_schema, D2, PER_DAY)
    ctx = build_context(_job(mysql_schema, tmp_path))
    archived = _snapshot(mysql_schema)
    for day in (D1, D2):
        export_day(ctx, ctx.job.tables[0], day)
    mysql_schema.execute("DELETE FROM events WHERE id IN (5, 6, 7)")
    mysql_schema.execute(
        "UPDATE events SET created_at = '2026-09-02 10:00:00', note = 'moved' WHERE id IN (8, 9)"
    )
    moved = _snapshot(mysql_schema)

    (report,) = run(ctx, list(ctx.job.tables), TODAY, build_throttle(ctx))
    assert report.ok, report.errors
    assert mysql_schema.execute("SELECT COUNT(*) FROM events WHERE created_at < '2026-09-03'") == [
        (0,)
    ]
    assert _manifest(ctx, D1).rows == PER_DAY and _manifest(ctx, D1).generation == 1
    assert _manifest(ctx, D2).generation == 2 and _manifest(ctx, D2).rows == PER_DAY + 2
    d1 = _restored(mysql_schema, ctx, [D1], "back1")
    assert d1 == {k: v for k, v in archived.items() if k <= PER_DAY}  # as archived, all 400
    d2 = _restored(mysql_schema, ctx, [D2], "back2")
    assert d2 == {k: v for k, v in moved.items() if k > PER_DAY or k in (8, 9)}
    (again,) = run(ctx, list(ctx.job.tables), TODAY, build_throttle(ctx))
    assert again.ok and not again.exported and again.rows_deleted == 0


def test_a_row_moved_within_its_day_and_back_is_not_matched_to_its_older_version(
    mysql_schema: MySqlSchema, tmp_path: Path
) -> None:
    """Scanned by time, a key's place in each generation is its time. Row 7 moved to 06:00 after
    D1 was archived (the day grew: generation 2 holds it there), then moved back exactly as it
    was. The purge matched it at its old place in generation 1 and deleted it, and restore gave
    back generation 2's 06:00 version, which the row no longer was (an outside trial). Now the
    newest version of a key decides wherever it sits: row 7 is archived again, then purged."""
    mysql_schema.execute(LOG_TABLE_DDL)
    _fill(mysql_schema, D1, PER_DAY)
    ctx = build_context(_job(mysql_schema, tmp_path, scan="time"))
    export_day(ctx, ctx.job.tables[0], D1)
    marker = ctx.partition(ctx.job.tables[0], D1).purge_marker_key
    ctx.storage.put_bytes(marker, b'{"status": "started", "started_at": "2026-11-25T00:00:00"}\n')
    (at,) = mysql_schema.execute("SELECT created_at FROM events WHERE id = 7")[0]
    mysql_schema.execute(
        "UPDATE events SET created_at = '2026-09-01 00:00:01', note = 'moved' WHERE id = 7"
    )
    assert export_day(ctx, ctx.job.tables[0], D1).generation == 2
    mysql_schema.execute("UPDATE events SET created_at = %s, note = 'n6' WHERE id = 7", (at,))
    latest = _snapshot(mysql_schema)

    (report,) = run(ctx, list(ctx.job.tables), TODAY, build_throttle(ctx))
    assert report.ok, report.errors
    assert mysql_schema.execute("SELECT COUNT(*) FROM events") == [(0,)]
    assert _manifest(ctx, D1).generation == 3  # row 7 as it is, archived before its delete
    restore_day(ctx, ctx.job.tables[0], D1, into="back")  # the newest version of each key first
    assert _snapshot(mysql_schema, "back") == latest


@pytest.mark.parametrize("scan", ["time", "key"])
def test_rows_moved_within_their_day_after_its_archive_verify_and_restore(
    scan: str, mysql_schema: MySqlSchema, tmp_path: Path
) -> None:
    """After D1 was archived and its purge begun, row 7 moves later in the day and row 300
    earlier (each changed), and a late row arrives. The growth archives the three; the moved
    rows' older versions (found by key, wherever they sit) are counted as replaced, so verify
    says OK and restore gives back the day as it is, verified (an outside trial: both said NOT
    verified, one row too many, for good)."""
    mysql_schema.execute(LOG_TABLE_DDL)
    _fill(mysql_schema, D1, PER_DAY)
    ctx = build_context(_job(mysql_schema, tmp_path, scan=scan))
    spec = ctx.job.tables[0]
    export_day(ctx, spec, D1)
    marker = ctx.partition(spec, D1).purge_marker_key
    ctx.storage.put_bytes(marker, b'{"status": "started", "started_at": "2026-11-25T00:00:00"}\n')
    mysql_schema.execute("UPDATE events SET created_at = '2026-09-01 23:00:00', note = 'later' WHERE id = 7")  # fmt: skip
    mysql_schema.execute("UPDATE events SET created_at = '2026-09-01 00:00:02', note = 'early' WHERE id = 300")  # fmt: skip
    _fill(mysql_schema, D1, 1, first_second=43_000)  # one late row, a new key
    grown = export_day(ctx, spec, D1)
    manifest = _manifest(ctx, D1)
    assert (grown.generation, manifest.rows) == (2, PER_DAY + 3)  # three rows grown
    assert manifest.superseded.count == 2  # rows 7 and 300 as first archived
    assert manifest.effective_digest.count == PER_DAY + 1
    assert verify_day(ctx, spec, D1).ok
    latest = _snapshot(mysql_schema)
    restored = restore_day(ctx, spec, D1, into="back")
    assert restored.ok, restored.problems
    assert _snapshot(mysql_schema, "back") == latest


class _MoveAfterFirstChunk:
    """A reporter that moves row ``key`` to the end of its day once a growth read its first
    chunk: the application updating a row while the day is read."""

    def __init__(self, schema: MySqlSchema, key: int) -> None:
        self.schema, self.key, self.moved = schema, key, False

    def emit(self, event: Any) -> None:
        if event.step == "export" and event.kind == "chunk" and not self.moved:
            self.moved = True
            self.schema.execute(
                "UPDATE events SET created_at = '2026-09-01 23:59:00', note = 'later' "
                "WHERE id = %s",
                (self.key,),
            )


def test_a_row_moved_later_in_its_day_while_the_day_grows_is_written_once(
    mysql_schema: MySqlSchema, tmp_path: Path
) -> None:
    """A late row is copied by the growth's first chunk, then moved to the end of the day: the
    growth meets it there again. It wrote it twice into one generation, and restore kept the
    older one (an outside trial, under a writer). Now once; the newer version is archived by the
    next growth, before the row is deleted."""
    mysql_schema.execute(LOG_TABLE_DDL)
    _fill(mysql_schema, D1, PER_DAY)
    job = job_from_dict(
        {
            "source": {"url": mysql_schema.url},
            "destination": {"url": str(tmp_path)},
            "defaults": {"compression": "none", "chunk_rows": 50},
            "tables": [{"name": "events", "timestamp_column": "created_at",
                        "retention": "60 days", "scan": "time"}],
        }
    )  # fmt: skip
    mover = _MoveAfterFirstChunk(mysql_schema, PER_DAY + 1)
    ctx = build_context(job, reporter=mover)
    export_day(ctx, ctx.job.tables[0], D1)
    marker = ctx.partition(ctx.job.tables[0], D1).purge_marker_key
    ctx.storage.put_bytes(marker, b'{"status": "started", "started_at": "2026-11-25T00:00:00"}\n')
    mysql_schema.execute(
        "INSERT INTO events (id, created_at, account_id, note) VALUES (%s, %s, 1, 'late')",
        (PER_DAY + 1, "2026-09-01 00:00:00.5"),
    )
    mover.moved = False  # armed for the growth
    grown = export_day(ctx, ctx.job.tables[0], D1)
    assert mover.moved and grown.generation == 2
    keys = [int(r[0]) for r in iter_archive_rows(ctx.storage, _manifest(ctx, D1))]
    assert keys.count(PER_DAY + 1) == 1
    latest = _snapshot(mysql_schema)
    (report,) = run(ctx, list(ctx.job.tables), TODAY, build_throttle(ctx))
    assert report.ok, report.errors
    restore_day(ctx, ctx.job.tables[0], D1, into="back")
    assert _snapshot(mysql_schema, "back") == latest


def test_later_generations_too_large_to_hold_are_walked_by_place(
    mysql_schema: MySqlSchema, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past LATER_ROWS, a day's later generations are walked each in order instead of held in
    memory by key: the late and changed rows are still archived and purged, and nothing stops
    the day (a first version refused such a day for good)."""
    from dbarchive.steps import matching

    monkeypatch.setattr(matching, "LATER_ROWS", 2)
    test_late_and_changed_rows_of_purged_days_are_archived_and_the_next_run_is_clean(
        mysql_schema, tmp_path, "time"
    )


def test_discarding_a_published_generation_keeps_what_the_commit_lists(
    mysql_schema: MySqlSchema, tmp_path: Path
) -> None:
    """Work units planned before the day had a manifest write published names; when another run
    (a second backfill) published the same rows meanwhile, the units' publication is not needed.
    It crashed on an assertion (an outside trial); it now removes only its own files that the
    committed manifest does not list."""
    import dataclasses

    from dbarchive.steps import publish, upload

    mysql_schema.execute(LOG_TABLE_DDL)
    _fill(mysql_schema, D1, PER_DAY)
    ctx = build_context(_job(mysql_schema, tmp_path))
    export_day(ctx, ctx.job.tables[0], D1)
    partition = ctx.partition(ctx.job.tables[0], D1)
    committed = upload.read_manifest(ctx.storage, partition)
    assert committed is not None
    target = partition.for_generation(committed.generation, staged=False)
    extra = target.part_key(1, "csv")
    ctx.storage.put_bytes(extra, b"id\n")  # a file of the unneeded publication
    entry = dataclasses.replace(committed.files[0], key=extra)
    mine = dataclasses.replace(committed, files=(*committed.files, entry))
    publish.discard(ctx.storage, target, mine, committed)
    assert ctx.storage.stat(extra) is None
    assert all(ctx.storage.stat(f.key) is not None for f in committed.files)
    ctx.source.close()
