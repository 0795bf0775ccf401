"""A table keyed by BINARY(16) (UUIDs, hashes), by NO PAD binary text, or by text under any
collation scanned by time, is purged like one keyed by an integer: late and changed rows of a
partly purged day are kept, archived as a new generation and purged by the next run. Found by an
outside trial: the first such row stopped the day's purge ("the table's key cannot be ordered
like MySQL orders it"), every run."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from dbarchive import build_context
from dbarchive.build import build_throttle
from dbarchive.config import job_from_dict
from dbarchive.jobs.daily import run
from dbarchive.jobs.restore import restore_day
from dbarchive.layout import PartitionPath
from dbarchive.manifest import Manifest
from dbarchive.pipeline import export_day
from tests.integration.mysql_fixtures import MySqlSchema, mysql_schema  # noqa: F401

TODAY = dt.date(2026, 11, 25)
D1 = dt.date(2026, 9, 1)  # expired: purged whole, then gets late rows
D2 = dt.date(2026, 9, 2)  # expired: purged in part, then gets late and changed rows
PER_DAY = 300
KEYS = {
    "binary": ("BINARY(16)", "UNHEX(MD5({n}))"),
    "nopad_text": ("VARCHAR(40) COLLATE utf8mb4_nopad_bin", "CONCAT(MD5({n}), 'é')"),
    # Compared only through the time before it: several rows share each time value.
    "ci_text": (
        "CHAR(36) COLLATE utf8mb4_general_ci",
        "CONCAT(IF(MOD({n}, 2), 'A', 'a'), MD5({n}))",
    ),
}
CASES = [(k, s) for k in sorted(KEYS) for s in ("key", "time") if (k, s) != ("ci_text", "key")]
ROW_SQL = "SHA2(CONCAT_WS('|', HEX(id), created_at, note), 256)"


def _fill(schema: MySqlSchema, key: str, day: dt.date, count: int, first: int, at: int) -> None:
    """``count`` rows of ``day`` from second ``at`` on, three to a time value; keys from hashes of
    ``first + seq``, so they interleave with the day's other keys instead of sorting after them."""
    key_sql = KEYS[key][1].format(n=f"({first} + seq)")
    schema.execute(
        f"INSERT INTO events (id, created_at, note) SELECT {key_sql},"
        " TIMESTAMP(%s) + INTERVAL (%s + seq DIV 3 * 200) SECOND, CONCAT('n', seq)"
        f" FROM seq_0_to_{count - 1}",
        (day.isoformat(), at),
    )


def _job(schema: MySqlSchema, dest: Path, scan: str) -> Any:
    return job_from_dict(
        {
            "source": {"url": schema.url},
            "destination": {"url": str(dest)},
            "defaults": {"compression": "none"},
            "throttle": {"min_chunk_rows": 40, "max_chunk_rows": 40},
            "tables": [
                {"name": "events", "timestamp_column": "created_at", "retention": "60 days",
                 "scan": scan}
            ],
        }
    )  # fmt: skip


def _snapshot(schema: MySqlSchema, table: str = "events") -> dict[str, str]:
    """HEX(key) → the server's SHA-256 of the row's stored values (the oracle)."""
    rows = schema.execute(f"SELECT HEX(id), {ROW_SQL} FROM `{table}`")
    return {_text(k): _text(v) for k, v in rows}


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


@pytest.mark.parametrize(("key", "scan"), CASES)
def test_late_and_changed_rows_of_a_partly_purged_day_are_kept_then_archived_and_purged(
    mysql_schema: MySqlSchema, tmp_path: Path, key: str, scan: str
) -> None:
    mysql_schema.execute(
        f"CREATE TABLE events (id {KEYS[key][0]} NOT NULL PRIMARY KEY,"
        " created_at DATETIME(6) NOT NULL, note VARCHAR(20), KEY (created_at))"
    )
    _fill(mysql_schema, key, D1, PER_DAY, 0, 0)
    _fill(mysql_schema, key, D2, PER_DAY, 1000, 0)
    ctx = build_context(_job(mysql_schema, tmp_path, scan))
    oracle = _snapshot(mysql_schema)
    for day in (D1, D2):
        assert export_day(ctx, ctx.job.tables[0], day).published
    # D1 purged; D2 as a purge killed half-way leaves it: "started", its first rows gone.
    (first,) = run(ctx, list(ctx.job.tables), D1 + dt.timedelta(days=61), build_throttle(ctx))
    assert first.ok and first.rows_deleted == PER_DAY, first.errors
    marker = ctx.partition(ctx.job.tables[0], D2).purge_marker_key
    ctx.storage.put_bytes(marker, b'{"status": "started", "started_at": "2026-11-25T00:00:00"}\n')
    order = "id" if scan == "key" else "created_at, id"
    mysql_schema.execute(
        f"DELETE FROM events WHERE created_at < '2026-09-03' ORDER BY {order} LIMIT 150"
    )
    _fill(mysql_schema, key, D1, 5, 5000, 30)
    _fill(mysql_schema, key, D2, 7, 6000, 50)
    mysql_schema.execute(
        "UPDATE events SET note = 'changed' WHERE created_at >= '2026-09-02 12:00' LIMIT 9"
    )
    # Rows moved within their day, later and earlier: their old versions count as replaced.
    mysql_schema.execute(
        "UPDATE events SET created_at = created_at + INTERVAL 12 HOUR, note = 'later' WHERE "
        "created_at >= '2026-09-02 03:00' AND created_at < '2026-09-02 04:00' LIMIT 2"
    )
    mysql_schema.execute(
        "UPDATE events SET created_at = created_at - INTERVAL 2 HOUR, note = 'earlier' WHERE "
        "created_at >= '2026-09-02 04:00' AND created_at < '2026-09-02 05:00' LIMIT 1"
    )
    oracle.update(_snapshot(mysql_schema))

    (report,) = run(ctx, list(ctx.job.tables), TODAY, build_throttle(ctx))
    assert report.ok, report.errors
    assert mysql_schema.execute("SELECT COUNT(*) FROM events") == [(0,)]
    for day in (D1, D2):
        raw = ctx.storage.get_bytes(PartitionPath("events", day).manifest_key)
        assert raw is not None and Manifest.loads(raw).generation == 2
    (again,) = run(ctx, list(ctx.job.tables), TODAY, build_throttle(ctx))
    assert again.ok and not again.exported and again.rows_deleted == 0
    for day in (D1, D2):
        assert restore_day(ctx, ctx.job.tables[0], day, into="back").ok
    assert _snapshot(mysql_schema, "back") == oracle
    ctx.source.close()


def test_a_row_changed_in_place_on_a_text_key_read_by_key_is_kept_then_purged(
    mysql_schema: MySqlSchema, tmp_path: Path
) -> None:
    """scan = 'key' on a key of a PAD SPACE collation: no comparable order at all. One row
    updated after the export used to stop the day at every run ('export the day again', which
    then refused too); it is kept, archived as a new generation, and purged."""
    mysql_schema.execute(
        f"CREATE TABLE events (id {KEYS['ci_text'][0]} NOT NULL PRIMARY KEY,"
        " created_at DATETIME(6) NOT NULL, note VARCHAR(20), KEY (created_at))"
    )
    _fill(mysql_schema, "ci_text", D1, PER_DAY, 0, 0)
    ctx = build_context(_job(mysql_schema, tmp_path, "key"))
    assert export_day(ctx, ctx.job.tables[0], D1).published
    (key,) = mysql_schema.execute("SELECT id FROM events ORDER BY id LIMIT 100, 1")[0]
    mysql_schema.execute("UPDATE events SET note = 'changed' WHERE id = %s", (key,))
    latest = _snapshot(mysql_schema)

    (report,) = run(ctx, list(ctx.job.tables), TODAY, build_throttle(ctx))
    assert report.ok, report.errors
    assert mysql_schema.execute("SELECT COUNT(*) FROM events") == [(0,)]
    raw = ctx.storage.get_bytes(PartitionPath("events", D1).manifest_key)
    assert raw is not None and Manifest.loads(raw).generation == 2
    assert restore_day(ctx, ctx.job.tables[0], D1, into="back").ok  # the changed version
    assert _snapshot(mysql_schema, "back") == latest
    ctx.source.close()
