"""Progress events: the core reports what it does to a Reporter; the CLI and Airflow render them.

The core never prints. A reporter gets one call per step start/finish and per chunk, so a
progress bar, a log line or a test capture are all just reporters.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Protocol

log = logging.getLogger("dbarchive")


@dataclass
class Event:
    """One thing that happened: ``step`` is plan/extract/write/upload/verify/purge, or
    ``throttle`` (kind ``throttle``: a throttle decision, its fields in ``data``; during an
    export it comes from the thread that reads the rows)."""

    step: str
    table: str
    day: str
    kind: str  # "start" | "chunk" | "finish" | "info" | "throttle"
    rows: int = 0
    bytes: int = 0
    total_rows: int | None = None
    message: str = ""
    data: dict[str, Any] = field(default_factory=dict)


class Reporter(Protocol):
    """Receives events; must be cheap, it is called once per chunk."""

    def emit(self, event: Event) -> None: ...


class NullReporter:
    """Ignores everything: the default for library use."""

    def emit(self, event: Event) -> None:
        return None


class LogReporter:
    """Writes start/finish/info events to the ``dbarchive`` logger (Airflow task logs, non-TTY)."""

    def __init__(self, every_rows: int = 1_000_000) -> None:
        self._every = every_rows
        self._next = every_rows

    def emit(self, event: Event) -> None:
        if event.kind == "throttle":
            return  # the throttle logs its decisions itself (dbarchive.throttle)
        if event.kind == "chunk":
            log.debug(
                "%s %s %s: chunk, %d rows, %d bytes%s",
                event.step,
                event.table,
                event.day,
                event.rows,
                event.bytes,
                f", {event.data['seconds']:.4f}s" if "seconds" in event.data else "",
            )
            if event.rows >= self._next:
                self._next = event.rows + self._every
                log.info(
                    "%s %s %s: %d rows, %d bytes",
                    event.step,
                    event.table,
                    event.day,
                    event.rows,
                    event.bytes,
                )
            return
        self._next = self._every
        log.info("%s %s %s %s: %s", event.step, event.table, event.day, event.kind, event.message)


class CaptureReporter:
    """Keeps every event in a list (tests, and callers that want the raw stream)."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def emit(self, event: Event) -> None:
        self.events.append(event)
