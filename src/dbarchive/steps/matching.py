"""Database rows against the archive's newest version of each key.

The purge (delete a row only if the archive holds it exactly), growth (archive the rows the archive
lacks) and the verification of a partly purged day (every row left is archived) all read the day's
rows as the server hashes them (``mysql_sql.hash_shape``: SHA-256, key, time column) and ask the
same question of the archive, walked in the same order on read-ahead threads.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

from dbarchive.errors import VerificationError
from dbarchive.formats.csv import row_hex_digests
from dbarchive.layout import generation_of
from dbarchive.manifest import FileEntry, Manifest
from dbarchive.sources import mysql_sql as q
from dbarchive.sources.canonical import Column
from dbarchive.sources.protocol import Source
from dbarchive.sources.table import DayWindow, ScanPlan, TableInfo
from dbarchive.steps.archive_files import iter_file_chunks, iter_file_digests
from dbarchive.steps.archive_walk import (
    ArchiveWalk,
    IntKeyWalk,
    NewestVersions,
    SourceRow,
    order_prefix,
)
from dbarchive.steps.extract import prefetched
from dbarchive.storage import Storage

# The most rows of a day's later generations (late and changed rows) matched by key in memory.
LATER_ROWS = 300_000


def order_columns(info: TableInfo, plan: ScanPlan) -> list[Column]:
    """The columns the scan (and so the archive) is ordered by."""
    return list(info.key) if plan.strategy == "key" else [info.ts, *info.key]


def int_key_path(info: TableInfo, plan: ScanPlan) -> bool:
    """A single integer key read in key order: chunks match through one dict, delete by range."""
    return plan.strategy == "key" and len(info.key) == 1 and info.key[0].is_integer


def generations(manifest: Manifest) -> list[list[FileEntry]]:
    """The manifest's files grouped by generation, newest first (each group in scan order)."""
    groups: dict[int, list[FileEntry]] = defaultdict(list)
    for entry in manifest.files:
        groups[generation_of(entry.key.rsplit("/", 1)[-1]) or 0].append(entry)
    return [groups[g] for g in sorted(groups, reverse=True)]


def open_newest(
    storage: Storage, manifest: Manifest, info: TableInfo, plan: ScanPlan
) -> NewestVersions:
    """Walks over the archive of ``manifest``, one per generation, on threads a few blocks ahead.
    Each file is copied locally and its size and SHA-256 checked before any row of it is used
    (``checked_first``): a walk stops reading once it has the last chunk's keys, so a check at the
    end of a file would come too late or never."""
    names = [c.name for c in info.columns]
    order = order_columns(info, plan)
    missing = [c.name for c in order if c.name not in names]
    if missing:
        raise VerificationError(
            f"{info.name}: columns {missing} are not in the archive, so rows cannot be matched; "
            "do not exclude the key or timestamp columns of a table you purge"
        )
    groups = generations(manifest)
    if int_key_path(info, plan):  # a key's place in every generation is the key itself
        position = names.index(info.key[0].name)
        return NewestVersions(
            [IntKeyWalk(prefetched(_digests(storage, files, position), 2)) for files in groups]
        )
    keys = [names.index(c.name) for c in info.key]

    def walk(files: list[FileEntry]) -> ArchiveWalk:
        positions = [names.index(c.name) for c in order]
        return ArchiveWalk(prefetched(_chunks(storage, files), 2), order, positions, keys)

    later = later_versions(storage, groups[:-1], keys)
    if later is None:  # too many to hold: every generation walked by place
        return NewestVersions([walk(files) for files in groups])
    return NewestVersions([walk(groups[-1])], later)


def later_versions(
    storage: Storage, groups: list[list[FileEntry]], keys: list[int]
) -> dict[tuple[Any, ...], str] | None:
    """Each key the day's later generations (newest first) hold, with its newest row hash; None
    past ``LATER_ROWS`` rows.

    Read in scan order, a key's place is its time before its key: a row moved to another time of
    the day after its first archive sits elsewhere in each generation, so the newest version of
    a key is looked up here by key. Growth writes only the rows the archive lacks, so these are
    few; past ``LATER_ROWS`` they are walked by place instead (memory stays bounded; a row moved
    within its day and back is then matched at its old place, as before).
    """
    found: dict[tuple[Any, ...], str] = {}
    for files in groups:
        for chunk in _chunks(storage, files):
            for row, digest in zip(chunk, row_hex_digests(chunk), strict=True):
                found.setdefault(tuple(row[i] for i in keys), digest)
            if len(found) > LATER_ROWS:
                return None
    return found


def versions_by_key(
    storage: Storage, manifest: Manifest, info: TableInfo, wanted: set[tuple[Any, ...]]
) -> dict[tuple[Any, ...], str]:
    """The newest archived row hash of each ``wanted`` key, wherever in the day it sits: the
    day's archive read whole (newest generation first), stopping once every key is found.

    Growth asks it for the keys it wrote that the walk by place did not find: a row moved to
    another time of its day replaces its older version, which sits at its old place."""
    keys = [[c.name for c in info.columns].index(c.name) for c in info.key]
    found: dict[tuple[Any, ...], str] = {}
    for files in generations(manifest):
        for chunk in _chunks(storage, files):
            hits = [
                (i, key)
                for i, row in enumerate(chunk)
                if (key := tuple(row[p] for p in keys)) in wanted and key not in found
            ]
            if hits:
                digests = row_hex_digests(chunk)
                for i, key in hits:
                    found.setdefault(key, digests[i])
            if len(found) == len(wanted):
                return found
    return found


def archived_hashes(
    newest: NewestVersions, info: TableInfo, plan: ScanPlan, shape: q.SelectShape, rows: list[Any]
) -> list[str | None]:
    """For database rows in ``hash_shape`` (scan order): each key's archived row hash, or None."""
    if int_key_path(info, plan):
        position = shape.key_positions[0]
        return newest.lookup_int_keys([int(r[position]) for r in rows])
    return newest.lookup(source_rows(info, plan, shape, rows))


def source_rows(
    info: TableInfo, plan: ScanPlan, shape: q.SelectShape, rows: list[Any]
) -> list[SourceRow]:
    """Rows in ``hash_shape`` as the generic walk compares them."""
    order = order_columns(info, plan)
    positions = (
        [shape.ts_position, *shape.key_positions]
        if plan.strategy == "time"
        else list(shape.key_positions)
    )
    out = []
    for row in rows:
        key = tuple(row[i] for i in shape.key_positions)
        prefix, whole = order_prefix(order, [row[i] for i in positions])
        out.append(SourceRow(row[0].decode(), prefix if whole else None, key, prefix))
    return out


@dataclass(frozen=True)
class Coverage:
    """How the database's rows of a day compare with the archive's newest versions."""

    rows: int  # rows of the day in the database now
    unarchived: int  # of them, rows whose key the archive lacks or holds in another version
    examples: tuple[tuple[str, ...], ...] = ()  # keys of a few such rows
    held: int = 0  # of them, rows holding values the archive cannot take (``mysql_sql.HELD``)
    # Of them, rows whose key the archive holds (any version, at its place in the scan order):
    # the archive's rows less these are rows the database no longer holds (deleted, moved away).
    present: int = 0


def coverage(
    source: Source,
    storage: Storage,
    manifest: Manifest,
    info: TableInfo,
    window: DayWindow,
    plan: ScanPlan,
    chunk_rows: int,
) -> Coverage:
    """Whether every row of the day still in the database is archived (a partly purged day: the
    archive holds more rows than the database, so digests cannot be compared), and how many of
    the archive's keys are still there (an export must not replace the others away)."""
    shape = q.hash_shape(info)
    full = replace(shape, width=1 + max(*shape.key_positions, shape.ts_position))
    rows = unarchived = held = present = 0
    examples: list[tuple[str, ...]] = []
    newest = open_newest(storage, manifest, info, plan)
    try:
        for chunk, _last in source.read_chunks(info, window, plan, chunk_rows, full):
            archived = archived_hashes(newest, info, plan, full, chunk)
            rows += len(chunk)
            for row, digest in zip(chunk, archived, strict=True):
                present += digest is not None
                own = row_hash(row)
                if own == q.HELD:
                    held += 1
                elif digest != own:
                    unarchived += 1
                    if len(examples) < 3:
                        examples.append(tuple(value_text(row[i]) for i in full.key_positions))
    finally:
        newest.close()
    return Coverage(rows, unarchived, tuple(examples), held, present)


def row_hash(row: Any) -> str:
    """The server's SHA-256 of a row read in ``hash_shape`` (its first column), as hex text."""
    return bytes(row[0]).decode()


def value_text(value: Any) -> str:
    """An archived value as a message shows it (NULL, or its text; bytes that are not UTF-8 replaced)."""
    return "NULL" if value is None else bytes(value).decode(errors="replace")


def _digests(
    storage: Storage, files: list[FileEntry], position: int
) -> Iterator[tuple[list[Any], list[str]]]:
    for entry in files:
        yield from iter_file_digests(storage, entry, position, checked_first=True)


def _chunks(storage: Storage, files: list[FileEntry]) -> Iterator[list[list[Any]]]:
    for entry in files:
        yield from iter_file_chunks(storage, entry, checked_first=True)
