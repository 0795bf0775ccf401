"""Partition drops (issue 16 item 4): a RANGE partition is dropped only once its rows, exchanged
into a clone table, are proven to be the archived ones. Rows changed between the days'
verification and the drop — by autocommit statements, or by a transaction the drop's table lock
waits for — are never dropped unarchived; a run killed between the exchange and the proof loses
nothing. Ordered by failpoints that pause (SIGSTOP) and by the server's own lock states."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from typing import Any

import MySQLdb
import pytest

from dbarchive.steps.exchange import clone_name
from tests.integration.mysql_fixtures import MySqlSchema
from tests.reliability import oracle, scenario
from tests.reliability.oracle import S3View, Seed, check
from tests.reliability.scenario import CUTOFF, DAYS, EXPIRED, Job, record

# The seeded table, RANGE-partitioned by day: the expired days 12-07..12-09 fill one partition
# that lies wholly before the cutoff (12-10); the kept days are in pmax.
PARTITIONED_DDL = (
    oracle.DDL.replace("AUTO_INCREMENT PRIMARY KEY,", "AUTO_INCREMENT,")
    .replace("KEY idx_created", "PRIMARY KEY (id, created_at),\n  KEY idx_created")
    .replace(
        "DEFAULT CHARSET=utf8mb4",
        "DEFAULT CHARSET=utf8mb4 PARTITION BY RANGE COLUMNS (created_at) ("
        f"PARTITION p_old VALUES LESS THAN ('{DAYS[0]}'), "
        f"PARTITION p_expired VALUES LESS THAN ('{CUTOFF}'), "
        "PARTITION pmax VALUES LESS THAN (MAXVALUE))",
    )
)
CLONE = clone_name(oracle.TABLE)


@pytest.fixture
def partitioned(mysql_schema: MySqlSchema) -> Seed:
    """The light seed (8 days x 2,500 rows) in the partitioned table."""
    seed = Seed(DAYS, 2500, 0)
    mysql_schema.execute(PARTITIONED_DDL)
    for day in DAYS:
        seed.insert_day(mysql_schema, day, seed.rows_per_day)
    seed.snapshot(mysql_schema)
    return seed


def _paused(proc: subprocess.Popen[str]) -> None:
    """Block until ``proc`` stops itself at its ``…:stop`` failpoint (fail if it exits)."""
    _pid, status = os.waitpid(proc.pid, os.WUNTRACED)
    assert os.WIFSTOPPED(status), f"the run ended instead of pausing (status {status})"


def _partitions(db: MySqlSchema) -> list[str]:
    rows = db.execute(
        "SELECT PARTITION_NAME FROM information_schema.PARTITIONS WHERE TABLE_SCHEMA = %s "
        "AND TABLE_NAME = 'events' ORDER BY PARTITION_ORDINAL_POSITION",
        (db.name,),
    )
    return [r[0] for r in rows]


def _clone_exists(db: MySqlSchema) -> bool:
    return bool(
        db.execute(
            "SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s",
            (db.name, CLONE),
        )
    )


def _expired_rows(db: MySqlSchema) -> int:
    (count,) = db.execute("SELECT COUNT(*) FROM events WHERE created_at < %s", (CUTOFF,))[0]
    return int(count)


def _purge_records(view: S3View) -> dict[str, str]:
    return {
        day.isoformat(): json.loads(
            view.read(f"events/year={day.year}/month={day.month:02d}/day={day.day:02d}/_purge.json")
        )["status"]
        for day in EXPIRED
    }


def _export(job: Job) -> None:
    exported = job.run(*scenario.export_args())
    assert exported.returncode == 0, exported.stderr


def _finish(job: Job, seed: Seed, db: MySqlSchema, view: S3View, name: str, first: str) -> None:
    """A rerun purges every expired day; no clone left; the oracle is zero. ``first``: the exit
    code(s) before it, for the report."""
    rerun = job.run(*scenario.purge_args())
    assert rerun.returncode == 0, rerun.stderr
    assert _expired_rows(db) == 0
    assert not _clone_exists(db)
    assert set(_purge_records(view).values()) == {"purged"}
    verdict = record(
        check(name, seed, db, view, injections=1, exit=f"{first}, then {rerun.returncode}")
    )
    assert verdict.clean, verdict.details


def test_partition_is_dropped_after_its_exchanged_rows_are_proven(
    s3_job: Job, partitioned: Seed, mysql_schema: MySqlSchema, view: S3View
) -> None:
    """Nothing changes: the expired partition is exchanged, proven and dropped; the clone is
    gone and the three days are recorded as purged."""
    _export(s3_job)
    proc = s3_job.run(*scenario.purge_args())
    assert proc.returncode == 0, proc.stderr
    assert _partitions(mysql_schema) == ["p_old", "pmax"]
    report = [r for r in s3_job.runs if r.get("table") == "events"][-1]  # the purge's
    (dropped,) = report["dropped"]
    assert (dropped["partition"], dropped["rows"]) == ("p_expired", len(EXPIRED) * 2500)
    assert dropped["days"] == [d.isoformat() for d in EXPIRED]
    _finish(s3_job, partitioned, mysql_schema, view, "partition drop, nothing changed", "0")


def test_update_after_verification_is_not_dropped_unarchived(
    s3_job: Job, partitioned: Seed, mysql_schema: MySqlSchema, view: S3View
) -> None:
    """An autocommit UPDATE of an expired row between the days' verification and the drop (the
    partition's row count unchanged): the exchanged rows do not match the archive, they are put
    back and nothing is deleted (exit 1); the rerun archives the new version, then purges."""
    _export(s3_job)
    proc = s3_job.popen(*scenario.purge_args(), failpoint="purge.before-drop:1:stop")
    _paused(proc)
    mysql_schema.execute(
        "UPDATE events SET note = 'changed after verification' WHERE created_at >= %s "
        "ORDER BY created_at, id LIMIT 1",
        (EXPIRED[1],),
    )
    partitioned.snapshot(mysql_schema)
    proc.send_signal(signal.SIGCONT)
    stdout, stderr = proc.communicate(timeout=300)
    s3_job._keep(stdout)
    assert proc.returncode == 5, stderr  # a verification failure
    assert "did not match the archive once exchanged" in stderr
    assert _expired_rows(mysql_schema) == len(EXPIRED) * 2500  # every row back, none deleted
    assert not _clone_exists(mysql_schema)
    _finish(s3_job, partitioned, mysql_schema, view,
            "UPDATE between verification and partition drop", str(proc.returncode))  # fmt: skip


def _waiting_for_table_lock(db: MySqlSchema, proc: subprocess.Popen[str]) -> None:
    """Block until the purge's drop (its LOCK TABLES, or an ALTER TABLE) waits for the table's
    metadata lock (the server's own state; polled, bounded, never a fixed sleep)."""
    deadline = time.monotonic() + 60
    while not db.execute(
        "SELECT 1 FROM information_schema.PROCESSLIST WHERE DB = %s AND ID <> CONNECTION_ID() "
        "AND STATE = 'Waiting for table metadata lock' "
        "AND (INFO LIKE 'LOCK TABLES%%' OR INFO LIKE 'ALTER TABLE%%')",
        (db.name,),
    ):
        assert proc.poll() is None and time.monotonic() < deadline, "the drop never waited"
        time.sleep(0.01)


def test_insert_and_update_committed_while_the_drop_waits_are_not_lost(
    s3_job: Job, partitioned: Seed, mysql_schema: MySqlSchema, view: S3View
) -> None:
    """A transaction INSERTs a row into an expired day and UPDATEs another; the drop's table
    lock waits for it; it commits: both changes reach the exchanged rows, which then do not
    match the archive — put back, nothing deleted; the rerun archives them, then purges."""
    _export(s3_job)
    proc = s3_job.popen(*scenario.purge_args(), failpoint="purge.before-drop:1:stop")
    _paused(proc)
    app: Any = MySQLdb.connect(**_connect_args(mysql_schema), autocommit=False)
    try:
        with app.cursor() as cur:
            cur.execute(
                "INSERT INTO events (created_at, account_id, note) VALUES (%s, 7, 'late row')",
                (f"{EXPIRED[1]} 12:00:00",),
            )
            cur.execute(
                "UPDATE events SET note = 'changed in the same transaction' "
                "WHERE created_at >= %s ORDER BY created_at, id LIMIT 1",
                (EXPIRED[0],),
            )
        proc.send_signal(signal.SIGCONT)
        _waiting_for_table_lock(mysql_schema, proc)
        app.commit()
    finally:
        app.close()
    stdout, stderr = proc.communicate(timeout=300)
    s3_job._keep(stdout)
    assert proc.returncode == 5, stderr  # a verification failure
    assert "did not match the archive once exchanged" in stderr
    partitioned.snapshot(mysql_schema)  # (now that the rows are back in the table)
    assert _expired_rows(mysql_schema) == len(EXPIRED) * 2500 + 1
    _finish(s3_job, partitioned, mysql_schema, view,
            "INSERT+UPDATE committed while the partition drop waits",
            str(proc.returncode))  # fmt: skip


def test_killed_between_exchange_and_proof_the_rerun_finishes_the_drop(
    s3_job: Job, partitioned: Seed, mysql_schema: MySqlSchema, view: S3View
) -> None:
    """SIGKILL right after the exchange and the drop: the rows live only in the clone (and the
    archive). The rerun finds the clone first, proves it, records the days and drops it."""
    _export(s3_job)
    killed = s3_job.run(*scenario.purge_args(), failpoint="purge.after-exchange:1")
    assert killed.returncode == -signal.SIGKILL
    assert _clone_exists(mysql_schema)
    assert _expired_rows(mysql_schema) == 0
    (held,) = mysql_schema.execute(f"SELECT COUNT(*) FROM `{CLONE}`")[0]
    assert held == len(EXPIRED) * 2500
    # status says where those rows are (it said nothing of them: an outside trial)
    status = s3_job.run("status", "--json")
    assert status.returncode == 0, status.stderr
    (table,) = json.loads(status.stdout)
    assert table["rows_in_interrupted_partition_drop"] == held
    _finish(s3_job, partitioned, mysql_schema, view,
            "SIGKILL between partition exchange and its proof", str(killed.returncode))  # fmt: skip


def test_changed_rows_in_a_clone_left_by_a_kill_are_put_back(
    s3_job: Job, partitioned: Seed, mysql_schema: MySqlSchema, view: S3View
) -> None:
    """An INSERT + UPDATE committed while the drop waits for its table lock, then SIGKILL right
    after the exchange: the rerun finds the clone, sees it differs from the archive and puts
    every row back (exit 1, nothing deleted); the next run archives the changes and purges."""
    _export(s3_job)
    app: Any = MySQLdb.connect(**_connect_args(mysql_schema), autocommit=False)
    try:
        with app.cursor() as cur:  # open before the purge starts: its lock will wait for it
            cur.execute(
                "INSERT INTO events (created_at, account_id, note) VALUES (%s, 7, 'late row')",
                (f"{EXPIRED[2]} 12:00:00",),
            )
            cur.execute(
                "UPDATE events SET note = 'changed before the kill' WHERE created_at >= %s "
                "ORDER BY created_at, id LIMIT 1",
                (EXPIRED[1],),
            )
        proc = s3_job.popen(*scenario.purge_args(), failpoint="purge.after-exchange:1")
        _waiting_for_table_lock(mysql_schema, proc)
        app.commit()
    finally:
        app.close()
    proc.communicate(timeout=300)
    assert proc.returncode == -signal.SIGKILL
    (held,) = mysql_schema.execute(f"SELECT COUNT(*) FROM `{CLONE}`")[0]
    assert held == len(EXPIRED) * 2500 + 1
    recovered = s3_job.run(*scenario.purge_args())
    assert recovered.returncode == 5, recovered.stderr  # a verification failure
    assert "left by an interrupted partition drop, does not match" in recovered.stderr
    assert not _clone_exists(mysql_schema)
    assert _expired_rows(mysql_schema) == len(EXPIRED) * 2500 + 1
    partitioned.snapshot(mysql_schema)  # (now that the rows are back in the table)
    _finish(s3_job, partitioned, mysql_schema, view,
            "INSERT+UPDATE while the drop waits, then SIGKILL after the exchange",
            f"{proc.returncode}, {recovered.returncode}")  # fmt: skip


def _connect_args(db: MySqlSchema) -> dict[str, Any]:
    from dbarchive.config import SourceSettings

    return dict(SourceSettings(url=db.url).connect_args())
