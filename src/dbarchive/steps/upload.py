"""Reading a partition's state, and making it safe to write a new generation into.

Order of a (re-)export of one table-day (the protocol: ``publish.py``, docs/design/publication.md):
1. ``survey`` reads (bucket reachable, no foreign object; the committed manifest, the purge record,
   the highest claimed generation), then ``clear`` aborts unfinished uploads a killed attempt left
   under the partition. ``Preparation`` runs the first on a thread and the second when the first
   byte must go out. The committed manifest stays: nothing is ever unpublished.
2. the new generation's data files are written (``write.py``) under new names, staged if the day
   already has a committed manifest;
3. ``publish.publish``: claim, promote, commit the manifest, clean up what it no longer lists.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from dbarchive import failpoints
from dbarchive.clock import SystemClock
from dbarchive.dates import shifted
from dbarchive.errors import StorageError, VerificationError
from dbarchive.identity import SourceIdentity, check_manifest_identity, require_same_source
from dbarchive.layout import Layout, PartitionPath, day_of_key
from dbarchive.manifest import Manifest
from dbarchive.runtime.background import in_background
from dbarchive.steps.folder_claim import claim_folder
from dbarchive.steps.publish import Committed, highest_taken
from dbarchive.storage import Storage


def read_manifest(storage: Storage, partition: PartitionPath) -> Manifest | None:
    """The partition's committed manifest, or None if the partition is not archived."""
    raw = storage.get_bytes(partition.manifest_key)
    if raw is None:
        return None
    try:
        return Manifest.loads(raw)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:  # JSON is a ValueError
        raise damaged(partition.manifest_key, "a dbarchive manifest", exc) from None


def read_purge_marker(storage: Storage, partition: PartitionPath) -> dict[str, Any] | None:
    """The partition's purge record (``status`` "started" or "purged"), or None."""
    raw = storage.get_bytes(partition.purge_marker_key)
    if raw is None:
        return None
    try:
        return dict(json.loads(raw))
    except (ValueError, TypeError) as exc:
        raise damaged(partition.purge_marker_key, "a dbarchive purge record", exc) from None


def damaged(key: str, what: str, exc: Exception) -> VerificationError:
    """A day's record that cannot be read: that day's archive is not what it claims (exit 5),
    so the day keeps its rows and the table's other days go on."""
    return VerificationError(
        f"{key} is not {what} ({type(exc).__name__}: {exc}); nothing of its day was changed. "
        "Put back the object's earlier version (a versioned bucket keeps it) or a backup; "
        "moving it away is safe only for a day whose rows were never purged (the next run "
        "archives the day again)"
    )


def write_purge_marker(storage: Storage, partition: PartitionPath, record: dict[str, Any]) -> None:
    """Record the purge's progress next to the manifest (read by ``status`` and by reruns)."""
    storage.put_bytes(partition.purge_marker_key, json.dumps(record, indent=2).encode() + b"\n")


# The purge record of a day some of whose archived rows left the database (the application
# deleted them, or moved them to another day): its archive holds their only copy, so from then on
# it only grows and is purged like a day whose purge has begun, its rows matched one by one.
GONE_RECORD = {"status": "started", "cause": "archived rows left the database before the purge"}


def days_holding(storage: Storage, folder: str, layout: Layout, name: str) -> list[dt.date]:
    """The days under the table ``folder`` holding an object named ``name`` (``MANIFEST_NAME``,
    ``PURGE_MARKER_NAME``), in the order listed; one listing of the folder."""
    return [
        day
        for obj in storage.list_objects(folder + "/")
        if obj.key.rsplit("/", 1)[-1] == name and (day := day_of_key(obj.key, layout)) is not None
    ]


def grown_only(marker: dict[str, Any] | None) -> bool:
    """Whether a purge record is ``mark_rows_gone``'s: the day only grows, no purge has begun
    (a purge's own record replaces it)."""
    return (marker or {}).get("cause") == GONE_RECORD["cause"]


def mark_rows_gone(storage: Storage, partition: PartitionPath) -> dict[str, Any]:
    """Record that archived rows of the day left the database (``GONE_RECORD``), at the
    machine's real time (as every record of when things ran); the record."""
    now = SystemClock().now()
    record = {**GONE_RECORD, "started_at": now.isoformat(timespec="seconds")}
    write_purge_marker(storage, partition, record)
    failpoints.hit("export.after-gone-record")
    return record


def survey(storage: Storage, partition: PartitionPath, expected: SourceIdentity) -> Committed:
    """The read-only half of making a partition safe to write: the destination is reachable and
    holds nothing foreign there (StorageError, nothing changed, if it does; VerificationError if
    the manifest is another table's or source's); returns what is committed. Safe to run on a
    thread while rows are read."""
    storage.check()
    return refuse_foreign(storage, partition, expected)


def clear(storage: Storage, partition: PartitionPath) -> None:
    """The changing half, after ``survey``: unfinished uploads a killed attempt left go, before
    this export starts its own under the same names. Runs before any file is written."""
    storage.abort_incomplete(partition.prefix)


def read_committed(
    storage: Storage, partition: PartitionPath, expected: SourceIdentity
) -> Committed:
    """The committed manifest (VerificationError if another table's or source's), the purge
    record and the highest claimed generation."""
    keys = [o.key for o in storage.list_objects(partition.prefix)]
    return Committed(
        _own_manifest(storage, partition, expected),
        read_purge_marker(storage, partition),
        highest_taken(keys),
    )


def refuse_foreign(
    storage: Storage, partition: PartitionPath, expected: SourceIdentity
) -> Committed:
    """StorageError naming the first object of the partition that dbarchive did not write;
    otherwise what the partition holds (see :func:`read_committed`).

    Parts the committed manifest lists are ours whatever their metadata (archives from before the
    mark); anything else is checked by ``stat`` (only S3 can tell; other backends pass).
    """
    manifest = _own_manifest(storage, partition, expected)
    listed = {partition.manifest_key} | {f.key for f in (manifest.files if manifest else ())}
    keys = []
    for obj in storage.list_objects(partition.prefix):
        keys.append(obj.key)
        if obj.key in listed:
            continue
        stored = storage.stat(obj.key)
        if stored is not None and stored.ours is False:
            raise StorageError(
                f"{obj.key} in the archive destination was not written by dbarchive; nothing was "
                "overwritten. Move it away, or archive to another prefix"
            )
    return Committed(manifest, read_purge_marker(storage, partition), highest_taken(keys))


def _own_manifest(
    storage: Storage, partition: PartitionPath, expected: SourceIdentity
) -> Manifest | None:
    """The committed manifest if there is one; VerificationError if it names another schema,
    table or source id — whoever wrote it: dbarchive's mark says who wrote a manifest, not whose
    rows it lists (two tables once shared a folder, and both manifests carry the mark)."""
    manifest = read_manifest(storage, partition)
    if manifest is not None:
        require_same_source(manifest, expected, partition.manifest_key)
        return manifest
    # A day not archived yet: whose folder this is was checked (Context.folder: its claim, or
    # its first day's manifest); the days either side must be this table's too (a folder two
    # tables shared before claims). Refused here, nothing is written.
    for days in (-1, 1):
        side = replace(partition, day=shifted(partition.day, days), unit=None, generation=None)
        neighbour = read_manifest(storage, side) if side.day != partition.day else None
        if neighbour is None:
            continue
        try:  # whose it is (its server's warnings are its own day's)
            check_manifest_identity(neighbour, expected, side.manifest_key)
        except VerificationError as exc:
            raise VerificationError(
                f"{expected.table} {partition.day} was not archived: the day next to it, {exc}"
            ) from None
    return None


class Preparation:
    """``survey`` then ``clear``, spread over an export's start: the gate its writes wait behind.

    ``survey`` (the reads) starts on a thread at once, so S3 is reached while MySQL plans and the
    first rows stream; ``open`` — when the first byte must go out — takes its result (or error),
    runs the caller's check of the old manifest, then ``clear``s. Nothing changes before that.
    """

    def __init__(
        self, storage: Storage, partition: PartitionPath, expected: SourceIdentity
    ) -> None:
        self.storage = storage
        self.partition = partition
        self.expected = expected
        self._survey = in_background(
            lambda: survey(storage, partition, expected), "dbarchive-s3-survey"
        )
        self._check: Callable[[Manifest | None], None] = lambda old: None
        self._cleared = False

    def committed(self) -> Committed:
        """What the partition holds (waits for the survey; raises what it raised)."""
        return self._survey.result()

    def old_manifest(self) -> Manifest | None:
        """The partition's committed manifest (waits for the survey; raises what it raised)."""
        return self.committed().manifest

    def before_clear(self, check: Callable[[Manifest | None], None]) -> None:
        """Run ``check(old manifest)`` when the gate opens, before anything is cleared."""
        self._check = check

    def ready(self) -> bool:
        return self._cleared or self._survey.done()

    def __enter__(self) -> Preparation:
        return self

    def __exit__(self, *exc: object) -> None:
        """The survey cancelled (if it still runs) and its thread ended: an export that fails
        before it needs the survey leaves nothing running (a check's probe file is gone, too)."""
        self._survey.stop()

    def open(self) -> None:
        if not self._cleared:
            old = self.old_manifest()
            self._check(old)
            if old is None:  # a new day: the folder is claimed first (or found to be ours)
                claim_folder(self.storage, self.partition, self.expected)
            clear(self.storage, self.partition)
            self._cleared = True
