"""The Iceberg target's cost next to plain Parquet: the export's rows/s, and the commit apart.

Usage: .venv/bin/python bench/iceberg.py [--rows 1000000] [--runs 3]

One day of an 8-column log table is exported to a private SeaweedFS S3 on 127.0.0.1
(bench/s3server.py) as ``format = "parquet"`` and as ``format = "iceberg"`` (SQL catalog on SQLite,
the table's metadata in the bucket), alternately, ``--runs`` times each into fresh prefixes; the
Iceberg commit (reading the new files' footers, writing the manifest, manifest list and metadata,
the catalog's row) is timed on its own inside the same export. Client unpinned: the difference is
S3 round trips, not CPU. Medians go to bench/results/iceberg.md. Not a test: it only measures.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import MySQLdb
from report import append_row
from s3server import seaweedfs

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
SCHEMA = "dbarchive_bench_iceberg"
DAY = dt.date(2026, 1, 10)


def _fill(rows: int) -> None:
    conn = MySQLdb.connect(host="127.0.0.1", user="root", autocommit=True)
    cur = conn.cursor()
    cur.execute(f"DROP DATABASE IF EXISTS {SCHEMA}")
    cur.execute(f"CREATE DATABASE {SCHEMA}")
    cur.execute(f"USE {SCHEMA}")  # the seq_1_to_N engine needs a current database
    cur.execute(
        "CREATE TABLE events (id BIGINT AUTO_INCREMENT PRIMARY KEY, created_at DATETIME(6) NOT "
        "NULL, account_id INT NOT NULL, amount DECIMAL(18,4), status VARCHAR(16), "
        "note VARCHAR(255), payload JSON, ref BINARY(16), KEY idx_created (created_at))"
    )
    cur.execute(
        "INSERT INTO events (created_at, account_id, amount, status, note, payload, ref) "
        "SELECT TIMESTAMP(%s) + INTERVAL (seq * 86399000000 DIV %s) MICROSECOND, seq %% 997, "
        "seq / 7, ELT(1 + seq %% 3, 'ok', 'failed', 'pending'), SHA2(seq, 256), "
        "JSON_OBJECT('n', seq), UNHEX(MD5(seq)) FROM seq_1_to_" + str(rows),
        (DAY.isoformat(), rows),
    )
    conn.close()


def _export(fmt: str, server: Any, bucket: str, tmp: Path) -> dict[str, float]:
    """One export of the day into a fresh prefix, in this process; the commit timed apart."""
    from dbarchive import build_context, lakehouse
    from dbarchive.build import build_storage
    from dbarchive.config import job_from_dict
    from dbarchive.pipeline import export_day
    from dbarchive.storage.base import StorageOptions

    prefix = uuid.uuid4().hex[:8]
    job = job_from_dict(
        {
            "source": {"url": f"mysql://root@127.0.0.1:3306/{SCHEMA}"},
            "destination": {
                "url": f"s3://{bucket}/{prefix}",
                "endpoint_url": server.url,
                "region": "us-east-1",
            },
            "defaults": {"format": fmt, "max_file_mib": 64},
            "iceberg": {"catalog": "sql", "uri": f"sqlite:///{tmp / prefix}.db"},
            "tables": [{"name": "events", "timestamp_column": "created_at"}],
        }
    )
    env = server.env()
    options = StorageOptions(
        endpoint_url=server.url,
        region="us-east-1",
        access_key_id=env["AWS_ACCESS_KEY_ID"],
        secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
    )
    ctx = build_context(job, storage=build_storage(job, options))
    committing = [0.0]
    real = lakehouse.commit_day

    def timed(*args: Any) -> None:
        t0 = time.perf_counter()
        real(*args)
        committing[0] += time.perf_counter() - t0

    lakehouse.commit_day = timed  # type: ignore[assignment]
    try:
        t0 = time.perf_counter()
        result = export_day(ctx, job.tables[0], DAY)
        seconds = time.perf_counter() - t0
    finally:
        lakehouse.commit_day = real  # type: ignore[assignment]
        ctx.close()
    return {"seconds": seconds, "rows": result.rows, "commit": committing[0],
            "bytes": result.bytes}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    _fill(args.rows)
    runs: dict[str, list[dict[str, float]]] = {"parquet": [], "iceberg": []}
    with seaweedfs() as server, tempfile.TemporaryDirectory() as tmp:
        bucket = f"bench-{uuid.uuid4().hex[:8]}"
        os.environ.update(server.env())
        server.client().create_bucket(Bucket=bucket)
        for _ in range(args.runs):
            for fmt in runs:
                runs[fmt].append(_export(fmt, server, bucket, Path(tmp)))
    parquet = statistics.median(r["rows"] / r["seconds"] for r in runs["parquet"])
    iceberg = statistics.median(r["rows"] / r["seconds"] for r in runs["iceberg"])
    commit = statistics.median(r["commit"] for r in runs["iceberg"])
    whole = statistics.median(r["seconds"] for r in runs["iceberg"])
    line = append_row(
        ROOT / "bench" / "results" / "iceberg.md",
        "Iceberg export vs Parquet (bench/iceberg.py; SeaweedFS S3 on 127.0.0.1, unpinned)",
        ["run (UTC)", "rows", "runs", "Parquet rows/s", "Iceberg rows/s", "ratio",
         "commit (median)", "commit share"],
        [f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M}", f"{args.rows:,}", str(args.runs),
         f"{parquet:,.0f}", f"{iceberg:,.0f}", f"{iceberg / parquet:.2f}x", f"{commit:.3f} s",
         f"{commit / whole:.1%}"],
    )  # fmt: skip
    print(line)


if __name__ == "__main__":
    main()
