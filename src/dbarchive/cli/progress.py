"""Progress on stderr: a rich bar per table-day on a terminal, periodic log lines otherwise.

Every long step (export, purge, verify, restore) sends start/chunk/finish events with the rows
done, the bytes and, when known, the total rows; both renderings show rows, bytes, rate and the
time left. Off a terminal a line is logged when a step starts and ends, and at most every
``interval`` seconds in between, so a log file shows a long day moving without a line per chunk.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Callable

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

from dbarchive.cli.failure import TrackingReporter
from dbarchive.errors import ConfigError
from dbarchive.events import Event, LogReporter, NullReporter, Reporter, log

LOG_INTERVAL = 15.0  # seconds between two progress lines of one step off a terminal
PROGRESS_SECONDS_ENV = "DBARCHIVE_PROGRESS_SECONDS"


class RichReporter:
    """One bar per step and table-day: rows done of the total, rows/s, bytes, elapsed, ETA."""

    def __init__(self, console: Console) -> None:
        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("rows  {task.fields[rate]:>9} rows/s  {task.fields[bytes]:>10}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=False,
        )
        self._tasks: dict[tuple[str, str, str], TaskID] = {}
        self._progress.start()

    def emit(self, event: Event) -> None:
        key = (event.step, event.table, event.day)
        if event.kind == "start":
            self._tasks[key] = self._progress.add_task(
                f"{event.step} {event.table} {event.day}",
                total=event.total_rows or None,
                rate="-",
                bytes="",
            )
            return
        task = self._tasks.get(key)
        if task is None or event.kind not in {"chunk", "finish"}:
            return
        elapsed = self._progress.tasks[task].elapsed or 0.0
        rate = f"{event.rows / elapsed:,.0f}" if elapsed > 0 else "-"
        total = self._progress.tasks[task].total
        if event.kind == "finish":
            total = event.rows or 1
        elif total is None and event.total_rows:
            total = event.total_rows  # the purge learns its day's rows with its first chunk
        self._progress.update(
            task, completed=event.rows, total=total, rate=rate, bytes=decimal(event.bytes)
        )

    def close(self) -> None:
        self._progress.stop()


class PeriodicLogReporter(LogReporter):
    """Log lines for a file or a pipe: start and finish of each step, and its progress (rows of
    the total, bytes, rate, time left) at most every ``interval`` seconds."""

    def __init__(
        self, interval: float = LOG_INTERVAL, clock: Callable[[], float] = time.monotonic
    ) -> None:
        super().__init__(every_rows=sys.maxsize)  # rows-based lines replaced by timed ones
        self._interval, self._clock = interval, clock
        self._started: dict[tuple[str, str, str], float] = {}
        self._last: dict[tuple[str, str, str], float] = {}

    def emit(self, event: Event) -> None:
        key = (event.step, event.table, event.day)
        now = self._clock()
        if event.kind == "start":
            self._started[key] = self._last[key] = now
        elif event.kind == "chunk" and now - self._last.get(key, now) >= self._interval:
            self._last[key] = now
            log.info("%s", progress_line(event, now - self._started.get(key, now)))
        super().emit(event)


def progress_line(event: Event, elapsed: float) -> str:
    """``verify events 2026-11-24: 120,000 of 2,000,000 rows (6%), 12.1 MB, 40,000 rows/s,
    47 s left``: what a log line says about a step in progress."""
    done = f"{event.rows:,}"
    if event.total_rows:
        share = min(100, event.rows * 100 // event.total_rows)
        done += f" of {event.total_rows:,} rows ({share}%)"
    else:
        done += " rows"
    parts = [done, decimal(event.bytes)]
    rate = event.rows / elapsed if elapsed > 0 else 0.0
    if rate > 0:
        parts.append(f"{rate:,.0f} rows/s")
        if event.total_rows and event.total_rows > event.rows:
            parts.append(f"{_duration((event.total_rows - event.rows) / rate)} left")
    return f"{event.step} {event.table} {event.day}: " + ", ".join(parts)


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def make_reporter(quiet: bool, console: Console) -> TrackingReporter:
    """A progress bar on a terminal, log lines when not a TTY, nothing with --quiet; always
    tracking which step, table and day the command is on (for its error object)."""
    inner: Reporter
    if quiet:
        inner = NullReporter()
    elif console.is_terminal:
        inner = RichReporter(console)
    else:
        logging.basicConfig(
            stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s"
        )
        inner = PeriodicLogReporter(log_interval())
    return TrackingReporter(inner)


def log_interval() -> float:
    """Seconds between two progress lines off a terminal: ``DBARCHIVE_PROGRESS_SECONDS``
    (e.g. 60 for a quieter CI log, 0 for a line per chunk), else 15."""
    text = os.environ.get(PROGRESS_SECONDS_ENV, "")
    if not text:
        return LOG_INTERVAL
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not seconds >= 0:
        raise ConfigError(
            f"{PROGRESS_SECONDS_ENV}={text!r} is not a number of seconds: unset it, or give e.g. 60"
        )
    return seconds
