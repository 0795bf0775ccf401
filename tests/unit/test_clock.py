"""The wall clock and its testing hook (DBARCHIVE_NOW / DBARCHIVE_NOW_STEP)."""

from __future__ import annotations

import datetime as dt

import pytest

from dbarchive.clock import FixedClock, SystemClock, system_clock
from dbarchive.errors import ConfigError


def test_the_system_clock_is_aware_utc(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DBARCHIVE_NOW", raising=False)
    clock = system_clock()
    assert isinstance(clock, SystemClock)
    assert clock.now().utcoffset() == dt.timedelta(0)


def test_the_hook_fixes_the_clock_and_steps_it_once_per_reading(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One clock per value for the whole process: a second Context keeps stepping it on."""
    monkeypatch.setenv("DBARCHIVE_NOW", "2026-11-25T01:09:58+01:00")
    monkeypatch.setenv("DBARCHIVE_NOW_STEP", "1")
    start = dt.datetime(2026, 11, 25, 0, 9, 58, tzinfo=dt.UTC)
    assert system_clock().now() == start
    assert system_clock().now() == start + dt.timedelta(seconds=1)
    assert system_clock().now().tzinfo == dt.UTC
    monkeypatch.delenv("DBARCHIVE_NOW_STEP")
    fixed = system_clock()
    assert fixed.now() == fixed.now() == start


@pytest.mark.parametrize(
    ("name", "value", "fragment"),
    [
        ("DBARCHIVE_NOW", "2026-11-25 00:10", "with its offset"),
        ("DBARCHIVE_NOW", "tomorrow", "is not an ISO 8601 instant"),
        ("DBARCHIVE_NOW_STEP", "a second", "number of seconds"),
    ],
)
def test_a_bad_hook_value_is_a_config_error_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, fragment: str
) -> None:
    monkeypatch.setenv("DBARCHIVE_NOW", "2026-11-25T00:00:00+00:00")
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=fragment) as refused:
        system_clock()
    assert name in str(refused.value)


def test_a_fixed_clock_moves_only_when_told() -> None:
    clock = FixedClock(dt.datetime(2026, 12, 15, 6, tzinfo=dt.UTC))
    assert clock.now() == clock.now()
    clock.advance(dt.timedelta(hours=1))
    assert clock.now().hour == 7
    with pytest.raises(ValueError, match="aware"):
        FixedClock(dt.datetime(2026, 12, 15))
