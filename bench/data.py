"""Benchmark data: a realistic fintech log table, generated in Python and bulk-loaded.

Why generated client-side rather than with INSERT … SELECT from the seq engine: the values must look
like production (unicode, quotes, commas, tabs, backslashes, newlines, a literal "\\N" text, JSON,
binary IPs, NULLs in several columns, ~400 bytes/row) so the encoders and peers do their real work,
and the same seed must give the same table on every machine. Loading goes through chunk files and
LOAD DATA LOCAL INFILE (a writer thread prepares the next chunk while the server loads the current
one): memory stays bounded and 3M rows load in about a minute rather than the many minutes row
inserts would take.

Usage (stand-alone): .venv/bin/python bench/data.py --rows 3000000 [--schema dbarchive_bench]
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import hashlib
import json
import os
import queue
import random
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import MySQLdb

TABLE = "events"
ORDERS = "bench_orders"  # the production load's own table (insert + update by key)
DAYS = 90
BIG_SHARE = 0.10  # the big day holds this share of all rows on top of its normal share
BIG_DAY_AGE = 8  # days before today: inside the retention window, so purges never touch it
RETENTION_DAYS = 57  # the oldest 33 of the 90 days expire: about a third of the table
ORDER_ROWS = 100_000
CHUNK_ROWS = 200_000  # rows per LOAD DATA file: ~80 MB, one bounded transaction each

DDL = f"""
CREATE TABLE {TABLE} (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  created_at DATETIME(6) NOT NULL,
  account_id BIGINT UNSIGNED NOT NULL,
  event_type VARCHAR(32) NOT NULL,
  amount DECIMAL(18,4) NULL,
  currency CHAR(3) NOT NULL,
  status VARCHAR(16) NOT NULL,
  ip VARBINARY(16) NULL,
  payload JSON NULL,
  message TEXT NULL,
  KEY idx_created_at (created_at),
  KEY idx_account (account_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4
"""
ORDERS_DDL = f"""
CREATE TABLE {ORDERS} (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  account_id BIGINT UNSIGNED NOT NULL,
  status VARCHAR(16) NOT NULL,
  amount DECIMAL(18,4) NOT NULL,
  updated_at DATETIME(6) NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4
"""
ORDERS_FILL = f"""
INSERT INTO {ORDERS} (account_id, status, amount, updated_at)
SELECT seq * 7919 MOD 200000, ELT(1 + seq MOD 3, 'new', 'paid', 'shipped'), seq MOD 100000 / 100,
       TIMESTAMP('2026-01-01') + INTERVAL seq SECOND
FROM seq_1_to_{ORDER_ROWS}
"""
LOAD = rf"""
LOAD DATA LOCAL INFILE %s INTO TABLE {TABLE} CHARACTER SET utf8mb4
FIELDS TERMINATED BY '\t' ESCAPED BY '\\' LINES TERMINATED BY '\n'
(created_at, account_id, event_type, amount, currency, status, @ip, payload, message)
SET ip = UNHEX(@ip)
"""


@dataclass(frozen=True)
class Plan:
    """Which days get how many rows, and the dates every method of the bench agrees on."""

    today: dt.date
    days: tuple[tuple[dt.date, int], ...]
    big_day: dt.date | None
    retention_days: int
    seed: int

    @property
    def rows(self) -> int:
        return sum(n for _, n in self.days)

    @property
    def cutoff(self) -> dt.date:
        """Rows before this day (00:00) are expired, as dbarchive's `retention` computes it."""
        return self.today - dt.timedelta(days=self.retention_days)

    @property
    def expired_rows(self) -> int:
        return sum(n for d, n in self.days if d < self.cutoff)

    @property
    def expired_days(self) -> tuple[dt.date, dt.date]:
        """First and last expired day (for `dbarchive export --from --to`)."""
        return self.days[0][0], self.cutoff - dt.timedelta(days=1)

    def rows_on(self, day: dt.date) -> int:
        return sum(n for d, n in self.days if d == day)

    def fingerprint(self) -> str:
        """Identifies the generated content: a schema holding it can be reused as is."""
        raw = json.dumps(asdict(self), default=str, sort_keys=True).encode()
        return hashlib.sha256(raw).hexdigest()[:16]


def utc_today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


def standard_plan(rows: int, today: dt.date | None = None, seed: int = 1) -> Plan:
    """90 days ending yesterday, plus a big day holding an extra ~10 % of the rows."""
    today = today or utc_today()
    extra = round(rows * BIG_SHARE)
    regular, rest = divmod(rows - extra, DAYS)
    first = today - dt.timedelta(days=DAYS)
    big = today - dt.timedelta(days=BIG_DAY_AGE)
    days = []
    for i in range(DAYS):
        day = first + dt.timedelta(days=i)
        days.append((day, regular + (i < rest) + (extra if day == big else 0)))
    return Plan(today, tuple(days), big, RETENTION_DAYS, seed)


def single_day_plan(day: dt.date, rows: int, seed: int = 1) -> Plan:
    """One day only: the "10x day" of the memory check."""
    return Plan(utc_today(), ((day, rows),), day, RETENTION_DAYS, seed)


def spread_plan(first_day: dt.date, days: int, rows: int, seed: int = 1) -> Plan:
    """``rows`` spread evenly over ``days`` days (the scaling scripts' layout)."""
    per, rest = divmod(rows, days)
    spread = tuple((first_day + dt.timedelta(days=i), per + (i < rest)) for i in range(days))
    return Plan(utc_today(), spread, None, RETENTION_DAYS, seed)


# --- row text -------------------------------------------------------------------------------


def _tsv(text: str) -> str:
    """Escape for LOAD DATA's default (backslash) escaping."""
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


EVENT_TYPES = (
    ["payment.authorized"] * 8 + ["payment.captured"] * 6 + ["payment.refunded"] * 2
    + ["payout.created"] * 2 + ["card.declined"] * 2 + ["login"] * 3 + ["kyc.check"]
)  # fmt: skip
NO_AMOUNT = {"login", "kyc.check"}
STATUSES = ["ok"] * 12 + ["pending", "failed", "reversed", "review"]
CURRENCIES = ["EUR"] * 5 + ["USD"] * 4 + ["GBP", "CHF", "PLN", "JPY"]
MERCHANTS = [
    _tsv(json.dumps(m, ensure_ascii=False)[1:-1])
    for m in ("Café \"Zürich\"", "Müller & Söhne GmbH", "Łódź Market", "東京ストア",
              "O'Brien's Pub, Dublin", "Back\\slash Ltd", "Škoda Auto a.s.", "Ακρόπολη Foods")
]  # fmt: skip
BRANDS = ["visa", "mastercard", "amex", "maestro"]
COUNTRIES = ["DE", "FR", "GB", "US", "PL", "JP", "CH", "GR"]
PAYLOAD = _tsv(
    '{"order_id": "ord_%08d", "merchant": {"id": %d, "name": "%s", "mcc": "%04d"}, '
    '"card": {"brand": "%s", "last4": "%04d", "country": "%s"}, '
    '"risk": {"score": %d, "rules": ["velocity", "geo"]}, "three_ds": %s}'
)
MESSAGES = [
    _tsv(m)
    for m in (
        'Payment of %s authorised for order #%d; customer note: "please deliver after 6 pm"',
        'Refund requested:\nreason: "item damaged, box open", ticket %s-%d\nagent: Zoë Ødegård',
        'Login from a new device ✓ 📱 user agent "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0)" %s %d',
        'Card declined by issuer: code 05 "Do not honour"\tretry=false amount=%s attempt=%d',
        "Export path C:\\exports\\%s\\%d.csv, with commas, and a literal \\N in the text",
        'Überweisung über € %s an Müller & Söhne — Verwendungszweck: „Rechnung %d"',
        "注文 %s の支払いが完了しました。ありがとうございます。参照番号 %d",
        "Chargeback opened; merchant said 'it''s fine' \u2014 amount %s, case %d, CRLF next\r\nend",
    )
]


def _amount(rng: random.Random, event: str) -> str:
    if event in NO_AMOUNT or rng.random() < 0.02:
        return "\\N"
    units = rng.randrange(1, 50_000_000)  # ten-thousandths: up to 5,000.0000
    sign = "-" if event == "payment.refunded" else ""
    return f"{sign}{units // 10000}.{units % 10000:04d}"


def _ip(rng: random.Random) -> str:
    r = rng.random()
    if r < 0.05:
        return "\\N"
    if r < 0.15:
        return f"{rng.getrandbits(128):032X}"
    return f"{rng.getrandbits(32):08X}"


def _payload(rng: random.Random, n: int) -> str:
    if rng.random() < 0.08:
        return "\\N"
    return PAYLOAD % (
        n, rng.randrange(1, 90_000), rng.choice(MERCHANTS), rng.randrange(10_000),
        rng.choice(BRANDS), rng.randrange(10_000), rng.choice(COUNTRIES), rng.randrange(100),
        "true" if rng.random() < 0.7 else "false",
    )  # fmt: skip


def _message(rng: random.Random, n: int, amount: str) -> str:
    r = rng.random()
    if r < 0.05:
        return "\\N"
    if r < 0.06:
        return ""
    return rng.choice(MESSAGES) % (amount if amount != "\\N" else "0.0000", n)


def _day_rows(rng: random.Random, day: dt.date, rows: int, serial: int) -> Iterator[str]:
    """One day's rows in time order (so ids grow with time, as in a real log table)."""
    prefix = day.isoformat()
    step = 86_400_000_000 / rows
    for i in range(rows):
        us = int((i + rng.random()) * step)
        sec, micro = divmod(us, 1_000_000)
        h, rem = divmod(sec, 3600)
        m, s = divmod(rem, 60)
        event = rng.choice(EVENT_TYPES)
        amount = _amount(rng, event)
        n = serial + i
        yield (
            f"{prefix} {h:02d}:{m:02d}:{s:02d}.{micro:06d}\t{int(200_000 * rng.random() ** 2) + 1}"
            f"\t{event}\t{amount}\t{rng.choice(CURRENCIES)}\t{rng.choice(STATUSES)}\t{_ip(rng)}"
            f"\t{_payload(rng, n)}\t{_message(rng, n, amount)}\n"
        )


def iter_rows(plan: Plan) -> Iterator[str]:
    """Every row of the plan as a LOAD DATA line, deterministic for the plan's seed."""
    rng = random.Random(plan.seed)
    serial = 0
    for day, rows in plan.days:
        yield from _day_rows(rng, day, rows, serial)
        serial += rows


# --- loading ---------------------------------------------------------------------------------


def connect(schema: str | None = None, **kwargs: Any) -> Any:
    """A root connection to the local MariaDB, utf8mb4, autocommit, LOAD DATA LOCAL allowed."""
    args: dict[str, Any] = {
        "host": "127.0.0.1", "port": 3306, "user": "root", "charset": "utf8mb4",
        "autocommit": True, "local_infile": 1, **kwargs,
    }  # fmt: skip
    if schema:
        args["database"] = schema
    return MySQLdb.connect(**args)


def _write_chunks(plan: Plan, folder: Path, out: queue.Queue[Path | None]) -> None:
    """Writer thread: chunk files of CHUNK_ROWS lines each, handed over one at a time."""
    rows = iter_rows(plan)
    index = 0
    while True:
        lines = [line for _, line in zip(range(CHUNK_ROWS), rows, strict=False)]
        if not lines:
            break
        path = folder / f"chunk{index:05d}.tsv"
        with open(path, "w", encoding="utf-8", newline="") as f:
            f.writelines(lines)
        out.put(path)
        index += 1
    out.put(None)


def _load_chunks(cur: Any, chunks: queue.Queue[Path | None], log: Callable[[str], None]) -> int:
    loaded = 0
    while (path := chunks.get()) is not None:
        cur.execute(LOAD, (str(path),))
        loaded += cur.rowcount
        path.unlink()
        log(f"  loaded {loaded:,} rows")
    return loaded


def _create(cur: Any, schema: str) -> None:
    cur.execute(f"DROP DATABASE IF EXISTS `{schema}`")
    cur.execute(f"CREATE DATABASE `{schema}` DEFAULT CHARACTER SET utf8mb4")
    cur.execute(f"USE `{schema}`")
    cur.execute(DDL)
    cur.execute(ORDERS_DDL)
    cur.execute(ORDERS_FILL)
    cur.execute("CREATE TABLE bench_meta (k VARCHAR(64) PRIMARY KEY, v TEXT NOT NULL)")


def is_current(schema: str, plan: Plan) -> bool:
    """True when ``schema`` already holds exactly this plan's rows (reuse instead of reloading)."""
    conn = connect()
    try:
        cur = conn.cursor()
        cur.execute(
            "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = %s "
            "AND table_name = 'bench_meta'",
            (schema,),
        )
        if cur.fetchone()[0] == 0:
            return False
        cur.execute(f"SELECT v FROM `{schema}`.bench_meta WHERE k = 'fingerprint'")
        row = cur.fetchone()
        return bool(row and row[0] == plan.fingerprint())
    finally:
        conn.close()


def generate(schema: str, plan: Plan, log: Callable[[str], None] = print) -> float:
    """(Re)create ``schema`` with the plan's rows; returns the seconds it took."""
    started = time.monotonic()
    conn = connect()
    try:
        cur = conn.cursor()
        # LOCAL INFILE is refused while the server's local_infile is off; without SUPER this
        # fails, and loading may still work if it is already on.
        with contextlib.suppress(MySQLdb.Error):
            cur.execute("SET GLOBAL local_infile = 1")
        _create(cur, schema)
        cur.execute("SET SESSION unique_checks = 0, foreign_key_checks = 0")
        with tempfile.TemporaryDirectory(prefix="dbarchive-bench-data-") as tmp:
            chunks: queue.Queue[Path | None] = queue.Queue(maxsize=1)
            writer = threading.Thread(target=_write_chunks, args=(plan, Path(tmp), chunks))
            writer.start()
            try:
                loaded = _load_chunks(cur, chunks, log)
            finally:
                writer.join()
        if loaded != plan.rows:
            raise RuntimeError(f"loaded {loaded} rows into {schema}, expected {plan.rows}")
        cur.execute(f"ANALYZE TABLE {TABLE}")
        cur.fetchall()
        cur.execute("INSERT INTO bench_meta VALUES ('fingerprint', %s)", (plan.fingerprint(),))
    finally:
        conn.close()
    return time.monotonic() - started


def ensure(schema: str, plan: Plan, log: Callable[[str], None] = print) -> float:
    """Generate unless the schema already holds this plan; returns the seconds spent."""
    if is_current(schema, plan) and _expired_rows_at_hand(schema, plan):
        log(f"{schema}: reusing {plan.rows:,} rows (same plan)")
        return 0.0
    log(f"{schema}: generating {plan.rows:,} rows over {len(plan.days)} day(s)")
    return generate(schema, plan, log)


def drop(schema: str) -> None:
    conn = connect()
    try:
        conn.cursor().execute(f"DROP DATABASE IF EXISTS `{schema}`")
    finally:
        conn.close()


# --- the expired rows, restored between purge methods ------------------------------------------


def snapshot_expired(schema: str, plan: Plan) -> None:
    """Copy the expired rows aside once, so every purge method gets the very same rows.

    A snapshot that already holds them all is kept: a reused schema may have been purged since
    (by an interrupted run, or by hand), and copying then would snapshot what is left."""
    if _snapshot_count(schema) == plan.expired_rows:
        return
    if expired_count(schema, plan) != plan.expired_rows:
        raise RuntimeError(f"{schema} lacks expired rows and no snapshot holds them all")
    conn = connect(schema)
    try:
        cur = conn.cursor()
        cur.execute("DROP TABLE IF EXISTS events_expired")
        cur.execute(f"CREATE TABLE events_expired LIKE {TABLE}")
        cur.execute(
            f"INSERT INTO events_expired SELECT * FROM {TABLE} WHERE created_at < %s",
            (plan.cutoff,),
        )
    finally:
        conn.close()


def _snapshot_count(schema: str) -> int | None:
    conn = connect()
    try:
        cur = conn.cursor()
        cur.execute(
            "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = %s "
            "AND table_name = 'events_expired'",
            (schema,),
        )
        if not cur.fetchone()[0]:
            return None
        cur.execute(f"SELECT COUNT(*) FROM `{schema}`.events_expired")
        return int(cur.fetchone()[0])
    finally:
        conn.close()


def _expired_rows_at_hand(schema: str, plan: Plan) -> bool:
    """The expired rows are in the table, or in a complete snapshot to restore them from."""
    return (
        expired_count(schema, plan) == plan.expired_rows
        or _snapshot_count(schema) == plan.expired_rows
    )


def expired_count(schema: str, plan: Plan) -> int:
    conn = connect(schema)
    try:
        cur = conn.cursor()
        cur.execute(f"SELECT COUNT(*) FROM {TABLE} WHERE created_at < %s", (plan.cutoff,))
        return int(cur.fetchone()[0])
    finally:
        conn.close()


def restore_expired(schema: str, plan: Plan) -> bool:
    """Put the expired rows back (same ids, same bytes) unless they are all still there."""
    if expired_count(schema, plan) == plan.expired_rows:
        return False
    conn = connect(schema)
    try:
        cur = conn.cursor()
        cur.execute(f"DELETE FROM {TABLE} WHERE created_at < %s", (plan.cutoff,))
        cur.execute(f"INSERT INTO {TABLE} SELECT * FROM events_expired")
    finally:
        conn.close()
    return True


def fill(
    conn: object, schema: str, rows: int, first_day: str = "2026-01-15", days: int = 1
) -> None:
    """(Re)create ``schema`` with ``rows`` rows spread over ``days`` days (scaling scripts' API)."""
    del conn  # kept for the old signature; loading uses its own LOCAL INFILE connection
    generate(schema, spread_plan(dt.date.fromisoformat(first_day), days, rows), log=lambda _: None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=3_000_000)
    parser.add_argument("--schema", default="dbarchive_bench")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    plan = standard_plan(args.rows, seed=args.seed)
    seconds = generate(args.schema, plan)
    print(
        f"{args.schema}: {plan.rows:,} rows in {seconds:.1f} s; big day {plan.big_day} "
        f"({plan.rows_on(plan.big_day or plan.today):,} rows); cutoff {plan.cutoff} "
        f"({plan.expired_rows:,} expired rows); pid {os.getpid()}"
    )


if __name__ == "__main__":
    main()
