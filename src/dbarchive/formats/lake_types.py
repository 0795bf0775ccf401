"""How each MySQL column type is typed in the data lake: Parquet/Arrow, Athena, Spark, DuckDB.

One mapping, used by the Parquet writer and reader and by every DDL generator, so a column has
the same type in the files as in each table definition. Every choice keeps the value exact:

| MySQL column type            | Arrow / Parquet                 | Athena / Glue  | Spark          | DuckDB        |
|------------------------------|---------------------------------|----------------|----------------|---------------|
| TINYINT / SMALLINT / INT     | int8 / int16 / int32            | tinyint/smallint/int | TINYINT/SMALLINT/INT | same  |
| MEDIUMINT                    | int32                           | int            | INT            | INTEGER       |
| BIGINT                       | int64                           | bigint         | BIGINT         | BIGINT        |
| … UNSIGNED                   | the next wider signed type      |                |                |               |
| BIGINT UNSIGNED, BIT(64)     | decimal128(20, 0)               | decimal(20,0)  | DECIMAL(20,0)  | DECIMAL(20,0) |
| BIT(1..63)                   | int64 (the bits as an integer)  | bigint         | BIGINT         | BIGINT        |
| YEAR                         | int16                           | smallint       | SMALLINT       | SMALLINT      |
| DECIMAL(p,s), p ≤ 38         | decimal128(p, s)                | decimal(p,s)   | DECIMAL(p,s)   | DECIMAL(p,s)  |
| DECIMAL(p,s), p > 38         | string (no engine has decimal > 38 digits) | string | STRING     | VARCHAR       |
| FLOAT / DOUBLE               | float32 / float64               | float / double | FLOAT / DOUBLE | FLOAT / DOUBLE|
| DATE                         | date32                          | date           | DATE           | DATE          |
| DATETIME(n)                  | timestamp[us] (no zone)         | timestamp      | TIMESTAMP_NTZ  | TIMESTAMP     |
| TIMESTAMP(n)                 | timestamp[us, UTC]              | timestamp      | TIMESTAMP      | TIMESTAMPTZ   |
| TIME(n)                      | string (-838:59:59 … 838:59:59 fits no TIME type) | string | STRING | VARCHAR   |
| CHAR/VARCHAR/TEXT/ENUM/SET/JSON | string (UTF-8)               | string         | STRING         | VARCHAR       |
| UUID, INET6, INET4 (MariaDB) | string (the server's text)      | string         | STRING         | VARCHAR       |
| BINARY/VARBINARY/BLOB/GEOMETRY | binary                        | binary         | BINARY         | BLOB          |

Unsigned types are widened rather than written as Parquet's unsigned logical types, which Hive,
Athena and Spark do not all read. Timestamps are microseconds (``INT64 TIMESTAMP(MICROS)``):
DATETIME(6) needs them, DuckDB and Spark read them exactly, and Athena reads them too, at its
Hive tables' millisecond precision. In CSV every value is its canonical text, so binary columns
are hex strings there (``unhex``/``from_hex`` gives the bytes back).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from dbarchive.errors import SourceError

Kind = Literal[
    "int8",
    "int16",
    "int32",
    "int64",
    "decimal",
    "float32",
    "float64",
    "date",
    "timestamp",
    "timestamp_utc",
    "string",
    "binary",
]
# How a stored value is rendered back to the canonical text (see sources/canonical.py).
Text = Literal[
    "int", "zerofill", "year", "decimal", "double", "fixed", "date", "datetime", "string", "hex"
]

_TYPE_RE = re.compile(r"^\s*([a-z][a-z0-9]*)\s*(?:\(([^)]*)\))?(.*)$")
_TEXT_TYPES = {
    "char",
    "varchar",
    "tinytext",
    "text",
    "mediumtext",
    "longtext",
    "enum",
    "set",
    "json",
}
# MariaDB's UUID, INET6, INET4: their text, exactly as the server prints and parses it (the
# field's MySQL type is in the Parquet metadata and the manifest, so nothing is lost).
_TEXT_FORM_TYPES = {"uuid", "inet6", "inet4"}
_BINARY_TYPES = {
    "binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob", "geometry", "point",
    "linestring", "polygon", "multipoint", "multilinestring", "multipolygon", "geometrycollection",
}  # fmt: skip
_SIGNED = {"tinyint": "int8", "smallint": "int16", "mediumint": "int32", "int": "int32",
           "integer": "int32", "bigint": "int64"}  # fmt: skip
_UNSIGNED = {"tinyint": "int16", "smallint": "int32", "mediumint": "int32", "int": "int64",
             "integer": "int64"}  # fmt: skip
MAX_DECIMAL_DIGITS = 38


@dataclass(frozen=True)
class LakeType:
    """The analytic type of one MySQL column and how its values render back to canonical text."""

    kind: Kind
    text: Text
    precision: int = 0  # decimal digits
    scale: int = 0  # decimal scale; digits after the point of DOUBLE(M,D) and DATETIME(n)
    width: int = 0  # display width of a ZEROFILL integer


def lake_type(column_type: str) -> LakeType:
    """The lake type of a MySQL ``COLUMN_TYPE`` such as ``decimal(10,4) unsigned``.

    Raises:
        SourceError: for a type dbarchive cannot archive exactly (the export refuses it too).
    """
    m = _TYPE_RE.match(column_type.lower())
    if m is None:
        raise _unsupported(column_type)
    base, args, rest = m.group(1), m.group(2), m.group(3)
    numbers = [int(a) for a in (args or "").split(",") if a.strip().isdigit()]
    unsigned, zerofill = "unsigned" in rest, "zerofill" in rest
    if base in _SIGNED:
        return _integer(base, numbers, unsigned, zerofill)
    if base in {"decimal", "numeric"}:
        precision = numbers[0] if numbers else 10
        scale = numbers[1] if len(numbers) > 1 else 0
        if zerofill or precision > MAX_DECIMAL_DIGITS:
            return LakeType("string", "string")
        return LakeType("decimal", "decimal", precision, scale)
    return _other(base, numbers, zerofill, column_type)


def _integer(base: str, numbers: list[int], unsigned: bool, zerofill: bool) -> LakeType:
    text: Text = "zerofill" if zerofill else "int"
    width = numbers[0] if zerofill and numbers else 0
    if unsigned and base == "bigint":
        return LakeType("decimal", "zerofill" if zerofill else "decimal", 20, 0, width)
    kind = _UNSIGNED[base] if unsigned else _SIGNED[base]
    return LakeType(kind, text, width=width)  # type: ignore[arg-type]


def _other(base: str, numbers: list[int], zerofill: bool, column_type: str) -> LakeType:
    fsp = numbers[0] if numbers else 0
    if base == "year":
        return LakeType("int16", "year")
    if base == "bit":
        bits = numbers[0] if numbers else 1
        return LakeType("decimal", "decimal", 20, 0) if bits >= 64 else LakeType("int64", "int")
    if base in {"float", "double", "real"}:
        if zerofill:
            return LakeType("string", "string")
        if base == "float":  # canonical text is CAST(col AS DOUBLE), whatever FLOAT(M,D) says
            return LakeType("float32", "double")
        if len(numbers) == 2:  # DOUBLE(M,D) prints D digits after the point
            return LakeType("float64", "fixed", scale=numbers[1])
        return LakeType("float64", "double")
    if base == "date":
        return LakeType("date", "date")
    if base == "datetime":
        return LakeType("timestamp", "datetime", scale=fsp)
    if base == "timestamp":
        return LakeType("timestamp_utc", "datetime", scale=fsp)
    if base == "time" or base in _TEXT_TYPES or base in _TEXT_FORM_TYPES:
        return LakeType("string", "string")
    if base in _BINARY_TYPES:
        return LakeType("binary", "hex")
    raise _unsupported(column_type)


def _unsupported(column_type: str) -> SourceError:
    return SourceError(
        f"column type {column_type!r} has no exact lake type in dbarchive yet; "
        "exclude the column (exclude_columns) or open an issue"
    )


_ATHENA = {"int8": "tinyint", "int16": "smallint", "int32": "int", "int64": "bigint",
           "float32": "float", "float64": "double", "date": "date", "timestamp": "timestamp",
           "timestamp_utc": "timestamp", "string": "string", "binary": "binary"}  # fmt: skip
_SPARK = {"int8": "TINYINT", "int16": "SMALLINT", "int32": "INT", "int64": "BIGINT",
          "float32": "FLOAT", "float64": "DOUBLE", "date": "DATE", "timestamp": "TIMESTAMP_NTZ",
          "timestamp_utc": "TIMESTAMP", "string": "STRING", "binary": "BINARY"}  # fmt: skip
_DUCKDB = {"int8": "TINYINT", "int16": "SMALLINT", "int32": "INTEGER", "int64": "BIGINT",
           "float32": "FLOAT", "float64": "DOUBLE", "date": "DATE", "timestamp": "TIMESTAMP",
           "timestamp_utc": "TIMESTAMPTZ", "string": "VARCHAR", "binary": "BLOB"}  # fmt: skip


def athena_type(t: LakeType) -> str:
    """The Hive/Athena/Glue column type of a Parquet column."""
    return f"decimal({t.precision},{t.scale})" if t.kind == "decimal" else _ATHENA[t.kind]


def spark_type(t: LakeType, csv: bool) -> str:
    """The Spark SQL type; in CSV binary columns are their hex text."""
    if t.kind == "decimal":
        return f"DECIMAL({t.precision},{t.scale})"
    return "STRING" if csv and t.kind == "binary" else _SPARK[t.kind]


def duckdb_type(t: LakeType, csv: bool) -> str:
    """The DuckDB type; in CSV binary is hex text and TIMESTAMP text is UTC without an offset."""
    if t.kind == "decimal":
        return f"DECIMAL({t.precision},{t.scale})"
    if csv and t.kind == "binary":
        return "VARCHAR"
    if csv and t.kind == "timestamp_utc":
        return "TIMESTAMP"
    return _DUCKDB[t.kind]
