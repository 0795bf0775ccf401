"""Reporters for the terminal: a rich progress bar on a TTY, plain log lines otherwise."""

from __future__ import annotations

import logging
import sys

from rich.console import Console
from rich.filesize import decimal
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from dbarchive.events import Event, LogReporter, NullReporter, Reporter


class RichReporter:
    """One bar per table-day: rows done of the estimate, rows/s, bytes written, ETA."""

    def __init__(self, console: Console) -> None:
        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("rows  {task.fields[rate]:>9} rows/s  {task.fields[written]:>10}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=False,
        )
        self._tasks: dict[tuple[str, str], TaskID] = {}
        self._progress.start()

    def emit(self, event: Event) -> None:
        key = (event.table, event.day)
        if event.kind == "start":
            self._tasks[key] = self._progress.add_task(
                f"{event.step} {event.table} {event.day}",
                total=event.total_rows or None,
                rate="-",
                written="",
            )
            return
        task = self._tasks.get(key)
        if task is None:
            return
        elapsed = self._progress.tasks[task].elapsed or 0.0
        rate = f"{event.rows / elapsed:,.0f}" if elapsed > 0 else "-"
        written = decimal(event.bytes)
        if event.kind == "finish":
            total = event.rows or 1
            self._progress.update(
                task, completed=event.rows, total=total, rate=rate, written=written
            )
        elif event.kind == "chunk":
            self._progress.update(task, completed=event.rows, rate=rate, written=written)

    def close(self) -> None:
        self._progress.stop()


def make_reporter(quiet: bool, console: Console) -> Reporter:
    """A progress bar on a terminal, log lines when not a TTY, nothing with --quiet."""
    if quiet:
        return NullReporter()
    if console.is_terminal:
        return RichReporter(console)
    logging.basicConfig(
        stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s"
    )
    return LogReporter()
