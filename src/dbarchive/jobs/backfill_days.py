"""Which days a backfill covers, and which of them are done already (resumable runs)."""

from __future__ import annotations

import datetime as dt

from dbarchive.config import TableSpec
from dbarchive.context import Context
from dbarchive.dates import day_range, newest_settled_day, shifted
from dbarchive.errors import ConfigError
from dbarchive.jobs.catch_up import days_with_rows
from dbarchive.steps import upload
from dbarchive.units.records import is_verified

DAY_LIMIT = 100_000  # days in one backfill (every calendar day up to it; over it, days with rows)


def backfill_days(
    ctx: Context, spec: TableSpec, first: dt.date | None, last: dt.date | None, today: dt.date
) -> list[dt.date]:
    """The days to backfill: as given, else from the oldest row's day to the day before the
    cutoff; past ``DAY_LIMIT`` days, only those holding rows (a stray row dated 1000-01-01 made
    every backfill "375019 days asked for": an outside trial). Never a day that has not ended
    plus ``settle``: a ``last`` given that has not is refused (DayNotSettled, nothing written);
    the default stops at the newest settled day (``today`` ahead of the wall clock)."""
    cutoff = spec.retention.cutoff(today)
    if last is not None:
        ctx.require_settled(spec, last)
    if first is None:
        first = ctx.source.oldest_day(spec, ctx.describe(spec))
        if first is None:
            return []
    newest = newest_settled_day(spec, ctx.wall_clock.now())
    last = last or min(cutoff - dt.timedelta(days=1), newest)
    if first > last:
        return []
    if (last - first).days < DAY_LIMIT:
        return day_range(first, last, limit=DAY_LIMIT)
    held = [d for d in days_with_rows(ctx, spec, shifted(last, 1)) if d >= first]
    if len(held) > DAY_LIMIT:
        raise ConfigError(f"{len(held)} days with rows asked for; at most {DAY_LIMIT} at once")
    return held


def day_is_done(ctx: Context, spec: TableSpec, day: dt.date, purge: bool, today: dt.date) -> bool:
    """Nothing left to do: purged, or archived and verified (and not to be purged now)."""
    partition = ctx.partition(spec, day)
    marker = upload.read_purge_marker(ctx.storage, partition) or {}
    if marker.get("status") == "purged":
        return True
    manifest = upload.read_manifest(ctx.storage, partition)
    if manifest is None or not is_verified(ctx.storage, partition, manifest):
        return False
    return not (purge and day < spec.retention.cutoff(today))
