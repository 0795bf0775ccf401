"""Exact data: every MySQL type survives archive → read back → restore into MySQL, byte for byte."""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
from typing import Any

import pytest

from dbarchive import build_context, export_day
from dbarchive.formats.compression import compression_for_name, open_decompressed
from dbarchive.formats.csv import iter_rows
from dbarchive.manifest import Manifest
from dbarchive.storage import Storage
from tests.integration.helpers import make_job
from tests.integration.mysql_fixtures import MySqlSchema, mysql_schema  # noqa: F401

DDL = """
CREATE TABLE `everything` (
  id BIGINT UNSIGNED NOT NULL PRIMARY KEY,
  ts DATETIME(6) NOT NULL,
  ti TINYINT NULL, si SMALLINT UNSIGNED NULL, mi MEDIUMINT NULL, i INT NULL, bi BIGINT UNSIGNED NULL,
  dec65 DECIMAL(65,30) NULL, dec4 DECIMAL(10,4) NULL,
  f FLOAT NULL, d DOUBLE NULL,
  dt6 DATETIME(6) NULL, dt0 DATETIME NULL, tsp TIMESTAMP(6) NULL DEFAULT NULL, da DATE NULL,
  tm TIME(6) NULL, yr YEAR NULL,
  c CHAR(10) NULL, vc VARCHAR(255) NULL, tx TEXT NULL, lt LONGTEXT NULL,
  e ENUM('a','b','c d') NULL, st SET('x','y','z') NULL, j JSON NULL,
  bn BINARY(4) NULL, vb VARBINARY(64) NULL, bl BLOB NULL, bt BIT(10) NULL,
  latin VARCHAR(20) CHARACTER SET latin1 NULL, u16 VARCHAR(20) CHARACTER SET utf16 NULL,
  KEY idx_ts (ts)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4
"""
COLUMNS = [
    "id", "ts", "ti", "si", "mi", "i", "bi", "dec65", "dec4", "f", "d", "dt6", "dt0", "tsp", "da",
    "tm", "yr", "c", "vc", "tx", "lt", "e", "st", "j", "bn", "vb", "bl", "bt", "latin", "u16",
]  # fmt: skip
BINARY = {"bn", "vb", "bl"}
DAY = dt.date(2026, 5, 1)
STRINGS = [
    "", "NULL", "\\N", "N", 'say "hi", ok', "a,b,c", "cr\rlf\r\nlf\n", "tab\there", "back\\slash\\",
    "emoji 🐬🎉 CJK 支付 ünïcødé", "trailing space  ", "'single' quotes", "\x00nul inside",
]  # fmt: skip


def _rows() -> list[tuple[Any, ...]]:
    rows: list[tuple[Any, ...]] = []
    base = dt.datetime.combine(DAY, dt.time())
    extremes: dict[str, Any] = {
        "ti": -128, "si": 65535, "mi": -8388608, "i": -2147483648, "bi": 18446744073709551615,
        "dec65": "-99999999999999999999999999999999999.999999999999999999999999999999",
        "dec4": "-0.0001", "f": 3.4028234e38, "d": 5e-324, "dt6": "9999-12-31 23:59:59.999999",
        "dt0": "0000-00-00 00:00:00", "tsp": "2038-01-19 03:14:07.999999", "da": "1000-01-01",
        "tm": "-838:59:59.000000", "yr": 2155, "c": "ab", "e": "c d", "st": "x,z",
        "j": '{"k": [1, 2.50, null, "ü"], "q": "\\"quoted\\""}', "bn": b"\x00\x01\x00\x00",
        "vb": b"\x00#\xff,\n\"", "bl": bytes(range(256)) * 40, "bt": 0b1010101010, "latin": "café",
        "u16": "ü𝄞 \"q\",",
    }  # fmt: skip
    for n, s in enumerate(STRINGS):
        values: dict[str, Any] = dict.fromkeys(COLUMNS)
        values.update(id=n + 1, ts=base + dt.timedelta(seconds=n), vc=s, tx=s * 3, lt=s)
        if n == 1:
            values.update(extremes)
        if n == 2:
            values.update(f=0.1, d=0.1, dec65="0.000000000000000000000000000001", dec4="1.5000",
                          dt6="2026-05-01 00:00:00.000000", tm="00:00:00.000001", bt=0, bi=0,
                          vb=b"", c="", lt="x" * 200_000, j="[]")  # fmt: skip
        if n == 3:
            values.update(f=16777216.0, d=1e-7, tsp="1970-01-01 00:00:01.000000", bt=1)
        rows.append(tuple(values[c] for c in COLUMNS))
    return rows


def _load(schema: MySqlSchema, table: str) -> None:
    schema.execute("SET SESSION time_zone = '+00:00'")
    schema.execute("SET SESSION sql_mode = 'NO_ENGINE_SUBSTITUTION'")  # allows the zero date
    marks = ", ".join(["%s"] * len(COLUMNS))
    schema.executemany(f"INSERT INTO `{table}` VALUES ({marks})", _rows())


def _read_archive(storage: Storage, manifest: Manifest) -> list[list[bytes | None]]:
    rows: list[list[bytes | None]] = []
    for entry in manifest.files:
        with storage.open_reader(entry.key) as raw:
            text = open_decompressed(raw, compression_for_name(entry.key)).read()
        parsed = list(iter_rows(io.BytesIO(text)))
        assert parsed[0] == [c.encode() for c in COLUMNS]
        # Python's csv reads the same values (it cannot tell NULL from the text \N, we can);
        # long TEXT needs its field limit raised, as the README says.
        csv.field_size_limit(2**31 - 1)
        plain = list(csv.reader(io.StringIO(text.decode(), newline="")))
        assert plain == [[("\\N" if v is None else v.decode()) for v in r] for r in parsed]
        rows += parsed[1:]
    return rows


def _restore(schema: MySqlSchema, rows: list[list[bytes | None]]) -> None:
    """Insert archived text back into a copy of the table, decoding per the documented dialect."""
    schema.execute("CREATE TABLE restored LIKE everything")
    exprs = [
        "UNHEX(%s)" if c in BINARY else "CAST(%s AS UNSIGNED)" if c == "bt" else "%s"
        for c in COLUMNS
    ]
    sql = f"INSERT INTO restored VALUES ({', '.join(exprs)})"
    schema.executemany(sql, [tuple(None if v is None else v.decode() for v in r) for r in rows])


@pytest.mark.parametrize("compression", ["gzip", "zstd", "none"])
@pytest.mark.parametrize("destination", ["local", "s3"])
def test_every_type_survives_archive_and_restore(
    mysql_schema: MySqlSchema,
    tmp_path: Any,
    request: pytest.FixtureRequest,
    compression: str,
    destination: str,
) -> None:
    """Archive → CSV → restore gives byte-identical rows for every type, NULL and tricky text."""
    schema = mysql_schema
    schema.execute(DDL)
    _load(schema, "everything")
    if destination == "s3":
        endpoint = request.getfixturevalue("s3_endpoint")
        bucket = request.getfixturevalue("s3_bucket")
        mp = request.getfixturevalue("monkeypatch")
        mp.setenv("AWS_ACCESS_KEY_ID", endpoint.access_key)
        mp.setenv("AWS_SECRET_ACCESS_KEY", endpoint.secret_key)
        job = make_job(schema.url, f"s3://{bucket}/arch", [{"name": "everything", "timestamp_column": "ts", "chunk_rows": 4}],
                       compression=compression, endpoint_url=endpoint.url, region=endpoint.region)  # fmt: skip
    else:
        job = make_job(schema.url, str(tmp_path / "a"), [{"name": "everything", "timestamp_column": "ts", "chunk_rows": 4}],
                       compression=compression)  # fmt: skip
    ctx = build_context(job)
    result = export_day(ctx, job.tables[0], DAY)
    assert result.rows == len(STRINGS)
    manifest = Manifest.loads(ctx.storage.get_bytes(result.manifest_key) or b"")
    archived = _read_archive(ctx.storage, manifest)
    assert len(archived) == len(STRINGS)
    _restore(schema, archived)
    same = " AND ".join(f"CAST(a.`{c}` AS BINARY) <=> CAST(b.`{c}` AS BINARY)" for c in COLUMNS)
    (matched,) = schema.execute(
        f"SELECT COUNT(*) FROM everything a JOIN restored b ON {same} AND a.f <=> b.f"
    )[0]
    assert matched == len(STRINGS)
    # The database computes the same digest over the same day as the archive holds.
    info = ctx.describe(job.tables[0])
    assert (
        ctx.source.digest_day(info, ctx.source.window(job.tables[0], info, DAY)) == manifest.digest
    )
    ctx.source.close()


def test_csv_text_of_special_values(mysql_schema: MySqlSchema, tmp_path: Any) -> None:
    """The documented renderings: DECIMAL keeps scale, DATETIME(6) six digits, FLOAT exact, hex."""
    mysql_schema.execute(DDL)
    _load(mysql_schema, "everything")
    job = make_job(
        mysql_schema.url, str(tmp_path), [{"name": "everything", "timestamp_column": "ts"}]
    )
    ctx = build_context(job)
    result = export_day(ctx, job.tables[0], DAY)
    manifest = Manifest.loads(ctx.storage.get_bytes(result.manifest_key) or b"")
    row = dict(zip(COLUMNS, _read_archive(ctx.storage, manifest)[2], strict=True))
    assert row["dec4"] == b"1.5000"
    assert row["dt6"] == b"2026-05-01 00:00:00.000000"
    assert row["f"] == b"0.10000000149011612"
    assert row["d"] == b"0.1"
    assert row["vb"] == b""
    assert row["bt"] == b"0"
    extremes = dict(zip(COLUMNS, _read_archive(ctx.storage, manifest)[1], strict=True))
    assert extremes["bn"] == b"00010000"
    assert extremes["bt"] == b"682"
    assert extremes["bi"] == b"18446744073709551615"
    assert extremes["tm"] == b"-838:59:59.000000"
    assert extremes["dt0"] == b"0000-00-00 00:00:00"
    ctx.source.close()


def _export_files(schema: MySqlSchema, folder: Any, chunk_rows: int) -> dict[str, bytes]:
    job = make_job(schema.url, str(folder), [{"name": "everything", "timestamp_column": "ts", "chunk_rows": chunk_rows}],
                   compression="none")  # fmt: skip
    ctx = build_context(job)
    export_day(ctx, job.tables[0], DAY)
    used_c_reader = ctx.source._direct is not None
    ctx.source.close()
    files = {p.name: p.read_bytes() for p in folder.rglob("part-*")}
    manifest = Manifest.loads(next(folder.rglob("_manifest.json")).read_bytes())
    files["digest"] = repr(manifest.digest).encode()
    files["keys"] = repr([(f.first_key, f.last_key, f.rows) for f in manifest.files]).encode()
    files["c_reader"] = b"yes" if used_c_reader else b"no"
    return files


@pytest.mark.parametrize("chunk_rows", [1, 4, 1000])
def test_c_reader_writes_exactly_what_the_driver_path_writes(
    mysql_schema: MySqlSchema, tmp_path: Any, monkeypatch: pytest.MonkeyPatch, chunk_rows: int
) -> None:
    """The C reader (protocol → CSV) and the driver path (values → encode_rows) write the same
    bytes, digest and part keys for every type, whatever the chunk size."""
    from dbarchive.sources import mysql_direct

    if os.environ.get("DBARCHIVE_PURE_PYTHON") == "1":
        pytest.skip("the C paths are switched off")
    assert mysql_direct.available(), "the C reader was not built: install the MySQL client headers"
    mysql_schema.execute(DDL)
    _load(mysql_schema, "everything")
    direct = _export_files(mysql_schema, tmp_path / "direct", chunk_rows)
    monkeypatch.setattr(mysql_direct, "_module", None)
    driver = _export_files(mysql_schema, tmp_path / "driver", chunk_rows)
    assert direct.pop("c_reader") == b"yes"
    assert driver.pop("c_reader") == b"no"
    assert direct == driver
