"""Read from a replica, delete on the primary (``[source] read_url``), on the suite's private pair.

The export (C reader and Python driver) and the verification read the replica, each of its
sessions only once the heartbeat proves it has applied the primary's writes up to the day's end
plus ``settle``; the purge, growth and the run lock stay on the primary. Which server ran what is
read from the servers' own general logs, not from dbarchive's counters alone.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from dbarchive import api, build_context
from dbarchive.checks import CheckResult, run_checks
from dbarchive.cli import cli
from dbarchive.clock import FixedClock
from dbarchive.config import DEFAULT_PASSWORD_ENV, ArchiveJob, job_from_dict
from dbarchive.context import Context
from dbarchive.errors import ReplicaBehind, SourceError, StopRequested
from dbarchive.events import CaptureReporter, Event
from dbarchive.sources import mysql_direct
from dbarchive.sources.heartbeat import HeartbeatTable
from dbarchive.steps import upload
from dbarchive.steps.archive_files import iter_archive_rows
from tests.integration.airflow_fixtures import AirflowHome, airflow_home  # noqa: F401
from tests.integration.helpers import LOG_TABLE_DDL
from tests.integration.replication import (  # noqa: F401
    DATABASE,
    ReplicationPair,
    execute,
    replication,
    replication_pair,
    wait_caught_up,
)

pytestmark = pytest.mark.timeout(120)
DAY = dt.date(2026, 11, 10)
NOW = FixedClock(dt.datetime(2026, 11, 25, 6, tzinfo=dt.UTC))  # DAY has long settled
AFTER_RETENTION = dt.date(2026, 12, 20)  # DAY is past the 30-day retention
ROWS = 200
EVENTS = f"`{DATABASE}`.`events`"
HEARTBEAT = HeartbeatTable(DATABASE, "dbarchive_heartbeat")
_C_READER = mysql_direct.available()


@pytest.fixture(autouse=True)
def _no_password_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The private servers' root has an empty password: ignore any password in the environment."""
    monkeypatch.delenv(DEFAULT_PASSWORD_ENV, raising=False)


@pytest.fixture
def pair(replication: ReplicationPair) -> Iterator[ReplicationPair]:
    """The pair with a fresh ``events`` table holding ROWS rows of DAY, replicated, and no
    heartbeat table yet (the first export creates it)."""
    primary = replication.connect_primary()
    execute(primary, f"DROP TABLE IF EXISTS {EVENTS}")
    execute(primary, f"DROP TABLE IF EXISTS {HEARTBEAT.qualified}")
    execute(primary, LOG_TABLE_DDL.replace("`events`", EVENTS))
    execute(
        primary,
        f"INSERT INTO {EVENTS} (created_at, account_id, amount, note) SELECT TIMESTAMP(%s) + "
        f"INTERVAL seq * 400 SECOND, seq %% 97, seq / 7, CONCAT('row ', seq) FROM seq_1_to_{ROWS}",
        (DAY.isoformat(),),
    )
    replica = replication.connect_replica()
    wait_caught_up(primary, replica)
    yield replication
    for conn in (primary, replica):
        execute(conn, "SET GLOBAL general_log = 0")
        conn.close()


def _job(pair: ReplicationPair, tmp_path: Path, **source: Any) -> ArchiveJob:
    return job_from_dict(
        {
            "source": {"url": pair.primary_url, "read_url": pair.replica_url, **source},
            "destination": {"url": str(tmp_path / "archive")},
            "defaults": {"chunk_rows": 20, "retention": "30 days"},
            "tables": [{"name": "events", "timestamp_column": "created_at"}],
        }
    )


def _context(job: ArchiveJob, reporter: Any = None) -> Context:
    return build_context(job, reporter=reporter, wall_clock=NOW)


@contextmanager
def _general_logs(*conns: Any) -> Iterator[None]:
    """Every statement the servers run meanwhile, in mysql.general_log (emptied first)."""
    for conn in conns:
        execute(conn, "SET GLOBAL general_log = 0")
        execute(conn, "SET GLOBAL log_output = 'TABLE'")
        execute(conn, "TRUNCATE TABLE mysql.general_log")
        execute(conn, "SET GLOBAL general_log = 1")
    try:
        yield
    finally:
        for conn in conns:
            execute(conn, "SET GLOBAL general_log = 0")


def _statements(conn: Any) -> list[tuple[int, str]]:
    """(session id, statement) of every query logged, in the order the server ran them."""
    rows = execute(
        conn,
        "SELECT thread_id, CONVERT(argument USING utf8mb4) FROM mysql.general_log "
        "WHERE command_type = 'Query'",
    )
    return [(int(t), str(a)) for t, a in rows]


def _row_readers(statements: list[tuple[int, str]]) -> list[int]:
    """The sessions that read rows of ``events`` (a SELECT from it), in order of first read."""
    readers: list[int] = []
    for thread, sql in statements:
        reads = sql.lstrip().upper().startswith("SELECT") and f"FROM {EVENTS}" in sql
        if reads and thread not in readers:
            readers.append(thread)
    return readers


def _proved_before_reading(statements: list[tuple[int, str]], thread: int) -> bool:
    """Whether ``thread`` read the heartbeat before its first read of ``events``."""
    mine = [sql for t, sql in statements if t == thread]
    first_row_read = next(i for i, sql in enumerate(mine) if f"FROM {EVENTS}" in sql)
    return any(HEARTBEAT.qualified in sql for sql in mine[:first_row_read])


def _archived_ids(ctx: Context) -> set[int]:
    manifest = upload.read_manifest(ctx.storage, ctx.partition(ctx.job.tables[0], DAY))
    assert manifest is not None
    return {int(row[0]) for row in iter_archive_rows(ctx.storage, manifest)}


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


def _primary_ids(pair: ReplicationPair) -> set[int]:
    conn = pair.connect_primary()
    try:
        return {int(r[0]) for r in execute(conn, f"SELECT id FROM {EVENTS}")}
    finally:
        conn.close()


@pytest.mark.parametrize("reader", ["c", "python"])
def test_export_and_verify_read_every_row_from_the_replica(
    pair: ReplicationPair, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reader: str
) -> None:
    """Export and verify read the day's rows only on the replica, each reading session after
    proving it applied the day; the primary runs the heartbeat and the run lock, no row read."""
    if reader == "c" and not _C_READER:
        pytest.skip("the C reader was not built")
    if reader == "python":
        monkeypatch.setattr(mysql_direct, "_module", None)  # as DBARCHIVE_PURE_PYTHON=1 does
    primary, replica = pair.connect_primary(), pair.connect_replica()
    ctx = _context(_job(pair, tmp_path))
    try:
        with _general_logs(primary, replica):
            result = api.export(ctx, "events", DAY)
            verified = api.verify(ctx, "events", DAY)
        assert result.rows == ROWS
        assert verified.ok, verified.problems
        assert _archived_ids(ctx) == _primary_ids(pair)
        assert ctx.source.counters.rows_read == 0
        assert ctx.reader is not None and ctx.reader.counters.rows_read >= 2 * ROWS
    finally:
        ctx.close()
    on_primary, on_replica = _statements(primary), _statements(replica)
    assert _row_readers(on_primary) == []
    assert any(HEARTBEAT.qualified in sql for _t, sql in on_primary)  # written there
    readers = _row_readers(on_replica)
    assert len(readers) == (2 if reader == "c" else 1)  # the C reader reads on its own session
    for thread in readers:
        assert _proved_before_reading(on_replica, thread), thread


@pytest.mark.parametrize("reader", ["c", "python"])
def test_a_reading_session_opened_again_proves_itself_again(
    pair: ReplicationPair, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reader: str
) -> None:
    """The session reading the rows (the C reader's, or the driver's) killed mid-export: the new
    session reads the heartbeat before its first row (a reader endpoint may hand it to another
    replica), and the day is whole."""
    if reader == "c" and not _C_READER:
        pytest.skip("the C reader was not built")
    if reader == "python":
        monkeypatch.setattr(mysql_direct, "_module", None)
    replica = pair.connect_replica()
    killed: list[int] = []

    class KillReaderOnFirstChunk:
        def emit(self, event: Event) -> None:
            if event.step == "export" and event.kind == "chunk" and not killed:
                readers = _row_readers(_statements(replica))
                killed.append(readers[-1])
                execute(replica, f"KILL CONNECTION {killed[0]}")

    ctx = _context(_job(pair, tmp_path), KillReaderOnFirstChunk())
    try:
        with _general_logs(replica):
            assert api.export(ctx, "events", DAY).rows == ROWS
        assert _archived_ids(ctx) == _primary_ids(pair)
    finally:
        ctx.close()
    statements = _statements(replica)
    readers = _row_readers(statements)
    assert killed and killed[0] in readers and len(readers) == (3 if reader == "c" else 2), readers
    for thread in readers:
        assert _proved_before_reading(statements, thread), thread


def test_a_row_the_replica_lacks_is_kept_by_the_purge_then_archived_by_growth(
    pair: ReplicationPair, tmp_path: Path
) -> None:
    """A late row of DAY, on the primary but not yet on the replica when the day is exported
    and verified: the purge keeps it (unmatched), growth reads it on the primary and archives
    it, and the next purge round deletes it — every row of the day archived, none lost."""
    primary, replica = pair.connect_primary(), pair.connect_replica()
    ctx = _context(_job(pair, tmp_path))
    try:
        ctx.reads(ctx.job.tables[0], DAY)  # the heartbeat proves the replica has the day ...
        execute(replica, "STOP SLAVE SQL_THREAD")  # ... then it stops applying
        execute(
            primary,
            f"INSERT INTO {EVENTS} (created_at, account_id, note) VALUES (%s, 1, 'late')",
            (f"{DAY} 23:59:59",),
        )
        (late,) = execute(primary, f"SELECT id FROM {EVENTS} WHERE note = 'late'")[0]
        assert api.export(ctx, "events", DAY).rows == ROWS  # read on the replica: not the row
        assert late not in _archived_ids(ctx)
        before = _primary_ids(pair)

        (report,) = api.purge(ctx, today=AFTER_RETENTION)
    finally:
        ctx.close()
        execute(replica, "START SLAVE SQL_THREAD")
    assert report.ok, report.errors
    first, second = report.purged
    assert (first.rows_deleted, first.rows_kept) == (ROWS, 1)  # matched by hash on the primary
    assert report.exported and report.exported[-1].rows == ROWS + 1  # growth added the row
    assert (second.rows_deleted, second.rows_kept) == (1, 0)
    assert _primary_ids(pair) == set()
    assert _archived_ids(_context(_job(pair, tmp_path))) == before  # every row, late one too


def _old_heartbeat_then_stop(pair: ReplicationPair) -> Any:
    """The replica's heartbeat says it applied the primary up to before DAY ended; then its SQL
    thread stops, so no newer heartbeat reaches it."""
    primary, replica = pair.connect_primary(), pair.connect_replica()
    execute(primary, HEARTBEAT.ddl)
    (server_id,) = execute(primary, "SELECT @@GLOBAL.server_id")[0]
    execute(primary, HEARTBEAT.write_sql, (server_id, f"{DAY} 12:00:00", f"{DAY} 12:00:00"))
    wait_caught_up(primary, replica)
    execute(replica, "STOP SLAVE SQL_THREAD")
    return primary


def test_a_replica_behind_the_day_is_refused_and_nothing_is_written(
    pair: ReplicationPair, tmp_path: Path
) -> None:
    """With the replica's heartbeat before the day's end plus settle and read_lag_wait = 0, the
    export refuses (ReplicaBehind, exit 9 on the command line): no file, no manifest."""
    _old_heartbeat_then_stop(pair)
    ctx = _context(_job(pair, tmp_path, read_lag_wait="0 seconds"))
    try:
        with pytest.raises(ReplicaBehind) as refused:
            api.export(ctx, "events", DAY)
    finally:
        ctx.close()
    message = str(refused.value)
    assert f"events {DAY}" in message and f"{DAY} 12:00:00.000000 UTC" in message
    assert "2026-11-11 00:10:00.000000 UTC" in message  # the end of DAY plus settle
    assert "read_lag_wait" in message and "SHOW REPLICA STATUS" in message
    assert (refused.value.table, refused.value.day) == ("events", DAY)
    assert _files(tmp_path / "archive") == []

    config = tmp_path / "archive.toml"
    config.write_text(
        f'[source]\nurl = "{pair.primary_url}"\nread_url = "{pair.replica_url}"\n'
        f'read_lag_wait = "0 seconds"\n[destination]\nurl = "{tmp_path / "archive"}"\n'
        '[[tables]]\nname = "events"\ntimestamp_column = "created_at"\n'
    )
    result = CliRunner().invoke(
        cli,
        ["export", "-c", str(config), "--date", DAY.isoformat(), "-q"],
        env={"DBARCHIVE_NOW": "2026-11-25T06:00:00+00:00"},
    )
    assert result.exit_code == 9, result.output
    assert "has applied the primary's writes up to" in result.stderr
    assert _files(tmp_path / "archive") == []


def test_the_export_waits_for_a_lagging_replica_then_reads_it(
    pair: ReplicationPair, tmp_path: Path
) -> None:
    """A replica behind the day makes the export wait (saying so); once it applies the primary's
    writes the export reads it there — rows written on the primary meanwhile included."""
    primary = _old_heartbeat_then_stop(pair)
    execute(
        primary, f"INSERT INTO {EVENTS} (created_at, account_id) VALUES (%s, 2)", (f"{DAY} 08:00",)
    )
    replica = pair.connect_replica()
    said: list[Event] = []

    class StartReplicationWhenWaiting(CaptureReporter):
        def emit(self, event: Event) -> None:
            if event.step == "read" and not said:
                said.append(event)
                execute(replica, "START SLAVE SQL_THREAD")  # once the export waits for it

    ctx = _context(_job(pair, tmp_path, read_lag_wait="60 seconds"), StartReplicationWhenWaiting())
    try:
        assert api.export(ctx, "events", DAY).rows == ROWS + 1
    finally:
        ctx.close()
    assert said and said[0].day == DAY.isoformat()
    assert "waiting up to 60 s for the read endpoint" in said[0].message


def test_a_stop_request_ends_the_wait_for_the_replica(
    pair: ReplicationPair, tmp_path: Path
) -> None:
    """A stop request (signal, stop file, max_runtime) while the export waits for the replica
    ends the wait: StopRequested, and nothing read or written."""
    _old_heartbeat_then_stop(pair)
    reporter = CaptureReporter()
    ctx = _context(_job(pair, tmp_path, read_lag_wait="60 seconds"), reporter)

    def stop_once_waiting() -> None:
        if any(e.step == "read" for e in reporter.events):
            raise StopRequested("stop file found")

    ctx.check_stop = stop_once_waiting
    try:
        with pytest.raises(StopRequested):
            api.export(ctx, "events", DAY)
        assert ctx.reader is not None and ctx.reader.counters.rows_read == 0
    finally:
        ctx.close()
    assert _files(tmp_path / "archive") == []


def _read_checks(ctx: Context) -> dict[str, CheckResult]:
    results = run_checks(ctx, list(ctx.job.tables), purge=False, storage=False)
    return {r.name: r for r in results if "read" in r.name or "heartbeat" in r.name}


def test_check_probes_the_read_endpoint(pair: ReplicationPair, tmp_path: Path) -> None:
    """`check` logs in to the read endpoint, reports its TLS, that it replicates (and how far its
    heartbeat is), SELECT on each table there and the heartbeat's grants on both servers; a
    stopped SQL thread is MISSING (exit 3). It writes no heartbeat."""
    replica_at = pair.replica_url.split("@")[-1]
    ctx = _context(_job(pair, tmp_path))
    try:
        before = _read_checks(ctx)
        api.export(ctx, "events", DAY)  # the first export creates the heartbeat table
        after = _read_checks(ctx)
    finally:
        ctx.close()
    assert all(r.ok for r in before.values()), before
    assert before[f"mysql read: login to mysql://root@{replica_at}"].detail == "root@127.0.0.1"
    assert before["mysql read: TLS"].detail.endswith("(this machine)")
    assert "IO and SQL threads running" in before["mysql read: replicating from the primary"].detail
    assert before["mysql read: SELECT on events"].ok
    primary_beat = f"mysql: heartbeat {HEARTBEAT.qualified} on the primary"
    assert before[primary_beat].warning and "not there yet" in before[primary_beat].detail
    assert "INSERT and UPDATE granted" in after[primary_beat].detail
    assert after[f"mysql read: heartbeat {HEARTBEAT.qualified}"].detail == "SELECT granted"
    assert "heartbeat applied up to" in after["mysql read: replicating from the primary"].detail

    primary = pair.connect_primary()
    (beats,) = execute(primary, f"SELECT ts FROM {HEARTBEAT.qualified}")[0]
    execute(pair.connect_replica(), "STOP SLAVE SQL_THREAD")
    config = tmp_path / "archive.toml"
    config.write_text(
        f'[source]\nurl = "{pair.primary_url}"\nread_url = "{pair.replica_url}"\n'
        f'[destination]\nurl = "{tmp_path / "archive"}"\n'
        '[[tables]]\nname = "events"\ntimestamp_column = "created_at"\n'
    )
    result = CliRunner().invoke(cli, ["check", "-c", str(config), "--no-purge"])
    assert result.exit_code == 3, result.output
    line = next(x for x in result.stdout.splitlines() if "replicating from the primary" in x)
    assert line.startswith("MISSING") and "(IO thread Yes, SQL thread No)" in line
    assert execute(primary, f"SELECT ts FROM {HEARTBEAT.qualified}") == [(beats,)]  # unwritten


def test_missing_heartbeat_grants_are_named(pair: ReplicationPair, tmp_path: Path) -> None:
    """A user who may only SELECT the table: `check` names the heartbeat grants it lacks, and an
    export refuses before reading a row, with the table's DDL and the GRANT to run; so it does
    when it may read the heartbeat but not write it on the primary."""
    primary = pair.connect_primary()
    execute(primary, "DROP USER IF EXISTS 'dbat_reader'@'127.0.0.1'")
    execute(primary, "CREATE USER 'dbat_reader'@'127.0.0.1' IDENTIFIED BY 'reader-pw'")
    execute(primary, f"GRANT SELECT ON {EVENTS} TO 'dbat_reader'@'127.0.0.1'")
    wait_caught_up(primary, pair.connect_replica())  # the user replicates too
    url, read_url = (
        u.replace("root@", "dbat_reader:reader-pw@") for u in (pair.primary_url, pair.replica_url)
    )
    job = _job(pair, tmp_path, url=url, read_url=read_url)
    refusals = []
    try:
        ctx = _context(job)
        try:
            checks = _read_checks(ctx)
            with pytest.raises(SourceError) as refused:
                api.export(ctx, "events", DAY)
            refusals.append(str(refused.value))
        finally:
            ctx.close()
        execute(primary, HEARTBEAT.ddl)  # an administrator creates it, grants only SELECT
        execute(primary, f"GRANT SELECT ON {HEARTBEAT.qualified} TO 'dbat_reader'@'127.0.0.1'")
        wait_caught_up(primary, pair.connect_replica())
        ctx = _context(job)
        try:
            with pytest.raises(SourceError) as refused:
                api.export(ctx, "events", DAY)
            refusals.append(str(refused.value))
            assert ctx.reader is not None and ctx.reader.counters.rows_read == 0
        finally:
            ctx.close()
    finally:
        execute(primary, "DROP USER 'dbat_reader'@'127.0.0.1'")
    assert checks["mysql read: SELECT on events"].ok
    beat = checks[f"mysql: heartbeat {HEARTBEAT.qualified} on the primary"]
    assert not beat.ok and "INSERT, UPDATE command denied" in beat.detail
    assert beat.fix.startswith(f"GRANT SELECT, INSERT, UPDATE, CREATE ON {HEARTBEAT.qualified}")
    cannot_read, cannot_write = refusals
    assert (
        "may not read `dbat_repl`.`dbarchive_heartbeat`, the heartbeat that proves" in cannot_read
    )
    assert "cannot be written to `dbat_repl`.`dbarchive_heartbeat` on the primary" in cannot_write
    for message in refusals:
        assert HEARTBEAT.ddl in message and "GRANT SELECT, INSERT, UPDATE, CREATE ON" in message
    assert _files(tmp_path / "archive") == []


def test_an_airflow_connection_keeps_the_configs_read_endpoint(
    pair: ReplicationPair,
    tmp_path: Path,
    airflow_home: AirflowHome,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The primary from an Airflow MySQL connection, read_url from the config (no database: the
    connection's): the export reads the replica."""
    from dbarchive.airflow.connections import source_from_connection

    monkeypatch.setenv("AIRFLOW_CONN_DBARCHIVE_REPLICA_TEST", pair.primary_url)
    job = _job(pair, tmp_path, read_url=pair.replica_url.rsplit("/", 1)[0])
    job = job.model_copy(update={"source": source_from_connection("dbarchive_replica_test", job)})
    assert job.source.read_settings().url == pair.replica_url
    ctx = _context(job)
    try:
        assert api.export(ctx, "events", DAY).rows == ROWS
        assert ctx.source.counters.rows_read == 0
        assert ctx.reader is not None and ctx.reader.counters.rows_read == ROWS
    finally:
        ctx.close()
