"""The demo: a realistic log table in a local MySQL, archived to a local folder, verified.

It needs nothing but a reachable MySQL/MariaDB (``DBARCHIVE_DEMO_URL``, default the local server)
and writes only to the table ``payment_events`` of its database (``dbarchive_demo`` by default)
and to the output folder. It drops and recreates that table on every run, so it refuses to drop
one it did not create (its comment says whose it is).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import MySQLdb

from dbarchive.config import ArchiveJob, SourceSettings, job_from_dict
from dbarchive.errors import ConfigError, SourceError
from dbarchive.sources import connection
from dbarchive.sources.canonical import quote_identifier
from dbarchive.sources.mysql_session import translate_error

DEFAULT_URL = "mysql://root@127.0.0.1:3306/dbarchive_demo"
TABLE = "payment_events"
DEMO_COMMENT = "dbarchive demo data: dropped and recreated by every dbarchive demo"
_DDL = f"""
CREATE TABLE {quote_identifier(TABLE)} (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  created_at DATETIME(6) NOT NULL,
  account_id INT UNSIGNED NOT NULL,
  event_type ENUM('authorize','capture','refund','chargeback') NOT NULL,
  amount DECIMAL(18,4) NULL,
  currency CHAR(3) NOT NULL,
  ip VARBINARY(16) NULL,
  payload JSON NULL,
  message TEXT NULL,
  KEY idx_created_at (created_at),
  KEY idx_account (account_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COMMENT='{DEMO_COMMENT}'
"""
_MESSAGES = [
    "ok",
    "",
    "NULL",
    "\\N",
    'card "ending" 4242, approved',
    "line one\nline two\r\nline three",
    "Zahlung über 3,50 € ✓",
    "支付成功 🎉",
    "tab\tseparated\\backslash",
]


@dataclass(frozen=True)
class DemoSetup:
    """Where the demo put its data."""

    url: str
    rows_by_day: dict[dt.date, int]


def demo_url() -> str:
    return os.environ.get("DBARCHIVE_DEMO_URL", DEFAULT_URL)


def demo_job(url: str, out_dir: Path, fmt: str = "csv") -> ArchiveJob:
    """The embedded job: the demo table, gzip CSV (or ``fmt``: parquet, or iceberg with its
    SQLite catalog beside the archive), a local folder as destination."""
    codec = {"compression": "gzip"} if fmt == "csv" else {}
    return job_from_dict(
        {
            "source": {"url": url},
            "destination": {"url": str(out_dir.resolve())},
            "defaults": {"format": fmt, **codec, "retention": "2 months"},
            "tables": [{"name": TABLE, "timestamp_column": "created_at", "chunk_rows": 5000}],
        },
        "<demo>",
    )


def _rows(day: dt.date, count: int, rng: random.Random) -> Iterator[tuple[object, ...]]:
    start = dt.datetime.combine(day, dt.time())
    for i in range(count):
        at = start + dt.timedelta(microseconds=int(86_400_000_000 * (i + rng.random()) / count))
        amount = None if i % 17 == 0 else f"{rng.randint(-99999, 9999999) / 100:.4f}"
        ip = None if i % 11 == 0 else bytes(rng.randrange(256) for _ in range(4 if i % 3 else 16))
        payload = (
            None if i % 13 == 0 else json.dumps({"n": i, "tags": ["a", "ü"], "ok": i % 2 == 0})
        )
        yield (
            at,
            rng.randint(1, 5000),
            rng.choice(["authorize", "capture", "refund", "chargeback"]),
            amount,
            rng.choice(["EUR", "USD", "GBP"]),
            ip,
            payload,
            None if i % 7 == 0 else rng.choice(_MESSAGES),
        )


def create_demo_data(url: str, days: int, rows_per_day: int, today: dt.date) -> DemoSetup:
    """(Re)create the demo database and fill ``days`` days ending today with rows."""
    settings = SourceSettings(url=url)
    database = settings.database
    try:
        conn = connection.open_session(settings, database=False, charset="utf8mb4", autocommit=True)
    except MySQLdb.Error as exc:
        err = translate_error(exc, settings, "connecting")
        raise SourceError(
            f"{err} The demo needs a MySQL or MariaDB server: start one (for example "
            "`start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd`) "
            "or point DBARCHIVE_DEMO_URL at one, e.g. mysql://user@host:3306/dbarchive_demo"
        ) from None
    rng = random.Random(42)  # noqa: S311 - reproducible demo data, not secrets
    counts: dict[dt.date, int] = {}
    with conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE IF NOT EXISTS {quote_identifier(database)}")
        cur.execute(f"USE {quote_identifier(database)}")
        _refuse_foreign_table(cur, database)
        cur.execute(f"DROP TABLE IF EXISTS {quote_identifier(TABLE)}")
        cur.execute(_DDL)
        insert = (
            f"INSERT INTO {quote_identifier(TABLE)} (created_at, account_id, event_type, amount,"
            " currency, ip, payload, message) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
        )
        for offset in range(days - 1, -1, -1):
            day = today - dt.timedelta(days=offset)
            cur.executemany(insert, list(_rows(day, rows_per_day, rng)))
            counts[day] = rows_per_day
    conn.close()
    return DemoSetup(urlparse(url)._replace(netloc=urlparse(url).hostname or "").geturl(), counts)


def _refuse_foreign_table(cur: Any, database: str) -> None:
    """Stop before dropping a ``payment_events`` that an earlier demo did not create."""
    cur.execute(
        "SELECT TABLE_COMMENT FROM information_schema.TABLES "
        "WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s",
        (database, TABLE),
    )
    row = cur.fetchone()
    if row is None:
        return
    comment = row[0].decode() if isinstance(row[0], bytes) else str(row[0])
    if comment != DEMO_COMMENT:
        raise ConfigError(
            f"the demo recreates the table {TABLE} of the database {database!r}, and the one "
            "there was not made by the demo, so nothing was changed: point DBARCHIVE_DEMO_URL at "
            "another database (e.g. mysql://root@127.0.0.1:3306/dbarchive_demo2), or drop that "
            "table yourself if it is an old demo table"
        )
