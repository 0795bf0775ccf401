"""Purge and the daily run against the real MariaDB: nothing is deleted unless it is archived."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from dbarchive import build_context
from dbarchive.build import build_throttle
from dbarchive.cli import cli
from dbarchive.events import Event
from dbarchive.jobs.daily import TableReport, purge_table, run
from dbarchive.layout import PartitionPath
from dbarchive.manifest import Manifest
from dbarchive.pipeline import export_day
from dbarchive.steps.archive_files import iter_archive_rows
from dbarchive.steps.purge import purge_day
from tests.integration.helpers import LOG_TABLE_DDL, make_job
from tests.integration.mysql_fixtures import MySqlSchema, mysql_schema  # noqa: F401

TODAY = dt.date(2026, 11, 25)
PER_DAY = 50


def _fill_days(schema: MySqlSchema, first: dt.date, days: int, per_day: int = PER_DAY) -> None:
    """``per_day`` rows on each of ``days`` days from ``first``, ids growing with time."""
    schema.execute(
        "INSERT INTO events (created_at, account_id, amount, note) "
        "SELECT TIMESTAMP(%s) + INTERVAL (seq DIV %s) DAY + INTERVAL (seq MOD %s) * 1000 SECOND, "
        "seq MOD 7, seq / 4, CONCAT('n', seq) FROM seq_0_to_" + str(days * per_day - 1),
        (first.isoformat(), per_day, per_day),
    )


def _job(schema: MySqlSchema, dest: Path, **table: Any) -> Any:
    spec = {"name": "events", "timestamp_column": "created_at", "retention": "60 days", **table}
    return make_job(schema.url, str(dest), [spec])


def _days_in_db(schema: MySqlSchema) -> dict[dt.date, int]:
    rows = schema.execute("SELECT DATE(created_at), COUNT(*) FROM events GROUP BY 1")
    return dict(rows)


def _manifest(ctx: Any, day: dt.date) -> Manifest | None:
    raw = ctx.storage.get_bytes(PartitionPath("events", day).manifest_key)
    return None if raw is None else Manifest.loads(raw)


def _purge(ctx: Any, today: dt.date = TODAY) -> TableReport:
    report = TableReport("events")
    purge_table(ctx, ctx.job.tables[0], today, build_throttle(ctx), report)
    return report


def _failed(report: TableReport, pattern: str, day: dt.date) -> TableReport:
    """``report`` has one error, on ``day``, matching ``pattern`` (verification: exit 5)."""
    (error,) = report.errors
    assert re.search(pattern, error), error
    assert [(f.exit_code, f.day) for f in report.failures] == [(5, day)]
    return report


def test_run_archives_and_purges_exactly_the_expired_days(
    mysql_schema: MySqlSchema, tmp_path: Path
) -> None:
    """90 days of rows → one run archives every day, deletes days older than 60, keeps the rest."""
    mysql_schema.execute(LOG_TABLE_DDL)
    _fill_days(mysql_schema, TODAY - dt.timedelta(days=90), 90)
    kept_before = mysql_schema.execute(
        "SELECT id, CRC32(CONCAT_WS('|', created_at, account_id, amount, note)) FROM events WHERE created_at >= '2026-09-26' ORDER BY id"
    )
    ctx = build_context(_job(mysql_schema, tmp_path))
    (report,) = run(ctx, list(ctx.job.tables), TODAY, build_throttle(ctx))
    cutoff = TODAY - dt.timedelta(days=60)
    assert report.ok, report.errors
    assert {e.day for e in report.exported} == {TODAY - dt.timedelta(days=i) for i in range(1, 91)}
    assert report.rows_deleted == 30 * PER_DAY
    assert min(_days_in_db(mysql_schema)) == cutoff
    kept_after = mysql_schema.execute(
        "SELECT id, CRC32(CONCAT_WS('|', created_at, account_id, amount, note)) FROM events WHERE created_at >= '2026-09-26' ORDER BY id"
    )
    assert kept_after == kept_before
    for i in range(61, 91):
        day = TODAY - dt.timedelta(days=i)
        manifest = _manifest(ctx, day)
        assert manifest is not None and manifest.rows == PER_DAY
        assert sum(1 for _ in iter_archive_rows(ctx.storage, manifest)) == PER_DAY
    (again,) = run(ctx, list(ctx.job.tables), TODAY, build_throttle(ctx))
    assert (again.ok, again.exported, again.purged) == (True, [], [])
    ctx.source.close()


def test_unarchived_day_is_not_purged_in_fail_mode(
    mysql_schema: MySqlSchema, tmp_path: Path
) -> None:
    """(a) An expired day without a manifest keeps every row when on_unarchived = 'fail'; each
    such day is reported (exit 5), none stops the others from being looked at."""
    mysql_schema.execute(LOG_TABLE_DDL)
    _fill_days(mysql_schema, TODAY - dt.timedelta(days=70), 3)
    ctx = build_context(_job(mysql_schema, tmp_path, on_unarchived="fail"))
    report = _purge(ctx)
    assert [f.exit_code for f in report.failures] == [5, 5, 5]
    assert all("on_unarchived = 'fail'" in e for e in report.errors)
    assert sum(_days_in_db(mysql_schema).values()) == 3 * PER_DAY
    ctx.source.close()


def test_unarchived_day_is_exported_first_by_default(
    mysql_schema: MySqlSchema, tmp_path: Path
) -> None:
    """(a) With on_unarchived = 'export' the day is archived and verified, then purged."""
    mysql_schema.execute(LOG_TABLE_DDL)
    _fill_days(mysql_schema, TODAY - dt.timedelta(days=70), 3)
    ctx = build_context(_job(mysql_schema, tmp_path))
    report = _purge(ctx)
    assert len(report.exported) == 3
    assert report.rows_deleted == 3 * PER_DAY
    assert _days_in_db(mysql_schema) == {}
    ctx.source.close()


@pytest.mark.parametrize("damage", ["changed", "removed"])
def test_damaged_archive_file_blocks_the_purge(
    mysql_schema: MySqlSchema, tmp_path: Path, damage: str
) -> None:
    """(b) A part file changed or removed after export → verify fails, nothing of the day deleted."""
    mysql_schema.execute(LOG_TABLE_DDL)
    day = TODAY - dt.timedelta(days=70)
    _fill_days(mysql_schema, day, 1)
    ctx = build_context(_job(mysql_schema, tmp_path, compression="none"))
    export_day(ctx, ctx.job.tables[0], day)
    part = tmp_path / _manifest(ctx, day).files[0].key  # type: ignore[union-attr]
    if damage == "changed":
        part.write_bytes(part.read_bytes().replace(b'"n1"', b'"n9"'))
    else:
        part.unlink()
    _failed(_purge(ctx), r"SHA-256|missing|does not exist", day)
    assert sum(_days_in_db(mysql_schema).values()) == PER_DAY
    ctx.source.close()


def test_the_purge_reads_each_archive_file_once_and_checks_it_before_use(
    mysql_schema: MySqlSchema, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before a chunked purge only each file's presence and size are checked; its bytes are
    read once, by the copy whose SHA-256 is checked before any row of it is matched."""
    from dbarchive.steps import archive_files

    reads: list[str] = []
    for name in ("checked_copy", "_stored_bytes"):
        real = getattr(archive_files, name)

        def counted(storage: Any, entry: Any, _real: Any = real, _name: str = name) -> Any:
            reads.append(_name)
            return _real(storage, entry)

        monkeypatch.setattr(archive_files, name, counted)
    mysql_schema.execute(LOG_TABLE_DDL)
    _fill_days(mysql_schema, TODAY - dt.timedelta(days=71), 2)
    ctx = build_context(_job(mysql_schema, tmp_path))
    for day in (TODAY - dt.timedelta(days=71), TODAY - dt.timedelta(days=70)):
        export_day(ctx, ctx.job.tables[0], day)
    assert _purge(ctx).rows_deleted == 2 * PER_DAY
    assert reads == ["checked_copy", "checked_copy"]
    ctx.source.close()


def test_damaged_s3_object_blocks_the_purge(
    mysql_schema: MySqlSchema,
    tmp_path: Path,
    s3_endpoint: Any,
    s3_bucket: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """(b) On S3 too: an object overwritten after the export blocks the purge of its day."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3_endpoint.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3_endpoint.secret_key)
    mysql_schema.execute(LOG_TABLE_DDL)
    day = TODAY - dt.timedelta(days=70)
    _fill_days(mysql_schema, day, 1)
    job = make_job(mysql_schema.url, f"s3://{s3_bucket}/a", [{"name": "events", "timestamp_column": "created_at"}],
                   endpoint_url=s3_endpoint.url, region=s3_endpoint.region)  # fmt: skip
    ctx = build_context(job)
    export_day(ctx, job.tables[0], day)
    key = _manifest(ctx, day).files[0].key  # type: ignore[union-attr]
    import gzip

    original = gzip.decompress(ctx.storage.get_bytes(key) or b"")
    ctx.storage.put_bytes(key, gzip.compress(original.replace(b'"n1"', b'"nX"'), mtime=0))
    _failed(_purge(ctx), r"SHA-256|bytes stored", day)
    assert sum(_days_in_db(mysql_schema).values()) == PER_DAY
    ctx.source.close()


def test_late_row_is_archived_before_its_day_is_purged(
    mysql_schema: MySqlSchema, tmp_path: Path
) -> None:
    """(c) A row added to an archived day → the day is exported again, and the row is archived."""
    mysql_schema.execute(LOG_TABLE_DDL)
    day = TODAY - dt.timedelta(days=70)
    _fill_days(mysql_schema, day, 1)
    ctx = build_context(_job(mysql_schema, tmp_path))
    export_day(ctx, ctx.job.tables[0], day)
    mysql_schema.execute(
        "INSERT INTO events (created_at, account_id, note) VALUES (%s, 1, 'late')",
        (f"{day} 12:34:56",),
    )
    report = _purge(ctx)
    assert report.rows_deleted == PER_DAY + 1
    # Archived before the first deletion (the count differs, so the rows were digested first):
    # one pass, nothing kept for a second one.
    assert [p.rows_kept for p in report.purged] == [0]
    assert report.exported and report.exported[0].day == day
    manifest = _manifest(ctx, day)
    assert manifest is not None and manifest.rows == PER_DAY + 1
    assert any(row[-1] == b"late" for row in iter_archive_rows(ctx.storage, manifest))
    ctx.source.close()


def test_late_row_in_fail_mode_keeps_the_day(mysql_schema: MySqlSchema, tmp_path: Path) -> None:
    """(c) With on_unarchived = 'fail', a late row stops the purge of its day; nothing deleted."""
    mysql_schema.execute(LOG_TABLE_DDL)
    day = TODAY - dt.timedelta(days=70)
    _fill_days(mysql_schema, day, 1)
    ctx = build_context(_job(mysql_schema, tmp_path, on_unarchived="fail"))
    export_day(ctx, ctx.job.tables[0], day)
    mysql_schema.execute(
        "INSERT INTO events (created_at, account_id) VALUES (%s, 1)", (f"{day} 12:00:00",)
    )
    _failed(_purge(ctx), "on_unarchived", day)
    assert sum(_days_in_db(mysql_schema).values()) == PER_DAY + 1
    ctx.source.close()


def test_days_inside_retention_are_never_touched(mysql_schema: MySqlSchema, tmp_path: Path) -> None:
    """(d) Rows from the cutoff day on stay, even at its first microsecond."""
    mysql_schema.execute(LOG_TABLE_DDL)
    cutoff = TODAY - dt.timedelta(days=60)
    stamps = [
        f"{cutoff - dt.timedelta(days=1)} 23:59:59.999999",
        f"{cutoff} 00:00:00.000000",
        f"{TODAY} 01:00:00",
    ]
    mysql_schema.executemany(
        "INSERT INTO events (created_at, account_id) VALUES (%s, 1)", [(s,) for s in stamps]
    )
    ctx = build_context(_job(mysql_schema, tmp_path))
    assert _purge(ctx).rows_deleted == 1
    remaining = [
        str(r[0]) for r in mysql_schema.execute("SELECT created_at FROM events ORDER BY id")
    ]
    assert remaining == [f"{cutoff} 00:00:00", f"{TODAY} 01:00:00"]
    ctx.source.close()


def test_row_changed_after_verification_is_not_deleted(
    mysql_schema: MySqlSchema, tmp_path: Path
) -> None:
    """Every deleted row is matched in the archive: a row updated after export is kept."""
    mysql_schema.execute(LOG_TABLE_DDL)
    day = TODAY - dt.timedelta(days=70)
    _fill_days(mysql_schema, day, 1)
    ctx = build_context(_job(mysql_schema, tmp_path))
    export_day(ctx, ctx.job.tables[0], day)
    manifest = _manifest(ctx, day)
    assert manifest is not None
    (changed_id,) = mysql_schema.execute("SELECT MIN(id) + 7 FROM events")[0]
    mysql_schema.execute("UPDATE events SET note = 'changed' WHERE id = %s", (changed_id,))
    # Straight to the chunk loop, as if the change happened right after verification.
    result = purge_day(ctx, ctx.job.tables[0], manifest, build_throttle(ctx))
    assert (result.rows_deleted, result.rows_kept) == (PER_DAY - 1, 1)
    assert mysql_schema.execute("SELECT id, note FROM events") == [(changed_id, "changed")]
    ctx.source.close()


def test_a_row_changed_in_place_is_kept_then_archived_and_purged_in_the_same_run(
    mysql_schema: MySqlSchema, tmp_path: Path
) -> None:
    """As many rows as archived: the purge does not read the day first (its count stands for the
    digest), matches each locked row, keeps the changed one, then archives it and purges it."""
    mysql_schema.execute(LOG_TABLE_DDL)
    day = TODAY - dt.timedelta(days=70)
    _fill_days(mysql_schema, day, 1)
    ctx = build_context(_job(mysql_schema, tmp_path))
    export_day(ctx, ctx.job.tables[0], day)
    (changed_id,) = mysql_schema.execute("SELECT MIN(id) + 7 FROM events")[0]
    mysql_schema.execute("UPDATE events SET note = 'changed' WHERE id = %s", (changed_id,))
    report = _purge(ctx)
    assert not report.errors
    assert any("as archived; matched row by row" in n for n in report.verified[0].notes)
    assert [(p.rows_deleted, p.rows_kept) for p in report.purged] == [(PER_DAY - 1, 1), (1, 0)]
    assert _days_in_db(mysql_schema) == {}
    manifest = _manifest(ctx, day)
    assert manifest is not None
    assert any(row[-1] == b"changed" for row in iter_archive_rows(ctx.storage, manifest))
    ctx.source.close()


def test_cli_run_status_and_verify(mysql_schema: MySqlSchema, tmp_path: Path) -> None:
    """`run --json`, `status --json` and `verify` report what was archived and purged."""
    mysql_schema.execute(LOG_TABLE_DDL)
    _fill_days(mysql_schema, TODAY - dt.timedelta(days=64), 64)
    config = tmp_path / "job.toml"
    config.write_text(
        f'[source]\nurl = "{mysql_schema.url}"\n[destination]\nurl = "{tmp_path / "a"}"\n'
        '[defaults]\nretention = "60 days"\n[[tables]]\nname = "events"\ntimestamp_column = "created_at"\n'
    )
    runner = CliRunner()
    result = runner.invoke(cli, ["run", "-c", str(config), "--today", TODAY.isoformat(), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert sum(p["rows_deleted"] for p in summary["tables"][0]["purged"]) == 4 * PER_DAY
    assert summary["throttle"]["pauses"] == 0 and summary["errors"] == []
    status = json.loads(
        runner.invoke(
            cli, ["status", "-c", str(config), "--today", TODAY.isoformat(), "--json"]
        ).stdout
    )
    assert len(status[0]["archived_days"]) == 64
    assert len(status[0]["purged_days"]) == 4
    assert status[0]["pending_days"] == []
    assert status[0]["oldest_day_in_database"] == (TODAY - dt.timedelta(days=60)).isoformat()
    old = (TODAY - dt.timedelta(days=63)).isoformat()
    assert runner.invoke(cli, ["verify", "-c", str(config), "--date", old]).exit_code == 0
    dry = runner.invoke(
        cli,
        [
            "purge",
            "-c",
            str(config),
            "--today",
            (TODAY + dt.timedelta(days=2)).isoformat(),
            "--dry-run",
        ],
    )
    assert dry.exit_code == 0
    assert "50 rows would be verified and deleted" in dry.output
    assert sum(_days_in_db(mysql_schema).values()) == 60 * PER_DAY


PARTITIONED = {
    "range_columns": """
CREATE TABLE events (
  id BIGINT NOT NULL AUTO_INCREMENT, created_at DATETIME(6) NOT NULL, account_id INT NOT NULL,
  amount DECIMAL(18,4) NULL, note TEXT NULL, PRIMARY KEY (id, created_at), KEY idx_created (created_at)
) PARTITION BY RANGE COLUMNS (created_at) (
  PARTITION p202607 VALUES LESS THAN ('2026-08-01'), PARTITION p202608 VALUES LESS THAN ('2026-09-01'),
  PARTITION p202609 VALUES LESS THAN ('2026-10-01'), PARTITION pmax VALUES LESS THAN (MAXVALUE))""",
    "to_days": """
CREATE TABLE events (
  id BIGINT NOT NULL AUTO_INCREMENT, created_at DATETIME NOT NULL, account_id INT NOT NULL,
  amount DECIMAL(18,4) NULL, note TEXT NULL, PRIMARY KEY (id, created_at), KEY idx_created (created_at)
) PARTITION BY RANGE (TO_DAYS(created_at)) (
  PARTITION p202607 VALUES LESS THAN (TO_DAYS('2026-08-01')), PARTITION p202608 VALUES LESS THAN (TO_DAYS('2026-09-01')),
  PARTITION p202609 VALUES LESS THAN (TO_DAYS('2026-10-01')), PARTITION pmax VALUES LESS THAN MAXVALUE)""",
}


@pytest.mark.parametrize("kind", sorted(PARTITIONED))
def test_expired_partitions_are_dropped_after_verification(
    mysql_schema: MySqlSchema, tmp_path: Path, kind: str
) -> None:
    """Whole expired partitions are dropped once their days verify; the rest is deleted by rows."""
    mysql_schema.execute(PARTITIONED[kind])
    _fill_days(mysql_schema, dt.date(2026, 8, 1), 70)  # Aug 1 .. Oct 9
    ctx = build_context(_job(mysql_schema, tmp_path))
    report = _purge(ctx)
    assert report.ok, report.errors
    assert [d.partition for d in report.dropped] == ["p202608"]
    assert report.dropped[0].rows == 31 * PER_DAY
    assert len(report.dropped[0].days) == 31
    assert [p.day for p in report.purged] == [dt.date(2026, 9, d) for d in range(1, 26)]
    names = [r[0] for r in mysql_schema.execute(
        "SELECT PARTITION_NAME FROM information_schema.PARTITIONS WHERE TABLE_SCHEMA = %s AND TABLE_NAME = 'events'",
        (mysql_schema.name,))]  # fmt: skip
    assert sorted(names) == ["p202607", "p202609", "pmax"]
    assert min(_days_in_db(mysql_schema)) == TODAY - dt.timedelta(days=60)
    for day in (dt.date(2026, 8, 1), dt.date(2026, 8, 31)):
        manifest = _manifest(ctx, day)
        assert manifest is not None and manifest.rows == PER_DAY
    ctx.source.close()


def test_a_filtered_table_is_purged_chunk_by_chunk_not_by_partition(
    mysql_schema: MySqlSchema, tmp_path: Path
) -> None:
    """With a ``where`` filter a partition also holds the rows the filter leaves out: no
    partition is dropped (nor counted, nor said to differ every run), the filtered days are
    purged row by row, and the rows left out stay. (Found by an outside trial: every run failed,
    and purged nothing.)"""
    mysql_schema.execute(PARTITIONED["range_columns"])
    _fill_days(mysql_schema, dt.date(2026, 8, 1), 36)  # Aug 1 .. Sep 5
    kept = mysql_schema.execute("SELECT id FROM events WHERE account_id = 0 ORDER BY id")
    ctx = build_context(_job(mysql_schema, tmp_path, where="account_id <> 0"))
    report = _purge(ctx)
    assert report.ok, report.errors
    assert report.dropped == [] and not [n for n in report.notes if "not dropped" in n]
    assert len(report.purged) == 36
    assert mysql_schema.execute("SELECT id FROM events ORDER BY id") == kept
    ctx.source.close()


class _Events:
    """A reporter that keeps every event."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def emit(self, event: Event) -> None:
        self.events.append(event)


def test_partition_with_an_unverified_row_is_not_dropped(
    mysql_schema: MySqlSchema, tmp_path: Path
) -> None:
    """A row that no archive holds (fail mode) keeps its whole partition from being dropped: its
    other days are purged chunk by chunk, that day keeps every row and is reported."""
    mysql_schema.execute(PARTITIONED["range_columns"])
    _fill_days(mysql_schema, dt.date(2026, 8, 1), 31)
    events = _Events()
    ctx = build_context(_job(mysql_schema, tmp_path, on_unarchived="fail"), reporter=events)
    for i in range(31):
        export_day(ctx, ctx.job.tables[0], dt.date(2026, 8, 1) + dt.timedelta(days=i))
    mysql_schema.execute(
        "INSERT INTO events (created_at, account_id) VALUES ('2026-08-15 10:00:00', 1)"
    )
    report = _failed(_purge(ctx), "on_unarchived", dt.date(2026, 8, 15))
    assert (report.dropped, report.rows_deleted) == ([], 30 * PER_DAY)
    assert _days_in_db(mysql_schema) == {dt.date(2026, 8, 15): PER_DAY + 1}
    checks = [
        e for e in events.events if e.day == "2026-08-15" and e.message.startswith("checking")
    ]
    assert len(checks) == 1, "the failing day is verified once, not again by the chunked purge"
    ctx.source.close()


def test_lock_wait_timeout_is_retried(mysql_schema: MySqlSchema, tmp_path: Path) -> None:
    """A row locked by the application makes a chunk time out; it rolls back, retries, succeeds.

    The application commits (releasing the row) when the purge's locking read has timed out on
    it, so the first attempt fails and the retry succeeds, whatever the machine's speed."""
    from dbarchive.errors import SourceError
    from tests.integration.mysql_fixtures import _connect

    mysql_schema.execute(LOG_TABLE_DDL)
    day = TODAY - dt.timedelta(days=70)
    _fill_days(mysql_schema, day, 1)
    job = _job(mysql_schema, tmp_path)
    job = job.model_copy(
        update={"throttle": job.throttle.model_copy(update={"lock_wait_timeout": 1})}
    )
    ctx = build_context(job)
    export_day(ctx, job.tables[0], day)
    holder = _connect(mysql_schema.name)
    holder.autocommit(False)
    with holder.cursor() as cur:
        cur.execute("SELECT id FROM events ORDER BY id LIMIT 1 OFFSET 10 FOR UPDATE")
    timeouts: list[str] = []
    query = ctx.source.query

    def query_releasing_after_a_timeout(sql: str, *args: Any, **kwargs: Any) -> Any:
        try:
            return query(sql, *args, **kwargs)
        except SourceError as exc:
            if exc.mysql_code == 1205:  # ER_LOCK_WAIT_TIMEOUT
                timeouts.append(sql)
                holder.commit()
            raise

    ctx.source.query = query_releasing_after_a_timeout  # type: ignore[method-assign]
    report = _purge(ctx)
    holder.close()
    assert len(timeouts) == 1 and timeouts[0].endswith("FOR UPDATE")
    assert report.rows_deleted == PER_DAY
    assert report.purged[0].retries == 1
    assert _days_in_db(mysql_schema) == {}
    ctx.source.close()


@pytest.mark.parametrize("policy", ["purge_chunk", "one attempt"])
def test_a_failed_chunk_is_redone_as_the_purge_chunk_policy_says(
    mysql_schema: MySqlSchema, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, policy: str
) -> None:
    """The purge asks ``retry.purge_chunk`` how often to redo a chunk (test_retry.py checks the
    policy's numbers, this that the purge obeys them): a lock-wait timeout on the first locking
    read is redone under the real policy, and fails the purge, deleting nothing, under a policy
    that allows one attempt."""
    from dbarchive.errors import SourceError
    from dbarchive.sources import retry

    mysql_schema.execute(LOG_TABLE_DDL)
    day = TODAY - dt.timedelta(days=70)
    _fill_days(mysql_schema, day, 1)
    ctx = build_context(_job(mysql_schema, tmp_path))
    export_day(ctx, ctx.job.tables[0], day)
    asked: list[int] = []
    real_policy = retry.purge_chunk

    def recorded(max_retries: int) -> retry.RetryPolicy:
        asked.append(max_retries)
        chosen = real_policy(max_retries)
        return chosen.with_attempts(1) if policy == "one attempt" else chosen

    monkeypatch.setattr(retry, "purge_chunk", recorded)
    query, locking_reads = ctx.source.query, []

    def timing_out_once(sql: str, *args: Any, **kwargs: Any) -> Any:
        if sql.endswith("FOR UPDATE"):
            locking_reads.append(sql)
            if len(locking_reads) == 1:
                error = SourceError("Lock wait timeout exceeded (injected)")
                error.mysql_code = 1205  # ER_LOCK_WAIT_TIMEOUT: in CHUNK_RETRYABLE
                raise error
        return query(sql, *args, **kwargs)

    ctx.source.query = timing_out_once  # type: ignore[method-assign]
    manifest = _manifest(ctx, day)
    assert manifest is not None
    if policy == "one attempt":
        with pytest.raises(SourceError, match="injected"):
            purge_day(ctx, ctx.job.tables[0], manifest, build_throttle(ctx))
        assert len(locking_reads) == 1
        assert _days_in_db(mysql_schema) == {day: PER_DAY}
    else:
        result = purge_day(ctx, ctx.job.tables[0], manifest, build_throttle(ctx))
        assert (result.rows_deleted, result.retries) == (PER_DAY, 1)
        assert _days_in_db(mysql_schema) == {}
    assert asked == [ctx.job.throttle.max_retries]
    ctx.source.close()


def test_a_where_filter_with_percent_signs_archives_and_purges_only_its_rows(
    mysql_schema: MySqlSchema, tmp_path: Path
) -> None:
    """``note LIKE '%5'`` (a % in the filter, beside the driver's own %s parameters): the run
    archives, verifies and deletes exactly the matching expired rows and keeps every other."""
    mysql_schema.execute(LOG_TABLE_DDL)
    _fill_days(mysql_schema, TODAY - dt.timedelta(days=63), 3)
    matching = mysql_schema.execute("SELECT COUNT(*) FROM events WHERE note LIKE '%5'")[0][0]
    others = mysql_schema.execute("SELECT COUNT(*) FROM events WHERE note NOT LIKE '%5'")[0][0]
    assert 0 < matching < others
    ctx = build_context(_job(mysql_schema, tmp_path, where="note LIKE '%5'"))
    (report,) = run(ctx, list(ctx.job.tables), TODAY, build_throttle(ctx))
    assert report.ok, report.errors
    assert report.rows_deleted == matching
    days = [TODAY - dt.timedelta(days=i) for i in (61, 62, 63)]
    assert sum(m.rows for d in days if (m := _manifest(ctx, d))) == matching
    assert mysql_schema.execute("SELECT COUNT(*) FROM events WHERE note LIKE '%5'")[0][0] == 0
    assert mysql_schema.execute("SELECT COUNT(*) FROM events")[0][0] == others
    ctx.source.close()


def test_a_filtered_table_is_done_after_one_run_and_nothing_counts_the_rows_it_leaves_out(
    mysql_schema: MySqlSchema, tmp_path: Path
) -> None:
    """The rows a ``where`` filter leaves out stay in the table, and no count sees them: a second
    run exports and purges nothing, and the dry run and the backlog count the filter's rows (an
    outside trial: every run exported the whole retention window again, "unchanged", purged
    days holding only left-out rows deleting 0, and the backlog never shrank)."""
    from dbarchive.jobs import backlog
    from dbarchive.jobs.catch_up import day_rows
    from dbarchive.jobs.purge_preview import preview

    mysql_schema.execute(LOG_TABLE_DDL)
    _fill_days(mysql_schema, TODAY - dt.timedelta(days=65), 5)  # expired: 65 .. 61 days ago
    _fill_days(mysql_schema, TODAY - dt.timedelta(days=3), 3)  # kept: 3 .. 1 days ago
    older = (TODAY - dt.timedelta(days=63)).isoformat()
    mysql_schema.execute("UPDATE events SET account_id = 0 WHERE created_at < %s", (older,))
    left_out = mysql_schema.execute("SELECT COUNT(*) FROM events WHERE account_id = 0")[0][0]
    ctx = build_context(_job(mysql_schema, tmp_path, where="account_id <> 0"))
    spec = ctx.job.tables[0]
    (first,) = run(ctx, [spec], TODAY, build_throttle(ctx))
    assert first.ok, first.errors
    assert mysql_schema.execute("SELECT COUNT(*) FROM events WHERE created_at < %s", (older,)) == [
        (2 * PER_DAY,)
    ]
    assert preview(ctx, spec, TODAY).days == ()
    (second,) = run(ctx, [spec], TODAY, build_throttle(ctx))
    assert second.ok, second.errors
    assert [(r.day, r.published) for r in second.exported] == []
    assert [(r.day, r.rows_deleted) for r in second.purged] == []
    behind = backlog.measure(ctx, spec, TODAY, day_rows)
    assert (behind.days, behind.rows) == (0, 0)
    assert (
        mysql_schema.execute("SELECT COUNT(*) FROM events WHERE account_id = 0")[0][0] == left_out
    )
    ctx.source.close()


def test_verify_reads_the_database_while_the_files_are_read(
    mysql_schema: MySqlSchema, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The files and the day's rows are checked side by side: with a storage read that waits
    until the database digest is done (it would wait forever if verify read one after the
    other on one thread), the file is opened on verify's own thread; the verdict is the same,
    and a damaged file is still reported. Either reader (C or pure Python) is watched."""
    import threading

    from dbarchive.steps import verify
    from dbarchive.steps.verify import verify_day

    mysql_schema.execute(LOG_TABLE_DDL)
    day = TODAY - dt.timedelta(days=3)
    _fill_days(mysql_schema, day, 1, per_day=80)
    ctx = build_context(_job(mysql_schema, tmp_path))
    spec = ctx.job.tables[0]
    export_day(ctx, spec, day)
    log: list[str] = []
    database_read = threading.Event()
    source_digest = verify.source_digest
    open_reader = ctx.storage.open_reader

    def logged_source_digest(*args: Any, **kwargs: Any) -> Any:
        digest = source_digest(*args, **kwargs)
        log.append("database read")
        database_read.set()
        return digest

    def open_reader_after_the_database(key: str) -> Any:
        database_read.wait(30)  # only a bound for a failing run: it goes on and fails below
        log.append(f"file opened on {threading.current_thread().name}")
        return open_reader(key)

    monkeypatch.setattr(verify, "source_digest", logged_source_digest)
    ctx.storage.open_reader = open_reader_after_the_database  # type: ignore[method-assign]
    result = verify_day(ctx, spec, day, "rows")
    assert result.ok and result.source_rows == result.archived_rows == 80
    assert log == ["database read", "file opened on dbarchive-verify"]

    (part,) = _manifest(ctx, day).files  # type: ignore[union-attr]
    (tmp_path / part.key).write_bytes(b"damaged")
    damaged = verify_day(ctx, spec, day, "bytes")
    assert not damaged.ok and part.key in damaged.problems[0]
