"""Register the archive in the Glue Data Catalog: the table, then one partition per archived day.

Athena reads the table through partition projection and ignores partitions; Spark on EMR/Glue
and Redshift Spectrum read the registered partitions, each with the columns its own day was
archived with (so a day from before a schema change keeps its own column list).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dbarchive.ddl.athena import CSV_SERDE, PARQUET_SERDE, glue_table_input, table_name
from dbarchive.ddl.schema import LakeColumn, PartitionInfo, TableDefinition
from dbarchive.errors import StorageError
from dbarchive.formats.lake_types import athena_type, lake_type

BATCH = 100  # BatchCreatePartition takes at most 100 partitions per call


@dataclass(frozen=True)
class GlueResult:
    """What ``apply_glue`` did."""

    table: str
    created: bool  # False: an existing table was updated
    partitions_added: int
    partitions_existing: int


def partition_input(partition: PartitionInfo) -> dict[str, Any]:
    """One day as a Glue PartitionInput: values year/month/day, its location and columns."""
    csv = partition.format == "csv"
    columns = [LakeColumn(c.name, c.mysql_type, lake_type(c.mysql_type)) for c in partition.columns]
    return {
        "Values": [str(partition.day.year), str(partition.day.month), str(partition.day.day)],
        "StorageDescriptor": {
            "Columns": [
                {"Name": c.name, "Type": "string" if csv else athena_type(c.type)} for c in columns
            ],
            "Location": partition.location,
            **(CSV_SERDE if csv else PARQUET_SERDE),
        },
    }


def apply_glue(client: Any, defn: TableDefinition, database: str) -> GlueResult:
    """Create (or update) the table in ``database`` and add every archived day as a partition.

    ``client`` is a boto3 Glue client. Partitions already registered are left as they are.
    """
    doc = glue_table_input(defn, database)
    name = doc["TableInput"]["Name"]
    try:
        client.create_table(**doc)
        created = True
    except client.exceptions.AlreadyExistsException:
        client.update_table(**doc)
        created = False
    added = existing = 0
    parts = [partition_input(p) for p in defn.partitions if p.format == defn.format]
    for start in range(0, len(parts), BATCH):
        response = client.batch_create_partition(
            DatabaseName=database, TableName=name, PartitionInputList=parts[start : start + BATCH]
        )
        errors = response.get("Errors", [])
        already = [e for e in errors if e["ErrorDetail"]["ErrorCode"] == "AlreadyExistsException"]
        if len(already) != len(errors):
            detail = next(e for e in errors if e not in already)["ErrorDetail"]
            raise StorageError(f"Glue refused a partition of {name}: {detail}")
        existing += len(already)
        added += len(parts[start : start + BATCH]) - len(already)
    return GlueResult(table_name(defn), created, added, existing)
