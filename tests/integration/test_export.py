"""Export behaviour against the real MariaDB: day windows, idempotence, chunking, safety."""

from __future__ import annotations

import datetime as dt
import json
import threading
from pathlib import Path
from typing import Any

import MySQLdb
import pytest

from dbarchive import SourceError, build_context, export_day
from dbarchive.events import Event
from dbarchive.layout import PartitionPath
from dbarchive.manifest import Manifest
from dbarchive.sources import mysql_sql as q
from dbarchive.steps import upload
from tests.integration.helpers import LOG_TABLE_DDL, fill_events, make_job
from tests.integration.mysql_fixtures import MySqlSchema, mysql_schema  # noqa: F401

DAY = dt.date(2026, 11, 24)


def _events_job(schema: MySqlSchema, dest: Path, **table: Any) -> Any:
    return make_job(
        schema.url, str(dest), [{"name": "events", "timestamp_column": "created_at", **table}]
    )


def _manifest(ctx: Any, day: dt.date, table: str = "events") -> Manifest:
    raw = ctx.storage.get_bytes(PartitionPath(table, day).manifest_key)
    assert raw is not None, "partition has no manifest"
    return Manifest.loads(raw)


def _all_keys(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())


def test_boundary_rows_fall_in_the_right_day(mysql_schema: MySqlSchema, tmp_path: Path) -> None:
    """00:00:00.000000 belongs to its day, 23:59:59.999999 too; the neighbours' edges do not."""
    mysql_schema.execute(LOG_TABLE_DDL)
    stamps = ["2026-11-23 23:59:59.999999", "2026-11-24 00:00:00.000000",
              "2026-11-24 23:59:59.999999", "2026-11-25 00:00:00.000000"]  # fmt: skip
    mysql_schema.executemany(
        "INSERT INTO events (created_at, account_id, note) VALUES (%s, 1, %s)",
        [(s, s) for s in stamps],
    )
    ctx = build_context(_events_job(mysql_schema, tmp_path))
    for day, expected in [(dt.date(2026, 11, 23), 1), (DAY, 2), (dt.date(2026, 11, 25), 1)]:
        assert export_day(ctx, ctx.job.tables[0], day).rows == expected
    assert _manifest(ctx, DAY).min_key == ["2"]
    assert _manifest(ctx, DAY).max_key == ["3"]


def test_dst_day_in_a_local_zone(mysql_schema: MySqlSchema, tmp_path: Path) -> None:
    """With timezone America/New_York, 2026-03-08 is the 23 hours from 05:00 to 04:00 UTC."""
    mysql_schema.execute(LOG_TABLE_DDL.replace("DATETIME(6)", "TIMESTAMP(6)"))
    mysql_schema.execute("SET SESSION time_zone = '+00:00'")
    stamps = ["2026-03-08 04:59:59.999999", "2026-03-08 05:00:00.000000",
              "2026-03-09 03:59:59.999999", "2026-03-09 04:00:00.000000"]  # fmt: skip
    mysql_schema.executemany(
        "INSERT INTO events (created_at, account_id) VALUES (%s, 1)", [(s,) for s in stamps]
    )
    ctx = build_context(_events_job(mysql_schema, tmp_path, timezone="America/New_York"))
    result = export_day(ctx, ctx.job.tables[0], dt.date(2026, 3, 8))
    manifest = _manifest(ctx, dt.date(2026, 3, 8))
    assert result.rows == 2
    assert manifest.query_window == ("2026-03-08 05:00:00.000000", "2026-03-09 04:00:00.000000")
    assert manifest.window_start == "2026-03-08T00:00:00-05:00"
    assert manifest.window_end == "2026-03-09T00:00:00-04:00"


def test_exporting_twice_is_idempotent(mysql_schema: MySqlSchema, tmp_path: Path) -> None:
    """The same day exported twice gives the same manifest content and byte-identical files."""
    mysql_schema.execute(LOG_TABLE_DDL)
    fill_events(mysql_schema, "2026-11-24", 30_000)
    ctx = build_context(
        _events_job(mysql_schema, tmp_path, compression="none", max_file_mib=1, chunk_rows=2000)
    )
    first = export_day(ctx, ctx.job.tables[0], DAY)
    files_before = {k: (tmp_path / k).read_bytes() for k in _all_keys(tmp_path) if "part-" in k}
    content = _manifest(ctx, DAY).content()
    second = export_day(ctx, ctx.job.tables[0], DAY)
    assert len(first.files) >= 2, "the test needs several parts"
    assert first.files == second.files
    assert _manifest(ctx, DAY).content() == content
    assert {
        k: (tmp_path / k).read_bytes() for k in _all_keys(tmp_path) if "part-" in k
    } == files_before
    others = [k for k in _all_keys(tmp_path) if "part-" not in k and "_manifest" not in k]
    assert others == ["events/_dbarchive_table.json"]  # the folder's claim, and nothing else


def test_stale_parts_of_an_earlier_attempt_are_removed(
    mysql_schema: MySqlSchema, tmp_path: Path
) -> None:
    """Data files of this or older generations that the new manifest does not list are deleted
    after it; a file of a higher generation (an export in flight) is left alone."""
    mysql_schema.execute(LOG_TABLE_DDL)
    fill_events(mysql_schema, "2026-11-24", 500)
    ctx = build_context(_events_job(mysql_schema, tmp_path))
    stale = PartitionPath("events", DAY).part_key(7, "csv.gz")
    ctx.storage.put_bytes(stale, b"left by a crashed, larger attempt")
    in_flight = PartitionPath("events", DAY).for_generation(9, staged=True)
    ctx.storage.put_bytes(in_flight.write_key(in_flight.part_key(0, "csv.gz")), b"in flight")
    result = export_day(ctx, ctx.job.tables[0], DAY)
    assert result.removed_stale == (stale,)
    assert ctx.storage.stat(stale) is None
    assert ctx.storage.stat(in_flight.write_key(in_flight.part_key(0, "csv.gz"))) is not None
    assert [f.key for f in _manifest(ctx, DAY).files] == list(result.files)


def test_empty_day_gets_a_manifest(mysql_schema: MySqlSchema, tmp_path: Path) -> None:
    """An empty day is 'archived and empty': a manifest with 0 rows and no files."""
    mysql_schema.execute(LOG_TABLE_DDL)
    fill_events(mysql_schema, "2026-11-23", 10)
    ctx = build_context(_events_job(mysql_schema, tmp_path))
    assert export_day(ctx, ctx.job.tables[0], DAY).rows == 0
    manifest = _manifest(ctx, DAY)
    assert (manifest.rows, manifest.files) == (0, ())


def test_archive_is_never_replaced_by_fewer_rows(mysql_schema: MySqlSchema, tmp_path: Path) -> None:
    """If the source lost rows of an archived day, a re-export keeps the archive (their only
    copy): the day is recorded as grown-only and gains only rows it lacks. It used to refuse,
    so every daily run failed (exit 5) over a routine application DELETE (an outside trial)."""
    mysql_schema.execute(LOG_TABLE_DDL)
    fill_events(mysql_schema, "2026-11-24", 1000)
    ctx = build_context(_events_job(mysql_schema, tmp_path))
    export_day(ctx, ctx.job.tables[0], DAY)
    before = {k: (tmp_path / k).read_bytes() for k in _all_keys(tmp_path)}
    mysql_schema.execute("DELETE FROM events WHERE id <= 600")
    again = export_day(ctx, ctx.job.tables[0], DAY)
    assert not again.published  # nothing the archive lacks
    after = {k: (tmp_path / k).read_bytes() for k in _all_keys(tmp_path)}
    marker = ctx.partition(ctx.job.tables[0], DAY).purge_marker_key
    assert json.loads(after.pop(marker))["cause"] == upload.GONE_RECORD["cause"]
    assert after == before
    mysql_schema.execute(
        "INSERT INTO events (created_at, account_id) VALUES ('2026-11-24 12:00:00', 7)"
    )
    grown = export_day(ctx, ctx.job.tables[0], DAY)
    assert grown.published and grown.generation == 2
    assert _manifest(ctx, DAY).effective_digest.count == 1001  # the 600 rows kept, one gained


def test_late_rows_are_picked_up_by_a_rerun(mysql_schema: MySqlSchema, tmp_path: Path) -> None:
    """Rows inserted later for an archived day (new, larger ids) are in the re-export."""
    mysql_schema.execute(LOG_TABLE_DDL)
    fill_events(mysql_schema, "2026-11-24", 100)
    fill_events(mysql_schema, "2026-11-25", 100)
    ctx = build_context(_events_job(mysql_schema, tmp_path))
    export_day(ctx, ctx.job.tables[0], DAY)
    mysql_schema.execute(
        "INSERT INTO events (created_at, account_id) VALUES ('2026-11-24 12:00:00', 7)"
    )
    assert export_day(ctx, ctx.job.tables[0], DAY).rows == 101


class _TrxWatcher:
    """At every chunk, asks the server (from another session) whether the reader holds a trx."""

    def __init__(self, conn: Any, thread_ids: list[int]) -> None:
        self.conn, self.thread_ids, self.open_trx, self.chunks = conn, thread_ids, 0, 0

    def emit(self, event: Event) -> None:
        if event.kind != "chunk":
            return
        self.chunks += 1
        self.open_trx += self._transaction_beyond_a_statement()

    def _transaction_beyond_a_statement(self) -> bool:
        """Whether a reading session has a transaction that is not one autocommit read.

        A statement in flight (the read-ahead thread's SELECT) is an autocommit non-locking
        transaction that ends with it; a transaction held across chunks (BEGIN, autocommit off)
        is not. INNODB_TRX is a snapshot refreshed at most every 0.1 s, so the statement a row
        shows may be over already: it says only what kind of transaction there was, never
        whether the session is idle now, so it is not joined with PROCESSLIST for that."""
        with self.conn.cursor() as cur:
            cur.execute(
                "SELECT COUNT(*) FROM information_schema.INNODB_TRX"
                " WHERE trx_autocommit_non_locking = 0"
                f" AND trx_mysql_thread_id IN ({', '.join(map(str, self.thread_ids))})"
            )
            return bool(cur.fetchone()[0])


@pytest.mark.parametrize("scan", ["key", "time"])
def test_day_is_read_in_bounded_short_statements(
    mysql_schema: MySqlSchema, tmp_path: Path, scan: str
) -> None:
    """N rows take ~N/chunk SELECTs of at most chunk rows, on an index, with no trx held between."""
    mysql_schema.execute(LOG_TABLE_DDL)
    fill_events(mysql_schema, "2026-11-24", 10_500)
    fill_events(mysql_schema, "2026-11-25", 3_000)
    ctx = build_context(_events_job(mysql_schema, tmp_path, chunk_rows=1000, scan=scan))
    sessions = ctx.source.reading_sessions()
    watcher = _TrxWatcher(mysql_schema.conn, sessions)
    ctx.reporter = watcher
    selects_before = _reader_selects(ctx)
    result = export_day(ctx, ctx.job.tables[0], DAY)
    counters = ctx.source.counters
    assert result.rows == 10_500
    assert counters.max_chunk_rows == 1000
    assert len(counters.chunk_sql) == 11  # 10 full chunks and one of 500
    assert all("OFFSET" not in s.upper() and s.endswith("LIMIT 1000") for s in counters.chunk_sql)
    # The server's own count of SELECTs run by the reading sessions: chunks + plan queries, and
    # the run lock's check before each chunk is written, before the publication, before the
    # manifest's commit and before the clean-up (14).
    assert 11 <= _reader_selects(ctx) - selects_before - 14 <= 15
    assert watcher.chunks == 11
    assert watcher.open_trx == 0
    info = ctx.describe(ctx.job.tables[0])
    window = ctx.source.window(ctx.job.tables[0], info, DAY)
    shape = q.select_shape(info)
    if scan == "key":
        plan = ctx.source.explain(
            q.key_chunk_sql(info, shape, False, 1000),
            [5000, 10_500, window.start_param, window.end_param],
        )
        assert plan[0]["key"] == "PRIMARY"
    else:
        sql = q.time_chunk_sql(info, shape, False, 1000)
        plan = ctx.source.explain(
            sql,
            [
                window.start_param,
                window.end_param,
                "2026-11-24 12:00:00",
                "2026-11-24 12:00:00",
                5000,
            ],
        )
        assert plan[0]["key"] == "idx_created"
        assert "filesort" not in (plan[0]["Extra"] or "")
    assert plan[0]["type"] == "range"
    ctx.source.close()


def _reader_selects(ctx: Any) -> int:
    """Com_select of the reading sessions, each asked in its own session (the C reader's too)."""
    sql = "SHOW SESSION STATUS LIKE 'Com_select'"
    count = int(ctx.source.query(sql)[0][1])
    direct = ctx.source._direct
    if direct is not None:  # its own statement counts itself once, as the driver's does
        count += int(direct.chunk(sql.encode(), 0, [1]).last[1])
    return count


def test_auto_scan_chooses_time_index_when_keys_do_not_follow_time(
    mysql_schema: MySqlSchema, tmp_path: Path
) -> None:
    """Random keys make the key range useless, so auto reads through the time index, exactly."""
    mysql_schema.execute(LOG_TABLE_DDL)
    fill_events(mysql_schema, "2026-11-24", 2000)
    fill_events(mysql_schema, "2026-11-25", 2000)
    # Spread the day's keys 1000 apart: the key range is mostly empty.
    mysql_schema.execute(
        "UPDATE events SET id = id * 1000 + 5000 WHERE created_at < '2026-11-25' ORDER BY id DESC"
    )
    ctx = build_context(_events_job(mysql_schema, tmp_path, chunk_rows=300))
    expected = mysql_schema.execute(
        "SELECT COUNT(*) FROM events WHERE created_at >= '2026-11-24' AND created_at < '2026-11-25'"
    )[0][0]
    result = export_day(ctx, ctx.job.tables[0], DAY)
    assert result.scan == "time"
    assert result.rows == expected == 2000
    info = ctx.describe(ctx.job.tables[0])
    assert (
        ctx.source.digest_day(info, ctx.source.window(ctx.job.tables[0], info, DAY))
        == _manifest(ctx, DAY).digest
    )
    ctx.source.close()


def test_where_filter_and_excluded_columns(mysql_schema: MySqlSchema, tmp_path: Path) -> None:
    """Only filtered rows and non-excluded columns are archived; the manifest records both."""
    mysql_schema.execute(LOG_TABLE_DDL)
    fill_events(mysql_schema, "2026-11-24", 970)
    ctx = build_context(
        _events_job(mysql_schema, tmp_path, where="account_id < 10", exclude_columns=["note"])
    )
    result = export_day(ctx, ctx.job.tables[0], DAY)
    assert (
        result.rows
        == mysql_schema.execute("SELECT COUNT(*) FROM events WHERE account_id < 10")[0][0]
    )
    manifest = _manifest(ctx, DAY)
    assert [c.name for c in manifest.columns] == ["id", "created_at", "account_id", "amount"]
    assert manifest.where == "account_id < 10"


def test_reader_session_is_autocommit_and_utc(mysql_schema: MySqlSchema, tmp_path: Path) -> None:
    """The reading session never opens a transaction and reads TIMESTAMP in UTC."""
    mysql_schema.execute(LOG_TABLE_DDL)
    ctx = build_context(_events_job(mysql_schema, tmp_path))
    ((autocommit, zone),) = ctx.source.query("SELECT @@autocommit, @@session.time_zone")
    assert (autocommit, zone) == (b"1", b"+00:00")
    assert isinstance(ctx.source.connect(), MySQLdb.connections.Connection)
    ctx.source.close()


@pytest.mark.parametrize("reader", ["c", "driver"])
def test_a_refused_chunk_is_one_clear_error_and_publishes_nothing(
    mysql_schema: MySqlSchema, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reader: str
) -> None:
    """A chunk statement the server refuses (the table changed under the export) raises one
    SourceError with the server's message, on either read path; no manifest appears."""
    from dbarchive.sources import mysql_direct

    if reader == "driver":
        monkeypatch.setattr(mysql_direct, "_module", None)
    mysql_schema.execute(LOG_TABLE_DDL)
    fill_events(mysql_schema, "2026-11-24", 50)
    ctx = build_context(_events_job(mysql_schema, tmp_path))
    ctx.describe(ctx.job.tables[0])  # the export now believes the column is there
    mysql_schema.execute("ALTER TABLE events DROP COLUMN note")
    with pytest.raises(SourceError, match=r"reading.*Unknown column 'note'"):
        export_day(ctx, ctx.job.tables[0], DAY)
    assert not list(tmp_path.rglob("_manifest.json"))
    ctx.source.close()


def test_numeric_parameters_are_sent_as_numbers(mysql_schema: MySqlSchema, tmp_path: Path) -> None:
    """A BIGINT key above 2**53 goes out as a numeric literal, never as a quoted string (which
    MySQL may compare as a double, merging neighbouring keys)."""
    from decimal import Decimal

    ctx = build_context(_events_job(mysql_schema, tmp_path))
    cursor = ctx.source.connect().cursor()
    assert cursor.mogrify("k > %s AND d > %s", (2**60 + 1, Decimal("1.50"))) == (
        "k > 1152921504606846977 AND d > 1.50"
    )
    ctx.source.close()


def test_an_empty_describe_answer_is_asked_again_before_the_table_is_called_missing(
    mysql_schema: MySqlSchema, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """information_schema answers an interrupted table open (KILL QUERY, seen in the soak tier)
    with no rows and no error: one such answer must not fail the run as "does not exist"."""
    from dbarchive.sources.mysql import MySqlSource

    mysql_schema.execute(LOG_TABLE_DDL)
    fill_events(mysql_schema, "2026-11-24", 20)
    ctx = build_context(_events_job(mysql_schema, tmp_path))
    real, answers = MySqlSource.query, []

    def first_describe_empty(self: Any, sql: str, *args: Any, **kw: Any) -> Any:
        rows = real(self, sql, *args, **kw)
        if "information_schema.COLUMNS" in sql:
            answers.append(len(rows))
            return [] if len(answers) == 1 else rows
        return rows

    monkeypatch.setattr(MySqlSource, "query", first_describe_empty)
    assert export_day(ctx, ctx.job.tables[0], DAY).rows == 20
    assert len(answers) >= 2 and answers[0] == answers[1] > 0  # asked again, same answer
    ctx.source.close()


class _SlowToReachS3:
    """The real S3Storage, with every call written to ``log`` and ``check`` held back until
    ``released`` is set: as if the endpoint answered its first request only after a while."""

    def __init__(self, inner: Any, log: list[str], released: threading.Event) -> None:
        self.inner, self.log, self.released, self.url = inner, log, released, inner.url

    def check(self) -> None:
        self.released.wait(30)  # only a bound for a failing run: it goes on and fails later
        self.log.append("check")
        self.inner.check()

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.inner, name)

        def recorded(*args: Any, **kwargs: Any) -> Any:
            self.log.append(f"{name} {args[0] if args else ''}".strip())
            return attr(*args, **kwargs)

        return recorded


def test_reexport_keeps_the_committed_manifest_and_publishes_in_order(
    mysql_schema: MySqlSchema, tmp_path: Path, s3_bucket: str, s3_options: Any
) -> None:
    """A re-export on S3 of a day that changed: S3 is reached beside MySQL's planning; unfinished
    uploads go before the first byte; the new files are written staged; then the generation is
    claimed, the files promoted, the manifest replaced in one PUT, and only then the old files
    deleted. The committed manifest is never deleted."""
    from dbarchive.events import CaptureReporter
    from dbarchive.storage.s3 import S3Storage

    mysql_schema.execute(LOG_TABLE_DDL)
    fill_events(mysql_schema, "2026-11-24", 3000)
    job = make_job(
        mysql_schema.url,
        f"s3://{s3_bucket}/archive",
        [{"name": "events", "timestamp_column": "created_at", "chunk_rows": 500}],
    )
    s3 = S3Storage(job.destination.url, s3_options)
    first = build_context(job, storage=s3)
    old = export_day(first, job.tables[0], DAY)  # the archive to replace
    first.source.close()  # and its run lock
    mysql_schema.execute("UPDATE events SET note = 'changed' WHERE id = 7")
    log: list[str] = []

    class _Logged(CaptureReporter):
        def emit(self, event: Event) -> None:
            log.append(f"event {event.kind}")

    reachable = threading.Event()
    reachable.set()  # the order is what is checked here, not how long S3 takes to answer
    storage = _SlowToReachS3(s3, log, reachable)
    ctx = build_context(job, reporter=_Logged(), storage=storage)  # type: ignore[arg-type]
    result = export_day(ctx, job.tables[0], DAY)

    day = PartitionPath("events", DAY)
    new_file = result.files[0]
    staged = new_file.replace("/part-", "/_staged-part-")
    assert new_file.endswith("/part-g0002-00000.csv.gz") and old.files[0] not in result.files
    aborted = log.index(f"abort_incomplete {day.prefix}")
    opened = log.index(f"open_writer {staged}")
    claimed = log.index(f"put_if_absent {day.generation_manifest_key(2)}")
    promoted = log.index(f"copy_object {staged}")
    committed = log.index(f"put_if_match {day.manifest_key}")  # conditional on the old one
    removed = next(
        i for i, line in enumerate(log) if line.startswith("delete_keys") and old.files[0] in line
    )
    assert log.index("check") < aborted < opened < claimed < promoted < committed < removed
    assert not [
        line
        for line in log[:committed]
        if line.startswith("delete_keys") and day.manifest_key in line
    ]
    assert result.rows == 3000 and _manifest(ctx, DAY).generation == 2
    assert [o.key for o in s3.list_objects(day.prefix) if "part-" in o.key] == list(result.files)


def test_rows_deleted_while_a_day_is_read_again_never_leave_the_archive(
    mysql_schema: MySqlSchema, tmp_path: Path
) -> None:
    """A day archived, then exported again; while the second export read it, the application
    deleted 18 of its rows not read yet. The replacement held 18 rows fewer, and those rows
    were in neither the database nor the archive (an outside trial). Nothing is published: the
    archive keeps every row, and the day is recorded as only growing from now on."""
    from dbarchive.errors import VerificationError
    from dbarchive.steps.verify import verify_day

    mysql_schema.execute(LOG_TABLE_DDL)
    fill_events(mysql_schema, DAY.isoformat(), 2000)
    ctx = build_context(_events_job(mysql_schema, tmp_path, chunk_rows=500, scan="key"))
    spec = ctx.job.tables[0]
    export_day(ctx, spec, DAY)
    first = _manifest(ctx, DAY)
    (last,) = mysql_schema.execute("SELECT MAX(id) FROM events")[0]

    class DeletesMidRead:
        def __init__(self) -> None:
            self.done = False

        def emit(self, event: Event) -> None:
            if event.kind == "chunk" and not self.done:
                self.done = True
                mysql_schema.execute("DELETE FROM events WHERE id > %s", (int(last) - 18,))

    ctx.reporter = DeletesMidRead()
    with pytest.raises(VerificationError, match="18 archived rows left the database while"):
        export_day(ctx, spec, DAY)
    assert _manifest(ctx, DAY) == first  # the archive keeps them
    assert not [k for k in _all_keys(tmp_path) if "g0002" in k]  # no file of it stays
    marker = upload.read_purge_marker(ctx.storage, ctx.partition(spec, DAY))
    assert upload.grown_only(marker)
    again = export_day(ctx, spec, DAY)  # the next export only grows: nothing new to add
    assert (again.published, again.generation) == (False, 1)
    assert verify_day(ctx, spec, DAY).ok
    ctx.source.close()
