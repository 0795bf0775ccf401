"""Export one day in work units: plan key ranges, export + verify each unit, then publish the day.

For one table-day (units may run on any worker or Airflow task, in any order, and be re-run):

1. :func:`plan_units` reads the day's key bounds and row count (the export's own index-only
   statement), splits them with the range planner (``ranges.py``) and stores the plan; a re-plan
   with unchanged bounds keeps the same plan id, so units that landed are not redone.
2. :func:`export_unit` makes the day incomplete (deletes its manifest), clears what a killed attempt
   of *this* unit left, streams the unit's rows into its own part files (``part-UUUUU-NNNNN``),
   reads them back and compares them with the database's digest of the same rows, and only then
   writes the unit's record. Killed anywhere before that, the unit has no record and is redone;
   its rewritten files replace the old ones under the same names, so nothing is duplicated.
3. :func:`publish_units` runs once every unit of the plan has a record: it writes the manifest
   (all files, unit by unit, in key order), deletes stale parts, and checks that the database's
   row count of the day equals the units' rows (no row outside the planned ranges) before it
   records the day as verified.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from dataclasses import dataclass

from dbarchive import failpoints
from dbarchive.checksum import RowDigest
from dbarchive.config import TableSpec
from dbarchive.context import Context
from dbarchive.errors import VerificationError
from dbarchive.manifest import FileEntry, Manifest

# The export's own building blocks, shared so both paths write identical files and manifests.
from dbarchive.pipeline import (
    ExportResult,
    build_manifest,
    emit_export_event,
    refuse_shrinking,
    write_rows,
)
from dbarchive.pipeline import export_day as export_whole_day
from dbarchive.ranges import RangeLimits, plan_ranges, ranges_needed, split_window
from dbarchive.sources import mysql_sql as q
from dbarchive.sources.table import DayWindow, ScanPlan, TableInfo
from dbarchive.steps import upload
from dbarchive.steps.verify import check_files, iter_file_digests, source_digest, verify_day
from dbarchive.throttle import Throttle
from dbarchive.workunits import (
    DayUnits,
    UnitRecord,
    UnitSpan,
    is_verified,
    read_plan,
    read_record,
    write_verify_marker,
)

_SQL_DATETIME = "%Y-%m-%d %H:%M:%S.%f"
_MIB = 1024 * 1024


def range_limits(spec: TableSpec) -> RangeLimits:
    """The table's unit size bound (none: one unit per day)."""
    return RangeLimits(spec.range_rows, spec.range_mib * _MIB if spec.range_mib else None)


def average_row_bytes(ctx: Context, info: TableInfo) -> float | None:
    """The table's average row length from the server's statistics (no scan), if it has one."""
    rows = ctx.source.query(
        q.table_stats_sql(), (info.schema, info.name), "reading table statistics"
    )
    value = rows[0][0] if rows else None
    return float(value) if value and float(value) > 0 else None


def plan_units(ctx: Context, spec: TableSpec, day: dt.date) -> DayUnits:
    """Plan (or re-plan) the day's units and store the plan; refuses a day that shrank."""
    if spec.server_side:
        from dbarchive.aurora import export as outfile

        outfile.require_support(ctx)  # e.g. MariaDB: refused before anything is written
    info = ctx.describe(spec)
    window = ctx.source.window(spec, info, day)
    scan = ctx.source.plan_scan(info, window, spec.scan)
    partition = ctx.partition(spec, day)
    refuse_shrinking(ctx, spec, info, window, scan, upload.read_manifest(ctx.storage, partition))
    row_bytes = average_row_bytes(ctx, info) if spec.range_mib else None
    plan = units_for(spec, info, window, scan, row_bytes)
    old = read_plan(ctx.storage, partition)
    if old is None or old.plan_id != plan.plan_id:
        ctx.storage.put_bytes(partition.unit_plan_key, plan.dumps())
    return plan


def units_for(
    spec: TableSpec, info: TableInfo, window: DayWindow, scan: ScanPlan, row_bytes: float | None
) -> DayUnits:
    """The units of a day from its scan plan: key ranges, or time slices for the time strategy."""
    single = len(info.key) == 1
    low = scan.low_key.decode() if single and scan.low_key is not None else None
    high = scan.high_key.decode() if single and scan.high_key is not None else None
    limits = range_limits(spec)
    units: tuple[UnitSpan, ...] = ()
    if scan.is_empty:
        pass
    elif scan.strategy == "key" and low is not None and high is not None:
        if info.key[0].is_integer:
            ranges = plan_ranges(int(low), int(high), scan.estimated_rows, row_bytes, limits)
            units = tuple(UnitSpan(i, str(r.low), str(r.high)) for i, r in enumerate(ranges))
        else:  # a string key cannot be cut by arithmetic: one unit
            units = (UnitSpan(0, low, high),)
    else:
        parts = (
            1
            if info.ts.data_type == "date"
            else ranges_needed(scan.estimated_rows, row_bytes, limits)
        )
        start = dt.datetime.strptime(window.start_param, _SQL_DATETIME)
        end = dt.datetime.strptime(window.end_param, _SQL_DATETIME)
        units = tuple(
            UnitSpan(i, a.strftime(_SQL_DATETIME), b.strftime(_SQL_DATETIME))
            for i, (a, b) in enumerate(split_window(start, end, parts))
        )
    return DayUnits(spec.name, window.day, scan.strategy, scan.estimated_rows, low, high, units)


def pending_units(ctx: Context, spec: TableSpec, plan: DayUnits) -> list[int]:
    """The units of the plan that have not landed (no record of this plan, or a file missing)."""
    partition = ctx.partition(spec, plan.day)
    pending = []
    for unit in plan.units:
        record = read_record(ctx.storage, partition, unit.index)
        if record is None or record.plan_id != plan.plan_id or not _files_present(ctx, record):
            pending.append(unit.index)
    return pending


def _files_present(ctx: Context, record: UnitRecord) -> bool:
    for entry in record.files:
        stored = ctx.storage.stat(entry.key)
        if stored is None or stored.size != entry.bytes:
            return False
    return True


def _unit_scan(
    info: TableInfo, window: DayWindow, plan: DayUnits, unit: UnitSpan
) -> tuple[DayWindow, ScanPlan]:
    """The window and scan plan that read exactly the unit's rows with the export's own SQL."""
    estimate = max(1, plan.rows // max(1, len(plan.units)))
    if plan.strategy == "key":
        return window, ScanPlan("key", estimate, unit.low.encode(), unit.high.encode())
    narrowed = dataclasses.replace(window, start_param=unit.low, end_param=unit.high)
    return narrowed, ScanPlan("time", estimate, reason="time slice of the day")


def export_unit(
    ctx: Context, spec: TableSpec, plan: DayUnits, index: int, throttle: Throttle | None = None
) -> UnitRecord:
    """Export and verify one unit, then record it as landed; safe to repeat and to kill.

    For an aurora-outfile table Aurora writes the unit (``aurora/export.py``) and this process
    verifies and lands it.
    """
    if spec.server_side:
        from dbarchive.aurora import export as outfile

        return outfile.export_unit(ctx, spec, plan, index, throttle)
    started, t0 = _now(), time.monotonic()
    partition = ctx.partition(spec, plan.day)
    _check_current(ctx, spec, plan)
    unit = plan.units[index]
    info = ctx.describe(spec)
    window, scan = _unit_scan(info, ctx.source.window(spec, info, plan.day), plan, unit)
    ctx.storage.delete_keys(
        [partition.manifest_key, partition.verify_marker_key, partition.unit_record_key(index)]
    )
    unit_path = partition.for_unit(index)
    ctx.storage.abort_incomplete(unit_path.unit_part_prefix)
    emit_export_event(
        ctx, spec, plan.day, "start", total=scan.estimated_rows, message=f"unit {index}"
    )
    files, digest = write_rows(ctx, spec, info, window, scan, unit_path, throttle)
    failpoints.hit("unit.written")
    _verify_unit(ctx, spec, info, window, scan, files, digest, throttle, index)
    record = UnitRecord(
        plan.plan_id, index, tuple(files), digest, started, _now(), time.monotonic() - t0
    )
    ctx.storage.put_bytes(partition.unit_record_key(index), record.dumps())
    failpoints.hit("unit.landed")
    emit_export_event(ctx, spec, plan.day, "finish", rows=digest.count, nbytes=sum(f.bytes for f in files),
          message=f"unit {index}: {digest.count} rows in {len(files)} file(s)")  # fmt: skip
    return record


def _check_current(ctx: Context, spec: TableSpec, plan: DayUnits) -> None:
    """Refuse a unit of an outdated plan, and any unit of a day whose purge has begun."""
    partition = ctx.partition(spec, plan.day)
    stored = read_plan(ctx.storage, partition)
    if stored is None or stored.plan_id != plan.plan_id:
        raise VerificationError(
            f"{spec.name} {plan.day}: the day was planned again since this unit was planned; "
            "plan the day and export its units again"
        )
    if upload.read_purge_marker(ctx.storage, partition) is not None:
        raise VerificationError(
            f"{spec.name} {plan.day}: the day's purge has begun, so its archive is kept as it is"
        )


def _verify_unit(
    ctx: Context,
    spec: TableSpec,
    info: TableInfo,
    window: DayWindow,
    scan: ScanPlan,
    files: list[FileEntry],
    digest: RowDigest,
    throttle: Throttle | None,
    index: int,
) -> None:
    """The database's digest of the unit's rows equals the files'; each file reads back intact."""
    in_db = source_digest(ctx.source, info, window, scan, spec.chunk_rows, throttle)
    if in_db != digest:
        raise VerificationError(
            f"{spec.name} {window.day} unit {index}: the database holds {in_db.describe()} in the "
            f"unit's range, the files {digest.describe()}; the unit is exported again on a rerun"
        )
    for entry in files:
        for _ in iter_file_digests(ctx.storage, entry):
            pass  # raises VerificationError on any difference in size, SHA-256 or rows


def publish_units(
    ctx: Context, spec: TableSpec, day: dt.date, plan: DayUnits | None = None
) -> tuple[Manifest, list[str]]:
    """Assemble and publish the day once every unit landed; returns the manifest, stale keys.

    Raises VerificationError naming the units still missing, or when the database holds rows of
    the day outside the planned ranges (the manifest is then published but not marked verified).
    """
    partition = ctx.partition(spec, day)
    plan = plan or read_plan(ctx.storage, partition)
    if plan is None:
        raise VerificationError(f"{spec.name} {day}: the day has no work-unit plan; plan it first")
    done = upload.read_manifest(ctx.storage, partition)
    if (
        done is not None
        and _plan_of(done) == plan.plan_id
        and is_verified(ctx.storage, partition, done)
    ):
        return done, []  # published and verified already (a retried or cleared task)
    if spec.server_side:
        from dbarchive.aurora import export as outfile

        outfile.land_units(ctx, spec, plan)  # verify what Aurora wrote, unit by unit
    records = _landed_records(ctx, spec, plan)
    info = ctx.describe(spec)
    window = ctx.source.window(spec, info, day)
    manifest = _unit_manifest(spec, info, window, plan, records)
    problems = check_files(ctx.storage, manifest, depth="quick")
    if problems:
        raise VerificationError(f"{spec.name} {day}: " + "; ".join(problems))
    stale = upload.publish(ctx.storage, partition, manifest)
    (count,) = ctx.source.query(
        q.day_count_sql(info), (window.start_param, window.end_param), "counting the day"
    )[0]
    if int(count) != manifest.rows:
        raise VerificationError(
            f"{spec.name} {day}: the database holds {int(count)} rows of the day, its units "
            f"{manifest.rows}; rows changed outside the planned ranges, so plan and export it again"
        )
    write_verify_marker(ctx.storage, partition, manifest)
    return manifest, stale


def publish_day(ctx: Context, spec: TableSpec, day: dt.date) -> Manifest:
    """The last step of a day however it was exported: publish its units, or verify it whole.

    A day already recorded as verified is left as it is; a day exported in one piece (e.g. by the
    daily job, no units) is verified against its files and the database and recorded as verified.
    """
    partition = ctx.partition(spec, day)
    manifest = upload.read_manifest(ctx.storage, partition)
    if manifest is not None and is_verified(ctx.storage, partition, manifest):
        return manifest
    if manifest is not None and _plan_of(manifest) is None:
        partial = upload.read_purge_marker(ctx.storage, partition) is not None
        result = verify_day(ctx, spec, day, check_source=not partial)
        if not result.ok:
            raise VerificationError("; ".join(result.problems))
        write_verify_marker(ctx.storage, partition, manifest)
        return manifest
    return publish_units(ctx, spec, day)[0]


def _plan_of(manifest: Manifest) -> str | None:
    units = manifest.extra.get("units")
    return units.get("plan_id") if isinstance(units, dict) else None


def _landed_records(ctx: Context, spec: TableSpec, plan: DayUnits) -> list[UnitRecord]:
    partition = ctx.partition(spec, plan.day)
    records, missing = [], []
    for unit in plan.units:
        record = read_record(ctx.storage, partition, unit.index)
        if record is None or record.plan_id != plan.plan_id:
            missing.append(unit.index)
        else:
            records.append(record)
    if missing:
        raise VerificationError(
            f"{spec.name} {plan.day}: units {missing} of {len(plan.units)} have not landed; "
            "export them, then publish the day"
        )
    return records


def _unit_manifest(
    spec: TableSpec, info: TableInfo, window: DayWindow, plan: DayUnits, records: list[UnitRecord]
) -> Manifest:
    digest = RowDigest()
    for record in records:
        digest.merge(record.digest)
    low = None if plan.low is None else plan.low.encode()
    high = None if plan.high is None else plan.high.encode()
    scan = ScanPlan(plan.strategy, plan.rows, low, high)
    files = [f for r in records for f in r.files]
    started = min((r.started_at for r in records), default=_now())
    manifest = build_manifest(spec, info, window, scan, files, digest, started)
    ranges = [[u.low, u.high, r.rows] for u, r in zip(plan.units, records, strict=True)]
    units = {"plan_id": plan.plan_id, "ranges": ranges}
    extra = {**manifest.extra, "units": units, "export_strategy": spec.export.strategy}
    return dataclasses.replace(manifest, extra=extra)


@dataclass(frozen=True)
class UnitTaskResult:
    """What an export task did with one unit (an Airflow XCom summary)."""

    index: int
    rows: int
    files: tuple[str, ...]  # the unit's files; none yet when Aurora wrote them (still staged)
    rows_read: int  # rows this process read from the database: 0 when Aurora wrote the unit


def export_unit_task(
    ctx: Context, spec: TableSpec, plan: DayUnits, index: int, throttle: Throttle | None = None
) -> UnitTaskResult:
    """An export task's share of a unit: the whole unit (stream), or only Aurora's statement.

    With ``aurora-outfile`` no row passes through the task: the day's verify/publish task
    (:func:`publish_units`) reads and lands what Aurora wrote.
    """
    read_before = ctx.source.counters.rows_read
    files: tuple[str, ...] = ()
    if spec.server_side:
        from dbarchive.aurora import export as outfile

        rows = outfile.issue_unit(ctx, spec, plan, index, throttle).rows
    else:
        record = export_unit(ctx, spec, plan, index, throttle)
        rows, files = record.rows, tuple(f.key for f in record.files)
    return UnitTaskResult(index, rows, files, ctx.source.counters.rows_read - read_before)


def export_day_in_units(
    ctx: Context, spec: TableSpec, day: dt.date, throttle: Throttle | None = None
) -> ExportResult:
    """The whole unit flow for one day in this process, unit after unit (CLI and daily job).

    Takes the table's run lock like a whole-day export: a concurrent run exits "already running".
    (Airflow's per-unit tasks and backfill workers share a day on purpose and do not take it.)
    """
    t0 = time.monotonic()
    ctx.source.lock_table(ctx.describe(spec))
    plan = plan_units(ctx, spec, day)
    for index in pending_units(ctx, spec, plan):
        export_unit(ctx, spec, plan, index, throttle)
    manifest, stale = publish_units(ctx, spec, day, plan)
    return export_result(
        manifest, ctx.partition(spec, day).manifest_key, stale, time.monotonic() - t0
    )


def export_result(
    manifest: Manifest, manifest_key: str, stale: list[str], seconds: float
) -> ExportResult:
    """An :class:`ExportResult` for a day published from units."""
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
    )


def export_day_as_configured(
    ctx: Context, spec: TableSpec, day: dt.date, throttle: Throttle | None = None
) -> ExportResult:
    """In work units when the table sets ``range_rows``/``range_mib``, else in one piece."""
    if spec.ranged:
        ctx.storage.check()  # the whole-day export checks on a thread, beside MySQL's planning
        return export_day_in_units(ctx, spec, day, throttle)
    return export_whole_day(ctx, spec, day, throttle)


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
