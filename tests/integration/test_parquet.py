"""Parquet archives: every type exact (values and NULLs), verified, purged and restored like CSV."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dbarchive import build_context, export_day
from dbarchive.build import build_throttle
from dbarchive.errors import SourceError
from dbarchive.jobs.daily import TableReport, purge_table
from dbarchive.jobs.restore import restore_day
from dbarchive.manifest import Manifest
from dbarchive.steps.verify import verify_day
from tests.integration.every_type import COLUMNS, DAY, DDL, STRINGS, load_every_type
from tests.integration.helpers import make_job
from tests.integration.mysql_fixtures import MySqlSchema, mysql_schema  # noqa: F401

TABLE = [{"name": "everything", "timestamp_column": "ts", "chunk_rows": 4, "retention": "60 days"}]
EXPECTED_TYPES = {
    "id": pa.decimal128(20, 0), "ts": pa.timestamp("us"), "vc": pa.string(), "tx": pa.string(),
    "lt": pa.string(), "ti": pa.int8(), "si": pa.int32(), "mi": pa.int32(),
    "i": pa.int32(), "bi": pa.decimal128(20, 0), "dec65": pa.string(), "dec4": pa.decimal128(10, 4),
    "f": pa.float32(), "d": pa.float64(), "dt6": pa.timestamp("us"), "dt0": pa.timestamp("us"),
    "tsp": pa.timestamp("us", tz="UTC"), "da": pa.date32(), "tm": pa.string(), "yr": pa.int16(),
    "c": pa.string(), "j": pa.string(), "e": pa.string(), "st": pa.string(), "bn": pa.binary(),
    "vb": pa.binary(), "bl": pa.binary(), "bt": pa.int64(), "latin": pa.string(), "u16": pa.string(),
}  # fmt: skip


def _job(schema: MySqlSchema, dest: str, **defaults: Any) -> Any:
    return make_job(schema.url, dest, TABLE, format="parquet", **defaults)


def _server_texts(schema: MySqlSchema) -> list[dict[str, bytes | None]]:
    """Each row's values as the server prints them (binary as hex, BIT as a number), by id."""
    exprs = [
        f"HEX(`{c}`)" if c in {"bn", "vb", "bl"} else f"CAST(`{c}` AS UNSIGNED)" if c == "bt"
        else f"CAST(`{c}` AS DOUBLE)" if c == "f"
        else f"CONVERT(`{c}` USING utf8mb4)" if c in {"latin", "u16"} else f"`{c}`"
        for c in COLUMNS
    ]  # fmt: skip
    schema.execute("SET SESSION time_zone = '+00:00'")
    with schema.conn.cursor() as cur:
        cur.execute(
            f"SELECT {', '.join(f'CAST({e} AS BINARY)' for e in exprs)} FROM everything ORDER BY id"
        )
        return [dict(zip(COLUMNS, row, strict=True)) for row in cur.fetchall()]


def _typed(column: str, text: bytes) -> Any:
    """An independent reading of the server's text as the Python value pyarrow should return."""
    t, s = EXPECTED_TYPES[column], text.decode()
    if pa.types.is_decimal(t):
        return Decimal(s)
    if pa.types.is_integer(t):
        return int(s)
    if pa.types.is_floating(t):
        return float(s)
    if pa.types.is_timestamp(t):
        value = dt.datetime.fromisoformat(s)
        return value.replace(tzinfo=dt.UTC) if t.tz else value
    if pa.types.is_date(t):
        return dt.date.fromisoformat(s)
    if pa.types.is_binary(t):
        return bytes.fromhex(s)
    return s


def _read_parts(ctx: Any, manifest: Manifest) -> pa.Table:
    tables = [pq.read_table(io.BytesIO(ctx.storage.get_bytes(f.key))) for f in manifest.files]
    return pa.concat_tables(tables)


@pytest.mark.parametrize("compression", ["zstd", "snappy"])
@pytest.mark.parametrize("destination", ["local", "s3"])
def test_every_type_survives_parquet_exactly(
    mysql_schema: MySqlSchema,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    destination: str,
    compression: str,
) -> None:
    """Every type lands in Parquet with its documented type, the exact value and every NULL;
    verify reads it back to the database's digest, and restore gives back identical rows."""
    mysql_schema.execute(DDL)
    load_every_type(mysql_schema, "everything", zero_dates=False)
    if destination == "s3":
        endpoint = request.getfixturevalue("s3_endpoint")
        bucket = request.getfixturevalue("s3_bucket")
        mp = request.getfixturevalue("monkeypatch")
        mp.setenv("AWS_ACCESS_KEY_ID", endpoint.access_key)
        mp.setenv("AWS_SECRET_ACCESS_KEY", endpoint.secret_key)
        job = _job(mysql_schema, f"s3://{bucket}/arch", compression=compression,
                   endpoint_url=endpoint.url, region=endpoint.region)  # fmt: skip
    else:
        job = _job(mysql_schema, str(tmp_path / "a"), compression=compression)
    ctx = build_context(job)
    result = export_day(ctx, job.tables[0], DAY)
    manifest = Manifest.loads(ctx.storage.get_bytes(result.manifest_key) or b"")
    assert manifest.format == "parquet" and manifest.compression == compression
    assert all(f.key.endswith(".parquet") for f in manifest.files)
    table = _read_parts(ctx, manifest)
    for name, expected in EXPECTED_TYPES.items():
        assert table.schema.field(name).type == expected, name
    assert pq.ParquetFile(io.BytesIO(ctx.storage.get_bytes(manifest.files[0].key))).metadata.row_group(0).column(0).compression == compression.upper()  # fmt: skip
    want = _server_texts(mysql_schema)
    got = table.sort_by("id").to_pylist()
    assert len(got) == len(want) == len(STRINGS)
    for row_got, row_want in zip(got, want, strict=True):
        for name in COLUMNS:
            text = row_want[name]
            assert row_got[name] == (None if text is None else _typed(name, text)), name
    assert verify_day(ctx, job.tables[0], DAY).ok
    again = export_day(ctx, job.tables[0], DAY)  # deterministic: the same bytes again
    assert (
        Manifest.loads(ctx.storage.get_bytes(again.manifest_key) or b"").content()
        == manifest.content()
    )
    restored = restore_day(ctx, job.tables[0], DAY, into="copy")
    assert restored.ok and restored.written == len(STRINGS)
    same = " AND ".join(f"CAST(a.`{c}` AS BINARY) <=> CAST(b.`{c}` AS BINARY)" for c in COLUMNS)
    (matched,) = mysql_schema.execute(f"SELECT COUNT(*) FROM everything a JOIN copy b ON {same}")[0]
    assert matched == len(STRINGS)
    ctx.source.close()


def test_parquet_refuses_a_value_it_cannot_hold(mysql_schema: MySqlSchema, tmp_path: Path) -> None:
    """A zero DATETIME has no Parquet timestamp: the export names the column and publishes nothing."""
    mysql_schema.execute(DDL)
    load_every_type(mysql_schema, "everything", zero_dates=True)
    job = _job(mysql_schema, str(tmp_path))
    ctx = build_context(job)
    with pytest.raises(SourceError, match=r"'dt0'.*format = 'csv'"):
        export_day(ctx, job.tables[0], DAY)
    assert not list(tmp_path.rglob("_manifest.json"))
    assert not list(tmp_path.rglob("*.parquet"))
    ctx.source.close()


def _rows_of_day(schema: MySqlSchema) -> list[tuple[Any, ...]]:
    cols = ", ".join(f"CAST(`{c}` AS BINARY)" for c in COLUMNS)
    return schema.execute(f"SELECT {cols}, f FROM everything ORDER BY id")


@pytest.mark.parametrize(("fmt", "compression"), [("parquet", "zstd"), ("csv", "gzip")])
def test_archive_purge_restore_gives_back_the_day(
    mysql_schema: MySqlSchema, tmp_path: Path, fmt: str, compression: str
) -> None:
    """Archive → purge → restore: the day is back with the original digest, and again is a no-op."""
    mysql_schema.execute(DDL)
    load_every_type(mysql_schema, "everything", zero_dates=fmt == "csv")
    before = _rows_of_day(mysql_schema)
    job = make_job(mysql_schema.url, str(tmp_path), TABLE, format=fmt, compression=compression)
    ctx = build_context(job)
    spec = job.tables[0]
    info = ctx.describe(spec)
    original = ctx.source.digest_day(info, ctx.source.window(spec, info, DAY))
    export_day(ctx, spec, DAY)
    report = TableReport("everything")
    purge_table(ctx, spec, DAY + dt.timedelta(days=90), build_throttle(ctx), report)
    assert report.ok, report.errors
    assert report.rows_deleted == len(STRINGS)
    assert mysql_schema.execute("SELECT COUNT(*) FROM everything")[0][0] == 0
    restored = restore_day(ctx, spec, DAY)
    assert restored.ok, restored.problems
    assert (restored.written, restored.skipped) == (len(STRINGS), 0)
    assert restored.target_digest == original
    assert _rows_of_day(mysql_schema) == before
    again = restore_day(ctx, spec, DAY)
    assert (again.written, again.skipped, again.ok) == (0, len(STRINGS), True)
    assert mysql_schema.execute("SELECT COUNT(*) FROM everything")[0][0] == len(STRINGS)
    ctx.source.close()
