"""Key columns MySQL orders by a number it does not show: ENUM, SET and BIT.

The archive holds an ENUM or SET as its text and a BIT as its decimal value, but the server sorts
an ENUM by its member number (the order of the definition), a SET by its bit mask, and compares
either with a *string* as text. A keyset statement ``k > 'refund'`` after ``ORDER BY k`` then skips
or repeats rows (an outside trial: 5,000 of 20,000 rows missing, verify OK, as its own read paged
the same way). Compared with a *number*, an ENUM compares its member number and a SET its mask —
the sort order — so a key value of these types goes to the server as that number.

The members come from ``COLUMN_TYPE`` (``enum('a','it''s')``), which the server prints as string
literals: ``''`` and backslash escapes are undone as MySQL reads a literal.
"""

from __future__ import annotations

from typing import Any

from dbarchive.errors import SourceError

_ESCAPES = {"0": "\0", "b": "\b", "n": "\n", "r": "\r", "t": "\t", "Z": "\x1a"}


def members(column_type: str) -> tuple[str, ...]:
    """The members of ``enum('…',…)`` / ``set('…',…)``, in definition order."""
    body = column_type[column_type.index("(") + 1 : column_type.rindex(")")]
    out: list[str] = []
    i = 0
    while i < len(body):
        if body[i] != "'":
            i += 1  # the comma (and any space) between two members
            continue
        text, i = _literal(body, i + 1)
        out.append(text)
    return tuple(out)


def _literal(body: str, i: int) -> tuple[str, int]:
    """The string literal starting after its opening quote at ``i``, and where it ends."""
    chars: list[str] = []
    while True:
        c = body[i]
        if c == "\\":
            chars.append(_ESCAPES.get(body[i + 1], body[i + 1]))
            i += 2
        elif c == "'" and body[i + 1 : i + 2] == "'":
            chars.append("'")
            i += 2
        elif c == "'":
            return "".join(chars), i + 1
        else:
            chars.append(c)
            i += 1


def member_text(data_type: str, column_type: str, number: int) -> str:
    """The text of an ENUM's member number or a SET's bit mask (what ``ordinal`` undoes)."""
    listed = members(column_type)
    if data_type == "enum":
        return listed[number - 1] if number else ""
    return ",".join(m for i, m in enumerate(listed) if number >> i & 1)


def ordinal(data_type: str, column_type: str, name: str, text: str) -> int:
    """The number MySQL sorts a key value by: an ENUM's member number (1…), a SET's bit mask, a
    BIT's value. SourceError for text that is no member (the definition changed)."""
    if data_type == "bit":
        return int(text)
    listed = members(column_type)
    try:
        if data_type == "enum":
            return listed.index(text) + 1
        return sum(1 << listed.index(m) for m in text.split(",")) if text else 0
    except ValueError:
        raise SourceError(
            f"key column {name!r} holds {text!r}, which is not a member of its type "
            f"{column_type}: was the column altered? Export the day again"
        ) from None


def bound_text(data_type: str, column_type: str, value: Any) -> Any:
    """A key bound as the key's canonical text: an ENUM or SET bound is read as its sort number
    (``mysql_sql.key_bounds_sql``: MIN/MAX of their text would not be the ends of the order)."""
    if value is None or data_type not in {"enum", "set"}:
        return value
    return member_text(data_type, column_type, int(value)).encode()
