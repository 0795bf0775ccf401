"""Publishing a day exported in units, once every unit of its plan has landed (the manifest is
assembled from the unit records), and the whole unit flow in one process."""

from __future__ import annotations

import dataclasses
import datetime as dt
import time

from dbarchive import lakehouse
from dbarchive.checksum import RowDigest
from dbarchive.config import TableSpec
from dbarchive.context import Context
from dbarchive.errors import VerificationError
from dbarchive.manifest import Manifest, SourceRecord
from dbarchive.sources import mysql_sql as q
from dbarchive.sources.table import DayWindow, ScanPlan, TableInfo
from dbarchive.steps import publish, upload

# The export's own building blocks, shared so both paths write identical files and manifests.
from dbarchive.steps.outcome import (
    ExportResult,
    build_manifest,
    export_result,
    now_text,
    on_commit,
    run_lock_guard,
)
from dbarchive.steps.verify import verify_day
from dbarchive.strategies import strategy_for
from dbarchive.throttle import Throttle
from dbarchive.units.export import (
    export_unit,
)
from dbarchive.units.plan import (
    files_present,
    pending_units,
    plan_of,
    plan_units,
)
from dbarchive.units.records import (
    DayUnits,
    UnitRecord,
    is_verified,
    read_plan,
    read_record,
    write_verify_marker,
)


def publish_units(
    ctx: Context, spec: TableSpec, day: dt.date, plan: DayUnits | None = None
) -> tuple[Manifest, list[str]]:
    """Assemble and publish the day once every unit landed; returns the manifest, stale keys.

    Raises VerificationError naming the units still missing, or when the database holds rows of
    the day outside the planned ranges (the manifest is then published but not marked verified).
    """
    ctx.require_settled(spec, day)
    partition = ctx.partition(spec, day)
    plan = plan or read_plan(ctx.storage, partition)
    if plan is None:
        raise VerificationError(f"{spec.name} {day}: the day has no work-unit plan; plan it first")
    done = upload.read_manifest(ctx.storage, partition)
    if (
        done is not None
        and plan_of(done) == plan.plan_id
        and is_verified(ctx.storage, partition, done)
    ):
        return done, []  # published and verified already (a retried or cleared task)
    strategy_for(spec).land_units(ctx, spec, plan)  # e.g. verify what Aurora wrote
    records = _landed_records(ctx, spec, plan)
    info = ctx.describe(spec)
    window = ctx.source.window(spec, info, day)
    manifest = _unit_manifest(spec, info, window, plan, records, ctx.identity(spec).record())
    target = plan.target(partition)
    if not files_present(ctx, target, manifest.files):
        raise VerificationError(
            f"{spec.name} {day}: a file of a landed unit is missing or has another size; export "
            "the day's units again"
        )
    ctx.source.check_run_lock(info)  # the lock vanished: publish nothing (sources/lock.py)
    if done is not None and publish.already_published(ctx.storage, manifest, done):
        publish.discard(ctx.storage, target, manifest, done)
        manifest, stale = done, []
        lakehouse.commit_day(ctx, spec, manifest)  # a kill may have come before the snapshot
    else:
        committed = on_commit(ctx, spec, day, replacing=done is not None)
        guard = run_lock_guard(ctx, spec)
        published = publish.publish(
            ctx.storage, target, manifest, base=done, committed=committed, guard=guard
        )
        manifest, stale = published.manifest or manifest, published.removed
    (count,) = ctx.reads(spec, day).query(  # where the units were read
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
    if manifest is not None and plan_of(manifest) is None:
        result = verify_day(ctx, spec, day)  # a partly purged day: every row left is archived
        if not result.ok:
            raise VerificationError("; ".join(result.problems))
        write_verify_marker(ctx.storage, partition, manifest)
        return manifest
    return publish_units(ctx, spec, day)[0]


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
    spec: TableSpec,
    info: TableInfo,
    window: DayWindow,
    plan: DayUnits,
    records: list[UnitRecord],
    source: SourceRecord,
) -> Manifest:
    digest = RowDigest()
    for record in records:
        digest.merge(record.digest)
    low = None if plan.low is None else plan.low.encode()
    high = None if plan.high is None else plan.high.encode()
    scan = ScanPlan(plan.strategy, plan.rows, low, high)
    files = [f for r in records for f in r.files]
    started = min((r.started_at for r in records), default=now_text())
    manifest = build_manifest(
        spec, info, window, scan, files, digest, started, plan.generation, source
    )
    ranges = [[u.low, u.high, r.rows] for u, r in zip(plan.units, records, strict=True)]
    units = {"plan_id": plan.plan_id, "ranges": ranges}
    extra = {**manifest.extra, "units": units, "export_strategy": spec.export.strategy}
    return dataclasses.replace(manifest, extra=extra)


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
