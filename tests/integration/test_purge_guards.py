"""The purge's last guards, each made to fire against the real MariaDB (issue 16, item 5).

- the affected-row count of a chunk's DELETE (``ChunkMismatch``), with the chunk's isolation level;
- the general walk's row matching (composite and string keys), for rows changed after verify;
- the check of each archive file's size and SHA-256 before the purge uses a row of it.

A test acts at an exact step of the purge through its failpoints, in this process: ``at_point``
runs an action the first time the purge reaches a named point (``failpoints.py``).
"""

from __future__ import annotations

import datetime as dt
import gzip
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import MySQLdb
import pytest

from dbarchive import build_context, failpoints
from dbarchive.build import build_throttle
from dbarchive.jobs.daily import TableReport, purge_table
from dbarchive.layout import PartitionPath
from dbarchive.manifest import Manifest
from dbarchive.pipeline import export_day
from dbarchive.steps.archive_files import iter_archive_rows
from dbarchive.steps.purge import purge_day
from tests.integration.helpers import LOG_TABLE_DDL, fill_events, make_job
from tests.integration.mysql_fixtures import MySqlSchema, mysql_schema  # noqa: F401

TODAY = dt.date(2026, 11, 25)
DAY = TODAY - dt.timedelta(days=70)
LOCK_WAIT_TIMEOUT = 1205


@pytest.fixture
def at_point(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Callable[[], None]]]:
    """``at_point[name] = action``: run ``action`` the first time the purge reaches ``name``."""
    actions: dict[str, Callable[[], None]] = {}
    real = failpoints.hit

    def hit(name: str) -> None:
        action = actions.pop(name, None)
        if action is not None:
            action()
        real(name)

    monkeypatch.setattr(failpoints, "hit", hit)
    yield actions
    assert not actions, f"the purge never reached {sorted(actions)}"


def _job(schema: MySqlSchema, dest: Path, table: str = "events", **throttle: Any) -> Any:
    spec = {"name": table, "timestamp_column": "created_at", "retention": "60 days"}
    job = make_job(schema.url, str(dest), [spec])
    return job.model_copy(update={"throttle": job.throttle.model_copy(update=throttle)})


def _manifest(ctx: Any, table: str, day: dt.date) -> Manifest:
    raw = ctx.storage.get_bytes(PartitionPath(table, day).manifest_key)
    assert raw is not None
    return Manifest.loads(raw)


def _isolation_of(schema: MySqlSchema, thread_id: int) -> str:
    """The isolation level of the transaction open in session ``thread_id``.

    INNODB_TRX is a snapshot refreshed only when it was last read (by anyone on the server)
    over 0.1 s ago, so a transaction just begun may not be in it yet: ask until it is."""
    deadline = time.monotonic() + 60  # only a bound for a failing run
    while not (
        rows := schema.execute(
            "SELECT trx_isolation_level FROM information_schema.INNODB_TRX "
            "WHERE trx_mysql_thread_id = %s",
            (thread_id,),
        )
    ):
        assert time.monotonic() < deadline, f"no transaction in session {thread_id}"
        time.sleep(0.2)  # slower than the refresh, so each read can refresh the snapshot
    return str(rows[0][0])


# --- 1. the affected-row count of a chunk's DELETE -------------------------------------------


@pytest.mark.parametrize("statement_rows", [None, 4])
def test_row_inserted_into_a_chunks_key_range_before_its_delete_is_kept(
    mysql_schema: MySqlSchema,
    tmp_path: Path,
    at_point: dict[str, Callable[[], None]],
    statement_rows: int | None,
) -> None:
    """A row inserted inside the key range of a chunk, after its locking read and before its range
    DELETE, is deleted too by that DELETE: the affected count (51, not 50) rolls the chunk back,
    and the retry keeps the new row. The chunk runs in READ COMMITTED even on a session whose
    default is SERIALIZABLE (so the insert is not held back by a gap lock). With statements of 4
    rows, id 9 falls between two reads (…8 and 10…): the DELETE ranges tile the chunk, so one of
    them still meets it."""
    mysql_schema.execute(LOG_TABLE_DDL)
    # ids 2, 4, … 100: dense, so the day is read by key and a whole chunk deleted as one range
    mysql_schema.execute(
        "INSERT INTO events (id, created_at, account_id, amount, note) "
        "SELECT seq * 2, TIMESTAMP(%s) + INTERVAL seq * 1000 SECOND, seq MOD 7, seq / 4, "
        "CONCAT('n', seq) FROM seq_1_to_50",
        (DAY.isoformat(),),
    )
    ctx = build_context(_job(mysql_schema, tmp_path, statement_rows=statement_rows))
    export_day(ctx, ctx.job.tables[0], DAY)
    ctx.source.query("SET SESSION TRANSACTION ISOLATION LEVEL SERIALIZABLE")
    ((purger_id,),) = ctx.source.query("SELECT CONNECTION_ID()")
    seen: list[str] = []

    def insert_into_the_locked_range() -> None:
        level = _isolation_of(mysql_schema, int(purger_id))
        seen.append(level)
        mysql_schema.execute("SET SESSION innodb_lock_wait_timeout = 5")
        try:
            mysql_schema.execute(
                "INSERT INTO events (id, created_at, account_id, note) VALUES (9, %s, 1, 'new')",
                (f"{DAY} 00:20:00",),
            )
        except MySQLdb.OperationalError as exc:
            if exc.args[0] == LOCK_WAIT_TIMEOUT:
                pytest.fail(f"the insert waited for a gap lock: the chunk ran in {level}")
            raise

    at_point["purge.chunk-locked"] = insert_into_the_locked_range
    result = purge_day(ctx, ctx.job.tables[0], _manifest(ctx, "events", DAY), build_throttle(ctx))
    assert seen == ["READ COMMITTED"]
    assert (result.rows_deleted, result.rows_kept, result.retries) == (50, 1, 1)
    assert mysql_schema.execute("SELECT id, note FROM events") == [(9, "new")]
    ctx.source.close()


# --- 2. the general walk: composite and string keys ------------------------------------------

LEDGER_DDL = """
CREATE TABLE ledger (
  account {account} NOT NULL, seq INT NOT NULL, created_at DATETIME(6) NOT NULL,
  amount DECIMAL(18,4) NULL, note TEXT NULL,
  PRIMARY KEY (account, seq), KEY idx_created (created_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4
"""
LEDGER_ROWS = 400


def _ledger_rows(ctx: Any) -> dict[tuple[bytes, bytes], tuple[bytes | None, ...]]:
    """Every row of the ledger as the archive writes it (raw server text), by key."""
    rows = ctx.source.query("SELECT account, seq, created_at, amount, note FROM ledger")
    return {(r[0], r[1]): tuple(r) for r in rows}


@pytest.mark.parametrize("statement_rows", [None, 7])
@pytest.mark.parametrize("account", ["INT", "VARCHAR(16)"])
def test_composite_key_row_changed_or_added_after_verification_is_kept(
    mysql_schema: MySqlSchema,
    tmp_path: Path,
    at_point: dict[str, Callable[[], None]],
    account: str,
    statement_rows: int | None,
) -> None:
    """Composite key (account, seq), so the purge walks the archive in (time, key) order and
    matches row by row. A row updated and a row inserted after the day verified are kept by the
    chunk that meets them, and every deleted row is in the archive; the run then archives them
    (the day grows) and deletes them in a second pass. A string key under a collation (no order
    the walk can compare like MySQL's) is matched among the rows of the same time; it used to stop
    the day at the first row the archive did not hold. The same in statements of 7 rows: each
    read goes on after the last (time, key) the previous one locked, and the deletes name their
    keys."""
    mysql_schema.execute(LEDGER_DDL.format(account=account))
    mysql_schema.execute(
        "INSERT INTO ledger SELECT seq MOD 5, seq, TIMESTAMP(%s) + INTERVAL seq * 200 SECOND, "
        "seq / 8, CONCAT('row ', seq) FROM seq_1_to_" + str(LEDGER_ROWS),
        (DAY.isoformat(),),
    )
    ctx = build_context(
        _job(
            mysql_schema,
            tmp_path,
            "ledger",
            max_chunk_rows=50,
            min_chunk_rows=50,
            statement_rows=statement_rows,
        )
    )
    spec = ctx.job.tables[0]
    export_day(ctx, spec, DAY)
    before = _ledger_rows(ctx)

    def change_the_day() -> None:
        mysql_schema.execute("UPDATE ledger SET note = 'changed' WHERE seq = 233")
        mysql_schema.execute(
            "INSERT INTO ledger VALUES (4, 100000, %s, 1, 'added')", (f"{DAY} 10:00:00.5",)
        )

    at_point["purge.after-verify"] = change_the_day
    report = TableReport("ledger")
    purge_table(ctx, spec, TODAY, build_throttle(ctx), report)  # kept, archived, then purged
    first, second = report.purged
    assert (first.rows_deleted, first.rows_kept) == (LEDGER_ROWS - 1, 2)
    assert (second.rows_deleted, second.rows_kept) == (2, 0) and report.ok
    assert _manifest(ctx, "ledger", DAY).generation == 2
    after = _ledger_rows(ctx)
    archived = {tuple(row) for row in iter_archive_rows(ctx.storage, _manifest(ctx, "ledger", DAY))}
    assert after == {} and {r[4] for r in archived} >= {b"changed", b"added"}
    gone = [row for key, row in before.items() if key not in after]
    assert gone and all(row in archived for row in gone)  # nothing deleted that is not archived
    ctx.source.close()


# --- 3. each archive file is checked before the purge uses a row of it ------------------------

FILE_ROWS = 60_000


def _edit_last_row(data: bytes) -> bytes:
    text = gzip.decompress(data)
    head, last = text.rstrip(b"\n").rsplit(b"\n", 1)
    return gzip.compress(head + b"\n" + last.replace(b'"row ', b'"edited row ') + b"\n", mtime=0)


def _cut_in_half(data: bytes) -> bytes:
    return data[: len(data) // 2]


@pytest.mark.parametrize("change", [_edit_last_row, _cut_in_half], ids=["edited", "truncated"])
def test_file_changed_between_verification_and_purge_blocks_every_row_it_holds(
    mysql_schema: MySqlSchema,
    tmp_path: Path,
    at_point: dict[str, Callable[[], None]],
    change: Callable[[bytes], bytes],
) -> None:
    """The day verifies, then its file changes (one row edited, or cut in half) before the purge
    reads it: the purge checks the file's size and SHA-256 before using any row of it, so it
    stops naming the file and deletes nothing — not even the rows the changed file still holds
    intact (the walk stops reading once it has the last chunk's keys, so a check at the file's
    end would never run, or run after the first chunks were deleted)."""
    mysql_schema.execute(LOG_TABLE_DDL)
    fill_events(mysql_schema, DAY.isoformat(), FILE_ROWS)
    ctx = build_context(_job(mysql_schema, tmp_path, max_chunk_rows=500, min_chunk_rows=500))
    spec = ctx.job.tables[0]
    export_day(ctx, spec, DAY)
    (entry,) = _manifest(ctx, "events", DAY).files
    part = tmp_path / entry.key

    at_point["purge.after-verify"] = lambda: part.write_bytes(change(part.read_bytes()))
    report = TableReport("events")
    purge_table(ctx, spec, TODAY, build_throttle(ctx), report)
    assert mysql_schema.execute("SELECT COUNT(*) FROM events") == [(FILE_ROWS,)]
    assert report.verified[0].ok  # the change came after the verification
    (stopped,) = report.errors  # the day is reported; the purge would go on to the next
    assert f"{entry.key}: " in stopped and [f.day for f in report.failures] == [DAY]
    assert "differs from the manifest" in stopped or "bytes stored" in stopped
    ctx.source.close()


def test_a_day_stopped_by_a_damaged_file_after_deleting_rows_stays_begun(
    mysql_schema: MySqlSchema, tmp_path: Path, at_point: dict[str, Callable[[], None]]
) -> None:
    """A day of several files, its last one changed after the verification: the purge deletes
    the rows of the first files, then stops at the changed one. Its purge record must still say
    the purge began, so no export replaces the archive of the rows already deleted (a purge
    that deleted nothing puts the record back: tests/integration/test_damaged_records.py)."""
    mysql_schema.execute(LOG_TABLE_DDL)
    fill_events(mysql_schema, DAY.isoformat(), FILE_ROWS)
    spec = {"name": "events", "timestamp_column": "created_at", "retention": "60 days"}
    job = make_job(mysql_schema.url, str(tmp_path), [spec], compression="none", max_file_mib=1)
    ctx = build_context(job)
    export_day(ctx, ctx.job.tables[0], DAY)
    files = _manifest(ctx, "events", DAY).files
    assert len(files) > 1
    last = tmp_path / files[-1].key
    at_point["purge.after-verify"] = lambda: last.write_bytes(last.read_bytes()[:-10])
    report = TableReport("events")
    purge_table(ctx, ctx.job.tables[0], TODAY, build_throttle(ctx), report)
    (error,) = report.errors
    assert files[-1].key in error
    (left,) = mysql_schema.execute("SELECT COUNT(*) FROM events")[0]
    assert 0 < left < FILE_ROWS, "the first files' rows were deleted"
    # and the report counts them (it said deleted_rows=0, purged_days=0: an outside trial)
    assert [p.day for p in report.purged] == [DAY] and report.rows_deleted == FILE_ROWS - left
    marker = ctx.storage.get_bytes(PartitionPath("events", DAY).purge_marker_key)
    assert marker is not None and b'"started"' in marker
    ctx.source.close()
