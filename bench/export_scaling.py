"""Export throughput and peak memory for a day of N rows (does memory grow with the day? it must not).

Usage: .venv/bin/python bench/export_scaling.py --rows 100000 1000000 --runs 3 [--compression gzip]

For each size it fills a fresh schema with one day of a fintech-like log table (server-side
INSERT … SELECT from MariaDB's seq engine), then runs `dbarchive export` to a local folder under
`/usr/bin/time -v`, interleaving the sizes run by run, and reports the median wall time, rows/s and
peak RSS. Results are appended to bench/results/export_scaling.md. Not a test: it only measures.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import MySQLdb

DDL = """
CREATE TABLE events (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  created_at DATETIME(6) NOT NULL,
  account_id INT UNSIGNED NOT NULL,
  event_type VARCHAR(20) NOT NULL,
  amount DECIMAL(18,4) NULL,
  currency CHAR(3) NOT NULL,
  ip VARBINARY(16) NULL,
  payload JSON NULL,
  message TEXT NULL,
  KEY idx_created_at (created_at),
  KEY idx_account (account_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4
"""
FILL = """
INSERT INTO events (created_at, account_id, event_type, amount, currency, ip, payload, message)
SELECT TIMESTAMP('2026-01-15') + INTERVAL (seq * 86399 DIV %(n)s) SECOND + INTERVAL seq MOD 1000000 MICROSECOND,
       seq MOD 50000, ELT(1 + seq MOD 4, 'authorize', 'capture', 'refund', 'chargeback'),
       IF(seq MOD 17 = 0, NULL, (seq MOD 100000) / 100), ELT(1 + seq MOD 3, 'EUR', 'USD', 'GBP'),
       IF(seq MOD 11 = 0, NULL, UNHEX(LPAD(HEX(seq), 8, '0'))),
       IF(seq MOD 13 = 0, NULL, CONCAT('{"n": ', seq, ', "tags": ["a", "ü"], "ok": ', seq MOD 2 = 0, '}')),
       CONCAT('payment ', seq, ' for "order" #', seq MOD 9973, ', customer note: Zahlung über € ✓', IF(seq MOD 5 = 0, '\nsecond line', ''))
FROM seq_1_to_%(n)s
"""


def _fill(conn: object, schema: str, rows: int) -> None:
    cur = conn.cursor()  # type: ignore[attr-defined]
    cur.execute(f"DROP DATABASE IF EXISTS `{schema}`")
    cur.execute(f"CREATE DATABASE `{schema}`")
    cur.execute(f"USE `{schema}`")
    cur.execute(DDL)
    cur.execute(FILL % {"n": rows})
    cur.close()


def _run(schema: str, out: Path, compression: str) -> tuple[float, int]:
    cfg = out.parent / f"{schema}.toml"
    cfg.write_text(
        f'[source]\nurl = "mysql://root@127.0.0.1:3306/{schema}"\n[destination]\nurl = "{out}"\n'
        f'[defaults]\ncompression = "{compression}"\n[[tables]]\nname = "events"\n'
        'timestamp_column = "created_at"\n'
    )
    shutil.rmtree(out, ignore_errors=True)
    exe = Path(sys.executable).parent / "dbarchive"
    proc = subprocess.run(
        ["/usr/bin/time", "-v", str(exe), "export", "-c", str(cfg), "--date", "2026-01-15", "-q"],
        capture_output=True,
        text=True,
        check=True,
    )
    wall = re.search(r"Elapsed \(wall clock\) time.*: (?:(\d+):)?(\d+):([\d.]+)", proc.stderr)
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
    assert wall and rss, proc.stderr
    seconds = int(wall.group(1) or 0) * 3600 + int(wall.group(2)) * 60 + float(wall.group(3))
    return seconds, int(rss.group(1))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--compression", default="gzip")
    args = parser.parse_args()
    conn = MySQLdb.connect(host="127.0.0.1", user="root", autocommit=True)
    tmp = Path(tempfile.mkdtemp(prefix="dbarchive-bench-"))
    results: dict[int, list[tuple[float, int]]] = {n: [] for n in args.rows}
    try:
        for n in args.rows:
            _fill(conn, f"dbarchive_bench_{n}", n)
        for _ in range(args.runs):
            for n in args.rows:
                print(
                    f"load average {os.getloadavg()[0]:.2f}; exporting {n:,} rows", file=sys.stderr
                )
                results[n].append(_run(f"dbarchive_bench_{n}", tmp / f"out{n}", args.compression))
    finally:
        for n in args.rows:
            conn.cursor().execute(f"DROP DATABASE IF EXISTS `dbarchive_bench_{n}`")
        shutil.rmtree(tmp, ignore_errors=True)
    lines = [
        f"\n## {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC — compression {args.compression}, "
        f"median of {args.runs} runs, sizes interleaved",
        "",
        "| rows in the day | wall s | rows/s | peak RSS MiB (max of runs) |",
        "|---|---|---|---|",
    ]
    for n, runs in results.items():
        wall = statistics.median(r[0] for r in runs)
        lines.append(
            f"| {n:,} | {wall:.2f} | {n / wall:,.0f} | {max(r[1] for r in runs) / 1024:.1f} |"
        )
    text = "\n".join(lines) + "\n"
    print(text)
    with open(Path(__file__).parent / "results" / "export_scaling.md", "a") as f:
        f.write(text)


if __name__ == "__main__":
    main()
