"""The purge is gentle on production: it pauses under load, aborts past critical_load, stops
cleanly (exit 6) on a stop file, --max-runtime or SIGTERM, lets the application write meanwhile,
and deletes in bounded chunks. Every stopped purge is finished by a plain rerun."""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import MySQLdb
import pytest

from dbarchive import build_context, export_day, load_job
from dbarchive.build import build_throttle
from dbarchive.config import SourceSettings
from dbarchive.errors import StopRequested
from dbarchive.events import Event
from dbarchive.jobs.daily import TableReport, purge_table
from dbarchive.throttle import Throttle
from tests.integration.helpers import LOG_TABLE_DDL, fill_events
from tests.integration.mysql_fixtures import MySqlSchema, mysql_schema  # noqa: F401

TODAY = dt.date(2026, 12, 15)


@pytest.fixture(autouse=True)
def _clock_on_today(monkeypatch: pytest.MonkeyPatch) -> None:
    """The clock on TODAY's morning (``--today`` may not be later than the clock's today)."""
    monkeypatch.setenv("DBARCHIVE_NOW", "2026-12-15T06:00:00+00:00")


CUTOFF = dt.date(2026, 11, 15)  # TODAY - 30 days: the first kept day
EXPIRED_DAYS = [CUTOFF - dt.timedelta(days=n) for n in range(3, 0, -1)]
KEPT_DAYS = [CUTOFF, CUTOFF + dt.timedelta(days=1)]
ROWS_PER_DAY = 3000
EXPIRED_ROWS = len(EXPIRED_DAYS) * ROWS_PER_DAY
MAX_CHUNK = 500
BUSY_CONNECTIONS = 6
QUERY_INTERRUPTED = 1317


# --- set-up and checks ---


def _config(schema: MySqlSchema, tmp_path: Path, **throttle: object) -> Path:
    settings = {"max_chunk_rows": MAX_CHUNK, "min_chunk_rows": 100, **throttle}
    lines = "".join(f"{k} = {json.dumps(v)}\n" for k, v in settings.items())
    path = tmp_path / "job.toml"
    path.write_text(
        f'[source]\nurl = "{schema.url}"\n\n[destination]\nurl = "{tmp_path / "archive"}"\n\n'
        '[defaults]\nretention = "30 days"\n\n'
        f"[throttle]\n{lines}\n"
        '[[tables]]\nname = "events"\ntimestamp_column = "created_at"\n'
    )
    return path


def _prepare(schema: MySqlSchema, tmp_path: Path, **throttle: object) -> Path:
    """3 expired and 2 kept days of 3000 rows, every day archived; returns the config."""
    schema.execute(LOG_TABLE_DDL)
    for day in [*EXPIRED_DAYS, *KEPT_DAYS]:
        fill_events(schema, day.isoformat(), ROWS_PER_DAY)
    config = _config(schema, tmp_path, **throttle)
    ctx = build_context(load_job(config))
    try:
        for day in [*EXPIRED_DAYS, *KEPT_DAYS]:
            assert export_day(ctx, ctx.job.tables[0], day).rows == ROWS_PER_DAY
    finally:
        ctx.source.close()
    return config


def _count(schema: MySqlSchema, where: str, *params: object) -> int:
    (count,) = schema.execute(f"SELECT COUNT(*) FROM events WHERE {where}", params)[0]
    return int(count)


def _expired(schema: MySqlSchema) -> int:
    return _count(schema, "created_at < %s", CUTOFF.isoformat())


def _per_expired_day(schema: MySqlSchema) -> list[int]:
    return [
        _count(schema, "created_at >= %s AND created_at < %s", d, d + dt.timedelta(days=1))
        for d in EXPIRED_DAYS
    ]


def _kept(schema: MySqlSchema) -> list[tuple[object, ...]]:
    return schema.execute(
        "SELECT id, SHA2(CONCAT_WS('|', id, created_at, account_id, amount, note), 256) "
        "FROM events WHERE created_at >= %s ORDER BY id",
        (CUTOFF.isoformat(),),
    )


def _cli(config: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "dbarchive", *args, "-c", str(config)]


def _purge_cli(config: Path, *extra: str) -> list[str]:
    return _cli(config, "purge", "--today", TODAY.isoformat(), *extra)


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "DBARCHIVE_FAILPOINT"}


def _run(cmd: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, env=_env(), timeout=120, capture_output=True, text=True, check=False)


def _summary(stdout: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The table report and the throttle stats of `purge --json`."""
    summary = json.loads(stdout)
    (report,) = summary["tables"]
    return report, summary["throttle"]


def _rerun_finishes(schema: MySqlSchema, config: Path, kept: list[tuple[object, ...]]) -> None:
    """A plain rerun exits 0: expired rows gone, kept rows untouched, purged days verify."""
    done = _run(_purge_cli(config, "-q"))
    assert done.returncode == 0, done.stderr
    assert _expired(schema) == 0
    assert _kept(schema) == kept
    first, last = EXPIRED_DAYS[0].isoformat(), EXPIRED_DAYS[-1].isoformat()
    verify = _run(_cli(config, "verify", "--from", first, "--to", last))
    assert verify.returncode == 0, verify.stdout


def _purge_in_process(
    config: Path, reporter: Any = None, **overrides: object
) -> tuple[TableReport, Throttle]:
    """purge_table in this process, with throttle overrides, as `dbarchive purge` would run it."""
    ctx = build_context(load_job(config), reporter=reporter)
    throttle = build_throttle(ctx, overrides)
    report = TableReport("events")
    try:
        purge_table(ctx, ctx.job.tables[0], TODAY, throttle, report)
    finally:
        ctx.source.close()
    return report, throttle


# --- load: extra connections that count in Threads_running ---


def _connect(schema: MySqlSchema) -> Any:
    return MySQLdb.connect(**SourceSettings(url=schema.url).connect_args(), autocommit=True)


def _threads_running(schema: MySqlSchema) -> int:
    """The lowest of a few samples (our own SHOW STATUS counts as one running thread)."""
    samples = []
    for _ in range(5):
        samples.append(int(schema.execute("SHOW GLOBAL STATUS LIKE 'Threads_running'")[0][1]))
        time.sleep(0.02)
    return min(samples)


@contextmanager
def _busy(
    schema: MySqlSchema, seconds: float, on_done: Any = None
) -> Iterator[list[threading.Thread]]:
    """Extra connections each running SELECT SLEEP(seconds), all seen running before yielding.

    ``on_done`` is called in each thread as its SLEEP returns. Sleeps still running on exit are
    cut short with KILL QUERY.
    """
    ids: list[int] = []
    errors: list[BaseException] = []

    def sleeper() -> None:
        try:
            conn = _connect(schema)
            ids.append(conn.thread_id())
            try:
                with conn.cursor() as cur:
                    cur.execute(f"SELECT SLEEP({seconds})")
                    cur.fetchall()
                if on_done is not None:
                    on_done()
            except MySQLdb.OperationalError as exc:
                if exc.args[0] != QUERY_INTERRUPTED:  # KILL QUERY on exit is expected
                    raise
            finally:
                conn.close()
        except BaseException as exc:  # reported by the test, not lost in the thread
            errors.append(exc)

    threads = [threading.Thread(target=sleeper, daemon=True) for _ in range(BUSY_CONNECTIONS)]
    for t in threads:
        t.start()
    try:
        deadline = time.monotonic() + 10
        while _count_sleepers(schema) < BUSY_CONNECTIONS:
            assert time.monotonic() < deadline, "the busy connections did not start"
            time.sleep(0.02)
        yield threads
    finally:
        for thread_id in ids:
            with suppress(MySQLdb.OperationalError):  # already finished
                schema.execute(f"KILL QUERY {int(thread_id)}")
        for t in threads:
            t.join(30)
    assert not errors, errors


def _count_sleepers(schema: MySqlSchema) -> int:
    (count,) = schema.execute(
        "SELECT COUNT(*) FROM information_schema.PROCESSLIST "
        "WHERE DB = %s AND INFO LIKE 'SELECT SLEEP(%%'",
        (schema.name,),
    )[0]
    return int(count)


class _ChunkLog:
    """A reporter that counts the purge's chunk events (and can act on the first one)."""

    def __init__(self, on_first_chunk: Any = None) -> None:
        self.chunks = 0
        self._on_first_chunk = on_first_chunk

    def emit(self, event: Event) -> None:
        if event.step == "purge" and event.kind == "chunk":
            self.chunks += 1
            if self.chunks == 1 and self._on_first_chunk is not None:
                self._on_first_chunk()


# --- tests ---


def test_purge_pauses_while_the_server_is_busy(mysql_schema: MySqlSchema, tmp_path: Path) -> None:
    """Threads_running above max_load pauses the purge; it finishes once the load is gone."""
    config = _prepare(mysql_schema, tmp_path)
    kept = _kept(mysql_schema)
    max_load = _threads_running(mysql_schema) + BUSY_CONNECTIONS // 2
    log = _ChunkLog()
    chunks_when_load_ended: list[int] = []
    with _busy(mysql_schema, 4, on_done=lambda: chunks_when_load_ended.append(log.chunks)):
        report, throttle = _purge_in_process(
            config, log, max_load=max_load, check_interval=0.1, max_pause=60
        )
    assert report.ok, report.errors
    assert throttle.stats.pauses >= 1
    assert throttle.stats.reasons.get("load", 0) >= 1
    # The load ended while the purge still had chunks to do: it waited for it.
    assert len(chunks_when_load_ended) == BUSY_CONNECTIONS
    assert min(chunks_when_load_ended) < log.chunks
    assert report.rows_deleted == EXPIRED_ROWS
    assert _expired(mysql_schema) == 0
    assert _kept(mysql_schema) == kept


def test_critical_load_aborts_before_deleting(mysql_schema: MySqlSchema, tmp_path: Path) -> None:
    """Threads_running above critical_load: the purge aborts with a clear error, deletes nothing."""
    config = _prepare(mysql_schema, tmp_path)
    critical = _threads_running(mysql_schema) + BUSY_CONNECTIONS // 2
    config.write_text(
        config.read_text().replace("[throttle]\n", f"[throttle]\ncritical_load = {critical}\n")
    )
    with _busy(mysql_schema, 30):
        result = _run(_purge_cli(config, "-q"))
    assert result.returncode == 7, (result.stdout, result.stderr)
    assert f"critical_load={critical}" in result.stderr
    assert "aborted between chunks: run it again once the server is calmer" in result.stderr
    assert _expired(mysql_schema) == EXPIRED_ROWS


def test_stop_file_present_at_start_stops_before_deleting(
    mysql_schema: MySqlSchema, tmp_path: Path
) -> None:
    """A stop file present at start → exit 6 naming it, at most one chunk deleted; rerun finishes."""
    config = _prepare(mysql_schema, tmp_path)
    kept = _kept(mysql_schema)
    stop = tmp_path / "stop-purge"
    stop.touch()
    result = _run(_purge_cli(config, "--stop-file", str(stop), "--json"))
    assert result.returncode == 6, result.stderr
    report, _ = _summary(result.stdout)
    assert f"stop file {stop} exists" in report["stopped"]
    assert _expired(mysql_schema) >= EXPIRED_ROWS - MAX_CHUNK
    assert _per_expired_day(mysql_schema)[1:] == [ROWS_PER_DAY] * (len(EXPIRED_DAYS) - 1)
    stop.unlink()
    _rerun_finishes(mysql_schema, config, kept)


def test_stop_file_created_after_the_first_chunk_stops_after_it(
    mysql_schema: MySqlSchema, tmp_path: Path
) -> None:
    """A stop file appearing during the purge stops it right after the chunk in progress."""
    config = _prepare(mysql_schema, tmp_path)
    kept = _kept(mysql_schema)
    stop = tmp_path / "stop-purge"
    log = _ChunkLog(on_first_chunk=stop.touch)
    with pytest.raises(StopRequested, match=f"stop file {stop} exists"):
        _purge_in_process(config, log, stop_file=str(stop))
    assert log.chunks == 1
    assert _per_expired_day(mysql_schema) == [ROWS_PER_DAY - MAX_CHUNK] + [ROWS_PER_DAY] * (
        len(EXPIRED_DAYS) - 1
    )
    stop.unlink()
    _rerun_finishes(mysql_schema, config, kept)


def test_max_runtime_stops_cleanly_and_a_rerun_finishes(
    mysql_schema: MySqlSchema, tmp_path: Path
) -> None:
    """--max-runtime 0.3 with sleep 0.2 between chunks → exit 6 naming the limit; rerun finishes."""
    config = _prepare(mysql_schema, tmp_path, sleep=0.2)
    kept = _kept(mysql_schema)
    result = _run(_purge_cli(config, "--max-runtime", "0.3", "--json"))
    assert result.returncode == 6, result.stderr
    report, _ = _summary(result.stdout)
    assert "max_runtime 0.3s reached" in report["stopped"]
    assert _expired(mysql_schema) > 0
    # The rows the stopped run deleted are reported, including the day it stopped in.
    deleted = sum(p["rows_deleted"] for p in report["purged"])
    assert deleted == len(EXPIRED_DAYS) * ROWS_PER_DAY - _expired(mysql_schema)
    assert "max_runtime" in result.stderr  # errors and stops reach stderr even with --json
    config.write_text(config.read_text().replace("sleep = 0.2", "sleep = 0.0"))
    _rerun_finishes(mysql_schema, config, kept)


def test_sigterm_stops_after_the_current_chunk(mysql_schema: MySqlSchema, tmp_path: Path) -> None:
    """SIGTERM while the 3rd chunk holds its rows (failpoint ``purge.chunk-locked:3:term``) →
    that chunk still commits, no chunk starts after it, exit 6 (not -15); rerun finishes."""
    config = _prepare(mysql_schema, tmp_path)
    kept = _kept(mysql_schema)
    env = {**_env(), "DBARCHIVE_FAILPOINT": "purge.chunk-locked:3:term"}
    result = subprocess.run(
        _purge_cli(config, "--json"), env=env, timeout=120, capture_output=True, text=True
    )
    assert result.returncode == 6, result.stderr
    report, _ = _summary(result.stdout)
    assert "received SIGTERM" in report["stopped"]
    (day,) = report["purged"]
    assert day["chunks"] == 3  # the chunk under way when the signal came, and none after it
    deleted = day["rows_deleted"]
    assert 3 * 100 <= deleted <= 3 * MAX_CHUNK
    first, *others = _per_expired_day(mysql_schema)
    assert (first, others) == (ROWS_PER_DAY - deleted, [ROWS_PER_DAY] * len(others))
    assert _kept(mysql_schema) == kept
    _rerun_finishes(mysql_schema, config, kept)


def test_application_writes_during_the_purge(mysql_schema: MySqlSchema, tmp_path: Path) -> None:
    """Inserts of today's rows while the purge deletes: no error on either side, all rows kept.

    The application also holds one row of the last expired day (FOR UPDATE) until its inserts
    are done, so the purge is still under way for all of them, however fast it runs."""
    config = _prepare(mysql_schema, tmp_path, sleep=0.1, lock_wait_timeout=120)
    kept = _kept(mysql_schema)
    holder = _connect(mysql_schema)
    holder.autocommit(False)
    with holder.cursor() as cur:
        cur.execute(
            "SELECT id FROM events WHERE created_at >= %s AND created_at < %s "
            "ORDER BY id LIMIT 1 OFFSET 1000 FOR UPDATE",
            (EXPIRED_DAYS[-1], CUTOFF),
        )
    inserted: list[int] = []
    expired_meanwhile: list[int] = []
    errors: list[BaseException] = []

    def application() -> None:
        """300 single-row inserts, a few ms apart, by a client that waits at most 1 s on a lock."""
        try:
            conn = _connect(mysql_schema)
            try:
                with conn.cursor() as cur:
                    cur.execute("SET SESSION innodb_lock_wait_timeout = 1, lock_wait_timeout = 1")
                    for i in range(300):
                        cur.execute(
                            "INSERT INTO events (created_at, account_id, amount, note) "
                            "VALUES (TIMESTAMP(%s) + INTERVAL %s SECOND, 1, 2.5, 'live')",
                            (TODAY.isoformat(), i),
                        )
                        inserted.append(int(cur.lastrowid))
                        if i == 10:
                            cur.execute(
                                "SELECT COUNT(*) FROM events WHERE created_at < %s",
                                (CUTOFF.isoformat(),),
                            )
                            expired_meanwhile.append(int(cur.fetchone()[0]))
                        time.sleep(0.003)
            finally:
                conn.close()
        except BaseException as exc:  # reported by the test, not lost in the thread
            errors.append(exc)

    writer = threading.Thread(target=application, daemon=True)
    proc = subprocess.Popen(
        _purge_cli(config, "-q"),
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while _expired(mysql_schema) == EXPIRED_ROWS:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the purge did not start deleting"
            time.sleep(0.01)
        writer.start()
        writer.join(60)
        holder.rollback()  # the application is done: the purge may finish the last day
        _, stderr = proc.communicate(timeout=60)
    finally:
        holder.close()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, stderr
    assert not errors, errors
    # The inserts went on while the purge was still deleting: they were not held back by it.
    assert expired_meanwhile and expired_meanwhile[0] > 0
    assert len(set(inserted)) == 300
    after = _kept(mysql_schema)
    assert after[: len(kept)] == kept
    assert [row[0] for row in after[len(kept) :]] == inserted
    assert _expired(mysql_schema) == 0


def test_deletes_in_chunks_of_at_most_max_chunk_rows(
    mysql_schema: MySqlSchema, tmp_path: Path
) -> None:
    """9000 expired rows with max_chunk_rows = 500 → at least 18 DELETEs, none over 500 rows."""
    config = _prepare(mysql_schema, tmp_path)
    com_delete_before = _com_delete(mysql_schema)
    result = _run(_purge_cli(config, "--json"))
    com_delete_after = _com_delete(mysql_schema)
    assert result.returncode == 0, result.stderr
    report, _ = _summary(result.stdout)
    purged = report["purged"]
    assert [p["day"] for p in purged] == [d.isoformat() for d in EXPIRED_DAYS]
    assert sum(p["rows_deleted"] for p in purged) == EXPIRED_ROWS
    for p in purged:
        assert p["rows_deleted"] <= p["chunks"] * MAX_CHUNK
        assert "longest_chunk_seconds" in p
        assert "longest_delete_seconds" in p
    # Only a lower bound: other sessions on the server may delete too.
    assert com_delete_after - com_delete_before >= math.ceil(EXPIRED_ROWS / MAX_CHUNK)
    assert _expired(mysql_schema) == 0


def _com_delete(schema: MySqlSchema) -> int:
    return int(schema.execute("SHOW GLOBAL STATUS LIKE 'Com_delete'")[0][1])
