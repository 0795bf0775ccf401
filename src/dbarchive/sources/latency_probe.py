"""The latency probe: a cheap query timed at a steady rate, in a process of its own.

A thread of ours would time our own work: the purge and the export hold the GIL between
statements, and a probe thread waiting for it reads milliseconds the server never spent
(measured: ``SELECT 1`` from a thread, 0.12 ms median beside an idle main thread, 5.4 ms beside a
busy one). So :class:`ProbeProcess` starts ``python -m dbarchive.sources.probe_worker``, which
opens its own session (same login and TLS as the source) and reports each probe's start and
duration on a pipe, on the system's monotonic clock, which both processes share. A reader thread
keeps the last few windows of them for the throttle (:meth:`ProbeProcess.samples`).

The child's only input is one JSON line on its stdin (the settings, a password given by code,
the query and the interval), and it exits when that pipe closes: when the parent closes the
probe, drops it, or dies. With ``auth = "iam"`` it makes its own tokens from the default AWS
credential chain (an AWS session given by code does not cross the process boundary).
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import weakref
from collections import deque
from collections.abc import Callable
from typing import IO, Any

from dbarchive.config import WITH_SECRETS, SourceSettings
from dbarchive.errors import SourceError
from dbarchive.sources.canonical import quote_identifier
from dbarchive.sources.table import TableInfo

WORKER_MODULE = "dbarchive.sources.probe_worker"
START_TIMEOUT = 60.0  # seconds for the child to connect and finish its first probe


def newest_row_sql(info: TableInfo) -> str:
    """The default probe: one descent of the table's key index to its newest row (the end the
    application works at; a consistent read, never waiting for the purge's row locks)."""
    keys = ", ".join(quote_identifier(c.name) for c in info.key)
    order = ", ".join(f"{quote_identifier(c.name)} DESC" for c in info.key)
    return f"SELECT {keys} FROM {info.qualified} ORDER BY {order} LIMIT 1"


class SampleWindow:
    """Probe starts and durations (seconds, monotonic clock), kept for ``keep`` seconds;
    written by the reader thread, read by the throttle."""

    def __init__(self, keep: float) -> None:
        self._keep = keep
        self._lock = threading.Lock()
        self._done: deque[tuple[float, float]] = deque()
        self._running: float | None = None  # start of the probe under way
        self.error: str | None = None
        self.first = threading.Event()  # set by the first finished probe, or an error

    def began(self, start: float) -> None:
        with self._lock:
            self._running = start

    def ended(self, start: float, seconds: float) -> None:
        with self._lock:
            self._running = None
            self._done.append((start, seconds))
            while self._done and self._done[0][0] < start - self._keep:
                self._done.popleft()
        self.first.set()

    def failed(self, message: str) -> None:
        self.error = message
        self.first.set()

    def samples(self, since: float, now: float) -> tuple[list[float], float | None]:
        with self._lock:
            values = [s for start, s in self._done if since <= start <= now]
            running = self._running
        return values, (now - running if running is not None and running >= since else None)


class ProbeProcess:
    """The :class:`~dbarchive.throttle_control.LatencyProbe` the throttle uses on MySQL."""

    def __init__(
        self,
        settings: SourceSettings,
        query: str | Callable[[], str],
        interval: float,
        window: float,
    ) -> None:
        self._settings, self._query = settings, query
        self._interval, self._window_seconds = interval, window
        self._stop: weakref.finalize[Any, ProbeProcess] | None = None
        self._window = SampleWindow(keep=2 * window)

    def start(self) -> None:
        """Start the child and wait for its first probe; SourceError if it cannot run it."""
        if self._stop is not None and self._stop.alive:
            return
        query = self._query if isinstance(self._query, str) else self._query()
        self._window = SampleWindow(keep=2 * self._window_seconds)
        proc = subprocess.Popen(
            [sys.executable, "-m", WORKER_MODULE],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        assert proc.stdin is not None and proc.stdout is not None
        # The thread holds the window and the child's output, not this object, so a probe
        # dropped without close() is finalized: the child's stdin closes, and the child exits.
        reader = threading.Thread(target=_read, args=(proc.stdout, self._window), daemon=True)
        self._stop = weakref.finalize(self, _shut, proc, reader)
        proc.stdin.write(json.dumps(self._order(query)) + "\n")
        proc.stdin.flush()
        reader.start()
        if not self._window.first.wait(START_TIMEOUT + self._settings.connect_timeout):
            self.close()
            raise SourceError(
                f"the latency probe did not answer within {START_TIMEOUT:.0f}s: check "
                "probe_query (it should take milliseconds)"
            )
        self._raise_if_failed()

    def _order(self, query: str) -> dict[str, Any]:
        password = self._settings.password
        return {
            "settings": self._settings.model_dump(mode="json", context=WITH_SECRETS),
            "password": None if password is None else password.get_secret_value(),
            "query": query,
            "interval": self._interval,
        }

    def samples(self, since: float, now: float) -> tuple[list[float], float | None]:
        self._raise_if_failed()
        return self._window.samples(since, now)

    def _raise_if_failed(self) -> None:
        if self._window.error is not None:
            message = self._window.error
            self.close()
            raise SourceError(f"the latency probe failed: {message}")

    def close(self) -> None:
        """Stop the child (:meth:`start` starts a new one)."""
        if self._stop is not None:
            self._stop()


def _shut(proc: subprocess.Popen[str], reader: threading.Thread) -> None:
    """Close the child's stdin (its signal to exit), wait for it, then for the reader."""
    assert proc.stdin is not None and proc.stdout is not None
    try:
        proc.stdin.close()
        proc.wait(timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        proc.kill()
        proc.wait()
    if reader.is_alive():
        reader.join(5)  # it reads the child's output to its end, then returns
    proc.stdout.close()


def _read(stream: IO[str], window: SampleWindow) -> None:
    """The child's lines: ``b <start>``, ``e <start> <seconds>``, ``x <message>``."""
    try:
        for line in stream:
            kind, _, rest = line.rstrip("\n").partition(" ")
            if kind == "b":
                window.began(float(rest))
            elif kind == "e":
                start, seconds = rest.split(" ")
                window.ended(float(start), float(seconds))
            elif kind == "x":
                window.failed(rest)
                return
    except (OSError, ValueError) as exc:  # a closed pipe, a line cut short by a killed child
        window.failed(f"reading the probe process: {exc}")
        return
    if window.error is None:
        window.failed("the probe process ended unexpectedly")
