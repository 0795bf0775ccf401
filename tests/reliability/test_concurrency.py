"""Concurrency (issue 7, matrix 7-8): two runs of one table at once, and rows written into a day
while it is exported and before it is purged."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from dbarchive.sources.lock import lock_name
from tests.integration.mysql_fixtures import MySqlSchema
from tests.reliability import scenario
from tests.reliability.oracle import S3View, Seed, check
from tests.reliability.scenario import Job, record


def _lock_holder(db: MySqlSchema) -> Any:
    return db.execute("SELECT IS_USED_LOCK(%s)", (lock_name(db.name, "events"),))[0][0]


def test_a_second_run_of_the_same_table_exits_already_running(
    s3_job: Job, light: Seed, mysql_schema: MySqlSchema, view: S3View
) -> None:
    """An Airflow retry and a manual run at once: one proceeds, the other exits 8 "already
    running" having done nothing; no duplicates; the lock goes with the holder's session."""
    s3_job.path.write_text(
        s3_job.path.read_text().replace("[throttle]\n", "[throttle]\nsleep = 0.5\n")
    )
    first = s3_job.popen(*scenario.run_args())
    deadline = time.monotonic() + 30
    while _lock_holder(mysql_schema) is None:
        assert first.poll() is None and time.monotonic() < deadline, first.communicate()
        time.sleep(0.02)
    second = s3_job.run(*scenario.run_args())
    assert second.returncode == 8, second.stderr
    assert "already running" in second.stderr
    stdout, stderr = first.communicate(timeout=120)
    s3_job._keep(stdout)
    assert first.returncode == 0, stderr
    verdict = record(
        check(
            "two runs of one table at once (one exits 'already running')",
            light,
            mysql_schema,
            view,
            injections=1,
            exit=f"{first.returncode} and {second.returncode}",
        )
    )
    assert verdict.clean, verdict.details
    assert _lock_holder(mysql_schema) is None  # released with the run


def test_killed_holder_leaves_no_stale_lock(
    s3_job: Job, light: Seed, mysql_schema: MySqlSchema, view: S3View
) -> None:
    """A run SIGKILLed while holding the lock: the server frees it as soon as it sees the session
    gone (no stale lock to expire), and a retry started right away takes it and finishes."""
    proc = s3_job.run(*scenario.run_args(), failpoint="export.chunk-read:3")
    assert proc.returncode == -9
    retry = s3_job.run(*scenario.run_args())
    assert retry.returncode == 0, retry.stderr
    assert _lock_holder(mysql_schema) is None
    assert check("lock after a SIGKILL", light, mysql_schema, view).clean


def test_rows_written_into_exported_days_are_archived_before_purge(
    s3_job: Job, light: Seed, mysql_schema: MySqlSchema, view: S3View
) -> None:
    """Inserts and updates into a day while it is exported, and into exported days before the
    purge: the verify sees the difference, the day is exported again (or the changed row kept);
    nothing is lost, nothing deleted unarchived."""
    day = scenario.EXPIRED[0]
    done = threading.Event()

    def application() -> None:
        """Late rows into the first (expired) day while the export runs."""
        for _ in range(20):
            if done.wait(0.05):
                return
            light.insert_day(mysql_schema, day, 5, offset_s=3600)

    writer = threading.Thread(target=application, daemon=True)
    writer.start()
    exported = s3_job.run(*scenario.export_args())
    done.set()
    writer.join(10)
    assert exported.returncode == 0, exported.stderr
    light.insert_day(mysql_schema, scenario.EXPIRED[1], 7, offset_s=7200)  # after the export
    mysql_schema.execute(  # an archived row of an expired day changed after its export
        "UPDATE events SET note = 'changed after export' WHERE created_at >= %s ORDER BY id LIMIT 1",
        (scenario.EXPIRED[2],),
    )
    light.snapshot(mysql_schema)
    proc = s3_job.run(*scenario.purge_args())
    s3_job._keep(proc.stdout)
    # Each changed day fails its verify against the database and is exported again first: the
    # late rows and the new version of the changed row are archived, then purged.
    assert proc.returncode == 0, proc.stderr
    exported_again = [e["day"] for r in s3_job.runs[-2:-1] for e in r.get("exported", [])]
    # (the first day only if some late rows came after its export had read the day)
    assert {d.isoformat() for d in scenario.EXPIRED[1:]} <= set(exported_again)
    # A purged day only grows (docs/design/publication.md): exported again, it finds every row
    # it still has archived already and publishes nothing — never an archive of the rows left.
    again = s3_job.run("export", "--date", scenario.EXPIRED[2].isoformat(), "--json")
    assert again.returncode == 0, again.stderr
    (result,) = json.loads(again.stdout)
    assert result["published"] is False
    verdict = record(
        check(
            "late inserts during export + inserts/updates before purge",
            light,
            mysql_schema,
            view,
            injections=3,
            retries=s3_job.retries,
            exit=str(proc.returncode),
        )
    )
    assert verdict.clean, verdict.details
    (left,) = mysql_schema.execute(
        "SELECT COUNT(*) FROM events WHERE created_at < %s", (scenario.CUTOFF,)
    )[0]
    assert left == 0
