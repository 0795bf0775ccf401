"""The ``iceberg`` format (extra ``iceberg``): Parquet part files, exactly as ``parquet`` writes,
reads and verifies them, which ``dbarchive.lakehouse`` then commits to an Apache Iceberg table,
one snapshot per published day. The files are the archive; the Iceberg table is the catalog's
view of them, so verify, purge and restore read the same bytes through the manifest and check
that the table's current snapshot lists exactly those files."""

from __future__ import annotations

import importlib.util

from dbarchive.formats.parquet_format import ParquetFormat


class IcebergFormat(ParquetFormat):
    """Parquet parts, committed to an Iceberg table once published."""

    name = "iceberg"

    def holds(self, key: str) -> bool:
        return False  # its files are Parquet files: ``parquet`` reads them by their name

    def missing(self) -> str | None:
        for module in ("pyarrow", "pyiceberg"):
            if importlib.util.find_spec(module) is None:
                return f"{module}: pip install 'dbarchive[iceberg]'"
        return None


FORMAT = IcebergFormat()
