"""Rows → CSV part files: what recording the column stats (line breaks, ``\\N`` text) costs.

Usage: .venv/bin/python bench/write_stats.py [--rows 200000] [--chunk 5000] [--runs 5]

Times the CSV part writer (``steps/write.py``: encode each chunk, take its digest and column
stats, compress, write to a local folder) over an 8-column log table, three ways: no value with a
line break, a line break in 1 row of 100 (a few stack traces), and one in every row (a column of
stack traces: the stats then parse every chunk), each with the stats and with their scan
switched off, runs alternating in one process (this machine's cores are shared: the same
conditions for both). Prints the best of ``--runs`` in µs per row and rows/s. Not a test.
"""

from __future__ import annotations

import argparse
import datetime as dt
import tempfile
import time

from dbarchive.formats.compression import Compression
from dbarchive.layout import PartitionPath
from dbarchive.steps import write_stats
from dbarchive.steps.write import PartWriter, WriteSettings
from dbarchive.storage.local import LocalStorage

NAMES = ["id", "created_at", "account_id", "amount", "status", "ip", "message", "payload"]


def _rows(n: int, every: int) -> list[list[bytes | None]]:
    """``n`` log rows; the message of every ``every``-th row holds a line break (0: none)."""
    rows: list[list[bytes | None]] = []
    for i in range(n):
        message = f"GET /api/v2/accounts/{i % 997}/payments?page={i % 13} took {i % 250} ms"
        if every and i % every == 0:
            message += "\nTraceback (most recent call last):\n  File app.py, line 12"
        rows.append([
            str(i).encode(), f"2026-05-01 12:{i % 60:02d}:{i % 60:02d}.{i % 999999:06d}".encode(),
            str(i % 9973).encode(), f"{i % 100000}.{i % 10000:04d}".encode(), b"settled",
            f"10.{i % 256}.{i % 199}.{i % 7}".encode(), message.encode(),
            f'{{"k": {i}, "tags": ["a", "b"], "ok": true}}'.encode() if i % 5 else None,
        ])  # fmt: skip
    return rows


def _once(rows: list[list[bytes | None]], chunk: int) -> float:
    with tempfile.TemporaryDirectory(prefix="dbarchive-bench-") as folder:
        settings = WriteSettings(Compression.GZIP, None, 64 << 20)
        partition = PartitionPath("events", dt.date(2026, 5, 1))
        writer = PartWriter(LocalStorage(folder), partition, NAMES, [0], settings)
        started = time.process_time()
        for start in range(0, len(rows), chunk):
            writer.write_chunk(rows[start : start + chunk])
        writer.close()
        return time.process_time() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--chunk", type=int, default=5_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    scan = write_stats.ColumnStatsScan.add
    for label, every in (("no line breaks", 0), ("1 row in 100", 100), ("every row", 1)):
        rows = _rows(args.rows, every)
        best = {"with stats": float("inf"), "without": float("inf")}
        for _ in range(args.runs):
            for kind in best:
                write_stats.ColumnStatsScan.add = scan if kind == "with stats" else _skip  # type: ignore[method-assign]
                best[kind] = min(best[kind], _once(rows, args.chunk))
        write_stats.ColumnStatsScan.add = scan  # type: ignore[method-assign]
        cost = (best["with stats"] - best["without"]) / best["without"]
        print(f"{label}: " + ", ".join(
            f"{kind} {t / args.rows * 1e6:.3f} µs/row ({args.rows / t:,.0f} rows/s)"
            for kind, t in best.items()
        ) + f"; stats {cost:+.1%} (best of {args.runs})")  # fmt: skip


def _skip(self: write_stats.ColumnStatsScan, chunk: object) -> None:
    """The scan switched off."""


if __name__ == "__main__":
    main()
