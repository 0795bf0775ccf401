"""Pure SQL text of the verified partition drop (``steps/exchange.py`` says why each step is
there): list a table's RANGE partitions and turn their bounds into column values, count one,
make the empty clone, exchange the partition into it and drop it, move rows back. Every
identifier quoted, values as ``%s``.
"""

from __future__ import annotations

from dbarchive.sources.canonical import quote_identifier
from dbarchive.sources.table import TableInfo

# Params: schema, table. Only named partitions (a table that is not partitioned has one row
# whose PARTITION_NAME is NULL).
PARTITIONS = (
    "SELECT PARTITION_NAME, PARTITION_METHOD, PARTITION_EXPRESSION, PARTITION_DESCRIPTION"
    " FROM information_schema.PARTITIONS WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s"
    " AND PARTITION_NAME IS NOT NULL ORDER BY PARTITION_ORDINAL_POSITION"
)


def bound_sql(method: str, expression: str, description: str, ts: str) -> tuple[str, str] | None:
    """The statement (and its one parameter) that turns a partition's upper bound into a value
    of the time column ``ts``; None when the partitioning is not on ``ts`` alone in a form read
    here (``RANGE COLUMNS(ts)``, ``RANGE (TO_DAYS(ts))``, ``RANGE (UNIX_TIMESTAMP(ts))``).
    ``method``, ``expression``, ``description``: the catalog's, as ``PARTITIONS`` reads them."""
    column = quote_identifier(ts).lower()
    if method == "RANGE COLUMNS" and expression.lower() == column:
        return "SELECT CAST(%s AS DATETIME)", description.strip("'")
    if method == "RANGE" and expression.lower() == f"to_days({column})":
        return "SELECT CAST(FROM_DAYS(%s) AS DATETIME)", description
    if method == "RANGE" and expression.lower() == f"unix_timestamp({column})":
        return "SELECT FROM_UNIXTIME(%s)", description
    return None


def partition_count_sql(info: TableInfo, partition: str) -> str:
    """The rows of one partition (read through partition pruning, nothing else)."""
    return f"SELECT COUNT(*) FROM {info.qualified} PARTITION ({quote_identifier(partition)})"


def remove_partitioning_sql(table: TableInfo) -> str:
    """The clone must not be partitioned for EXCHANGE PARTITION to take it."""
    return f"ALTER TABLE {table.qualified} REMOVE PARTITIONING"


def exchange_partition_sql(info: TableInfo, partition: str, clone: TableInfo) -> str:
    """Swap the partition's rows with the (empty) clone's: a metadata operation."""
    return (
        f"ALTER TABLE {info.qualified} EXCHANGE PARTITION {quote_identifier(partition)} "
        f"WITH TABLE {clone.qualified}"
    )


def drop_partition_sql(info: TableInfo, partition: str) -> str:
    return f"ALTER TABLE {info.qualified} DROP PARTITION {quote_identifier(partition)}"


def move_rows_sql(
    into: TableInfo, source: TableInfo, columns: list[str], limit: int
) -> tuple[str, str]:
    """The INSERT … SELECT and the DELETE that move the first ``limit`` rows of ``source`` (in
    key order) into ``into``: run in one transaction, they move the same rows."""
    names = ", ".join(quote_identifier(c) for c in columns)
    order = ", ".join(quote_identifier(c.name) for c in into.key)
    insert = (
        f"INSERT INTO {into.qualified} ({names}) SELECT {names} FROM {source.qualified} "
        f"ORDER BY {order} LIMIT {int(limit)}"
    )
    return insert, f"DELETE FROM {source.qualified} ORDER BY {order} LIMIT {int(limit)}"


def drop_grants_sql(info: TableInfo, clone: TableInfo) -> str:
    """The GRANT statements a verified partition drop needs (README "Least privilege")."""
    schema = quote_identifier(info.schema)
    return (
        f"GRANT ALTER, CREATE, DROP, INSERT ON {info.qualified} TO <the archive user>; "
        f"GRANT SELECT, INSERT, DELETE, CREATE, DROP, ALTER ON {clone.qualified} TO "
        f"<the archive user>; GRANT LOCK TABLES ON {schema}.* TO <the archive user>"
    )
