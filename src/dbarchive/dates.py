"""Which days a command works on, and the rule for when a day may be archived.

A day is the calendar day of the table's ``timezone``. **A day may be archived only once it has
ended there and the table's ``settle`` time has passed** (:func:`is_settled`, the one function
that decides it for every path: export, plan, run, backfill, work units, Aurora, Airflow). Before
that, rows of the day may still arrive — from the writers of the day itself, or a little late
(a transaction committed after midnight with a timestamp before it) — and an archive taken then
would be published as complete while it is not. ``now`` always comes from a :class:`Clock`
(``Context.wall_clock``); ``--today`` moves only the retention cutoff, never this rule.
"""

from __future__ import annotations

import datetime as dt
from typing import Protocol
from zoneinfo import ZoneInfo

from dbarchive.errors import ConfigError, DayNotSettled


class SettleRule(Protocol):
    """What the settle rule needs of a table (``config.TableSpec`` is one)."""

    @property
    def name(self) -> str: ...

    @property
    def timezone(self) -> str: ...

    @property
    def settle(self) -> dt.timedelta: ...


_ONE_DAY = dt.timedelta(days=1)
NEVER = dt.datetime.max.replace(tzinfo=dt.UTC)  # when a day ending past the calendar settles


def day_start(day: dt.date, zone: str) -> dt.datetime:
    """The first instant of ``day`` in ``zone``: its local midnight (aware)."""
    return dt.datetime.combine(day, dt.time(), tzinfo=ZoneInfo(zone))


def day_end(day: dt.date, zone: str) -> dt.datetime:
    """The instant ``day`` ends in ``zone``: the next local midnight (23 or 25 hours on DST days)."""
    return day_start(day + _ONE_DAY, zone)


def today(zone: str, now: dt.datetime) -> dt.date:
    """The calendar day of ``now`` in ``zone``."""
    return now.astimezone(ZoneInfo(zone)).date()


def yesterday(zone: str, now: dt.datetime) -> dt.date:
    """The calendar day before today in ``zone`` (the default day to export)."""
    return today(zone, now) - _ONE_DAY


def settles_at(spec: SettleRule, day: dt.date) -> dt.datetime:
    """When ``day`` of this table may be archived: its end in the table's zone plus ``settle``.

    The settle time is added to the UTC instant (elapsed time): a DST change right after
    midnight neither shortens nor lengthens it.
    """
    try:
        return day_end(day, spec.timezone).astimezone(dt.UTC) + spec.settle
    except OverflowError:  # 9999-12-31 ends past the calendar: never (an outside trial crashed)
        return NEVER


def is_settled(spec: SettleRule, day: dt.date, now: dt.datetime) -> bool:
    """Whether ``day`` of this table may be archived at ``now`` (see the module docstring)."""
    return now >= settles_at(spec, day)


def newest_settled_day(spec: SettleRule, now: dt.datetime) -> dt.date:
    """The newest day of this table that may be archived at ``now``."""
    day = today(spec.timezone, now - spec.settle) - _ONE_DAY
    while day < dt.date.max and is_settled(spec, day + _ONE_DAY, now):
        day += _ONE_DAY
    while not is_settled(spec, day, now):
        day -= _ONE_DAY
    return day


def require_settled(spec: SettleRule, day: dt.date, now: dt.datetime) -> None:
    """Refuse (:class:`DayNotSettled`, exit 2) a day that may not be archived yet at ``now``."""
    if is_settled(spec, day, now):
        return
    moment = settles_at(spec, day)
    when = f"it may be archived from {moment:%Y-%m-%d %H:%M:%S} UTC"
    if moment == NEVER:
        when = "it may never be archived, as it ends past the calendar's last day"
    elif spec.timezone != "UTC":
        local = moment.astimezone(ZoneInfo(spec.timezone))
        when += f" ({local:%Y-%m-%d %H:%M:%S} {spec.timezone})"
    raise DayNotSettled(
        f"{spec.name} {day} has not ended in {spec.timezone} plus settle = "
        f"{duration_text(spec.settle)} (the time late writes get): {when}; the newest day "
        f"that may be archived now is {newest_settled_day(spec, now)}. "
        "Nothing was written; ask for an earlier day, or run again later",
        spec.name,
        day,
        moment,
    )


def duration_text(value: dt.timedelta) -> str:
    """``10 minutes``, ``1 hour``, ``90 seconds``: a duration the way the config writes it."""
    seconds = int(value.total_seconds())
    for unit, size in (("day", 86_400), ("hour", 3600), ("minute", 60)):
        if seconds and seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{seconds} second{'s' if seconds != 1 else ''}"


def shifted(day: dt.date, days: int) -> dt.date:
    """``day`` moved by ``days``, held inside the calendar (a row dated 0001-01-01 has no day
    before it, 9999-12-31 none after it)."""
    try:
        return day + dt.timedelta(days=days)
    except OverflowError:
        return dt.date.min if days < 0 else dt.date.max


def day_range(first: dt.date, last: dt.date, limit: int = 10_000) -> list[dt.date]:
    """Every day from ``first`` to ``last`` inclusive."""
    if last < first:
        raise ConfigError(f"--to {last} is before --from {first}; give the earlier day first")
    count = (last - first).days + 1
    if count > limit:
        raise ConfigError(f"{count} days asked for; at most {limit} at once")
    return [first + dt.timedelta(days=i) for i in range(count)]


def select_days(
    zone: str,
    date: dt.date | None,
    first: dt.date | None,
    last: dt.date | None,
    now: dt.datetime,
) -> list[dt.date]:
    """Resolve ``--date`` / ``--from``/``--to`` (exclusive choices) into days; default yesterday."""
    if date and (first or last):
        raise ConfigError("use either --date or --from/--to, not both")
    if first or last:
        if not (first and last):
            raise ConfigError("--from and --to go together")
        return day_range(first, last)
    return [date or yesterday(zone, now)]
