"""Erasing rows from one archived day: a new generation of its files without them.

An erasure request (GDPR, a customer's right to be forgotten) reaches rows the archive is now the
only copy of. The day is rewritten, not edited: every file is read back (checked against the
manifest first), the rows of every key the filter matches in any version are left out, the
rest is written as a new
generation in the day's own format, and the generation is published as any other
(``steps/publish.py``: claim, promote, commit, a table format's snapshot, then the old files are
deleted). The new manifest's digest is its files'; its ``superseded`` digest loses the erased
versions that newer ones had replaced; ``extra["erasures"]`` records each erasure (the filter,
the rows, when). Killed at any point: the old generation stays committed until the new one is.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from dbarchive import failpoints, lakehouse
from dbarchive.checksum import RowDigest, Value
from dbarchive.config import TableSpec
from dbarchive.context import Context
from dbarchive.formats.compression import Compression
from dbarchive.layout import PartitionPath, generation_of
from dbarchive.manifest import FileEntry, Manifest
from dbarchive.row_filter import RowFilter
from dbarchive.sources.canonical import Column
from dbarchive.steps import publish
from dbarchive.steps.archive_files import iter_archive_chunks, iter_file_chunks
from dbarchive.steps.outcome import run_lock_guard
from dbarchive.steps.publish import highest_claim
from dbarchive.steps.write import WriteSettings
from dbarchive.steps.writers import ChunkWriter, open_part_writer


@dataclass
class DayErasure:
    """What erasing from one day found and did."""

    day: dt.date
    rows: int = 0  # rows erased: every archived version of each key a matching row has
    kept: int = 0
    removed_files: list[str] = field(default_factory=list)  # the replaced generation's files
    generation: int = 0  # the generation published (0: nothing changed)
    erased: RowDigest = field(default_factory=RowDigest)
    left_behind: list[str] = field(default_factory=list)  # a stopped run's files, deleted now


@dataclass
class ErasedKeys:
    """The keys to erase — every key any archived version of which matches — and, as the rows
    are rewritten, the newest erased version of each (the rest were superseded versions)."""

    positions: tuple[int, ...]
    keys: set[tuple[Value, ...]] = field(default_factory=set)
    newest: dict[tuple[Value, ...], tuple[int, list[Value]]] = field(default_factory=dict)

    def key(self, row: Sequence[Value]) -> tuple[Value, ...]:
        return tuple(row[i] for i in self.positions)

    def note_newest(self, key: tuple[Value, ...], generation: int, row: list[Value]) -> None:
        if key not in self.newest or self.newest[key][0] <= generation:
            self.newest[key] = (generation, row)

    def superseded(self, erased: RowDigest) -> RowDigest:
        """The erased rows that were not their key's newest version."""
        current = RowDigest()
        for _generation, row in self.newest.values():
            current.add_row(row)
        return erased.without(current)


def matching_keys(ctx: Context, manifest: Manifest, where: RowFilter) -> ErasedKeys:
    """The keys to erase from the day: every key any archived version of which ``where``
    matches (the first of :func:`erase_rows`' two passes over the day's files)."""
    names = [c.name for c in manifest.columns]
    bound = where.bind(names)
    erased = ErasedKeys(tuple(names.index(k) for k in manifest.key_columns))
    for chunk in iter_archive_chunks(ctx.storage, manifest, checked_first=True):
        erased.keys.update(erased.key(row) for row in chunk if bound.matches(row))
    return erased


def erase_rows(
    ctx: Context,
    spec: TableSpec,
    partition: PartitionPath,
    manifest: Manifest,
    where: RowFilter,
    dry_run: bool = False,
    found: ErasedKeys | None = None,
) -> DayErasure:
    """Publish ``manifest``'s day without the rows ``where`` matches, and without every other
    archived version of their keys (a restore would bring an older version back otherwise);
    ``dry_run``: only count. Two passes over the day's files: find the keys (or take them as
    ``found`` by :func:`matching_keys`), then rewrite."""
    erased = found if found is not None else matching_keys(ctx, manifest, where)
    result = DayErasure(manifest.day)
    if not erased.keys:
        return result
    first = max(manifest.generation, _claimed(ctx, partition)) + 1
    files: list[FileEntry] = []
    groups = _by_generation(manifest)
    for offset, (generation, entries) in enumerate(groups):
        target = partition.for_generation(first + offset, staged=True)
        files += _rewrite(ctx, spec, target, manifest, entries, generation, erased, result, dry_run)
    if dry_run:
        return result
    last = first + len(groups) - 1
    superseded = erased.superseded(result.erased)
    new = _erased_manifest(manifest, files, superseded, last, where, result.rows)
    failpoints.hit("erase.written")
    published = publish.publish(
        ctx.storage,
        partition.for_generation(last, staged=True),
        new,
        base=manifest,
        committed=lambda m: lakehouse.commit_day(ctx, spec, m),
        first_generation=first,
        guard=run_lock_guard(ctx, spec),
    )
    result.generation, result.removed_files = last, published.removed
    return result


def _by_generation(manifest: Manifest) -> list[tuple[int, list[FileEntry]]]:
    """The day's files by generation, oldest first, each in the manifest's order. Each is
    rewritten as a generation of its own, in the same order: a key's newest version stays in
    the newest generation holding it, and each generation stays in scan order
    (``steps/archive_walk.py`` reads them so)."""
    groups: dict[int, list[FileEntry]] = {}
    for entry in manifest.files:
        groups.setdefault(_generation(entry), []).append(entry)
    return sorted(groups.items())


def _rewrite(
    ctx: Context,
    spec: TableSpec,
    target: PartitionPath,
    manifest: Manifest,
    entries: list[FileEntry],
    generation: int,
    erased: ErasedKeys,
    result: DayErasure,
    dry_run: bool,
) -> list[FileEntry]:
    """One generation's rows without the erased keys, as generation ``target.generation``."""
    writer = None if dry_run else _writer(ctx, spec, target, manifest)
    try:
        for entry in entries:
            for chunk in iter_file_chunks(ctx.storage, entry, checked_first=True):
                kept = _split(chunk, erased, generation, result)
                if writer is not None and kept:
                    writer.write_chunk(kept)
        return writer.close() if writer is not None else []
    except BaseException:
        if writer is not None:
            writer.abort()
        raise


def _split(
    chunk: list[list[Value]], erased: ErasedKeys, generation: int, result: DayErasure
) -> list[list[Value]]:
    kept = []
    for row in chunk:
        key = erased.key(row)
        if key in erased.keys:
            result.rows += 1
            result.erased.add_row(row)
            erased.note_newest(key, generation, row)
        else:
            kept.append(row)
    result.kept += len(kept)
    return kept


def _writer(
    ctx: Context, spec: TableSpec, target: PartitionPath, manifest: Manifest
) -> ChunkWriter:
    """The writer of the new generation: the day's own format, codec and columns."""
    columns = [
        Column(c.name, _data_type(c.mysql_type), c.mysql_type, c.nullable, c.charset, c.collation)
        for c in manifest.columns
    ]
    names = [c.name for c in manifest.columns]
    keys = [names.index(k) for k in manifest.key_columns]
    settings = WriteSettings(
        Compression(manifest.compression), spec.compression_level, spec.max_file_bytes
    )
    return open_part_writer(manifest.format, ctx.storage, target, columns, keys, settings)


def _data_type(mysql_type: str) -> str:
    """``decimal(10,2) unsigned`` → ``decimal`` (information_schema's DATA_TYPE)."""
    return mysql_type.split("(")[0].split()[0].lower()


def _erased_manifest(
    old: Manifest,
    files: list[FileEntry],
    superseded: RowDigest,
    generation: int,
    where: RowFilter,
    rows: int,
) -> Manifest:
    digest = RowDigest()
    for entry in files:
        digest.merge(entry.digest)
    erasures = [*old.extra.get("erasures", []), _erasure_record(where, rows, old.generation)]
    return replace(
        old,
        files=tuple(files),
        digest=digest,
        superseded=old.superseded.without(superseded),
        generation=generation,
        extra={**old.extra, "erasures": erasures},
        record_version_id=None,
    )


def _erasure_record(where: RowFilter, rows: int, replaced: int) -> dict[str, object]:
    from dbarchive.steps.outcome import now_text

    return {"where": where.text, "rows": rows, "at": now_text(), "replaced_generation": replaced}


def _claimed(ctx: Context, partition: PartitionPath) -> int:
    return highest_claim([o.key for o in ctx.storage.list_objects(partition.prefix)])


def _generation(entry: FileEntry) -> int:
    return generation_of(entry.key.rsplit("/", 1)[-1]) or 0
