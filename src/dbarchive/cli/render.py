"""Results for a person and for a program: a table on a terminal, plain lines in a file or pipe.

Results go to stdout, diagnostics (progress, log lines, errors, notes) to stderr. On a terminal a
result is a rich table whose first column is the result, its cells folded (never cut with "…")
when the terminal is narrow. Redirected to a file, a pipe or CI, each record is one line of
``key=value`` pairs — nothing boxed, nothing cut at 80 columns, numbers without thousands
separators so ``grep``/``awk`` read them — with values that hold spaces, quotes or ``=`` quoted
as JSON strings (logfmt style).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Sequence
from typing import Any

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

Record = dict[str, Any]  # column -> value (int, float, str, date or None); the first is the result

_WHOLE = 12  # values up to this long are never folded (results, numbers, days)
_BARE = re.compile(r"^[^\s\"'=\\]+$")


def stdout_console() -> Console:
    """Where results are printed; a terminal only if stdout is one."""
    return Console(soft_wrap=True)


def plain_value(value: Any) -> str:
    """A value for a ``key=value`` line: bare when it can be, else a JSON string."""
    text = _text(value, grouped=False)
    return text if _BARE.match(text) else json.dumps(text, ensure_ascii=False)


def plain_line(record: Record) -> str:
    """One record as ``key=value`` pairs, in the record's order."""
    return " ".join(f"{key}={plain_value(value)}" for key, value in record.items())


def _text(value: Any, grouped: bool) -> str:
    """Numbers grouped by thousands on a terminal only; None is "-", never "None"."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}" if grouped else str(value)
    if isinstance(value, float):
        return f"{value:,.2f}" if grouped else f"{value:.2f}"
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def print_records(
    records: Sequence[Record],
    title: str,
    console: Console | None = None,
    details: str | None = None,
) -> None:
    """Print ``records`` on stdout: a table on a terminal, one plain line each otherwise.

    ``details`` names a field of long free text (what differs, a note): on a line it is the
    last pair (left out when None); on a terminal it is printed in full under the table.
    """
    console = console or stdout_console()
    if not console.is_terminal:
        for record in records:
            if details is not None and record.get(details) is None:
                record = {k: v for k, v in record.items() if k != details}
            click.echo(plain_line(record), file=console.file)
        return
    if not records:
        return
    shown = [{k: v for k, v in r.items() if k != details} for r in records]
    console.print(_table(shown, title))
    for record in records:
        text = record.get(details) if details is not None else None
        if text is not None:  # the texts name their table and day themselves
            click.echo(str(text), file=console.file)


def _table(records: Sequence[Record], title: str) -> Table:
    columns = list(dict.fromkeys(key for record in records for key in record))
    table = Table(title=title, title_justify="left")
    for name in columns:
        values = [r.get(name) for r in records]
        numeric = all(isinstance(v, int | float) or v is None for v in values)
        widest = max(len(_text(v, grouped=True)) for v in values)
        table.add_column(
            name,
            justify="right" if numeric else "left",
            overflow="fold",  # a long name or path folds onto the next line, never cut
            # numbers, and short values (results, days), stay on one line
            min_width=widest if numeric else min(widest, _WHOLE),
            style="bold" if name == columns[0] else None,
        )
    for record in records:
        table.add_row(*(escape(_text(record.get(name), grouped=True)) for name in columns))
    return table


def print_lines(lines: Sequence[str], console: Console | None = None) -> None:
    """Free text that belongs to the result (a problem found, a note), on stdout, never cut."""
    console = console or stdout_console()
    for line in lines:
        click.echo(line, file=console.file)
