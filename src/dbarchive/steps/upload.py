"""Publishing a partition: clear what a crashed attempt left, then the manifest goes last.

Order of a (re-)export of one table-day:
1. ``prepare``: abort unfinished uploads under the partition; remember the old manifest.
2. the data files are written (``write.py``), replacing same-named parts.
3. ``publish``: the manifest is written (the commit point), then every object under the partition
   that the new manifest does not list is deleted — stale parts of an earlier, larger attempt.
A crash before 3 leaves the partition without a *new* manifest; the old one, if any, was removed
in step 1 so nobody trusts half-replaced files.
"""

from __future__ import annotations

import json
from typing import Any

from dbarchive import failpoints
from dbarchive.layout import PartitionPath, is_part_name
from dbarchive.manifest import Manifest
from dbarchive.storage import Storage


def read_manifest(storage: Storage, partition: PartitionPath) -> Manifest | None:
    """The partition's committed manifest, or None if the partition is not archived."""
    raw = storage.get_bytes(partition.manifest_key)
    return None if raw is None else Manifest.loads(raw)


def read_purge_marker(storage: Storage, partition: PartitionPath) -> dict[str, Any] | None:
    """The partition's purge record (``status`` "started" or "purged"), or None."""
    raw = storage.get_bytes(partition.purge_marker_key)
    return None if raw is None else dict(json.loads(raw))


def write_purge_marker(storage: Storage, partition: PartitionPath, record: dict[str, Any]) -> None:
    """Record the purge's progress next to the manifest (read by ``status`` and by reruns)."""
    storage.put_bytes(partition.purge_marker_key, json.dumps(record, indent=2).encode() + b"\n")


def prepare(storage: Storage, partition: PartitionPath) -> None:
    """Make the partition safely incomplete before its files are rewritten."""
    storage.abort_incomplete(partition.prefix)
    storage.delete_keys([partition.manifest_key])


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
