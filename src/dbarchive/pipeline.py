"""The core job: plan and export table-days. No I/O of its own: it drives Source and Storage.

``export_day`` is the whole export of one partition: describe → plan the scan → read what the
partition holds → stream rows into the next generation's part files → publish (claim, promote,
commit the manifest, clean up; ``steps/publish.py``). The S3 survey starts on a thread while MySQL
plans the day; a day whose purge has begun grows instead (``steps/grow.py``); a re-export that
finds the same rows publishes nothing.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from dbarchive import lakehouse
from dbarchive.config import TableSpec
from dbarchive.context import Context
from dbarchive.errors import VerificationError
from dbarchive.identity import require_same_zone
from dbarchive.layout import PartitionPath
from dbarchive.manifest import Manifest
from dbarchive.sources import mysql_sql as q
from dbarchive.sources.table import DayWindow, ScanPlan
from dbarchive.steps import publish, upload
from dbarchive.steps.outcome import (
    ExportResult,
    build_manifest,
    emit_export_event,
    finish_publication,
    now_text,
)
from dbarchive.steps.stream import rows_gone, write_rows
from dbarchive.steps.verify import purge_begun
from dbarchive.storage.gated import GatedStorage
from dbarchive.strategies import strategy_for
from dbarchive.throttle import Throttle
from dbarchive.units.plan import RowsGone
from dbarchive.units.publish import export_day_in_units


@dataclass(frozen=True)
class PlannedPartition:
    """What an export of one table-day would do (``plan`` / ``--dry-run``)."""

    table: str
    day: dt.date
    window: DayWindow
    scan: ScanPlan
    prefix: str
    manifest_key: str
    archived_rows: int | None  # rows in the existing manifest, None if not archived
    first_chunk_sql: str


def plan_day(ctx: Context, spec: TableSpec, day: dt.date) -> PlannedPartition:
    """Describe and size one table-day without writing anything (a day not over is refused)."""
    ctx.require_settled(spec, day)
    info = ctx.describe(spec)
    window = ctx.source.window(spec, info, day)
    scan = ctx.source.plan_scan(info, window, spec.scan)
    partition = ctx.partition(spec, day)
    existing = upload.read_manifest(ctx.storage, partition)
    shape = q.select_shape(info)
    builder = q.key_chunk_sql if scan.strategy == "key" else q.time_chunk_sql
    first_sql = builder(info, shape, True, spec.chunk_rows)
    first_sql = strategy_for(spec).first_statement(ctx, spec, day) or first_sql
    return PlannedPartition(
        spec.name,
        day,
        window,
        scan,
        partition.prefix,
        partition.manifest_key,
        None if existing is None else existing.rows,
        first_sql,
    )


def export_day(
    ctx: Context, spec: TableSpec, day: dt.date, throttle: Throttle | None = None
) -> ExportResult:
    """Archive one table-day and publish its manifest; safe to repeat and to kill at any point.

    With a ``throttle`` the reads pause like the purge's chunks (load, replica lag, stop). A day
    that has not ended plus ``settle`` is refused (DayNotSettled) before anything is touched.
    """
    ctx.require_settled(spec, day)
    started, t0 = now_text(), ctx.clock()
    info = ctx.describe(spec)
    lakehouse.check_schema(ctx, spec, info)  # columns an Iceberg table cannot take: nothing written
    ctx.source.lock_table(info)  # one run per table: a concurrent one exits "already running"
    identity = ctx.identity(spec)
    partition = ctx.partition(spec, day)
    # S3's reads start beside MySQL's; leaving the scope in any way ends them (no probe file left)
    with upload.Preparation(ctx.storage, partition, identity) as preparation:
        window = ctx.source.window(spec, info, day)
        scan = ctx.reads(spec, day).plan_scan(info, window, spec.scan)  # the rows it will read
        # first, replace or grow: decided before any row is read
        committed = preparation.committed()
        if committed.manifest is not None:
            require_same_zone(spec, committed.manifest)
        if committed.mode == "replace" and (
            gone := rows_gone(ctx, spec, info, window, scan, committed.manifest)
        ):
            # Deleted or moved away since: the archive holds their only copy, so it only grows.
            marker = upload.mark_rows_gone(ctx.storage, partition)
            emit_export_event(ctx, spec, day, "info", message=(
                f"{gone} archived rows left the database since the day was archived: the "
                "archive keeps them and the day only grows from now on"
            ))  # fmt: skip
            committed = dataclasses.replace(committed, marker=marker)
        if committed.mode == "grow":  # over the rows the archive was made from (its window)
            from dbarchive.steps.grow import grow_day
            from dbarchive.steps.verify import archive_scope

            assert committed.manifest is not None
            scope, archived = archive_scope(info, committed.manifest)
            return grow_day(ctx, spec, scope, archived, committed, preparation, throttle)
        emit_export_event(
            ctx, spec, day, "start", total=scan.estimated_rows, message=f"scan={scan.strategy}"
        )
        target = committed.target(partition)
        gated = GatedStorage(ctx.storage, preparation)  # bytes wait for unfinished uploads to go
        files, digest = write_rows(ctx, spec, info, window, scan, target, throttle, gated)
        preparation.open()  # a day without rows wrote no file: clear before its manifest too
        manifest = build_manifest(
            spec,
            info,
            window,
            scan,
            files,
            digest,
            started,
            committed.next_generation,
            identity.record(),
        )
        _require_no_rows_left(ctx, spec, partition, target, manifest, committed.manifest)
        return finish_publication(ctx, spec, target, manifest, committed.manifest, ctx.clock() - t0)


def _require_no_rows_left(
    ctx: Context,
    spec: TableSpec,
    partition: PartitionPath,
    target: PartitionPath,
    new: Manifest,
    old: Manifest | None,
) -> None:
    """A replacement read fewer rows than the archive holds: archived rows left the database
    while the day was read (checked before the read too, ``rows_gone``). Publishing would drop
    their only copy (an outside trial: 18 rows deleted mid-read were in neither place after).
    Nothing is published; the day is recorded as grown-only, so the next run only grows it."""
    if old is None or new.rows >= old.effective_digest.count:
        return
    publish.discard(ctx.storage, target, new, old)
    upload.mark_rows_gone(ctx.storage, partition)
    raise VerificationError(
        f"{spec.name} {new.day}: {old.effective_digest.count - new.rows} archived rows left the "
        "database while the day was read: nothing was published, the archive keeps them, and "
        "the day only grows from now on (the next run archives what arrived)"
    )


def export(
    ctx: Context, tables: Iterable[TableSpec], days: Iterable[dt.date]
) -> list[ExportResult]:
    """Export every (table, day), tables in config order, days oldest first.

    Every day is checked against the settle rule first: one day not over, and nothing is written.
    """
    day_list, specs = sorted(days), list(tables)
    for spec in specs:
        for day in day_list:
            ctx.require_settled(spec, day)
    return [export_day(ctx, spec, day) for spec in specs for day in day_list]


def export_day_as_configured(
    ctx: Context, spec: TableSpec, day: dt.date, throttle: Throttle | None = None
) -> ExportResult:
    """In work units when the table sets ``range_rows``/``range_mib``, else in one piece."""
    if spec.ranged and not purge_begun(
        upload.read_purge_marker(ctx.storage, ctx.partition(spec, day))
    ):
        ctx.storage.check()  # the whole-day export checks on a thread, beside MySQL's planning
        try:
            return export_day_in_units(ctx, spec, day, throttle)
        except RowsGone:  # recorded: from now on the day grows, whole
            pass
    return export_day(ctx, spec, day, throttle)  # a day whose purge has begun grows
