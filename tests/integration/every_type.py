"""A table with every MySQL type and tricky values: the shared fixture of the round-trip tests."""

from __future__ import annotations

import datetime as dt
from typing import Any

from tests.integration.mysql_fixtures import MySqlSchema

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


def every_type_rows(zero_dates: bool = True) -> list[tuple[Any, ...]]:
    """One row per tricky string; row 1 holds the extremes, rows 2-3 special renderings.

    ``zero_dates=False`` replaces MySQL's zero DATETIME, which Parquet cannot hold.
    """
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
            if not zero_dates:
                values["dt0"] = "1000-01-01 00:00:00"
        if n == 2:
            values.update(f=0.1, d=0.1, dec65="0.000000000000000000000000000001", dec4="1.5000",
                          dt6="2026-05-01 00:00:00.000000", tm="00:00:00.000001", bt=0, bi=0,
                          vb=b"", c="", lt="x" * 200_000, j="[]")  # fmt: skip
        if n == 3:
            values.update(f=16777216.0, d=1e-7, tsp="1970-01-01 00:00:01.000000", bt=1)
        rows.append(tuple(values[c] for c in COLUMNS))
    return rows


def load_every_type(schema: MySqlSchema, table: str, zero_dates: bool = True) -> None:
    """Fill ``table`` (created from DDL) with :func:`every_type_rows`."""
    schema.execute("SET SESSION time_zone = '+00:00'")
    schema.execute("SET SESSION sql_mode = 'NO_ENGINE_SUBSTITUTION'")  # allows the zero date
    marks = ", ".join(["%s"] * len(COLUMNS))
    schema.executemany(f"INSERT INTO `{table}` VALUES ({marks})", every_type_rows(zero_dates))
