"""Backfill: parallel workers give the sequential archive; killed, it resumes without redoing days."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from dbarchive import build_context, export_day, restore_day
from dbarchive.config import ArchiveJob
from dbarchive.events import Event
from dbarchive.jobs.backfill import BackfillOptions, BackfillReport, backfill, backfill_days
from dbarchive.jobs.capacity import DAY_SECONDS
from dbarchive.layout import PartitionPath
from dbarchive.manifest import Manifest
from dbarchive.steps.verify import verify_day
from dbarchive.throttle import StopFlag
from dbarchive.units.records import is_verified
from tests.integration.helpers import LOG_TABLE_DDL, fill_events, make_job
from tests.integration.mysql_fixtures import MySqlSchema, mysql_schema  # noqa: F401

FIRST = dt.date(2026, 8, 1)
DAYS = 30
BIG_DAY = dt.date(2026, 8, 10)  # 3,500 rows: four units of at most 1,000 rows
PER_DAY = 300
TODAY = dt.date(2026, 10, 16)  # retention 60 days: 2026-08-17 is the first day kept


def _fill(schema: MySqlSchema) -> None:
    schema.execute(LOG_TABLE_DDL)
    for i in range(DAYS):
        day = FIRST + dt.timedelta(days=i)
        fill_events(schema, day.isoformat(), 3500 if day == BIG_DAY else PER_DAY)


def _job(schema: MySqlSchema, dest: Path) -> ArchiveJob:
    table = {"name": "events", "timestamp_column": "created_at", "range_rows": 1000}
    return make_job(schema.url, str(dest), [table], compression="zstd", chunk_rows=500,
                    retention="60 days")  # fmt: skip


def _late_row(schema: MySqlSchema, at: str, account: int, amount: float) -> None:
    """One row inserted at ``at`` into a day already archived (a late write)."""
    schema.execute(
        "INSERT INTO events (created_at, account_id, amount, note) VALUES (%s, %s, %s, 'late')",
        (at, account, amount),
    )


def _run(job: ArchiveJob, workers: int, purge: bool = False) -> BackfillReport:
    spec = job.tables[0]
    ctx = build_context(job)
    days = backfill_days(ctx, spec, FIRST, FIRST + dt.timedelta(days=DAYS - 1), TODAY)
    ctx.source.close()
    options = BackfillOptions(workers=workers, purge=purge, today=TODAY)
    return backfill(lambda r: build_context(job, reporter=r), [(spec, days)], options)


def _archive(dest: Path) -> tuple[dict[str, bytes], dict[str, Any]]:
    """Every data file's bytes and every manifest's content (without run times), by key."""
    data, manifests = {}, {}
    for path in sorted(p for p in dest.rglob("*") if p.is_file()):
        key = path.relative_to(dest).as_posix()
        if path.name.startswith("part-"):
            data[key] = path.read_bytes()
        elif path.name == "_manifest.json":
            manifests[key] = Manifest.loads(path.read_bytes()).content()
    return data, manifests


def test_two_workers_give_the_archive_of_a_sequential_run(
    mysql_schema: MySqlSchema, tmp_path: Path
) -> None:
    """30 days (one of them in 4 units) with 2 workers: byte-identical files, equal manifests."""
    _fill(mysql_schema)
    one, two = _job(mysql_schema, tmp_path / "one"), _job(mysql_schema, tmp_path / "two")
    sequential, parallel = _run(one, 1), _run(two, 2)
    assert sequential.ok and parallel.ok
    assert [d.action for d in parallel.days] == ["archived"] * DAYS
    assert [d.day for d in parallel.days] == [FIRST + dt.timedelta(days=i) for i in range(DAYS)]
    assert {d.day: d.units for d in parallel.days}[BIG_DAY] == 4
    assert parallel.rows_archived == (DAYS - 1) * PER_DAY + 3500
    assert _archive(tmp_path / "two") == _archive(tmp_path / "one")
    assert len(_archive(tmp_path / "two")[1]) == DAYS
    ctx = build_context(two)
    assert verify_day(ctx, two.tables[0], BIG_DAY).ok
    again = _run(two, 2)  # a rerun skips every archived and verified day
    assert [d.action for d in again.days] == ["skipped"] * DAYS
    ctx.source.close()


def _cli(
    config: Path, *args: str, failpoint: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "DBARCHIVE_FAILPOINT"}
    if failpoint:
        env["DBARCHIVE_FAILPOINT"] = failpoint
    cmd = [sys.executable, "-m", "dbarchive", "backfill", "-c", str(config), "--json",
           "--from", str(FIRST), "--to", str(FIRST + dt.timedelta(days=DAYS - 1)),
           "--today", str(TODAY), *args]  # fmt: skip
    return subprocess.run(cmd, env=env, timeout=300, capture_output=True, text=True, check=False)


def _config(schema: MySqlSchema, dest: Path, tmp_path: Path) -> Path:
    path = tmp_path / "job.toml"
    path.write_text(
        f'[source]\nurl = "{schema.url}"\n[destination]\nurl = "{dest}"\n[defaults]\n'
        'compression = "zstd"\nchunk_rows = 500\nretention = "60 days"\n'
        '[[tables]]\nname = "events"\ntimestamp_column = "created_at"\nrange_rows = 1000\n'
    )
    return path


def _published_days(job: ArchiveJob) -> set[dt.date]:
    ctx = build_context(job)
    days = {
        FIRST + dt.timedelta(days=i)
        for i in range(DAYS)
        if ctx.storage.get_bytes(PartitionPath("events", FIRST + dt.timedelta(days=i)).manifest_key)
    }
    ctx.source.close()
    return days


def _verified_days(job: ArchiveJob) -> set[dt.date]:
    ctx = build_context(job)
    out = set()
    for i in range(DAYS):
        day = FIRST + dt.timedelta(days=i)
        partition = PartitionPath("events", day)
        raw = ctx.storage.get_bytes(partition.manifest_key)
        if raw is not None and is_verified(ctx.storage, partition, Manifest.loads(raw)):
            out.add(day)
    ctx.source.close()
    return out


def test_resume_after_sigkill_skips_finished_days(
    mysql_schema: MySqlSchema, tmp_path: Path
) -> None:
    """Killed after 8 days (2 workers): the rerun skips every verified day, finishes the rest exactly."""
    _fill(mysql_schema)
    dest = tmp_path / "archive"
    config = _config(mysql_schema, dest, tmp_path)
    killed = _cli(config, "--workers", "2", failpoint="backfill.day-done:8")
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    job = _job(mysql_schema, dest)
    finished = _verified_days(job)
    published = _published_days(job)  # a kill between manifest and record leaves these
    assert 8 <= len(finished) < DAYS
    resumed = _cli(config, "--workers", "2")
    assert resumed.returncode == 0, resumed.stderr
    actions = {
        dt.date.fromisoformat(d["day"]): d["action"] for d in json.loads(resumed.stdout)["days"]
    }
    assert {d for d, a in actions.items() if a == "skipped"} == finished, actions
    assert {d for d, a in actions.items() if a == "verified"} == published - finished, actions
    assert {d for d, a in actions.items() if a == "archived"} == set(actions) - published, actions
    reference = _job(mysql_schema, tmp_path / "reference")
    assert _run(reference, 1).ok
    # The same data: a day the kill caught between its claim and its publication is published
    # by the rerun as the next generation (docs/design/publication.md), with a plan of its own.
    (files, manifests), (expected_files, expected) = (
        _without_generations(dest),
        _without_generations(tmp_path / "reference"),
    )
    assert files == expected_files
    assert sorted(manifests) == sorted(expected)
    differ = {k: [f for f in m if m[f] != expected[k].get(f)] for k, m in manifests.items()}
    assert {k: fields for k, fields in differ.items() if fields} == {}


def _without_generations(dest: Path) -> tuple[dict[str, bytes], dict[str, Any]]:
    """``_archive`` without each publication's generation (in keys and manifests) and plan id."""
    files, manifests = _archive(dest)

    def plain(key: str) -> str:
        return re.sub(r"part-g\d+-", "part-", key)

    for content in manifests.values():
        content.pop("generation")
        content["extra"].get("units", {}).pop("plan_id", None)  # names the generation's plan
        for entry in content["files"]:
            entry["key"] = plain(entry["key"])
    return {plain(k): v for k, v in files.items()}, manifests


def test_a_day_changed_since_its_archive_is_archived_again_by_a_backfill(
    mysql_schema: MySqlSchema, tmp_path: Path
) -> None:
    """A late row in two days the daily export archived (the big one in units): the next
    backfill publishes each as a new generation, then purges them. Its units were written
    under staged names and read back by their published ones: "does not exist", exit 4, on
    every rerun (an outside kill-storm trial)."""
    _fill(mysql_schema)
    job = _job(mysql_schema, tmp_path / "archive")
    ctx = build_context(job)
    for i in range(DAYS):  # archived by the daily export
        export_day(ctx, job.tables[0], FIRST + dt.timedelta(days=i))
    ctx.source.close()
    late = FIRST + dt.timedelta(days=1)
    _late_row(mysql_schema, f"{late} 12:00:00.5", 7, 1.5)
    _late_row(mysql_schema, f"{BIG_DAY} 23:59:59.999999", 8, 2.5)
    before = mysql_schema.execute("SELECT COUNT(*) FROM events WHERE created_at < %s", (
        f"{job.tables[0].retention.cutoff(TODAY)}",))[0][0]  # fmt: skip
    report = _run(job, 2, purge=True)
    assert report.ok, [d.error for d in report.failed]
    assert {d.day for d in report.days if d.action == "archived"} >= {late, BIG_DAY}
    assert sum(d.rows_deleted for d in report.days) == before
    ctx = build_context(job)
    for day in (late, BIG_DAY):
        assert verify_day(ctx, job.tables[0], day, "rows").ok
        manifest = Manifest.loads(
            (tmp_path / "archive" / PartitionPath("events", day).manifest_key).read_bytes()
        )
        assert manifest.generation == 2
    ctx.source.close()
    assert not list((tmp_path / "archive").rglob("_staged-*"))


def test_a_late_row_in_a_day_a_backfill_verified_is_archived_before_its_purge(
    mysql_schema: MySqlSchema, tmp_path: Path
) -> None:
    """A backfill archives and verifies the days; a late row lands in one; a backfill --purge
    archives it as a new generation before the purge. It purged straight away, kept the row,
    failed the day, and every rerun skipped the day as verified (an outside trial)."""
    _fill(mysql_schema)
    job = _job(mysql_schema, tmp_path / "archive")
    assert _run(job, 1).ok
    late = FIRST + dt.timedelta(days=2)
    _late_row(mysql_schema, f"{late} 08:00:00", 9, 3.5)
    report = _run(job, 2, purge=True)
    assert report.ok, [d.error for d in report.failed]
    assert [d.day for d in report.days if d.action == "archived"] == [late]
    cutoff = job.tables[0].retention.cutoff(TODAY)
    assert (
        mysql_schema.execute("SELECT COUNT(*) FROM events WHERE created_at < %s", (f"{cutoff}",))[
            0
        ][0]
        == 0
    )


def test_purge_deletes_only_verified_days_before_the_cutoff(
    mysql_schema: MySqlSchema, tmp_path: Path
) -> None:
    """--purge: every day archived; only the 16 days before the cutoff lose their rows."""
    _fill(mysql_schema)
    job = _job(mysql_schema, tmp_path / "archive")
    report = _run(job, 2, purge=True)
    assert report.ok
    cutoff = job.tables[0].retention.cutoff(TODAY)
    purged = {d.day for d in report.days if d.purged}
    assert purged == {d.day for d in report.days if d.day < cutoff} and len(purged) == 16
    assert sum(d.rows_deleted for d in report.days) == 15 * PER_DAY + 3500
    (oldest,) = mysql_schema.execute("SELECT MIN(created_at) FROM events")[0]
    assert oldest.date() == cutoff
    assert len(_archive(tmp_path / "archive")[1]) == DAYS


def test_a_stop_file_stops_every_worker_and_a_rerun_finishes(
    mysql_schema: MySqlSchema, tmp_path: Path
) -> None:
    """With the stop file present nothing is exported (exit 6); removed, the rerun does it all."""
    _fill(mysql_schema)
    dest = tmp_path / "archive"
    config = _config(mysql_schema, dest, tmp_path)
    stop = tmp_path / "stop"
    stop.touch()
    stopped = _cli(config, "--workers", "2", "--stop-file", str(stop))
    assert stopped.returncode == 6, stopped.stderr
    assert "stop file" in stopped.stderr
    assert _archive(dest)[1] == {}
    stop.unlink()
    done = _cli(config, "--workers", "2", "--stop-file", str(stop))
    assert done.returncode == 0, done.stderr
    assert len(_archive(dest)[1]) == DAYS


def test_a_stop_between_two_days_is_reported_as_a_stop(
    mysql_schema: MySqlSchema, tmp_path: Path
) -> None:
    """SIGTERM arriving between two days (no chunk in hand to raise it) ended the backfill with
    result=ok and exit 0, days left undone (an outside trial): a scheduler took it for done.
    The report says stopped, with the reason, and the days left stay pending."""
    _fill(mysql_schema)
    job = _job(mysql_schema, tmp_path / "archive")
    spec = job.tables[0]
    ctx = build_context(job)
    days = backfill_days(ctx, spec, FIRST, FIRST + dt.timedelta(days=DAYS - 1), TODAY)
    ctx.source.close()
    stop = StopFlag()

    class StopAfterOneDay:
        def emit(self, event: Event) -> None:
            if event.kind == "info" and event.day:  # a day is done
                stop.request("received SIGTERM")

    options = BackfillOptions(workers=1, today=TODAY)
    report = backfill(lambda r: build_context(job, reporter=r), [(spec, days)], options, stop,
                      StopAfterOneDay())  # fmt: skip
    assert report.stopped == "received SIGTERM" and not report.ok
    assert sum(1 for d in report.days if d.action == "pending") == DAYS - 1


def test_plan_backfill_estimates_days_rows_units_and_time(
    mysql_schema: MySqlSchema, tmp_path: Path
) -> None:
    """plan --backfill: 30 days, rows from statistics, units, and time at the measured rate."""
    from click.testing import CliRunner

    from dbarchive.cli import cli

    _fill(mysql_schema)
    dest = tmp_path / "archive"
    config = _config(mysql_schema, dest, tmp_path)
    args = ["plan", "-c", str(config), "--backfill", "--from", str(FIRST),
            "--to", str(FIRST + dt.timedelta(days=DAYS - 1)), "--json"]  # fmt: skip
    before = json.loads(CliRunner().invoke(cli, [*args, "--workers", "4"]).output)[0]
    assert before["days"] == DAYS and before["throughput_source"].startswith("assumed")
    assert before["units"] >= DAYS and before["rows"] > 0 and before["bytes"] > 0
    assert _run(_job(mysql_schema, dest), 1).ok  # unit records now time real work
    result = CliRunner().invoke(cli, [*args, "--workers", "4", "--db-cap", "2"])
    (estimate,) = json.loads(result.output)
    assert estimate["throughput_source"].startswith("measured: ")
    assert (estimate["workers"], estimate["db_cap"], estimate["parallel"]) == (4, 2, 2)
    assert (
        estimate["rows_per_second_per_worker"] > 0
    )  # the time it makes: tests/unit/test_capacity.py
    given = json.loads(CliRunner().invoke(cli, [*args, "--rows-per-second", "1000"]).output)[0]
    assert given["throughput_source"] == "given" and given["parallel"] == 1
    assert given["seconds"] == round(given["rows"] / 1000 + DAYS * DAY_SECONDS, 1)
    text = CliRunner().invoke(cli, [*args[:-1], "--workers", "2"]).output
    assert f"events: {DAYS} days ({FIRST} .. " in text and "work units" in text


def test_a_stray_ancient_row_does_not_make_the_default_range_too_long(
    mysql_schema: MySqlSchema, tmp_path: Path
) -> None:
    """One row dated 1000-01-01: the default range (oldest row's day to the cutoff) was
    375,000 calendar days, and every backfill was refused (an outside trial). Past the limit it
    takes the days that hold rows: that row's day and the table's own."""
    _fill(mysql_schema)
    mysql_schema.execute(
        "INSERT INTO events (created_at, account_id, amount, note) VALUES ('1000-01-01', 1, 1, 'x')"
    )
    job = _job(mysql_schema, tmp_path / "archive")
    ctx = build_context(job)
    days = backfill_days(ctx, job.tables[0], None, None, TODAY)
    ctx.source.close()
    cutoff = job.tables[0].retention.cutoff(TODAY)
    expected = [FIRST + dt.timedelta(days=i) for i in range(DAYS)]
    assert days == [dt.date(1000, 1, 1), *(d for d in expected if d < cutoff)]


def test_an_updated_row_and_a_row_after_the_purge_are_archived_by_the_next_backfill(
    mysql_schema: MySqlSchema, tmp_path: Path
) -> None:
    """An archived day's row updated (the count unchanged), then a purged day's late row: each
    backfill --purge archives the new rows and deletes them, as `run` does. The first was kept
    and failed the day on every rerun; the second was skipped as purged (outside re-tests)."""
    _fill(mysql_schema)
    job = _job(mysql_schema, tmp_path / "archive")
    assert _run(job, 1).ok  # archived, not purged
    changed = FIRST + dt.timedelta(days=3)
    mysql_schema.execute(
        "UPDATE events SET note = 'changed' WHERE created_at >= %s ORDER BY id LIMIT 1",
        (f"{changed} 00:00:00",),
    )
    report = _run(job, 2, purge=True)
    assert report.ok, [d.error for d in report.failed]
    assert [d.day for d in report.days if d.action == "archived"] == [changed]  # not "skipped"
    cutoff = job.tables[0].retention.cutoff(TODAY)
    left = "SELECT COUNT(*) FROM events WHERE created_at < %s"
    assert mysql_schema.execute(left, (f"{cutoff}",))[0][0] == 0
    late = FIRST + dt.timedelta(days=5)
    _late_row(mysql_schema, f"{late} 08:00:00", 9, 3.5)
    report = _run(job, 1, purge=True)
    assert report.ok, [d.error for d in report.failed]
    assert [(d.day, d.rows_deleted) for d in report.days if d.rows_deleted] == [(late, 1)]
    assert [d.day for d in report.days if d.action == "archived"] == [late]
    assert mysql_schema.execute(left, (f"{cutoff}",))[0][0] == 0
    ctx = build_context(job)
    for day in (changed, late):
        assert verify_day(ctx, job.tables[0], day, "rows").ok
    restored = restore_day(ctx, job.tables[0], changed, into="back")
    ctx.source.close()
    assert restored.ok
    assert mysql_schema.execute("SELECT COUNT(*) FROM back WHERE note = 'changed'")[0][0] == 1
