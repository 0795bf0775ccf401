"""DuckDB: a view over the archive files for local exploration (``read_csv`` / ``read_parquet``).

The CSV options are the dialect's (``dialect.DUCKDB_CSV_OPTIONS``) with explicit column types,
so nothing is guessed. On ``s3://`` the snippet loads httpfs and takes credentials from the
standard AWS chain.
"""

from __future__ import annotations

from dbarchive.ddl.athena import comment_block
from dbarchive.ddl.dialect import DUCKDB_CSV_OPTIONS, double_quote, sql_string
from dbarchive.ddl.schema import TableDefinition
from dbarchive.formats.lake_types import duckdb_type
from dbarchive.layout import Layout

# "month=05" is text to DuckDB's type guess (leading zero): the partition keys are integers.
_HIVE_TYPES = ", hive_types = {'year': INTEGER, 'month': INTEGER, 'day': INTEGER}"


def duckdb_source(defn: TableDefinition) -> str:
    """The table function call that reads every archived file of the table."""
    hive = defn.layout is Layout.HIVE
    files = sql_string(defn.location + defn.file_glob)
    partitions = f"hive_partitioning = {str(hive).lower()}" + (_HIVE_TYPES if hive else "")
    if defn.format == "parquet":
        return f"read_parquet({files}, {partitions}, union_by_name = true)"
    types = ", ".join(
        f"{sql_string(c.name)}: {sql_string(duckdb_type(c.type, csv=True))}" for c in defn.columns
    )
    args = ", ".join(f"{k} = {v}" for k, v in DUCKDB_CSV_OPTIONS.items())
    return f"read_csv({files}, {args}, {partitions}, columns = {{{types}}})"


def duckdb_ddl(defn: TableDefinition) -> str:
    """A runnable DuckDB snippet: (httpfs for S3,) then ``CREATE VIEW <table> AS SELECT …``."""
    setup = ""
    if defn.location.startswith("s3://"):
        setup = (
            "INSTALL httpfs;\nLOAD httpfs;\nCREATE SECRET (TYPE s3, PROVIDER credential_chain);\n"
        )
    return (
        f"{comment_block(defn)}{setup}CREATE OR REPLACE VIEW {double_quote(defn.table)} AS\n"
        f"SELECT * FROM {duckdb_source(defn)};\n"
    )
