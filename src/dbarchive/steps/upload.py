"""Publishing a partition: clear what a crashed attempt left, then the manifest goes last.

Order of a (re-)export of one table-day:
1. ``survey`` reads (bucket reachable, no foreign object; the old manifest), then ``clear``
   changes: unfinished uploads under the partition are aborted, the old manifest deleted.
   ``Preparation`` runs the first on a thread and the second when the first byte must go out.
2. the data files are written (``write.py``), replacing same-named parts.
3. ``publish``: the manifest is written (the commit point), then every object under the partition
   that the new manifest does not list is deleted — stale parts of an earlier, larger attempt.
A crash before 3 leaves the partition without a *new* manifest; the old one, if any, was removed
in step 1 so nobody trusts half-replaced files.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from dbarchive import failpoints
from dbarchive.background import in_background
from dbarchive.errors import StorageError
from dbarchive.layout import PartitionPath, is_part_name
from dbarchive.manifest import Manifest
from dbarchive.storage import Storage


def read_manifest(storage: Storage, partition: PartitionPath) -> Manifest | None:
    """The partition's committed manifest, or None if the partition is not archived."""
    raw = storage.get_bytes(partition.manifest_key)
    if raw is None:
        return None
    try:
        return Manifest.loads(raw)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:  # JSON is a ValueError
        raise StorageError(
            f"{partition.manifest_key} is not a dbarchive manifest ({type(exc).__name__}: {exc}); "
            "nothing was changed. Move it away, or archive to another prefix"
        ) from None


def read_purge_marker(storage: Storage, partition: PartitionPath) -> dict[str, Any] | None:
    """The partition's purge record (``status`` "started" or "purged"), or None."""
    raw = storage.get_bytes(partition.purge_marker_key)
    return None if raw is None else dict(json.loads(raw))


def write_purge_marker(storage: Storage, partition: PartitionPath, record: dict[str, Any]) -> None:
    """Record the purge's progress next to the manifest (read by ``status`` and by reruns)."""
    storage.put_bytes(partition.purge_marker_key, json.dumps(record, indent=2).encode() + b"\n")


def survey(storage: Storage, partition: PartitionPath) -> Manifest | None:
    """The read-only half of making a partition safe to rewrite: the destination is reachable and
    holds nothing foreign there (StorageError, nothing changed, if it does); returns the committed
    manifest. Safe to run on a thread while rows are read."""
    storage.check()
    return refuse_foreign(storage, partition)


def clear(storage: Storage, partition: PartitionPath) -> None:
    """The changing half, after ``survey``: unfinished uploads and the old manifest go, so nobody
    trusts the partition while its files are replaced. Runs before any file is written."""
    storage.abort_incomplete(partition.prefix)
    storage.delete_keys([partition.manifest_key])


def refuse_foreign(storage: Storage, partition: PartitionPath) -> Manifest | None:
    """StorageError naming the first object of the partition that dbarchive did not write;
    otherwise the committed manifest (None if there is none).

    Parts the committed manifest lists are ours whatever their metadata (archives from before the
    mark); anything else is checked by ``stat`` (only S3 can tell; other backends pass).
    """
    manifest = _own_manifest(storage, partition)
    listed = {partition.manifest_key} | {f.key for f in (manifest.files if manifest else ())}
    for obj in storage.list_objects(partition.prefix):
        if obj.key in listed:
            continue
        stored = storage.stat(obj.key)
        if stored is not None and stored.ours is False:
            raise StorageError(
                f"{obj.key} in the archive destination was not written by dbarchive; nothing was "
                "overwritten. Move it away, or archive to another prefix"
            )
    return manifest


def _own_manifest(storage: Storage, partition: PartitionPath) -> Manifest | None:
    """The committed manifest if there is one; StorageError if it is someone else's."""
    stored = storage.stat(partition.manifest_key)
    manifest = None if stored is None else read_manifest(storage, partition)
    # An untagged manifest of this table is ours from before the mark; another table's is not.
    if (
        stored is not None
        and manifest is not None
        and stored.ours is False
        and manifest.table != partition.table
    ):
        raise StorageError(
            f"{partition.manifest_key} in the archive destination is a manifest of table "
            f"{manifest.table!r}, not {partition.table!r}; nothing was overwritten"
        )
    return manifest


def publish(storage: Storage, partition: PartitionPath, manifest: Manifest) -> list[str]:
    """Write the manifest, then delete unlisted objects of the partition; returns what was removed."""
    failpoints.hit("export.before-manifest")
    storage.put_bytes(partition.manifest_key, manifest.dumps())
    failpoints.hit("export.after-manifest")
    listed = {f.key for f in manifest.files}
    stale = [
        o.key
        for o in storage.list_objects(partition.prefix)
        if o.key not in listed and is_part_name(o.key.rsplit("/", 1)[-1])
    ]
    storage.delete_keys(stale)
    return stale


class Preparation:
    """``survey`` then ``clear``, spread over an export's start: the gate its writes wait behind.

    ``survey`` (the reads) starts on a thread at once, so S3 is reached while MySQL plans and the
    first rows stream; ``open`` — when the first byte must go out — takes its result (or error),
    runs the caller's check of the old manifest, then ``clear``s. Nothing changes before that.
    """

    def __init__(self, storage: Storage, partition: PartitionPath) -> None:
        self.storage = storage
        self.partition = partition
        self._survey = in_background(lambda: survey(storage, partition), "dbarchive-s3-survey")
        self._check: Callable[[Manifest | None], None] = lambda old: None
        self._cleared = False

    def old_manifest(self) -> Manifest | None:
        """The partition's committed manifest (waits for the survey; raises what it raised)."""
        return self._survey.result()

    def before_clear(self, check: Callable[[Manifest | None], None]) -> None:
        """Run ``check(old manifest)`` when the gate opens, before anything is cleared."""
        self._check = check

    def ready(self) -> bool:
        return self._cleared or self._survey.done()

    def open(self) -> None:
        if not self._cleared:
            self._check(self.old_manifest())
            clear(self.storage, self.partition)
            self._cleared = True
