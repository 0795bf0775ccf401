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
# A pause that does not lower the fill cannot help: an idle MariaDB flushes only when it needs the
# room (its page cleaner rests while ``innodb_max_dirty_pages_pct_lwm`` is 0) and may leave the log
# 65 % full for good, which held every purge until ``max_pause`` (a CI run). After this many seconds
# of pausing with the fill within ``REDO_PARKED_DROP`` of where the pause found it, the ceiling
# moves ``REDO_PARKED_MARGIN`` above that fill, never past ``REDO_PARKED_LIMIT``: below the
# synchronous flush (80 % on MariaDB 10.11, later on MySQL 8) that the ceiling is there to avoid.
REDO_PARKED_AFTER = 30.0
REDO_PARKED_DROP = 0.01
REDO_PARKED_MARGIN = 0.05
REDO_PARKED_LIMIT = 0.75

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

    def __init__(self, settings: ThrottleSettings, decide: Decide | None = None) -> None:
        self.ceiling = settings.redo_ceiling  # None once a budget's default cannot be read
        self.explicit = settings.max_redo_fill is not None
        self.fill: float | None = None  # the fill last read
        self.trend = RedoTrend()
        self.raised: float | None = None  # the ceiling over a parked fill (``_parked``)
        self._waiting: tuple[float, float] | None = None  # (time, fill) a pause is judged from
        self._window = settings.probe_window
        self._decide = decide

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
        if self.raised is not None and fill <= self.ceiling:
            self.raised = None  # the server flushed: the ceiling is the one set again
        expected = self.trend.expected(now, fill)
        if expected <= (self.raised or self.ceiling) or self._parked(now, fill, expected):
            self._waiting = None
            return None
        whose = "max_redo_fill" if self.explicit else "the latency budget's max_redo_fill"
        if self.raised is not None:
            whose = f"{self.raised:.0%}, raised from {whose}={self.ceiling:g} (the log parked)"
        else:
            whose = f"{whose}={self.ceiling:g}"
        heading = (
            f", {min(expected, 1.0):.0%} in {REDO_HORIZON:g}s at its rise,"
            if expected > fill
            else ""
        )
        return "redo", (
            f"redo log {fill:.0%} full{heading} (checkpoint age / log size) > "
            f"{whose}: waiting for the server to flush"
        )

    def _parked(self, now: float, fill: float, expected: float) -> bool:
        """Whether a pause has waited ``REDO_PARKED_AFTER`` seconds with the fill flat (the
        server is not flushing: waiting longer cannot lower it); if so, raise the ceiling over
        it and say so. A fill that moves (flushed down, or others' writes pushing it up) starts
        the judgement afresh."""
        if self._waiting is None or abs(fill - self._waiting[1]) >= REDO_PARKED_DROP:
            self._waiting = (now, fill)
            return False
        since, parked = self._waiting
        raised = min(max(fill, parked) + REDO_PARKED_MARGIN, REDO_PARKED_LIMIT)
        if now - since < REDO_PARKED_AFTER or expected >= raised:
            return False
        self.raised = raised
        if self._decide is not None:
            self._decide(
                "ceiling",
                "redo",
                f"redo log still {fill:.0%} full after {now - since:.0f}s paused: the server is "
                f"not flushing it (InnoDB flushes when it needs the room), so pausing cannot "
                f"lower it; going on under {raised:.0%} until it is back under {self.ceiling:g}",
            )
        return True

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
