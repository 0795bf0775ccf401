"""SQL text for chunks: identifiers always quoted, values always parameters, no OFFSET."""

from __future__ import annotations

from dbarchive.sources import mysql_sql as q
from dbarchive.sources.canonical import Column, canonical_expression, quote_identifier
from dbarchive.sources.table import TableInfo


def _col(name: str, t: str = "bigint") -> Column:
    return Column(name, t, t, False)


def _info(name: str = "logs`; DROP TABLE x", key: tuple[Column, ...] | None = None) -> TableInfo:
    key = key or (_col("id"),)
    ts = _col("created_at", "datetime")
    return TableInfo(
        "db", name, (*key, ts, _col("odd `col", "varchar")), key, "PRIMARY", ts, "idx_ts"
    )


def test_identifiers_are_backtick_quoted_with_backticks_doubled() -> None:
    """A table named ``logs`; DROP TABLE x`` stays one identifier."""
    assert quote_identifier("logs`; DROP TABLE x") == "`logs``; DROP TABLE x`"
    sql = q.key_chunk_sql(_info(), q.select_shape(_info()), True, 100)
    assert "`db`.`logs``; DROP TABLE x`" in sql
    assert "`created_at`, `odd ``col` FROM" in sql
    digest_sql = q.hash_shape(_info()).sql_list
    assert "CONVERT(`odd ``col` USING utf8mb4)" in digest_sql


def test_key_chunk_is_a_bounded_keyset_query() -> None:
    """Key chunks page by key with LIMIT, keep the day as a guard, and never use OFFSET."""
    sql = q.key_chunk_sql(_info("events"), q.select_shape(_info("events")), False, 5000)
    assert "`id` > %s AND `id` <= %s AND `created_at` >= %s AND `created_at` < %s" in sql
    assert sql.endswith("ORDER BY `id` LIMIT 5000")
    assert "OFFSET" not in sql.upper()
    assert "FORCE INDEX (`PRIMARY`)" in sql


def test_composite_keyset_expansion() -> None:
    """(a, b, c) > (x, y, z) expands so each level can use the index."""
    cols = [_col("a"), _col("b"), _col("c")]
    assert (
        q.keyset_after(cols) == "(`a` > %s OR (`a` = %s AND (`b` > %s OR (`b` = %s AND `c` > %s))))"
    )
    assert q.keyset_params([1, 2, 3]) == [1, 1, 2, 2, 3]


def test_time_chunk_orders_by_time_then_key() -> None:
    """The time strategy walks the time index in (ts, pk) order."""
    info = _info("events")
    sql = q.time_chunk_sql(info, q.select_shape(info), False, 10)
    assert "FORCE INDEX (`idx_ts`)" in sql
    assert "ORDER BY `created_at`, `id` LIMIT 10" in sql
    assert "(`created_at` > %s OR (`created_at` = %s AND `id` > %s))" in sql


def test_excluded_key_column_is_fetched_but_not_exported() -> None:
    """Paging columns not exported are appended after the exported width."""
    ts = _col("created_at", "datetime")
    info = TableInfo("db", "t", (_col("v", "varchar"),), (_col("id"),), "PRIMARY", ts, "i")
    shape = q.select_shape(info)
    assert shape.width == 1
    assert shape.key_positions == (1,)
    assert shape.ts_position == 2


def test_canonical_expressions_per_type() -> None:
    """Binary is hex, FLOAT is widened to DOUBLE, BIT is an integer, text is utf8mb4."""
    assert canonical_expression(_col("b", "varbinary")) == "HEX(`b`)"
    assert canonical_expression(_col("f", "float")) == "CAST(`f` AS DOUBLE)"
    assert canonical_expression(_col("x", "bit")) == "CAST(`x` AS UNSIGNED)"
    assert canonical_expression(_col("j", "json")) == "CONVERT(`j` USING utf8mb4)"
    assert canonical_expression(_col("d", "decimal")) == "`d`"
