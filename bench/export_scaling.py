"""Export throughput and peak memory for a day of N rows (does memory grow with the day? it must not).

Usage: .venv/bin/python bench/export_scaling.py --rows 100000 1000000 --runs 3 [--compression gzip]

For each size it fills a fresh schema with one day of a fintech-like log table (bench/data.py:
generated rows, LOAD DATA LOCAL INFILE), then runs `dbarchive export` to a local folder under
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
from data import fill as _fill


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
