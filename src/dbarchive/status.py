"""status: what is archived, purged and pending for a table, from the archive and the database."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from dbarchive.config import TableSpec
from dbarchive.context import Context
from dbarchive.daily import catch_up_days
from dbarchive.layout import MANIFEST_NAME, PURGE_MARKER_NAME, day_of_key, table_dir
from dbarchive.manifest import Manifest
from dbarchive.steps import upload


@dataclass(frozen=True)
class TableStatus:
    """One table's archive state."""

    table: str
    retention: str
    cutoff: dt.date
    oldest_day: dt.date | None
    archived_days: list[dt.date]
    archived_rows: int
    archived_bytes: int
    purged_days: list[dt.date]
    partial_days: list[dt.date]
    pending_days: list[dt.date]

    def to_json(self) -> dict[str, Any]:
        def days(values: list[dt.date]) -> list[str]:
            return [d.isoformat() for d in values]

        return {
            "table": self.table,
            "retention": self.retention,
            "cutoff": self.cutoff.isoformat(),
            "oldest_day_in_database": self.oldest_day.isoformat() if self.oldest_day else None,
            "archived_days": days(self.archived_days),
            "archived_rows": self.archived_rows,
            "archived_bytes": self.archived_bytes,
            "purged_days": days(self.purged_days),
            "partially_purged_days": days(self.partial_days),
            "pending_days": days(self.pending_days),
        }


def table_status(ctx: Context, spec: TableSpec, today: dt.date) -> TableStatus:
    """Read every manifest and purge record of the table, and the database's oldest row."""
    layout = ctx.job.destination.layout
    archived: dict[dt.date, Manifest] = {}
    purged: list[dt.date] = []
    partial: list[dt.date] = []
    for obj in ctx.storage.list_objects(table_dir(spec.name) + "/"):
        day = day_of_key(obj.key, layout)
        name = obj.key.rsplit("/", 1)[-1]
        if day is None:
            continue
        if name == MANIFEST_NAME:
            raw = ctx.storage.get_bytes(obj.key)
            if raw is not None:
                archived[day] = Manifest.loads(raw)
        elif name == PURGE_MARKER_NAME:
            marker = upload.read_purge_marker(ctx.storage, ctx.partition(spec, day)) or {}
            (purged if marker.get("status") == "purged" else partial).append(day)
    return TableStatus(
        table=spec.name,
        retention=str(spec.retention),
        cutoff=spec.retention.cutoff(today),
        oldest_day=ctx.source.oldest_day(spec, ctx.describe(spec)),
        archived_days=sorted(archived),
        archived_rows=sum(m.rows for m in archived.values()),
        archived_bytes=sum(m.total_bytes for m in archived.values()),
        purged_days=sorted(purged),
        partial_days=sorted(partial),
        pending_days=catch_up_days(ctx, spec, today),
    )
