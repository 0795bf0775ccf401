"""Pure SQL text about whole tables: does one exist, how many rows, create one like another, drop
it, lock it. Used by the verified partition drop (``mysql_partitions.py``) and the restore
(``mysql_restore.py``); every identifier quoted, values as ``%s`` (plain SQL:
``sqltext.driver_template`` makes it the driver's template).
"""

from __future__ import annotations

from collections.abc import Sequence

from dbarchive.sources.canonical import quote_identifier
from dbarchive.sources.table import TableInfo

# Params: schema, table. information_schema, so a missing table is an empty answer, not an error.
TABLE_EXISTS = "SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s"
# Params: schema, table. Every column a row can be given a value for: generated ones are left
# out (INSERT refuses a value for them; the server computes them).
STORED_COLUMNS = (
    "SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = %s AND "
    "TABLE_NAME = %s AND EXTRA NOT LIKE '%VIRTUAL GENERATED%' AND "
    "EXTRA NOT LIKE '%STORED GENERATED%' ORDER BY ORDINAL_POSITION"
)
LOCK_WAIT_TIMEOUT = "SELECT @@SESSION.lock_wait_timeout"
UNLOCK_TABLES = "UNLOCK TABLES"


def qualified(schema: str, table: str) -> str:
    """```schema`.`table``` (each part quoted, backticks doubled)."""
    return f"{quote_identifier(schema)}.{quote_identifier(table)}"


def count_sql(table: TableInfo) -> str:
    """Every row of the table (a small one: the exchange's clone)."""
    return f"SELECT COUNT(*) FROM {table.qualified}"


def time_range_sql(table: TableInfo) -> str:
    """The smallest and largest value of the table's time column."""
    ts = quote_identifier(table.ts.name)
    return f"SELECT MIN({ts}), MAX({ts}) FROM {table.qualified}"


def create_like_sql(schema: str, table: str, like: str) -> str:
    """``CREATE TABLE`` ``table`` with the very structure of ``like`` (same schema), empty."""
    return f"CREATE TABLE {qualified(schema, table)} LIKE {qualified(schema, like)}"


def show_create_sql(schema: str, table: str) -> str:
    """``SHOW CREATE TABLE``: the definition, with the live AUTO_INCREMENT counter (on MySQL 8
    information_schema's may be a cached statistic)."""
    return f"SHOW CREATE TABLE {qualified(schema, table)}"


def drop_table_sql(schema: str, table: str) -> str:
    return f"DROP TABLE IF EXISTS {qualified(schema, table)}"


def set_lock_wait_timeout_sql(seconds: int) -> str:
    """How long this session waits for a table (metadata) lock: ``int`` keeps it a number."""
    return f"SET SESSION lock_wait_timeout = {int(seconds)}"


def lock_tables_sql(tables: Sequence[TableInfo]) -> str:
    """``LOCK TABLES a WRITE, b WRITE``: nobody else reads or writes them until UNLOCK TABLES."""
    return "LOCK TABLES " + ", ".join(f"{t.qualified} WRITE" for t in tables)
