"""``--where`` of ``dbarchive erase``: the closed grammar, its refusals, and matching on the
archive's canonical text."""

from __future__ import annotations

from decimal import Decimal

import pytest

from dbarchive.errors import ConfigError
from dbarchive.row_filter import parse_where


def test_conditions_joined_by_and_with_numbers_strings_and_quoted_names() -> None:
    where = parse_where("customer_id = 42 and `odd name` IN ('a', 'it''s') AND x = -1.50")
    assert [(c.column, c.values) for c in where.conditions] == [
        ("customer_id", (Decimal(42),)),
        ("odd name", ("a", "it's")),
        ("x", (Decimal("-1.50"),)),
    ]


@pytest.mark.parametrize(
    "text",
    [
        "",
        "customer_id",
        "customer_id = ",
        "customer_id > 42",
        "customer_id = 42 OR customer_id = 43",
        "customer_id = 42; DROP TABLE t",
        "customer_id IN (1, 2",
        "customer_id = other_column",
        'customer_id = "42"',
    ],
)
def test_anything_outside_the_grammar_is_refused_with_the_grammar(text: str) -> None:
    with pytest.raises(ConfigError, match="write it as: column = 42"):
        parse_where(text)


def test_numbers_match_as_numbers_text_exactly_and_null_never() -> None:
    bound = parse_where("amount = 42 AND note IN ('Ab', '')").bind(["id", "amount", "note"])
    assert bound.matches([b"1", b"42.0000", b"Ab"])
    assert bound.matches([b"1", b"42", b""])
    assert not bound.matches([b"1", b"42", b"ab"])  # exact text, whatever the collation
    assert not bound.matches([b"1", b"420", b"Ab"])
    assert not bound.matches([b"1", None, b"Ab"])
    assert not bound.matches([b"1", b"forty-two", b"Ab"])


def test_a_column_the_archive_lacks_is_named() -> None:
    with pytest.raises(ConfigError, match=r"column 'customer', .* its columns: id, amount"):
        parse_where("customer = 1").bind(["id", "amount"])
