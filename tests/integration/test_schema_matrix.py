"""The schema matrix: every kind of table MySQL/MariaDB allow goes export → verify → purge →
restore, as CSV and as Parquet, and comes back byte for byte — or is refused up front with the
message it must give (issue 17, "Done when").

The oracle is the table's stored bytes, read without a charset conversion and without
dbarchive: every row as ``HEX(col)`` for text and binary columns (the bytes in the column's own
charset), the exact double of a FLOAT, the unsigned value of a BIT, the server's text of
everything else (on a UTC session) — sorted, before the export and after the restore. It never
uses dbarchive's row digest, which reads text through ``CONVERT(… USING utf8mb4)``.

**A case is one entry of CASES**: a CREATE TABLE, its INSERTs (run with an empty ``sql_mode``,
so zero dates and odd bytes go in as written), the table's settings, and, for a schema dbarchive
must refuse, the message (a regex) of the refusal, for both formats or for Parquet only.
Every row is dated DAY; the purge runs as of DAY + 60 days with a 30-day retention.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from dbarchive import DbArchiveError, build_context, export_day, restore_day
from dbarchive.build import build_throttle
from dbarchive.jobs.daily import TableReport, purge_table
from dbarchive.steps.verify import verify_day
from tests.integration.helpers import make_job
from tests.integration.mysql_fixtures import MySqlSchema, mysql_schema  # noqa: F401

DAY = dt.date(2026, 5, 1)
TODAY = DAY + dt.timedelta(days=60)


@dataclass(frozen=True)
class Case:
    """One schema: its table, rows and settings, and what dbarchive must do with it."""

    id: str
    ddl: str
    inserts: tuple[str, ...]
    table: str = "t"
    timestamp_column: str = "ts"
    settings: dict[str, Any] = field(default_factory=dict)  # more [[tables]] settings
    refused: str | None = None  # the refusal (regex), whatever the format
    refused_parquet: str | None = None  # the refusal as Parquet (CSV takes it)


def _bytes_of(column: str, data_type: str) -> str:
    """The column's stored value, read without any charset conversion (the oracle)."""
    q = "`" + column.replace("`", "``") + "`"
    if data_type in {"float"}:
        return f"CAST(CAST({q} AS DOUBLE) AS CHAR)"
    if data_type == "bit":
        return f"CAST({q} AS UNSIGNED)"
    if data_type == "enum":  # its index too: the error value (0) and a '' member share a text
        return f"CONCAT(HEX({q}), '/', {q} + 0)"
    if data_type in _TEXT_OR_BINARY:
        return f"HEX({q})"
    return f"CAST({q} AS CHAR)"


_TEXT_OR_BINARY = {
    "char", "varchar", "tinytext", "text", "mediumtext", "longtext", "enum", "set", "json",
    "binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob",
    "geometry", "point", "linestring", "polygon", "geometrycollection",
}  # fmt: skip

CASES = [
    Case(
        "latin1",
        "CREATE TABLE t (id INT NOT NULL PRIMARY KEY, ts DATETIME NOT NULL,"
        " v VARCHAR(300) NULL, c CHAR(5) NULL, tx TEXT NULL, e ENUM('é', 'ü ö') NULL,"
        " KEY (ts)) DEFAULT CHARSET=latin1",
        (
            "INSERT INTO t VALUES (1, '2026-05-01 01:00:00', X'636166E9', 'ab ', 'crème', 'é'),"
            " (2, '2026-05-01 02:00:00', UNHEX(REPEAT('818D8F909D', 3)), '', '', 'ü ö'),"
            " (3, '2026-05-01 03:00:00', NULL, NULL, NULL, NULL)",
            # every byte 0x01..0xFF: latin1 maps each one to a character and back
            "INSERT INTO t SELECT 4, '2026-05-01 04:00:00', UNHEX(GROUP_CONCAT(LPAD(HEX(seq), 2,"
            " '0') ORDER BY seq SEPARATOR '')), NULL, NULL, NULL FROM seq_1_to_255",
        ),
    ),
    Case(
        "cp1251",
        "CREATE TABLE t (id INT NOT NULL PRIMARY KEY, ts DATETIME NOT NULL,"
        " v VARCHAR(300) CHARACTER SET cp1251 COLLATE cp1251_bin NULL,"
        " tx TEXT CHARACTER SET cp1251 NULL, KEY (ts))",
        (
            "INSERT INTO t VALUES (1, '2026-05-01 01:00:00', X'CFF0E8E2E5F2', X'EFF0E8E2E5F2'),"
            " (2, '2026-05-01 02:00:00', '?', NULL)",
            # every byte but 0x98, the one cp1251 leaves undefined
            "INSERT INTO t SELECT 3, '2026-05-01 03:00:00', UNHEX(GROUP_CONCAT(LPAD(HEX(seq), 2,"
            " '0') ORDER BY seq SEPARATOR '')), NULL FROM seq_1_to_255 WHERE seq <> 152",
        ),
    ),
    Case(
        "cp1251 byte without a character",
        "CREATE TABLE t (id INT NOT NULL PRIMARY KEY, ts DATETIME NOT NULL,"
        " v VARCHAR(20) CHARACTER SET cp1251 NULL, KEY (ts))",
        (
            "INSERT INTO t VALUES (1, '2026-05-01 01:00:00', X'CFF0E8E2E5F2'),"
            " (2, '2026-05-01 02:00:00', X'41984A')",
        ),
        refused=r"the row with id = 2 holds bytes in column 'v' \(cp1251\) that have no UTF-8",
    ),
    Case(
        "utf8mb3",
        "CREATE TABLE t (id INT NOT NULL PRIMARY KEY, ts DATETIME NOT NULL,"
        " v VARCHAR(50) NULL, KEY (ts)) DEFAULT CHARSET=utf8mb3",
        (
            "INSERT INTO t VALUES (1, '2026-05-01 01:00:00', 'ünïcødé ✓ 支付'),"
            " (2, '2026-05-01 02:00:00', 'tab\\there \"q\", \\\\N'), (3, '2026-05-01 03:00:00', '')",
        ),
    ),
    Case(
        "utf8mb4_bin key and text",
        "CREATE TABLE t (k VARCHAR(20) NOT NULL PRIMARY KEY, ts DATETIME NOT NULL,"
        " v VARCHAR(50) NULL, KEY (ts)) DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin",
        (
            "INSERT INTO t VALUES ('a', '2026-05-01 01:00:00', 'emoji 🐬🎉'),"
            " ('A', '2026-05-01 01:00:00', 'trailing  '), ('b', '2026-05-01 02:00:00', 'pad'),"
            " ('ä', '2026-05-01 03:00:00', NULL), ('🐬', '2026-05-01 03:00:00', '\\0nul')",
        ),
    ),
    Case(
        "zero dates in other columns",
        "CREATE TABLE t (id INT NOT NULL PRIMARY KEY, ts DATETIME NOT NULL, d DATE NULL,"
        " dt DATETIME(6) NULL, tsp TIMESTAMP NULL DEFAULT NULL, KEY (ts))",
        (
            "INSERT INTO t VALUES (1, '2026-05-01 01:00:00', '0000-00-00',"
            " '0000-00-00 00:00:00.000000', '0000-00-00 00:00:00'),"
            " (2, '2026-05-01 02:00:00', '2026-00-15', '2026-05-00 10:00:00.000001', NULL),"
            " (3, '2026-05-01 03:00:00', '2026-05-01', '2026-05-01 00:00:00.5', NULL)",
        ),
        refused_parquet=r"column 'd' holds a value Parquet cannot store.*format = 'csv'",
    ),
    Case(
        "partitioned composite key",
        "CREATE TABLE t (id INT NOT NULL, ts DATETIME(6) NOT NULL, v VARCHAR(20) NULL,"
        " PRIMARY KEY (id, ts), KEY (ts)) PARTITION BY RANGE COLUMNS(ts) ("
        " PARTITION p0 VALUES LESS THAN ('2026-05-01'),"
        " PARTITION p1 VALUES LESS THAN ('2026-05-02'), PARTITION pmax VALUES LESS THAN MAXVALUE)",
        (
            "INSERT INTO t VALUES (1, '2026-05-01 01:00:00', 'a'), (1, '2026-05-01 02:00:00', 'b'),"
            " (2, '2026-05-01 00:00:00', NULL), (3, '2026-05-01 23:59:59.999999', 'z')",
        ),
    ),
    Case(
        "binary key, not UTF-8",  # the day's key bounds are bytes no text decoding accepts
        "CREATE TABLE t (k VARBINARY(4) NOT NULL PRIMARY KEY, ts DATETIME NOT NULL,"
        " v VARCHAR(10) NULL, KEY (ts))",
        (
            "INSERT INTO t VALUES (X'C3', '2026-05-01 01:00:00', 'a'), (X'01', '2026-05-01"
            " 02:00:00', NULL), (X'FF00', '2026-05-01 03:00:00', 'z'), (X'', '2026-05-01"
            " 04:00:00', 'empty')",
        ),
    ),
    Case(
        "binary(16) key read by key range",
        "CREATE TABLE t (k BINARY(16) NOT NULL PRIMARY KEY, ts DATETIME NOT NULL,"
        " n INT NULL, KEY (ts))",
        (
            "INSERT INTO t SELECT UNHEX(MD5(seq)), TIMESTAMP('2026-05-01') + INTERVAL seq MINUTE,"
            " seq FROM seq_1_to_50",
        ),
        settings={"scan": "key", "chunk_rows": 7},
    ),
    Case(
        "unique key of two columns, no primary key",
        "CREATE TABLE t (a VARCHAR(20) NOT NULL, b INT NOT NULL, ts DATETIME NOT NULL,"
        " v INT NULL, UNIQUE KEY (a, b), KEY (ts)) DEFAULT CHARSET=latin1",
        (
            "INSERT INTO t VALUES ('x', 1, '2026-05-01 01:00:00', 1), ('x', 2, '2026-05-01 02:00:00', NULL)",
        ),
        refused=r"needs the primary key as its tie-breaker .*a table without one needs one added",
    ),
    Case(
        "unique key of one column, no primary key, read by its range",
        "CREATE TABLE t (code VARCHAR(20) NOT NULL, ts DATETIME NOT NULL, v INT NULL,"
        " UNIQUE KEY (code), KEY (ts))",
        (
            "INSERT INTO t VALUES ('b-2', '2026-05-01 01:00:00', 1), ('a-1', '2026-05-01"
            " 02:00:00', NULL), ('Ä', '2026-05-01 03:00:00', 3)",
        ),
        settings={"scan": "key", "chunk_rows": 2},
    ),
    Case(
        "enum with '' as a member",  # '' (index 1) is a member like any other
        "CREATE TABLE t (id INT NOT NULL PRIMARY KEY, ts DATETIME NOT NULL,"
        " e ENUM('', 'a') NULL, KEY (ts))",
        (
            "INSERT INTO t VALUES (1, '2026-05-01 01:00:00', ''), (2, '2026-05-01 02:00:00', 'a'),"
            " (3, '2026-05-01 03:00:00', NULL)",
        ),
    ),
    Case(
        "enum error value",  # index 0, what a non-strict sql_mode stores for an invalid value
        "CREATE TABLE t (id INT NOT NULL PRIMARY KEY, ts DATETIME NOT NULL,"
        " e ENUM('', 'a') NULL, KEY (ts))",
        (
            "INSERT INTO t VALUES (1, '2026-05-01 01:00:00', 'a'), (2, '2026-05-01 02:00:00', 'zzz')",
        ),
        refused=r"the row with id = 2 holds the error value of ENUM column 'e'",
    ),
    Case(
        "varchar key",
        "CREATE TABLE t (k VARCHAR(36) NOT NULL PRIMARY KEY, ts DATETIME NOT NULL,"
        " n INT NULL, KEY (ts))",
        (
            "INSERT INTO t VALUES ('b6f0c8d2-0000-4000-8000-000000000001', '2026-05-01 05:00:00', 1),"
            " ('0', '2026-05-01 01:00:00', 2), ('Zürich', '2026-05-01 01:00:00', NULL),"
            " ('with space', '2026-05-01 09:00:00', 4), ('quote''s', '2026-05-01 09:00:00', 5)",
        ),
    ),
    Case(
        "no primary key",
        "CREATE TABLE t (id INT NULL, ts DATETIME NOT NULL, v VARCHAR(10) NULL, KEY (ts))",
        ("INSERT INTO t VALUES (1, '2026-05-01 01:00:00', 'a'), (1, '2026-05-01 01:00:00', 'a')",),
        refused=r"table 't' has no primary key or unique NOT NULL index to page by",
    ),
    Case(
        "system versioning",
        "CREATE TABLE t (id INT NOT NULL PRIMARY KEY, ts DATETIME NOT NULL, v VARCHAR(10) NULL,"
        " KEY (ts)) WITH SYSTEM VERSIONING",
        (
            "INSERT INTO t VALUES (1, '2026-05-01 01:00:00', 'a'), (2, '2026-05-01 02:00:00', 'b')",
            "UPDATE t SET v = 'b2' WHERE id = 2",  # a history row: not the table's current rows
        ),
    ),
    Case(
        "generated and invisible columns",
        "CREATE TABLE t (id INT NOT NULL PRIMARY KEY, ts DATETIME NOT NULL, qty INT NOT NULL,"
        " price DECIMAL(10,2) NOT NULL, total DECIMAL(12,2) AS (qty * price) VIRTUAL,"
        " label VARCHAR(40) AS (CONCAT('#', id, ' x', qty)) STORED,"
        " memo VARCHAR(20) NULL INVISIBLE, KEY (ts))",
        (
            "INSERT INTO t (id, ts, qty, price, memo) VALUES (1, '2026-05-01 01:00:00', 3, 2.50,"
            " 'hidden'), (2, '2026-05-01 02:00:00', 0, 0.01, NULL)",
        ),
    ),
    Case(
        "odd identifiers",
        'CREATE TABLE `we"ird ta``ble ü` (`i``d` INT NOT NULL PRIMARY KEY,'
        ' `t s` DATETIME NOT NULL, `"quoted"` VARCHAR(10) NULL, `sp ace` INT NULL,'
        " `ünïcødé` VARCHAR(10) NULL, `select` INT NULL, KEY `ts idx` (`t s`))",
        (
            "INSERT INTO `we\"ird ta``ble ü` VALUES (1, '2026-05-01 01:00:00', 'a', 1, 'ü', 1),"
            " (2, '2026-05-01 02:00:00', NULL, NULL, NULL, NULL)",
        ),
        table='we"ird ta`ble ü',
        timestamp_column="t s",
    ),
    Case(
        "float double bit64 year decimal unsigned",
        "CREATE TABLE t (id INT NOT NULL PRIMARY KEY, ts DATETIME NOT NULL, f FLOAT NULL,"
        " d DOUBLE NULL, b BIT(64) NULL, y YEAR NULL, du DECIMAL(65,30) UNSIGNED NULL,"
        " d20 DECIMAL(20,0) UNSIGNED NULL, KEY (ts))",
        (
            "INSERT INTO t VALUES (1, '2026-05-01 01:00:00', 3.4028234e38, 1.7976931348623157e308,"
            " b'1111111111111111111111111111111111111111111111111111111111111111', 2155,"
            " '99999999999999999999999999999999999.999999999999999999999999999999',"
            " 99999999999999999999),"
            " (2, '2026-05-01 02:00:00', 0.1, 5e-324, b'1000000000000000000000000000000000000000000"
            "000000000000000000000', 1901, '0.000000000000000000000000000001', 0),"
            " (3, '2026-05-01 03:00:00', -1.17549435e-38, 0.1, b'0', 0, 0, NULL),"
            " (4, '2026-05-01 04:00:00', 16777216, -1e-7, NULL, NULL, NULL, 1)",
        ),
    ),
    Case(
        "uuid inet6 inet4 geometry",
        "CREATE TABLE t (u UUID NOT NULL PRIMARY KEY, ts DATETIME NOT NULL, i6 INET6 NULL,"
        " i4 INET4 NULL, g GEOMETRY NULL, p POINT NULL, KEY (ts))",
        (
            "INSERT INTO t VALUES ('b6f0c8d2-1c1e-4e8a-9a3b-0123456789ab', '2026-05-01 01:00:00',"
            " '2001:db8::ff00:42:8329', '192.0.2.1', ST_GeomFromText('POLYGON((0 0,3 0,3 3,0 0))'),"
            " ST_GeomFromText('POINT(-71.064544 42.28787)', 4326)),"
            " ('00000000-0000-0000-0000-000000000000', '2026-05-01 02:00:00', '::ffff:10.0.0.1',"
            " '0.0.0.0', ST_GeomFromText('GEOMETRYCOLLECTION(POINT(1 2),LINESTRING(0 0,1 1))'),"
            " NULL), ('ffffffff-ffff-ffff-ffff-ffffffffffff', '2026-05-01 03:00:00', NULL, NULL,"
            " NULL, ST_GeomFromText('POINT(0 0)'))",
        ),
    ),
]


def _setup(schema: MySqlSchema, case: Case) -> None:
    schema.execute(case.ddl)
    schema.execute("SET SESSION sql_mode = ''")
    for insert in case.inserts:
        schema.execute(insert)


def _stored(schema: MySqlSchema, table: str) -> list[tuple[Any, ...]]:
    """Every row of the table (invisible and generated columns too), as stored, sorted."""
    columns = schema.execute(
        "SELECT COLUMN_NAME, DATA_TYPE FROM information_schema.COLUMNS"
        " WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s ORDER BY ORDINAL_POSITION",
        (table,),
    )
    select = ", ".join(_bytes_of(name, data_type) for name, data_type in columns)
    schema.execute("SET SESSION time_zone = '+00:00'")
    quoted = "`" + table.replace("`", "``") + "`"
    rows = schema.execute(f"SELECT {select} FROM {quoted}")
    return sorted(rows, key=repr)


def _context(schema: MySqlSchema, tmp_path: Path, case: Case, fmt: str) -> Any:
    table = {"name": case.table, "timestamp_column": case.timestamp_column, **case.settings}
    job = make_job(schema.url, str(tmp_path / "arch"), [table], format=fmt, retention="30 days")
    return build_context(job)


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_schema_round_trips_or_is_refused(
    mysql_schema: MySqlSchema, tmp_path: Path, case: Case, fmt: str
) -> None:
    """export → verify → purge → restore gives back the stored bytes of every row; a schema
    that cannot be archived exactly is refused by the export with its message, publishing
    nothing and changing nothing."""
    _setup(mysql_schema, case)
    before = _stored(mysql_schema, case.table)
    ctx = _context(mysql_schema, tmp_path, case, fmt)
    spec = ctx.job.tables[0]
    refusal = case.refused or (case.refused_parquet if fmt == "parquet" else None)
    try:
        if refusal is not None:
            with pytest.raises(DbArchiveError, match=refusal):
                export_day(ctx, spec, DAY)
            assert not list((tmp_path / "arch").rglob("_manifest.json"))
            assert _stored(mysql_schema, case.table) == before
            return
        assert export_day(ctx, spec, DAY).rows == len(before)
        verified = verify_day(ctx, spec, DAY)
        assert verified.ok, verified.problems
        report = TableReport(case.table)
        purge_table(ctx, spec, TODAY, build_throttle(ctx), report)
        assert report.ok, report.errors
        assert report.rows_deleted == len(before)
        assert _stored(mysql_schema, case.table) == []
        restored = restore_day(ctx, spec, DAY)
        assert restored.ok, restored.problems
        assert _stored(mysql_schema, case.table) == before
    finally:
        ctx.source.close()
