"""The stream export's own work on one range of a day: rows read in keyset chunks and written
into part files (``write_rows``), and the rule that an archive is never replaced by fewer rows.
Work units call it for one key range each; the whole-day export for the day.
"""

from __future__ import annotations

from dbarchive.checksum import RowDigest
from dbarchive.config import TableSpec
from dbarchive.context import Context
from dbarchive.errors import VerificationError
from dbarchive.layout import PartitionPath
from dbarchive.manifest import FileEntry, Manifest
from dbarchive.sources import mysql_sql as q
from dbarchive.sources.table import DayWindow, ScanPlan, TableInfo
from dbarchive.steps.extract import prefetched
from dbarchive.steps.outcome import emit_export_event
from dbarchive.steps.write import WriteSettings
from dbarchive.steps.writers import open_part_writer
from dbarchive.storage import Storage
from dbarchive.throttle import Throttle, read_rows, throttled


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
    # Read where the context says (the read endpoint, if any); every chunk is checked against
    # the run lock, on the primary, before it is written (sources/lock.py).
    reads = ctx.reads(spec, window.day)
    rows = read_rows(throttle, spec.chunk_rows)
    chunks = ctx.source.holding_run_lock(info, reads.read_day_csv(info, window, scan, rows))
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


def rows_gone(
    ctx: Context,
    spec: TableSpec,
    info: TableInfo,
    window: DayWindow,
    scan: ScanPlan,
    old: Manifest | None,
) -> int:
    """How many of the rows of the archive (``old``) the database no longer holds: deleted or
    moved away since (0 for a first archive). Such an archive is their only copy, so it is never
    replaced without them: the day only grows from then on. Counted by rows when the database
    holds fewer, else by key (late rows may hide deleted ones: a read of the day and its
    archive)."""
    if old is None or old.effective_digest.count == 0:
        return 0
    in_source = scan.estimated_rows
    if spec.where and scan.strategy == "key":
        reads = ctx.reads(spec, window.day)  # where the export counts and reads the day
        (count,) = reads.query(q.day_count_sql(info), (window.start_param, window.end_param))[0]
        in_source = int(count)
    if in_source < old.effective_digest.count:
        return old.effective_digest.count - in_source
    # As many rows or more: late rows may hide rows deleted since. Counted by key, on the
    # primary, over the rows the archive was made from (its window and columns).
    from dbarchive.steps.archived_columns import matching_scope
    from dbarchive.steps.matching import coverage
    from dbarchive.steps.verify import archive_scope

    scope, archived = archive_scope(info, old)
    scope = matching_scope(scope, old)
    plan = ctx.source.plan_scan(scope, archived, old.scan)
    try:
        present = coverage(
            ctx.source, ctx.storage, old, scope, archived, plan, spec.chunk_rows
        ).present
    except VerificationError:  # a damaged archive (or one without the key): the count decides,
        return 0  # and a new generation repairs it, as an export on purpose is meant to
    return max(0, old.effective_digest.count - present)
