"""Throttle: decides, between two chunks, whether to go on, slow down, pause, or stop.

Gates: it pauses while the server is busy (``Threads_running`` above ``max_load``), a replica
lags more than ``max_lag`` — a replica whose lag is unknown (SQL thread stopped) counts as
lagging, so the purge waits instead of racing ahead — InnoDB's history list is longer than
``max_history_length`` (deletes that outrun the purge threads leave old row versions that slow
every reader, AWS's guidance for Aurora), or the redo log is, or is about to be, fuller than
``max_redo_fill`` (deletes that outrun the page cleaner bring the flush that stalls every write;
a latency budget sets 0.65 unless told otherwise: ``throttle_redo.py``). Feedback: with a
latency budget it paces the work by a rows/s cap that follows a probe's p99
(``throttle_control.py`` explains the law); ``max_rate`` caps it whatever the probe says. It
stops cleanly (``StopRequested``) on a stop file, a signal, the run-time limit, or a pause longer
than ``max_pause``; it aborts at ``critical_load``.

Each decision (slower, faster, pause, resume, a budget it cannot hold) is logged on the
``dbarchive.throttle`` logger with its reason (``-v`` shows it), sent to the reporter as an event
of kind ``throttle`` and kept in ``decisions``; ``stats`` adds up the time throttled per reason.
Clock and sleep are injected, so its tests never sleep.
"""

from __future__ import annotations

import logging
import signal
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any, Protocol, TypeVar

from dbarchive.config import ThrottleSettings
from dbarchive.errors import DbArchiveError, StopRequested
from dbarchive.events import Event, NullReporter, Reporter
from dbarchive.throttle_budget import LatencyBudget
from dbarchive.throttle_budget import ThrottleStats as ThrottleStats
from dbarchive.throttle_control import Decision, LatencyProbe, RateControl
from dbarchive.throttle_redo import RedoCeiling, RedoReader

T = TypeVar("T")
log = logging.getLogger("dbarchive.throttle")


class LoadProbe(RedoReader, Protocol):
    """Reads the server's load, its replicas' lag, InnoDB's history list length and (as a
    ``RedoReader``) its redo log's fill."""

    def threads_running(self) -> int:
        """The primary's current ``Threads_running``."""

    def replica_lag(self) -> float | None:
        """The worst lag in seconds over the watched replicas; None if one is unknown/broken."""

    def history_length(self) -> int:
        """InnoDB's history list length (undo logs of committed changes not purged yet)."""


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


class Throttle:
    """Call :meth:`between_chunks` after every chunk; it returns when the next chunk may run."""

    def __init__(
        self,
        settings: ThrottleSettings,
        probe: LoadProbe | None,
        stop: StopFlag | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        latency: LatencyProbe | None = None,
        reporter: Reporter | None = None,
    ) -> None:
        self.settings = settings
        self._probe = probe
        self.stop = stop or StopFlag()
        self._clock = clock
        self._sleep = sleep
        self._deadline = None if settings.max_runtime is None else clock() + settings.max_runtime
        self.stats = ThrottleStats()
        self._reporter = reporter or NullReporter()
        self.control = RateControl(settings, clock())
        self.decisions: deque[Decision] = deque(maxlen=1000)
        self.budget: LatencyBudget | None = None
        self.redo = RedoCeiling(settings, self._decide)
        if latency is not None and settings.has_budget:
            self.budget = LatencyBudget(settings, latency, self.control, self.stats, self._decide)

    # -- stopping ------------------------------------------------------------------------------
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

    def close(self) -> None:
        """Stop the latency probe and close the replicas' sessions (started again on use)."""
        if self.budget is not None:
            self.budget.probe.close()
        close = getattr(self._probe, "close", None)
        if close is not None:
            close()

    # -- the chunk loop's calls ------------------------------------------------------------------
    @property
    def chunk_rows_limit(self) -> int | None:
        """The most rows the next chunk may take at the current cap (None: no cap)."""
        return self.control.chunk_rows(self.settings)

    def read_rows(self, rows: int) -> Callable[[], int]:
        """A read's rows per statement (``sources.table.ChunkRows``): ``rows``, bounded by the
        cap when there is one, asked afresh before each statement. A fixed size read at a low
        cap would be a burst of a whole chunk, then a long gap: each burst is what production
        feels, whatever the average rate."""

        def size() -> int:
            limit = self.chunk_rows_limit
            return rows if limit is None else min(rows, limit)

        return size

    def before_first_chunk(self, writes: bool = True) -> None:
        """Wait while the server is busy (or stop), before a day's first chunk deletes anything;
        the first call also measures the latency probe's baseline. ``writes``: False for work
        that only reads (an export), which the redo log's fill does not gate: reads write no
        redo, and an idle MariaDB may leave its checkpoint age where it is for good."""
        self.check_stop()
        self._measure_baseline()
        self.control.restart()
        self._wait_for_headroom(writes)

    def between_chunks(
        self, chunk_seconds: float, rows: int | None = None, writes: bool = True
    ) -> None:
        """Sleep as configured; follow the latency budget (``rows``: what the chunk did, for the
        rows/s cap); then wait while the server is busy, replicas lag or the budget is exceeded
        (``writes``: as for :meth:`before_first_chunk`)."""
        self.check_stop()
        self._measure_baseline()  # once; callers that never waited before a first chunk too
        pause = self.settings.sleep + self.settings.sleep_coefficient * chunk_seconds
        if pause > 0:
            self._wait(pause, "sleep")
        if rows is not None:
            self.control.chunk_done(self._clock(), rows, chunk_seconds)
        if self.budget is not None:
            self.budget.follow(self._clock())
        else:
            self.redo.regrow(self.control, self._clock(), self._decide)
        pacing = self.control.pacing(rows or 0, chunk_seconds + pause)
        if pacing > 0:
            self._wait(pacing, self.control.cut_by)
        self._wait_for_headroom(writes)

    def _measure_baseline(self) -> None:
        if self.budget is not None:
            self.budget.measure_baseline(self._clock, self._sleep, self.check_stop)

    def _wait(self, seconds: float, reason: str) -> None:
        self._sleep(seconds)
        self.stats.slept_seconds += seconds
        self.stats.add(reason, seconds)

    # -- gates ---------------------------------------------------------------------------------
    def _wait_for_headroom(self, writes: bool = True) -> None:
        started: float | None = None
        key = ""
        while (busy := self._busy_reason(first=started is None, writes=writes)) is not None:
            key, message = busy
            now = self._clock()
            if started is None:
                started = now
                self._enter_pause(now, key, message)
                if key == "latency" and self.budget is not None:
                    self.budget.restart_evidence(now)  # it ends on probes taken during it
            if now - started >= self.settings.max_pause:
                hint = "; set min_rate to go on at a floor instead" if key == "latency" else ""
                raise StopRequested(
                    f"paused {now - started:.0f}s waiting for the server ({message}); giving up"
                    + hint
                )
            self.check_stop()
            self._sleep(self.settings.check_interval)
            self.stats.paused_seconds += self.settings.check_interval
            self.stats.add(key, self.settings.check_interval)
        if started is not None:
            waited = self._clock() - started
            if self.budget is not None:
                self.budget.restart_evidence(self._clock())  # the pause's probes saw no work
            self._decide("resume", key, f"after {waited:.1f}s", rate=self.control.cap)

    def _enter_pause(self, now: float, key: str, message: str) -> None:
        self.stats.pauses += 1
        self.stats.reasons[key] = self.stats.reasons.get(key, 0) + 1
        if key in ("history", "redo") and (rate := self.control.slower(now, key)) is not None:
            self._decide("slower", key, f"{message}: cap {rate:,.0f} rows/s", rate=rate)
        self._decide("pause", key, message, rate=self.control.cap)

    def _busy_reason(self, first: bool = True, writes: bool = True) -> tuple[str, str] | None:
        s = self.settings
        if self._probe is not None and (reason := self._server_busy(s, self._probe)) is not None:
            return reason
        probe = self._probe if writes else None
        if probe is not None and (reason := self.redo.busy(probe, self._clock())):
            return reason
        budget = self.budget
        if budget is not None and budget.limit_ms is not None and s.min_rate is None:
            # Over the limit on the probes of the work so far (a day's first chunk after the last
            # day's, a verify after the export): cut the cap before pausing, or the pause is a
            # gate — released, the work runs at the same rate again. Later checks of the pause
            # only wait: the probes taken meanwhile saw no work of ours.
            reading = budget.follow(self._clock(), act=first)
            if budget.over:  # strict: no work until the fresh probes are back under the limit
                return "latency", (
                    f"over the latency budget ({reading.text(budget.limit_ms)}); waiting for fresh probes "
                    f"under {budget.limit_ms:.2f} ms"
                )
        return None

    @staticmethod
    def _server_busy(s: ThrottleSettings, probe: LoadProbe) -> tuple[str, str] | None:
        if s.max_load is not None or s.critical_load is not None:
            running = probe.threads_running()
            if s.critical_load is not None and running > s.critical_load:
                raise CriticalLoad(
                    f"Threads_running={running} is above critical_load={s.critical_load}; aborted "
                    "between chunks: run it again once the server is calmer (it goes on where it "
                    "stopped), or raise critical_load (the count includes dbarchive's own sessions)"
                )
            if s.max_load is not None and running > s.max_load:
                return "load", f"load Threads_running={running} > max_load={s.max_load}"
        if s.max_lag is not None:
            lag = probe.replica_lag()
            if lag is None:
                return "lag", "lag unknown: a replica is not replicating"
            if lag > s.max_lag:
                return "lag", f"lag {lag:.1f}s > max_lag={s.max_lag:g}s"
        if s.max_history_length is not None:
            length = probe.history_length()
            if length > s.max_history_length:
                return "history", (
                    f"history list length {length:,} > max_history_length={s.max_history_length:,}"
                )
        return None

    # -- decisions -----------------------------------------------------------------------------
    def _decide(
        self,
        action: str,
        reason: str,
        message: str,
        *,
        rate: float | None = None,
        p99_ms: float | None = None,
        limit_ms: float | None = None,
    ) -> None:
        """Record, log and report one decision."""
        decision = Decision(action, reason, message, self._clock(), rate, p99_ms, limit_ms)
        self.decisions.append(decision)
        level = logging.WARNING if action in ("floor", "ceiling") else logging.INFO
        log.log(level, "throttle %s (%s): %s", action, reason, message)
        self._reporter.emit(
            Event("throttle", "", "", "throttle", message=message, data=decision.to_json())
        )


def read_rows(throttle: Throttle | None, rows: int) -> int | Callable[[], int]:
    """A keyset read's rows per statement: ``rows``, or, under a throttle, what it allows
    before each statement (``Throttle.read_rows``)."""
    return rows if throttle is None else throttle.read_rows(rows)


def throttled(chunks: Iterable[T], throttle: Throttle) -> Iterator[T]:
    """Pace a stream of read chunks like the purge: wait for headroom first, then between chunks.

    Runs in whatever thread iterates (the export's reader thread), so the load probe shares the
    reading session without racing it. Each pause is based on how long the chunk's read took,
    and on its rows when the chunk says how many (``chunk.rows``, or a ``(rows, last)`` pair),
    for the rows/s cap: without them a latency budget has no rate to cut, only pauses.
    """
    throttle.before_first_chunk(writes=False)
    iterator = iter(chunks)
    while True:
        started = time.monotonic()
        try:
            chunk = next(iterator)
        except StopIteration:
            return
        elapsed = time.monotonic() - started
        yield chunk
        throttle.between_chunks(elapsed, _rows_of(chunk), writes=False)


def _rows_of(chunk: Any) -> int | None:
    """A chunk's rows: ``chunk.rows``, or the length of the rows of a ``(rows, last row)`` pair
    (``read_chunks``); None when it does not say."""
    if isinstance(chunk, tuple) and len(chunk) == 2 and isinstance(chunk[0], list):
        return len(chunk[0])
    rows = getattr(chunk, "rows", None)
    return rows if isinstance(rows, int) else None
