"""Capacity planning for a backfill: days, rows, bytes, work units and wall time, per table.

Everything comes from statistics the server keeps, never from scanning the table: the rows of
each day are the optimizer's estimate for the day's range of the time index (``EXPLAIN``), bytes
are rows times the table's average row length. The throughput per worker is measured from the
archive itself — the unit records of earlier (back)fills, each timing the export *and* the
verification of its rows — unless given; without either it is an assumption, and says so.
Wall time = rows / (rows/s per worker * the workers that can run at once), where that is the
smallest of the worker count, the database concurrency cap (the Airflow pool) and the units.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from dbarchive.config import TableSpec
from dbarchive.context import Context
from dbarchive.sources import mysql_sql as q
from dbarchive.units.plan import average_row_bytes, range_limits
from dbarchive.units.ranges import ranges_needed
from dbarchive.units.records import UnitRecord

ASSUMED_ROWS_PER_SECOND = (
    20_000.0  # per worker, export + verify; measure instead (bench/backfill.py)
)
_SAMPLE_RECORDS = 50
# What a day costs besides its rows (plan, count, manifest, verify record: ~15 statements and
# a few object reads and writes): 75 ms a day measured by an outside trial on a local S3
# server, where 3,781 one-row days were estimated at "~0 s" and took 4 min 47 s. A real S3
# round trip is slower: this is a floor.
DAY_SECONDS = 0.08


@dataclass(frozen=True)
class Throughput:
    """Rows per second of one worker (export and verification), and where the number comes from."""

    rows_per_second: float
    source: str  # "measured: …" | "given" | "assumed: …"


@dataclass(frozen=True)
class BackfillEstimate:
    """What a backfill of one table would do and how long it would take."""

    table: str
    first: dt.date | None
    last: dt.date | None
    days: int
    rows: int
    bytes: int  # in the database: rows × average row length
    units: int
    throughput: Throughput
    workers: int
    db_cap: int
    parallel: int  # workers running at once: min(workers, db_cap, units)

    @property
    def seconds(self) -> float:
        rows = self.rows / (self.throughput.rows_per_second * max(1, self.parallel))
        return rows + self.days * DAY_SECONDS / max(1, self.parallel)


def day_rows_estimate(ctx: Context, spec: TableSpec, day: dt.date) -> int:
    """The optimizer's row estimate for the day's range of the time index (an index dive)."""
    info = ctx.describe(spec)
    window = ctx.source.window(spec, info, day)
    sql = q.day_count_sql(info)
    plan = ctx.source.explain(sql, (window.start_param, window.end_param))
    return int(plan[0].get("rows") or 0) if plan else 0


def measured_throughput(ctx: Context, spec: TableSpec) -> Throughput | None:
    """Rows/s per worker from the latest unit records of the table's archive, if there are any."""
    keys = [
        o.key
        for o in ctx.storage.list_objects(ctx.folder(spec) + "/")
        if o.key.rsplit("/", 1)[-1].startswith("_unit-")
    ]
    rows, seconds = 0, 0.0
    for key in keys[-_SAMPLE_RECORDS:]:
        raw = ctx.storage.get_bytes(key)
        if raw is None:
            continue
        record = UnitRecord.loads(raw)
        rows, seconds = rows + record.rows, seconds + record.seconds
    if not rows or seconds <= 0:
        return None
    count = min(len(keys), _SAMPLE_RECORDS)
    return Throughput(rows / seconds, f"measured: {count} archived unit(s) of {spec.name}")


def estimate_backfill(
    ctx: Context,
    spec: TableSpec,
    days: list[dt.date],
    workers: int,
    db_cap: int,
    rows_per_second: float | None = None,
) -> BackfillEstimate:
    """Estimate the backfill of ``days`` of one table (see the module docstring)."""
    info = ctx.describe(spec)
    row_bytes = average_row_bytes(ctx, info)
    limits = range_limits(spec)
    rows = units = 0
    for day in days:
        day_rows = day_rows_estimate(ctx, spec, day)
        rows += day_rows
        if day_rows:
            units += ranges_needed(day_rows, row_bytes, limits) if spec.ranged else 1
    if rows_per_second is not None:
        throughput = Throughput(rows_per_second, "given")
    else:
        throughput = measured_throughput(ctx, spec) or Throughput(
            ASSUMED_ROWS_PER_SECOND, "assumed: no unit records yet; measure with a short backfill"
        )
    return BackfillEstimate(
        spec.name,
        days[0] if days else None,
        days[-1] if days else None,
        len(days),
        rows,
        int(rows * (row_bytes or 0)),
        units,
        throughput,
        workers,
        db_cap,
        max(1, min(workers, db_cap, units or 1)),
    )
