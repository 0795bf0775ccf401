"""A real purge on a primary with a replica: max_lag makes it wait for the replica, never race ahead.

The replica is blocked for real: a session on it holds ``LOCK TABLES events WRITE``, so the
replicated DELETEs wait on the lock and ``Seconds_Behind_Master`` grows.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from dbarchive import build_context
from dbarchive.events import Event
from dbarchive.jobs.daily import TableReport, purge_table
from dbarchive.sources.probes import MySqlLoadProbe, replica_lag_seconds
from dbarchive.throttle import Throttle
from tests.integration.helpers import LOG_TABLE_DDL, make_job
from tests.integration.replication import (  # noqa: F401
    ReplicationPair,
    execute,
    replication,
    replication_pair,
    wait_caught_up,
    wait_until,
)

pytestmark = pytest.mark.timeout(90)
TODAY = dt.date(2026, 11, 25)
EXPIRED_ROWS = 3000


class _OnFirstChunk:
    """Calls ``action`` once, when the purge has committed its first chunk."""

    def __init__(self, action: Any) -> None:
        self.action, self.done = action, False

    def emit(self, event: Event) -> None:
        if event.step == "purge" and event.kind == "chunk" and not self.done:
            self.done = True
            self.action()


def _prepare(
    pair: ReplicationPair,
    tmp_path: Path,
    max_lag: float | None,
    sleep: float = 0.0,
    **more: Any,
) -> Any:
    primary = pair.connect_primary()
    execute(primary, "DROP TABLE IF EXISTS dbat_repl.events")
    execute(primary, LOG_TABLE_DDL.replace("`events`", "dbat_repl.events"))
    execute(
        primary,
        "INSERT INTO dbat_repl.events (created_at, account_id, note) SELECT TIMESTAMP('2026-09-01') + "
        f"INTERVAL seq SECOND, 1, 'x' FROM seq_1_to_{EXPIRED_ROWS}",
    )
    wait_caught_up(primary, pair.connect_replica())
    throttle: dict[str, Any] = {
        "max_chunk_rows": 200,
        "min_chunk_rows": 200,
        "check_interval": 0.1,
        "sleep": sleep,
        **more,
    }
    if max_lag is not None:
        throttle.update(
            max_lag=max_lag, replicas=[pair.replica_url.rsplit("/", 1)[0] + "/dbat_repl"]
        )
    job = make_job(pair.primary_url.rsplit("/", 1)[0] + "/dbat_repl", str(tmp_path),
                   [{"name": "events", "timestamp_column": "created_at", "retention": "60 days"}])  # fmt: skip
    job = job.model_copy(
        update={"throttle": job.throttle.model_validate({**job.throttle.model_dump(), **throttle})}
    )
    return primary, job


def _purge(job: Any, reporter: Any, on_lag_pause: Callable[[], None] | None = None) -> TableReport:
    """purge_table in this process; ``on_lag_pause`` runs once, when the throttle has paused
    for replica lag (from its sleep, which the Throttle takes as a parameter)."""
    ctx = build_context(job, reporter=reporter)
    report = TableReport("events")
    settings = job.throttle
    probe = MySqlLoadProbe(ctx.source, settings.replicas, settings.aurora_replicas)
    done: list[bool] = []

    def sleep(seconds: float) -> None:
        if on_lag_pause is not None and not done and throttle.stats.reasons.get("lag"):
            done.append(True)
            on_lag_pause()
        time.sleep(seconds)

    throttle = Throttle(settings, probe, sleep=sleep)
    purge_table(ctx, job.tables[0], TODAY, throttle, report)
    report.throttle = throttle.stats  # type: ignore[attr-defined]
    ctx.source.close()
    return report


def test_purge_waits_for_a_blocked_replica(replication: ReplicationPair, tmp_path: Path) -> None:
    """With max_lag, a replica blocked mid-purge pauses the purge until it catches up."""
    # Seconds_Behind_Master moves in whole seconds, so the purge is paced to outlast that.
    primary, job = _prepare(replication, tmp_path, max_lag=1.0, sleep=0.3)
    locker = replication.connect_replica()
    released = threading.Event()

    def unblock_replica() -> None:  # once the purge waits for it, not after some seconds
        execute(locker, "UNLOCK TABLES")
        released.set()

    try:
        blocker = _OnFirstChunk(lambda: execute(locker, "LOCK TABLES dbat_repl.events WRITE"))
        report = _purge(job, blocker, on_lag_pause=unblock_replica)
    finally:
        execute(locker, "UNLOCK TABLES")  # whatever happened (a no-op once released)
    assert released.is_set(), "the purge finished while the replica was still blocked"
    assert report.ok, report.errors
    assert report.rows_deleted == EXPIRED_ROWS
    assert report.throttle.pauses >= 1  # type: ignore[attr-defined]
    assert "lag" in report.throttle.reasons  # type: ignore[attr-defined]
    wait_caught_up(primary, replication.connect_replica())
    assert (
        execute(replication.connect_replica(), "SELECT COUNT(*) FROM dbat_repl.events")[0][0] == 0
    )


def test_without_max_lag_the_purge_races_ahead(
    replication: ReplicationPair, tmp_path: Path
) -> None:
    """Without max_lag the same purge finishes while the replica falls behind (the contrast)."""
    primary, job = _prepare(replication, tmp_path, max_lag=None)
    locker = replication.connect_replica()
    replica = replication.connect_replica()
    execute(locker, "LOCK TABLES dbat_repl.events WRITE")
    try:
        report = _purge(job, None)
        assert report.rows_deleted == EXPIRED_ROWS
        assert report.throttle.pauses == 0  # type: ignore[attr-defined]
        lag = wait_until(
            lambda: (replica_lag_seconds(replica) or 0) >= 1 and replica_lag_seconds(replica),
            10,
            "lag to grow",
        )
        assert lag >= 1
    finally:
        execute(locker, "UNLOCK TABLES")
    wait_caught_up(primary, replica)


def test_stopped_sql_thread_makes_the_purge_wait(
    replication: ReplicationPair, tmp_path: Path
) -> None:
    """Replication stopped mid-purge (lag unknown): the purge waits and resumes when it restarts."""
    _primary, job = _prepare(replication, tmp_path, max_lag=5.0)
    admin = replication.connect_replica()
    restarted = threading.Event()

    def restart_sql_thread() -> None:  # once the purge waits for it, not after some seconds
        execute(admin, "START SLAVE SQL_THREAD")
        restarted.set()

    try:
        stopper = _OnFirstChunk(lambda: execute(admin, "STOP SLAVE SQL_THREAD"))
        report = _purge(job, stopper, on_lag_pause=restart_sql_thread)
    finally:
        execute(admin, "START SLAVE SQL_THREAD")  # whatever happened (a no-op if running)
    assert restarted.is_set(), "the purge did not wait for replication to restart"
    assert report.rows_deleted == EXPIRED_ROWS
    assert report.throttle.reasons.get("lag", 0) >= 1  # type: ignore[attr-defined]


@pytest.mark.parametrize("statement_rows", [None, 7])
def test_purge_on_a_primary_that_logs_statements(
    replication: ReplicationPair, tmp_path: Path, statement_rows: int | None
) -> None:
    """binlog_format = STATEMENT: InnoDB cannot log a READ COMMITTED DELETE as a statement (error
    1665), so there the purge's chunks run in REPEATABLE READ; the day is purged and replicated,
    also with each chunk's read and DELETE in statements of 7 rows."""
    primary, job = _prepare(replication, tmp_path, max_lag=None, statement_rows=statement_rows)
    execute(primary, "SET GLOBAL binlog_format = 'STATEMENT'")  # sessions opened from now on
    try:
        report = _purge(job, None)
    finally:
        execute(primary, "SET GLOBAL binlog_format = 'ROW'")  # as the fixture started it
    assert report.ok, report.errors
    assert report.rows_deleted == EXPIRED_ROWS
    replica = replication.connect_replica()
    wait_caught_up(primary, replica)
    assert execute(replica, "SELECT COUNT(*) FROM dbat_repl.events")[0][0] == 0
