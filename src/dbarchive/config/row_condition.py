"""A table's ``where`` filter: one self-contained condition on each row's own values.

The filter is pasted into every statement that reads, counts, digests or deletes a day, as
``… AND (<where>)``. Checked here on load, contacting nothing, so that it cannot be more:

- **Self-contained**: its parentheses balance and never close one it did not open, and it holds
  no ``;``, no comment to the end of the line and no executable comment (``/*! … */``) outside
  its quotes (a closed ``/* note */`` hides only itself: configs carry such notes).
  ``env = 'a') OR (env = 'b'`` escaped the day's bounds: a purge exported another day's rows
  as an expired day and deleted them, though they were inside the retention window, and
  verify and restore agreed (an outside re-test). Quotes
  are read as dbarchive's sessions read them (backslash escapes on, ``"`` a string: their
  ``sql_mode`` drops NO_BACKSLASH_ESCAPES and ANSI_QUOTES); ``--`` starts a comment only before
  a space, as on the server (``id--1`` is arithmetic). A ``%s`` outside quotes would read as a
  parameter to the driver (``id%slot``: every statement failed), so it is refused too.
- **Repeatable**: it gives a row the same answer each time. ``RAND() < 0.5`` archived some
  rows, and each purge then found others "not in the archive" and blamed the application; a
  condition on the clock (``NOW()``) or on a variable moves rows in and out by itself. The
  functions, sequences (``NEXT VALUE FOR``) and ``@`` variables whose answer changes between
  two statements are refused (``ROWNUM() < 20`` archived each statement's first rows only; a
  subquery cannot be judged here: the README asks that its answer not change either).
- **A condition, not a statement's clause**: outside its quotes and parentheses it holds none of
  the words that begin a clause of a whole statement (``LIMIT``, ``ORDER BY``, ``UNION``,
  ``INTO``, ``FOR UPDATE``, …): inside ``AND (…)`` each made every statement of the day fail.
  A subquery in parentheses keeps its own (``id IN (SELECT a FROM x UNION SELECT b FROM y)``).
"""

from __future__ import annotations

import re

EXAMPLE = "environment = 'production'"
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*")
_GAP = re.compile(r"(?:\s|/\*.*?\*/)*", re.DOTALL)  # what the server reads as a space
# answers that change from one statement to the next, called or (the first group) bare
_CLOCK_WORDS = {
    "CURRENT_DATE", "CURRENT_TIME", "CURRENT_TIMESTAMP", "LOCALTIME", "LOCALTIMESTAMP",
    "UTC_DATE", "UTC_TIME", "UTC_TIMESTAMP",
}  # fmt: skip
_CHANGING_CALLS = _CLOCK_WORDS | {
    "NOW", "SYSDATE", "CURDATE", "CURTIME", "RAND", "UUID", "UUID_SHORT", "SYS_GUID",
    "CONNECTION_ID", "LAST_INSERT_ID", "FOUND_ROWS", "ROW_COUNT", "SLEEP", "BENCHMARK",
    "GET_LOCK", "RELEASE_LOCK", "IS_FREE_LOCK", "IS_USED_LOCK", "NEXTVAL", "LASTVAL",
    "SETVAL", "ROWNUM", "ROW_NUMBER", "LOAD_FILE", "RANDOM_BYTES",
}  # fmt: skip
_GAP_TEXT = r"(?:\s|/\*.*?\*/)+"
_SEQUENCE = re.compile(rf"{_GAP_TEXT}VALUE{_GAP_TEXT}FOR\b", re.IGNORECASE | re.DOTALL)
# words that begin a statement's clause (each reserved in MariaDB and MySQL 8): never part of a
# condition outside parentheses. WINDOW is MariaDB's column name too: only ``WINDOW w AS``.
_CLAUSE_WORDS = {
    "LIMIT", "ORDER", "GROUP", "HAVING", "UNION", "INTERSECT", "EXCEPT", "INTO", "FOR", "LOCK",
    "PROCEDURE",
}  # fmt: skip
_WINDOW_CLAUSE = re.compile(
    rf"{_GAP_TEXT}(?:[A-Za-z_][A-Za-z0-9_$]*|`[^`]*`){_GAP_TEXT}AS\b", re.IGNORECASE | re.DOTALL
)


def check_row_condition(text: str) -> str:
    """``text`` if it is one repeatable condition, else ValueError saying why (config load)."""
    if not text.strip():
        raise ValueError(f"where is empty; leave it out, or write a condition like {EXAMPLE}")
    problem = _problem(text)
    if problem:
        raise ValueError(
            f"where = {text!r}: {problem}. It is added to every statement of a day as "
            f"AND (<where>): write one condition on the row's own columns, like {EXAMPLE}"
        )
    return text


def _problem(text: str) -> str | None:
    """Why ``text`` is not one self-contained, repeatable condition, or None."""
    depth, i = 0, 0
    while i < len(text):
        c = text[i]
        if c in "'\"`":
            end = _quote_end(text, i, c != "`")
            if end is None:
                return f"its quote {c} at character {i + 1} never ends"
            i = end
            continue
        if c == ";":
            return "it holds a ';' (a second statement)"
        if text.startswith(("/*!", "/*M!"), i):
            return "it holds an executable comment (/*! … */), whose text runs as SQL"
        if text.startswith("/*", i):  # closed, it hides only itself (old configs carry notes)
            end = text.find("*/", i + 2)
            if end < 0:
                return f"its comment /* at character {i + 1} never ends"
            i = end + 2
            continue
        if c == "#" or _dash_comment(text, i):
            return "it holds a comment to the end of the line, which would hide the rest of the statement"
        if text.startswith("%s", i):
            return (
                f"its '%s' at character {i + 1} would be read as a parameter; write '% s' "
                "(a space) or MOD(…)"
            )
        if c == "@":
            return "it reads a variable (@…), whose value may change between statements"
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth < 0:
                return f"its ')' at character {i + 1} closes a parenthesis it did not open"
        elif (word := _WORD.match(text, i)) and (i == 0 or not _joined(text[i - 1])):
            if problem := _changing(text, word) or (None if depth else _clause(text, word)):
                return problem
            i = word.end()
            continue
        i += 1
    return f"{depth} parenthesis(es) never close" if depth else None


def _quote_end(text: str, start: int, backslash_escapes: bool) -> int | None:
    """The index after the quote opened at ``start`` (a doubled quote is one quote)."""
    quote, i = text[start], start + 1
    while i < len(text):
        if backslash_escapes and text[i] == "\\":
            i += 2
        elif text[i] == quote:
            if text.startswith(quote, i + 1):
                i += 2
            else:
                return i + 1
        else:
            i += 1
    return None


def _dash_comment(text: str, i: int) -> bool:
    """``--`` then a space, a control character or the end: a comment on the server."""
    return text.startswith("--", i) and (i + 2 == len(text) or text[i + 2] <= " ")


def _skip_gap(text: str, i: int) -> int:
    """The index after the spaces and closed comments at ``i``."""
    gap = _GAP.match(text, i)
    return gap.end() if gap else i


def _joined(previous: str) -> bool:
    """Whether a word starting after ``previous`` continues a name or a number (``t.now`` is
    a column; ``1e5`` a number)."""
    return previous.isalnum() or previous in "_$."


def _changing(text: str, word: re.Match[str]) -> str | None:
    name = word.group().upper()
    after = _skip_gap(text, word.end())  # RAND/**/() is RAND(): an outside re-test
    called = text.startswith("(", after)
    empty_call = called and text.startswith(")", _skip_gap(text, after + 1))
    sequence = name in {"NEXT", "PREVIOUS"} and _SEQUENCE.match(text, word.end()) is not None
    if (
        (name in _CHANGING_CALLS and called)
        or name in _CLOCK_WORDS
        or sequence
        or (name == "UNIX_TIMESTAMP" and empty_call)
    ):
        return (
            f"{word.group()} gives another answer each time it is evaluated, so a row would "
            "be archived by one statement and left out by the next (the purge would keep it, "
            "and say the application changed it)"
        )
    return None


def _clause(text: str, word: re.Match[str]) -> str | None:
    """Why ``word``, outside parentheses, ends the condition (``x = 1 LIMIT 1``), or None."""
    name = word.group().upper()
    if name in _CLAUSE_WORDS or (name == "WINDOW" and _WINDOW_CLAUSE.match(text, word.end())):
        return (
            f"its {word.group()} at character {word.start() + 1} begins a clause of a whole "
            "statement (LIMIT, ORDER BY, UNION, …), not part of a condition, so every "
            "statement would fail; a subquery keeps its own inside its parentheses"
        )
    return None
