"""The archive's CSV dialect as each reader spells it, and the SQL quoting helpers of the DDL.

One definition (README "The CSV dialect"): UTF-8, ``,``, a header row, every non-NULL value in
``"…"`` with ``""`` for a quote inside, NULL as a bare ``\\N``, line breaks inside values kept.
"""

from __future__ import annotations

import datetime as dt

from dbarchive.layout import Layout

NULL_TOKEN = "\\N"  # noqa: S105 - the CSV NULL marker, not a secret
SEPARATOR = ","
QUOTE = '"'
# Athena/Hive's OpenCSVSerDe drops every occurrence of its escape character (default '\'),
# and our dialect escapes nothing: so the escape is set to U+0001, a control character that
# log text practically never holds (a value that does loses it in Athena only).
ATHENA_ESCAPE = "\\u0001"

SPARK_CSV_OPTIONS = {
    "header": "true",
    "sep": SEPARATOR,
    "quote": QUOTE,
    "escape": QUOTE,  # "" inside quotes is a quote (RFC 4180); backslashes are literal
    "multiLine": "true",  # line breaks inside quoted values
    "nullValue": NULL_TOKEN,
    "mode": "FAILFAST",  # a malformed row fails the query instead of becoming NULLs
    "timestampFormat": "yyyy-MM-dd HH:mm:ss[.SSSSSS]",
    "timestampNTZFormat": "yyyy-MM-dd HH:mm:ss[.SSSSSS]",
    "timeZone": "UTC",  # TIMESTAMP columns hold UTC text
    "encoding": "UTF-8",
}
DUCKDB_CSV_OPTIONS = {
    "header": "true",
    "delim": f"'{SEPARATOR}'",
    "quote": f"'{QUOTE}'",
    "escape": f"'{QUOTE}'",
    "nullstr": f"'{NULL_TOKEN}'",
    "allow_quoted_nulls": "false",  # "\N" in quotes is the text \N, not NULL
}


def sql_string(text: str) -> str:
    """A standard SQL string literal (Trino, DuckDB): quotes doubled, backslashes literal."""
    return "'" + text.replace("'", "''") + "'"


def hive_string(text: str) -> str:
    """A Hive/Spark SQL string literal: backslash escapes, so backslashes and quotes escaped."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def backtick(name: str) -> str:
    """A Hive/Spark identifier."""
    return "`" + name.replace("`", "``") + "`"


def double_quote(name: str) -> str:
    """A standard SQL identifier (Trino views, DuckDB)."""
    return '"' + name.replace('"', '""') + '"'


def projection_properties(
    location: str,
    layout: Layout,
    first: dt.date,
    last: dt.date,
    keys: tuple[str, ...] = ("year", "month", "day"),
) -> dict[str, str]:
    """Athena partition projection over the year/month/day folders, as the partition columns
    ``keys``: no partition needs registering.

    The year range runs from the first archived year to ten years after the last, so the table
    keeps working as days are added (regenerate it after that).
    """
    year, month, day = keys
    day_path = (
        f"year=${{{year}}}/month=${{{month}}}/day=${{{day}}}"
        if layout is Layout.HIVE
        else f"${{{year}}}/${{{month}}}/${{{day}}}"
    )
    return {
        "projection.enabled": "true",
        f"projection.{year}.type": "integer",
        f"projection.{year}.range": f"{first.year},{last.year + 10}",
        f"projection.{year}.digits": "4",
        f"projection.{month}.type": "integer",
        f"projection.{month}.range": "1,12",
        f"projection.{month}.digits": "2",
        f"projection.{day}.type": "integer",
        f"projection.{day}.range": "1,31",
        f"projection.{day}.digits": "2",
        "storage.location.template": f"{location}{day_path}/",
    }
