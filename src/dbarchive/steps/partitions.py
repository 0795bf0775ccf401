"""Partition-aware purge: drop a whole RANGE partition once every day in it is verified.

For a table RANGE-partitioned on its timestamp column (``RANGE COLUMNS(ts)``, or
``RANGE (TO_DAYS(ts))`` / ``RANGE (UNIX_TIMESTAMP(ts))``) with partition bounds on midnights,
a partition that lies wholly before the retention cutoff is dropped with ``ALTER TABLE … DROP
PARTITION`` — a metadata operation instead of millions of deletes — but only after:
1. every day of the partition that holds rows is archived and verified against the database, and
2. right before the drop, the partition's row count equals the sum of those verified days.
Anything else (other expressions, bounds off midnight, a partition reaching past the cutoff)
falls back to the chunked, row-by-row verified delete.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from dbarchive.config import TableSpec
from dbarchive.context import Context
from dbarchive.errors import VerificationError
from dbarchive.sources.canonical import quote_identifier
from dbarchive.sources.table import TableInfo
from dbarchive.steps import upload

_SQL_DATETIME = "%Y-%m-%d %H:%M:%S"


@dataclass(frozen=True)
class RangePartition:
    """One RANGE partition as the half-open interval of column values it holds."""

    name: str
    lower: dt.datetime | None  # None: from the beginning of time
    upper: dt.datetime | None  # None: MAXVALUE


@dataclass(frozen=True)
class DroppedPartition:
    """A partition the purge dropped, and the verified days it held."""

    table: str
    partition: str
    days: tuple[dt.date, ...]
    rows: int


def range_partitions(ctx: Context, info: TableInfo) -> list[RangePartition]:
    """The table's RANGE partitions on the timestamp column, or [] if it is not so partitioned."""
    rows = ctx.source.query(
        "SELECT PARTITION_NAME, PARTITION_METHOD, PARTITION_EXPRESSION, PARTITION_DESCRIPTION"
        " FROM information_schema.PARTITIONS WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s"
        " AND PARTITION_NAME IS NOT NULL ORDER BY PARTITION_ORDINAL_POSITION",
        (info.schema, info.name),
        "reading the table's partitions",
    )
    partitions: list[RangePartition] = []
    lower: dt.datetime | None = None
    for name, method, expression, description in rows:
        try:
            upper = _bound(ctx, info, method.decode(), expression.decode(), description.decode())
        except _Unsupported:
            return []
        partitions.append(RangePartition(name.decode(), lower, upper))
        lower = upper
    return partitions


class _Unsupported(Exception):
    """Partitioned by something other than the timestamp column: purge row by row."""


def _bound(
    ctx: Context, info: TableInfo, method: str, expression: str, description: str
) -> dt.datetime | None:
    """The partition's upper bound as a column value; None for MAXVALUE."""
    if description.upper() == "MAXVALUE":
        return None
    column = quote_identifier(info.ts.name).lower()
    if method == "RANGE COLUMNS" and expression.lower() == column:
        sql, param = "SELECT CAST(%s AS DATETIME)", description.strip("'")
    elif method == "RANGE" and expression.lower() == f"to_days({column})":
        sql, param = "SELECT CAST(FROM_DAYS(%s) AS DATETIME)", description
    elif method == "RANGE" and expression.lower() == f"unix_timestamp({column})":
        sql, param = "SELECT FROM_UNIXTIME(%s)", description
    else:
        raise _Unsupported(expression)
    (value,) = ctx.source.query(sql, (param,), "reading a partition bound")[0]
    if not value:
        raise _Unsupported(description)
    return dt.datetime.fromisoformat(value.decode())


def droppable(
    ctx: Context, spec: TableSpec, info: TableInfo, cutoff: dt.date
) -> list[tuple[RangePartition, list[dt.date]]]:
    """Partitions wholly before the cutoff whose bounds are midnights of the table's days."""
    column_zone = ZoneInfo(
        "UTC" if info.ts.data_type == "timestamp" else ctx.source.settings.timezone
    )
    zone = ZoneInfo(spec.timezone)
    cutoff_start = (
        dt.datetime.combine(cutoff, dt.time(), zone).astimezone(column_zone).replace(tzinfo=None)
    )
    out = []
    for part in range_partitions(ctx, info):
        if part.upper is None or part.lower is None or part.upper > cutoff_start:
            continue
        days = _days_between(part.lower, part.upper, column_zone, zone)
        if days is not None:
            out.append((part, days))
    return out


def _days_between(
    lower: dt.datetime, upper: dt.datetime, column_zone: ZoneInfo, zone: ZoneInfo
) -> list[dt.date] | None:
    """The table days exactly covering [lower, upper), or None if the bounds are not midnights."""
    first = lower.replace(tzinfo=column_zone).astimezone(zone)
    last = upper.replace(tzinfo=column_zone).astimezone(zone)
    if first.time() != dt.time() or last.time() != dt.time():
        return None
    return [first.date() + dt.timedelta(days=i) for i in range((last.date() - first.date()).days)]


def drop_partition(
    ctx: Context,
    spec: TableSpec,
    info: TableInfo,
    part: RangePartition,
    verified_rows: int,
    days: list[dt.date],
) -> DroppedPartition:
    """Drop one partition after a last count check; record every day as purged."""
    (count,) = ctx.source.query(
        f"SELECT COUNT(*) FROM {info.qualified} PARTITION ({quote_identifier(part.name)})",
        what="counting a partition",
    )[0]
    if int(count) != verified_rows:
        raise VerificationError(
            f"{spec.name}: partition {part.name} holds {int(count)} rows but {verified_rows} were "
            "verified in the archive; it is not dropped"
        )
    ctx.source.execute(
        f"ALTER TABLE {info.qualified} DROP PARTITION {quote_identifier(part.name)}",
        what=f"dropping partition {part.name}",
    )
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    for day in days:
        upload.write_purge_marker(
            ctx.storage,
            ctx.partition(spec, day),
            {"status": "purged", "finished_at": now, "method": f"drop partition {part.name}"},
        )
    return DroppedPartition(spec.name, part.name, tuple(days), verified_rows)
