"""Partition-aware purge: drop a whole RANGE partition once every day in it is verified.

For a table RANGE-partitioned on its timestamp column (``RANGE COLUMNS(ts)``, or
``RANGE (TO_DAYS(ts))`` / ``RANGE (UNIX_TIMESTAMP(ts))``) with partition bounds on midnights,
a partition that lies wholly before the retention cutoff is dropped with ``ALTER TABLE … DROP
PARTITION`` — a metadata operation instead of millions of deletes — but only after:
1. every day of the partition that holds rows is archived and verified against the database,
2. the partition's row count equals the sum of those verified days (a cheap early refusal), and
3. its rows, taken out of the table atomically by an exchange with an empty clone table, are
   proven row by row (digest) to be the archived ones (``exchange.py``: a row changed after
   step 1 is never dropped unarchived).
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
from dbarchive.ledger import hooks as ledger
from dbarchive.manifest import Manifest
from dbarchive.sources.table import RangePartition, TableInfo
from dbarchive.steps import exchange
from dbarchive.throttle import Throttle


@dataclass(frozen=True)
class DroppedPartition:
    """A partition the purge dropped, and the verified days it held."""

    table: str
    partition: str  # "" for a drop finished after an interruption (the clone's rows proven)
    days: tuple[dt.date, ...]
    rows: int
    lock_seconds: float = 0.0  # how long the table was locked for the exchange and the drop


def range_partitions(ctx: Context, info: TableInfo) -> list[RangePartition]:
    """The table's RANGE partitions on the timestamp column, or [] if it is not so partitioned."""
    return ctx.source.range_partitions(info)


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


def drops_partitions(ctx: Context, spec: TableSpec, info: TableInfo) -> bool:
    """Whether a purge of the table may drop partitions: no ``where`` filter, no DELETE trigger
    (a dropped partition fires none: a trigger refusing a row, or recording each deletion, was
    passed over; an outside trial), and a partition bounded by midnights of the table's days.
    Else every day goes chunk by chunk, and the drop's grants are never needed."""
    from dbarchive.checks.dependents import delete_triggers

    far = ctx.today(spec) + dt.timedelta(days=3660)  # every partition bounded so far
    if spec.where or not droppable(ctx, spec, info, far):
        return False
    return not delete_triggers(ctx, spec)


def _days_between(
    lower: dt.datetime, upper: dt.datetime, column_zone: ZoneInfo, zone: ZoneInfo
) -> list[dt.date] | None:
    """The table days exactly covering [lower, upper), or None if the bounds are not midnights."""
    first = lower.replace(tzinfo=column_zone).astimezone(zone)
    last = upper.replace(tzinfo=column_zone).astimezone(zone)
    if first.time() != dt.time() or last.time() != dt.time():
        return None
    return [first.date() + dt.timedelta(days=i) for i in range((last.date() - first.date()).days)]


class PartitionRowsDiffer(VerificationError):
    """A partition holds another number of rows than its days' archives (late rows, or rows a
    ``where`` filter leaves out): it is not dropped, and nothing was locked or deleted."""


def drop_partition(
    ctx: Context,
    spec: TableSpec,
    info: TableInfo,
    part: RangePartition,
    days: list[dt.date],
    manifests: dict[dt.date, Manifest],
    throttle: Throttle,
) -> DroppedPartition:
    """Drop one partition once its rows are proven archived (``exchange.py``); record its days
    as purged. ``days``: every day of the partition; ``manifests``: the verified ones with rows.

    Raises VerificationError, having deleted nothing, when the rows differ from the archive
    (``PartitionRowsDiffer`` when their number does, before anything is locked).
    """
    verified_rows = sum(m.effective_digest.count for m in manifests.values())
    count = ctx.source.partition_rows(info, part.name)
    if count != verified_rows:  # a cheap early no: not even a table lock for it
        raise PartitionRowsDiffer(
            f"{spec.name}: partition {part.name} holds {count} rows but {verified_rows} were "
            "verified in the archive; it is not dropped"
        )
    locked = exchange.exchange_and_drop(ctx, info, part.name, throttle)
    clone = exchange.clone_of(info)
    problems = exchange.prove(ctx, spec, clone, days, manifests, throttle)
    if problems:
        moved = exchange.put_back(ctx, info, throttle)
        raise VerificationError(
            f"{spec.name}: the rows of partition {part.name} did not match the archive once "
            f"exchanged ({'; '.join(problems)}); all {moved} were put back into the table (the "
            "partition's range now belongs to the next one) and nothing was deleted. The next "
            "run exports the changed days again"
        )
    drops = ledger.for_drop(ctx, spec, clone, manifests)  # intents, before the rows are gone
    exchange.record_purged(ctx, spec, sorted(manifests), f"drop partition {part.name}")
    exchange.drop_clone(ctx, clone)
    drops.confirm()
    return DroppedPartition(
        spec.name, part.name, tuple(sorted(manifests)), verified_rows, round(locked, 4)
    )


def recover_exchange(
    ctx: Context, spec: TableSpec, info: TableInfo, throttle: Throttle
) -> DroppedPartition | None:
    """Finish a drop that was interrupted after its exchange (``exchange.recover``)."""
    recovered = exchange.recover(ctx, spec, info, throttle)
    if recovered is None:
        return None
    days, rows = recovered
    return DroppedPartition(spec.name, "", tuple(days), rows)
