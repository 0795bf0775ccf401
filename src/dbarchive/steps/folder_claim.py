"""Whose table folder this is: a create-only claim at the folder's root, read before a new day.

A day's manifest says whose rows that day holds (``identity.py``), but a day not archived yet has
none: a second config pointed at one prefix (two environments without a ``[source] id``, another
schema's table of the same name) published its days among another table's, and ``status``
counted them as the first table's. The days either side were read as a stand-in, which a gap
between the two tables' days went around. So the first export of a day into a folder creates
``_dbarchive_table.json`` there, naming the schema, table and source id, with a create-only
write (S3 ``If-None-Match: *``, a hard link locally): of two writers racing, one creates it and
the other reads it. Every later day not archived yet is refused, before anything is written,
while the folder's claim names another table or source (VerificationError, exit 5).

The claim is read as a manifest's identity is: a former name (``formerly``) is this table's, and
a claim without a source id is accepted by a config that sets one later. A folder archived by an
earlier version has no claim; until its first new day writes one, the days either side still
say whose it is. Query engines skip names starting with ``_``, as they skip the manifests.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from dbarchive.errors import VerificationError
from dbarchive.identity import SourceIdentity, check_owner
from dbarchive.layout import PartitionPath
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


def claim_key(partition: PartitionPath) -> str:
    """The claim's key: the root of the partition's table folder."""
    return f"{partition.folder_prefix}{CLAIM_NAME}"


def read_claim(storage: Storage, partition: PartitionPath) -> FolderClaim | None:
    """The folder's claim, or None (a new folder, or one no version since claims archived into)."""
    key = claim_key(partition)
    raw = storage.get_bytes(key)
    return None if raw is None else FolderClaim.loads(raw, key)


def claimed_by_us(
    storage: Storage, partition: PartitionPath, expected: SourceIdentity, refused: str = ""
) -> bool:
    """True if the folder's claim is ``expected``'s, False if it has none.

    Raises:
        VerificationError: the claim names another table or source; nothing was changed. The
            message starts with ``refused`` (default: the partition's day was not archived).
    """
    claim = read_claim(storage, partition)
    if claim is None:
        return False
    _require_ours(claim, partition, expected, refused)
    return True


def claim_folder(storage: Storage, partition: PartitionPath, expected: SourceIdentity) -> None:
    """Create the folder's claim for ``expected`` if it has none (create-only); if another
    writer's claim got there first, it must be ``expected``'s (VerificationError otherwise)."""
    mine = FolderClaim(expected.schema, expected.table, expected.source_id)
    if storage.put_if_absent(claim_key(partition), mine.dumps()):
        return
    claim = read_claim(storage, partition)
    if claim is not None:
        _require_ours(claim, partition, expected)


def _require_ours(
    claim: FolderClaim, partition: PartitionPath, expected: SourceIdentity, refused: str = ""
) -> None:
    try:
        check_owner(
            claim.schema,
            claim.table,
            claim.source_id,
            expected,
            claim_key(partition),
            holds="claims this folder for the archive of",
        )
    except VerificationError as exc:
        refused = refused or f"{expected.table} {partition.day} was not archived"
        raise VerificationError(f"{refused}: {exc}") from None
