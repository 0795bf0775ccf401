"""A day's archive versions under legal hold (S3 Object Lock): which versions a hold covers, and
the hold a new generation of a held day inherits.

``dbarchive hold`` (``jobs/hold.py``) holds what a day's committed manifest names and every other
stored version of its data files and manifests. Late rows on a held day then wrote a new
generation that nothing held until ``hold`` ran again: the publication now holds it too when the
manifest it replaces was held, after the commit and before the old files are removed. A process
killed between the two leaves the new generation unheld until ``hold`` runs again.
"""

from __future__ import annotations

from dbarchive.errors import StorageError
from dbarchive.layout import PartitionPath, is_part_name
from dbarchive.manifest import Manifest
from dbarchive.storage.base import LockingStorage, Storage, locking


def day_versions(
    storage: LockingStorage, manifest: Manifest, partition: PartitionPath
) -> list[tuple[str, str | None]]:
    """The versions a day's committed manifest names, the record and the commit marker too;
    then every other stored version of the day's data files and manifests (older generations,
    replaced by late rows or an erasure: their rows are the day's too, and a release must reach
    what an earlier hold held)."""
    pointer_key = partition.manifest_key
    record_key = partition.generation_manifest_key(manifest.generation)
    objects: list[tuple[str, str | None]] = [(f.key, f.version_id) for f in manifest.files]
    if manifest.generation and storage.stat(record_key) is not None:
        objects.append((record_key, manifest.record_version_id))
    pointer = storage.stat(pointer_key)
    objects.append((pointer_key, pointer.version_id if pointer is not None else None))
    named = set(objects)
    for key, version in storage.list_versions(partition.prefix):
        name = key.rsplit("/", 1)[-1]
        if (is_part_name(name) or name.startswith("_manifest")) and (key, version) not in named:
            objects.append((key, version))
    return objects


def held_storage(storage: Storage, partition: PartitionPath) -> LockingStorage | None:
    """The locking storage, if the day's committed manifest (its current version) is under legal
    hold; else None. One request, asked only before a new generation of an archived day is
    published; a bucket without Object Lock answers "no hold"."""
    lockable = locking(storage)
    if lockable is None:
        return None
    try:
        return lockable if lockable.is_held(partition.manifest_key, None) else None
    except StorageError:
        return None  # no Object Lock on the bucket, or no s3:GetObjectLegalHold: nothing held


def hold_day(storage: LockingStorage, manifest: Manifest, partition: PartitionPath) -> int:
    """Put every version of the day (``day_versions``) under legal hold; how many changed."""
    return sum(
        storage.set_legal_hold(k, v, True) for k, v in day_versions(storage, manifest, partition)
    )
