"""The aurora-outfile strategy: Aurora writes each work unit to S3, dbarchive proves and lands it.

Per unit of a day's plan (``units/`` plans the ranges and publishes the day):

1. :func:`issue_unit` makes the day incomplete (like a stream unit), removes what an earlier
   attempt of *this* unit left in its staging names (``_aurora-UUUUU.*``), runs the unit's
   ``SELECT … INTO OUTFILE S3`` (``statement.py``) and then records that it completed
   (``_outfile-UUUUU.json``, tied to the plan). No row passes through this process.
2. :func:`land_unit` reads Aurora's manifest (written after every part), reads every part it
   lists — header line, every row parsed in the archive's dialect, row count and row digest,
   size, SHA-256, CRC32 — and requires the parts' digest to equal the database's digest of the
   same range (computed by the server). Only then are the parts placed under the unit's own
   names (``part-UUUUU-NNNNN.csv``) by a server-side copy whose CRC32 must equal the bytes read,
   or, with ``compression`` set, re-written as ``.csv.gz``/``.csv.zst`` while they are read (the
   optional post-step: Aurora cannot compress). Then the unit's record (``_unit-UUUUU.json``) is
   written and the staging objects are deleted.

Killed anywhere, a unit has no record and is done again; the day's manifest is still written
last, by ``publish_units``, once every unit has a record.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import importlib
import json
import os
import time
from dataclasses import dataclass
from typing import cast
from urllib.parse import urlparse

from dbarchive import failpoints
from dbarchive.checksum import RowDigest
from dbarchive.clock import SystemClock
from dbarchive.config import TableSpec
from dbarchive.context import Context
from dbarchive.errors import SourceError, VerificationError
from dbarchive.formats.compression import Compression
from dbarchive.layout import PartitionPath
from dbarchive.sources.charsets import check_rows
from dbarchive.sources.mysql import MySqlSource
from dbarchive.sources.table import DayWindow, ScanPlan, TableInfo
from dbarchive.steps.outcome import emit_export_event
from dbarchive.strategies.aurora import checks, parts
from dbarchive.strategies.aurora.statement import (
    OutfileRunner,
    OutfileStatement,
    S3Target,
    render,
    unit_digest_sql,
    unit_statement,
    unit_unconverted_sql,
)
from dbarchive.throttle import Throttle
from dbarchive.units.plan import (
    average_row_bytes,
    check_current,
    pending_units,
    unit_scan,
    units_for,
)
from dbarchive.units.records import DayUnits, UnitRecord

RUNNER_ENV = "DBARCHIVE_OUTFILE_RUNNER"  # "module:factory", factory(ctx) -> OutfileRunner


class AuroraRunner:
    """Runs the statement on the server itself: Aurora MySQL writes the files."""

    def require_support(self, source: MySqlSource) -> None:
        checks.require_outfile(source)

    def run(self, source: MySqlSource, statement: OutfileStatement) -> int:
        checks.activate_s3_role(source)
        sql, params = statement.aurora_sql()
        try:
            return source.execute(sql, params, "writing a range to S3 (SELECT … INTO OUTFILE S3)")
        except SourceError as exc:
            error = SourceError(
                f"{exc}; `dbarchive check` lists what Aurora needs (the AWS_SELECT_S3_ACCESS role "
                "or SELECT INTO S3 privilege, aws_default_s3_role naming an IAM role allowed to "
                "write the prefix, network access to S3)"
            )
            error.mysql_code = exc.mysql_code
            raise error from None


def runner_for(ctx: Context) -> OutfileRunner:
    """The context's runner, else the one ``$DBARCHIVE_OUTFILE_RUNNER`` names, else Aurora."""
    if ctx.outfile_runner is not None:
        return cast(OutfileRunner, ctx.outfile_runner)
    named = os.environ.get(RUNNER_ENV)
    if named:
        module, _, factory = named.partition(":")
        runner: OutfileRunner = getattr(importlib.import_module(module), factory)(ctx)
        return runner
    return AuroraRunner()


def require_support(ctx: Context) -> None:
    """Refuse, before anything is written, a server that cannot run the statement."""
    runner_for(ctx).require_support(ctx.mysql)


def target(ctx: Context, partition: PartitionPath, index: int) -> S3Target:
    """Where Aurora writes unit ``index``: its staging prefix under the destination's root."""
    parsed = urlparse(ctx.job.destination.url)
    root = parsed.path.strip("/")
    root = f"{root}/" if root else ""
    return S3Target(
        parsed.netloc, root + partition.outfile_prefix(index), ctx.job.destination.region
    )


@dataclass(frozen=True)
class OutfileRecord:
    """A unit whose statement completed: Aurora's parts and manifest are in its staging names."""

    plan_id: str
    index: int
    rows: int  # what the server said it wrote
    started_at: str
    seconds: float

    def dumps(self) -> bytes:
        return json.dumps(dataclasses.asdict(self), indent=2).encode() + b"\n"

    @classmethod
    def loads(cls, raw: bytes) -> OutfileRecord:
        data = json.loads(raw)
        return cls(data["plan_id"], int(data["index"]), int(data["rows"]), data["started_at"],
                   float(data["seconds"]))  # fmt: skip


def _unit_window(
    ctx: Context, spec: TableSpec, plan: DayUnits, index: int
) -> tuple[TableInfo, DayWindow, ScanPlan]:

    info = ctx.describe(spec)
    window, scan = unit_scan(info, ctx.source.window(spec, info, plan.day), plan, plan.units[index])
    return info, window, scan


def first_statement(ctx: Context, spec: TableSpec, day: dt.date) -> str:
    """The statement of the day's first unit as Aurora would receive it (for ``plan``); the
    plan is computed, not stored."""

    info = ctx.describe(spec)
    window = ctx.source.window(spec, info, day)
    row_bytes = average_row_bytes(ctx, info) if spec.range_mib else None
    scan = ctx.source.plan_scan(info, window, spec.scan)
    plan = units_for(spec, info, window, scan, row_bytes)
    if not plan.units:
        return "(no rows that day: no statement)"
    unit_window, scan = unit_scan(info, window, plan, plan.units[0])
    partition = ctx.partition(spec, day)
    statement = unit_statement(info, unit_window, scan, target(ctx, partition, 0))
    return f"[1 of {len(plan.units)} units] " + render(*statement.aurora_sql())


def issue_unit(
    ctx: Context, spec: TableSpec, plan: DayUnits, index: int, throttle: Throttle | None = None
) -> OutfileRecord:
    """Run unit ``index``'s statement and record that it completed; safe to repeat and to kill."""

    runner = runner_for(ctx)
    runner.require_support(ctx.mysql)
    check_current(ctx, spec, plan)
    partition = ctx.partition(spec, plan.day)
    info, window, scan = _unit_window(ctx, spec, plan, index)
    # The committed manifest stays: the day is replaced only when all units are published.
    ctx.storage.delete_keys([partition.unit_record_key(index), partition.outfile_record_key(index)])
    clear_staging(ctx, partition, index)
    ctx.storage.abort_incomplete(partition.outfile_prefix(index))  # a killed statement's uploads
    statement = unit_statement(info, window, scan, target(ctx, partition, index))
    if throttle is not None:
        throttle.before_first_chunk(writes=False)  # load, lag, stop requests: before, not during
    started, t0 = _now(), time.monotonic()
    emit_export_event(
        ctx, spec, plan.day, "start", total=scan.estimated_rows, message=f"unit {index} (Aurora)"
    )
    rows = runner.run(ctx.mysql, statement)
    failpoints.hit("outfile.statement-done")
    record = OutfileRecord(plan.plan_id, index, rows, started, time.monotonic() - t0)
    ctx.storage.put_bytes(partition.outfile_record_key(index), record.dumps())
    emit_export_event(
        ctx, spec, plan.day, "finish", rows=rows, message=f"unit {index}: Aurora wrote {rows} rows"
    )
    return record


def export_unit(
    ctx: Context, spec: TableSpec, plan: DayUnits, index: int, throttle: Throttle | None = None
) -> UnitRecord:
    """Issue the unit's statement, then verify and land what Aurora wrote."""
    issue_unit(ctx, spec, plan, index, throttle)
    return land_unit(ctx, spec, plan, index)


def land_units(ctx: Context, spec: TableSpec, plan: DayUnits) -> list[UnitRecord]:
    """Land every unit of the plan that Aurora wrote but that has no record yet."""

    partition = ctx.partition(spec, plan.day)
    landed = [land_unit(ctx, spec, plan, i) for i in pending_units(ctx, spec, plan)]
    stale = [
        o.key
        for o in ctx.storage.list_objects(partition.prefix)
        if _staging_index(o.key.rsplit("/", 1)[-1]) not in {None, *range(len(plan.units))}
    ]
    ctx.storage.delete_keys(stale)  # staging left by an earlier plan with more units
    return landed


def land_unit(ctx: Context, spec: TableSpec, plan: DayUnits, index: int) -> UnitRecord:
    """Verify what Aurora wrote for unit ``index`` and place it in the partition (see module)."""

    t0 = time.monotonic()
    check_current(ctx, spec, plan)
    partition = ctx.partition(spec, plan.day)
    issued = _issued(ctx, spec, partition, plan, index)
    dest = target(ctx, partition, index)
    root = dest.key[: len(dest.key) - len(partition.outfile_prefix(index))]
    keys = parts.aurora_part_keys(ctx.storage, partition.outfile_manifest_key(index), dest, root)
    info, window, scan = _unit_window(ctx, spec, plan, index)
    unit_path = plan.target(partition).for_unit(index)
    if spec.compression is Compression.NONE:
        files, digest = parts.verify_and_copy(ctx.storage, spec, info, scan, unit_path, keys)
    else:
        files, digest = parts.recompress(ctx.storage, spec, info, unit_path, keys)
    _refuse_unconverted(ctx, info, window, scan)
    sql, params = unit_digest_sql(info, window, scan)
    cnt, x1, x2, s1 = ctx.source.query(sql, params, "digesting a unit's range")[0]
    in_db = RowDigest(int(cnt), int(x1), int(x2), int(s1))
    if in_db != digest:
        raise VerificationError(
            f"{spec.name} {plan.day} unit {index}: the database holds {in_db.describe()} in the "
            f"unit's range, Aurora's files {digest.describe()}; the unit is exported again on a "
            "rerun (if it differs every time, Aurora's output is not the expected dialect: use "
            "export.strategy = 'stream')"
        )
    record = UnitRecord(plan.plan_id, index, tuple(files), digest, issued.started_at, _now(),
                        issued.seconds + time.monotonic() - t0)  # fmt: skip
    ctx.storage.put_bytes(partition.unit_record_key(index), record.dumps())
    failpoints.hit("outfile.unit-landed")
    clear_staging(ctx, partition, index)
    return record


def _refuse_unconverted(ctx: Context, info: TableInfo, window: DayWindow, scan: ScanPlan) -> None:
    """Refuse the unit if a row's non-UTF-8 text did not convert: Aurora wrote '?' for it, and
    the database's digest reads the same '?' (``sources/charsets.py``)."""
    check = unit_unconverted_sql(info, window, scan)
    if check is not None:
        rows = ctx.source.query(*check, what="checking a unit's text")
        width = len(info.key)
        check_rows(info, range(width), width, rows)


def _issued(
    ctx: Context, spec: TableSpec, partition: PartitionPath, plan: DayUnits, index: int
) -> OutfileRecord:
    raw = ctx.storage.get_bytes(partition.outfile_record_key(index))
    issued = None if raw is None else OutfileRecord.loads(raw)
    if issued is None or issued.plan_id != plan.plan_id:
        raise VerificationError(
            f"{spec.name} {plan.day}: unit {index} has not been exported by Aurora for the "
            "current plan; export it (its statement), then publish the day"
        )
    return issued


def _staging_index(name: str) -> int | None:
    """The unit a staging object belongs to (``_aurora-UUUUU.*``, ``_outfile-UUUUU.json``)."""
    for mark in ("_aurora-", "_outfile-"):
        if name.startswith(mark) and name[len(mark) : len(mark) + 5].isdigit():
            return int(name[len(mark) : len(mark) + 5])
    return None


def clear_staging(ctx: Context, partition: PartitionPath, index: int) -> None:
    """Delete what Aurora wrote for the unit (its parts and manifest) and the statement record."""
    prefix = partition.outfile_prefix(index) + "."
    keys = [o.key for o in ctx.storage.list_objects(prefix)]
    ctx.storage.delete_keys([*keys, partition.outfile_record_key(index)])


def _now() -> str:
    return SystemClock().now().isoformat(timespec="seconds")  # when it ran: the real time
