"""Exporting one work unit: through its strategy, or the stream strategy's own (read, write,
verify against the database's digest of the range, record)."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

from dbarchive import failpoints
from dbarchive.checksum import RowDigest
from dbarchive.config import TableSpec
from dbarchive.context import Context
from dbarchive.errors import VerificationError
from dbarchive.manifest import FileEntry
from dbarchive.sources.table import DayWindow, ScanPlan, TableInfo
from dbarchive.steps import upload
from dbarchive.steps.archive_files import iter_file_digests

# The export's own building blocks, shared so both paths write identical files and manifests.
from dbarchive.steps.outcome import (
    emit_export_event,
    now_text,
)
from dbarchive.steps.stream import write_rows
from dbarchive.steps.verify import source_digest
from dbarchive.strategies import strategy_for
from dbarchive.throttle import Throttle
from dbarchive.units.plan import (
    check_current,
    plan_of,
    unit_scan,
)
from dbarchive.units.records import (
    DayUnits,
    UnitRecord,
    read_record,
)


def export_unit(
    ctx: Context, spec: TableSpec, plan: DayUnits, index: int, throttle: Throttle | None = None
) -> UnitRecord:
    """Export and verify one unit, then record it as landed; safe to repeat and to kill.

    For an aurora-outfile table Aurora writes the unit (``aurora/export.py``) and this process
    verifies and lands it.
    """
    ctx.require_settled(spec, plan.day)  # a plan stored by an older version may name one
    return strategy_for(spec).export_unit(ctx, spec, plan, index, throttle)


def stream_unit(
    ctx: Context, spec: TableSpec, plan: DayUnits, index: int, throttle: Throttle | None = None
) -> UnitRecord:
    """The stream strategy's unit: read its rows, write its files, verify them, record it."""
    started, t0 = now_text(), time.monotonic()
    partition = ctx.partition(spec, plan.day)
    check_current(ctx, spec, plan)
    published = _published_record(ctx, spec, plan, index)
    if published is not None:
        return published  # e.g. a retried task: the day holds this unit's files already
    unit = plan.units[index]
    info = ctx.describe(spec)
    window, scan = unit_scan(info, ctx.source.window(spec, info, plan.day), plan, unit)
    ctx.storage.delete_keys([partition.unit_record_key(index)])  # the committed day stays
    unit_path = plan.target(partition).for_unit(index)
    ctx.storage.abort_incomplete(unit_path.unit_part_prefix)
    # An earlier attempt's files (its plan is not committed): the names are written once.
    ctx.storage.delete_keys([o.key for o in ctx.storage.list_objects(unit_path.unit_part_prefix)])
    emit_export_event(
        ctx, spec, plan.day, "start", total=scan.estimated_rows, message=f"unit {index}"
    )
    files, digest = write_rows(ctx, spec, info, window, scan, unit_path, throttle)
    failpoints.hit("unit.written")
    written = [replace(f, key=unit_path.write_key(f.key)) for f in files]  # staged, or not
    _verify_unit(ctx, spec, info, window, scan, written, digest, throttle, index)
    record = UnitRecord(
        plan.plan_id, index, tuple(files), digest, started, now_text(), time.monotonic() - t0
    )
    ctx.storage.put_bytes(partition.unit_record_key(index), record.dumps())
    failpoints.hit("unit.landed")
    emit_export_event(ctx, spec, plan.day, "finish", rows=digest.count, nbytes=sum(f.bytes for f in files),
          message=f"unit {index}: {digest.count} rows in {len(files)} file(s)")  # fmt: skip
    return record


def _published_record(
    ctx: Context, spec: TableSpec, plan: DayUnits, index: int
) -> UnitRecord | None:
    """The unit's record if its plan was published already: its files are committed and must
    never be rewritten. None while the plan is still to be published."""
    committed = upload.read_manifest(ctx.storage, ctx.partition(spec, plan.day))
    if committed is None or committed.generation < plan.generation:
        return None
    record = read_record(ctx.storage, ctx.partition(spec, plan.day), index)
    if record is None or record.plan_id != plan.plan_id or plan_of(committed) != plan.plan_id:
        raise VerificationError(
            f"{spec.name} {plan.day}: the day was published since this unit was planned; plan "
            "the day and export its units again"
        )
    return record


def _verify_unit(
    ctx: Context,
    spec: TableSpec,
    info: TableInfo,
    window: DayWindow,
    scan: ScanPlan,
    files: list[FileEntry],
    digest: RowDigest,
    throttle: Throttle | None,
    index: int,
) -> None:
    """The database's digest of the unit's rows equals the files'; each file reads back intact
    (``files`` named as written: a re-export of an archived day stages them; read by their
    published names they did not exist, and every rerun failed: an outside kill-storm trial)."""
    reads = ctx.reads(spec, window.day)  # where the unit was read
    in_db = source_digest(reads, info, window, scan, spec.chunk_rows, throttle)
    if in_db != digest:
        raise VerificationError(
            f"{spec.name} {window.day} unit {index}: the database holds {in_db.describe()} in the "
            f"unit's range, the files {digest.describe()}; the unit is exported again on a rerun"
        )
    for entry in files:
        for _ in iter_file_digests(ctx.storage, entry):
            pass  # raises VerificationError on any difference in size, SHA-256 or rows


@dataclass(frozen=True)
class UnitTaskResult:
    """What an export task did with one unit (an Airflow XCom summary)."""

    index: int
    rows: int
    files: tuple[str, ...]  # the unit's files; none yet when Aurora wrote them (still staged)
    rows_read: int  # rows this process read from the database: 0 when Aurora wrote the unit


def export_unit_task(
    ctx: Context, spec: TableSpec, plan: DayUnits, index: int, throttle: Throttle | None = None
) -> UnitTaskResult:
    """An export task's share of a unit: the whole unit (stream), or only Aurora's statement.

    With ``aurora-outfile`` no row passes through the task: the day's verify/publish task
    (:func:`publish_units`) reads and lands what Aurora wrote.
    """
    ctx.require_settled(spec, plan.day)
    read_before = _rows_read(ctx)
    files: tuple[str, ...] = ()
    issued = strategy_for(spec).issue_unit(ctx, spec, plan, index, throttle)
    if isinstance(issued, UnitRecord):
        rows, files = issued.rows, tuple(f.key for f in issued.files)
    else:
        rows = issued
    return UnitTaskResult(index, rows, files, _rows_read(ctx) - read_before)


def _rows_read(ctx: Context) -> int:
    """Rows this process read from the database: the primary's and the read endpoint's."""
    reader = ctx.reader.counters.rows_read if ctx.reader is not None else 0
    return ctx.source.counters.rows_read + reader
