"""A fixed-rate "production" load, to see what an export or a purge does to the application.

Each transaction inserts an order, updates another order by key (bench_orders) and inserts one of
today's rows into the log table itself — the writes a payments service does while dbarchive runs.
Transactions are *scheduled* at a fixed rate (default 200/s over 4 connections); latency is measured
from each transaction's due time, not from when it was sent, so a stall that delays the following
transactions counts for each of them (no coordinated omission). A window's statistics cover the
transactions due inside it; the runner compares the step's window with an idle window of the same
length measured just before.

Usage (stand-alone): .venv/bin/python bench/prodload.py --seconds 10 [--rate 200 --connections 4]
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import json
import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import MySQLdb
from data import ORDER_ROWS, ORDERS, TABLE, connect

from dbarchive.sources.probe_worker import runqueue_wait

INSERT_ORDER = f"INSERT INTO {ORDERS} (account_id, status, amount, updated_at) VALUES (%s, 'new', %s, UTC_TIMESTAMP(6))"
UPDATE_ORDER = f"UPDATE {ORDERS} SET status = 'paid', amount = amount + 1, updated_at = UTC_TIMESTAMP(6) WHERE id = %s"
INSERT_EVENT = (
    f"INSERT INTO {TABLE} (created_at, account_id, event_type, amount, currency, status, ip, "
    "payload, message) VALUES (UTC_TIMESTAMP(6), %s, 'payment.authorized', %s, 'EUR', 'ok', "
    "UNHEX('7F000001'), '{\"source\": \"prodload\"}', 'live traffic: Zahlung über € ✓')"
)


@dataclass
class _Worker:
    """One connection: runs its share of the schedule, records (due, latency) pairs."""

    index: int
    load: ProdLoad
    samples: list[tuple[float, float, bool, float]] = field(default_factory=list)
    # With ProdLoad(statements=True): (due, seconds late, each statement's seconds) per transaction.
    statements: list[tuple[float, float, tuple[float, ...]]] = field(default_factory=list)

    def run(self) -> None:
        rng = random.Random(self.index)
        conn = connect(self.load.schema, autocommit=False, port=self.load.port)
        period = self.load.connections / self.load.rate
        due = self.load.started + self.index / self.load.rate
        waited = runqueue_wait()  # this thread's own wait for a CPU (Linux schedstat)
        try:
            while due < self.load.stop_at:
                before = waited()
                delay = due - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                started = time.monotonic()
                ok, times = self._transaction(conn, rng)
                latency = time.monotonic() - due
                self.samples.append((due, latency, ok, min(latency, waited() - before)))
                if ok and self.load.record_statements:
                    self.statements.append((due, started - due, times))
                due += period
        finally:
            conn.close()

    def _transaction(self, conn: Any, rng: random.Random) -> tuple[bool, tuple[float, ...]]:
        """Runs one transaction: whether it committed, and each statement's seconds (the
        three writes, then the COMMIT)."""
        cur = conn.cursor()
        amount = f"{rng.randrange(100, 100_000) / 100:.2f}"
        marks = [time.monotonic()]
        try:
            cur.execute(INSERT_ORDER, (rng.randrange(1, 200_000), amount))
            marks.append(time.monotonic())
            cur.execute(UPDATE_ORDER, (rng.randrange(1, ORDER_ROWS + 1),))
            marks.append(time.monotonic())
            cur.execute(INSERT_EVENT, (rng.randrange(1, 200_000), amount))
            marks.append(time.monotonic())
            conn.commit()
            marks.append(time.monotonic())
        except MySQLdb.Error:  # a lock wait timeout is a result too: counted, not fatal
            conn.rollback()
            return False, ()
        return True, tuple(b - a for a, b in itertools.pairwise(marks))


class ProdLoad:
    """Start it, mark windows with time.monotonic(), stop it, then ask for each window's stats."""

    def __init__(
        self,
        schema: str,
        rate: float = 200.0,
        connections: int = 4,
        port: int = 3306,
        statements: bool = False,
    ) -> None:
        self.schema, self.rate, self.connections, self.port = schema, rate, connections, port
        self.record_statements = statements  # keep each statement's time (bench/write_stalls.py)
        self.started = 0.0
        self.stop_at = float("inf")
        self._workers: list[_Worker] = []
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        self.started, self.stop_at = time.monotonic() + 0.2, float("inf")
        self._workers = [_Worker(i, self) for i in range(self.connections)]
        self._threads = [threading.Thread(target=w.run, daemon=True) for w in self._workers]
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        """No new transactions due after now; those already due still run (and are counted)."""
        self.stop_at = time.monotonic()
        for thread in self._threads:
            thread.join(120)

    def stats(self, start: float, end: float, count: int | None = None) -> dict[str, Any]:
        """p50/p99/max latency (ms) of the transactions due in [start, end).

        With ``count``, a window holding more transactions is thinned to ``count`` of them, evenly
        spaced in due time, so every p99 is the same rank of the same number of samples (a longer
        step would otherwise get a p99 from more of its tail). A shorter window keeps all it has:
        its ``count`` says so.
        """
        window = sorted(s for w in self._workers for s in w.samples if start <= s[0] < end)
        if count is not None and len(window) > count:
            step = len(window) / count
            window = [window[int(i * step)] for i in range(count)]
        lat = sorted(latency for _, latency, _, _ in window)
        if not lat:
            return {"count": 0, "p50_ms": None, "p99_ms": None, "max_ms": None}
        # Without the load thread's own wait for a CPU: in pinned runs it shares the server's
        # core, a wait an application on its own hosts would not have (a diagnostic, not the ruler).
        served = sorted(latency - own for _, latency, _, own in window)
        return {
            "count": len(lat),
            "p50_ms": round(_quantile(lat, 0.50) * 1000, 2),
            "p99_ms": round(_quantile(lat, 0.99) * 1000, 2),
            "max_ms": round(lat[-1] * 1000, 2),
            "errors": sum(1 for _, _, ok, _ in window if not ok),
            "p99_without_own_cpu_wait_ms": round(_quantile(served, 0.99) * 1000, 2),
            "p99_own_cpu_wait_ms": round(_quantile(sorted(o for *_, o in window), 0.99) * 1000, 2),
        }

    def statement_times(
        self, start: float, end: float
    ) -> list[tuple[float, float, tuple[float, ...]]]:
        """(due, seconds late, each statement's seconds) of the transactions due in [start, end)
        (with ``statements=True``)."""
        return sorted(s for w in self._workers for s in w.statements if start <= s[0] < end)


def _quantile(ordered: list[float], q: float) -> float:
    """Nearest-rank quantile: an observed latency, never an interpolated one."""
    rank = max(1, min(len(ordered), round(q * len(ordered) + 0.5)))
    return ordered[rank - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--schema", default="dbarchive_bench")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--connections", type=int, default=4)
    args = parser.parse_args()
    load = ProdLoad(args.schema, args.rate, args.connections)
    load.start()
    time.sleep(args.seconds + 0.2)
    load.stop()
    stats = load.stats(load.started, load.stop_at)
    print(json.dumps({"at": dt.datetime.now(dt.UTC).isoformat(), **stats}))


if __name__ == "__main__":
    main()
