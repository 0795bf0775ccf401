"""The run lock (issue 16 item 8): a KILL of the lock's own MySQL session frees the lock while the
run goes on; the run must notice before its next commit and stop (exit 8), so a second run that
took the freed lock is the only one deleting. Ordered by failpoints that pause (SIGSTOP), never
by sleeping."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from typing import Any

import pytest

from dbarchive.sources.lock import lock_name
from tests.integration.mysql_fixtures import MySqlSchema
from tests.reliability import scenario
from tests.reliability.oracle import FOLDER_CLAIM, S3View, Seed, check
from tests.reliability.scenario import Job, record


def _lock_holder(db: MySqlSchema) -> Any:
    return db.execute("SELECT IS_USED_LOCK(%s)", (lock_name(db.name, "events"),))[0][0]


def _days_keys(view: S3View) -> list[str]:
    """The keys of the table's days: not the folder's claim, which the export creates when its
    first byte must go out, maybe after the lock was lost (the same table's, created once)."""
    return [k for k in view.keys("events/") if not k.endswith(f"/{FOLDER_CLAIM}")]


def _paused(proc: subprocess.Popen[str]) -> None:
    """Block until ``proc`` stops itself at its ``…:stop`` failpoint (fail if it exits)."""
    _pid, status = os.waitpid(proc.pid, os.WUNTRACED)
    assert os.WIFSTOPPED(status), f"the run ended instead of pausing (status {status})"


def _wait_until_free(db: MySqlSchema) -> None:
    """The server frees a killed session's lock once it has noticed the session gone: wait for
    that by taking the lock ourselves (blocking), then give it back."""
    name = lock_name(db.name, "events")
    assert db.execute("SELECT GET_LOCK(%s, 60)", (name,))[0][0] == 1
    db.execute("SELECT RELEASE_LOCK(%s)", (name,))


def _kill_the_lock_session(db: MySqlSchema) -> None:
    """KILL the session holding the table's run lock (a paused run's), and wait until the server
    has freed the lock."""
    holder = _lock_holder(db)
    assert holder is not None
    db.execute(f"KILL CONNECTION {int(holder)}")
    _wait_until_free(db)


def _expired_rows(db: MySqlSchema) -> int:
    (count,) = db.execute("SELECT COUNT(*) FROM events WHERE created_at < %s", (scenario.CUTOFF,))[
        0
    ]
    return int(count)


def _clean(name: str, seed: Seed, db: MySqlSchema, view: S3View, exit: str) -> None:
    """Record one fault's verdict for RELIABILITY.md, and require the oracle to be zero: every
    row in the database or the archive, once, unchanged."""
    verdict = record(check(name, seed, db, view, injections=1, exit=exit))
    assert verdict.clean, verdict.details


def test_killed_lock_session_stops_the_purge_before_its_next_commit(
    s3_job: Job, light: Seed, mysql_schema: MySqlSchema, view: S3View
) -> None:
    """KILL of the lock's session mid-purge: a second run takes the freed lock; the first stops
    cleanly with exit 8 before committing its chunk (rolled back); the second finishes, a rerun
    has nothing left to do, and the oracle is zero."""
    exported = s3_job.run(*scenario.export_args())
    assert exported.returncode == 0, exported.stderr
    expired = _expired_rows(mysql_schema)
    # The first run pauses in its second chunk: the DELETE ran, the COMMIT is next.
    first = s3_job.popen(*scenario.purge_args(), failpoint="purge.before-commit:2:stop")
    _paused(first)
    _kill_the_lock_session(mysql_schema)
    # A second run takes the freed lock and pauses before it deletes anything.
    second = s3_job.popen(*scenario.purge_args(), failpoint="purge.after-verify:1:stop")
    _paused(second)
    assert _lock_holder(mysql_schema) is not None
    first.send_signal(signal.SIGCONT)
    stdout, stderr = first.communicate(timeout=120)
    s3_job._keep(stdout)
    assert first.returncode == 8, stderr
    assert "lost the run lock" in stderr
    chunk = 500  # [throttle] max_chunk_rows: the first chunk committed, the second rolled back
    assert _expired_rows(mysql_schema) == expired - chunk
    # What it did before is said (it was not: only the error): the chunk it committed.
    (done,) = json.loads(stdout)["error"]["done_before"]
    assert f"deleted {chunk:,} rows of 1 day(s)" in done and f"before it ended: {done}" in stderr
    second.send_signal(signal.SIGCONT)
    stdout, stderr = second.communicate(timeout=300)
    s3_job._keep(stdout)
    assert second.returncode == 0, stderr
    rerun = s3_job.run(*scenario.purge_args())
    assert rerun.returncode == 0, rerun.stderr
    assert _expired_rows(mysql_schema) == 0
    _clean(
        "run lock's session KILLed mid-purge: the run stops (exit 8), a second run finishes",
        light,
        mysql_schema,
        view,
        exit=f"{first.returncode}, {second.returncode}, then {rerun.returncode}",
    )
    assert _lock_holder(mysql_schema) is None


@pytest.mark.parametrize(
    "pause",
    [
        # in the first day's third chunk of five (its one data file commits after the fifth)
        "export.chunk-read:3:stop",
        # the first day's (one) data file is stored, its manifest not yet written
        "export.part-committed:1:stop",
    ],
)
def test_killed_lock_session_stops_the_export_before_its_next_commit(
    s3_job: Job, light: Seed, mysql_schema: MySqlSchema, view: S3View, pause: str
) -> None:
    """KILL of the lock's session mid-export: the export commits no further file and publishes
    no manifest (exit 8); a rerun archives every day; the oracle is zero."""
    proc = s3_job.popen(*scenario.export_args(), failpoint=pause)
    _paused(proc)
    stored = _days_keys(view)  # what was committed before the lock was lost
    _kill_the_lock_session(mysql_schema)
    proc.send_signal(signal.SIGCONT)
    stdout, stderr = proc.communicate(timeout=120)
    s3_job._keep(stdout)
    assert proc.returncode == 8, stderr
    assert "lost the run lock" in stderr
    assert _days_keys(view) == stored  # nothing committed after the lock was lost
    rerun = s3_job.run(*scenario.export_args())
    assert rerun.returncode == 0, rerun.stderr
    _clean(
        f"run lock's session KILLed mid-export ({pause}): exit 8, a rerun finishes",
        light,
        mysql_schema,
        view,
        exit=f"{proc.returncode}, then {rerun.returncode}",
    )


def test_a_paused_export_that_lost_its_lock_commits_nothing_over_a_later_run(
    s3_job: Job, light: Seed, mysql_schema: MySqlSchema, view: S3View
) -> None:
    """An export paused (a frozen VM) between storing its files and committing the first day's
    manifest, its lock's session KILLed meanwhile; a second run archives and purges every day,
    the first day as a later generation. Resumed, the first committed its older manifest over
    the second's and removed the second's files: the purged rows' only copy (an outside trial).
    It now stops before its commit (exit 8): every manifest and file stays as the second run left
    them, and the oracle is zero."""
    first = s3_job.popen(*scenario.export_args(), failpoint="export.before-manifest:1:stop")
    _paused(first)
    _kill_the_lock_session(mysql_schema)
    second = s3_job.run(*scenario.run_args())
    assert second.returncode == 0, second.stderr
    assert _expired_rows(mysql_schema) == 0
    keys = view.keys("events/")
    manifests = {k: view.read(k) for k in keys if k.endswith("/_manifest.json")}
    first.send_signal(signal.SIGCONT)
    stdout, stderr = first.communicate(timeout=120)
    s3_job._keep(stdout)
    assert first.returncode == 8, stderr
    assert view.keys("events/") == keys
    assert {k: view.read(k) for k in manifests} == manifests
    rerun = s3_job.run(*scenario.run_args())
    assert rerun.returncode == 0, rerun.stderr
    _clean(
        "an export paused before its commit while its lock was lost and a second run "
        "archived and purged: it commits nothing (exit 8)",
        light,
        mysql_schema,
        view,
        exit=f"{first.returncode}, {second.returncode}, then {rerun.returncode}",
    )


def _resumed_and_refused(job: Job, proc: subprocess.Popen[str], view: S3View, says: str) -> None:
    """Resume a paused run that lost its lock while another run archived and purged: it exits 8
    saying ``says``, and every object stays byte for byte as the other run left it."""
    before = {k: view.read(k) for k in view.keys("events/")}
    proc.send_signal(signal.SIGCONT)
    stdout, stderr = proc.communicate(timeout=120)
    job._keep(stdout)
    assert proc.returncode == 8, stderr
    assert says in stderr
    assert {k: view.read(k) for k in view.keys("events/")} == before


def test_a_commit_paused_after_its_last_check_does_not_replace_a_later_one(
    s3_job: Job, light: Seed, mysql_schema: MySqlSchema, view: S3View
) -> None:
    """An export paused between its last check and its commit's PUT (a frozen VM, a PUT delayed
    12 s in an outside trial), its lock lost; a second run archives and purges every day. Resumed,
    its PUT replaced the second's manifest with one listing files the second had removed. The PUT
    is now conditional on the manifest it checked (If-Match / If-None-Match): refused, exit 8."""
    first = s3_job.popen(*scenario.export_args(), failpoint="publish.checked:1:stop")
    _paused(first)
    _kill_the_lock_session(mysql_schema)
    second = s3_job.run(*scenario.run_args())
    assert second.returncode == 0, second.stderr
    assert _expired_rows(mysql_schema) == 0
    _resumed_and_refused(s3_job, first, view, "another run committed the day")
    rerun = s3_job.run(*scenario.run_args())
    assert rerun.returncode == 0, rerun.stderr
    _clean(
        "an export paused after its last check, before its commit's PUT, while its lock was "
        "lost and a second run archived and purged: its PUT is refused (exit 8)",
        light,
        mysql_schema,
        view,
        exit=f"{first.returncode}, {second.returncode}, then {rerun.returncode}",
    )


def test_a_data_file_written_late_does_not_replace_a_later_runs_file(
    s3_job: Job, light: Seed, mysql_schema: MySqlSchema, view: S3View
) -> None:
    """A first export paused just before storing a day's data file, its lock lost; a late row
    arrives and a second run archives (with it) and purges the day under the same file name.
    Resumed, the first's PUT replaced that file with one lacking the late row: the purged row's
    only copy gone, and verify failing the day. Published names are now written once
    (If-None-Match): refused, exit 8."""
    first = s3_job.popen(*scenario.export_args(), failpoint="storage.before-create:1:stop")
    _paused(first)
    _kill_the_lock_session(mysql_schema)
    light.insert_day(mysql_schema, scenario.DAYS[0], 1)  # read by the second run only
    light.snapshot(mysql_schema)
    second = s3_job.run(*scenario.run_args())
    assert second.returncode == 0, second.stderr
    assert _expired_rows(mysql_schema) == 0
    _resumed_and_refused(s3_job, first, view, "written by another writer")
    rerun = s3_job.run(*scenario.run_args())
    assert rerun.returncode == 0, rerun.stderr
    assert (
        s3_job.run(
            "verify", "--from", str(scenario.DAYS[0]), "--to", str(scenario.DAYS[0])
        ).returncode
        == 0
    )
    _clean(
        "a first export paused before storing a data file while its lock was lost and a second "
        "run archived (with a late row) and purged the day: its PUT is refused (exit 8)",
        light,
        mysql_schema,
        view,
        exit=f"{first.returncode}, {second.returncode}, then {rerun.returncode}",
    )


def test_a_restore_that_lost_its_lock_stops_before_its_next_batch(
    s3_job: Job, light: Seed, mysql_schema: MySqlSchema, view: S3View
) -> None:
    """A restore into the table, paused after its first batch while its lock's session was
    KILLed (an erasure that took the lock meanwhile saw its erased row come back: an outside
    trial): resumed, it writes no further batch (exit 8); run again, it restores the day."""
    ran = s3_job.run(*scenario.run_args())
    assert ran.returncode == 0, ran.stderr
    day = scenario.EXPIRED[0].isoformat()
    restore = ("restore", "-t", "events", "--date", day, "--json")
    proc = s3_job.popen(*restore, failpoint="restore.batch-inserted:1:stop")
    _paused(proc)
    back = _expired_rows(mysql_schema)
    _kill_the_lock_session(mysql_schema)
    proc.send_signal(signal.SIGCONT)
    _stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 8, stderr
    assert "lost the run lock" in stderr
    assert _expired_rows(mysql_schema) == back  # no batch after the first
    again = s3_job.run(*restore)
    assert again.returncode == 0, again.stderr
    rerun = s3_job.run(*scenario.run_args())
    assert rerun.returncode == 0, rerun.stderr
    _clean(
        "a restore paused after a batch while its lock was lost: no further batch (exit 8)",
        light,
        mysql_schema,
        view,
        exit=f"{proc.returncode}, {again.returncode}, then {rerun.returncode}",
    )
