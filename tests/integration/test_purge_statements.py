"""``statement_rows``: a purge chunk's locking read and DELETE as statements of a few rows each,
against the real MariaDB. The rows deleted and kept are the same as with one statement each;
only the statements differ (the reason is production's latency: BENCHMARKS.md)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from dbarchive import build_context
from dbarchive.build import build_throttle
from dbarchive.layout import PartitionPath
from dbarchive.manifest import Manifest
from dbarchive.pipeline import export_day
from dbarchive.steps.purge import purge_day
from tests.integration.helpers import LOG_TABLE_DDL, make_job
from tests.integration.mysql_fixtures import MySqlSchema, mysql_schema  # noqa: F401

DAY = dt.date(2026, 9, 1)
ROWS = 50


def _statements(ctx: Any, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The purge's locking reads and DELETEs, as sent (each still runs on the real server)."""
    sent: list[str] = []
    source = ctx.source
    query, execute = source.query, source.execute

    def spy_query(sql: str, *args: Any, **kwargs: Any) -> Any:
        if sql.endswith("FOR UPDATE"):
            sent.append("read")
        return query(sql, *args, **kwargs)

    def spy_execute(sql: str, *args: Any, **kwargs: Any) -> Any:
        if sql.startswith("DELETE"):
            sent.append("delete")
        return execute(sql, *args, **kwargs)

    monkeypatch.setattr(source, "query", spy_query)
    monkeypatch.setattr(source, "execute", spy_execute)
    return sent


def _purge(
    schema: MySqlSchema, dest: Path, monkeypatch: pytest.MonkeyPatch, **throttle: Any
) -> Any:
    spec = {"name": "events", "timestamp_column": "created_at", "retention": "60 days"}
    job = make_job(schema.url, str(dest), [spec])
    job = job.model_copy(update={"throttle": job.throttle.model_copy(update=throttle)})
    ctx = build_context(job)
    export_day(ctx, ctx.job.tables[0], DAY)
    raw = ctx.storage.get_bytes(PartitionPath("events", DAY).manifest_key)
    assert raw is not None
    changed = schema.execute("SELECT id FROM events WHERE note = 'n7'")[0][0]
    schema.execute("UPDATE events SET note = 'changed' WHERE id = %s", (changed,))
    sent = _statements(ctx, monkeypatch)
    result = purge_day(ctx, ctx.job.tables[0], Manifest.loads(raw), build_throttle(ctx))
    ctx.source.close()
    return result, sent


@pytest.mark.parametrize(
    ("statement_rows", "reads", "deletes"),
    [(None, 1, 1), (4, 13, 13), (50, 2, 1), (1000, 1, 1)],
)
def test_a_chunk_runs_as_statements_of_statement_rows(
    mysql_schema: MySqlSchema,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    statement_rows: int | None,
    reads: int,
    deletes: int,
) -> None:
    """50 rows of a day in one chunk, one changed after its export: reads of 4 rows take 13
    statements (the last short one ends the chunk), the 49 matched keys 13 DELETEs by name; the
    changed row is kept either way. A statement as large as the chunk is one read (50 rows: a
    second, empty read ends it) and one DELETE."""
    mysql_schema.execute(LOG_TABLE_DDL)
    mysql_schema.execute(
        "INSERT INTO events (created_at, account_id, amount, note) "
        "SELECT TIMESTAMP(%s) + INTERVAL seq * 1000 SECOND, seq MOD 7, seq / 4, CONCAT('n', seq) "
        "FROM seq_0_to_" + str(ROWS - 1),
        (DAY.isoformat(),),
    )
    result, sent = _purge(mysql_schema, tmp_path, monkeypatch, statement_rows=statement_rows)
    assert (result.rows_deleted, result.rows_kept, result.chunks) == (ROWS - 1, 1, 1)
    assert (sent.count("read"), sent.count("delete")) == (reads, deletes)
    assert mysql_schema.execute("SELECT note FROM events") == [("changed",)]
