"""Pure SQL text for reading a day in keyset chunks; every identifier quoted, values as %s.

Two strategies (see ``ScanPlan``):

- **key**: the day's smallest and largest key come from the time index (one index-only
  statement), then the rows are read in primary-key order, ``WHERE k > last AND k <= high AND
  ts in day ORDER BY k LIMIT n``. The time predicate stays as a guard, so rows of other days
  inside the key range are skipped, never exported. Measured ~2.3x faster and a third of the
  server CPU of walking the secondary index, where keys grow with time.
- **time**: ``ORDER BY ts, pk`` through the time index, the keyset being ``(ts, pk) > last``.
  Safe for any key order; used when keys do not follow time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from dbarchive.sources.canonical import (
    Column,
    canonical_expression,
    netstring_expression,
    quote_identifier,
    transfer_expression,
)
from dbarchive.sources.table import TableInfo

# Every session (the driver's and the C reader's) compares and prints TIMESTAMP in UTC.
SESSION_SETUP = "SET SESSION time_zone = '+00:00'"


@dataclass(frozen=True)
class SelectShape:
    """The select list of a chunk query and where the paging columns sit in each row."""

    sql_list: str
    width: int  # exported columns; anything after them is a helper column to strip
    key_positions: tuple[int, ...]
    ts_position: int


def select_shape(info: TableInfo) -> SelectShape:
    """Exported columns as transfer expressions, plus key/ts columns if not exported."""
    names = [c.name for c in info.columns]
    exprs = [transfer_expression(c) for c in info.columns]
    extra: list[Column] = [c for c in (*info.key, info.ts) if c.name not in names]
    seen: set[str] = set()
    for col in extra:
        if col.name not in seen:
            seen.add(col.name)
            names.append(col.name)
            exprs.append(transfer_expression(col))
    return SelectShape(
        ", ".join(exprs),
        len(info.columns),
        tuple(names.index(c.name) for c in info.key),
        names.index(info.ts.name),
    )


def hash_shape(info: TableInfo) -> SelectShape:
    """Per-row SHA-256 (hex) of the exported columns, then the key and ts columns.

    Verify and purge read this instead of the values: 64 bytes per row, hashed by the server over
    the same canonical netstring the exporter hashed.
    """
    paging: list[Column] = []
    for col in (*info.key, info.ts):
        if col.name not in {c.name for c in paging}:
            paging.append(col)
    names = [c.name for c in paging]
    exprs = [f"SHA2({netstring_expression(list(info.columns))}, 256)"]
    exprs += [canonical_expression(c) for c in paging]
    return SelectShape(
        ", ".join(exprs),
        1,
        tuple(1 + names.index(c.name) for c in info.key),
        1 + names.index(info.ts.name),
    )


def filter_clause(where: str | None) -> str:
    """`` AND (<where>)`` for a statement sent with ``%s`` parameters: the filter's own ``%``
    (``LIKE 'x%'``) is doubled so the driver's formatting leaves it as it was written."""
    return f" AND ({where.replace('%', '%%')})" if where else ""


def _filter(info: TableInfo) -> str:
    return filter_clause(info.where)


def _day(info: TableInfo) -> str:
    ts = quote_identifier(info.ts.name)
    return f"{ts} >= %s AND {ts} < %s"


def keyset_after(columns: Sequence[Column]) -> str:
    """``(c1, c2, …) > (%s, %s, …)`` spelled so that every MySQL version uses the index.

    Parameters come in the order of :func:`keyset_params`.
    """
    first = quote_identifier(columns[0].name)
    if len(columns) == 1:
        return f"{first} > %s"
    return f"({first} > %s OR ({first} = %s AND {keyset_after(columns[1:])}))"


def keyset_params(values: Sequence[object]) -> list[object]:
    """Parameters for :func:`keyset_after`: each value but the last appears twice."""
    params: list[object] = []
    for v in values[:-1]:
        params += [v, v]
    params.append(values[-1])
    return params


def key_bounds_sql(info: TableInfo) -> str:
    """Count and min/max key of the day, read from the time index alone (no row lookups)."""
    k = quote_identifier(info.key[0].name)
    index = f" FORCE INDEX ({quote_identifier(info.ts_index)})" if info.ts_index else ""
    return f"SELECT COUNT(*), MIN({k}), MAX({k}) FROM {info.qualified}{index} WHERE {_day(info)}"


def key_chunk_sql(info: TableInfo, shape: SelectShape, first: bool, limit: int) -> str:
    """One chunk of the key strategy; params: last (or low) key, high key, day start, day end."""
    k = quote_identifier(info.key[0].name)
    op = ">=" if first else ">"
    return (
        f"SELECT {shape.sql_list} FROM {info.qualified} FORCE INDEX "
        f"({quote_identifier(info.key_index)}) WHERE {k} {op} %s AND {k} <= %s AND "
        f"{_day(info)}{_filter(info)} ORDER BY {k} LIMIT {int(limit)}"
    )


def time_chunk_sql(info: TableInfo, shape: SelectShape, first: bool, limit: int) -> str:
    """One chunk of the time strategy; params: day start, day end, then ts and keyset params."""
    ts = quote_identifier(info.ts.name)
    order = ", ".join([ts, *(quote_identifier(c.name) for c in info.key)])
    after = "" if first else f" AND {keyset_after((info.ts, *info.key))}"
    index = f" FORCE INDEX ({quote_identifier(info.ts_index)})" if info.ts_index else ""
    return (
        f"SELECT {shape.sql_list} FROM {info.qualified}{index} WHERE {_day(info)}{after}"
        f"{_filter(info)} ORDER BY {order} LIMIT {int(limit)}"
    )


def delete_keys_sql(info: TableInfo, count: int) -> str:
    """Delete exactly these keys (``count`` of them), and only inside the day and the filter.

    Params: the key values (flattened, one tuple per row), then day start and end.
    """
    if len(info.key) == 1:
        target = quote_identifier(info.key[0].name)
        marks = ", ".join(["%s"] * count)
    else:
        target = "(" + ", ".join(quote_identifier(c.name) for c in info.key) + ")"
        one = "(" + ", ".join(["%s"] * len(info.key)) + ")"
        marks = ", ".join([one] * count)
    return (
        f"DELETE FROM {info.qualified} WHERE {target} IN ({marks}) AND {_day(info)}{_filter(info)}"
    )


def delete_key_range_sql(info: TableInfo) -> str:
    """Delete the day's rows of one key range (single-column key); params: low, high, start, end.

    The purge uses it for a chunk whose every locked row matched the archive: one range instead
    of a list of thousands of keys. The caller checks the affected count.
    """
    k = quote_identifier(info.key[0].name)
    return (
        f"DELETE FROM {info.qualified} WHERE {k} >= %s AND {k} <= %s AND {_day(info)}"
        f"{_filter(info)}"
    )


def day_count_sql(info: TableInfo) -> str:
    """Rows of the day (with the table's filter), for plans and the time strategy."""
    index = f" FORCE INDEX ({quote_identifier(info.ts_index)})" if info.ts_index else ""
    return f"SELECT COUNT(*) FROM {info.qualified}{index} WHERE {_day(info)}{_filter(info)}"


def day_digest_from_where(info: TableInfo) -> str:
    """``FROM … WHERE …`` of the day's rows, for the SQL row digest (params: start, end)."""
    return f"FROM {info.qualified} WHERE {_day(info)}{_filter(info)}"


def table_stats_sql() -> str:
    """The table's average row length from the server's statistics (params: schema, table)."""
    return (
        "SELECT AVG_ROW_LENGTH FROM information_schema.TABLES"
        " WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s"
    )
