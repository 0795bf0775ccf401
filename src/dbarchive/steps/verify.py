"""Verify: a partition is trusted only if its manifest, its files and the database all agree.

Three digests must be equal (see ``checksum.py``): the one the manifest records, the one recomputed
from the files read back (with each file's size and SHA-256), and the one the database computes
over the day's rows now (the archive's newest version of each key: ``Manifest.effective_digest``).
A day whose purge has begun holds fewer rows in the database than in the archive: there every row
left must be archived (``matching.coverage``). How deep the files are checked (``FileCheck``,
``archive_files.py``):

- ``rows`` (``dbarchive verify``): read, decompress and re-hash every row of every file;
- ``bytes`` (before a purge): read every file and check its size and SHA-256 — the stored bytes
  are exactly the ones the exporter wrote and digested. The purge then reads the files again as
  it walks them: it copies each one locally and checks its size and SHA-256 before it uses a row
  of it (``checked_first``), so a file changed after this verification is caught before any row
  it holds is deleted, and re-derives every row's hash from those bytes (it deletes only rows it
  finds there);
- ``quick``: trust object sizes and S3 checksums; read nothing.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dbarchive import failpoints, lakehouse
from dbarchive.checksum import RowDigest
from dbarchive.config import TableSpec
from dbarchive.context import Context
from dbarchive.errors import UnconvertibleTextError, VerificationError
from dbarchive.formats.csv import add_hex_rows
from dbarchive.identity import require_same_source
from dbarchive.manifest import Manifest
from dbarchive.runtime.background import in_background
from dbarchive.sources import mysql_sql as q
from dbarchive.sources.protocol import Source
from dbarchive.sources.table import DayWindow, ScanPlan, TableInfo
from dbarchive.steps import upload
from dbarchive.steps.archive_files import FileCheck, check_files, overwritten_names
from dbarchive.steps.archived_columns import (
    ColumnChange,
    changed_scope,
    column_change,
    held_rows_note,
    kept_archive_digest,
    on_kept_columns,
)
from dbarchive.steps.known_day import KnownDay
from dbarchive.steps.matching import Coverage, coverage
from dbarchive.steps.verify_progress import VerifyProgress
from dbarchive.throttle import Throttle, read_rows, throttled

MIN_VERIFY_CHUNK = 5_000


@dataclass(frozen=True)
class VerifyResult:
    """The outcome of verifying one table-day; ``problems`` says exactly what differs."""

    table: str
    day: dt.date
    archived_rows: int | None
    source_rows: int | None
    files_checked: int
    problems: tuple[str, ...]
    notes: tuple[str, ...] = ()  # what was checked where the full comparison cannot apply
    source_differs: bool = False  # the database holds rows the archive lacks (or other versions)
    column_change: ColumnChange | None = None  # the table's columns changed since the archive
    # Of the database's rows, those kept in the table, neither archived nor deleted: they hold
    # values in columns added since the archive (``matching_scope``). Not a mismatch (the purge
    # goes on with the others), but not archived either: ``complete`` is false.
    rows_held: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def complete(self) -> bool:
        """Every row of the day is in the archive: ``ok``, and no row held in the table."""
        return self.ok and not self.rows_held


def source_digest(
    source: Source,
    info: TableInfo,
    window: DayWindow,
    plan: ScanPlan,
    chunk_rows: int,
    throttle: Throttle | None = None,
    progress: Callable[[int], None] | None = None,
) -> RowDigest:
    """The day's digest over the database's rows now, in keyset chunks.

    With the C reader, the rows are read exactly as an export reads them and digested on the
    client: the server only reads rows (a third of the CPU of hashing them in SQL), which
    matters because verify runs before every purge. Without it, the server hashes each row
    (``SHA2`` over the canonical text) and only the hashes travel. Either way the purge then
    compares every row it deletes with the archive through the server's own ``SHA2``.
    With a ``throttle`` the reads pause like the purge's chunks; ``progress`` is told the rows
    digested so far after each chunk.
    """
    digest = RowDigest()
    fixed = max(chunk_rows, MIN_VERIFY_CHUNK)
    chunk = read_rows(throttle, fixed)
    if source.reads_in_c:
        encoded_chunks = source.read_day_csv(info, window, plan, chunk)
        for encoded in encoded_chunks if throttle is None else throttled(encoded_chunks, throttle):
            digest.merge(encoded.digest)
            if progress is not None:
                progress(digest.count)
            failpoints.hit("verify.chunk-digested")
        return digest
    shape = q.hash_shape(info)
    hashed_chunks = source.read_chunks(info, window, plan, chunk, shape)
    for rows, _last in hashed_chunks if throttle is None else throttled(hashed_chunks, throttle):
        add_hex_rows(rows, digest)
        if progress is not None:
            progress(digest.count)
        failpoints.hit("verify.chunk-digested")
    return digest


def verify_day(
    ctx: Context,
    spec: TableSpec,
    day: dt.date,
    depth: FileCheck = "rows",
    check_source: bool = True,
    known: KnownDay | None = None,
) -> VerifyResult:
    """Verify one table-day: manifest, files (as deep as ``depth``) and the source rows.

    ``known`` passes what the caller has just read (the purge reads each of them once per day).
    """
    partition = ctx.partition(spec, day)
    try:
        manifest = known.manifest if known else upload.read_manifest(ctx.storage, partition)
        marker = None
        if check_source and manifest is not None:
            marker = known.marker if known else upload.read_purge_marker(ctx.storage, partition)
    except VerificationError as exc:  # a damaged record: this day fails, a range goes on
        return VerifyResult(spec.name, day, None, None, 0, (f"{spec.name} {day}: {exc}",))
    if manifest is None:
        return VerifyResult(
            spec.name, day, None, None, 0, (f"{spec.name} {day}: not archived (no manifest)",)
        )
    require_same_source(manifest, ctx.identity(spec), partition.manifest_key)
    progress = VerifyProgress(ctx, spec, day, manifest, check_source and not purge_begun(marker))
    # The files (storage) and the rows (MySQL) are read side by side: neither waits for the other.
    # Entering the block starts the files' thread; leaving it, on an error too, cancels and joins
    # it: none outlives it, a Ctrl-C before the block included.
    files = in_background(
        lambda: [
            *check_files(ctx.storage, manifest, depth, progress.file_checked),
            *overwritten_names(ctx.storage, manifest),
        ],
        "dbarchive-verify",
        on_enter=True,
    )
    failpoints.hit("verify.files-scheduled")
    with files:
        problems: list[str] = []
        notes: list[str] = []
        source_rows = None
        held = 0
        unconvertible = False
        change = None
        if check_source:
            try:
                change = column_change(ctx.describe(spec), manifest)
                source_rows, held = _compare_source(
                    ctx, spec, manifest, marker, known, change, problems, notes, progress.rows_read
                )
            except UnconvertibleTextError as exc:  # the digests would agree over a '?': not OK
                problems.append(str(exc))
                unconvertible = True  # a re-export would refuse the same row: not rows to archive
        source_differs = bool(problems) and not unconvertible
        # the files' problems first, as they are found first; then the table format's view
        problems[:0] = [*files.result(), *lakehouse.day_problems(ctx, spec, manifest)]
    progress.finish(source_rows)
    return VerifyResult(
        spec.name,
        day,
        manifest.rows,
        source_rows,
        len(manifest.files),
        tuple(problems),
        tuple(notes),
        source_differs,
        change,
        held,
    )


def _compare_source(
    ctx: Context,
    spec: TableSpec,
    manifest: Manifest,
    marker: dict[str, Any] | None,
    known: KnownDay | None,
    change: ColumnChange | None,
    problems: list[str],
    notes: list[str],
    progress: Callable[[int], None] | None = None,
) -> tuple[int, int]:
    """The database's side of the verification (its findings appended); returns its row count
    and, of them, the rows held in the table (``VerifyResult.rows_held``).
    Over the rows the day's archive was made from (``archive_scope``), not today's window, and
    on the archived columns if the table's changed since (``change``, ``archived_columns.py``)."""
    info, window = archive_scope(ctx.describe(spec), manifest)
    if change is not None:
        return _compare_kept(ctx, spec, manifest, marker, change, problems, notes, progress)
    day = manifest.day
    if purge_begun(marker):
        plan = _archive_plan(ctx, info, window, manifest, known)
        covered = coverage(ctx.source, ctx.storage, manifest, info, window, plan, spec.chunk_rows)
        _coverage_findings(spec, day, manifest, marker, covered, problems, notes)
        return covered.rows, covered.held
    if known and (counted := known.count_instead_of_digest()) is not None:
        notes.append(f"{spec.name} {day}: {counted} rows, as archived; matched row by row")
        return counted, 0
    reads = ctx.reads(spec, day)  # the read endpoint, if any (the coverage above: the primary)
    if known and known.plan and reads is ctx.source:
        plan = known.plan
    else:
        plan = reads.plan_scan(info, window, spec.scan)
    in_source = source_digest(reads, info, window, plan, spec.chunk_rows, progress=progress)
    if in_source != manifest.effective_digest:
        problems.append(
            f"{spec.name} {day}: the database holds {in_source.describe()}, the archive "
            f"{manifest.effective_digest.describe()}"
        )
    return in_source.count, 0


def _compare_kept(
    ctx: Context,
    spec: TableSpec,
    manifest: Manifest,
    marker: dict[str, Any] | None,
    change: ColumnChange,
    problems: list[str],
    notes: list[str],
    progress: Callable[[int], None] | None,
) -> tuple[int, int]:
    """``_compare_source`` for a day archived before the table's columns changed: the change
    named, then the database and the archive compared on the archived columns unchanged since."""
    info, window = archive_scope(ctx.describe(spec), manifest)
    what = (
        f"{spec.name} {manifest.day}: the table's columns changed since the day was archived "
        f"({change.describe()})"
    )
    compared = f"on the {len(change.kept)} archived columns unchanged since"
    # Begun, with a column retyped (not dropped): its rows are matched as they are, whole (a
    # widening that keeps each value's text, DECIMAL(10,2) to (12,2), leaves them matching).
    if not change.kept or (purge_begun(marker) and change.dropped):
        why = "no archived column is unchanged" if not change.kept else "its purge has begun"
        problems.append(f"{what}; {why}, so the archive cannot be compared with the database")
        return 0, 0
    if purge_begun(marker):  # every row left must be archived, or held (matching_scope)
        scope = changed_scope(info, change)
        plan = ctx.source.plan_scan(scope, window, manifest.scan)
        covered = coverage(ctx.source, ctx.storage, manifest, scope, window, plan, spec.chunk_rows)
        _coverage_findings(spec, manifest.day, manifest, marker, covered, problems, notes,
                           retyped=change.describe())  # fmt: skip
        notes.insert(0, f"{what}; compared {compared}")
        if covered.held:
            notes.append(held_rows_note(spec.name, manifest.day, covered.held, change))
        return covered.rows, covered.held
    kept = on_kept_columns(info, change)
    plan = ctx.source.plan_scan(kept, window, spec.scan)
    in_source = source_digest(ctx.source, kept, window, plan, spec.chunk_rows, progress=progress)
    try:
        archived = _kept_archive(ctx, manifest, change)
    except VerificationError as exc:
        problems.append(f"{what}; {exc}")
        return in_source.count, 0
    if in_source == archived:
        notes.append(
            f"{what}; {compared} the database and the archive agree ({in_source.describe()}); "
            + (
                "a purge keeps this day's rows: the archive alone holds the dropped columns' values"
                if change.dropped
                else "a purge exports the day again with today's columns first"
            )
        )
    else:
        problems.append(
            f"{what}; {compared} the database holds {in_source.describe()}, the archive "
            f"{archived.describe()}"
        )
    return in_source.count, 0


def _kept_archive(ctx: Context, manifest: Manifest, change: ColumnChange) -> RowDigest:
    """The archive's digest over the kept columns: the manifest's when they are all its columns,
    else recomputed from the files (VerificationError if that cannot be done)."""
    if change.archive_whole:
        return manifest.effective_digest
    if manifest.superseded.count:
        raise VerificationError(
            "the archive holds older versions of changed rows, so it cannot be compared on "
            "fewer columns than it was archived with"
        )
    return kept_archive_digest(ctx.storage, manifest, change)


def purge_begun(marker: dict[str, Any] | None) -> bool:
    """Whether the purge record says rows of the day may be gone from the database (a restore
    into the table brings them back: then the day compares whole again)."""
    return marker is not None and marker.get("status") != "restored"


def _archive_plan(
    ctx: Context, info: TableInfo, window: DayWindow, manifest: Manifest, known: KnownDay | None
) -> ScanPlan:
    """The day's scan plan in the archive's order (the walk compares rows in that order)."""
    if known and known.plan and known.plan.strategy == manifest.scan:
        return known.plan
    return ctx.source.plan_scan(info, window, manifest.scan)


def _coverage_findings(
    spec: TableSpec,
    day: dt.date,
    manifest: Manifest,
    marker: dict[str, Any] | None,
    covered: Coverage,
    problems: list[str],
    notes: list[str],
    retyped: str | None = None,
) -> None:
    """What a begun day's coverage says. ``retyped``: the table's columns changed since the
    archive (``ColumnChange.describe``), so the archive cannot grow by rows that differ."""
    status = (marker or {}).get("status", "started")
    what = "purged" if status == "purged" else "partly purged"
    if upload.grown_only(marker):
        what = "only grown (the application deleted archived rows of it)"
    if covered.unarchived:
        keys = ", ".join("/".join(k) for k in covered.examples)
        fix = (
            "export the day again: the archive grows by them"
            if retyped is None
            else f"the table's columns changed since the archive ({retyped}), so the archive "
            "cannot grow by them: they stay in the table, none deleted"
        )
        problems.append(
            f"{spec.name} {day}: {what}, and {covered.unarchived} of the {covered.rows} rows the "
            f"database still holds are not in the archive (arrived or changed later; keys {keys}); "
            f"{fix}"
        )
    else:
        exact = f"{covered.rows - covered.held} of them" if covered.held else "each of them"
        older = manifest.rows - manifest.effective_digest.count
        files = f" ({manifest.rows} in its files, {older} of them older versions)" if older else ""
        notes.append(
            f"{spec.name} {day}: {what}; the archive holds {manifest.effective_digest.count} rows"
            f"{files}, the database {covered.rows}, {exact} archived exactly"
        )


def archive_scope(info: TableInfo, manifest: Manifest) -> tuple[TableInfo, DayWindow]:
    """The table and the window that select exactly the rows ``manifest``'s day was archived
    from: the window it records (``query_window``), not today's rule for that day — a DATE
    column's days once followed the table's time zone, and a changed ``timezone`` moves them —
    and, for an archive made before zero and invalid dates were left out of every day, a day
    that takes them too. Verify, purge and restore compare and delete over this scope."""
    if dict(manifest.extra).get(q.DAY_RULE[0]) != q.DAY_RULE[1]:
        info = dataclasses.replace(info, odd_times_in_days=True)
    start, end = manifest.query_window
    window = DayWindow(
        manifest.day,
        dt.datetime.fromisoformat(manifest.window_start),
        dt.datetime.fromisoformat(manifest.window_end),
        start,
        end,
    )
    return info, window
