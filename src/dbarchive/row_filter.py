"""The rows an erasure request names (``dbarchive erase --where``), matched on archived values.

An erasure rewrites archive files, so its predicate is evaluated by dbarchive itself, over the
canonical text every format reads back — never handed to a SQL engine as text. It is a small,
closed grammar: conditions joined by ``AND``, each ``column = literal`` or
``column IN (literal, …)``; a column is a bare name or a back-quoted one; a literal is a number
(compared as a number: ``42`` matches ``42.00``) or a single-quoted string (compared as the exact
text; ``''`` is a quote). NULL matches nothing. Anything else is refused with the grammar.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from dbarchive.checksum import Value
from dbarchive.errors import ConfigError

_TOKEN = re.compile(
    r"\s*(?:(?P<num>-?\d+(?:\.\d+)?)|'(?P<str>(?:[^']|'')*)'|`(?P<quoted>(?:[^`]|``)+)`"
    r"|(?P<word>[A-Za-z_][A-Za-z0-9_$]*)|(?P<punct>[=(),]))"
)
GRAMMAR = "column = 42 AND other IN ('a', 'b'): '=' or IN, joined by AND"


@dataclass(frozen=True)
class Condition:
    """``column`` equals one of ``values`` (numbers compared as numbers)."""

    column: str
    values: tuple[str | Decimal, ...]

    def matches(self, value: Value) -> bool:
        if value is None:
            return False
        text = value.decode("utf-8", "surrogateescape") if isinstance(value, bytes) else value
        for wanted in self.values:
            if isinstance(wanted, Decimal):
                if _number(text) == wanted:
                    return True
            elif text == wanted:
                return True
        return False


@dataclass(frozen=True)
class RowFilter:
    """A parsed ``--where``; :meth:`bind` it to a file's columns to match rows."""

    text: str
    conditions: tuple[Condition, ...]

    def bind(self, columns: Sequence[str]) -> BoundFilter:
        """The filter over rows of these columns; ConfigError names a column they lack."""
        positions = []
        for condition in self.conditions:
            if condition.column not in columns:
                raise ConfigError(
                    f"--where names column {condition.column!r}, which the archive does not "
                    f"have; its columns: {', '.join(columns)}"
                )
            positions.append(columns.index(condition.column))
        return BoundFilter(self, tuple(positions))

    def iceberg_expression(self) -> Any:
        """The same predicate for a pyiceberg scan (to prove a table holds no such row)."""
        from pyiceberg import expressions

        # pyiceberg's predicates are pydantic models whose positional constructors type
        # checkers read differently from version to version: called untyped
        equal: Any = expressions.EqualTo
        among: Any = expressions.In
        parts = [
            equal(c.column, _plain(c.values[0]))
            if len(c.values) == 1
            else among(c.column, {_plain(v) for v in c.values})
            for c in self.conditions
        ]
        return parts[0] if len(parts) == 1 else expressions.And(*parts)


@dataclass(frozen=True)
class BoundFilter:
    """A filter bound to column positions."""

    filter: RowFilter
    positions: tuple[int, ...]

    def matches(self, row: Sequence[Value]) -> bool:
        return all(
            c.matches(row[i]) for c, i in zip(self.filter.conditions, self.positions, strict=True)
        )


def parse_where(text: str) -> RowFilter:
    """Parse ``text``; ConfigError (changing nothing) when it is not in the grammar."""
    tokens = _tokens(text)
    conditions = []
    while True:
        conditions.append(_condition(tokens, text))
        if not tokens:
            return RowFilter(text, tuple(conditions))
        kind, value = tokens.pop(0)
        if (kind, value.upper()) != ("word", "AND"):
            raise _refusal(text, f"expected AND, found {value!r}")


def _condition(tokens: list[tuple[str, str]], text: str) -> Condition:
    if not tokens or tokens[0][0] not in ("word", "quoted"):
        raise _refusal(text, "expected a column name")
    column = tokens.pop(0)[1]
    if not tokens:
        raise _refusal(text, f"expected = or IN after {column!r}")
    kind, value = tokens.pop(0)
    if (kind, value) == ("punct", "="):
        return Condition(column, (_literal(tokens, text),))
    if (kind, value.upper()) != ("word", "IN") or not _take(tokens, "("):
        raise _refusal(text, f"expected = or IN (…) after {column!r}")
    values = [_literal(tokens, text)]
    while _take(tokens, ","):
        values.append(_literal(tokens, text))
    if not _take(tokens, ")"):
        raise _refusal(text, "expected ) after the IN list")
    return Condition(column, tuple(values))


def _take(tokens: list[tuple[str, str]], punct: str) -> bool:
    """Consume the next token if it is ``punct``."""
    if tokens and tokens[0] == ("punct", punct):
        tokens.pop(0)
        return True
    return False


def _literal(tokens: list[tuple[str, str]], text: str) -> str | Decimal:
    if not tokens or tokens[0][0] not in ("num", "str"):
        raise _refusal(text, "expected a number or a 'quoted string'")
    kind, value = tokens.pop(0)
    return Decimal(value) if kind == "num" else value


def _tokens(text: str) -> list[tuple[str, str]]:
    tokens, at = [], 0
    while at < len(text.rstrip()):
        found = _TOKEN.match(text, at)
        if found is None or found.end() == at:
            raise _refusal(text, f"cannot read {text[at:].strip()[:20]!r}")
        kind = found.lastgroup or ""
        value = found.group(kind)
        if kind == "str":
            value = value.replace("''", "'")
        elif kind == "quoted":
            value = value.replace("``", "`")
        tokens.append((kind, value))
        at = found.end()
    if not tokens:
        raise _refusal(text, "it is empty")
    return tokens


def _number(text: str) -> Decimal | None:
    try:
        return Decimal(text)
    except InvalidOperation:
        return None


def _plain(value: str | Decimal) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else value
    return value


def _refusal(text: str, why: str) -> ConfigError:
    return ConfigError(f"--where {text!r}: {why}; write it as: {GRAMMAR}")
