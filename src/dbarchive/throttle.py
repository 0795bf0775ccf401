"""Throttle: decides, between two chunks, whether to go on, pause, or stop.

It pauses while the server is busy (``Threads_running`` above ``max_load``) or a replica lags more
than ``max_lag`` — a replica whose lag is unknown (SQL thread stopped) counts as lagging, so the
purge waits instead of racing ahead. It stops cleanly (``StopRequested``) on a stop file, a
signal, the run-time limit, or a pause longer than ``max_pause``; it aborts at ``critical_load``.
Clock and sleep are injected, so its tests never sleep.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Protocol, TypeVar

from dbarchive.config import ThrottleSettings
from dbarchive.errors import DbArchiveError, StopRequested

T = TypeVar("T")


class LoadProbe(Protocol):
    """Reads the server's load and its replicas' lag."""

    def threads_running(self) -> int:
        """The primary's current ``Threads_running``."""

    def replica_lag(self) -> float | None:
        """The worst lag in seconds over the watched replicas; None if one is unknown/broken."""


class CriticalLoad(DbArchiveError):
    """The server is overloaded past ``critical_load``: stop now, the job can be rerun later."""

    exit_code = 7


@dataclass
class StopFlag:
    """Set by SIGTERM/SIGINT (or by a caller) to stop after the current chunk."""

    requested: bool = False
    reason: str = ""

    def request(self, reason: str) -> None:
        self.requested, self.reason = True, reason

    def install(self) -> Callable[[], None]:
        """Route SIGTERM and SIGINT here; returns a function that restores the old handlers."""

        def handler(signum: int, _frame: FrameType | None) -> None:
            self.request(f"received {signal.Signals(signum).name}")

        old = {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGINT)}

        def restore() -> None:
            for sig, previous in old.items():
                signal.signal(sig, previous)

        return restore


@dataclass
class ThrottleStats:
    """What the throttle did, for the run summary."""

    pauses: int = 0
    paused_seconds: float = 0.0
    slept_seconds: float = 0.0
    reasons: dict[str, int] = field(default_factory=dict)


class Throttle:
    """Call :meth:`between_chunks` after every chunk; it returns when the next chunk may run."""

    def __init__(
        self,
        settings: ThrottleSettings,
        probe: LoadProbe | None,
        stop: StopFlag | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings = settings
        self._probe = probe
        self.stop = stop or StopFlag()
        self._clock = clock
        self._sleep = sleep
        self._deadline = None if settings.max_runtime is None else clock() + settings.max_runtime
        self.stats = ThrottleStats()

    def check_stop(self) -> None:
        """Raise StopRequested if a stop was asked for or the run-time limit has passed."""
        if self.stop.requested:
            raise StopRequested(f"stopped after the current chunk: {self.stop.reason}")
        if self.settings.stop_file and Path(self.settings.stop_file).exists():
            raise StopRequested(
                f"stopped after the current chunk: stop file {self.settings.stop_file} exists"
            )
        if self._deadline is not None and self._clock() >= self._deadline:
            raise StopRequested(
                f"stopped after the current chunk: max_runtime {self.settings.max_runtime:g}s reached"
            )

    def before_first_chunk(self) -> None:
        """Wait while the server is busy (or stop), before a day's first chunk deletes anything."""
        self.check_stop()
        self._wait_for_headroom()

    def between_chunks(self, chunk_seconds: float) -> None:
        """Sleep as configured, then wait while the server is busy or replicas lag."""
        self.check_stop()
        pause = self.settings.sleep + self.settings.sleep_coefficient * chunk_seconds
        if pause > 0:
            self._sleep(pause)
            self.stats.slept_seconds += pause
        self._wait_for_headroom()

    def _wait_for_headroom(self) -> None:
        started: float | None = None
        while (reason := self._busy_reason()) is not None:
            now = self._clock()
            if started is None:
                started = now
                self.stats.pauses += 1
                self.stats.reasons[reason.split(" ")[0]] = (
                    self.stats.reasons.get(reason.split(" ")[0], 0) + 1
                )
            if now - started >= self.settings.max_pause:
                raise StopRequested(
                    f"paused {now - started:.0f}s waiting for the server ({reason}); giving up"
                )
            self.check_stop()
            self._sleep(self.settings.check_interval)
            self.stats.paused_seconds += self.settings.check_interval

    def _busy_reason(self) -> str | None:
        s = self.settings
        if self._probe is None:
            return None
        if s.max_load is not None or s.critical_load is not None:
            running = self._probe.threads_running()
            if s.critical_load is not None and running > s.critical_load:
                raise CriticalLoad(
                    f"Threads_running={running} is above critical_load={s.critical_load}; aborted"
                )
            if s.max_load is not None and running > s.max_load:
                return f"load Threads_running={running} > max_load={s.max_load}"
        if s.max_lag is not None:
            lag = self._probe.replica_lag()
            if lag is None:
                return "lag unknown: a replica is not replicating"
            if lag > s.max_lag:
                return f"lag {lag:.1f}s > max_lag={s.max_lag:g}s"
        return None


def throttled(chunks: Iterable[T], throttle: Throttle) -> Iterator[T]:
    """Pace a stream of read chunks like the purge: wait for headroom first, then between chunks.

    Runs in whatever thread iterates (the export's reader thread), so the load probe shares the
    reading session without racing it. Each pause is based on how long the chunk's read took.
    """
    throttle.before_first_chunk()
    iterator = iter(chunks)
    while True:
        started = time.monotonic()
        try:
            chunk = next(iterator)
        except StopIteration:
            return
        elapsed = time.monotonic() - started
        yield chunk
        throttle.between_chunks(elapsed)
