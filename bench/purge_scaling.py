"""Purge throughput and statement times: ~1M expired rows archived, verified and deleted.

Usage: .venv/bin/python bench/purge_scaling.py --rows 1000000 --days 10 --runs 3

Each run fills a fresh schema with ``--rows`` rows over ``--days`` expired days (plus nothing
else), archives them (`dbarchive export --from --to`, not timed), then times `dbarchive purge
--json` with default settings: verification of every day (files read back + database digest) and
the row-matched chunked deletes. Reports medians: wall time, rows/s, longest chunk transaction and
longest single DELETE statement. Results are appended to bench/results/purge_scaling.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import MySQLdb
from data import fill

FIRST_DAY = dt.date(2026, 1, 1)


def _config(schema: str, out: Path) -> Path:
    cfg = out / f"{schema}.toml"
    cfg.write_text(
        f'[source]\nurl = "mysql://root@127.0.0.1:3306/{schema}"\n[destination]\nurl = "{out / "archive"}"\n'
        '[defaults]\nretention = "60 days"\n[[tables]]\nname = "events"\ntimestamp_column = "created_at"\n'
    )
    return cfg


def _one_run(conn: object, rows: int, days: int, work: Path) -> dict[str, float]:
    schema = "dbarchive_bench_purge"
    fill(conn, schema, rows, FIRST_DAY.isoformat(), days)
    cfg = _config(schema, work)
    exe = str(Path(sys.executable).parent / "dbarchive")
    last = FIRST_DAY + dt.timedelta(days=days - 1)
    subprocess.run(
        [exe, "export", "-c", str(cfg), "--from", str(FIRST_DAY), "--to", str(last), "-q"],
        check=True,
    )
    today = last + dt.timedelta(days=61)
    print(f"load average {os.getloadavg()[0]:.2f}; purging {rows:,} rows", file=sys.stderr)
    started = time.monotonic()
    proc = subprocess.run([exe, "purge", "-c", str(cfg), "--today", str(today), "--json"],
                          check=True, capture_output=True, text=True)  # fmt: skip
    wall = time.monotonic() - started
    purged = json.loads(proc.stdout)[0]["purged"]
    deleted = sum(p["rows_deleted"] for p in purged)
    assert deleted == rows, f"deleted {deleted} of {rows}"
    return {
        "wall": wall,
        "rows_per_s": rows / wall,
        "purge_only_s": sum(p["seconds"] for p in purged),
        "longest_chunk": max(p["longest_chunk_seconds"] for p in purged),
        "longest_delete": max(p["longest_delete_seconds"] for p in purged),
        "chunks": sum(p["chunks"] for p in purged),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=10)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    conn = MySQLdb.connect(host="127.0.0.1", user="root", autocommit=True)
    results = []
    with tempfile.TemporaryDirectory(prefix="dbarchive-bench-") as tmp:
        for i in range(args.runs):
            work = Path(tmp) / f"run{i}"
            work.mkdir()
            results.append(_one_run(conn, args.rows, args.days, work))
    conn.cursor().execute("DROP DATABASE IF EXISTS dbarchive_bench_purge")

    def med(name: str) -> float:
        return statistics.median(r[name] for r in results)

    text = (
        f"\n## {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC — {args.rows:,} expired rows over {args.days} days, "
        f"default settings, median of {args.runs} runs\n\n"
        "| wall s (verify + delete) | rows/s | of which delete loop s | chunks | longest chunk s | longest DELETE s |\n"
        "|---|---|---|---|---|---|\n"
        f"| {med('wall'):.1f} | {med('rows_per_s'):,.0f} | {med('purge_only_s'):.1f} | {med('chunks'):.0f} | "
        f"{med('longest_chunk'):.3f} | {med('longest_delete'):.3f} |\n"
    )
    print(text)
    with open(Path(__file__).parent / "results" / "purge_scaling.md", "a") as f:
        f.write(text)


if __name__ == "__main__":
    main()
