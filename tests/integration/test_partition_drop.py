"""The verified partition drop (``steps/exchange.py``) in-process against the real MariaDB: its
grants (``check`` and the purge's own probe), and a table lock it cannot get in time. The races
it closes are in ``tests/reliability/test_partition_drop.py``."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dbarchive import build_context
from dbarchive.build import build_throttle
from dbarchive.checks import run_checks
from dbarchive.checks.grants import read_facts
from dbarchive.context import Context
from dbarchive.errors import SourceError
from dbarchive.jobs.daily import TableReport, purge_table
from dbarchive.pipeline import export_day
from dbarchive.steps.exchange import clone_name
from tests.integration.helpers import make_job
from tests.integration.mysql_fixtures import MySqlSchema, _connect, mysql_schema  # noqa: F401

TODAY = dt.date(2026, 11, 25)  # retention 60 days: the cutoff is 2026-09-26
DDL = """
CREATE TABLE events (
  id BIGINT NOT NULL AUTO_INCREMENT, created_at DATETIME(6) NOT NULL, account_id INT NOT NULL,
  note TEXT NULL, PRIMARY KEY (id, created_at), KEY idx_created (created_at)
) PARTITION BY RANGE COLUMNS (created_at) (
  PARTITION p202607 VALUES LESS THAN ('2026-08-01'), PARTITION p202608 VALUES LESS THAN ('2026-09-01'),
  PARTITION pmax VALUES LESS THAN (MAXVALUE))"""
AUGUST = [dt.date(2026, 8, 1) + dt.timedelta(days=i) for i in range(31)]


@pytest.fixture
def august(mysql_schema: MySqlSchema) -> MySqlSchema:
    """The partitioned table with 20 rows on each day of August (partition p202608)."""
    mysql_schema.execute(DDL)
    mysql_schema.execute(
        "INSERT INTO events (created_at, account_id, note) SELECT TIMESTAMP('2026-08-01') + "
        "INTERVAL (seq DIV 20) DAY + INTERVAL (seq MOD 20) HOUR, seq MOD 7, CONCAT('n', seq) "
        "FROM seq_0_to_619"
    )
    return mysql_schema


def _ctx(db: MySqlSchema, tmp_path: Path, url: str | None = None, **throttle: Any) -> Context:
    spec = {"name": "events", "timestamp_column": "created_at", "retention": "60 days"}
    job = make_job(url or db.url, str(tmp_path / "archive"), [spec])
    if throttle:
        job = job.model_copy(update={"throttle": job.throttle.model_copy(update=throttle)})
    return build_context(job)


def _purge(ctx: Context) -> TableReport:
    report = TableReport("events")
    purge_table(ctx, ctx.job.tables[0], TODAY, build_throttle(ctx), report)
    return report


def _partitions(db: MySqlSchema) -> list[str]:
    rows = db.execute(
        "SELECT PARTITION_NAME FROM information_schema.PARTITIONS WHERE TABLE_SCHEMA = %s "
        "AND TABLE_NAME = 'events' ORDER BY PARTITION_ORDINAL_POSITION",
        (db.name,),
    )
    return [r[0] for r in rows]


def _tables(db: MySqlSchema) -> list[str]:
    rows = db.execute(
        "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s ORDER BY 1",
        (db.name,),
    )
    return [r[0] for r in rows]


def _archive(ctx: Context) -> None:
    for day in AUGUST:
        export_day(ctx, ctx.job.tables[0], day)


@pytest.fixture
def archiver(mysql_schema: MySqlSchema) -> Iterator[tuple[str, str]]:
    """A user with SELECT and DELETE on the table, REFERENCES on its schema (to see the foreign
    keys to it) and nothing else (the test grants the rest)."""
    name, password = f"dbat_{uuid.uuid4().hex[:10]}", uuid.uuid4().hex
    mysql_schema.execute(f"CREATE USER '{name}'@'127.0.0.1' IDENTIFIED BY %s", (password,))
    mysql_schema.execute(
        f"GRANT SELECT, DELETE ON `{mysql_schema.name}`.`events` TO '{name}'@'127.0.0.1'"
    )
    mysql_schema.execute(f"GRANT REFERENCES ON `{mysql_schema.name}`.* TO '{name}'@'127.0.0.1'")
    yield name, password
    mysql_schema.execute(f"DROP USER IF EXISTS '{name}'@'127.0.0.1'")


def test_partition_drop_grants_are_checked_before_anything_changes(
    august: MySqlSchema,
    archiver: tuple[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Without the README's partition-drop grants `check` names them and the drop stops at its
    first statement, naming them too (no clone, partitions and rows untouched); with exactly
    those grants both pass and the partition is dropped."""
    ctx_root = _ctx(august, tmp_path)
    _archive(ctx_root)
    ctx_root.source.close()
    monkeypatch.setenv("DBAT_PW", archiver[1])
    job = _ctx(august, tmp_path, f"mysql://{archiver[0]}@127.0.0.1:3306/{august.name}").job
    source = job.source.model_copy(update={"password_env": "DBAT_PW"})
    ctx = build_context(job.model_copy(update={"source": source}))
    (probe,) = [r for r in run_checks(ctx, list(ctx.job.tables)) if "partition drop" in r.name]
    assert not probe.ok
    assert "LOCK TABLES" in probe.fix and clone_name("events") in probe.fix
    with pytest.raises(SourceError, match="cannot drop partitions") as refused:
        _purge(ctx)
    assert probe.fix in str(refused.value)
    assert _partitions(august) == ["p202607", "p202608", "pmax"]
    assert _tables(august) == ["events"]
    assert august.execute("SELECT COUNT(*) FROM events")[0][0] == 620
    ctx.source.close()
    for grant in probe.fix.split("; "):
        august.execute(grant.replace("<the archive user>", f"'{archiver[0]}'@'127.0.0.1'"))
    ctx = build_context(ctx.job)
    (probe,) = [r for r in run_checks(ctx, list(ctx.job.tables)) if "partition drop" in r.name]
    assert probe.ok, probe.detail
    report = _purge(ctx)
    assert [d.partition for d in report.dropped] == ["p202608"], report.errors
    assert _partitions(august) == ["p202607", "pmax"]
    assert _tables(august) == ["events"]
    ctx.source.close()


def test_check_asks_for_the_drop_grants_only_where_a_partition_can_be_dropped(
    august: MySqlSchema, archiver: tuple[str, str], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """On midnight bounds check asks for the drop's grants; partitions bounded at noon never
    match the table's days, so the purge drops none and deletes chunk by chunk: check no longer
    fails for grants a run never needs there (an outside trial saw it exit 3), nor does check
    --grants print them."""
    monkeypatch.setenv("DBAT_PW", archiver[1])
    url = f"mysql://{archiver[0]}@127.0.0.1:3306/{august.name}"
    job = _ctx(august, tmp_path, url).job
    job = job.model_copy(
        update={"source": job.source.model_copy(update={"password_env": "DBAT_PW"})}
    )

    def drop_probes() -> list[Any]:
        ctx = build_context(job)
        try:
            return [r for r in run_checks(ctx, list(job.tables)) if "partition drop" in r.name]
        finally:
            ctx.source.close()

    (probe,) = drop_probes()
    assert not probe.ok and "LOCK TABLES" in probe.fix
    august.execute("DROP TABLE events")  # the login's grants on it stay
    august.execute(DDL.replace("-01')", "-01 12:00')"))
    assert drop_probes() == []
    ctx = build_context(job)
    try:  # check --grants asks for them no more
        assert read_facts(ctx, list(job.tables), purge=True).partitioned == {"events": False}
    finally:
        ctx.source.close()


def test_a_table_with_a_delete_trigger_is_purged_chunk_by_chunk(
    august: MySqlSchema, tmp_path: Path
) -> None:
    """A dropped partition fires no trigger: a BEFORE DELETE trigger refusing a row was passed
    over and the row went with its partition (an outside trial). A table with a DELETE trigger
    is purged chunk by chunk: the refused row stays, the partition stays, the rest goes."""
    august.execute(
        "CREATE TRIGGER keep_one BEFORE DELETE ON events FOR EACH ROW IF OLD.id = 50 THEN"
        " SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'row 50 stays'; END IF"
    )
    ctx = _ctx(august, tmp_path)
    _archive(ctx)
    report = _purge(ctx)
    ctx.source.close()
    assert report.dropped == [] and not report.failures, report.errors
    assert _partitions(august) == ["p202607", "p202608", "pmax"]
    assert august.execute("SELECT id FROM events") == [(50,)]
    assert any("row 50 stays" in note for note in report.notes), report.notes


def test_a_table_lock_not_granted_in_time_keeps_the_partition(
    august: MySqlSchema, tmp_path: Path
) -> None:
    """An application transaction stays open on the table: the drop's LOCK TABLES waits at most
    lock_wait_timeout per attempt, gives up after max_retries, keeps the partition and its rows
    and removes its empty clone; once the transaction ends, the next purge drops it."""
    ctx = _ctx(august, tmp_path, lock_wait_timeout=1, max_retries=1)
    _archive(ctx)
    app: Any = _connect(august.name)
    app.autocommit(False)
    try:
        with app.cursor() as cur:  # holds the table's metadata lock until it ends
            cur.execute("SELECT COUNT(*) FROM events WHERE created_at >= '2026-09-01'")
        with pytest.raises(SourceError, match="Lock wait timeout"):
            _purge(ctx)
        assert _partitions(august) == ["p202607", "p202608", "pmax"]
        assert _tables(august) == ["events"]
    finally:
        app.commit()
        app.close()
    assert august.execute("SELECT COUNT(*) FROM events")[0][0] == 620
    report = _purge(ctx)
    assert [d.partition for d in report.dropped] == ["p202608"]
    assert (
        report.dropped[0].rows == 620
    )  # (its lock time is measured by bench/partition_drop_lock.py)
    assert _tables(august) == ["events"]
    ctx.source.close()


def test_clone_names_fit_mysql_identifiers() -> None:
    """Short names keep the table's name; long ones are hashed to 64 characters, distinct."""
    assert clone_name("events") == "_dbarchive_x_events"
    long_a, long_b = "a" * 60, "a" * 59 + "b"
    assert len(clone_name(long_a)) == 64 and clone_name(long_a) != clone_name(long_b)
