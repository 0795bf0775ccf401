"""How an archived day maps onto an Iceberg table: whether ``day()`` partitioning fits it, and
a filter range that finds its files whatever the zone."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa

_UTC_ZONES = {"UTC", "Etc/UTC", "Etc/GMT", "GMT", "Etc/Universal", "Universal", "Zulu"}


def day_is_icebergs(column_type: pa.DataType, zone: str, datetime_zone: str) -> bool:
    """Whether Iceberg's ``day()`` of the column (as its Parquet files type it) is the archive's
    day in ``zone`` (the partitioning rule of ``lakehouse/iceberg.py``). A DATETIME's day is its
    wall clock's, in ``datetime_zone`` (``source.timezone``): the archive's only where the two
    zones are one (an outside trial: a Berlin day of a UTC DATETIME spans two dates, and every
    commit of it failed)."""
    import pyarrow as pa

    if pa.types.is_date(column_type):
        return True
    if pa.types.is_timestamp(column_type):
        if column_type.tz is None:
            return zone == datetime_zone or {zone, datetime_zone} <= _UTC_ZONES
        return zone in _UTC_ZONES
    return False


def day_range_filter(day: dt.date, column_type: Any) -> tuple[str, str]:
    """A filter range holding every value of ``day`` in any zone (a day either side)."""
    from pyiceberg.types import DateType, TimestamptzType

    low, high = day - dt.timedelta(days=1), day + dt.timedelta(days=2)
    if isinstance(column_type, DateType):
        return low.isoformat(), high.isoformat()
    zone = "+00:00" if isinstance(column_type, TimestamptzType) else ""
    return f"{low.isoformat()}T00:00:00{zone}", f"{high.isoformat()}T00:00:00{zone}"
