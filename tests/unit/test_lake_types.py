"""The MySQL → lake type map, the Parquet codec defaults, and the server's DOUBLE notation."""

from __future__ import annotations

from typing import Any

import pytest

from dbarchive.config import job_from_dict
from dbarchive.errors import ConfigError, SourceError
from dbarchive.formats.compression import Compression
from dbarchive.formats.lake_types import LakeType, athena_type, duckdb_type, lake_type, spark_type
from dbarchive.formats.parquet_text import mysql_double_text


@pytest.mark.parametrize(
    ("column_type", "expected"),
    [
        ("tinyint(4)", LakeType("int8", "int")),
        ("tinyint(3) unsigned", LakeType("int16", "int")),
        ("int(10) unsigned", LakeType("int64", "int")),
        ("int(5) unsigned zerofill", LakeType("int64", "zerofill", width=5)),
        ("bigint(20) unsigned", LakeType("decimal", "decimal", 20, 0)),
        ("bit(64)", LakeType("decimal", "decimal", 20, 0)),
        ("bit(10)", LakeType("int64", "int")),
        ("year(4)", LakeType("int16", "year")),
        ("decimal(10,4)", LakeType("decimal", "decimal", 10, 4)),
        ("decimal(65,30)", LakeType("string", "string")),
        ("float(7,3)", LakeType("float32", "double")),
        ("double(12,3)", LakeType("float64", "fixed", scale=3)),
        ("datetime(6)", LakeType("timestamp", "datetime", scale=6)),
        ("timestamp", LakeType("timestamp_utc", "datetime")),
        ("time(6)", LakeType("string", "string")),
        ("enum('a','b)c')", LakeType("string", "string")),
        ("longblob", LakeType("binary", "hex")),
        ("point", LakeType("binary", "hex")),
        ("uuid", LakeType("string", "string")),
        ("inet6", LakeType("string", "string")),
        ("inet4", LakeType("string", "string")),
    ],
)
def test_lake_type_of_each_mysql_type(column_type: str, expected: LakeType) -> None:
    """Each MySQL COLUMN_TYPE maps to the documented lake type (widened, never unsigned)."""
    assert lake_type(column_type) == expected


def test_engine_type_names() -> None:
    """One lake type, each engine's spelling; CSV keeps binary as hex text."""
    dec, blob, utc = lake_type("decimal(18,4)"), lake_type("blob"), lake_type("timestamp(6)")
    assert (athena_type(dec), spark_type(dec, False), duckdb_type(dec, True)) == ("decimal(18,4)", "DECIMAL(18,4)", "DECIMAL(18,4)")  # fmt: skip
    assert (athena_type(blob), spark_type(blob, True), duckdb_type(blob, True)) == ("binary", "STRING", "VARCHAR")  # fmt: skip
    assert (spark_type(lake_type("datetime"), False), duckdb_type(utc, False)) == ("TIMESTAMP_NTZ", "TIMESTAMPTZ")  # fmt: skip


def test_unknown_type_is_refused() -> None:
    """A type without an exact lake type is a clear error naming it."""
    with pytest.raises(SourceError, match="'vector\\(3\\)'"):
        lake_type("vector(3)")


@pytest.mark.parametrize(
    ("value", "text"),
    [(1e15, b"1e15"), (999999999999999.0, b"999999999999999"), (1e-15, b"0.000000000000001"),
     (1e-16, b"1e-16"), (-1.5e-16, b"-1.5e-16"), (0.1, b"0.1"), (100.0, b"100"), (-0.0, b"0"),
     (5e-324, b"5e-324"), (1.7976931348623157e308, b"1.7976931348623157e308")],
)  # fmt: skip
def test_double_text_uses_the_servers_notation(value: float, text: bytes) -> None:
    """Plain for decimal exponents -15..14, else '1.5e-16' (as MariaDB prints it)."""
    assert mysql_double_text(value) == text


def _job(**table: Any) -> Any:
    spec = {"name": "t", "timestamp_column": "ts", **table}
    return job_from_dict({"source": {"url": "mysql://u@h:3306/db"}, "destination": {"url": "/tmp/x"}, "tables": [spec]})  # fmt: skip


def test_parquet_compresses_with_zstd_unless_told() -> None:
    """format = 'parquet' defaults to zstd; CSV keeps gzip; snappy is Parquet's only."""
    assert _job(format="parquet").tables[0].compression is Compression.ZSTD
    assert _job(format="parquet", compression="snappy").tables[0].compression is Compression.SNAPPY
    assert _job().tables[0].compression is Compression.GZIP
    with pytest.raises(ConfigError, match="'snappy' is for format 'parquet'"):
        _job(compression="snappy")
