"""Growth: archive the rows a day's archive lacks, once the day's purge has begun.

The database no longer holds a purged day's deleted rows, so its archive may only grow
(docs/design/publication.md). The day's rows are read as the server hashes them and matched, chunk
by chunk, against the archive's newest version of each key (``matching.py``); a row whose key the
archive lacks (a late row) or holds in another version (a changed row) is read again whole and
written to the next generation's staged files. The new manifest lists every file of the old one
plus the new ones; ``superseded`` gains the digest of the versions the changed rows replace
(a row moved within its day: its version at its old place, looked up by key once the day is
read). Memory: one chunk of hashes and the keys it misses, and up to ``LATER_ROWS`` keys it
wrote (and as many it looks up).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dbarchive._version import __version__
from dbarchive.checksum import RowDigest
from dbarchive.config import TableSpec
from dbarchive.context import Context
from dbarchive.errors import VerificationError
from dbarchive.layout import PartitionPath
from dbarchive.manifest import ColumnEntry, FileEntry, Manifest
from dbarchive.sources import mysql_sql as q
from dbarchive.sources.canonical import key_parameter
from dbarchive.sources.table import DayWindow, ScanPlan, TableInfo
from dbarchive.steps.archived_columns import column_change, matching_scope
from dbarchive.steps.key_reuse import ReuseCheck, reuse_refusal
from dbarchive.steps.matching import (
    LATER_ROWS,
    archived_hashes,
    int_key_path,
    open_newest,
    row_hash,
    versions_by_key,
)
from dbarchive.steps.outcome import (
    ExportResult,
    emit_export_event,
    finish_publication,
    keep_published,
)
from dbarchive.steps.publish import Committed
from dbarchive.steps.upload import Preparation
from dbarchive.steps.write import WriteSettings
from dbarchive.steps.writers import ChunkWriter, open_part_writer
from dbarchive.storage.gated import GatedStorage
from dbarchive.throttle import Throttle, read_rows, throttled

_KEYS_PER_READ = 500  # keys per ``SELECT … WHERE key IN (…)`` of the missing rows


def grow_day(
    ctx: Context,
    spec: TableSpec,
    info: TableInfo,
    window: DayWindow,
    committed: Committed,
    preparation: Preparation,
    throttle: Throttle | None = None,
) -> ExportResult:
    """Append the day's unarchived rows (late or changed) as a new generation; publish nothing
    when there are none. Called by ``export_day`` for a day whose purge has begun."""
    old = committed.manifest
    assert old is not None
    t0 = ctx.clock()
    info = matching_scope(info, old)  # columns added since: grown on the archived ones
    guards = _Guards(_columns_refusal(spec, info, old), ReuseCheck(ctx, spec, info, old))
    target = committed.target(ctx.partition(spec, old.day))
    plan = ctx.source.plan_scan(info, window, old.scan)  # the archive's order
    emit_export_event(ctx, spec, old.day, "start", total=plan.estimated_rows, message="growth")
    writer = _open_writer(ctx, spec, info, target, GatedStorage(ctx.storage, preparation))
    try:
        superseded = _write_missing(ctx, spec, info, window, plan, old, writer, throttle, guards)
        files = writer.close()
    except BaseException:
        writer.abort()
        raise
    preparation.open()
    if not files:  # every row left is archived: nothing to add
        return keep_published(ctx, spec, target, old, ctx.clock() - t0)
    manifest = grown_manifest(old, files, superseded, committed.next_generation, info)
    return finish_publication(ctx, spec, target, manifest, old, ctx.clock() - t0)


def _columns_refusal(spec: TableSpec, info: TableInfo, old: Manifest) -> str | None:
    """Why the growth cannot write a row, or None: it writes rows of the archived columns, so
    each must still be there, as archived. Said only if a row must be written: a widening that
    keeps every value's text (DECIMAL(10,2) to (12,2)) leaves the archived rows matching."""
    now = tuple(ColumnEntry(c.name, c.column_type, c.nullable) for c in info.columns)
    if now == old.columns:
        return None
    return (
        f"{spec.name} {old.day}: the table's columns changed since the day was archived "
        f"({_describe(info, old)}), and its purge has begun, so its archive can only grow by "
        "rows of the archived columns, which the table no longer has as archived; the day's "
        "rows the archive lacks are kept in the table (the table's other days go on)"
    )


def _describe(info: TableInfo, old: Manifest) -> str:
    """The change ``column_change`` names, or else the one it does not compare: nullability."""
    change = column_change(info, old)
    if change is not None:
        return change.describe()
    now = {c.name: c.nullable for c in info.columns}
    return "NULL allowed or not: " + ", ".join(
        c.name for c in old.columns if now[c.name] != c.nullable
    )


def _open_writer(
    ctx: Context, spec: TableSpec, info: TableInfo, target: PartitionPath, storage: GatedStorage
) -> ChunkWriter:
    shape = q.select_shape(info)
    keys = [p for p in shape.key_positions if p < shape.width]
    settings = WriteSettings(spec.compression, spec.compression_level, spec.max_file_bytes)
    return open_part_writer(spec.format, storage, target, info.columns, keys, settings)


def _write_missing(
    ctx: Context,
    spec: TableSpec,
    info: TableInfo,
    window: DayWindow,
    plan: ScanPlan,
    old: Manifest,
    writer: ChunkWriter,
    throttle: Throttle | None,
    guards: _Guards,
) -> RowDigest:
    """Write every row the archive lacks; returns the digest of the versions they supersede.
    ``guards``: when it must stop instead (VerificationError, nothing published)."""
    shape = q.hash_shape(info)
    full = dataclasses.replace(shape, width=1 + max(*shape.key_positions, shape.ts_position))
    superseded, seen, written = RowDigest(), 0, set[tuple[Any, ...]]()
    fresh: set[tuple[Any, ...]] = set()  # written keys the walk by place did not find
    newest = open_newest(ctx.storage, old, info, plan)
    try:
        rows = read_rows(throttle, spec.chunk_rows)
        chunks = ctx.source.read_chunks(info, window, plan, rows, full)
        for chunk, _last in chunks if throttle is None else throttled(chunks, throttle):
            archived = archived_hashes(newest, info, plan, full, chunk)
            missing = {  # a held row (``matching_scope``) is neither archived nor lost
                tuple(row[i] for i in full.key_positions): digest
                for row, digest in zip(chunk, archived, strict=True)
                if row_hash(row) not in {digest, q.HELD}
            }
            guards.check(spec, old, missing)
            _copy_rows(ctx, info, window, plan, missing, writer, superseded, written, fresh)
            seen += len(chunk)
            emit_export_event(
                ctx, spec, old.day, "chunk", rows=seen, nbytes=writer.bytes_written,
                total=plan.estimated_rows,
            )  # fmt: skip
            ctx.check_stop()
    finally:
        newest.close()
    wanted = _maybe_archived(old, info, fresh) if not int_key_path(info, plan) else set()
    if wanted:  # (an integer key read in key order was looked up by key already)
        found = versions_by_key(ctx.storage, old, info, wanted)
        guards.check(spec, old, found)
        for digest in found.values():
            superseded.add_hex(digest)  # a row moved within its day: its old place's version
    return superseded


@dataclass(frozen=True)
class _Guards:
    """When the growth stops rather than write: ``columns``, why no row may be written (the
    table's columns changed); ``reuse``, whether the table's keys are being reused, so that a key
    archived with other values is another row's (key_reuse.py)."""

    columns: str | None
    reuse: ReuseCheck

    def check(self, spec: TableSpec, old: Manifest, missing: Mapping[Any, str | None]) -> None:
        """Raise if a row of ``missing`` (key → its archived version's hash, or None) may not
        be written."""
        if missing and self.columns is not None:
            raise VerificationError(self.columns)
        changed = next((k for k, digest in missing.items() if digest is not None), None)
        if changed is not None and (behind := self.reuse.counter_behind) is not None:
            raise VerificationError(reuse_refusal(spec, old, changed, behind))


def _maybe_archived(
    old: Manifest, info: TableInfo, keys: set[tuple[Any, ...]]
) -> set[tuple[Any, ...]]:
    """The ``keys`` the archive may hold: an integer key outside the archived key range is a new
    row, so a day of late AUTO_INCREMENT rows is not read again for them."""
    if not (len(info.key) == 1 and info.key[0].is_integer and old.min_key and old.max_key):
        return keys
    low, high = int(old.min_key[0]), int(old.max_key[0])
    return {k for k in keys if low <= int(k[0]) <= high}


def _copy_rows(
    ctx: Context,
    info: TableInfo,
    window: DayWindow,
    plan: ScanPlan,
    missing: dict[tuple[Any, ...], str | None],
    writer: ChunkWriter,
    superseded: RowDigest,
    written: set[tuple[Any, ...]],
    fresh: set[tuple[Any, ...]],
) -> None:
    """Read the rows of ``missing`` keys whole and write them; a key the archive held in another
    version (``missing[key]``) adds that version to ``superseded`` — only for rows still there.

    ``written``: the keys this growth wrote (up to ``LATER_ROWS``). A row moved to a later time of
    the day while the day is read is met there again: it is not written twice (if it changed
    since, the next growth archives its newer version, and until then the purge keeps it).
    ``fresh``: the keys written that the archive lacked at their place (up to ``LATER_ROWS``):
    late rows, or rows moved within their day, whose older version is looked up by key after."""
    shape = q.select_shape(info)
    keys = list(missing)
    for start in range(0, len(keys), _KEYS_PER_READ):
        batch = keys[start : start + _KEYS_PER_READ]
        params: list[object] = [
            key_parameter(col, value)
            for key in batch
            for col, value in zip(info.key, key, strict=True)
        ]
        params += [window.start_param, window.end_param]
        rows = ctx.source.query(
            q.select_keys_sql(info, shape, plan.strategy, len(batch)), params, "reading late rows"
        )
        new = []
        for row in rows:
            key = tuple(row[i] for i in shape.key_positions)
            if key in written:
                continue
            if len(written) < LATER_ROWS:  # bounded: past it, a row moved meanwhile may repeat
                written.add(key)
            new.append(row[: shape.width])
            old_digest = missing.get(key)
            if old_digest is not None:
                superseded.add_hex(old_digest)
            elif len(fresh) < LATER_ROWS:  # bounded: past it, a moved row's old version stays
                fresh.add(key)
        if new:
            writer.write_chunk(new)


def grown_manifest(
    old: Manifest, files: list[FileEntry], superseded: RowDigest, generation: int, info: TableInfo
) -> Manifest:
    """``old`` with ``files`` (the new generation's) added: every total and bound grows."""
    digest, gone = RowDigest(), RowDigest()
    for entry in (*old.files, *files):
        digest.merge(entry.digest)
    gone.merge(old.superseded)
    gone.merge(superseded)
    low, high = _key_bounds(old, files, info)
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    return dataclasses.replace(
        old,
        files=(*old.files, *files),
        digest=digest,
        superseded=gone,
        generation=generation,
        started_at=now,
        finished_at=now,
        tool_version=__version__,
        min_key=low,
        max_key=high,
    )


def _key_bounds(
    old: Manifest, files: list[FileEntry], info: TableInfo
) -> tuple[list[str] | None, list[str] | None]:
    """The day's smallest and largest single integer key over every generation (else as was)."""
    if old.min_key is None or old.max_key is None or not info.key[0].is_integer:
        return old.min_key, old.max_key
    keys = [int(old.min_key[0]), int(old.max_key[0])]
    keys += [int(k[0]) for f in files for k in (f.first_key, f.last_key) if k]
    return [str(min(keys))], [str(max(keys))]
