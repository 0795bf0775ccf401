"""Plain SQL → the driver's ``%`` template: only placeholders outside quotes stay ``%s``."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dbarchive.sources.sqltext import (
    PlaceholderCountError,
    bind,
    driver_template,
    split_placeholders,
)


def _format(sql: str, params: list[object]) -> str:
    """What MySQLdb does with the template (its literals are bytes; text is enough here)."""
    return driver_template(sql, params) % tuple(repr(p) for p in params)


@pytest.mark.parametrize(
    "name", ["100%", "%s", "%%", "{}", "%(x)s", "a`b%s", "it's %d", 'say "%s"', "ünï %"]
)
def test_identifiers_come_back_from_the_driver_as_written(name: str) -> None:
    quoted = "`" + name.replace("`", "``") + "`"
    sql = f"SELECT {quoted} FROM t WHERE {quoted} > %s AND k = %s"
    assert _format(sql, [1, "x"]) == f"SELECT {quoted} FROM t WHERE {quoted} > 1 AND k = 'x'"


def test_strings_comments_and_operators_keep_their_percent_signs() -> None:
    sql = (
        "SELECT DATE_FORMAT(d, '%Y-%m-%s'), \"%s\", 'it''s %s', 'a\\'%s' -- 100%s\n"
        "FROM t /* %s */ WHERE n % 2 = %s # %s"
    )
    assert _format(sql, [0]) == sql.replace("= %s #", "= 0 #")


def test_placeholders_must_match_the_values() -> None:
    with pytest.raises(PlaceholderCountError, match="2 placeholders for 1 values"):
        driver_template("a = %s AND `%s` = %s", [1])
    with pytest.raises(PlaceholderCountError, match="1 placeholders for 0 values"):
        bind("a = %s", [], str)


def test_bind_shows_the_statement_with_its_values() -> None:
    assert bind("`%s` = %s AND b LIKE '%s%'", [7], str) == "`%s` = 7 AND b LIKE '%s%'"


@given(st.text(alphabet="`'\"%s-#/* \n\\x", max_size=40))
def test_the_fast_escape_agrees_with_the_tokens(sql: str) -> None:
    """Escaping the text between quoted tokens with str.replace gives exactly what splitting
    at every placeholder token and doubling the rest gives."""
    pieces = split_placeholders(sql)
    expected = "%s".join(p.replace("%", "%%") for p in pieces)
    assert driver_template(sql, [0] * (len(pieces) - 1)) == expected
