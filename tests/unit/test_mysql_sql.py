"""SQL text for chunks: identifiers always quoted, values always parameters, no OFFSET."""

from __future__ import annotations

import dataclasses

import pytest

from dbarchive.sources import mysql_sql as q
from dbarchive.sources.canonical import Column, canonical_expression, quote_identifier
from dbarchive.sources.charsets import lost_bytes, may_lose_text, round_trip_probe_sql
from dbarchive.sources.mysql_catalog import fixed_default
from dbarchive.sources.table import TableInfo, TextCheck
from dbarchive.steps.archived_columns import restorable_condition


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


def test_text_that_may_not_convert_is_checked_in_the_same_statement() -> None:
    """A table with non-UTF-8 text to check: both the export's and the hash shape's select list
    end with one column, NULL unless a value does not convert to utf8mb4 and back — found by a
    byte search where the charset loses only those bytes, else by converting there and back."""
    ru = Column("r`u", "varchar", "varchar(10)", True, "cp1251", "cp1251_general_ci")
    sj = Column("sj", "text", "text", True, "sjis", "sjis_japanese_ci")
    plain = _info("events")
    checks = (TextCheck(ru, b"\x98\x00"), TextCheck(sj, None))
    info = dataclasses.replace(plain, columns=(*plain.columns, ru, sj), checked_text=checks)
    search = (
        "LOCATE(X'98', CAST(`r``u` AS BINARY)) > 0 OR LOCATE(X'00', CAST(`r``u` AS BINARY)) > 0"
    )
    back = "CAST(CONVERT(CONVERT(`sj` USING utf8mb4) USING sjis) AS BINARY)"
    guard = f"CASE WHEN {search} THEN 0 WHEN NOT ({back} <=> CAST(`sj` AS BINARY)) THEN 1 END"
    for shape in (q.select_shape(info), q.hash_shape(info)):
        assert shape.sql_list.endswith(", " + guard)
    assert q.select_shape(info).guard_position == 5  # id, created_at, odd `col, r`u, sj, guard
    assert q.hash_shape(info).guard_position == 3  # SHA2(…), id, created_at, guard
    assert q.select_shape(plain).guard_position is None
    assert "CASE" not in q.hash_shape(plain).sql_list


def test_which_columns_may_lose_text_and_how_they_are_checked() -> None:
    """Only text in a charset other than UTF-8 can lose characters on its way to utf8mb4; the
    server's round trip of the 256 bytes says which are lost (latin1: none)."""

    def col(t: str, charset: str | None) -> Column:
        return Column("c", t, t, True, charset)

    assert may_lose_text(col("varchar", "cp1251")) and may_lose_text(col("enum", "latin1"))
    assert not may_lose_text(col("varchar", "utf8mb4")) and not may_lose_text(
        col("text", "utf8mb3")
    )
    assert not may_lose_text(col("int", None)) and not may_lose_text(col("varbinary", None))
    every = bytes(range(256))
    assert lost_bytes(1, every) == b""
    assert lost_bytes(1, every.replace(b"\x98", b"?")) == b"\x98"
    assert lost_bytes(1, every[:128] + b"?" * 128) is None  # ascii: too many to search for
    assert lost_bytes(2, every) is None  # multi-byte: convert there and back
    assert "X'000102" in round_trip_probe_sql("cp1251")
    with pytest.raises(ValueError, match="not a charset name"):
        round_trip_probe_sql("latin1) --")


def test_rows_with_no_day_are_found_in_index_ranges() -> None:
    """NULL (if the column allows it), before 0001-01-01, and the gap before each month's first
    instant, where MySQL sorts 2026-11-00, 2026-00-05 and 2026-02-31."""
    months = [(1, 1), (1, 2), (1, 3)]  # January of year 1 has no gap before it
    nullable = TableInfo(
        "db", "t", (), (_col("id"),), "PRIMARY", Column("ts", "date", "date", True), "ix"
    )
    where, params = q.no_day_sql(nullable, months)
    assert where == (
        "WHERE `ts` IS NULL OR `ts` < %s OR (`ts` > %s AND `ts` < %s) OR (`ts` > %s AND `ts` < %s)"
    )
    assert params == [
        "0001-01-01 00:00:00",
        "0001-01-31 23:59:59.999999", "0001-02-01 00:00:00",
        "0001-02-28 23:59:59.999999", "0001-03-01 00:00:00",
    ]  # fmt: skip
    stamp = TableInfo("db", "t", (), (_col("id"),), "PRIMARY", _col("ts", "timestamp"), "ix")
    assert q.no_day_sql(stamp, months) == ("WHERE `ts` < %s", ["0001-01-01 00:00:00"])


def test_a_day_holds_only_real_dates_unless_archived_otherwise() -> None:
    """DATE/DATETIME days leave zero and invalid dates out; TIMESTAMP has none in a window; an
    archive made before the rule (``odd_times_in_days``) is read as it was made."""
    info = _info("events")
    assert q.day_predicate(info) == (
        "`created_at` >= %s AND `created_at` < %s AND MONTH(`created_at`) <> 0 AND "
        "DAYOFMONTH(`created_at`) <> 0 AND (DAYOFMONTH(`created_at`) < 29 OR "
        "DAYOFMONTH(`created_at`) <= DAYOFMONTH(LAST_DAY(`created_at`)))"
    )
    earlier = dataclasses.replace(info, odd_times_in_days=True)
    assert q.day_predicate(earlier) == "`created_at` >= %s AND `created_at` < %s"
    stamp = dataclasses.replace(info, ts=_col("created_at", "timestamp"))
    assert q.day_predicate(stamp) == "`created_at` >= %s AND `created_at` < %s"


@pytest.mark.parametrize(
    ("nullable", "default", "extra", "fixed"),
    [
        (True, None, b"", True),  # no DEFAULT clause on a nullable column: NULL
        (False, None, b"", False),  # NOT NULL without a default: an INSERT without it fails
        (False, b"0", b"", True),
        (False, b"'web'", b"", True),  # MariaDB quotes a string literal
        (False, b"web", b"", True),  # MySQL prints it bare
        (True, b"NULL", b"", True),  # MariaDB's explicit DEFAULT NULL
        (True, b"current_timestamp()", b"", False),  # MariaDB prints an expression as text
        (True, b"CURRENT_TIMESTAMP", b"DEFAULT_GENERATED", False),  # MySQL 8 marks it
        (True, b"CURRENT_TIMESTAMP", b"on update CURRENT_TIMESTAMP", False),  # MySQL 5.7
        (True, b"uuid()", b"", False),
        (False, None, b"auto_increment", False),
    ],
)
def test_which_columns_an_insert_without_them_gives_one_fixed_value(
    nullable: bool, default: bytes | None, extra: bytes, fixed: bool
) -> None:
    """Only then can a row archived without the column be given back whole by a restore."""
    assert fixed_default(nullable, default, extra) is fixed


def test_a_row_whose_added_columns_are_not_their_defaults_hashes_as_held() -> None:
    """``held_unless`` guards the row's hash; each added column compared with DEFAULT(col) (an
    expression default makes every row held; a generated column follows the others)."""
    info = _info("events")
    added = (
        dataclasses.replace(_col("chan`nel", "varchar"), nullable=True),
        dataclasses.replace(_col("total"), generated="STORED"),
    )
    wide = dataclasses.replace(info, columns=(*info.columns, *added))
    condition = restorable_condition(wide, ("chan`nel", "total"))
    assert condition == "`chan``nel` <=> DEFAULT(`chan``nel`)"
    expression = dataclasses.replace(added[0], fixed_default=False)
    assert (
        restorable_condition(
            dataclasses.replace(info, columns=(*info.columns, expression)), ("chan`nel",)
        )
        == "FALSE"
    )
    assert restorable_condition(info, ()) is None
    guarded = q.hash_shape(dataclasses.replace(info, held_unless=condition)).sql_list
    plain = q.hash_shape(info).sql_list
    digest, paging = plain.split("256), ", 1)
    assert guarded == f"IF({condition}, {digest}256), '{q.HELD}'), {paging}"
