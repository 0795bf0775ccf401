"""Whose table folder this is: a create-only claim at the folder's root, checked by every command.

A day's manifest says whose rows that day holds (``identity.py``), but a day not archived yet has
none: a second config pointed at one prefix (two environments without a ``[source] id``, another
schema's table of the same name) published its days among another table's, and ``status``
counted them as the first table's. The days either side were read as a stand-in, which a gap
between the two tables' days went around. So the first export of a day into a folder creates
``_dbarchive_table.json`` there, naming the schema, table and source id, with a create-only
write (S3 ``If-None-Match: *``, a hard link locally): of two writers racing, one creates it and
the other reads it and stops.

Every command checks the folder before it uses it (``Context.folder``, :func:`require_owner`):
its claim, or, in a folder an earlier version archived into (no claim yet), its first day's
manifest, must be this table's; and no folder above it may be claimed (a ``path`` inside another
table's folder mixes both tables' rows for a reader of that folder). Otherwise VerificationError
(exit 5) before anything is written. A claim is read as a manifest's identity is: a former name
(``formerly``) is this table's, and one without a source id is accepted by a config that sets
one later. Query engines skip names starting with ``_``, as they skip the manifests.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from dbarchive.errors import VerificationError
from dbarchive.identity import SourceIdentity, check_owner
from dbarchive.layout import MANIFEST_NAME, Layout, PartitionPath, day_dir, day_of_key
from dbarchive.manifest import Manifest
from dbarchive.storage import Storage

CLAIM_NAME = "_dbarchive_table.json"


@dataclass(frozen=True)
class FolderClaim:
    """Who claimed a table folder: the schema, table and source id of its first new day."""

    schema: str
    table: str
    source_id: str | None

    def dumps(self) -> bytes:
        record = {
            "dbarchive_claim": 1,
            "schema": self.schema,
            "table": self.table,
            "source_id": self.source_id,
        }  # no time: a run killed and run again leaves the same bytes as one that was not
        return json.dumps(record, indent=2).encode() + b"\n"

    @classmethod
    def loads(cls, raw: bytes, key: str) -> FolderClaim:
        try:
            data = json.loads(raw)
            return cls(str(data["schema"]), str(data["table"]), data.get("source_id"))
        except (ValueError, KeyError, TypeError) as exc:
            raise VerificationError(
                f"{key} is not a dbarchive folder claim ({type(exc).__name__}: {exc}); no new day "
                "is archived into the folder until it is: put back its earlier version, or, if "
                "the folder holds only this table's days, delete it (the next export writes it "
                "again)"
            ) from None


def claim_key(folder: str) -> str:
    """The claim's key: the root of the table ``folder``."""
    return f"{folder}/{CLAIM_NAME}"


def read_claim(storage: Storage, folder: str) -> FolderClaim | None:
    """The folder's claim, or None (a new folder, or one no version since claims archived into)."""
    key = claim_key(folder)
    raw = storage.get_bytes(key)
    return None if raw is None else FolderClaim.loads(raw, key)


def require_owner(
    storage: Storage, folder: str, layout: Layout, expected: SourceIdentity, refused: str
) -> None:
    """VerificationError, starting with ``refused``, unless ``folder`` is ``expected``'s: its
    claim, else its first day's manifest (a folder archived before claims) names it, and no
    folder above it holds a claim or days. One read, or a listing's first page and a manifest's
    read (a ``path`` with folders above it: the same for each of them)."""
    try:
        claim = read_claim(storage, folder)
        if claim is not None:
            _check(claim, claim_key(folder), expected)
        elif found := _first_manifest(storage, folder, layout):
            key, manifest = found
            record = manifest.source  # who it was read from (None: before sources were recorded)
            source_id = None if record is None else record.id
            check_owner(manifest.schema, manifest.table, source_id, expected, key)
        _not_inside_another(storage, folder, layout)
    except VerificationError as exc:
        raise VerificationError(f"{refused}: {exc}") from None


def claim_folder(storage: Storage, partition: PartitionPath, expected: SourceIdentity) -> None:
    """Create the folder's claim for ``expected`` if it has none (create-only); if another
    writer's claim got there first, it must be ``expected``'s (VerificationError otherwise).
    Before creating it, the folder is listed once: a folder inside it with a claim or days of
    its own is another table's, which a reader of this folder would take as this table's."""
    folder = partition.folder_prefix.rstrip("/")
    refused = f"{expected.table} {partition.day} was not archived"
    unclaimed = read_claim(storage, folder) is None
    if unclaimed and (inner := _inner_folder(storage, folder, partition.layout)):
        raise VerificationError(
            f"{refused}: {inner} is in a folder inside {folder + '/'!r}, another table's; "
            "a reader of the folder would take both tables' rows, so it is not claimed and "
            "nothing was changed. Give one of the tables a path outside the other's"
        )
    mine = FolderClaim(expected.schema, expected.table, expected.source_id)
    if storage.put_if_absent(claim_key(folder), mine.dumps()):
        return
    claim = read_claim(storage, folder)
    if claim is None:
        return
    try:
        _check(claim, claim_key(folder), expected)
    except VerificationError as exc:
        raise VerificationError(f"{refused}: {exc}") from None


def _check(claim: FolderClaim, key: str, expected: SourceIdentity) -> None:
    check_owner(
        claim.schema,
        claim.table,
        claim.source_id,
        expected,
        key,
        holds="claims this folder for the archive of",
    )


def _is_own_day(key: str, folder: str, layout: Layout) -> bool:
    """Whether ``key`` is an object of one of ``folder``'s own days, not of a folder inside it."""
    day = day_of_key(key, layout)
    return day is not None and key.startswith(f"{folder}/{day_dir(day, layout)}/")


def _first_manifest(storage: Storage, folder: str, layout: Layout) -> tuple[str, Manifest] | None:
    """The first readable manifest of ``folder``'s own days, with its key, if any (days are
    listed from the oldest; under the hive layout the folder's records sort apart, unlisted)."""
    days = f"{folder}/year=" if layout is Layout.HIVE else f"{folder}/"
    for obj in storage.list_objects(days):
        if obj.key.rsplit("/", 1)[-1] != MANIFEST_NAME or not _is_own_day(obj.key, folder, layout):
            continue
        try:
            return obj.key, Manifest.loads(storage.get_bytes(obj.key) or b"")
        except (ValueError, KeyError, TypeError, AttributeError):
            continue  # a damaged day: verify and the purge say so; the next one tells
    return None


def _inner_folder(storage: Storage, folder: str, layout: Layout) -> str | None:
    """The first claim or manifest under ``folder`` that is not of its own days, if any."""
    own = claim_key(folder)
    for obj in storage.list_objects(f"{folder}/"):
        name = obj.key.rsplit("/", 1)[-1]
        if name == CLAIM_NAME and obj.key != own:
            return obj.key
        if name == MANIFEST_NAME and not _is_own_day(obj.key, folder, layout):
            return obj.key
    return None


def _not_inside_another(storage: Storage, folder: str, layout: Layout) -> None:
    parts = folder.split("/")
    for depth in range(1, len(parts)):
        above = "/".join(parts[:depth])
        if (claim := read_claim(storage, above)) is not None:
            whose = f"{claim_key(above)} claims for {claim.schema}.{claim.table}"
        elif (found := _first_manifest(storage, above, layout)) is not None:
            key, manifest = found
            whose = f"holds days of {manifest.schema}.{manifest.table} ({key})"
        else:
            continue
        raise VerificationError(
            f"its folder {folder + '/'!r} is inside {above + '/'!r}, which {whose}: a reader of "
            "that folder would take both tables' rows; nothing was changed. Give the table a "
            "path outside it"
        )
