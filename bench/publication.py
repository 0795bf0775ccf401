"""How long readers of every file can see a replaced day's old and new files together.

Usage: .venv/bin/python bench/publication.py [--rows 1000000] [--file-mib 16] [--runs 5]

A re-export of a changed day (docs/design/publication.md) writes the new generation staged (hidden),
then claims it, promotes each file with a server-side copy, replaces ``_manifest.json`` and deletes
the old generation's files. Athena or Spark, which read every file of the folder, can see both
generations from the first promoted copy to the last delete: this measures that interval (the
export's own ``overlap_seconds``) next to the whole re-export's duration, on a private SeaweedFS S3
on 127.0.0.1 (bench/s3server.py), ``--runs`` times (one row updated before each), medians reported.
The client is not pinned to a core: the interval is S3 calls, not CPU. Results are appended to
bench/results/publication.md. Not a test: it only measures.
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
import uuid
from pathlib import Path

import MySQLdb
from report import append_row
from s3server import seaweedfs

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = "dbarchive_bench_publication"
DAY = dt.date(2026, 1, 10)


def _fill(rows: int) -> None:
    conn = MySQLdb.connect(host="127.0.0.1", user="root", autocommit=True)
    cur = conn.cursor()
    cur.execute(f"DROP DATABASE IF EXISTS {SCHEMA}")
    cur.execute(f"CREATE DATABASE {SCHEMA}")
    cur.execute(f"USE {SCHEMA}")  # the seq_1_to_N engine needs a current database
    cur.execute(
        f"CREATE TABLE {SCHEMA}.events (id BIGINT AUTO_INCREMENT PRIMARY KEY, "
        "created_at DATETIME(6) NOT NULL, account_id INT NOT NULL, note VARCHAR(255), "
        "KEY idx_created (created_at)) ENGINE=InnoDB"
    )
    cur.execute(
        f"INSERT INTO {SCHEMA}.events (created_at, account_id, note) "
        "SELECT TIMESTAMP(%s) + INTERVAL (seq * 86399000000 DIV %s) MICROSECOND, seq %% 997, "
        "SHA2(seq, 512) FROM seq_1_to_" + str(rows),
        (DAY.isoformat(), rows),
    )
    conn.close()


def _export(config: Path, env: dict[str, str]) -> dict[str, float]:
    cmd = [sys.executable, "-m", "dbarchive", "export", "-c", str(config), "--date", str(DAY), "--json"]  # fmt: skip
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
    (result,) = json.loads(out)
    return {k: result[k] for k in ("seconds", "overlap_seconds", "generation")} | {
        "files": len(result["files"])
    }


def _touch_one_row() -> None:
    conn = MySQLdb.connect(host="127.0.0.1", user="root", db=SCHEMA, autocommit=True)
    conn.cursor().execute("UPDATE events SET account_id = account_id + 1 WHERE id = 1")
    conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--file-mib", type=int, default=16)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    _fill(args.rows)
    with seaweedfs() as server, tempfile.TemporaryDirectory() as tmp:
        bucket = f"bench-{uuid.uuid4().hex[:8]}"
        env = {**os.environ, **server.env()}
        server.client().create_bucket(Bucket=bucket)
        config = Path(tmp) / "job.toml"
        config.write_text(
            f'[source]\nurl = "mysql://root@127.0.0.1:3306/{SCHEMA}"\n'
            f'[destination]\nurl = "s3://{bucket}/arch"\nendpoint_url = "{server.url}"\n'
            f'[defaults]\ncompression = "zstd"\nmax_file_mib = {args.file_mib}\n'
            '[[tables]]\nname = "events"\ntimestamp_column = "created_at"\n'
        )
        first = _export(config, env)
        runs = []
        for _ in range(args.runs):
            _touch_one_row()
            runs.append(_export(config, env))
    overlap = statistics.median(r["overlap_seconds"] for r in runs)
    total = statistics.median(r["seconds"] for r in runs)
    line = append_row(
        ROOT / "bench" / "results" / "publication.md",
        "Re-publication: old and new files visible together (bench/publication.py)",
        ["run (UTC)", "rows", "files", "runs", "overlap (median)", "re-export (median)", "share"],
        [f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M}", f"{args.rows:,}", str(first["files"]),
         str(args.runs), f"{overlap:.3f} s", f"{total:.2f} s", f"{overlap / total:.1%}"],
    )  # fmt: skip
    print(line)


if __name__ == "__main__":
    main()
