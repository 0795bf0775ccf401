"""The day rule: a day may be archived only once it has ended in its table's zone plus ``settle``.

Every boundary below is worked out by hand (the day's end in the zone, in UTC, plus the settle
time as elapsed time), not by the code under test: one microsecond before it the day is refused,
at it and one microsecond after it the day may be archived.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from dbarchive import export_day, plan_day
from dbarchive.build import build_context
from dbarchive.clock import FixedClock
from dbarchive.config import TableSpec, job_from_dict
from dbarchive.dates import is_settled, newest_settled_day, require_settled, settles_at
from dbarchive.errors import ConfigError, DayNotSettled
from dbarchive.units.plan import plan_units

US = dt.timedelta(microseconds=1)


def _spec(zone: str, settle: str = "10 minutes", **extra: object) -> TableSpec:
    job = job_from_dict(
        {
            "destination": {"url": "/nonexistent/archive"},
            "tables": [
                {"name": "events", "timestamp_column": "created_at", "timezone": zone,
                 "settle": settle, **extra}
            ],
        }
    )  # fmt: skip
    return job.tables[0]


def _utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)


BOUNDARIES = [
    # zone, settle, day, the first instant it may be archived (UTC), why
    ("UTC", "10 minutes", dt.date(2026, 11, 24), _utc(2026, 11, 25, 0, 10), "UTC"),
    ("Asia/Tokyo", "10 minutes", dt.date(2026, 11, 24), _utc(2026, 11, 24, 15, 10),
     "east: Tokyo's midnight is 15:00 UTC the day before"),
    ("America/Los_Angeles", "10 minutes", dt.date(2026, 11, 24), _utc(2026, 11, 25, 8, 10),
     "west: Los Angeles' midnight is 08:00 UTC"),
    ("Europe/Berlin", "3 hours", dt.date(2026, 3, 28), _utc(2026, 3, 29, 2),
     "east, DST starts at 02:00 inside the settle time: 3 hours elapsed, not 3 on the wall"),
    ("Europe/Berlin", "10 minutes", dt.date(2026, 3, 29), _utc(2026, 3, 29, 22, 10),
     "east, the 23-hour day itself ends at 22:00 UTC"),
    ("America/New_York", "2 hours", dt.date(2026, 10, 31), _utc(2026, 11, 1, 6),
     "west, DST ends at 02:00 inside the settle time: 2 hours elapsed, not 2 on the wall"),
    ("America/New_York", "10 minutes", dt.date(2026, 11, 1), _utc(2026, 11, 2, 5, 10),
     "west, the 25-hour day ends at 05:00 UTC"),
    ("Australia/Sydney", "3 hours", dt.date(2026, 10, 3), _utc(2026, 10, 3, 17),
     "east of UTC with DST: it starts at 02:00 on 2026-10-04"),
    ("UTC", "0 minutes", dt.date(2026, 11, 24), _utc(2026, 11, 25), "no settle time"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("zone", "settle", "day", "boundary"),
    [b[:4] for b in BOUNDARIES],
    ids=[f"{b[0]}-{b[2]}-{b[1].replace(' ', '')}" for b in BOUNDARIES],
)
def test_a_day_may_be_archived_from_its_end_plus_settle_to_the_microsecond(
    zone: str, settle: str, day: dt.date, boundary: dt.datetime
) -> None:
    """end + settle - 1 µs: refused (exit 2); end + settle and + 1 µs: allowed."""
    spec = _spec(zone, settle)
    assert settles_at(spec, day) == boundary
    before = boundary - US
    assert not is_settled(spec, day, before)
    with pytest.raises(DayNotSettled) as refused:
        require_settled(spec, day, before)
    assert refused.value.exit_code == 2 and refused.value.settles_at == boundary
    assert newest_settled_day(spec, before) == day - dt.timedelta(days=1)
    for now in (boundary, boundary + US):
        assert is_settled(spec, day, now)
        require_settled(spec, day, now)
        assert newest_settled_day(spec, now) == day


def test_the_refusal_names_the_day_when_it_may_be_archived_and_the_newest_day_that_may() -> None:
    spec = _spec("Europe/Berlin")
    now = _utc(2026, 11, 24, 23, 5)  # 00:05 in Berlin: 11-24 is over, not settled
    with pytest.raises(DayNotSettled) as refused:
        require_settled(spec, dt.date(2026, 11, 24), now)
    message = str(refused.value)
    assert message.startswith("events 2026-11-24 has not ended in Europe/Berlin plus settle = ")
    assert "10 minutes" in message
    assert "may be archived from 2026-11-24 23:10:00 UTC (2026-11-25 00:10:00 Europe/Berlin)" in (
        message
    )
    assert "the newest day that may be archived now is 2026-11-23" in message
    assert "Nothing was written" in message


def test_today_and_tomorrow_are_never_settled() -> None:
    spec = _spec("UTC", "0 minutes")
    now = _utc(2026, 11, 25, 23, 59, 59, 999_999)
    for day in (dt.date(2026, 11, 25), dt.date(2026, 11, 26), dt.date(2027, 1, 1)):
        assert not is_settled(spec, day, now)


def _context(tmp_path: Path, now: dt.datetime, **table: object) -> object:
    """A Context whose source is a closed port: using it would fail with a SourceError."""
    job = job_from_dict(
        {
            "source": {"url": "mysql://nobody@127.0.0.1:1/db", "connect_timeout": 1},
            "destination": {"url": str(tmp_path / "archive")},
            "tables": [{"name": "events", "timestamp_column": "created_at", **table}],
        }
    )
    return build_context(job, wall_clock=FixedClock(now))


@pytest.mark.parametrize(
    "table",
    [{}, {"range_rows": 1000}],
    ids=["whole-day", "work-units"],
)
def test_every_entry_point_refuses_before_touching_the_source_or_the_archive(
    tmp_path: Path, table: dict[str, object]
) -> None:
    """export_day, plan_day and plan_units read the context's clock first: at 00:05 UTC
    yesterday is refused with DayNotSettled (not a connection error), and no file appears."""
    ctx = _context(tmp_path, _utc(2026, 11, 25, 0, 5), **table)
    spec = ctx.job.tables[0]  # type: ignore[attr-defined]
    for call in (export_day, plan_day, plan_units):
        with pytest.raises(DayNotSettled):
            call(ctx, spec, dt.date(2026, 11, 24))  # type: ignore[operator]
    assert not (tmp_path / "archive").exists()


def test_settle_setting_parses_durations_and_refuses_the_rest() -> None:
    assert _spec("UTC").settle == dt.timedelta(minutes=10)  # the default
    for text, value in [
        ("90 seconds", dt.timedelta(seconds=90)),
        ("1 hour", dt.timedelta(hours=1)),
        ("2 days", dt.timedelta(days=2)),
        ("0 minutes", dt.timedelta(0)),
        ("15 min", dt.timedelta(minutes=15)),
    ]:
        assert _spec("UTC", text).settle == value
    for bad, fragment in [
        ("10", "is not like '10 minutes'"),
        ("10 m", "is not like '10 minutes'"),  # "m" is months in retention: not guessed here
        ("8 days", "from '0 seconds' to '7 days'"),
    ]:
        with pytest.raises(ConfigError, match=fragment) as refused:
            _spec("UTC", bad)
        assert "tables.0.settle" in str(refused.value)
    with pytest.raises(ConfigError, match="must be over an hour shorter than retention"):
        _spec("UTC", "1 day", retention="1 day")


def test_backfill_days_stop_at_the_newest_settled_day_and_refuse_a_last_day_not_over(
    tmp_path: Path,
) -> None:
    """With --today ahead of the clock the default range ends at the newest settled day (not the
    cutoff's eve); a --to not over is refused. No database is needed when --from is given."""
    from dbarchive.jobs.backfill import backfill_days

    ctx = _context(tmp_path, _utc(2026, 11, 25, 0, 5), retention="2 days")
    spec, first = ctx.job.tables[0], dt.date(2026, 11, 20)  # type: ignore[attr-defined]
    ahead = dt.date(2026, 11, 29)  # cutoff 11-27: the day before it, 11-26, is not over
    days = backfill_days(ctx, spec, first, None, ahead)  # type: ignore[arg-type]
    assert days == [dt.date(2026, 11, d) for d in range(20, 24)]  # 11-24 not settled at 00:05
    with pytest.raises(DayNotSettled):
        backfill_days(ctx, spec, first, dt.date(2026, 11, 24), ahead)  # type: ignore[arg-type]


def test_the_calendars_last_day_never_settles_and_is_refused_plainly() -> None:
    """``--date 9999-12-31``: its end is past the calendar, which crashed with OverflowError
    (an outside trial); it is a day that may never be archived, exit 2 like any future day."""
    spec = _spec("UTC")
    now = dt.datetime(2026, 11, 25, 6, tzinfo=dt.UTC)
    assert not is_settled(spec, dt.date.max, now)
    with pytest.raises(DayNotSettled, match="may never be archived") as refused:
        require_settled(spec, dt.date.max, now)
    assert refused.value.exit_code == 2
