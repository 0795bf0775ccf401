"""Pure SQL text the deletion ledger needs: who is deleting, and which deleted keys are there.

A ledger intent is resolved, and an audit checks the database, by asking which of a record's
keys a table holds now. The key is unique in the table, so the question is asked of the whole
table (no day or ``where`` filter): a key found anywhere is a key that is there. Locking reads
(``FOR UPDATE``) wait for a transaction still holding the rows — a chunk whose COMMIT is in
flight — so they see its outcome, never the state before it.
"""

from __future__ import annotations

from dbarchive.sources.canonical import canonical_expression, quote_identifier
from dbarchive.sources.mysql_sql import keys_in
from dbarchive.sources.table import TableInfo

# The account the server authenticated this session as (what grants apply to), e.g. a@%.
CURRENT_USER = "SELECT CURRENT_USER()"
TABLE_EXISTS = (
    "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s"
)
KEYS_PER_STATEMENT = 1000


def _select_keys(info: TableInfo) -> str:
    return ", ".join(canonical_expression(c) for c in info.key)


def present_range_sql(info: TableInfo, lock: bool) -> str:
    """The keys the table holds between two integer keys (params: low, high), as canonical text."""
    k = quote_identifier(info.key[0].name)
    return f"SELECT {_select_keys(info)} FROM {info.qualified} WHERE {k} >= %s AND {k} <= %s" + (
        " FOR UPDATE" if lock else ""
    )


def present_keys_sql(info: TableInfo, count: int, lock: bool) -> str:
    """Which of ``count`` keys the table holds (params: the key values, flattened), as canonical
    text; ``count`` at most :data:`KEYS_PER_STATEMENT`."""
    return f"SELECT {_select_keys(info)} FROM {info.qualified} WHERE {keys_in(info, count)}" + (
        " FOR UPDATE" if lock else ""
    )
