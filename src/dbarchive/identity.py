"""Whose rows a partition holds, and the one check every step runs before trusting a partition.

A partition belongs to one table of one schema of one source. Its manifest records the schema, the
table, the configured ``[source] id`` and, as information, the server the rows were read from
(``SourceRecord``, from :class:`SourceIdentity`). Export (before anything in the partition
changes), verify, restore and purge call :func:`require_same_source` on the manifest they are
about to trust:

- another schema, table or source id: ``VerificationError`` naming the partition, theirs and ours,
  and nothing is changed. Such a partition is another table's archive, reached through a folder two
  tables shared (before names were escaped), a ``path``, or a destination another source uses.
- another server alone: a warning. A failover, a replica or another Aurora instance serves the same
  rows, so the archive is still this table's.
- a manifest without a source record (written before sources were recorded) or without an id is
  accepted: the id is optional, and setting one later must not disown the archive already made.

:func:`refuse_moved_archive` keeps archives where they are after table folders became escaped
names: a table whose folder changed is stopped, with the fix, while its old folder holds its days.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass, field

from dbarchive.config import ArchiveJob, TableSpec
from dbarchive.errors import ConfigError, VerificationError
from dbarchive.layout import MANIFEST_NAME, day_of_key, legacy_table_dir
from dbarchive.manifest import Manifest, SourceRecord
from dbarchive.sources.canonical import quote_identifier
from dbarchive.storage import Storage

log = logging.getLogger("dbarchive")


@dataclass(frozen=True)
class SourceIdentity:
    """The table a run works on: schema, name, the configured source id and the live server."""

    schema: str
    table: str
    source_id: str | None = None
    server: dict[str, str] = field(default_factory=dict)
    formerly: tuple[tuple[str, str], ...] = ()  # (schema, table) it was before a rename

    def record(self) -> SourceRecord:
        """What a manifest written by this run records about its source."""
        return SourceRecord(self.source_id, dict(self.server))

    def describe(self) -> str:
        return _describe(self.schema, self.table, self.source_id)


def require_same_zone(spec: TableSpec, manifest: Manifest) -> None:
    """Refuse to export or purge a day archived under another ``timezone`` than the table's now:
    days of two zones overlap or leave rows between them in no day, which would then never be
    archived nor purged (ConfigError, nothing changed). Restore and verify read the archived
    window and need no such check."""
    if manifest.timezone and manifest.timezone != spec.timezone:
        raise ConfigError(
            f"table {spec.name!r}: its day {manifest.day} was archived with timezone "
            f"{manifest.timezone!r}, and the config now says {spec.timezone!r}; days of two zones "
            "overlap or leave rows in no day, so nothing is exported or purged: set timezone = "
            f"{manifest.timezone!r} again, or archive the table under a new path from now on "
            "(its old days stay readable where they are)"
        )


def check_manifest_identity(
    manifest: Manifest, expected: SourceIdentity, where: str = "the partition"
) -> list[str]:
    """Warnings (another server) if ``manifest`` is of the ``expected`` table and source.

    Raises:
        VerificationError: the manifest names another schema, table or source id; the message
            names ``where`` (the partition), theirs, ours and the fix.
    """
    theirs_id = manifest.source.id if manifest.source is not None else None
    check_owner(manifest.schema, manifest.table, theirs_id, expected, where)
    if manifest.source is None:
        return []
    before, now = manifest.source.server, expected.server
    changed = sorted(k for k in before.keys() & now.keys() if before[k] != now[k])
    if not changed:
        return []
    return [
        f"{where} was archived from another server ({_server(before, changed)}) than this run "
        f"reads ({_server(now, changed)}): a failover, a replica or another instance; the "
        "schema, table and source id match, so the partition is used"
    ]


def check_owner(
    schema: str,
    table: str,
    source_id: str | None,
    expected: SourceIdentity,
    where: str,
    holds: str = "holds the archive of",
) -> None:
    """VerificationError unless ``schema``.``table`` of ``source_id`` (a manifest's, or a
    folder's claim: ``holds`` says which) is the ``expected`` table or a former name of it; an
    owner without a source id is anyone's (an id set later must not disown the archive)."""
    ours = {(expected.schema, expected.table), *expected.formerly}
    other_table = (schema, table) not in ours
    other_source = source_id is not None and source_id != expected.source_id
    if other_table or other_source:
        raise VerificationError(
            f"{where} {holds} {_describe(schema, table, source_id)}, not of "
            f"{expected.describe()}; nothing was changed. {_fix(other_table, source_id)}"
        )


def require_same_source(manifest: Manifest, expected: SourceIdentity, where: str) -> None:
    """:func:`check_manifest_identity`, its warnings logged (``dbarchive`` logger, WARNING)."""
    for warning in check_manifest_identity(manifest, expected, where):
        log.warning("%s", warning)


def _describe(schema: str, table: str, source_id: str | None) -> str:
    source = f"source id {source_id!r}" if source_id is not None else "no source id"
    return f"{quote_identifier(schema)}.{quote_identifier(table)} ({source})"


def _fix(other_table: bool, theirs_id: str | None) -> str:
    if other_table:
        return (
            'Two tables share this folder: give each its own with path = "…" in its [[tables]] '
            "entry, or point [destination] url elsewhere; or, if this table was renamed, list "
            'its former name in formerly = ["…"]'
        )
    return (
        "Another source archives to this destination: point [destination] url elsewhere, or, if "
        f"this is the same database under a new name, set [source] id = {json.dumps(theirs_id)}"
    )


def _server(names: dict[str, str], keys: list[str]) -> str:
    return ", ".join(f"{k} {names[k]}" for k in keys)


def refuse_moved_archive(storage: Storage, job: ArchiveJob, spec: TableSpec) -> None:
    """ConfigError (nothing changed) while the table's archive is in the folder earlier versions
    gave it and its own folder is still empty; the message says how to keep the archive.

    Only a table without ``path`` whose folder changed is looked at (a name with characters that
    used to become ``_``, or a table outside the default schema); once its folder holds anything,
    nothing is read. Reads the manifests of the old folder, whose schema and table tell which days
    are this table's (the old folder may be another table's, or shared by two).
    """
    folder, legacy = job.folder(spec), legacy_table_dir(spec.name)
    if spec.path is not None or folder == legacy:
        return
    if next(iter(storage.list_objects(folder + "/")), None) is not None:
        return
    days = _days_of(storage, job, legacy, job.schema_of(spec), spec.name)
    if not days:
        return
    found = (
        f"table {spec.label}: its archive of {len(days)} day(s) ({days[0]} … {days[-1]}) is in "
        f"the folder {legacy + '/'!r}, where earlier versions put it; this version names its "
        f"folder {folder + '/'!r}, so that no two tables share one. Nothing was changed."
    )
    owner = next((t for t in job.tables if t is not spec and job.folder(t) == legacy), None)
    if owner is None:
        raise ConfigError(
            f"{found} To keep the archive where it is, add path = {json.dumps(legacy)} to the "
            "table's [[tables]] entry"
        )
    raise ConfigError(
        f"{found} That folder is now table {owner.label}'s: move these days' folders (each with "
        f"its {MANIFEST_NAME}) from {legacy + '/'!r} to {folder + '/'!r}, then run again"
    )


def _days_of(
    storage: Storage, job: ArchiveJob, folder: str, schema: str | None, table: str
) -> list[dt.date]:
    """The days under ``folder`` whose manifest is of ``schema``.``table`` (any schema if None)."""
    days = []
    for obj in storage.list_objects(folder + "/"):
        day = day_of_key(obj.key, job.destination.layout)
        if day is None or obj.key.rsplit("/", 1)[-1] != MANIFEST_NAME:
            continue
        raw = storage.get_bytes(obj.key)
        try:
            data = json.loads(raw or b"null")
        except ValueError:
            continue  # not a manifest of ours: not this table's
        if (
            isinstance(data, dict)
            and data.get("table") == table
            and (schema is None or data.get("schema") == schema)
        ):
            days.append(day)
    return sorted(days)
