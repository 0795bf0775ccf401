"""Day selection and day windows, including DST days."""

from __future__ import annotations

import datetime as dt

import pytest

from dbarchive.dates import day_range, select_days, shifted, yesterday
from dbarchive.errors import ConfigError
from dbarchive.sources.table import day_holding, day_window

NOW = dt.datetime(2026, 11, 25, 12, tzinfo=dt.UTC)


def test_yesterday_follows_the_zone() -> None:
    """At 23:30 UTC it is already tomorrow in Tokyo, so 'yesterday' differs."""
    now = dt.datetime(2026, 11, 24, 23, 30, tzinfo=dt.UTC)
    assert yesterday("UTC", now) == dt.date(2026, 11, 23)
    assert yesterday("Asia/Tokyo", now) == dt.date(2026, 11, 24)


def test_range_and_exclusive_options() -> None:
    """--from/--to is inclusive; --date with a range is refused."""
    assert day_range(dt.date(2026, 1, 30), dt.date(2026, 2, 2))[-1] == dt.date(2026, 2, 2)
    assert len(day_range(dt.date(2026, 1, 30), dt.date(2026, 2, 2))) == 4
    with pytest.raises(ConfigError):
        select_days("UTC", dt.date(2026, 1, 1), dt.date(2026, 1, 1), dt.date(2026, 1, 2), NOW)
    with pytest.raises(ConfigError):
        day_range(dt.date(2026, 1, 2), dt.date(2026, 1, 1))


def test_default_day_is_yesterday_by_the_given_clock() -> None:
    """No --date: yesterday of ``now`` in the table's zone (the wall clock decides, not the host)."""
    assert select_days("UTC", None, None, None, NOW) == [dt.date(2026, 11, 24)]
    late = dt.datetime(2026, 11, 25, 23, 30, tzinfo=dt.UTC)
    assert select_days("Asia/Tokyo", None, None, None, late) == [dt.date(2026, 11, 25)]


def test_utc_window() -> None:
    """A UTC day is [00:00:00.000000, next 00:00:00.000000) in the column's text."""
    w = day_window(dt.date(2026, 3, 8), "UTC", "UTC")
    assert (w.start_param, w.end_param) == (
        "2026-03-08 00:00:00.000000",
        "2026-03-09 00:00:00.000000",
    )


def test_dst_spring_forward_day_is_23_hours() -> None:
    """New York's 2026-03-08 runs from 05:00 UTC to 04:00 UTC next day (23 hours)."""
    w = day_window(dt.date(2026, 3, 8), "America/New_York", "UTC")
    assert (w.start_param, w.end_param) == (
        "2026-03-08 05:00:00.000000",
        "2026-03-09 04:00:00.000000",
    )
    assert w.end.astimezone(dt.UTC) - w.start.astimezone(dt.UTC) == dt.timedelta(hours=23)


def test_dst_fall_back_day_is_25_hours() -> None:
    """Berlin's 2026-10-25 lasts 25 hours."""
    w = day_window(dt.date(2026, 10, 25), "Europe/Berlin", "UTC")
    assert (w.start_param, w.end_param) == (
        "2026-10-24 22:00:00.000000",
        "2026-10-25 23:00:00.000000",
    )


def test_local_partition_zone_with_local_column_zone() -> None:
    """When DATETIME values are stored in local time, the window is local midnights."""
    w = day_window(dt.date(2026, 3, 8), "America/New_York", "America/New_York")
    assert (w.start_param, w.end_param) == (
        "2026-03-08 00:00:00.000000",
        "2026-03-09 00:00:00.000000",
    )


@pytest.mark.parametrize("zone", ["UTC", "America/New_York", "Asia/Tokyo"])
def test_the_first_day_of_the_calendar_starts_at_the_first_value_a_column_holds(zone: str) -> None:
    """Four-digit years (strftime wrote year 1 as '1', which MySQL reads as 2001), and day
    0001-01-01 takes every value before it in any zone (none is before the calendar)."""
    window = day_window(dt.date.min, zone, "UTC")
    assert window.start_param == "0001-01-01 00:00:00.000000"
    assert window.end_param.startswith("0001-01-0")
    later = day_window(dt.date(999, 3, 1), "UTC", "UTC")
    assert (later.start_param, later.end_param) == (
        "0999-03-01 00:00:00.000000",
        "0999-03-02 00:00:00.000000",
    )


def test_shifted_stays_inside_the_calendar() -> None:
    assert shifted(dt.date.min, -2) == dt.date.min and shifted(dt.date.max, 1) == dt.date.max
    assert shifted(dt.date(2026, 3, 1), -1) == dt.date(2026, 2, 28)


@pytest.mark.parametrize(
    ("text", "zone", "column_zone", "day"),
    [
        # New York skips 02:00-03:00 on 2026-03-08; Phoenix's 03-08 starts at 03:00 New York
        # time, so the queries put the never-happened 02:30 in 03-07 (converted alone: 03-08)
        ("2026-03-08 02:30:00", "America/Phoenix", "America/New_York", dt.date(2026, 3, 7)),
        ("2026-03-08 03:00:00", "America/Phoenix", "America/New_York", dt.date(2026, 3, 8)),
        ("2026-03-08 01:59:59.999999", "America/Phoenix", "America/New_York", dt.date(2026, 3, 7)),
        ("2026-10-25 00:00:00", "Europe/Berlin", "Europe/Berlin", dt.date(2026, 10, 25)),
        ("2026-10-24 23:59:59.999999", "Europe/Berlin", "UTC", dt.date(2026, 10, 25)),
        ("2026-10-24 21:59:59", "Europe/Berlin", "UTC", dt.date(2026, 10, 24)),
        ("0001-01-01 00:00:00", "America/Los_Angeles", "UTC", dt.date.min),
    ],
)
def test_a_value_belongs_to_the_day_whose_window_holds_it(
    text: str, zone: str, column_zone: str, day: dt.date
) -> None:
    value = dt.datetime.fromisoformat(text)
    assert day_holding(text, zone, column_zone) == day
    if day != dt.date.min:
        window = day_window(day, zone, column_zone)
        assert dt.datetime.fromisoformat(window.start_param) <= value
        assert value < dt.datetime.fromisoformat(window.end_param)
