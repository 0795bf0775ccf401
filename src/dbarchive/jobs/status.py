"""status: what is archived, purged and pending for a table, from the archive and the database."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from dbarchive.config import TableSpec
from dbarchive.context import Context
from dbarchive.errors import VerificationError
from dbarchive.jobs import backlog
from dbarchive.jobs.backlog import Backlog
from dbarchive.jobs.catch_up import catch_up_days, day_rows, expired_days
from dbarchive.layout import MANIFEST_NAME, PURGE_MARKER_NAME, day_of_key
from dbarchive.manifest import Manifest
from dbarchive.sources.mysql import NoDayRows
from dbarchive.steps import exchange, upload


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
    restored_days: list[dt.date]  # purged, then restored into the table (compared whole again)
    no_day: NoDayRows  # rows with a NULL, zero or invalid time value: they have no day
    # Days before the cutoff with rows in the database and no archive (a purge exports them first).
    expired_unarchived_days: list[dt.date] = field(default_factory=list)
    backlog: Backlog | None = None  # rows past retention still in the database, now
    backlog_last_run: Backlog | None = None  # as the last run's purge left it (_backlog.json)
    # Partly purged days whose last purge kept rows holding values in columns added since their
    # archive (``matching_scope``): no purge finishes them until those values are defaults.
    held_days: list[dt.date] = field(default_factory=list)
    # Partly purged days whose last purge kept archived rows the server refused to delete (a
    # foreign key RESTRICT, a trigger's SIGNAL): each purge tries them again.
    refused_days: list[dt.date] = field(default_factory=list)
    # Days whose manifest or purge record cannot be read: verify and the purge say why.
    damaged_days: list[dt.date] = field(default_factory=list)
    # Days not purged yet whose archived rows the application deleted (or moved away) since: the
    # archive keeps them (their only copy), so the day only grows (``upload.GONE_RECORD``).
    grown_only_days: list[dt.date] = field(default_factory=list)
    # Rows an interrupted partition drop left in its clone table: out of the table, archived,
    # not yet proven and dropped (the next purge finishes the drop).
    rows_in_interrupted_drop: int = 0

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
            "days_holding_rows_with_added_columns": days(self.held_days),
            "days_keeping_rows_the_server_refused_to_delete": days(self.refused_days),
            "days_with_unreadable_records": days(self.damaged_days),
            "grown_only_days": days(self.grown_only_days),
            "rows_in_interrupted_partition_drop": self.rows_in_interrupted_drop,
            "pending_days": days(self.pending_days),
            "restored_days": days(self.restored_days),
            "expired_unarchived_days": days(self.expired_unarchived_days),
            "backlog": self.backlog.to_json() if self.backlog else None,
            "backlog_last_run": self.backlog_last_run.to_json() if self.backlog_last_run else None,
            "rows_without_day": {
                "count": self.no_day.count,
                "example_keys": self.no_day.example_keys,
            },
        }


def table_status(ctx: Context, spec: TableSpec, today: dt.date) -> TableStatus:
    """Read every manifest and purge record of the table, and the database's oldest row."""
    layout = ctx.job.destination.layout
    archived: dict[dt.date, Manifest] = {}
    purged: list[dt.date] = []
    partial: list[dt.date] = []
    restored: list[dt.date] = []
    held: list[dt.date] = []
    refused: list[dt.date] = []
    damaged: list[dt.date] = []
    grown_only: list[dt.date] = []
    for obj in ctx.storage.list_objects(ctx.folder(spec) + "/"):
        day = day_of_key(obj.key, layout)
        name = obj.key.rsplit("/", 1)[-1]
        if day is None:
            continue
        try:
            if name == MANIFEST_NAME:
                manifest = upload.read_manifest(ctx.storage, ctx.partition(spec, day))
                if manifest is not None:
                    archived[day] = manifest
            elif name == PURGE_MARKER_NAME:
                marker = upload.read_purge_marker(ctx.storage, ctx.partition(spec, day)) or {}
                status = marker.get("status", "")
                if upload.grown_only(marker):
                    status = "grown-only"  # recorded by an export: no purge has begun
                lists = {"purged": purged, "restored": restored, "grown-only": grown_only}
                lists.get(status, partial).append(day)
                if marker.get("rows_held_added_columns"):
                    held.append(day)
                if marker.get("rows_refused_by_server"):
                    refused.append(day)
        except VerificationError:
            damaged.append(day)  # verify and the purge say what is wrong with it
    info = ctx.describe(spec)
    return TableStatus(
        table=spec.name,
        retention=str(spec.retention),
        cutoff=spec.retention.cutoff(today),
        oldest_day=ctx.source.oldest_day(spec, info),
        archived_days=sorted(archived),
        # rows, not versions: a row changed after its purge began is in two generations
        archived_rows=sum(m.effective_digest.count for m in archived.values()),
        archived_bytes=sum(m.total_bytes for m in archived.values()),
        purged_days=sorted(purged),
        partial_days=sorted(partial),
        pending_days=catch_up_days(ctx, spec, today, recheck=False),
        restored_days=sorted(restored),
        expired_unarchived_days=[
            d
            for d in expired_days(ctx, spec, today)
            if d not in archived and d not in damaged and day_rows(ctx, spec, d)
        ],
        no_day=ctx.source.no_day_rows(info),
        backlog=backlog.measure(ctx, spec, today, day_rows),
        backlog_last_run=backlog.last_recorded(ctx, spec),
        held_days=sorted(held),
        refused_days=sorted(refused),
        damaged_days=sorted(set(damaged)),
        grown_only_days=sorted(grown_only),
        rows_in_interrupted_drop=exchange.rows_left_in_clone(ctx, info),
    )
