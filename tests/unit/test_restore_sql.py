"""SQL text of the restore (``sources/restore_sql.py``): the table made for archived columns,
and the multi-row INSERT that turns canonical text back into values."""

from __future__ import annotations

import pytest

from dbarchive.errors import VerificationError
from dbarchive.manifest import ColumnEntry
from dbarchive.sources import restore_sql as r
from dbarchive.sources.canonical import Column
from dbarchive.sources.sqltext import split_placeholders
from dbarchive.sources.table import TableInfo


def _info(generated: bool = False) -> TableInfo:
    cols = (
        Column("id", "bigint", "bigint", False),
        Column("created_at", "datetime", "datetime(6)", False),
        Column("pay`load", "blob", "blob", True),
        Column("flags", "bit", "bit(3)", True),
        Column("total", "int", "int", True, generated="STORED" if generated else None),
    )
    return TableInfo("db", "t`x", cols, cols[:1], "PRIMARY", cols[1], "idx")


TYPES = ("bigint", "datetime(6)", "blob", "bit(3)", "int")


def test_a_table_for_archived_columns_keeps_types_charsets_and_key() -> None:
    columns = [
        ColumnEntry("id", "bigint unsigned", False),
        ColumnEntry("note`x", "varchar(20)", True, "latin1", "latin1_german1_ci"),
        ColumnEntry("created_at", "datetime(6)", False),
    ]
    sql = r.create_table_sql("`db`.`t``x`", columns, ["id"], "created_at")
    assert sql == (
        "CREATE TABLE `db`.`t``x` (`id` bigint unsigned NOT NULL, `note``x` varchar(20) "
        "CHARACTER SET latin1 COLLATE latin1_german1_ci, `created_at` datetime(6) NOT NULL, "
        "PRIMARY KEY (`id`), KEY (`created_at`)) DEFAULT CHARSET=utf8mb4"
    )


def test_a_damaged_charset_name_is_refused_not_pasted() -> None:
    """A charset name stands unquoted in SQL: anything but a name means a damaged manifest."""
    columns = [ColumnEntry("note", "text", True, "utf8mb4; DROP TABLE x", None)]
    with pytest.raises(VerificationError, match="manifest is damaged"):
        r.create_table_sql("`db`.`t`", columns, ["id"], "created_at")


@pytest.mark.parametrize(
    ("mysql_type", "wrapper"),
    [
        ("varbinary(16)", "UNHEX(%s)"),
        ("longblob", "UNHEX(%s)"),
        ("geometry", "UNHEX(%s)"),
        ("bit(64)", "CAST(%s AS UNSIGNED)"),
        ("BIT(1)", "CAST(%s AS UNSIGNED)"),
        ("decimal(10,4)", "%s"),
        ("varchar(10)", "%s"),
        ("datetime(6)", "%s"),
    ],
)
def test_each_value_is_turned_back_from_its_canonical_text(mysql_type: str, wrapper: str) -> None:
    assert r.value_wrapper(mysql_type) == wrapper


def test_rows_become_one_statement_with_a_parameter_per_value() -> None:
    """A NULL is the literal NULL (no parameter); binary comes back through UNHEX, BIT through
    CAST; an existing key is skipped by a no-op update of the key."""
    statement = r.insert_statement(_info(), TYPES, ("id",), False)
    sql, params = statement.render(
        [[b"1", b"2026-01-01 00:00:00.000000", b"00FF", b"5", b"7"], [b"2", b"x", None, None, None]]
    )
    assert sql == (
        "INSERT INTO `db`.`t``x` (`id`, `created_at`, `pay``load`, `flags`, `total`) VALUES "
        "(%s, %s, UNHEX(%s), CAST(%s AS UNSIGNED), %s), (%s, %s, NULL, NULL, NULL) "
        "ON DUPLICATE KEY UPDATE `id` = `id`"
    )
    assert params == [b"1", b"2026-01-01 00:00:00.000000", b"00FF", b"5", b"7", b"2", b"x"]
    assert len(split_placeholders(sql)) - 1 == len(params)


def test_generated_columns_are_left_to_the_server() -> None:
    statement = r.insert_statement(_info(generated=True), TYPES, ("id",), True)
    sql, params = statement.render([[b"1", b"t", b"AB", b"1", b"99"]])
    assert "`total`" not in sql.split(" VALUES ")[0]
    assert params == [b"1", b"t", b"AB", b"1"]
    same = "CAST(`id` AS BINARY) <=> CAST(VALUES(`id`) AS BINARY)"  # only the archive's key
    assert sql.endswith(
        f" ON DUPLICATE KEY UPDATE `created_at` = IF({same}, VALUES(`created_at`), `created_at`), "
        f"`pay``load` = IF({same}, VALUES(`pay``load`), `pay``load`), "
        f"`flags` = IF({same}, VALUES(`flags`), `flags`)"
    )


def test_replace_of_a_table_that_is_all_key_is_a_no_op_update() -> None:
    cols = (Column("id", "bigint", "bigint", False), Column("ts", "date", "date", False))
    info = TableInfo("db", "k", cols, cols, "PRIMARY", cols[1], "PRIMARY")
    statement = r.insert_statement(info, ("bigint", "date"), ("id", "ts"), True)
    assert statement.tail == " ON DUPLICATE KEY UPDATE `id` = `id`"


@pytest.mark.parametrize(
    ("message", "index"),
    [
        ("MySQL error while restoring rows: Duplicate entry 'a5@x' for key 'uq_email'", "uq_email"),
        ("Duplicate entry 'x' for key 'uq.uq_email'", "uq.uq_email"),  # MySQL 8 names the table
        ("Duplicate entry 'for key 'v'' for key 'PRIMARY'", "PRIMARY"),  # the value's words apart
        ("Duplicate entry '5' for key 1", None),  # old servers give a number: no name
        ("Duplicate entry 'a' for key 'uq 'mail'", "uq 'mail"),  # a quote in the name (trial)
    ],
)
def test_a_duplicate_entry_names_its_index_not_its_value(message: str, index: str | None) -> None:
    """The restore names the unique index a left row clashed on, never the row's value."""
    assert r.clashing_index(message) == index
