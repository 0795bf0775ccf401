"""Query tests: the archive of an every-type table, read by DuckDB and pyarrow.dataset (over the
suite's S3 server) through the generated definitions, gives the source's answers."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pytest
from click.testing import CliRunner

from dbarchive import build_context, export_day
from dbarchive.build import build_storage
from dbarchive.cli import cli
from dbarchive.ddl import ddl_text, read_definition
from dbarchive.ddl.arrow import archive_dataset
from dbarchive.layout import Layout
from tests.integration.conftest import S3Endpoint
from tests.integration.every_type import COLUMNS, DAY, DDL, load_every_type
from tests.integration.helpers import make_job
from tests.integration.mysql_fixtures import MySqlSchema, mysql_schema  # noqa: F401

TABLE = [{"name": "everything", "timestamp_column": "ts", "chunk_rows": 5}]
DAYS = (DAY, DAY + dt.timedelta(days=1))


def _two_days(schema: MySqlSchema) -> None:
    schema.execute(DDL)
    load_every_type(schema, "everything", zero_dates=False)
    cols = ", ".join(f"`{c}`" for c in COLUMNS[2:])
    schema.execute(
        f"INSERT INTO everything SELECT id + 100, ts + INTERVAL 1 DAY, {cols} FROM everything"
    )


def _source_facts(schema: MySqlSchema) -> dict[str, Any]:
    """The answers every reader must give: counts, sums, extremes, NULLs, tricky strings."""
    schema.execute("SET SESSION time_zone = '+00:00'")
    (count, total, lo, hi, tlo, thi) = schema.execute(
        "SELECT COUNT(*), SUM(dec4), MIN(dt6), MAX(dt6), MIN(tsp), MAX(tsp) FROM everything"
    )[0]
    nulls = {
        c: schema.execute(f"SELECT COUNT(*) - COUNT(`{c}`) FROM everything")[0][0] for c in COLUMNS
    }
    strings = sorted(r[0] for r in schema.execute("SELECT vc FROM everything WHERE vc IS NOT NULL"))
    blobs = sorted(
        r[0] for r in schema.execute("SELECT HEX(bl) FROM everything WHERE bl IS NOT NULL")
    )
    return {"count": count, "sum": Decimal(total), "dt6": (lo, hi), "tsp": (tlo, thi),
            "nulls": nulls, "strings": strings, "blobs": blobs}  # fmt: skip


def _archive(schema: MySqlSchema, dest: str, fmt: str, **dest_options: Any) -> Any:
    job = make_job(schema.url, dest, TABLE, format=fmt, **dest_options)
    ctx = build_context(job)
    for day in DAYS:
        export_day(ctx, job.tables[0], day)
    ctx.source.close()
    return job


def _duckdb_facts(con: duckdb.DuckDBPyConnection, binary_is_hex: bool) -> dict[str, Any]:
    q = con.execute
    count, total, lo, hi, tlo, thi = q(
        "SELECT count(*), sum(dec4), min(dt6), max(dt6), min(tsp), max(tsp) FROM everything"
    ).fetchone()  # type: ignore[misc]
    nulls = {c: q(f'SELECT count(*) - count("{c}") FROM everything').fetchone()[0] for c in COLUMNS}  # type: ignore[index]
    strings = sorted(r[0] for r in q("SELECT vc FROM everything WHERE vc IS NOT NULL").fetchall())
    blob = "bl" if binary_is_hex else "upper(hex(bl))"
    blobs = sorted(
        r[0] for r in q(f"SELECT {blob} FROM everything WHERE bl IS NOT NULL").fetchall()
    )
    days = q("SELECT DISTINCT year, month, day FROM everything ORDER BY ALL").fetchall()
    assert days == [(d.year, d.month, d.day) for d in DAYS]
    naive = [v.replace(tzinfo=None) if v is not None and v.tzinfo else v for v in (tlo, thi)]
    return {"count": count, "sum": total, "dt6": (lo, hi), "tsp": tuple(naive),
            "nulls": nulls, "strings": strings, "blobs": blobs}  # fmt: skip


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_duckdb_reads_the_archive_through_the_generated_view(
    mysql_schema: MySqlSchema, tmp_path: Path, fmt: str
) -> None:
    """`dbarchive ddl --engine duckdb` runs as printed and every aggregate equals the source's."""
    _two_days(mysql_schema)
    job = _archive(mysql_schema, str(tmp_path / "arch"), fmt)
    config = tmp_path / "job.toml"
    config.write_text(
        f'[source]\nurl = "{mysql_schema.url}"\n[destination]\nurl = "{tmp_path / "arch"}"\n'
        f'[defaults]\nformat = "{fmt}"\n[[tables]]\nname = "everything"\ntimestamp_column = "ts"\n'
    )
    result = CliRunner().invoke(
        cli, ["ddl", "-c", str(config), "-t", "everything", "--engine", "duckdb"]
    )
    assert result.exit_code == 0, result.output
    assert job.tables[0].format == fmt
    con = duckdb.connect()
    con.execute(result.stdout)
    assert _duckdb_facts(con, binary_is_hex=fmt == "csv") == _source_facts(mysql_schema)


def _s3(endpoint: S3Endpoint) -> pafs.S3FileSystem:
    return pafs.S3FileSystem(
        access_key=endpoint.access_key,
        secret_key=endpoint.secret_key,
        endpoint_override=endpoint.url,
        region=endpoint.region,
        scheme="http",
    )


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_pyarrow_dataset_reads_the_archive_over_s3(
    mysql_schema: MySqlSchema,
    s3_endpoint: S3Endpoint,
    s3_bucket: str,
    monkeypatch: pytest.MonkeyPatch,
    fmt: str,
) -> None:
    """pyarrow.dataset with the dialect's options, over the S3 server, gives the source's answers."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3_endpoint.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3_endpoint.secret_key)
    _two_days(mysql_schema)
    job = _archive(mysql_schema, f"s3://{s3_bucket}/arch", fmt,
                   endpoint_url=s3_endpoint.url, region=s3_endpoint.region)  # fmt: skip
    defn = read_definition(build_storage(job), f"s3://{s3_bucket}/arch", "everything", Layout.HIVE)
    table = archive_dataset(defn, _s3(s3_endpoint), f"{s3_bucket}/arch/everything").to_table()
    con = duckdb.connect()
    con.register("everything", table)  # DuckDB as the calculator over the Arrow table
    assert table.num_rows == _source_facts(mysql_schema)["count"]
    assert pc.sum(table["dec4"]).as_py() == _source_facts(mysql_schema)["sum"]
    assert _duckdb_facts(con, binary_is_hex=fmt == "csv") == _source_facts(mysql_schema)


def test_schema_change_is_reported_and_read_by_name(
    mysql_schema: MySqlSchema, tmp_path: Path
) -> None:
    """A column added between two days: each manifest keeps its columns, `ddl` says which day
    lacks the column, and DuckDB reads the Parquet days by name (NULL where it is missing)."""
    mysql_schema.execute(DDL)
    load_every_type(mysql_schema, "everything", zero_dates=False)
    dest = str(tmp_path / "arch")
    job = make_job(mysql_schema.url, dest, TABLE, format="parquet")
    ctx = build_context(job)
    export_day(ctx, job.tables[0], DAY)
    ctx.source.close()
    mysql_schema.execute("ALTER TABLE everything ADD COLUMN note VARCHAR(20) NULL AFTER ts")
    cols = ", ".join(f"`{c}`" for c in COLUMNS[2:])
    mysql_schema.execute(
        f"INSERT INTO everything SELECT id + 100, ts + INTERVAL 1 DAY, 'new', {cols} FROM everything"
    )
    ctx = build_context(job)
    export_day(ctx, job.tables[0], DAYS[1])
    ctx.source.close()
    manifests = [json.loads(p.read_text()) for p in sorted(tmp_path.rglob("_manifest.json"))]
    assert ["note" in [c["name"] for c in m["columns"]] for m in manifests] == [False, True]
    defn = read_definition(build_storage(job), dest, "everything", Layout.HIVE)
    assert [c.name for c in defn.columns][:3] == ["id", "ts", "note"]
    assert defn.notes[0].startswith(f"partitions disagree on columns ({DAY} differ from {DAYS[1]})")
    assert defn.notes[1] == f"  {DAY}: lacks note"
    text = ddl_text("duckdb", defn)
    assert f"-- partitions disagree on columns ({DAY}" in text
    con = duckdb.connect()
    con.execute(text)
    rows = con.sql(
        "SELECT day, count(*), count(note) FROM everything GROUP BY day ORDER BY day"
    ).fetchall()
    assert rows == [(DAY.day, 13, 0), (DAYS[1].day, 13, 13)]
    athena = ddl_text("athena", defn)
    assert "-- Parquet is read by column name" in athena
