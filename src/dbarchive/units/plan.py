"""Planning a day's work units (key ranges or time slices) and reading which have landed."""

from __future__ import annotations

import dataclasses
import datetime as dt

from dbarchive.config import TableSpec
from dbarchive.context import Context
from dbarchive.errors import VerificationError
from dbarchive.identity import require_same_zone
from dbarchive.layout import PartitionPath
from dbarchive.manifest import FileEntry, Manifest
from dbarchive.sources import mysql_sql as q
from dbarchive.sources.table import DayWindow, ScanPlan, TableInfo, sql_datetime
from dbarchive.steps import upload
from dbarchive.steps.folder_claim import claim_folder

# The export's own building blocks, shared so both paths write identical files and manifests.
from dbarchive.steps.stream import rows_gone
from dbarchive.steps.verify import purge_begun
from dbarchive.strategies import strategy_for
from dbarchive.units.ranges import RangeLimits, plan_ranges, ranges_needed, split_window
from dbarchive.units.records import (
    DayUnits,
    UnitSpan,
    read_plan,
    read_record,
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


class RowsGone(VerificationError):
    """Archived rows of the day left the database: recorded, and the day is grown whole."""


def plan_units(ctx: Context, spec: TableSpec, day: dt.date) -> DayUnits:
    """Plan (or re-plan) the day's units and store the plan; refuses a day that shrank, and a
    day not over (DayNotSettled: before anything, even Aurora's check)."""
    ctx.require_settled(spec, day)
    strategy_for(spec).require_support(ctx)  # e.g. aurora-outfile on MariaDB: before any write
    info = ctx.describe(spec)
    window = ctx.source.window(spec, info, day)
    scan = ctx.reads(spec, day).plan_scan(info, window, spec.scan)  # where the units read
    partition = ctx.partition(spec, day)
    committed = upload.read_committed(ctx.storage, partition, ctx.identity(spec))
    if committed.manifest is not None:
        require_same_zone(spec, committed.manifest)
    if committed.mode == "grow":
        raise VerificationError(
            f"{spec.name} {day}: the day's purge has begun, so its archive can only grow; export "
            "it whole (dbarchive export), not in work units"
        )
    if gone := rows_gone(ctx, spec, info, window, scan, committed.manifest):
        upload.mark_rows_gone(ctx.storage, partition)
        raise RowsGone(
            f"{spec.name} {day}: {gone} archived rows left the database since the day was "
            "archived; the archive keeps them (their only copy) and the day only grows now: "
            "export it whole (dbarchive export), not in work units"
        )
    row_bytes = average_row_bytes(ctx, info) if spec.range_mib else None
    plan = dataclasses.replace(
        units_for(spec, info, window, scan, row_bytes),
        generation=committed.next_generation,
        staged=committed.manifest is not None,
    )
    if committed.manifest is None:  # a new day: the folder is claimed first (or is ours)
        claim_folder(ctx.storage, partition, ctx.identity(spec))
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
            UnitSpan(i, sql_datetime(a), sql_datetime(b))
            for i, (a, b) in enumerate(split_window(start, end, parts))
        )
    return DayUnits(spec.name, window.day, scan.strategy, scan.estimated_rows, low, high, units)


def pending_units(ctx: Context, spec: TableSpec, plan: DayUnits) -> list[int]:
    """The units of the plan that have not landed (no record of this plan, or a file missing)."""
    partition = ctx.partition(spec, plan.day)
    pending = []
    for unit in plan.units:
        record = read_record(ctx.storage, partition, unit.index)
        target = plan.target(partition)
        if (
            record is None
            or record.plan_id != plan.plan_id
            or not files_present(ctx, target, record.files)
        ):
            pending.append(unit.index)
    return pending


def files_present(ctx: Context, target: PartitionPath, files: tuple[FileEntry, ...]) -> bool:
    """Whether every file is stored (under its staged name if the plan stages) with its size."""
    for entry in files:
        stored = ctx.storage.stat(target.write_key(entry.key))
        if stored is None or stored.size != entry.bytes:
            return False
    return True


def unit_scan(
    info: TableInfo, window: DayWindow, plan: DayUnits, unit: UnitSpan
) -> tuple[DayWindow, ScanPlan]:
    """The window and scan plan that read exactly the unit's rows with the export's own SQL."""
    estimate = max(1, plan.rows // max(1, len(plan.units)))
    if plan.strategy == "key":
        return window, ScanPlan("key", estimate, unit.low.encode(), unit.high.encode())
    narrowed = dataclasses.replace(window, start_param=unit.low, end_param=unit.high)
    return narrowed, ScanPlan("time", estimate, reason="time slice of the day")


def check_current(ctx: Context, spec: TableSpec, plan: DayUnits) -> None:
    """Refuse a unit of an outdated plan, and any unit of a day whose purge has begun."""
    partition = ctx.partition(spec, plan.day)
    stored = read_plan(ctx.storage, partition)
    if stored is None or stored.plan_id != plan.plan_id:
        raise VerificationError(
            f"{spec.name} {plan.day}: the day was planned again since this unit was planned; "
            "plan the day and export its units again"
        )
    if purge_begun(upload.read_purge_marker(ctx.storage, partition)):
        raise VerificationError(
            f"{spec.name} {plan.day}: the day's purge has begun, so its archive is kept as it is"
        )


def plan_of(manifest: Manifest) -> str | None:
    units = manifest.extra.get("units")
    return units.get("plan_id") if isinstance(units, dict) else None
