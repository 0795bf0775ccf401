"""DuckDB: a view over the archive files for local exploration (``read_csv`` / ``read_parquet``).

Both read the files by their header or field names (``union_by_name``), so days archived before
a column was added, dropped or moved read in one view: a column a day lacks is NULL there. The
CSV options are the dialect's (``dialect.DUCKDB_CSV_OPTIONS``) with every column's type given by
name (``types``), so nothing is guessed: explicit ``columns`` would have to match every file by
position, and DuckDB refuses a file with another column list ("not possible to automatically
detect the CSV parsing dialect"). The view selects the definition's columns in its order.

On ``s3://`` the snippet loads httpfs and aws and makes a secret with the credentials of the
standard AWS chain and the destination's ``endpoint_url`` and ``region`` (``s3_setup``).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from dbarchive.ddl.athena import comment_block, table_name
from dbarchive.ddl.dialect import DUCKDB_CSV_OPTIONS, double_quote, sql_string
from dbarchive.ddl.schema import FOLDER_KEYS, TableDefinition
from dbarchive.formats.lake_types import duckdb_type
from dbarchive.layout import Layout

# "month=05" is text to DuckDB's type guess (leading zero): the partition keys are integers.
_HIVE_TYPES = ", hive_types = {'year': INTEGER, 'month': INTEGER, 'day': INTEGER}"


def duckdb_source(defn: TableDefinition) -> str:
    """The table function call that reads every archived file of the table (a table whose
    columns include year, month or day: its folders' values come from ``filename`` instead of
    DuckDB's Hive partitioning, which would put them in place of the columns' own)."""
    hive = defn.layout is Layout.HIVE and not defn.partitions_renamed
    globs = [sql_string(defn.location + g) for g in defn.file_globs]
    files = globs[0] if len(globs) == 1 else f"[{', '.join(globs)}]"
    partitions = f"hive_partitioning = {str(hive).lower()}" + (_HIVE_TYPES if hive else "")
    if defn.format == "parquet":
        return f"read_parquet({files}, {partitions}, union_by_name = true)"
    types = ", ".join(
        f"{sql_string(c.name)}: {sql_string(duckdb_type(c.type, csv=True))}" for c in defn.columns
    )
    args = ", ".join(f"{k} = {v}" for k, v in DUCKDB_CSV_OPTIONS.items())
    return f"read_csv({files}, {args}, {partitions}, union_by_name = true, types = {{{types}}})"


def duckdb_select(defn: TableDefinition) -> str:
    """``SELECT <columns> FROM <source>``: the definition's columns, then the partition keys
    (a view over no file yet: the columns, typed, and no row)."""
    names = [double_quote(c.name) for c in defn.columns]
    if not defn.file_globs:
        typed = [
            f"CAST(NULL AS {duckdb_type(c.type, defn.format == 'csv')}) AS {double_quote(c.name)}"
            for c in defn.columns
        ]
        return f"SELECT {', '.join(typed)}\nWHERE false"
    if defn.layout is Layout.HIVE:
        names += _partition_columns(defn)
    return f"SELECT {', '.join(names)}\nFROM {duckdb_source(defn)}"


def _partition_columns(defn: TableDefinition) -> list[str]:
    """The folders' year/month/day as the view's columns: DuckDB's own when their names are
    free, else read from each row's ``filename`` (left out if a column is called that too)."""
    if not defn.partitions_renamed:
        return [double_quote(k) for k in FOLDER_KEYS]
    if "filename" in {c.name.lower() for c in defn.columns}:
        return []
    return [
        f"CAST(regexp_extract(filename, '/{key}=([0-9]+)/', 1) AS INTEGER) AS {double_quote(name)}"
        for key, name in zip(FOLDER_KEYS, defn.partition_columns, strict=True)
    ]


def s3_setup(defn: TableDefinition) -> str:
    """httpfs and aws, then a secret for the archive's location: credentials from the standard
    AWS chain, and the destination's region and endpoint (path-style URLs, TLS as its scheme
    says). Named after the table and scoped to its folder, so views of several archives can
    live in one session."""
    options = ["TYPE s3", "PROVIDER credential_chain", f"SCOPE {sql_string(defn.location)}"]
    if defn.region:
        options.append(f"REGION {sql_string(defn.region)}")
    if defn.endpoint_url:
        url = urlsplit(defn.endpoint_url)
        options += [
            f"ENDPOINT {sql_string(url.netloc + url.path.rstrip('/'))}",
            "URL_STYLE 'path'",
            f"USE_SSL {str(url.scheme != 'http').lower()}",
        ]
    name = double_quote("dbarchive_" + table_name(defn))
    return (
        "INSTALL httpfs;\nLOAD httpfs;\nINSTALL aws;\nLOAD aws;\n"
        f"CREATE OR REPLACE SECRET {name} ({', '.join(options)});\n"
    )


def duckdb_ddl(defn: TableDefinition) -> str:
    """A runnable DuckDB snippet: (httpfs and a secret for S3,) then ``CREATE VIEW <table> AS
    SELECT …``."""
    setup = s3_setup(defn) if defn.location.startswith("s3://") else ""
    return (
        f"{comment_block(defn)}{setup}CREATE OR REPLACE VIEW {double_quote(defn.lake_name)} AS\n"
        f"{duckdb_select(defn)};\n"
    )
