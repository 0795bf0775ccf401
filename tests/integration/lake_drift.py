"""A drifted every-type table: its first day archived, then a column added, one dropped and one
widened, then its second day archived. The shared fixture of the reader tests
(``test_lake_drift.py``), with the answers every reader of the archive must give."""

from __future__ import annotations

import datetime as dt
import shutil
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb

from dbarchive import build_context, export_day
from dbarchive.config import ArchiveJob
from tests.integration.every_type import COLUMNS, DAY, DDL, load_every_type
from tests.integration.helpers import make_job
from tests.integration.mysql_fixtures import MySqlSchema

TABLE = [{"name": "everything", "timestamp_column": "ts", "chunk_rows": 5}]
DAYS = (DAY, DAY + dt.timedelta(days=1))
# After the first day: `note` added (only the second day has it), `latin` dropped (only the
# first day has it), `i` widened from INT to BIGINT.
DRIFT = (
    "ALTER TABLE everything ADD COLUMN note VARCHAR(20) NULL AFTER ts, DROP COLUMN latin, "
    "MODIFY i BIGINT NULL"
)
_KEPT = [c for c in COLUMNS if c != "latin"]
NOW_COLUMNS = [*_KEPT[:2], "note", *_KEPT[2:]]


@dataclass(frozen=True)
class Drifted:
    """The archived job, and the first day's non-NULL `latin` values (the column is gone)."""

    job: ArchiveJob
    latin_first_day: int


def archive_drifted(
    schema: MySqlSchema, dest: str, fmt: str, later_compression: str | None = None, **options: Any
) -> Drifted:
    """Archive the first day, drift the table, add the second day's rows and archive it
    (``later_compression``: with another compression than the first)."""
    schema.execute(DDL)
    load_every_type(schema, "everything", zero_dates=False)
    job = make_job(schema.url, dest, TABLE, format=fmt, **options)
    _export(job, DAYS[0])
    latin = schema.execute("SELECT COUNT(latin) FROM everything")[0][0]
    schema.execute(DRIFT)
    cols = ", ".join(f"`{c}`" for c in NOW_COLUMNS[3:])
    schema.execute(
        f"INSERT INTO everything SELECT id + 100, ts + INTERVAL 1 DAY, 'new', {cols} FROM everything"
    )
    if later_compression is not None:
        job = make_job(
            schema.url, dest, TABLE, format=fmt, compression=later_compression, **options
        )
    _export(job, DAYS[1])
    return Drifted(job, latin)


def _export(job: ArchiveJob, day: dt.date) -> None:
    ctx = build_context(job)
    try:
        export_day(ctx, job.tables[0], day)
    finally:
        ctx.source.close()


def source_facts(schema: MySqlSchema, drifted: Drifted) -> dict[str, Any]:
    """What the database says, on the columns the table has now, plus the dropped `latin`."""
    schema.execute("SET SESSION time_zone = '+00:00'")
    one = schema.execute(
        "SELECT COUNT(*), SUM(dec4), MAX(bi), SUM(i), MIN(dt6), MAX(dt6), MIN(tsp), MAX(tsp) "
        "FROM everything"
    )[0]
    per_day = [
        (d.day, n, notes, drifted.latin_first_day if d == DAYS[0] else 0)
        for d, n, notes in schema.execute(
            "SELECT DATE(ts), COUNT(*), COUNT(note) FROM everything GROUP BY 1 ORDER BY 1"
        )
    ]
    return {
        "count": one[0],
        "sum_dec4": Decimal(one[1]),
        "max_bi": Decimal(one[2]),
        "sum_i": int(one[3]),
        "dt6": (one[4], one[5]),
        "tsp": (one[6], one[7]),
        "per_day": per_day,
        "dec65": sorted(
            r[0] for r in schema.execute("SELECT CAST(dec65 AS CHAR) FROM everything") if r[0]
        ),
        "nulls": {
            c: schema.execute(f"SELECT COUNT(*) - COUNT(`{c}`) FROM everything")[0][0]
            for c in NOW_COLUMNS
        },
        "strings": sorted(
            r[0] for r in schema.execute("SELECT vc FROM everything WHERE vc IS NOT NULL")
        ),
        "blobs": sorted(
            r[0] for r in schema.execute("SELECT HEX(bl) FROM everything WHERE bl IS NOT NULL")
        ),
    }


def reader_facts(con: duckdb.DuckDBPyConnection, binary_is_hex: bool) -> dict[str, Any]:
    """The same answers from a relation ``everything`` in DuckDB (a view, or an Arrow table)."""
    q = con.execute
    one = q(
        "SELECT count(*), sum(dec4), max(bi), sum(i), min(dt6), max(dt6), min(tsp), max(tsp) "
        "FROM everything"
    ).fetchone()
    assert one is not None
    per_day = q(
        "SELECT day, count(*), count(note), count(latin) FROM everything GROUP BY day ORDER BY day"
    ).fetchall()
    blob = "bl" if binary_is_hex else "upper(hex(bl))"
    naive = [v.replace(tzinfo=None) if v is not None and v.tzinfo else v for v in one[6:8]]
    return {
        "count": one[0],
        "sum_dec4": one[1],
        "max_bi": one[2],
        "sum_i": one[3],
        "dt6": (one[4], one[5]),
        "tsp": tuple(naive),
        "per_day": [tuple(r) for r in per_day],
        "dec65": sorted(r[0] for r in q("SELECT dec65 FROM everything").fetchall() if r[0]),
        "nulls": {
            c: q(f'SELECT count(*) - count("{c}") FROM everything').fetchone()[0]  # type: ignore[index]
            for c in NOW_COLUMNS
        },
        "strings": sorted(
            r[0] for r in q("SELECT vc FROM everything WHERE vc IS NOT NULL").fetchall()
        ),
        "blobs": sorted(
            r[0] for r in q(f"SELECT {blob} FROM everything WHERE bl IS NOT NULL").fetchall()
        ),
    }


def offline_duckdb(folder: Path) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection whose ``INSTALL httpfs`` / ``aws`` / ``avro`` / ``iceberg`` find the
    extensions the PyPI packages ``duckdb-extension-httpfs`` etc. ship (copied into ``folder`` in
    DuckDB's own layout), so nothing is downloaded; any download it would still try goes to a
    closed port on 127.0.0.1, never to another host."""
    import duckdb_extension_avro
    import duckdb_extension_aws
    import duckdb_extension_httpfs
    import duckdb_extension_iceberg

    version = duckdb.__version__
    target = folder / f"v{version}" / _duckdb_platform()
    target.mkdir(parents=True, exist_ok=True)
    packages = (duckdb_extension_httpfs, duckdb_extension_aws, duckdb_extension_avro,
                duckdb_extension_iceberg)  # fmt: skip
    for package in packages:
        shipped = Path(package.__file__).parent / "extensions" / f"v{version}"
        for ext in shipped.glob("*.duckdb_extension"):
            shutil.copy(ext, target / ext.name)
    nowhere = "http://127.0.0.1:9"
    return duckdb.connect(
        config={
            "extension_directory": str(folder),
            "custom_extension_repository": nowhere,
            "autoinstall_extension_repository": nowhere,
        }
    )


def _duckdb_platform() -> str:
    con = duckdb.connect()
    row = con.execute("PRAGMA platform").fetchone()
    assert row is not None
    return str(row[0])
