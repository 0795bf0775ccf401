"""Operators of work units and backfills: plan a day, export one unit, publish a day, purge a day.

They hold parameters only and call the same core as ``dbarchive backfill``
(``units/``, ``backfill.py``); every one is safe to retry or clear. XCom carries small
descriptions (days, unit indexes, counts), never rows.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any
from zoneinfo import ZoneInfo

from dbarchive import api
from dbarchive.airflow._compat import BaseOperator, max_map_length, run_moment
from dbarchive.airflow.failures import MapTooLong, failing_fast
from dbarchive.airflow.operators import _ArchiveOperator
from dbarchive.airflow.summary import key_range, log, summary_line, throttled_seconds
from dbarchive.config import TableSpec
from dbarchive.errors import VerificationError
from dbarchive.jobs.backfill import purge_changed_day
from dbarchive.jobs.backfill_days import backfill_days, day_is_done
from dbarchive.steps import upload
from dbarchive.steps.purge import purge_day
from dbarchive.units.export import export_unit_task
from dbarchive.units.plan import pending_units, plan_units
from dbarchive.units.publish import publish_day
from dbarchive.units.records import is_verified, read_plan


def _today(context: Any, spec: TableSpec) -> dt.date:
    """'Today' of a backfill run for the retention cutoff, in the table's zone."""
    return run_moment(context).astimezone(ZoneInfo(spec.timezone)).date()


def _summary(spec: TableSpec, day: dt.date, manifest: Any) -> dict[str, Any]:
    return {"table": spec.name, "day": day.isoformat(), "rows": manifest.rows,
            "bytes": manifest.total_bytes, "files": len(manifest.files),
            "key_range": key_range(manifest), "verified": True}  # fmt: skip


def mappable(items: list[Any], what: str, fix: str) -> list[Any]:
    """``items`` if Airflow can map a task over them, else MapTooLong (permanent: no retry
    returns fewer); checked here, so the error says what to do instead of Airflow's own."""
    limit = max_map_length()
    if len(items) > limit:
        raise MapTooLong(
            f"{len(items)} {what} to map over, more than [core] max_map_length = {limit}: {fix}"
        )
    return items


class ArchiveBackfillDaysOperator(_ArchiveOperator):
    """The days of a backfill still to do (``first``/``last`` templated, e.g. from params).

    Empty ``first``: the oldest row's day; empty ``last``: the day before the retention cutoff.
    Days already done (verified, and purged if ``purge``) are left out.
    """

    template_fields: Sequence[str] = ("config", "table", "first", "last")
    step = "days"
    renders_day = False  # a range of days, not the run's day

    def __init__(self, *, first: str = "", last: str = "", purge: bool = False, **kwargs: Any):
        super().__init__(**kwargs)
        self.first, self.last, self.purge = first, last, purge

    def work(self, context: Any) -> list[str]:
        ctx, spec = self.dbarchive_context()
        today = _today(context, spec)
        first = dt.date.fromisoformat(self.first) if self.first else None
        last = dt.date.fromisoformat(self.last) if self.last else None
        try:
            days = backfill_days(ctx, spec, first, last, today)
            todo = [d for d in days if not day_is_done(ctx, spec, d, self.purge, today)]
        finally:
            ctx.close()
        self.log.info("%s: %d day(s) to do of %d", spec.name, len(todo), len(days))
        fix = "give the params from/to a shorter range (e.g. a year per run), or raise it"
        return mappable([d.isoformat() for d in todo], "days", fix)


class ArchivePlanOperator(_ArchiveOperator):
    """Plan one day's work units; returns the units still to export (none once it verified).

    A day archived but not verified is planned again: with unchanged bounds the landed units are
    kept (publish re-assembles them), with changed ones (late rows) every unit is exported again.
    """

    step = "plan"
    default_map_index = "{{ task.day }}"  # mapped over days in the backfill

    def work(self, context: Any) -> list[dict[str, Any]]:
        ctx, spec = self.dbarchive_context()
        day = self.archive_day(context, spec)
        partition = ctx.partition(spec, day)
        try:
            manifest = upload.read_manifest(ctx.storage, partition)
            if manifest is not None and is_verified(ctx.storage, partition, manifest):
                return []
            plan = plan_units(ctx, spec, day)
            pending = pending_units(ctx, spec, plan)
        finally:
            ctx.close()
        self.log.info("%s %s: %d unit(s), %d to export", spec.name, day, len(plan.units),
                      len(pending))  # fmt: skip
        units = [{"table": spec.name, "day": day.isoformat(), "index": i} for i in pending]
        fix = "raise range_rows/range_mib so the day needs fewer units, or raise it"
        return mappable(units, f"work units of {spec.name} {day}", fix)


class ArchiveUnitsOperator(BaseOperator):
    """Flattens the mapped plans' unit lists into one list to map the exports over."""

    template_fields = ("plans",)

    def __init__(self, *, plans: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.plans = plans

    def execute(self, context: Any) -> list[dict[str, Any]]:
        units = [unit for plan in self.plans or [] for unit in plan or []]
        fix = "give the params from/to a shorter range, or raise range_rows/range_mib"
        with failing_fast():
            mappable(units, "work units", fix)
        log.info("%s", summary_line("units", {"unit": len(units)}))
        return units


class ArchiveUnitOperator(_ArchiveOperator):
    """Export and verify one work unit (``{"table", "day", "index"}``), throttled like the purge.

    For an aurora-outfile table it only runs Aurora's statement (no row passes through the
    worker); the day's ``verify``/``publish`` task verifies and lands what Aurora wrote.
    """

    template_fields: Sequence[str] = ("config", "table", "unit")
    step = "export"
    renders_day = False  # the unit names its day
    default_map_index = "{{ task.unit['day'] }} unit {{ task.unit['index'] }}"

    def __init__(self, *, unit: dict[str, Any], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.unit = unit

    def work(self, context: Any) -> dict[str, Any]:
        ctx, spec = self.dbarchive_context()
        day = dt.date.fromisoformat(self.unit["day"])
        try:
            plan = read_plan(ctx.storage, ctx.partition(spec, day))
            if plan is None:
                raise VerificationError(f"{spec.name} {day}: no work-unit plan; run its plan task")
            throttle = api.throttle_for(ctx)
            done = export_unit_task(ctx, spec, plan, int(self.unit["index"]), throttle)
        finally:
            ctx.close()
        return {"table": spec.name, "day": day.isoformat(), "unit": done.index,
                "index": done.index, "rows": done.rows, "files": list(done.files),
                "rows_read": done.rows_read, "verified": True,
                "throttled_s": throttled_seconds(throttle)}  # fmt: skip


class ArchivePublishOperator(_ArchiveOperator):
    """The day's final task: assemble the manifest from its units and verify it (or verify a day
    exported whole), then record it as verified — the purge of the day waits for this."""

    step = "verify"
    default_map_index = "{{ task.day }}"  # the backfill's per-day group

    def work(self, context: Any) -> dict[str, Any]:
        ctx, spec = self.dbarchive_context()
        day = self.archive_day(context, spec)
        try:
            manifest = publish_day(ctx, spec, day)
        finally:
            ctx.close()
        return _summary(spec, day, manifest)


class ArchiveDayPurgeOperator(_ArchiveOperator):
    """Purge one verified day of a backfill, if it lies before the retention cutoff."""

    step = "purge"
    default_map_index = "{{ task.day }}"  # the backfill's per-day group

    def work(self, context: Any) -> dict[str, Any]:
        ctx, spec = self.dbarchive_context()
        day = self.archive_day(context, spec)
        partition = ctx.partition(spec, day)
        try:
            if day >= spec.retention.cutoff(_today(context, spec)):
                return {"table": spec.name, "day": day.isoformat(), "rows_deleted": 0}
            manifest = upload.read_manifest(ctx.storage, partition)
            if manifest is None or not is_verified(ctx.storage, partition, manifest):
                raise VerificationError(f"{spec.name} {day}: not verified, so nothing is purged")
            throttle = api.throttle_for(ctx)
            result = purge_day(ctx, spec, manifest, throttle)
            deleted = result.rows_deleted
            if result.rows_unarchived:  # arrived or changed since its archive: as `run` does
                deleted += purge_changed_day(ctx, spec, day, throttle).rows_deleted
        finally:
            ctx.close()
        return {"table": spec.name, "day": day.isoformat(), "rows_deleted": deleted,
                "rows_refused": result.rows_refused,  # archived; a foreign key or trigger kept them
                "verified": True, "throttled_s": throttled_seconds(throttle)}  # fmt: skip
