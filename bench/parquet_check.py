"""What the purge's up-front check of a Parquet part's rows costs the worker.

Before a purge matches a Parquet part's rows it now renders every row group back to canonical
text and checks the rows' digest against the manifest (``steps/read_parquet._checked`` with
``checked_first``), then reads the part again to match: the local copy is read twice. This
script writes one part of ``--rows`` rows shaped like the bench's log table (id, DATETIME(6),
INT, DECIMAL, TEXT, JSON) to a local folder and times the purge's read of it — keys and row
hashes, as ``steps/matching`` takes them — with the check first and without it (the old
path: the verdict at the end), interleaved run by run. Client side only (no database), the
process pinned to one core by the caller (``taskset -c 1``); medians of ``--runs``.

Usage: taskset -c 1 .venv/bin/python bench/parquet_check.py [--rows 500000] [--runs 5]
Writes bench/results/parquet-check.{md,json}.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

from dbarchive.checksum import Value
from dbarchive.formats.compression import Compression
from dbarchive.layout import PartitionPath
from dbarchive.manifest import FileEntry
from dbarchive.sources.canonical import Column
from dbarchive.steps.archive_files import iter_file_digests
from dbarchive.steps.write import WriteSettings
from dbarchive.steps.writers import open_part_writer
from dbarchive.storage.local import LocalStorage

ROOT = Path(__file__).resolve().parent.parent
COLUMNS = (
    Column("id", "bigint", "bigint", False),
    Column("created_at", "datetime", "datetime(6)", False),
    Column("account_id", "int", "int", False),
    Column("amount", "decimal", "decimal(12,2)", True),
    Column("message", "text", "text", True, "utf8mb4", "utf8mb4_general_ci"),
    Column("payload", "json", "json", True, "utf8mb4", "utf8mb4_bin"),
)
CHUNK = 10_000


def _rows(first: int, count: int) -> list[list[Value]]:
    start = dt.datetime(2026, 1, 15)
    return [
        [
            str(i).encode(),
            (start + dt.timedelta(microseconds=i * 86_400))
            .strftime("%Y-%m-%d %H:%M:%S.%f")
            .encode(),
            str(i % 9973).encode(),
            f"{i % 100000}.{i % 100:02d}".encode(),
            f"request {i} from account {i % 9973}: ok, 200 in {i % 997} ms".encode(),
            json.dumps({"id": i, "tags": ["a", "b"], "ok": True}).encode(),
        ]
        for i in range(first, first + count)
    ]


def write_part(folder: str, rows: int) -> tuple[LocalStorage, FileEntry]:
    storage = LocalStorage(folder)
    settings = WriteSettings(Compression.ZSTD, None, 1 << 40)
    partition = PartitionPath("events", dt.date(2026, 1, 15))
    writer = open_part_writer("parquet", storage, partition, COLUMNS, [0], settings)
    for first in range(0, rows, CHUNK):
        writer.write_chunk(_rows(first, min(CHUNK, rows - first)))
    (entry,) = writer.close()
    return storage, entry


def read_seconds(storage: LocalStorage, entry: FileEntry, checked_first: bool) -> float:
    """One read of the part as the purge's matching reads it (keys and row hashes)."""
    t0 = time.perf_counter()
    for _ in iter_file_digests(storage, entry, 0, checked_first=checked_first):
        pass
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=500_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="dbarchive-bench-") as folder:
        storage, entry = write_part(folder, args.rows)
        times: dict[str, list[float]] = {"checked first": [], "verdict at the end": []}
        for _ in range(args.runs):
            times["checked first"].append(read_seconds(storage, entry, True))
            times["verdict at the end"].append(read_seconds(storage, entry, False))
    medians = {k: statistics.median(v) for k, v in times.items()}
    ratio = medians["checked first"] / medians["verdict at the end"]
    result = {
        "rows": args.rows,
        "part_bytes": entry.bytes,
        "runs": times,
        "median_seconds": medians,
        "ratio": ratio,
        "cpu_affinity": sorted(os.sched_getaffinity(0)),
        "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    out = ROOT / "bench" / "results"
    (out / "parquet-check.json").write_text(json.dumps(result, indent=2) + "\n")
    per_million = {k: v / args.rows * 1e6 for k, v in medians.items()}
    lines = [
        f"# The purge's Parquet check ({result['at']}, {args.rows:,} rows, "
        f"{entry.bytes / 1e6:.1f} MB part, CPU {result['cpu_affinity']})",
        "",
        "| read of one part, as the purge matches it | median s | s per 1M rows |",
        "|---|---|---|",
        *(f"| {k} | {medians[k]:.2f} | {per_million[k]:.2f} |" for k in medians),
        "",
        f"Checked first / verdict at the end: **{ratio:.2f}x** (medians of {args.runs} runs).",
    ]
    (out / "parquet-check.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
