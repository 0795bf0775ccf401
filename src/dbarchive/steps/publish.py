"""Publishing a generation of a partition: claim, promote, commit, clean up.

The rule (docs/design/publication.md): at every instant a partition has one committed manifest
(``_manifest.json``) and every file it lists is present and matches it. So a new generation's
files get new names (``part-gGGGG-…``), written staged (hidden) when the day already has a
committed manifest, and the order of :func:`publish` is:

1. **claim** ``_manifest-gGGGG.json`` create-only: one writer per generation, whoever races;
2. **promote** staged files to their published names (server-side copies);
3. **commit**: replace ``_manifest.json`` with the new manifest in one PUT, conditional on it
   still being the manifest the publication was built on (``base``): S3 ``If-Match``;
4. **clean up** data files of this or older generations that the new manifest does not list.

A table format (Iceberg) commits its snapshot of the day between 3 and 4 (``committed``).

Killed before 3 the old manifest is committed and untouched; after it, the new one is whole.

On a bucket that keeps versions the committed manifest names the version of every file (a
promoted copy's, not its staged original's) and of the generation's ``_manifest-gGGGG.json``.
With S3 Object Lock the storage writes all of these under retention; ``_manifest.json`` gets a new
locked version at every commit, the newest being the committed one, and clean-up's deletes only
hide what a locked version keeps (a delete marker): no version under retention is ever deleted.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Literal

from dbarchive import failpoints
from dbarchive.errors import AlreadyRunning, NameTaken, StorageError
from dbarchive.layout import (
    PartitionPath,
    claimed_generation,
    generation_of,
    is_part_name,
    is_staged_name,
    is_unit_part_name,
)
from dbarchive.manifest import FileEntry, Manifest
from dbarchive.steps.archive_files import check_files
from dbarchive.storage import Storage
from dbarchive.storage.base import StoredObject, locking
from dbarchive.storage.retention import is_archive_content

Mode = Literal["first", "replace", "grow"]


@dataclass(frozen=True)
class Committed:
    """What a partition holds before a new generation is written."""

    manifest: Manifest | None  # the committed manifest (None: never archived)
    marker: dict[str, Any] | None  # the purge record, if the day's purge has begun or ended
    claimed: int = 0  # the highest generation claimed, or holding published files (highest_taken)

    @property
    def purge_begun(self) -> bool:
        """Rows of this day may have been deleted from the database (a restore undoes that)."""
        return self.marker is not None and self.marker.get("status") != "restored"

    @property
    def mode(self) -> Mode:
        """``first`` archive, ``replace`` the day, or ``grow`` it (its purge has begun: the
        database no longer holds every archived row, so the archive can only gain rows)."""
        if self.manifest is None:
            return "first"
        return "grow" if self.purge_begun else "replace"

    @property
    def next_generation(self) -> int:
        """The number the next publication takes: past every committed and claimed one."""
        committed = self.manifest.generation if self.manifest else 0
        return max(committed, self.claimed) + 1

    def target(self, partition: PartitionPath) -> PartitionPath:
        """Where the next generation's files go: staged unless the day has nothing committed."""
        return partition.for_generation(self.next_generation, staged=self.manifest is not None)


def highest_claim(keys: list[str]) -> int:
    """The highest generation claimed among a partition's object keys (0: none)."""
    claims = [claimed_generation(k.rsplit("/", 1)[-1]) for k in keys]
    return max((c for c in claims if c is not None), default=0)


def highest_taken(keys: list[str]) -> int:
    """The highest generation a partition's keys claim or hold whole-day data files of (0:
    none). A killed first export leaves files under published names and no claim: the next one
    takes the number after them, as those names are written once (``create_only``) and removed
    by the clean-up of the generation that passes them. Staged files do not count (a higher
    staged generation is an export in flight, left alone), nor do work units' files: their
    plan names its generation, and a unit redone clears its own files first."""
    names = [k.rsplit("/", 1)[-1] for k in keys]
    published = [generation_of(n) for n in names if is_part_name(n) and not is_unit_part_name(n)]
    return max([highest_claim(keys), *(g for g in published if g is not None)])


def unchanged(new: Manifest, old: Manifest) -> bool:
    """Whether publishing ``new`` would change nothing a reader can tell from ``old``: the same
    rows (newest versions), columns, format, compression and filter."""
    return (
        new.effective_digest == old.effective_digest
        and new.columns == old.columns
        and (new.format, new.compression, new.where) == (old.format, old.compression, old.where)
    )


def already_published(storage: Storage, new: Manifest, old: Manifest) -> bool:
    """Whether ``old`` holds what ``new`` would publish, and holds it intact (every file stored
    with its size and SHA-256): a damaged archive of the same rows is replaced, so a re-export
    repairs it."""
    return unchanged(new, old) and not check_files(storage, old, "bytes")


def discard(
    storage: Storage, target: PartitionPath, manifest: Manifest, committed: Manifest
) -> None:
    """Remove the files an unneeded generation (its rows are archived already, in ``committed``)
    wrote: staged ones no reader saw; published names (work units planned before the day had a
    manifest, published meanwhile by another backfill) unless ``committed`` lists them."""
    listed = {f.key for f in committed.files}
    stale = [f.key for f in new_files(target, manifest) if target.staged or f.key not in listed]
    storage.delete_keys([target.write_key(k) for k in stale])


def new_files(
    target: PartitionPath, manifest: Manifest, first: int | None = None
) -> list[FileEntry]:
    """The files of ``manifest`` that belong to the generation being written (to generations
    ``first`` up to it, for a publication of several: an erasure rewrites each generation)."""
    low = target.generation if first is None else first
    assert low is not None and target.generation is not None
    return [f for f in manifest.files if low <= (_generation(f) or 0) <= target.generation]


@dataclass(frozen=True)
class Published:
    """What a publication committed (``manifest``, with the versions it names) and removed, and
    how long readers of every file could see the replaced generation's files beside the new ones
    (first promoted copy → last old file deleted). ``kept``: removed files whose locked versions
    stay in the bucket until their retention ends (Object Lock), hidden by a delete marker."""

    removed: list[str]
    overlap_seconds: float
    manifest: Manifest | None = None
    kept: tuple[str, ...] = ()


def publish(
    storage: Storage,
    target: PartitionPath,
    manifest: Manifest,
    *,
    base: Manifest | None,
    clock: Callable[[], float] = time.monotonic,
    committed: Callable[[Manifest], None] | None = None,
    first_generation: int | None = None,
    guard: Callable[[], None] | None = None,
) -> Published:
    """Claim, promote, commit and clean up generation ``manifest.generation``. ``target``: the
    partition path the generation's files were written through. ``base``: the committed manifest
    the new one was built from (None: the day had none); the commit replaces exactly that one or
    nothing (``_commit``). ``committed``: called with the
    committed manifest before the clean-up (a table format's commit, ``lakehouse``), so no
    snapshot ever names a file already deleted. ``first_generation``: the publication writes
    generations from it up to ``manifest.generation`` (claimed as one, by the highest).
    ``guard``: raises if this writer may no longer write (its run lock is gone), asked right
    before the commit and again before the clean-up (``_still_ours``).

    Raises:
        AlreadyRunning: another writer claimed this generation, or a later one, or committed
            the day since ``base`` (nothing committed; run again).
    """
    assert target.generation == manifest.generation
    written = new_files(target, manifest, first_generation)
    if target.staged:  # a staged file's version is not the one published: the copy's will be
        manifest = _with_files(manifest, target, {f.key: None for f in written})
    claim(storage, target, manifest)
    failpoints.hit("publish.claimed")
    visible = None
    if target.staged:
        visible, versions = promote(
            storage, target, new_files(target, manifest, first_generation), clock
        )
        manifest = _with_files(manifest, target, versions)
    manifest = _with_record_version(storage, target, manifest)
    failpoints.hit("export.before-manifest")
    _commit(storage, target, manifest, base, guard)
    failpoints.hit("export.after-manifest")
    if committed is not None:
        committed(manifest)
        failpoints.hit("publish.after-lake-commit")
    stored = _still_ours(storage, target, manifest, guard)  # a later writer's are not ours
    removed = clean_up(storage, target, manifest, stored)
    overlap = clock() - visible if visible is not None and removed else 0.0
    return Published(removed, overlap, manifest, kept_locked(storage, removed))


def _commit(
    storage: Storage,
    target: PartitionPath,
    manifest: Manifest,
    base: Manifest | None,
    guard: Callable[[], None] | None,
) -> None:
    """PUT ``_manifest.json`` if the day is still this publication's to commit: no later claim,
    the run lock held, and the committed manifest still ``base`` — read with its ETag, then
    replaced only if that ETag still matches, so a writer that passed these checks and was then
    paused (a frozen VM, a slow PUT) cannot commit over one that committed meanwhile (an outside
    trial: a PUT delayed 12 s past a lost lock replaced a later run's manifest)."""
    _still_ours(storage, target, manifest, guard)
    etag = _base_etag(storage, target, manifest, base)
    failpoints.hit("publish.checked")
    if storage.put_if_match(target.manifest_key, manifest.dumps(), etag) is None:
        raise NameTaken(
            f"{manifest.table} {manifest.day}: another run committed the day between this "
            f"one's last check and its commit of generation {manifest.generation}; this one "
            "committed nothing. Run again, then dbarchive verify the day"
        )


def _base_etag(
    storage: Storage, target: PartitionPath, manifest: Manifest, base: Manifest | None
) -> str | None:
    """The ETag of the committed manifest, which must still be ``base`` (AlreadyRunning if
    another generation was committed since); None if the day has none, as ``base`` says."""
    found = storage.get_with_etag(target.manifest_key)
    now = _generation_in(found[0]) if found is not None else None
    was = None if base is None else base.generation
    if found is None and base is None:
        return None
    if found is None or now != was:
        raise AlreadyRunning(
            f"{manifest.table} {manifest.day}: the day's committed manifest changed while this "
            f"run wrote generation {manifest.generation} (it was generation {was}, it is "
            f"{now if found is not None else 'gone'}); this one commits nothing. Run again, then "
            "dbarchive verify the day"
        )
    return found[1]


def _generation_in(raw: bytes) -> int | None:
    """The generation a stored manifest names (None: unreadable, so not the one read before)."""
    try:
        return Manifest.loads(raw).generation
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def _still_ours(
    storage: Storage, target: PartitionPath, manifest: Manifest, guard: Callable[[], None] | None
) -> list[StoredObject]:
    """Raise unless this publication is still the day's newest writer: no later generation is
    claimed, and ``guard`` (the run lock) passes. A writer paused for long (a frozen VM) whose
    lock had gone meanwhile committed its older manifest over a newer run's and then removed that
    run's files: a day's rows lost (an outside trial). Asked right before the commit and before
    the clean-up; what is left is the instant between this check and the next write. Returns
    the partition's objects as listed (the clean-up's list)."""
    stored = list(storage.list_objects(target.prefix))
    claimed = highest_claim([o.key for o in stored])
    if claimed > (manifest.generation or 0):
        raise AlreadyRunning(
            f"{manifest.table} {manifest.day}: generation {claimed} of the day was claimed by "
            f"another run while this one published generation {manifest.generation}; this one "
            "stops here without committing or removing anything more. Run again, then dbarchive "
            "verify the day"
        )
    if guard is not None:
        guard()
    return stored


def _with_files(
    manifest: Manifest, target: PartitionPath, versions: dict[str, str | None]
) -> Manifest:
    """``manifest`` whose new files name these versions (None: no version known yet)."""
    files = tuple(
        replace(f, version_id=versions[f.key]) if f.key in versions else f for f in manifest.files
    )
    return replace(manifest, files=files)


def _with_record_version(storage: Storage, target: PartitionPath, manifest: Manifest) -> Manifest:
    """``manifest`` naming the version of its ``_manifest-gGGGG.json``, where the storage keeps
    versions (its files then have them: nothing is asked of a storage that keeps none)."""
    if not manifest.versions:
        return manifest
    record = storage.stat(target.generation_manifest_key(manifest.generation))
    version = record.version_id if record is not None else None
    return replace(manifest, record_version_id=version)


def kept_locked(storage: Storage, removed: list[str]) -> tuple[str, ...]:
    """The removed keys whose versions Object Lock keeps (the archive's content is locked)."""
    lockable = locking(storage)
    if lockable is None or lockable.object_lock is None:
        return ()
    return tuple(k for k in removed if is_archive_content(k))


def claim(storage: Storage, target: PartitionPath, manifest: Manifest) -> None:
    """Create ``_manifest-gGGGG.json`` once: the generation is ours, or AlreadyRunning."""
    if not storage.put_if_absent(
        target.generation_manifest_key(manifest.generation), manifest.dumps()
    ):
        raise AlreadyRunning(
            f"{manifest.table} {manifest.day}: generation {manifest.generation} of the day was "
            "claimed by another export while this one wrote it; this one published nothing. Run "
            "again: it takes the next generation"
        )


def promote(
    storage: Storage,
    target: PartitionPath,
    files: list[FileEntry],
    clock: Callable[[], float] = time.monotonic,
) -> tuple[float | None, dict[str, str | None]]:
    """Copy each staged file to its published name, checking the copy's size and S3 CRC32;
    returns when the first copy became visible (None: no file) and each copy's version."""
    first = None
    versions: dict[str, str | None] = {}
    for entry in files:
        copied = storage.copy_object(target.write_key(entry.key), entry.key)
        if copied.size != entry.bytes or (
            copied.s3_checksum and entry.s3_checksum and copied.s3_checksum != entry.s3_checksum
        ):
            raise StorageError(
                f"{entry.key}: the published copy ({copied.size} bytes, {copied.s3_checksum}) "
                f"differs from the staged file ({entry.bytes} bytes, {entry.s3_checksum}); "
                "nothing was published"
            )
        versions[entry.key] = copied.version_id
        first = clock() if first is None else first
        failpoints.hit("publish.promoted")
    return first, versions


def clean_up(
    storage: Storage,
    target: PartitionPath,
    manifest: Manifest,
    stored: list[StoredObject] | None = None,
) -> list[str]:
    """Delete data files (and staged files) of generations up to the new one that the committed
    manifest does not list; files of a higher generation belong to an export in flight.

    The deletes name keys, never versions: on a versioned bucket each adds a delete marker, so a
    version under Object Lock retention stays (hidden from listings, as history) and no delete
    of a locked version is ever attempted (``kept_locked`` tells which). ``stored``: the
    partition's objects as just listed (else listed here)."""
    listed = {f.key for f in manifest.files}
    stale = []
    for obj in storage.list_objects(target.prefix) if stored is None else stored:
        name = obj.key.rsplit("/", 1)[-1]
        generation = generation_of(name)
        if generation is None or generation > manifest.generation or obj.key in listed:
            continue
        if is_part_name(name) or is_staged_name(name):
            stale.append(obj.key)
    storage.delete_keys(stale)
    return stale


def _generation(entry: FileEntry) -> int | None:
    return generation_of(entry.key.rsplit("/", 1)[-1])
