"""The core job: plan and export table-days. No I/O of its own: it drives Source and Storage.

``export_day`` is the whole export of one partition: describe → plan the scan → make the old
partition safely incomplete → stream rows into part files → manifest last → remove stale parts.
The S3 side of "safely incomplete" starts on a thread while MySQL plans and the first rows are
read and compressed; the files' bytes wait behind it (``GatedStorage``), so the order holds.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from functools import partial

from dbarchive import __version__
from dbarchive.checksum import RowDigest
from dbarchive.config import TableSpec
from dbarchive.context import Context
from dbarchive.errors import VerificationError
from dbarchive.events import Event
from dbarchive.layout import PartitionPath
from dbarchive.manifest import ColumnEntry, FileEntry, Manifest
from dbarchive.sources import mysql_sql as q
from dbarchive.sources.table import DayWindow, ScanPlan, TableInfo
from dbarchive.steps import upload
from dbarchive.steps.extract import prefetched
from dbarchive.steps.write import WriteSettings
from dbarchive.steps.writers import open_part_writer
from dbarchive.storage import Storage
from dbarchive.storage.gated import GatedStorage
from dbarchive.throttle import Throttle, throttled


@dataclass(frozen=True)
class ExportResult:
    """What the export of one table-day produced."""

    table: str
    day: dt.date
    rows: int
    bytes: int
    files: tuple[str, ...]
    manifest_key: str
    scan: str
    seconds: float
    removed_stale: tuple[str, ...] = ()


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
    """Describe and size one table-day without writing anything."""
    info = ctx.describe(spec)
    window = ctx.source.window(spec, info, day)
    scan = ctx.source.plan_scan(info, window, spec.scan)
    partition = ctx.partition(spec, day)
    existing = upload.read_manifest(ctx.storage, partition)
    shape = q.select_shape(info)
    builder = q.key_chunk_sql if scan.strategy == "key" else q.time_chunk_sql
    first_sql = builder(info, shape, True, spec.chunk_rows)
    if spec.server_side:  # Aurora writes the day: show its first statement instead
        from dbarchive.aurora.export import first_statement

        first_sql = first_statement(ctx, spec, day)
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

    With a ``throttle`` the reads pause like the purge's chunks (load, replica lag, stop).
    """
    started, t0 = _now(), ctx.clock()
    info = ctx.describe(spec)
    ctx.source.lock_table(info)  # one run per table: a concurrent one exits "already running"
    partition = ctx.partition(spec, day)
    preparation = upload.Preparation(ctx.storage, partition)  # S3 reads start, beside MySQL's
    window = ctx.source.window(spec, info, day)
    scan = ctx.source.plan_scan(info, window, spec.scan)
    shrink_check = partial(refuse_shrinking, ctx, spec, info, window, scan)
    if spec.where and scan.strategy == "key":  # it counts in MySQL: before the reader takes it
        shrink_check(preparation.old_manifest())
    else:
        preparation.before_clear(shrink_check)
    emit_export_event(
        ctx, spec, day, "start", total=scan.estimated_rows, message=f"scan={scan.strategy}"
    )
    gated = GatedStorage(ctx.storage, preparation)  # rows stream; bytes wait for the clearing
    files, digest = write_rows(ctx, spec, info, window, scan, partition, throttle, gated)
    preparation.open()  # a day without rows wrote no file: clear before its manifest too
    manifest = build_manifest(spec, info, window, scan, files, digest, started)
    stale = upload.publish(ctx.storage, partition, manifest)
    seconds = ctx.clock() - t0
    emit_export_event(
        ctx,
        spec,
        day,
        "finish",
        rows=digest.count,
        nbytes=manifest.total_bytes,
        message=f"{digest.count} rows in {len(files)} file(s)",
    )
    return ExportResult(
        spec.name,
        day,
        digest.count,
        manifest.total_bytes,
        tuple(f.key for f in files),
        partition.manifest_key,
        scan.strategy,
        seconds,
        tuple(stale),
    )


def export(
    ctx: Context, tables: Iterable[TableSpec], days: Iterable[dt.date]
) -> list[ExportResult]:
    """Export every (table, day), tables in config order, days oldest first."""
    day_list = sorted(days)
    return [export_day(ctx, spec, day) for spec in tables for day in day_list]


def write_rows(
    ctx: Context,
    spec: TableSpec,
    info: TableInfo,
    window: DayWindow,
    scan: ScanPlan,
    partition: PartitionPath,
    throttle: Throttle | None = None,
    storage: Storage | None = None,
) -> tuple[list[FileEntry], RowDigest]:
    """Stream the scan's rows into part files under ``partition`` (no manifest): the files and
    their digest. Work units call it for one key range each. ``storage``: where the files go,
    if not ``ctx.storage`` (the export passes it behind its preparation gate)."""
    shape = q.select_shape(info)
    key_positions = [p for p in shape.key_positions if p < shape.width]
    settings = WriteSettings(spec.compression, spec.compression_level, spec.max_file_bytes)
    writer = open_part_writer(
        spec.format, storage or ctx.storage, partition, info.columns, key_positions, settings
    )
    rows_done = 0
    chunks = ctx.source.read_day_csv(info, window, scan, spec.chunk_rows)
    try:
        for chunk in prefetched(chunks if throttle is None else throttled(chunks, throttle)):
            writer.write_encoded(chunk)
            rows_done += chunk.rows
            emit_export_event(
                ctx,
                spec,
                window.day,
                "chunk",
                rows=rows_done,
                nbytes=writer.bytes_written,
                total=scan.estimated_rows,
            )
            ctx.check_stop()  # a signal / stop file / max_runtime: stop after this chunk
        files = writer.close()
    except BaseException:
        writer.abort()
        raise
    digest = RowDigest()
    for f in files:
        digest.merge(f.digest)
    return files, digest


def refuse_shrinking(
    ctx: Context,
    spec: TableSpec,
    info: TableInfo,
    window: DayWindow,
    scan: ScanPlan,
    old: Manifest | None,
) -> None:
    """Never replace an archive (``old``) with fewer rows than it holds: the source was probably
    purged."""
    if old is None or old.rows == 0:
        return
    in_source = scan.estimated_rows
    if spec.where and scan.strategy == "key":
        (count,) = ctx.source.query(q.day_count_sql(info), (window.start_param, window.end_param))[
            0
        ]
        in_source = int(count)
    if in_source < old.rows:
        raise VerificationError(
            f"{spec.name} {window.day}: the source now holds {in_source} rows but the archive holds "
            f"{old.rows}; rows were purged or deleted, so the archive is kept as it is"
        )


def build_manifest(
    spec: TableSpec,
    info: TableInfo,
    window: DayWindow,
    scan: ScanPlan,
    files: list[FileEntry],
    digest: RowDigest,
    started: str,
) -> Manifest:
    """The manifest of a partition whose ``files`` hold rows with ``digest`` (written last)."""
    single = len(info.key) == 1 and scan.low_key is not None and scan.high_key is not None
    return Manifest(
        table=spec.name,
        schema=info.schema,
        day=window.day,
        timezone=spec.timezone,
        window_start=window.start.isoformat(),
        window_end=window.end.isoformat(),
        query_window=(window.start_param, window.end_param),
        format=spec.format,
        compression=spec.compression.value,
        columns=tuple(ColumnEntry(c.name, c.column_type, c.nullable) for c in info.columns),
        key_columns=tuple(c.name for c in info.key),
        timestamp_column=info.ts.name,
        scan=scan.strategy,
        files=tuple(files),
        digest=digest,
        started_at=started,
        finished_at=_now(),
        tool_version=__version__,
        where=spec.where,
        min_key=[scan.low_key.decode()] if single and scan.low_key else None,
        max_key=[scan.high_key.decode()] if single and scan.high_key else None,
    )


def emit_export_event(
    ctx: Context,
    spec: TableSpec,
    day: dt.date,
    kind: str,
    rows: int = 0,
    nbytes: int = 0,
    total: int | None = None,
    message: str = "",
) -> None:
    """Tell the reporter how an export of ``day`` is doing (start, chunk, finish)."""
    ctx.reporter.emit(
        Event("export", spec.name, day.isoformat(), kind, rows, nbytes, total, message)
    )


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
