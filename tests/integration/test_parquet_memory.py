"""Constant memory with Parquet: a 1M-row day costs no more memory than a 100k-row day.

Each export (and the read-back check of its files) runs in a fresh subprocess whose peak RSS
is compared between the two day sizes. No timing is asserted.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.integration.helpers import LOG_TABLE_DDL, fill_events
from tests.integration.mysql_fixtures import MySqlSchema, mysql_schema  # noqa: F401

SMALL, BIG = 100_000, 1_000_000
SLACK_MIB = 48  # allocator and pyarrow pool noise; a whole-day buffer would be hundreds of MiB

_CHILD = """
import json, resource, sys, datetime as dt
from dbarchive import build_context, export_day
from dbarchive.config import job_from_dict
from dbarchive.steps.archive_files import check_files
from dbarchive.manifest import Manifest
url, dest, day = sys.argv[1], sys.argv[2], dt.date.fromisoformat(sys.argv[3])
job = job_from_dict({"source": {"url": url}, "destination": {"url": dest},
    "tables": [{"name": "events", "timestamp_column": "created_at", "format": "parquet",
                "chunk_rows": 20000, "max_file_mib": 8}]})
ctx = build_context(job)
result = export_day(ctx, job.tables[0], day)
manifest = Manifest.loads(ctx.storage.get_bytes(result.manifest_key))
problems = check_files(ctx.storage, manifest, "rows")
print(json.dumps({"rows": result.rows, "files": len(result.files), "problems": problems,
                  "peak_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""


def _export(schema: MySqlSchema, dest: Path, day: str) -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, schema.url, str(dest), day],
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def test_parquet_export_memory_does_not_grow_with_the_day(
    mysql_schema: MySqlSchema, tmp_path: Path
) -> None:
    """Peak RSS of exporting + reading back 1M rows stays within a few MiB of 100k rows'."""
    mysql_schema.execute(LOG_TABLE_DDL)
    fill_events(mysql_schema, "2026-05-01", SMALL)
    fill_events(mysql_schema, "2026-05-02", BIG)
    small = _export(mysql_schema, tmp_path / "a", "2026-05-01")
    big = _export(mysql_schema, tmp_path / "b", "2026-05-02")
    assert (small["rows"], big["rows"], small["problems"], big["problems"]) == (SMALL, BIG, [], [])
    assert isinstance(big["files"], int) and big["files"] > 1  # rolled at max_file_mib
    small_mib = int(str(small["peak_kib"])) / 1024
    big_mib = int(str(big["peak_kib"])) / 1024
    assert big_mib <= small_mib + SLACK_MIB, (small_mib, big_mib)
