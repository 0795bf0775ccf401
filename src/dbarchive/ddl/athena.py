"""Athena: ``CREATE EXTERNAL TABLE`` with partition projection, and the same table for Glue.

Parquet maps straight onto typed columns. CSV goes through OpenCSVSerDe, which types nothing
reliably (per AWS: numbers with NULLs fail, TIMESTAMP and DATE only as epoch numbers), so the
CSV table holds every column as text (``…_csv``) and a view on top casts them, turning the
``\\N`` token into NULL. The casts are ``CAST``, not ``TRY_CAST``: a value that does not parse
(a MySQL zero date ``0000-00-00``, say) fails the query rather than reading as NULL.

Two things OpenCSVSerDe cannot read, warned about per column from the manifests' column stats
(``stats_warnings``): a line break inside a value (it ends the row there), and the text ``\\N``
(it strips the quotes, so the view cannot tell it from NULL). For tables whose text holds line
breaks, archive as Parquet to query them in Athena.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from dbarchive.ddl.dialect import (
    ATHENA_ESCAPE,
    NULL_TOKEN,
    QUOTE,
    SEPARATOR,
    backtick,
    double_quote,
    hive_string,
    projection_properties,
    sql_string,
)
from dbarchive.ddl.schema import LakeColumn, TableDefinition, day_list
from dbarchive.formats.lake_types import LakeType, athena_type

PARQUET_SERDE = {
    "InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
    "OutputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
    "SerdeInfo": {
        "SerializationLibrary": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
        "Parameters": {"serialization.format": "1"},
    },
}
CSV_SERDE = {
    "InputFormat": "org.apache.hadoop.mapred.TextInputFormat",
    "OutputFormat": "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
    "SerdeInfo": {
        "SerializationLibrary": "org.apache.hadoop.hive.serde2.OpenCSVSerde",
        "Parameters": {"separatorChar": SEPARATOR, "quoteChar": QUOTE, "escapeChar": "\u0001"},
    },
}
_TRINO = {"tinyint": "tinyint", "smallint": "smallint", "int": "integer", "bigint": "bigint",
          "float": "real", "double": "double"}  # fmt: skip


def table_name(defn: TableDefinition) -> str:
    """Athena/Glue names are lower case letters, digits and underscores."""
    return "".join(ch if ch.isalnum() or ch == "_" else "_" for ch in defn.lake_name.lower())


def comment_block(defn: TableDefinition, warnings: tuple[str, ...] = ()) -> str:
    """The definition's head comment: the table, its days and notes, then ``warnings``."""
    head = (
        f"-- dbarchive: {defn.table}, {len(defn.partitions)} archived day(s) "
        f"{defn.first_day} .. {defn.last_day}, {defn.format}"
    )
    return "\n".join([head, *(f"-- {n}" for n in (*defn.notes, *warnings))]) + "\n"


def stats_warnings(defn: TableDefinition) -> tuple[str, ...]:
    """What OpenCSVSerDe reads wrong in this CSV archive, per column, from the column stats."""
    if defn.format != "csv":
        return ()
    warnings = [
        f"WARNING: column {name} holds line breaks ({day_list(days)}): OpenCSVSerDe ends a row "
        "at a line break, so Athena reads those rows wrong; archive the table as Parquet "
        '(format = "parquet") to query them in Athena'
        for name, days in defn.days_with("line_breaks").items()
    ]
    warnings += [
        f"WARNING: column {name} holds the text \\N ({day_list(days)}): OpenCSVSerDe reads it "
        "like NULL, so the view gives NULL there"
        for name, days in defn.days_with("null_text").items()
    ]
    return (*warnings, *unknown_stats_note(defn))


def unknown_stats_note(
    defn: TableDefinition, what: str = "line breaks or the text \\N"
) -> tuple[str, ...]:
    """A note naming the CSV days whose manifests record no column stats, if any."""
    if defn.format != "csv" or not (unknown := defn.days_without_stats):
        return ()
    return (
        f"note: no column stats recorded for {day_list(unknown)} (archived before dbarchive "
        f"recorded them, or by aurora-outfile): whether their values hold {what} is not known",
    )


def _column_type(col: LakeColumn, csv: bool) -> str:
    return "string" if csv else athena_type(col.type)


def _table_properties(defn: TableDefinition, csv: bool) -> dict[str, str]:
    props = {"classification": "csv" if csv else "parquet"}
    if csv:
        props["skip.header.line.count"] = "1"
    keys = defn.partition_columns
    props.update(
        projection_properties(defn.location, defn.layout, defn.first_day, defn.last_day, keys)
    )
    return props


def athena_ddl(defn: TableDefinition) -> str:
    """The Athena statements for the archive (Parquet: one table; CSV: a text table + a view)."""
    csv = defn.format == "csv"
    name = table_name(defn) + ("_csv" if csv else "")
    columns = ",\n".join(f"  {backtick(c.name)} {_column_type(c, csv)}" for c in defn.columns)
    partitions = ", ".join(f"{backtick(k)} int" for k in defn.partition_columns)
    if csv:
        storage = (
            "ROW FORMAT SERDE 'org.apache.hadoop.hive.serde2.OpenCSVSerde'\n"
            f"WITH SERDEPROPERTIES ('separatorChar' = {hive_string(SEPARATOR)}, "
            f"'quoteChar' = {hive_string(QUOTE)}, 'escapeChar' = '{ATHENA_ESCAPE}')\n"
            "STORED AS TEXTFILE"
        )
    else:
        storage = "STORED AS PARQUET"
    props = ",\n".join(
        f"  {hive_string(k)} = {hive_string(v)}" for k, v in _table_properties(defn, csv).items()
    )
    head = comment_block(defn, stats_warnings(defn))
    ddl = (
        f"{head}CREATE EXTERNAL TABLE IF NOT EXISTS {backtick(name)} (\n{columns}\n)\n"
        f"PARTITIONED BY ({partitions})\n{storage}\nLOCATION {hive_string(defn.location)}\n"
        f"TBLPROPERTIES (\n{props}\n);\n"
    )
    return ddl + (_typed_view(defn, name) if csv else "")


def _cast(col: LakeColumn) -> str:
    """Trino SQL turning the CSV text of ``col`` into its value (``\\N`` → NULL); a text that
    does not parse as the type fails the query (``CAST``), it does not become NULL."""
    value = f"NULLIF({double_quote(col.name)}, {sql_string(NULL_TOKEN)})"
    t: LakeType = col.type
    if t.kind == "binary":
        return f"from_hex({value})"
    if t.kind == "string":
        return value
    if t.kind == "date":
        return f"CAST({value} AS date)"
    if t.kind in {"timestamp", "timestamp_utc"}:
        # Cut to milliseconds as text: a cast to timestamp(3) rounds, and 23:59:59.999999
        # would read as the next day's midnight in this day's partition.
        return f"CAST(substr({value}, 1, 23) AS timestamp)"
    athena = athena_type(t)
    return f"CAST({value} AS {_TRINO.get(athena, athena)})"


def _typed_view(defn: TableDefinition, raw: str) -> str:
    lines = [f"  {_cast(c)} AS {double_quote(c.name)}" for c in defn.columns]
    lines += [f"  {double_quote(k)}" for k in defn.partition_columns]
    body = ",\n".join(lines)
    return (
        f"-- Typed view: TIMESTAMP columns hold UTC; Athena's timestamp keeps milliseconds (cut,\n"
        f"-- not rounded: 23:59:59.999999 stays in its day);\n"
        f"-- binary columns are hex in the files (from_hex gives the bytes). A value that does\n"
        f"-- not parse as its type (a zero date) fails the query: read it from {raw}.\n"
        f"CREATE OR REPLACE VIEW {double_quote(table_name(defn))} AS SELECT\n{body}\n"
        f"FROM {double_quote(raw)};\n"
    )


def _glue_columns(columns: Iterable[LakeColumn] | Iterable[Any], csv: bool) -> list[dict[str, str]]:
    return [
        {"Name": c.name, "Type": _column_type(c, csv), "Comment": f"mysql: {c.mysql_type}"}
        for c in columns
    ]


def glue_table_input(defn: TableDefinition, database: str) -> dict[str, Any]:
    """The ``aws glue create-table --cli-input-json`` document (DatabaseName + TableInput)."""
    csv = defn.format == "csv"
    descriptor = {
        "Columns": _glue_columns(defn.columns, csv),
        "Location": defn.location,
        **(CSV_SERDE if csv else PARQUET_SERDE),
    }
    return {
        "DatabaseName": database,
        "TableInput": {
            "Name": table_name(defn) + ("_csv" if csv else ""),
            "Description": f"dbarchive archive of {defn.table}",
            "TableType": "EXTERNAL_TABLE",
            "Parameters": {"EXTERNAL": "TRUE", **_table_properties(defn, csv)},
            "PartitionKeys": [{"Name": k, "Type": "int"} for k in defn.partition_columns],
            "StorageDescriptor": descriptor,
        },
    }
