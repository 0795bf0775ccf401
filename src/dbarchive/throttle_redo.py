"""The redo log ceiling inside the throttle: ``max_redo_fill``, or a latency budget's default.

A purge that deletes faster than the server flushes fills InnoDB's redo log, and near its end
every write in the server waits for a flush (``sources/redo_log.py``): the application's p99,
which a read probe never sees. :class:`RedoCeiling` reads the fill at each chunk boundary and in
each pause, says when the work must wait, and, without a budget to do it, raises the cap it cut
again once the log has room. The throttle pauses on it like the other gates, halving the cap.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Protocol

from dbarchive.config import ThrottleSettings
from dbarchive.errors import DbArchiveError, SourceError
from dbarchive.throttle_control import HEADROOM, RateControl

REDO_HORIZON = 2.0  # seconds ahead the fill is judged at its current rise
REDO_SLOPE_BASE = 0.5  # the rise is measured over at least this many seconds …
REDO_SLOPE_STALE = 10.0  # … and at most this many (an older reading says nothing of now)

log = logging.getLogger("dbarchive.throttle")
Decide = Callable[..., None]  # (action, reason, message, rate=)


class RedoReader(Protocol):
    """What the ceiling reads; the throttle's ``LoadProbe`` is one (kept here so that this
    module does not import ``throttle.py``)."""

    def redo_fill(self) -> float | None:
        """The redo log's checkpoint age as a share of its capacity; None where the server
        does not tell (Aurora)."""


class RedoTrend:
    """Where the redo log's fill is heading: the fill ``REDO_HORIZON`` seconds on at its current
    rise. The ceiling is judged on that, not on the fill alone: the fill is read between chunks,
    a chunk in flight adds to it, and InnoDB's purge threads go on writing redo for the rows
    already deleted (measured here: a ceiling of 0.65 on the fill alone let it reach 0.80, where
    every write waits). The rise is taken over at least ``REDO_SLOPE_BASE`` seconds (two readings
    a moment apart would make one commit look like a flood), and falls to zero with a checkpoint
    or a stale reading."""

    def __init__(self) -> None:
        self._reference: tuple[float, float] | None = None  # (time, fill) the rise is taken from
        self.rise = 0.0  # share of the log per second, never negative

    def expected(self, now: float, fill: float) -> float:
        """The fill expected ``REDO_HORIZON`` seconds after ``now`` (``fill`` read at ``now``)."""
        reference = self._reference
        if reference is None or now - reference[0] > REDO_SLOPE_STALE:
            self._reference, self.rise = (now, fill), 0.0
        elif now - reference[0] >= REDO_SLOPE_BASE:
            self.rise = max(0.0, (fill - reference[1]) / (now - reference[0]))
            self._reference = (now, fill)
        return fill + self.rise * REDO_HORIZON


class RedoCeiling:
    """One throttle's redo log ceiling (see the module docstring)."""

    def __init__(self, settings: ThrottleSettings) -> None:
        self.ceiling = settings.redo_ceiling  # None once a budget's default cannot be read
        self.explicit = settings.max_redo_fill is not None
        self.fill: float | None = None  # the fill last read
        self.trend = RedoTrend()
        self._window = settings.probe_window

    def busy(self, reader: RedoReader, now: float) -> tuple[str, str] | None:
        """Why the work must wait, or None. A ceiling the user set must be readable (else a
        clear error); the one a latency budget sets by default is dropped, once and logged,
        where the server does not tell the fill (Aurora; MySQL before 8.0.30 without PROCESS)."""
        if self.ceiling is None:
            return None
        try:
            fill = reader.redo_fill()
        except DbArchiveError as exc:
            if self.explicit:
                raise
            self._drop(str(exc))
            return None
        if fill is None:
            if self.explicit:
                raise SourceError(
                    "the server reports no redo log checkpoint age (Aurora has none: its storage "
                    "applies the log): remove max_redo_fill"
                )
            self._drop("the server reports no redo log checkpoint age")
            return None
        self.fill = fill
        expected = self.trend.expected(now, fill)
        if expected <= self.ceiling:
            return None
        whose = "max_redo_fill" if self.explicit else "the latency budget's max_redo_fill"
        heading = (
            f", {min(expected, 1.0):.0%} in {REDO_HORIZON:g}s at its rise,"
            if expected > fill
            else ""
        )
        return "redo", (
            f"redo log {fill:.0%} full{heading} (checkpoint age / log size) > "
            f"{whose}={self.ceiling:g}: waiting for the server to flush"
        )

    def regrow(self, control: RateControl, now: float, decide: Decide) -> None:
        """Without a budget nothing else raises a cap this ceiling cut: raise it as a budget
        does on its probe's headroom (``RateControl.faster``: x1.5 far below the rate that filled
        the log, then steps, at most once per ``probe_window``) while the fill read at the last
        chunk boundary is under ``HEADROOM`` of the ceiling. So ``max_redo_fill`` alone follows
        the server's flushing instead of only ever slowing down."""
        ceiling, fill = self.ceiling, self.fill
        if control.cut_by != "redo" or ceiling is None or fill is None or fill > HEADROOM * ceiling:
            return
        rate = control.faster(now, self._window)
        if rate is not None:
            decide(
                "faster",
                "headroom",
                f"redo log {fill:.0%} full, under {HEADROOM * ceiling:.0%}: cap {rate:,.0f} rows/s",
                rate=rate,
            )

    def _drop(self, why: str) -> None:
        self.ceiling = None
        log.info("throttle: the latency budget goes on without its redo log ceiling: %s", why)
