"""pyarrow.dataset over the archive: the same dialect and types as the DDL, for Python readers.

``archive_dataset(defn, filesystem, root)`` opens every part of a table (CSV or Parquet, Hive
partitions as columns year/month/day unless the table has such a column); ``_manifest.json`` is skipped like any ``_`` file. Its
schema is the definition's, unified across every day's manifest: a column added after the oldest
day is there (NULL on days without it), where pyarrow would take the schema of the first file it
finds and silently drop it. ``.csv.zst`` parts are read through ``arrow_fs.zstd_names``.
"""

from __future__ import annotations

import os
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.dataset as ds
import pyarrow.fs as pafs

from dbarchive.ddl.arrow_fs import zstd_names
from dbarchive.ddl.dialect import NULL_TOKEN, QUOTE, SEPARATOR
from dbarchive.ddl.schema import TableDefinition
from dbarchive.formats.lake_types import LakeType
from dbarchive.formats.parquet_text import arrow_type
from dbarchive.layout import Layout

PARTITION_SCHEMA = pa.schema([("year", pa.int32()), ("month", pa.int32()), ("day", pa.int32())])


def _csv_arrow_type(t: LakeType) -> pa.DataType:
    """In CSV, binary is hex text and TIMESTAMP is UTC text without an offset."""
    if t.kind == "binary":
        return pa.string()
    if t.kind == "timestamp_utc":
        return pa.timestamp("us")
    return arrow_type(t)


def column_types(defn: TableDefinition) -> dict[str, pa.DataType]:
    """Each column's Arrow type in the archive's files (CSV: as its text reads)."""
    convert = _csv_arrow_type if defn.format == "csv" else arrow_type
    return {c.name: convert(c.type) for c in defn.columns}


def parse_options() -> pacsv.ParseOptions:
    """The dialect for ``pyarrow.csv``: RFC 4180 quotes, no escape, line breaks inside values."""
    return pacsv.ParseOptions(
        delimiter=SEPARATOR,
        quote_char=QUOTE,
        double_quote=True,
        escape_char=False,
        newlines_in_values=True,
    )


def convert_options(defn: TableDefinition) -> pacsv.ConvertOptions:
    """Exact types for every column, and only a bare ``\\N`` as NULL (``"\\N"`` is text)."""
    return pacsv.ConvertOptions(
        column_types=column_types(defn),
        null_values=[NULL_TOKEN],
        strings_can_be_null=True,
        quoted_strings_can_be_null=False,
    )


def csv_format(defn: TableDefinition) -> ds.CsvFileFormat:
    """The dialect and types as a dataset file format."""
    return ds.CsvFileFormat(parse_options=parse_options(), convert_options=convert_options(defn))


def dataset_schema(defn: TableDefinition) -> pa.Schema:
    """The definition's columns in its order (then year/month/day for Hive folders)."""
    fields = [pa.field(n, t) for n, t in column_types(defn).items()]
    if _hive(defn):
        fields += list(PARTITION_SCHEMA)
    return pa.schema(fields)


def _hive(defn: TableDefinition) -> bool:
    """Whether the folders' year/month/day become columns: not when the table has a column of
    such a name, whose values they would replace."""
    return defn.layout is Layout.HIVE and not defn.partitions_renamed


def archive_dataset(defn: TableDefinition, filesystem: Any, root: str) -> ds.Dataset:
    """A dataset of the table's parts under ``root`` (the table folder, without scheme).

    ``filesystem``: a ``pyarrow.fs`` filesystem (e.g. ``S3FileSystem``), an fsspec one, or None
    for local files.
    """
    fmt: ds.FileFormat = ds.ParquetFileFormat() if defn.format == "parquet" else csv_format(defn)
    partitioning = ds.partitioning(PARTITION_SCHEMA, flavor="hive") if _hive(defn) else None
    fs = _arrow_filesystem(filesystem)
    if filesystem is None:
        root = os.path.abspath(root)
    if defn.format == "csv":
        fs = zstd_names(fs)
    return ds.dataset(
        root, schema=dataset_schema(defn), filesystem=fs, format=fmt, partitioning=partitioning
    )


def _arrow_filesystem(filesystem: Any) -> pafs.FileSystem:
    if filesystem is None:
        return pafs.LocalFileSystem()
    if isinstance(filesystem, pafs.FileSystem):
        return filesystem
    # an fsspec filesystem (pyarrow-stubs take FSSpecHandler for abstract; pyarrow does not)
    return pafs.PyFileSystem(pafs.FSSpecHandler(filesystem))  # type: ignore[abstract]
