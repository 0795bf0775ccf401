"""The wall clock: what time it is, hence what "today" is and whether a day is over.

Durations (chunk times, throttling, run-time limits) use a monotonic clock, ``Context.clock``;
this is the other clock, the one that knows the date. Every decision that depends on the date
reads it from ``Context.wall_clock`` (a :class:`Clock`), so a test gives the core any instant it
needs without touching the retention options (``--today`` only moves the retention cutoff).
Timestamps recorded for people (``started_at``, ``finished_at``) read :func:`system_clock`.

**Testing hook** (like ``DBARCHIVE_FAILPOINT``): ``DBARCHIVE_NOW=2026-12-15T06:00:00+00:00`` makes
:func:`system_clock` — the clock of every Context built without one — read that instant, in this
process and in every process that inherits the variable (the CLI in a subprocess, an Airflow
task). ``DBARCHIVE_NOW_STEP=1`` also moves it on by that many seconds after each reading, for a
test that waits for a moment to pass (a sensor). Never set either in production: they decide
which days count as over.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import threading
from typing import Protocol

from dbarchive.errors import ConfigError

NOW_ENV = "DBARCHIVE_NOW"
STEP_ENV = "DBARCHIVE_NOW_STEP"
log = logging.getLogger("dbarchive")


class Clock(Protocol):
    """Tells the current instant."""

    def now(self) -> dt.datetime:
        """The current instant: an aware datetime in UTC."""
        ...


class SystemClock:
    """The machine's clock."""

    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)


class FixedClock:
    """A clock that reads ``at``, moved on by ``step`` after each reading (tests, ``DBARCHIVE_NOW``).

    Example: ``FixedClock(dt.datetime(2026, 12, 15, 6, tzinfo=dt.UTC))`` reads 06:00 UTC until
    ``advance(dt.timedelta(hours=1))`` moves it to 07:00.
    """

    def __init__(self, at: dt.datetime, step: dt.timedelta = dt.timedelta(0)) -> None:
        if at.tzinfo is None:
            raise ValueError("FixedClock needs an aware datetime (with a time zone)")
        self._at, self._step = at.astimezone(dt.UTC), step
        self._lock = threading.Lock()  # backfill workers read one clock from several threads

    def now(self) -> dt.datetime:
        with self._lock:
            value = self._at
            self._at += self._step
        return value

    def advance(self, delta: dt.timedelta) -> None:
        """Move the clock on by ``delta``."""
        with self._lock:
            self._at += delta


_SYSTEM = SystemClock()
_from_env: dict[tuple[str, str], FixedClock] = {}
_env_lock = threading.Lock()


def system_clock() -> Clock:
    """The machine's clock, or the testing hook's fixed clock when ``DBARCHIVE_NOW`` is set.

    One fixed clock per value of the variables, shared by the whole process, so a stepping clock
    keeps moving on from one Context (an Airflow task, a backfill worker) to the next.
    """
    at = os.environ.get(NOW_ENV)
    if not at:
        return _SYSTEM
    key = (at, os.environ.get(STEP_ENV, ""))
    with _env_lock:
        if key not in _from_env:
            _from_env[key] = FixedClock(_parse_now(key[0]), _parse_step(key[1]))
            log.warning("%s=%s: the wall clock is fixed there (a testing hook)", NOW_ENV, at)
        return _from_env[key]


def _parse_now(text: str) -> dt.datetime:
    try:
        at = dt.datetime.fromisoformat(text)
    except ValueError:
        at = None
    if at is None or at.tzinfo is None:
        raise ConfigError(
            f"{NOW_ENV}={text!r} is not an ISO 8601 instant with its offset, like "
            "2026-12-15T06:00:00+00:00; fix it or unset it (it is a testing hook)"
        )
    return at


def _parse_step(text: str) -> dt.timedelta:
    try:
        seconds = float(text or 0)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds <= 86_400:
        raise ConfigError(f"{STEP_ENV}={text!r} is not a number of seconds from 0 to 86400")
    return dt.timedelta(seconds=seconds)


__all__ = ["NOW_ENV", "STEP_ENV", "Clock", "FixedClock", "SystemClock", "system_clock"]
