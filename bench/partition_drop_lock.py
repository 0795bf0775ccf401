"""How long a verified partition drop locks the table: the exchange and the drop of a 1M-row
partition (issue 16 item 4), against the old plain ``DROP PARTITION``.

Usage: .venv/bin/python bench/partition_drop_lock.py [--rows 1000000] [--runs 3]

Each run fills a fresh schema with a RANGE-partitioned table whose partition ``p_old`` holds
``--rows`` rows (~110 bytes each) and whose ``pmax`` takes an application's inserts, then:

- **exchange**: dbarchive's own step (``steps/exchange.py``: create the clone, ``LOCK TABLES``,
  ``EXCHANGE PARTITION``, ``DROP PARTITION``, ``UNLOCK TABLES``), the table lock's duration as
  dbarchive measures it, then the proof that follows outside the lock (the clone's rows digested,
  ``verify.source_digest``) and the clone's ``DROP TABLE``;
- **plain drop**: ``ALTER TABLE … DROP PARTITION p_old`` of the same partition (what dbarchive did
  before), timed from the client.

Meanwhile an application thread inserts one row into ``pmax`` every 5 ms on its own session; the
longest insert shows what the application feels. Medians over the runs; prints a Markdown table.
Talks to 127.0.0.1 only (the local MariaDB, root without password).
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import MySQLdb

from dbarchive.build import build_context, build_throttle
from dbarchive.config import job_from_dict
from dbarchive.steps import exchange
from dbarchive.steps.verify import source_digest

SCHEMA = "dbarchive_bench_xchg"
DDL = """
CREATE TABLE events (
  id BIGINT NOT NULL AUTO_INCREMENT, created_at DATETIME(6) NOT NULL, account_id INT NOT NULL,
  amount DECIMAL(18,4) NULL, note VARCHAR(80) NULL,
  PRIMARY KEY (id, created_at), KEY idx_created (created_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 PARTITION BY RANGE COLUMNS (created_at) (
  PARTITION p_old VALUES LESS THAN ('2026-02-01'), PARTITION pmax VALUES LESS THAN (MAXVALUE))
"""


def _connect(db: str | None = None) -> Any:
    args: dict[str, Any] = {"host": "127.0.0.1", "user": "root", "autocommit": True}
    if db:
        args["database"] = db
    return MySQLdb.connect(**args)


def _fill(rows: int) -> None:
    conn = _connect()
    cur = conn.cursor()
    cur.execute(f"DROP DATABASE IF EXISTS {SCHEMA}")
    cur.execute(f"CREATE DATABASE {SCHEMA}")
    cur.execute(f"USE {SCHEMA}")
    cur.execute(DDL)
    step = 200_000
    for start in range(0, rows, step):
        n = min(step, rows - start)
        cur.execute(
            "INSERT INTO events (created_at, account_id, amount, note) SELECT "
            "TIMESTAMP('2026-01-01') + INTERVAL (seq * 2678 DIV 1000) SECOND, seq MOD 1000, "
            f"seq / 7, CONCAT('event note number ', seq, ' ', REPEAT('x', 40)) "
            f"FROM seq_{start + 1}_to_{start + n}"
        )
    conn.close()


class Application(threading.Thread):
    """One insert into the current partition every 5 ms; keeps the longest one."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.stop = threading.Event()
        self.longest = 0.0
        self.count = 0

    def run(self) -> None:
        conn = _connect(SCHEMA)
        cur = conn.cursor()
        while not self.stop.wait(0.005):
            started = time.monotonic()
            cur.execute("INSERT INTO events (created_at, account_id) VALUES (NOW(6), 1)")
            self.longest = max(self.longest, time.monotonic() - started)
            self.count += 1
        conn.close()


def _with_application(action: Any) -> tuple[Any, float]:
    app = Application()
    app.start()
    time.sleep(0.2)  # the application is running before the drop starts (not a measurement)
    try:
        result = action()
    finally:
        app.stop.set()
        app.join()
    return result, app.longest


def _exchange_run(rows: int, work: Path) -> dict[str, float]:
    _fill(rows)
    job = job_from_dict(
        {
            "source": {"url": f"mysql://root@127.0.0.1:3306/{SCHEMA}"},
            "destination": {"url": str(work / "archive")},
            "tables": [{"name": "events", "timestamp_column": "created_at"}],
        }
    )
    ctx = build_context(job)
    try:
        info = ctx.describe(job.tables[0])
        throttle = build_throttle(ctx)
        started = time.monotonic()
        locked, app_longest = _with_application(
            lambda: exchange.exchange_and_drop(ctx, info, "p_old", throttle)
        )
        step = time.monotonic() - started
        clone = exchange.clone_of(info)
        t0 = time.monotonic()
        spec = job.tables[0]
        held = 0
        for day in range(1, 32):
            window = ctx.source.window(spec, clone, dt.date(2026, 1, day))
            plan = ctx.source.plan_scan(clone, window, "auto")
            held += source_digest(ctx.source, clone, window, plan, spec.chunk_rows).count
        proof = time.monotonic() - t0
        assert held == rows, (held, rows)
        t0 = time.monotonic()
        exchange.drop_clone(ctx, clone)
        drop_clone = time.monotonic() - t0
    finally:
        ctx.source.close()
    return {
        "lock_s": locked,
        "exchange_step_s": step,
        "app_longest_insert_s": app_longest,
        "proof_s": proof,
        "drop_clone_s": drop_clone,
    }


def _plain_run(rows: int) -> dict[str, float]:
    _fill(rows)
    conn = _connect(SCHEMA)

    def drop() -> float:
        started = time.monotonic()
        conn.cursor().execute("ALTER TABLE events DROP PARTITION p_old")
        return time.monotonic() - started

    seconds, app_longest = _with_application(drop)
    conn.close()
    return {"drop_s": seconds, "app_longest_insert_s": app_longest}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    exchanged, plain = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.runs):
            exchanged.append(_exchange_run(args.rows, Path(tmp)))
            plain.append(_plain_run(args.rows))
    conn = _connect()
    conn.cursor().execute(f"DROP DATABASE IF EXISTS {SCHEMA}")
    conn.close()

    def med(runs: list[dict[str, float]], key: str) -> str:
        values = [r[key] for r in runs]
        return f"{statistics.median(values) * 1000:.1f} ms (max {max(values) * 1000:.1f})"

    print(f"{args.rows:,}-row partition, median of {args.runs} runs\n")
    print("| what | time |\n|---|---|")
    print(f"| exchange + drop: table locked (LOCK TABLES → UNLOCK) | {med(exchanged, 'lock_s')} |")
    print(
        f"| exchange step incl. clone creation and lock wait | {med(exchanged, 'exchange_step_s')} |"
    )
    print(f"| application's longest insert meanwhile | {med(exchanged, 'app_longest_insert_s')} |")
    print(f"| proof outside the lock (clone digested, 31 days) | {med(exchanged, 'proof_s')} |")
    print(f"| DROP TABLE of the proven clone | {med(exchanged, 'drop_clone_s')} |")
    print(f"| old plain DROP PARTITION of the same partition | {med(plain, 'drop_s')} |")
    print(f"| application's longest insert meanwhile | {med(plain, 'app_longest_insert_s')} |")


if __name__ == "__main__":
    sys.exit(main())
