"""The canonical text of every MySQL type: what the archive holds and what the digest hashes.

One SQL expression per column, ``E(col)``, is both selected by the export and hashed by the
database during verify, so the file, the exporter and the database see the very same bytes:

| MySQL type                                   | E(col)                         | text, e.g.            |
|----------------------------------------------|--------------------------------|-----------------------|
| integers, DECIMAL, DATE, DATETIME, TIME, YEAR| the column                     | ``1.5000``, ``…00.000000`` |
| TIMESTAMP                                    | the column, session at +00:00  | UTC wall clock        |
| DOUBLE                                       | the column (shortest round trip)| ``0.1``              |
| FLOAT                                        | ``CAST(col AS DOUBLE)``        | ``0.10000000149011612`` |
| CHAR, VARCHAR, TEXT, ENUM, SET, JSON         | ``CONVERT(col USING utf8mb4)`` | UTF-8                 |
| UUID, INET6, INET4 (MariaDB)                 | ``CONVERT(col USING utf8mb4)`` | ``::ffff:1.2.3.4``    |
| BINARY, VARBINARY, BLOB, GEOMETRY            | ``HEX(col)``                   | upper-case hex        |
| BIT                                          | ``CAST(col AS UNSIGNED)``      | ``5``                 |
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from dbarchive.errors import SourceError
from dbarchive.sources.ordinal_keys import ordinal

_AS_IS = {
    "tinyint",
    "smallint",
    "mediumint",
    "int",
    "integer",
    "bigint",
    "decimal",
    "numeric",
    "date",
    "datetime",
    "time",
    "year",
    "timestamp",
    "double",
    "real",
}
_TEXT = {
    "char",
    "varchar",
    "tinytext",
    "text",
    "mediumtext",
    "longtext",
    "enum",
    "set",
    "json",
}
# MariaDB's own types whose value the server prints as text, and parses back from that text:
# UUID (lower case, with dashes), INET6 (RFC 5952: '::ffff:1.2.3.4'), INET4 (dotted quad).
# The text is what the server itself prints, so it is exact; their CHARACTER_SET_NAME is NULL.
_TEXT_FORMS = {"uuid", "inet6", "inet4"}
_BINARY = {
    "binary",
    "varbinary",
    "tinyblob",
    "blob",
    "mediumblob",
    "longblob",
    "geometry",
    "point",
    "linestring",
    "polygon",
    "multipoint",
    "multilinestring",
    "multipolygon",
    "geometrycollection",
}
ORDINAL_TYPES = {"enum", "set", "bit"}  # sorted by a number, compared with text as text
_INTEGER = {"tinyint", "smallint", "mediumint", "int", "integer", "bigint", "year"}


@dataclass(frozen=True)
class Column:
    """A source column as described by information_schema."""

    name: str
    data_type: str  # lower case DATA_TYPE, e.g. "decimal"
    column_type: str  # full COLUMN_TYPE, e.g. "decimal(65,30) unsigned"
    nullable: bool
    charset: str | None = None  # CHARACTER_SET_NAME of a text column, e.g. "latin1"
    collation: str | None = None  # COLLATION_NAME of a text column, e.g. "latin1_swedish_ci"
    generated: str | None = None  # "VIRTUAL"/"STORED"; "ROW START"/"ROW END" (system versioning)
    # Whether an INSERT that leaves the column out gives it one fixed value (``DEFAULT(col)``):
    # a literal default, or NULL on a nullable column. Not so for an expression default
    # (CURRENT_TIMESTAMP, UUID()), AUTO_INCREMENT, or a NOT NULL column without a default.
    fixed_default: bool = field(default=True, compare=False)
    # ``ON UPDATE CURRENT_TIMESTAMP``: every UPDATE of a row sets it to the time of the update.
    on_update: bool = field(default=False, compare=False)

    @property
    def is_period(self) -> bool:
        """A MariaDB system-versioning column (``GENERATED ALWAYS AS ROW START``/``END``)."""
        return self.generated in {"ROW START", "ROW END"}

    @property
    def is_text(self) -> bool:
        return self.data_type in _TEXT

    @property
    def is_binary(self) -> bool:
        return self.data_type in _BINARY

    @property
    def is_integer(self) -> bool:
        return self.data_type in _INTEGER


def quote_identifier(name: str) -> str:
    """Backtick-quote an identifier, doubling any backtick inside: never interpolate raw names."""
    return "`" + name.replace("`", "``") + "`"


def canonical_expression(col: Column, value: str | None = None) -> str:
    """The SQL expression E(col) whose text is exported and hashed for this column; ``value``:
    an expression of the column's type to render instead of the column (``MIN(col)``)."""
    q = value or quote_identifier(col.name)
    t = col.data_type
    if t in _AS_IS:
        return q
    if t == "float":
        return f"CAST({q} AS DOUBLE)"
    if t in _TEXT or t in _TEXT_FORMS:
        return f"CONVERT({q} USING utf8mb4)"
    if t in _BINARY:
        return f"HEX({q})"
    if t == "bit":
        return f"CAST({q} AS UNSIGNED)"
    raise SourceError(
        f"column {col.name!r} has type {col.column_type!r}, which dbarchive cannot archive exactly "
        "yet; list it in exclude_columns or open an issue"
    )


def transfer_expression(col: Column) -> str:
    """What the export SELECT reads for this column: text equal to ``canonical_expression``.

    Text columns are read bare: the session's ``character_set_results`` (utf8mb4) makes the server
    send them converted exactly as ``CONVERT(col USING utf8mb4)`` would, without evaluating the
    function on every value (a quarter of the server's time on a JSON/TEXT-heavy table). The SQL
    digest keeps ``CONVERT``: inside ``CONCAT`` the charsets must agree.
    """
    if col.data_type in _TEXT or col.data_type in _TEXT_FORMS:
        return quote_identifier(col.name)
    return canonical_expression(col)


def netstring_expression(columns: list[Column]) -> str:
    """CONCAT of each column's netstring (``len:text``, NULL as ``-1:``) for the SQL digest."""
    parts = []
    for col in columns:
        e = canonical_expression(col)
        parts.append(f"IFNULL(CONCAT(LENGTH({e}), ':', {e}), '-1:')")
    return "CONCAT(" + ", ".join(parts) + ")"


def key_parameter(col: Column, text: bytes) -> object:
    """A key value as a query parameter of the column's own type, from its canonical text.

    Comparing an integer column with a string makes MySQL compare doubles, which loses precision
    above 2**53, so integers and decimals go back to numbers; binary keys come back from hex;
    ENUM, SET and BIT keys become the number MySQL sorts them by.
    """
    if col.is_integer:
        return int(text)
    if col.data_type in {"decimal", "numeric"}:
        return Decimal(text.decode())
    if col.is_binary:
        return bytes.fromhex(text.decode())
    if col.data_type in ORDINAL_TYPES:  # compared as the number they sort by (ordinal_keys.py)
        return ordinal(col.data_type, col.column_type, col.name, text.decode())
    return text.decode()
