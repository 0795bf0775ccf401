"""What a purge would do with each expired day before deleting it (``purge --dry-run``,
``api.purge_preview``).

The purge exports a day first when it is not archived, when the database holds another number
of its rows than the archive (late rows), or when the table's columns changed since the day was
archived (the purge matches whole rows, so the archive must have today's columns): the preview
says which, with the columns the export would write. It reads the manifest, the purge record and
one index-only count per day, as the dry-run always did: a row changed in place (same count) is
found by the purge's own verification, not here.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from dbarchive.config import TableSpec
from dbarchive.context import Context
from dbarchive.jobs.catch_up import day_rows, expired_days
from dbarchive.sources import mysql_sql
from dbarchive.steps import upload
from dbarchive.steps.archived_columns import column_change, dropped_columns_refusal
from dbarchive.steps.verify import purge_begun


@dataclass(frozen=True)
class DayPreview:
    """One expired day: its rows in the database, and why it would be exported first (if so)."""

    day: dt.date
    rows: int
    export_first: str | None = None  # why, and with which columns; None: verified as archived
    # on_unarchived = "fail", a dropped column, a partly purged day's retyped column: the day
    # keeps its rows (an error says why) and the purge goes on with the next day
    kept: bool = False


@dataclass(frozen=True)
class PurgePreview:
    """What a purge of one table would do: the first day its retention keeps, each expired day
    with rows, and the statement each chunk deletes with (the keys that matched the archive)."""

    table: str
    cutoff: dt.date
    days: tuple[DayPreview, ...]
    delete_sql: str

    @property
    def rows(self) -> int:
        """The rows the purge would delete (days that keep their rows left out)."""
        return sum(d.rows for d in self.days if not d.kept)


def preview(ctx: Context, spec: TableSpec, today: dt.date) -> PurgePreview:
    """What purging ``spec`` on ``today`` would do, changing nothing (see the module doc)."""
    days = tuple(
        p for p in (preview_day(ctx, spec, d) for d in expired_days(ctx, spec, today)) if p.rows
    )
    sql = mysql_sql.delete_keys_sql(ctx.describe(spec), 2)
    return PurgePreview(spec.name, spec.retention.cutoff(today), days, sql)


def preview_day(ctx: Context, spec: TableSpec, day: dt.date) -> DayPreview:
    """What the purge would do with ``day`` (see the module doc)."""
    partition = ctx.partition(spec, day)
    manifest = upload.read_manifest(ctx.storage, partition)
    rows = day_rows(ctx, spec, day, manifest)
    info = ctx.describe(spec)
    today = f"with today's {len(info.columns)} columns"
    if manifest is None:
        return _export(spec, day, rows, "not archived", f"exported first, {today}")
    change = column_change(info, manifest)
    begun = purge_begun(upload.read_purge_marker(ctx.storage, partition))
    if change is not None:
        why = f"columns changed since it was archived ({change.describe()})"
        if begun and change.archive_whole:  # matched on the archived columns (grow.py)
            then = (
                "its purge has begun, so it grows by rows of the archived columns: rows whose "
                "added columns hold other values than their defaults are kept"
            )
            return DayPreview(day, rows, f"{why}; {then}")
        if begun:
            then = "its purge has begun, so it is not exported again: its rows are kept"
            return DayPreview(day, rows, f"{why}; {then}", kept=True)
        if change.dropped:
            return DayPreview(day, rows, dropped_columns_refusal(spec.name, day, change), True)
        return _export(spec, day, rows, why, f"exported again first, {today}")
    archived = manifest.effective_digest.count
    if not begun and rows != archived:
        why = f"the database holds {rows} of its rows, the archive {archived}"
        return _export(spec, day, rows, why, "exported again first, with the archived columns")
    return DayPreview(day, rows)


def _export(spec: TableSpec, day: dt.date, rows: int, why: str, then: str) -> DayPreview:
    if spec.on_unarchived == "fail":
        return DayPreview(day, rows, f"{why}; on_unarchived = 'fail': the day is not purged", True)
    return DayPreview(day, rows, f"{why}: {then}")
