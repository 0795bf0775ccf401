"""Which days a command works on: yesterday in the table's zone, one date, or a range."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from dbarchive.errors import ConfigError


def yesterday(zone: str, now: dt.datetime | None = None) -> dt.date:
    """The calendar day before today in ``zone`` (the default day to export)."""
    now = now or dt.datetime.now(dt.UTC)
    return (now.astimezone(ZoneInfo(zone)) - dt.timedelta(days=1)).date()


def day_range(first: dt.date, last: dt.date, limit: int = 10_000) -> list[dt.date]:
    """Every day from ``first`` to ``last`` inclusive."""
    if last < first:
        raise ConfigError(f"--to {last} is before --from {first}; give the earlier day first")
    count = (last - first).days + 1
    if count > limit:
        raise ConfigError(f"{count} days asked for; at most {limit} at once")
    return [first + dt.timedelta(days=i) for i in range(count)]


def select_days(
    zone: str, date: dt.date | None, first: dt.date | None, last: dt.date | None
) -> list[dt.date]:
    """Resolve ``--date`` / ``--from``/``--to`` (exclusive choices) into days; default yesterday."""
    if date and (first or last):
        raise ConfigError("use either --date or --from/--to, not both")
    if first or last:
        if not (first and last):
            raise ConfigError("--from and --to go together")
        return day_range(first, last)
    return [date or yesterday(zone)]
