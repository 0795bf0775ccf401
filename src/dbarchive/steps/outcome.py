"""What an export produced: the manifest it publishes and its result, and the events it emits.

Shared by the whole-day export (``pipeline.py``), growth (``grow.py``) and work units
(``units/``), so every path writes identical manifests and reports alike.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from dbarchive import lakehouse
from dbarchive._version import __version__
from dbarchive.checksum import RowDigest
from dbarchive.clock import SystemClock
from dbarchive.config import TableSpec
from dbarchive.context import Context
from dbarchive.events import Event
from dbarchive.layout import PartitionPath
from dbarchive.manifest import ColumnEntry, FileEntry, Manifest, SourceRecord
from dbarchive.sources import mysql_sql as q
from dbarchive.sources.table import DayWindow, ScanPlan, TableInfo
from dbarchive.steps import legal_hold, publish


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
    generation: int = 0  # the committed generation after the export
    published: bool = True  # False: the day held these very rows already, nothing changed
    overlap_seconds: float = 0.0  # readers could see a replaced generation beside the new one


def export_result(
    manifest: Manifest,
    manifest_key: str,
    stale: list[str],
    seconds: float,
    published: bool = True,
    overlap: float = 0.0,
) -> ExportResult:
    """The :class:`ExportResult` of a day whose committed manifest is ``manifest``."""
    return ExportResult(
        manifest.table,
        manifest.day,
        manifest.rows,
        manifest.total_bytes,
        tuple(f.key for f in manifest.files),
        manifest_key,
        manifest.scan,
        seconds,
        tuple(stale),
        manifest.generation,
        published,
        overlap,
    )


def finish_publication(
    ctx: Context,
    spec: TableSpec,
    target: PartitionPath,
    manifest: Manifest,
    old: Manifest | None,
    seconds: float,
) -> ExportResult:
    """Publish ``manifest`` (written through ``target``) unless ``old`` already holds the same
    rows intact; the export's result either way. A table format's snapshot (``lakehouse``) is
    committed after the manifest, before the replaced files are deleted."""
    run_lock_guard(ctx, spec)()  # the lock vanished: publish nothing
    if old is not None and publish.already_published(ctx.storage, manifest, old):
        publish.discard(ctx.storage, target, manifest, old)
        return keep_published(ctx, spec, target, old, seconds)
    committed = on_commit(ctx, spec, manifest.day, replacing=old is not None)
    published = publish.publish(
        ctx.storage,
        target,
        manifest,
        base=old,
        committed=committed,
        guard=run_lock_guard(ctx, spec),
    )
    manifest = published.manifest or manifest  # as committed: with the versions it names
    result = export_result(
        manifest,
        target.manifest_key,
        published.removed,
        seconds,
        overlap=published.overlap_seconds,
    )
    message = f"{manifest.rows} rows in {len(manifest.files)} file(s)"
    if published.kept:
        message += (
            f"; {len(published.kept)} replaced file(s) stay in the bucket as versions under "
            "Object Lock retention (hidden from listings)"
        )
    emit_export_event(
        ctx, spec, manifest.day, "finish", rows=result.rows, nbytes=result.bytes, message=message
    )
    return result


def run_lock_guard(ctx: Context, spec: TableSpec) -> Callable[[], None]:
    """What a publication asks before it commits and before it removes files: RunLockLost if
    this run no longer holds the table's run lock (``sources/lock.py``)."""
    info = ctx.describe(spec)
    return lambda: ctx.source.check_run_lock(info)


def on_commit(
    ctx: Context, spec: TableSpec, day: dt.date, replacing: bool
) -> Callable[[Manifest], None]:
    """What a publication does once its manifest is committed, before the replaced files go: the
    table format's snapshot (``lakehouse``), and, ``replacing`` a held day's manifest, the legal
    hold on the new generation too (``steps/legal_hold.py``)."""
    partition = ctx.partition(spec, day)
    held = legal_hold.held_storage(ctx.storage, partition) if replacing else None

    def committed(manifest: Manifest) -> None:
        lakehouse.commit_day(ctx, spec, manifest)
        if held is not None:
            legal_hold.hold_day(held, manifest, partition)

    return committed


def keep_published(
    ctx: Context, spec: TableSpec, target: PartitionPath, old: Manifest, seconds: float
) -> ExportResult:
    """The result of an export that publishes nothing (``old`` holds its rows already); what a
    killed publication left behind is cleaned up, after a table format's snapshot was made to list
    ``old``'s files (a kill may have come between the manifest's commit and the snapshot's)."""
    lakehouse.commit_day(ctx, spec, old)
    stale = publish.clean_up(ctx.storage, target, old)
    result = export_result(old, target.manifest_key, stale, seconds, published=False)
    message = f"unchanged: the archive holds these {old.rows} rows already"
    emit_export_event(
        ctx, spec, old.day, "finish", rows=result.rows, nbytes=result.bytes, message=message
    )
    return result


def build_manifest(
    spec: TableSpec,
    info: TableInfo,
    window: DayWindow,
    scan: ScanPlan,
    files: list[FileEntry],
    digest: RowDigest,
    started: str,
    generation: int,
    source: SourceRecord | None = None,
) -> Manifest:
    """The manifest of generation ``generation`` of a partition whose ``files`` hold rows with
    ``digest`` (written last); ``source``: the source id and server the rows were read from."""
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
        columns=tuple(
            ColumnEntry(c.name, c.column_type, c.nullable, c.charset, c.collation)
            for c in info.columns
        ),
        key_columns=tuple(c.name for c in info.key),
        timestamp_column=info.ts.name,
        scan=scan.strategy,
        files=tuple(files),
        digest=digest,
        started_at=started,
        finished_at=now_text(),
        tool_version=__version__,
        where=spec.where,
        min_key=[scan.low_key.decode()] if single and scan.low_key else None,
        max_key=[scan.high_key.decode()] if single and scan.high_key else None,
        generation=generation,
        source=source,
        extra=dict([q.DAY_RULE]),
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


def now_text() -> str:
    """The machine's real time, as manifests record when things ran (not the injectable
    clock's: a run under ``DBARCHIVE_NOW`` recorded its fixed time in some manifests and the
    real one in others; an outside trial)."""
    return SystemClock().now().isoformat(timespec="seconds")
