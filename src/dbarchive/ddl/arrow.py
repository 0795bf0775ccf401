"""pyarrow.dataset over the archive: the same dialect and types as the DDL, for Python readers.

``archive_dataset(defn, filesystem)`` opens every part of a table (CSV or Parquet, Hive
partitions as columns year/month/day); ``_manifest.json`` is skipped like any ``_`` file.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.dataset as ds

from dbarchive.ddl.dialect import NULL_TOKEN, QUOTE, SEPARATOR
from dbarchive.ddl.schema import TableDefinition
from dbarchive.formats.lake_types import LakeType
from dbarchive.formats.parquet_text import arrow_type
from dbarchive.layout import Layout


def _csv_arrow_type(t: LakeType) -> pa.DataType:
    """In CSV, binary is hex text and TIMESTAMP is UTC text without an offset."""
    if t.kind == "binary":
        return pa.string()
    if t.kind == "timestamp_utc":
        return pa.timestamp("us")
    return arrow_type(t)


def csv_format(defn: TableDefinition) -> ds.CsvFileFormat:
    """The dialect as pyarrow options: RFC 4180 quotes, no escape, multi-line, bare ``\\N``."""
    return ds.CsvFileFormat(
        parse_options=pacsv.ParseOptions(
            delimiter=SEPARATOR,
            quote_char=QUOTE,
            double_quote=True,
            escape_char=False,
            newlines_in_values=True,
        ),
        convert_options=pacsv.ConvertOptions(
            column_types={c.name: _csv_arrow_type(c.type) for c in defn.columns},
            null_values=[NULL_TOKEN],
            strings_can_be_null=True,
            quoted_strings_can_be_null=False,
        ),
    )


def archive_dataset(defn: TableDefinition, filesystem: Any, root: str) -> ds.Dataset:
    """A dataset of the table's parts under ``root`` (the table folder, without scheme)."""
    fmt: ds.FileFormat = ds.ParquetFileFormat() if defn.format == "parquet" else csv_format(defn)
    keys = pa.schema([("year", pa.int32()), ("month", pa.int32()), ("day", pa.int32())])
    partitioning = ds.partitioning(keys, flavor="hive") if defn.layout is Layout.HIVE else None
    return ds.dataset(root, filesystem=filesystem, format=fmt, partitioning=partitioning)
