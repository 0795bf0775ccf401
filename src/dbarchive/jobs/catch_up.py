"""Which days the daily job exports: yesterday, the missed days of the retention window, and the
archived days whose rows changed since (by count; the newest ``recheck_days`` also by digest).

Also the one short statement every job uses to size a day (:func:`day_plan`).
"""

from __future__ import annotations

import datetime as dt

from dbarchive.checksum import RowDigest
from dbarchive.config import TableSpec
from dbarchive.context import Context
from dbarchive.dates import day_range, duration_text, newest_settled_day, settles_at, shifted
from dbarchive.events import Event
from dbarchive.manifest import Manifest
from dbarchive.sources.charsets import key_scan_refusal
from dbarchive.sources.protocol import Source
from dbarchive.sources.table import ScanPlan, TableInfo
from dbarchive.steps import upload
from dbarchive.steps.archived_columns import column_change
from dbarchive.steps.verify import archive_scope, source_digest
from dbarchive.throttle import Throttle


def days_with_rows(
    ctx: Context, spec: TableSpec, before: dt.date, around: int = 0
) -> list[dt.date]:
    """The days before ``before`` that hold rows, each with the ``around`` days either side of
    it, oldest first. Found by seeking the time index from one such day to the next, so a row
    dated 0001-01-01 or 1970-01-01 costs a few statements, not one per calendar day since."""
    info = ctx.describe(spec)
    days: list[dt.date] = []
    found = ctx.source.oldest_day(spec, info)
    while found is not None and found < before:
        first = shifted(found, -around)
        if days:
            first = max(first, days[-1] + dt.timedelta(days=1))
        last = min(shifted(found, around), shifted(before, -1))
        days += day_range(first, last)
        if last >= shifted(before, -1):
            break
        found = ctx.source.oldest_day(spec, info, since=last + dt.timedelta(days=1))
    return days


def day_rows(ctx: Context, spec: TableSpec, day: dt.date, manifest: Manifest | None = None) -> int:
    return day_plan(ctx, spec, day, manifest=manifest).estimated_rows


def late_rows(ctx: Context, spec: TableSpec, day: dt.date, manifest: Manifest) -> bool:
    """Whether the day now holds more rows than its archive (one index-only count). A backfill
    checks a day it verified before purging it: purged straight away, the late row was kept
    and the day failed, and every rerun skipped it as verified (an outside trial)."""
    return day_rows(ctx, spec, day, manifest) > manifest.effective_digest.count


def day_plan(
    ctx: Context,
    spec: TableSpec,
    day: dt.date,
    scan: str | None = None,
    manifest: Manifest | None = None,
    source: Source | None = None,
) -> ScanPlan:
    """The day's scan plan: its row count and key bounds (one short index-only statement);
    with the day's ``manifest``, over the rows its archive was made from (``archive_scope``);
    on the primary unless ``source`` says where (the export's ``ctx.reads``)."""
    info = ctx.describe(spec)
    if manifest is None:
        window = ctx.source.window(spec, info, day)
    else:
        info, window = archive_scope(info, manifest)
    source = source or ctx.source
    return source.plan_scan(info, window, scan or _sizing_scan(info))


def _sizing_scan(info: TableInfo) -> str:
    """The scan a day is sized (and, unarchived, purged) by: its key's range, unless the key is
    composite or text UTF-8 cannot carry, whose days go through the time index (an outside
    re-test: a latin1 UUID key, exported by time, was refused by every purge and status)."""
    return "key" if len(info.key) == 1 and key_scan_refusal(info) is None else "time"


def catch_up_days(
    ctx: Context,
    spec: TableSpec,
    today: dt.date,
    recheck: bool = True,
    throttle: Throttle | None = None,
) -> list[dt.date]:
    """Yesterday, plus earlier days inside the retention window without an archive, from the
    day of the oldest row on: an empty one gets its 0-row manifest too ("archived and empty" is
    not "never archived"; it costs one count, once).

    An archived day is exported again only if its rows changed: its row count (late rows), or,
    for the ``recheck_days`` days before the newest, its digest (updated rows); so a second run on
    the same day exports nothing. ``recheck=False`` (``status``) reads no day; a digest read is
    paced by ``throttle`` as an export's reads are, and stops (``StopRequested``) after a chunk
    on a signal, stop file or ``max_runtime``, like the export after it. Only days that have
    ended plus ``settle`` by the wall clock count (:func:`waiting_days` are the others): when
    yesterday has not settled yet, the newest day that has takes its place, and yesterday is
    caught up later.
    """
    last = min(today - dt.timedelta(days=1), newest_settled_day(spec, ctx.wall_clock.now()))
    cutoff = spec.retention.cutoff(today)
    if last < cutoff:
        return []  # every settled day has expired: the purge archives what it deletes
    oldest = ctx.source.oldest_day(spec, ctx.describe(spec)) or last
    first = max(cutoff, oldest)
    earlier = day_range(first, last, limit=100_000)[:-1] if first <= last else []
    since = last - dt.timedelta(days=spec.recheck_days if recheck else -1)
    return [
        d
        for d in [*earlier, last]
        if _needs_export(ctx, spec, d, by_digest=d >= since, throttle=throttle)
    ]


def waiting_days(ctx: Context, spec: TableSpec, today: dt.date) -> list[dt.date]:
    """The days up to yesterday that have not ended plus ``settle`` yet: not exported now."""
    newest = newest_settled_day(spec, ctx.wall_clock.now())
    yesterday = today - dt.timedelta(days=1)
    first = newest + dt.timedelta(days=1)
    return day_range(first, yesterday, limit=100_000) if first <= yesterday else []


def waiting_note(spec: TableSpec, days: list[dt.date]) -> str:
    span = str(days[0]) if len(days) == 1 else f"{days[0]} .. {days[-1]}"
    return (
        f"{spec.name} {span}: not exported yet, not over in {spec.timezone} plus settle = "
        f"{duration_text(spec.settle)}; {days[0]} may be archived from "
        f"{settles_at(spec, days[0]):%Y-%m-%d %H:%M:%S} UTC, and a later run exports it"
    )


def _needs_export(
    ctx: Context,
    spec: TableSpec,
    day: dt.date,
    by_digest: bool,
    throttle: Throttle | None,
) -> bool:
    """Not archived yet, or its rows changed since: by count, or ``by_digest`` (one read of the
    day)."""
    partition = ctx.partition(spec, day)
    manifest = upload.read_manifest(ctx.storage, partition)
    if manifest is None:
        return True
    if upload.read_purge_marker(ctx.storage, partition) is not None:
        return False
    change = column_change(ctx.describe(spec), manifest)
    if change is not None and change.dropped:
        return False  # the archive alone holds those columns' values: kept (the purge says so)
    reads = ctx.reads(spec, day)  # asked where the export would read it
    if day_plan(ctx, spec, day, manifest=manifest, source=reads).estimated_rows != (
        manifest.effective_digest.count
    ):
        return True  # counted as it was archived
    if not by_digest:
        return False
    return _day_digest(ctx, spec, manifest, reads, throttle) != manifest.effective_digest


def _day_digest(
    ctx: Context, spec: TableSpec, manifest: Manifest, reads: Source, throttle: Throttle | None
) -> RowDigest:
    """The digest of the rows the day's archive was made from, as the database holds them now
    (said first: on a big day it is a read of the whole day)."""
    info, window = archive_scope(ctx.describe(spec), manifest)
    plan = reads.plan_scan(info, window, manifest.scan)
    ctx.reporter.emit(
        Event("recheck", spec.name, manifest.day.isoformat(), "info", message=(
            f"reading the day's {manifest.effective_digest.count:,} archived rows again to find "
            f"rows updated since (recheck_days = {spec.recheck_days})"
        ))
    )  # fmt: skip
    return source_digest(
        reads, info, window, plan, spec.chunk_rows, throttle, progress=lambda _n: ctx.check_stop()
    )


# An archive keeps the window it was made with, which may start up to a day and two hours
# (zone offsets) away from today's rule for its day: it can hold rows of a neighbouring day.
_EARLIER_WINDOWS = 2


def expired_days(ctx: Context, spec: TableSpec, today: dt.date) -> list[dt.date]:
    """The days before the retention cutoff that hold rows, oldest first.

    Each comes with the two days either side: a day archived under another rule (a DATE column
    that followed the table's zone, a changed ``timezone``) holds the rows of its recorded
    window, which may be a neighbour's by today's rule; a day with nothing to purge costs one
    count. Only settled days: a cutoff counted from a ``today`` ahead of the clock does not
    reach a day that may not be archived yet (it could be neither archived nor purged).
    """
    settled = newest_settled_day(spec, ctx.wall_clock.now()) + dt.timedelta(days=1)
    before = min(spec.retention.cutoff(today), settled)
    return days_with_rows(ctx, spec, before, _EARLIER_WINDOWS)
