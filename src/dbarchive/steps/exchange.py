"""Drop a RANGE partition only once its rows are proven archived: exchange, verify, then drop.

A ``DROP PARTITION`` after comparing the partition's ``COUNT(*)`` with the verified rows loses any
row changed in between: an UPDATE keeps the count, and an INSERT + UPDATE in a transaction that
the drop's metadata lock waits for commits just before the drop. So the partition's rows are first
taken out of the table, atomically, and checked where nobody can change them:

1. ``CREATE TABLE _dbarchive_x_<t> LIKE t`` + ``ALTER TABLE … REMOVE PARTITIONING``: the clone, in
   the table's schema, empty, of the very same structure (what EXCHANGE PARTITION requires);
2. ``LOCK TABLES t WRITE, clone WRITE`` (waiting at most ``[throttle] lock_wait_timeout``, retried
   up to ``max_retries``), ``ALTER TABLE t EXCHANGE PARTITION p WITH TABLE clone``, ``ALTER TABLE
   t DROP PARTITION p``, ``UNLOCK TABLES``. Whatever p held when the lock was granted (every
   transaction on t had ended) is now in the clone, and the table lock let no row into p between
   the exchange and the drop. Both are metadata operations: an exchange with an empty table (its
   validation reads the empty clone) and the drop of an empty partition;
3. the clone's rows are digested day by day with the export's canonical text
   (``verify.source_digest``) and must equal each day's manifest, and the clone must hold no row
   outside those days (nor one the table's ``where`` leaves out of the archive);
4. the days are recorded as purged, then the clone is dropped.

On a mismatch the clone's rows go back into the table (``INSERT … SELECT`` + ``DELETE`` of the same
rows in one transaction per chunk) and nothing is deleted; the next run exports the changed days
again and tries anew. Killed anywhere, the next purge of the table finds the clone first
(:func:`recover`) and finishes steps 3 and 4 (or puts the rows back). Grants: see README "Least
privilege" (ALTER, CREATE, DROP, INSERT on the table and the clone, SELECT and DELETE on the
clone, LOCK TABLES on the schema).

Server semantics (MySQL 8.0/8.4 manual, "Exchanging Partitions and Subpartitions with Tables";
MariaDB 10.11 checked here): the clone must not be partitioned, not be temporary, have the same
structure, charset, collation and row format, and no foreign keys (a partitioned InnoDB table has
none); ``CREATE TABLE … LIKE`` + ``REMOVE PARTITIONING`` gives exactly that. EXCHANGE needs
ALTER, INSERT, CREATE and DROP on both tables. ``WITHOUT VALIDATION`` (MySQL ≥ 5.7.5) does not
exist in MariaDB 10.11, and is not needed: the validation reads the rows moving *into* the
partition, and the clone is empty. A table locked ``WRITE`` by this session may be altered under
``LOCK TABLES``, and the lock is kept across the two ALTERs (checked on MariaDB 10.11; MySQL lets
the holder of a WRITE lock run table-level operations too — not run against MySQL 8 here).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from zoneinfo import ZoneInfo

from dbarchive import failpoints
from dbarchive.checksum import RowDigest
from dbarchive.config import TableSpec
from dbarchive.context import Context
from dbarchive.errors import SourceError, VerificationError
from dbarchive.ledger import hooks as ledger
from dbarchive.manifest import Manifest
from dbarchive.sources.partition_sql import drop_grants_sql
from dbarchive.sources.table import TableInfo
from dbarchive.steps import upload
from dbarchive.steps.archive_files import check_files
from dbarchive.steps.verify import source_digest
from dbarchive.throttle import Throttle

CLONE_PREFIX = "_dbarchive_x_"
_DENIED = {1044, 1142, 1143, 1227}  # no privilege on the database / table / column / at all
_MAX_NAME = 64  # MySQL and MariaDB table names


def clone_name(table: str) -> str:
    """``_dbarchive_x_<table>``, hashed when that would pass the 64-character limit."""
    name = CLONE_PREFIX + table
    if len(name) <= _MAX_NAME:
        return name
    return (
        CLONE_PREFIX + hashlib.sha256(table.encode()).hexdigest()[: _MAX_NAME - len(CLONE_PREFIX)]
    )


def clone_of(info: TableInfo) -> TableInfo:
    """The clone described like the table (same columns, key, indexes), under its own name."""
    return dataclasses.replace(info, name=clone_name(info.name))


def grants(info: TableInfo) -> str:
    """The GRANT statements a verified partition drop needs (README "Least privilege")."""
    return drop_grants_sql(info, clone_of(info))


@contextmanager
def _privileges_named(info: TableInfo) -> Iterator[None]:
    """A privilege refused during a partition drop names every grant the drop needs."""
    try:
        yield
    except SourceError as exc:
        if exc.mysql_code not in _DENIED:
            raise
        error = SourceError(f"{info.name}: cannot drop partitions: {exc}; {grants(info)}")
        error.mysql_code = exc.mysql_code
        raise error from None


def exchange_and_drop(ctx: Context, info: TableInfo, partition: str, throttle: Throttle) -> float:
    """Steps 1 and 2: move the partition's rows into an empty clone and drop the partition; returns
    the seconds the table was locked. On any error before the exchange the clone is dropped
    again and the partition kept (a missing grant is found there, before anything changed)."""
    with _privileges_named(info):
        return _exchange_and_drop(ctx, info, partition, throttle)


def _exchange_and_drop(ctx: Context, info: TableInfo, partition: str, throttle: Throttle) -> float:
    clone = clone_of(info)
    _create_clone(ctx, info, clone)
    try:
        failpoints.hit("purge.before-drop")
        ctx.source.check_run_lock(info)
        settings = throttle.settings
        locked = ctx.source.exchange_and_drop(
            info,
            partition,
            clone,
            settings.lock_wait_timeout,
            settings.max_retries,
            throttle.check_stop,
        )
    except BaseException:
        _drop_if_empty(ctx, clone)
        raise
    failpoints.hit("purge.after-exchange")
    return locked


def _drop_if_empty(ctx: Context, clone: TableInfo) -> None:
    """After a failure: an empty clone means the exchange did not happen, so there is nothing
    to prove; a clone with rows (or one that cannot be read now) is left for :func:`recover`."""
    with suppress(SourceError):
        if ctx.source.count_rows(clone) == 0:
            drop_clone(ctx, clone)


def _create_clone(ctx: Context, info: TableInfo, clone: TableInfo) -> None:
    if ctx.source.table_exists(clone.schema, clone.name):
        raise SourceError(
            f"{info.name}: the table {clone.qualified} exists; it holds rows of an earlier "
            "partition drop that were not handled yet, so no partition is exchanged now. Run the "
            "purge again: it handles that table first"
        )
    ctx.source.create_exchange_clone(info, clone)


def prove(
    ctx: Context,
    spec: TableSpec,
    clone: TableInfo,
    days: Sequence[dt.date],
    manifests: dict[dt.date, Manifest],
    throttle: Throttle | None = None,
) -> list[str]:
    """Step 3: what differs between the clone's rows and the archive ([] when it holds exactly
    the archived rows of ``days``). ``manifests``: the days' verified manifests."""
    problems: list[str] = []
    digested = 0
    for day in days:
        window = ctx.source.window(spec, clone, day)
        plan = ctx.source.plan_scan(clone, window, spec.scan)
        found = source_digest(ctx.source, clone, window, plan, spec.chunk_rows, throttle)
        digested += found.count
        manifest = manifests.get(day)
        archived = manifest.effective_digest if manifest is not None else RowDigest()
        if found != archived:
            problems.append(
                f"{spec.name} {day}: the exchanged rows hold {found.describe()}, the archive "
                f"{archived.describe()} (rows changed after the day was verified)"
            )
    total = ctx.source.count_rows(clone)
    if total != digested:
        problems.append(
            f"{spec.name}: {total - digested} exchanged rows lie outside the verified days or "
            "outside the table's where filter, so they are not archived"
        )
    return problems


def drop_clone(ctx: Context, clone: TableInfo) -> None:
    """Drop the clone (empty, or holding rows proven archived)."""
    ctx.source.drop_table(clone.schema, clone.name)


def put_back(ctx: Context, info: TableInfo, throttle: Throttle) -> int:
    """Move every row of the clone back into the table, one committed chunk at a time (each
    chunk's INSERT and DELETE commit together, so a kill loses or doubles nothing); then drop
    the clone. Returns the rows moved."""
    clone = clone_of(info)
    columns = ctx.source.stored_columns(info)
    limit = int(throttle.settings.max_chunk_rows)
    moved = 0
    while True:
        ctx.source.check_run_lock(info)
        started = time.monotonic()
        inserted = ctx.source.move_rows(
            info, clone, columns, limit, throttle.settings.lock_wait_timeout
        )
        moved += inserted
        if inserted < limit:
            break
        throttle.between_chunks(time.monotonic() - started)
    drop_clone(ctx, clone)
    return moved


def rows_left_in_clone(ctx: Context, info: TableInfo) -> int:
    """The rows an interrupted drop left in the clone (exchanged out of the table, not yet
    proven and dropped; the next purge finishes it): 0 when there is no clone."""
    clone = clone_of(info)
    if not ctx.source.table_exists(clone.schema, clone.name):
        return 0
    return ctx.source.count_rows(clone)


def recover(
    ctx: Context, spec: TableSpec, info: TableInfo, throttle: Throttle
) -> tuple[list[dt.date], int] | None:
    """Handle a clone an interrupted drop left (before anything else is exchanged).

    Returns ``(days, rows)`` proven archived and purged, or None if there was no clone (or an
    empty one). A clone whose rows do not match the archive is put back into the table and
    VerificationError says so.
    """
    with _privileges_named(info):
        return _recover(ctx, spec, info, throttle)


def _recover(
    ctx: Context, spec: TableSpec, info: TableInfo, throttle: Throttle
) -> tuple[list[dt.date], int] | None:
    clone = clone_of(info)
    if not ctx.source.table_exists(clone.schema, clone.name):
        return None
    rows = ctx.source.count_rows(clone)
    days = _days_held(ctx, spec, clone) if rows else []
    manifests, problems = _verified_manifests(ctx, spec, days)
    if rows and not problems:
        problems = prove(ctx, spec, clone, days, manifests, throttle)
    if problems:
        moved = put_back(ctx, info, throttle)
        raise VerificationError(
            f"{spec.name}: {clone.name}, left by an interrupted partition drop, does not match "
            f"the archive ({'; '.join(problems)}); its {moved} rows were put back into the "
            "table and nothing was deleted"
        )
    drops = ledger.for_drop(ctx, spec, clone, manifests)  # intents, before the rows are gone
    record_purged(ctx, spec, days, "drop partition (finished after an interruption)")
    drop_clone(ctx, clone)
    drops.confirm()
    return (days, rows) if rows else None


def record_purged(ctx: Context, spec: TableSpec, days: Sequence[dt.date], method: str) -> None:
    """Step 4's record: each day's purge record says "purged" (before the clone is dropped, so
    a kill in between leaves a clone that the next run proves and drops again)."""
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    for day in days:
        upload.write_purge_marker(
            ctx.storage,
            ctx.partition(spec, day),
            {"status": "purged", "finished_at": now, "method": method},
        )


def _verified_manifests(
    ctx: Context, spec: TableSpec, days: Sequence[dt.date]
) -> tuple[dict[dt.date, Manifest], list[str]]:
    """The days' manifests with their files checked (size and SHA-256), and what is wrong."""
    manifests: dict[dt.date, Manifest] = {}
    problems: list[str] = []
    for day in days:
        manifest = upload.read_manifest(ctx.storage, ctx.partition(spec, day))
        if manifest is None:
            problems.append(f"{spec.name} {day}: not archived (no manifest)")
            continue
        problems += check_files(ctx.storage, manifest, "bytes")
        manifests[day] = manifest
    return manifests, problems


def _days_held(ctx: Context, spec: TableSpec, clone: TableInfo) -> list[dt.date]:
    """The table days from the clone's oldest to its newest row."""
    held = ctx.source.time_range(clone)
    if held is None:
        return []
    column_zone = ZoneInfo(
        "UTC" if clone.ts.data_type == "timestamp" else ctx.source.settings.timezone
    )
    first, last = (
        dt.datetime.fromisoformat(v).replace(tzinfo=column_zone).astimezone(
            ZoneInfo(spec.timezone)).date()
        for v in held
    )  # fmt: skip
    return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]
