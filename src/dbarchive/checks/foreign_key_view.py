"""Where a login can see every foreign key that references a table.

``information_schema`` shows a login only the tables it holds some privilege on, so a login
granted only the archived table sees no referencing table at all (an outside trial purged through
a cascade that way). Two views are complete:

- InnoDB's own list of foreign keys (``INNODB_SYS_FOREIGN`` on MariaDB, ``INNODB_FOREIGN`` on
  MySQL 8), readable with ``PROCESS``: every schema's keys, whatever the table grants. Its names
  are spelled in the server's file-name code (``@0020`` for a space, ``@1O`` for "Ü"); the server
  decodes them itself (``CONVERT(… USING filename)``), so any name compares as written;
- ``information_schema`` for a login holding a table privilege on the whole schema (or globally),
  directly or through an active role, as ``SHOW GRANTS`` lists them (a wildcard schema grant such
  as ``db\\_%`` included): every table of that schema, though not of another one.

Names are compared exactly: ``SCHEMA_PRIVILEGES`` compares them without case, and a grant on
``DB_A`` was taken for one on ``db_a`` (the same trial).
"""

from __future__ import annotations

import re

from dbarchive.context import Context
from dbarchive.errors import DbArchiveError
from dbarchive.sources.canonical import quote_identifier


def _decoded(column: str, part: int) -> str:
    return f"CONVERT(CAST(SUBSTRING_INDEX({column}, '/', {part}) AS BINARY) USING filename)"


# TYPE bits 1 and 2: ON DELETE CASCADE, ON DELETE SET NULL (the rules that change other rows).
_DICTIONARY_SQL = (
    f"SELECT ID, TYPE, {_decoded('FOR_NAME', 1)}, {_decoded('FOR_NAME', -1)},"
    f" {_decoded('REF_NAME', 1)}, {_decoded('REF_NAME', -1)}"
    " FROM information_schema.{} WHERE TYPE & 3 <> 0"
)
_DICTIONARIES = ("INNODB_SYS_FOREIGN", "INNODB_FOREIGN")
# The privileges on a table that make it visible in information_schema.
_TABLE_PRIVILEGES = frozenset({
    "SELECT", "INSERT", "UPDATE", "DELETE", "CREATE", "DROP", "REFERENCES", "INDEX", "ALTER",
    "CREATE VIEW", "SHOW VIEW", "TRIGGER", "DELETE HISTORY", "ALL", "ALL PRIVILEGES",
})  # fmt: skip
_GRANT = re.compile(r"^GRANT (?P<privileges>.+?) ON (?:\*\.\*|`(?P<db>(?:[^`]|``)+)`\.\*) TO ")


def dictionary_keys(ctx: Context, schema: str, table: str) -> list[str] | None:
    """The keys InnoDB's list names as referencing ``schema.table`` ON DELETE CASCADE or SET
    NULL, as ``schema.table (constraint, ON DELETE rule)``; None where the list cannot be read
    (no PROCESS). Compared without case: a false match refuses a purge, a missed one would not."""
    for dictionary in _DICTIONARIES:
        try:
            rows = ctx.source.query(_DICTIONARY_SQL.format(dictionary), (), "reading foreign keys")
        except DbArchiveError:
            continue  # not this server's name for it, or no PROCESS
        target = (schema.casefold(), table.casefold())
        return [
            f"{quote_identifier(_text(child_schema))}.{quote_identifier(_text(child))} "
            f"(constraint {quote_identifier(_text(key).split('/', 1)[-1])}, ON DELETE "
            f"{'CASCADE' if int(kind) & 1 else 'SET NULL'})"
            for key, kind, child_schema, child, parent_schema, parent in rows
            if (_text(parent_schema).casefold(), _text(parent).casefold()) == target
        ]
    return None


def sees_schema(ctx: Context, schema: str) -> bool:
    """Whether the login holds a table privilege on the whole of ``schema`` (or globally),
    directly or through an active role, so that information_schema shows it every table there."""
    try:
        rows = ctx.source.query("SHOW GRANTS", (), "reading the login's grants")
    except DbArchiveError:
        return False
    return any(_grants_schema(_text(row[0]), schema) for row in rows)


def _grants_schema(statement: str, schema: str) -> bool:
    """Whether one ``SHOW GRANTS`` line grants a table privilege on all of ``schema``."""
    found = _GRANT.match(statement)
    if found is None:
        return False
    privileges = {p.strip().upper() for p in found["privileges"].split(",")}
    if not privileges & _TABLE_PRIVILEGES:  # "SELECT (col)" names columns only
        return False
    db = found["db"]
    return db is None or _like(db.replace("``", "`"), schema)


def _like(pattern: str, name: str) -> bool:
    """A schema grant's name as the server matches it: ``%`` and ``_`` wildcards, ``\\``
    escaping the next character; exactly otherwise (case included)."""
    regex, chars = "", iter(pattern)
    for char in chars:
        if char == "\\":
            regex += re.escape(next(chars, "\\"))
        elif char == "%":
            regex += ".*"
        elif char == "_":
            regex += "."
        else:
            regex += re.escape(char)
    return re.fullmatch(regex, name, re.DOTALL) is not None


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
