"""SQL text of the verified partition drop and of whole tables (``sources/partition_sql.py``,
``sources/table_sql.py``): identifiers quoted, values as parameters, the statements that must
agree (INSERT … SELECT and DELETE of the same rows) agreeing."""

from __future__ import annotations

import dataclasses

import pytest

from dbarchive.sources import partition_sql as p
from dbarchive.sources import table_sql as t
from dbarchive.sources.canonical import Column
from dbarchive.sources.sqltext import split_placeholders
from dbarchive.sources.table import TableInfo

ODD = "ev`ents; DROP TABLE x"


def _info(name: str = ODD, ts: str = "created`at") -> TableInfo:
    key = (Column("id", "bigint", "bigint", False), Column("kind", "char", "char(1)", False))
    ts_col = Column(ts, "datetime", "datetime(6)", False)
    return TableInfo("d`b", name, (*key, ts_col), key, "PRIMARY", ts_col, "idx_ts")


def _clone() -> TableInfo:
    return dataclasses.replace(_info(), name="_dbarchive_x_ev`ents")


@pytest.mark.parametrize(
    ("method", "expression", "description", "sql", "param"),
    [
        ("RANGE COLUMNS", "`created``at`", "'2026-08-01'", "SELECT CAST(%s AS DATETIME)",
         "2026-08-01"),
        ("RANGE", "to_days(`created``at`)", "740000", "SELECT CAST(FROM_DAYS(%s) AS DATETIME)",
         "740000"),
        ("RANGE", "UNIX_TIMESTAMP(`created``at`)", "1785542400", "SELECT FROM_UNIXTIME(%s)",
         "1785542400"),
    ],
)  # fmt: skip
def test_a_bound_on_the_time_column_becomes_a_parameter(
    method: str, expression: str, description: str, sql: str, param: str
) -> None:
    """The catalog's bound text is a parameter, never pasted into the statement."""
    assert p.bound_sql(method, expression, description, "created`at") == (sql, param)


@pytest.mark.parametrize(
    ("method", "expression"),
    [
        ("RANGE COLUMNS", "`other`"),
        ("RANGE", "year(`created``at`)"),
        ("LIST", "to_days(`created``at`)"),
        ("HASH", "`created``at`"),
    ],
)
def test_other_partitionings_are_not_read(method: str, expression: str) -> None:
    """Partitioned by another column or expression: None, so the purge deletes row by row."""
    assert p.bound_sql(method, expression, "1", "created`at") is None


def test_partition_statements_quote_every_identifier() -> None:
    info, clone = _info(), _clone()
    assert p.partition_count_sql(info, "p`1") == (
        "SELECT COUNT(*) FROM `d``b`.`ev``ents; DROP TABLE x` PARTITION (`p``1`)"
    )
    assert p.exchange_partition_sql(info, "p`1", clone) == (
        "ALTER TABLE `d``b`.`ev``ents; DROP TABLE x` EXCHANGE PARTITION `p``1` "
        "WITH TABLE `d``b`.`_dbarchive_x_ev``ents`"
    )
    assert p.drop_partition_sql(info, "p`1") == (
        "ALTER TABLE `d``b`.`ev``ents; DROP TABLE x` DROP PARTITION `p``1`"
    )
    assert p.remove_partitioning_sql(clone) == (
        "ALTER TABLE `d``b`.`_dbarchive_x_ev``ents` REMOVE PARTITIONING"
    )


def test_moving_rows_back_inserts_and_deletes_the_same_rows() -> None:
    """The INSERT … SELECT and the DELETE take the first ``limit`` rows in the same key order,
    so in one transaction they move exactly the same rows."""
    insert, delete = p.move_rows_sql(_info(), _clone(), ["id", "kind", "created`at"], 500)
    tail = " ORDER BY `id`, `kind` LIMIT 500"
    assert insert == (
        "INSERT INTO `d``b`.`ev``ents; DROP TABLE x` (`id`, `kind`, `created``at`) "
        "SELECT `id`, `kind`, `created``at` FROM `d``b`.`_dbarchive_x_ev``ents`" + tail
    )
    assert delete == "DELETE FROM `d``b`.`_dbarchive_x_ev``ents`" + tail


def test_the_grants_name_the_table_the_clone_and_the_schema() -> None:
    text = p.drop_grants_sql(_info(), _clone())
    assert "GRANT ALTER, CREATE, DROP, INSERT ON `d``b`.`ev``ents; DROP TABLE x` TO" in text
    assert "ON `d``b`.`_dbarchive_x_ev``ents` TO" in text
    assert "GRANT LOCK TABLES ON `d``b`.* TO" in text


def test_table_statements_quote_every_identifier() -> None:
    info = _info()
    assert t.count_sql(info) == "SELECT COUNT(*) FROM `d``b`.`ev``ents; DROP TABLE x`"
    assert t.time_range_sql(info) == (
        "SELECT MIN(`created``at`), MAX(`created``at`) FROM `d``b`.`ev``ents; DROP TABLE x`"
    )
    assert t.create_like_sql("d`b", "new`t", ODD) == (
        "CREATE TABLE `d``b`.`new``t` LIKE `d``b`.`ev``ents; DROP TABLE x`"
    )
    assert t.drop_table_sql("d`b", "new`t") == "DROP TABLE IF EXISTS `d``b`.`new``t`"
    assert t.lock_tables_sql([info, _clone()]) == (
        "LOCK TABLES `d``b`.`ev``ents; DROP TABLE x` WRITE, `d``b`.`_dbarchive_x_ev``ents` WRITE"
    )


def test_catalog_questions_take_the_names_as_parameters() -> None:
    """information_schema is asked with ``%s`` for schema and table; the generated-column
    filter's ``%`` is text (``sqltext`` escapes it for the driver), not a placeholder."""
    for sql in (t.TABLE_EXISTS, t.STORED_COLUMNS, p.PARTITIONS):
        assert len(split_placeholders(sql)) == 3
        assert "TABLE_SCHEMA = %s AND TABLE_NAME = %s" in sql
    assert "NOT LIKE '%VIRTUAL GENERATED%'" in t.STORED_COLUMNS


def test_a_lock_wait_timeout_is_always_a_number() -> None:
    assert t.set_lock_wait_timeout_sql(7) == "SET SESSION lock_wait_timeout = 7"
    with pytest.raises(ValueError, match="invalid literal"):
        t.set_lock_wait_timeout_sql("3; DROP TABLE x")  # type: ignore[arg-type]
