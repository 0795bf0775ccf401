"""Databricks / Spark SQL: ``CREATE TABLE … USING CSV|PARQUET OPTIONS (…) LOCATION …``.

The CSV options read our dialect exactly (``dialect.SPARK_CSV_OPTIONS``): RFC 4180 quotes with
``escape '"'``, multi-line values, ``\\N`` as NULL. Spark then also reads a *quoted* ``"\\N"`` as
NULL, the one ambiguity (for that exact text): the statements warn about each column whose
values hold that text, from the manifests' column stats. DATETIME is ``TIMESTAMP_NTZ`` (wall clock, no
zone); TIMESTAMP is ``TIMESTAMP`` read from UTC text. Partitions are discovered with
``MSCK REPAIR TABLE`` after creating the table and after each new day.
"""

from __future__ import annotations

from dbarchive.ddl.athena import comment_block, table_name, unknown_stats_note
from dbarchive.ddl.dialect import SPARK_CSV_OPTIONS, backtick, hive_string
from dbarchive.ddl.schema import FOLDER_KEYS, TableDefinition, day_list
from dbarchive.formats.lake_types import spark_type
from dbarchive.layout import Layout


def spark_ddl(defn: TableDefinition) -> str:
    """The Spark SQL statements that define the archive as a table."""
    csv = defn.format == "csv"
    # Spark names partitions after the folders' keys: a table with a column of such a name is
    # read by its files alone (no partition columns), like the flat layout.
    hive = defn.layout is Layout.HIVE and not defn.partitions_renamed
    cols = [f"  {backtick(c.name)} {spark_type(c.type, csv)}" for c in defn.columns]
    if hive:
        cols += [f"  {backtick(k)} INT" for k in FOLDER_KEYS]
    options: dict[str, str] = dict(SPARK_CSV_OPTIONS) if csv else {}
    if not csv and defn.schema_changes:
        options["mergeSchema"] = "true"
    if not hive:
        options["recursiveFileLookup"] = "true"
    opts = ",\n".join(f"  {k} {hive_string(v)}" for k, v in options.items())
    name = backtick(table_name(defn))
    head = comment_block(defn, spark_warnings(defn))
    ddl = f"{head}CREATE TABLE IF NOT EXISTS {name} (\n" + ",\n".join(cols) + "\n)\n"
    ddl += f"USING {'CSV' if csv else 'PARQUET'}\n"
    if opts:
        ddl += f"OPTIONS (\n{opts}\n)\n"
    if hive:
        ddl += "PARTITIONED BY (" + ", ".join(backtick(k) for k in FOLDER_KEYS) + ")\n"
    ddl += f"LOCATION {hive_string(defn.location)};\n"
    if hive:
        ddl += f"MSCK REPAIR TABLE {name};\n"
    return ddl


def spark_warnings(defn: TableDefinition) -> tuple[str, ...]:
    """Columns of a CSV archive holding the text ``\\N``, which Spark reads as NULL."""
    if defn.format != "csv":
        return ()
    warnings = tuple(
        f"WARNING: column {name} holds the text \\N ({day_list(days)}): Spark's nullValue "
        "reads it as NULL, quoted or not"
        for name, days in defn.days_with("null_text").items()
    )
    return (*warnings, *unknown_stats_note(defn, "the text \\N"))
