"""Describing a table: its exported columns, the paging key, the time index, non-UTF-8 text to
check, the filter; asked again before an empty catalog answer is believed."""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from typing import Any

from dbarchive.config import TableSpec
from dbarchive.errors import NoUsableKeyError, SourceError
from dbarchive.sources import mysql_sql as q
from dbarchive.sources.canonical import Column, quote_identifier
from dbarchive.sources.charsets import (
    lost_bytes,
    may_lose_text,
    range_checks,
    round_trip_probe_sql,
    row_size_check,
)
from dbarchive.sources.mysql_session import MySqlSession
from dbarchive.sources.table import (
    TableInfo,
    TextCheck,
)

PERIOD_COLUMNS = {b"ROW START", b"ROW END"}  # their GENERATION_EXPRESSION (Column.generated)
_EMPTY_CATALOG_PAUSES = (0.05, 0.5)  # asking again before believing an empty catalog answer
_DENIED = {1142, 1143}  # no privilege on the table / on a column


def _column(row: Sequence[Any]) -> Column:
    """A Column from one information_schema.COLUMNS row (see ``_columns``)."""
    name, data_type, column_type, nullable, charset, collation, extra, default, expression = row
    return Column(
        name.decode(),
        data_type.decode().lower(),
        column_type.decode(),
        nullable == b"YES",
        charset.decode() if charset else None,
        collation.decode() if collation else None,
        _generated(extra, expression),
        fixed_default(nullable == b"YES", default, extra),
        b"ON UPDATE" in (extra or b"").upper(),
    )


def _generated(extra: bytes | None, expression: bytes | None) -> str | None:
    """How a column is generated: VIRTUAL / STORED (from EXTRA), ROW START / ROW END (MariaDB's
    system-versioning columns, from GENERATION_EXPRESSION), or None."""
    period = (expression or b"").upper()
    if period in PERIOD_COLUMNS:
        return period.decode()
    generated = re.search(rb"\b(VIRTUAL|STORED|PERSISTENT) GENERATED\b", (extra or b"").upper())
    return None if generated is None else generated[1].decode().replace("PERSISTENT", "STORED")


def fixed_default(nullable: bool, default: bytes | None, extra: bytes | None) -> bool:
    """Whether a row inserted without the column gets one fixed value: from COLUMN_DEFAULT and
    EXTRA, which MySQL and MariaDB spell differently. MySQL marks an expression default
    DEFAULT_GENERATED and prints a literal bare; MariaDB quotes a string literal and prints an
    expression as its text (``current_timestamp()``). Unsure means not fixed."""
    flags = (extra or b"").upper()
    if b"DEFAULT_GENERATED" in flags or b"AUTO_INCREMENT" in flags:
        return False
    if default is None:
        return nullable  # no default: NULL if nullable, else an INSERT without it fails
    text = default.decode(errors="replace").strip()
    if text.upper() == "NULL" or (len(text) >= 2 and text[0] == text[-1] == "'"):
        return True
    return not re.search(r"\(|^(current_timestamp|now|localtime|curdate|curtime)", text, re.I)


class MySqlCatalog(MySqlSession):
    """What the server says about a table: its columns, key, indexes and options."""

    # -- describe ---------------------------------------------------------------------------
    def describe(self, spec: TableSpec) -> TableInfo:
        """Columns, paging key and time index of a configured table; SourceError if unusable."""
        schema = spec.schema_name or self.settings.database
        columns = self._columns(schema, spec.name)
        self._require_every_column(schema, spec.name)
        by_name = {c.name: c for c in columns}
        wanted = self._exported(spec, columns)
        ts = by_name.get(spec.timestamp_column)
        if ts is None:
            raise SourceError(
                f"table {spec.name!r} has no column {spec.timestamp_column!r} "
                f"(timestamp_column); columns are: {', '.join(by_name)}"
            )
        if ts.data_type not in {"datetime", "timestamp", "date"}:
            raise SourceError(
                f"timestamp_column {ts.name!r} of {spec.name!r} is {ts.column_type}; "
                "it must be DATETIME, TIMESTAMP or DATE"
            )
        indexes = self._indexes(schema, spec.name)
        key, key_index = self._key(spec, by_name, indexes)
        ts_index = next((n for n, cols in indexes.items() if cols[0][0] == ts.name), None)
        checked = (
            *(check for c in wanted if (check := self._text_check(c)) is not None),
            *(TextCheck(c, None, enum_error=True) for c in wanted if c.data_type == "enum"),
            *row_size_check(wanted),
            *range_checks(wanted),
        )
        info = TableInfo(
            schema, spec.name, wanted, key, key_index, ts, ts_index, spec.where, checked
        )
        if spec.where:
            self._check_filter(info)
        return info

    def _catalog(self, sql: str, params: tuple[str, str], what: str) -> list[Any]:
        """An information_schema query about one table, asked again while it comes back empty.

        information_schema turns an error opening the table (a KILL QUERY, a lock wait) into a
        warning and an empty answer, so one empty answer does not yet mean "no such table".
        """
        rows = self.query(sql, params, what)
        for pause in _EMPTY_CATALOG_PAUSES:
            if rows:
                break
            time.sleep(pause)
            rows = self.query(sql, params, what)
        return rows

    def _columns(self, schema: str, table: str) -> list[Column]:
        sql = (
            "SELECT COLUMN_NAME, DATA_TYPE, COLUMN_TYPE, IS_NULLABLE, CHARACTER_SET_NAME,"
            " COLLATION_NAME, EXTRA, COLUMN_DEFAULT, GENERATION_EXPRESSION"
            " FROM information_schema.COLUMNS"
            " WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s ORDER BY ORDINAL_POSITION"
        )
        rows = self._catalog(sql, (schema, table), "describing the table")
        if not rows:
            raise SourceError(
                f"table {schema}.{table} does not exist (or the user cannot see it); "
                "check the table name and the SELECT privilege"
            )
        return [_column(r) for r in rows]

    def _require_every_column(self, schema: str, table: str) -> None:
        """Refuse a user who may read only some of the table's columns: information_schema
        lists only those, so the archive would silently lack the others and the purge delete
        their only copy. ``SELECT *`` (explained, no row read) is refused unless every column
        may be read."""
        name = f"{quote_identifier(schema)}.{quote_identifier(table)}"
        try:
            self.query(f"EXPLAIN SELECT * FROM {name} WHERE 1 = 0", (), "reading every column")
        except SourceError as exc:
            if exc.mysql_code not in _DENIED:
                raise
            refused = SourceError(
                f"the user lacks the SELECT privilege on some or all columns of {schema}.{table} "
                f"(the server refused SELECT *, error {exc.mysql_code}): an archive of the "
                "columns it may read would lack the others, and the purge would delete their "
                f"only copy; GRANT SELECT ON {name} TO the archive user"
            )
            refused.mysql_code = exc.mysql_code
            raise refused from None

    def _text_check(self, col: Column) -> TextCheck | None:
        """How the column's values are checked, row by row, to convert to UTF-8 and back
        unchanged; None if they need no check (``charsets.py``; each charset is probed once)."""
        if not may_lose_text(col):
            return None
        assert col.charset is not None
        if col.charset not in self._lost_bytes:
            rows = self.query(
                round_trip_probe_sql(col.charset), (col.charset,), "probing a character set"
            )
            maxlen, back = rows[0] if rows else (0, b"")
            self._lost_bytes[col.charset] = lost_bytes(int(maxlen or 0), back or b"")
        lost = self._lost_bytes[col.charset]
        return None if lost == b"" else TextCheck(col, lost)

    @staticmethod
    def _exported(spec: TableSpec, columns: list[Column]) -> tuple[Column, ...]:
        names = {c.name for c in columns}
        asked = set(spec.include_columns or ()) | set(spec.exclude_columns)
        unknown = sorted(asked - names)
        if unknown:
            raise SourceError(
                f"table {spec.name!r} has no column(s) {', '.join(map(repr, unknown))} "
                f"named in include/exclude_columns; columns are: {', '.join(sorted(names))}"
            )
        if spec.include_columns is not None:
            keep = set(spec.include_columns)
            return tuple(c for c in columns if c.name in keep)
        drop = set(spec.exclude_columns)
        return tuple(c for c in columns if c.name not in drop)

    def _indexes(self, schema: str, table: str) -> dict[str, list[tuple[str, bool, bool]]]:
        """index name -> [(column, unique, column nullable)] in index order."""
        rows = self._catalog(
            "SELECT s.INDEX_NAME, s.COLUMN_NAME, s.NON_UNIQUE, c.IS_NULLABLE, s.SUB_PART"
            " FROM information_schema.STATISTICS s JOIN information_schema.COLUMNS c"
            " ON c.TABLE_SCHEMA = s.TABLE_SCHEMA AND c.TABLE_NAME = s.TABLE_NAME"
            " AND c.COLUMN_NAME = s.COLUMN_NAME"
            " WHERE s.TABLE_SCHEMA = %s AND s.TABLE_NAME = %s ORDER BY s.INDEX_NAME, s.SEQ_IN_INDEX",
            (schema, table),
            "reading the table's indexes",
        )
        indexes: dict[str, list[tuple[str, bool, bool]]] = {}
        for name, col, non_unique, nullable, sub_part in rows:
            unique = int(non_unique) == 0 and sub_part is None
            indexes.setdefault(name.decode(), []).append((col.decode(), unique, nullable == b"YES"))
        return indexes

    @staticmethod
    def _key(
        spec: TableSpec,
        by_name: dict[str, Column],
        indexes: dict[str, list[tuple[str, bool, bool]]],
    ) -> tuple[tuple[Column, ...], str]:
        """The configured key (must match a unique index) or the primary key / a unique key."""
        candidates = {
            name: [c[0] for c in cols]
            for name, cols in indexes.items()
            if all(c[1] and not c[2] for c in cols)
        }
        if spec.key_columns is not None:
            missing = [c for c in spec.key_columns if c not in by_name]
            if missing:
                raise SourceError(f"key_columns {missing} are not columns of {spec.name!r}")
            match = next(
                (n for n, cols in candidates.items() if cols == list(spec.key_columns)), None
            )
            if match is None:
                reordered = [
                    n for n, cols in candidates.items() if sorted(cols) == sorted(spec.key_columns)
                ]
                order = (
                    f"; the unique index {reordered[0]!r} has them in the order "
                    f"{candidates[reordered[0]]}: list them so"
                    if reordered
                    else ""
                )
                raise NoUsableKeyError(
                    f"key_columns {list(spec.key_columns)} of {spec.name!r} are not a primary key "
                    "or a unique index on NOT NULL columns, so they cannot page the table safely"
                    + order
                )
            return tuple(by_name[c] for c in spec.key_columns), match
        name = "PRIMARY" if "PRIMARY" in candidates else next(iter(sorted(candidates)), None)
        if name is None:
            raise NoUsableKeyError(
                f"table {spec.name!r} has no primary key or unique NOT NULL index to page by; "
                "add a primary key (an AUTO_INCREMENT id is ideal) or set key_columns"
            )
        return tuple(by_name[c] for c in candidates[name]), name

    def _check_filter(self, info: TableInfo) -> None:
        """EXPLAIN the day query once so a bad ``where`` fails before anything is written."""
        try:
            self.query(
                "EXPLAIN SELECT 1 " + q.day_digest_from_where(info), ("2000-01-01", "2000-01-02")
            )
        except SourceError as exc:
            raise SourceError(
                f"the where filter of {info.name!r} is not valid SQL here: {exc}"
            ) from None

    def system_versioned(self, info: TableInfo) -> bool:
        """Whether the table is ``WITH SYSTEM VERSIONING`` (MariaDB): a DELETE there keeps each
        deleted row as history, so a purge frees no space by itself."""
        rows = self.query(
            "SELECT TABLE_TYPE FROM information_schema.TABLES"
            " WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s",
            (info.schema, info.name),
            "reading the table's type",
        )
        return bool(rows) and rows[0][0] == b"SYSTEM VERSIONED"
