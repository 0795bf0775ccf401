"""Pure SQL text of the restore (``jobs/restore.py`` says what it guarantees): a table for the
archived columns when the original is gone, the multi-row INSERT that turns canonical text back
into values, and the session's ``sql_mode`` while loading. Identifiers quoted, values ``%s``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol

from dbarchive.checksum import Value
from dbarchive.errors import VerificationError
from dbarchive.formats.lake_types import lake_type
from dbarchive.sources.canonical import quote_identifier
from dbarchive.sources.table import TableInfo

# Strict, but without NO_ZERO_DATE/NO_ZERO_IN_DATE (archived zero dates load back), with
# ALLOW_INVALID_DATES (a '2026-02-31' the table took under that mode was archived as stored, and
# loads back so: an outside trial's restore refused it, and with it every row of its day), and
# an archived id 0 stays 0 instead of taking the next AUTO_INCREMENT value.
RESTORE_SQL_MODE = (
    "STRICT_ALL_TABLES,ALLOW_INVALID_DATES,NO_AUTO_VALUE_ON_ZERO,NO_ENGINE_SUBSTITUTION"
)
SQL_MODE = "SELECT @@SESSION.sql_mode"
MAX_PACKET = "SELECT @@max_allowed_packet"  # the longest statement the server takes
SET_SQL_MODE = "SET SESSION sql_mode = %s"  # param: the mode
_CHARSET_NAME = re.compile(r"^[A-Za-z0-9_]+$")
# The server refused a row: a value it would write is another row's in a UNIQUE index. It
# refuses the whole multi-row INSERT (an overwrite under --replace meeting another live row).
DUPLICATE_ENTRY = 1062
_FOR_KEY = " for key '"


def clashing_index(message: str) -> str | None:
    """The unique index a duplicate-entry error names (MariaDB ``uq_email``, MySQL 8
    ``table.uq_email``), or None. Only the name, which ends the message (it may hold a quote:
    ``uq 'mail``); the value before it is quoted too and never taken."""
    at = message.rstrip().rfind(_FOR_KEY)
    tail = message.rstrip()[at + len(_FOR_KEY) :] if at >= 0 else ""
    return tail[:-1] if len(tail) > 1 and tail.endswith("'") else None


class ArchivedColumn(Protocol):
    """A column as the archive records it (``manifest.ColumnEntry``)."""

    @property
    def name(self) -> str: ...
    @property
    def mysql_type(self) -> str: ...
    @property
    def nullable(self) -> bool: ...
    @property
    def charset(self) -> str | None: ...
    @property
    def collation(self) -> str | None: ...


def create_table_sql(
    qualified: str, columns: Sequence[ArchivedColumn], key: Sequence[str], ts: str
) -> str:
    """A table for the archived columns when the original is gone: their types, charsets and
    collations, key and time index. (Generated columns become plain columns holding the
    archived values: the manifest does not keep their expressions.)"""
    defined = [
        f"{quote_identifier(c.name)} {c.mysql_type}{_charset_clause(c)}"
        f"{'' if c.nullable else ' NOT NULL'}"
        for c in columns
    ]
    keys = ", ".join(quote_identifier(k) for k in key)
    return (
        f"CREATE TABLE {qualified} ({', '.join(defined)}, PRIMARY KEY ({keys}), "
        f"KEY ({quote_identifier(ts)})) DEFAULT CHARSET=utf8mb4"
    )


def _charset_clause(col: ArchivedColumn) -> str:
    """`` CHARACTER SET cs COLLATE coll`` for a text column whose manifest records them."""
    clause = ""
    if col.charset is not None:
        clause += f" CHARACTER SET {_name(col.charset, col)}"
    if col.collation is not None:
        clause += f" COLLATE {_name(col.collation, col)}"
    return clause


def _name(value: str, col: ArchivedColumn) -> str:
    """A charset or collation name from a manifest, fit to stand in SQL unquoted."""
    if not _CHARSET_NAME.match(value):
        raise VerificationError(
            f"the manifest gives column {col.name!r} the charset/collation {value!r}, which is "
            "not a valid name: the manifest is damaged"
        )
    return value


def value_wrapper(mysql_type: str) -> str:
    """The SQL that turns a canonical text parameter back into the column's value."""
    if lake_type(mysql_type).text == "hex":
        return "UNHEX(%s)"
    if mysql_type.lower().startswith("bit"):
        return "CAST(%s AS UNSIGNED)"
    return "%s"


@dataclass(frozen=True)
class InsertStatement:
    """``INSERT INTO t (written columns) VALUES … ON DUPLICATE KEY UPDATE …`` for any number of
    rows of the archive's columns; generated columns are left out (the server computes them)."""

    head: str
    tail: str
    wrappers: tuple[str, ...]  # per written column: how its canonical text becomes its value
    positions: tuple[int, ...]  # where each written column sits in an archived row

    def render(self, rows: Sequence[Sequence[Value]]) -> tuple[str, list[bytes]]:
        """The statement for ``rows`` and its parameters (a NULL is the literal NULL: the
        raw-bytes session has no encoder for None)."""
        tuples: list[str] = []
        params: list[bytes] = []
        for row in rows:
            fields = []
            for wrap, position in zip(self.wrappers, self.positions, strict=True):
                value = row[position]
                if value is None:
                    fields.append("NULL")
                else:
                    fields.append(wrap)
                    params.append(value)
            tuples.append("(" + ", ".join(fields) + ")")
        return self.head + ", ".join(tuples) + self.tail, params


@lru_cache(maxsize=16)
def insert_statement(
    info: TableInfo, archived_types: tuple[str, ...], key: tuple[str, ...], replace: bool
) -> InsertStatement:
    """The INSERT of archived rows into ``info`` (described with exactly the archived columns,
    in the archive's order; ``archived_types`` their archived MySQL types, ``key`` the archive's
    key columns). A row whose key is there already is skipped (a no-op update) or, with
    ``replace``, overwritten."""
    positions = tuple(i for i, c in enumerate(info.columns) if c.generated is None)
    names = ", ".join(quote_identifier(info.columns[i].name) for i in positions)
    return InsertStatement(
        f"INSERT INTO {info.qualified} ({names}) VALUES ",
        _on_duplicate(info, key, replace),
        tuple(value_wrapper(archived_types[i]) for i in positions),
        positions,
    )


def _on_duplicate(info: TableInfo, key: Sequence[str], replace: bool) -> str:
    """Skip a row whose key exists (a no-op update), or overwrite its other columns (generated
    columns are the server's to set) — only where the row found has the archive's key. The
    server runs this on a collision with any unique index: a live row holding an archived
    value in another UNIQUE key was overwritten with the archived row's columns, its own data
    gone (an outside trial); such a row is left as it is (and the restore is not verified),
    and so is one whose key is only collation-equal to the archive's ('ABC' for 'abc' under a
    _ci collation: its key with the archive's other columns was neither version)."""
    base = [c.name for c in info.columns if c.generated is None]
    others = [n for n in base if n not in set(key)]
    if replace and others:
        same_key = " AND ".join(  # the bytes: 'ABC' is the same key as 'abc' under _ci
            f"CAST({quote_identifier(k)} AS BINARY) <=> CAST(VALUES({quote_identifier(k)}) AS BINARY)"
            for k in key
        )
        sets = ", ".join(
            f"{quote_identifier(n)} = IF({same_key}, VALUES({quote_identifier(n)}), "
            f"{quote_identifier(n)})"
            for n in others
        )
        return " ON DUPLICATE KEY UPDATE " + sets
    first = quote_identifier(next((k for k in key if k in base), base[0]))
    return f" ON DUPLICATE KEY UPDATE {first} = {first}"
