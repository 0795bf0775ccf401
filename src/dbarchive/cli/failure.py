"""How a command ends: one exit code per cause, the same in every command, and the error object
that ``--json`` prints on stdout when a command fails.

Where a failure happened (step, table, day) is followed as the command works: the commands say
which table-day they are on, and :class:`TrackingReporter` reads it from the core's events.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from dbarchive.errors import DbArchiveError
from dbarchive.events import Event, Reporter
from dbarchive.jobs.table_report import TableReport

# One code per cause, whatever the command (each --help lists them).
EXIT_CODES: dict[int, tuple[str, str]] = {
    0: ("ok", "everything asked for was done"),
    1: ("several", "failures of different causes (each named on stderr), or an unexpected error"),
    2: ("config", "bad config or option; nothing was touched"),
    3: (
        "database",
        "MySQL unreachable, login refused, privilege or table missing, or a value "
        "the archive cannot hold",
    ),
    4: ("storage", "destination unreachable, bucket missing, access refused"),
    5: ("verification", "the archive, its manifest and the database do not agree"),
    6: ("stopped", "Ctrl-C, SIGTERM, the stop file or --max-runtime; run it again to go on"),
    7: ("critical_load", "the server passed [throttle] critical_load"),
    8: ("already_running", "another run holds the table, or this run lost its lock"),
    9: ("replica_behind", "the read endpoint has not applied the day yet; run again later"),
}
STOPPED = 6


def exit_codes_help() -> str:
    """The exit-code table as a --help epilog (``\\b`` keeps click from rewrapping it)."""
    lines = [f"  {code}  {text}" for code, (_name, text) in EXIT_CODES.items()]
    return "\b\nExit codes:\n" + "\n".join(lines)


def combined_code(codes: Iterable[int]) -> int:
    """The exit code of several outcomes: 0 if none failed, the cause's code if they share
    one, else 1."""
    failed = {c for c in codes if c != 0}
    if not failed:
        return 0
    return failed.pop() if len(failed) == 1 else 1


def cause(code: int) -> str:
    """The short name of an exit code's cause (``database``, ``verification``…)."""
    return EXIT_CODES.get(code, ("failed", ""))[0]


@dataclass
class Whereabouts:
    """The step, table and day a command is working on (what its error object names)."""

    step: str | None = None
    table: str | None = None
    day: str | None = None

    def at(self, step: str, table: str | None = None, day: Any = None) -> None:
        self.step, self.table = step, table
        self.day = day.isoformat() if isinstance(day, dt.date) else day

    def reset(self) -> None:
        self.step = self.table = self.day = None


WHERE = Whereabouts()  # one command per process (tests reset it per invocation)


def error_object(
    code: int, message: str, table: str | None, day: Any, step: str | None
) -> dict[str, Any]:
    """The JSON object of a failure: code and cause, message, and where (null when unknown)."""
    return {
        "code": code,
        "cause": cause(code),
        "message": message,
        "table": table,
        "day": day.isoformat() if isinstance(day, dt.date) else day,
        "step": step,
    }


def led_by(table: str | None, day: str | None, message: str) -> str:
    """``message`` led by the table (and day) it is about, unless it names the table itself."""
    if not table or re.search(rf"(?<!\w){re.escape(table)}(?!\w)", message):
        return message
    return f"{table} {day}: {message}" if day else f"{table}: {message}"


def error_of_exception(exc: BaseException, code: int) -> dict[str, Any]:
    """The error object of an exception that ended the command: the exception's own table and
    day when it carries them, else where the command was."""
    table = getattr(exc, "table", None) or WHERE.table
    day = getattr(exc, "day", None) or WHERE.day
    message = str(exc) or type(exc).__name__
    return error_object(code, message, table, day, WHERE.step)


def done_before(exc: DbArchiveError) -> list[str]:
    """What a run aborted by ``exc`` (critical load, a lost run lock) had done: a line per table
    that exported or deleted rows (``exc.partial``: the TableReports so far)."""
    reports = exc.partial if isinstance(exc.partial, list) else []
    return [
        f"{r.table}: exported {r.rows_exported:,} rows of {len(r.exported)} day(s), deleted "
        f"{r.rows_deleted:,} rows of {len(r.purged)} day(s)"
        for r in reports
        if isinstance(r, TableReport) and (r.exported or r.rows_deleted)
    ]


def exit_code_of(exc: BaseException) -> int:
    return exc.exit_code if isinstance(exc, DbArchiveError) else 1


class TrackingReporter:
    """Passes every event on, and notes the step, table and day of each start (or info: a step
    announcing the day it works on), and the latest event of each step (what an interrupted
    step had done)."""

    def __init__(self, inner: Reporter, where: Whereabouts = WHERE) -> None:
        self.inner, self.where = inner, where
        self.last: dict[str, tuple[str, str]] = {}  # table -> (step, day) of its last start
        self.latest: dict[tuple[str, str, str], Event] = {}  # (step, table, day) -> event

    def emit(self, event: Event) -> None:
        if event.kind in {"start", "info"} and event.day:
            self.where.at(event.step, event.table, event.day)
            self.last[event.table] = (event.step, event.day)
        if event.kind in {"start", "chunk", "finish"}:
            self.latest[(event.step, event.table, event.day)] = event
        self.inner.emit(event)

    def close(self) -> None:
        """Stop the inner reporter's display (a progress bar), if it has one."""
        close = getattr(self.inner, "close", None)
        if close is not None:
            close()
