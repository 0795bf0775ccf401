"""The partition manifest: the commit marker written after every data file of a table-day.

A partition is complete if and only if its ``_manifest.json`` exists. The manifest lists every data
file with its size, SHA-256 and row digest, and the partition's totals, so verify can prove the
archive without trusting listings, and purge can prove it against the database.

Version 2 numbers publications (``generation``, docs/design/publication.md): a day whose purge has
begun can only grow, so a key whose row changed after it was archived is held twice, and
``superseded`` is the digest of the versions newer generations replaced. Version 1 manifests (one
generation, 0) are still read.

On a bucket that keeps versions (S3 Object Lock needs it), every file entry names the S3
``version_id`` it was published as, and the committed manifest names the version of its
generation's ``_manifest-gGGGG.json`` (``record_version_id``): verify, restore and the purge read
exactly those versions, whatever was written over the names later. Both are left out of the JSON
where the storage keeps no versions, and out of :meth:`Manifest.content` (run information).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass, field
from typing import Any

from dbarchive.checksum import RowDigest

MANIFEST_VERSION = 2
READABLE_VERSIONS = (1, 2)


@dataclass(frozen=True)
class ColumnStats:
    """What a data file's values hold that some readers cannot take, per column name.

    ``line_breaks``: columns with a value holding CR or LF (Athena's OpenCSVSerDe splits rows
    there); ``null_text``: columns with a value that is the text ``\\N`` (readers that take
    ``\\N`` as NULL whether quoted or not read it as NULL). Recorded for CSV parts.
    """

    line_breaks: tuple[str, ...] = ()
    null_text: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"line_breaks": list(self.line_breaks), "null_text": list(self.null_text)}

    @classmethod
    def from_json(cls, data: Any) -> ColumnStats | None:
        """The stats, or None for a file whose manifest entry has none (not recorded)."""
        if data is None:
            return None
        return cls(tuple(data.get("line_breaks", ())), tuple(data.get("null_text", ())))

    def union(self, other: ColumnStats) -> ColumnStats:
        """The columns either holds, each once, in first-seen order."""
        return ColumnStats(
            tuple(dict.fromkeys(self.line_breaks + other.line_breaks)),
            tuple(dict.fromkeys(self.null_text + other.null_text)),
        )


@dataclass(frozen=True)
class FileEntry:
    """One data file of a partition."""

    key: str  # relative to the destination root
    bytes: int
    rows: int
    sha256: str
    digest: RowDigest
    first_key: list[str] | None = None  # key of the first and last row, in read order
    last_key: list[str] | None = None
    s3_checksum: str | None = None
    version_id: str | None = None  # the S3 version published (a versioned bucket), else None
    column_stats: ColumnStats | None = None  # None: not recorded (Parquet, older files)

    def to_json(self) -> dict[str, Any]:
        """The fields; ``column_stats`` only where recorded (older entries stay as they were)."""
        data = asdict(self)
        data["digest"] = self.digest.to_json()
        if data["version_id"] is None:
            del data["version_id"]
        if self.column_stats is None:
            del data["column_stats"]
        else:
            data["column_stats"] = self.column_stats.to_json()
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FileEntry:
        return cls(
            **{
                **data,
                "digest": RowDigest.from_json(data["digest"]),
                "column_stats": ColumnStats.from_json(data.get("column_stats")),
            }
        )


@dataclass(frozen=True)
class ColumnEntry:
    """A column as exported: its name and MySQL type (what DDL generators need), and for a text
    column its charset and collation (what ``restore`` recreates; None in older manifests).

    Charset and collation take no part in equality: the lake reads the UTF-8 text the same way
    whatever the source charset, so a day archived before they were recorded is no schema change.
    """

    name: str
    mysql_type: str
    nullable: bool
    charset: str | None = field(default=None, compare=False)
    collation: str | None = field(default=None, compare=False)

    def to_json(self) -> dict[str, Any]:
        """The fields, leaving out a charset and collation the column does not have."""
        data = asdict(self)
        for name in ("charset", "collation"):
            if data[name] is None:
                del data[name]
        return data


@dataclass(frozen=True)
class SourceRecord:
    """Which database the rows came from: the configured ``[source] id`` (None: not set) and,
    as information only, the server (``server_uuid``, ``server_id``, ``hostname``,
    ``aurora_server_id`` — what the server has), which failover or a replica may change."""

    id: str | None
    server: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "server": dict(self.server)}

    @classmethod
    def from_json(cls, data: Any) -> SourceRecord | None:
        """The record, or None for a manifest written before sources were recorded."""
        if data is None:
            return None
        source_id, server = data.get("id"), data.get("server") or {}
        if source_id is not None and not isinstance(source_id, str):
            raise TypeError(f"source id must be text, not {type(source_id).__name__}")
        if not isinstance(server, dict) or not all(isinstance(v, str) for v in server.values()):
            raise TypeError("source server must map names to text")
        return cls(source_id, {str(k): v for k, v in server.items()})


@dataclass(frozen=True)
class Manifest:
    """Everything known about one archived table-day."""

    table: str
    schema: str
    day: dt.date
    timezone: str
    window_start: str  # ISO 8601 with offset: the local midnights
    window_end: str
    query_window: tuple[str, str]  # the same instants as the column compares them
    format: str
    compression: str
    columns: tuple[ColumnEntry, ...]
    key_columns: tuple[str, ...]
    timestamp_column: str
    scan: str
    files: tuple[FileEntry, ...]
    digest: RowDigest
    started_at: str
    finished_at: str
    tool_version: str
    where: str | None = None
    min_key: list[str] | None = None
    max_key: list[str] | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    generation: int = 0  # 0: written before generations (manifest version 1)
    superseded: RowDigest = field(default_factory=RowDigest)  # older versions of changed rows
    source: SourceRecord | None = None  # None: written before sources were recorded
    record_version_id: str | None = None  # the S3 version of this generation's _manifest-gGGGG

    @property
    def versions(self) -> dict[str, str]:
        """The S3 version of every file that has one, by key (empty: no versions kept)."""
        return {f.key: f.version_id for f in self.files if f.version_id is not None}

    @property
    def rows(self) -> int:
        """Rows in the files, every archived version of a changed row counted."""
        return self.digest.count

    @property
    def effective_digest(self) -> RowDigest:
        """The digest of the day's rows, newest version of each key: what the database held when
        the newest generation was written (verify and restore compare with this)."""
        return self.digest.without(self.superseded)

    @property
    def column_stats(self) -> ColumnStats | None:
        """The stats of every file together; None if a file has none recorded."""
        total = ColumnStats()
        for f in self.files:
            if f.column_stats is None:
                return None
            total = total.union(f.column_stats)
        return total

    @property
    def total_bytes(self) -> int:
        return sum(f.bytes for f in self.files)

    def content(self) -> dict[str, Any]:
        """What the manifest says about the data, without run times (for idempotence checks)."""
        data = self.to_json()
        for name in ("started_at", "finished_at", "tool_version"):
            data.pop(name)
        if data["source"] is not None:  # the server read from is run information too
            data["source"] = {"id": data["source"]["id"]}
        for entry in data["files"]:  # which version a write created is run information
            entry.pop("version_id", None)
        data.pop("record_version_id", None)
        return data

    def to_json(self) -> dict[str, Any]:
        return {
            "manifest_version": MANIFEST_VERSION,
            "table": self.table,
            "schema": self.schema,
            "day": self.day.isoformat(),
            "timezone": self.timezone,
            "window": {"start": self.window_start, "end": self.window_end},
            "query_window": list(self.query_window),
            "format": self.format,
            "compression": self.compression,
            "columns": [c.to_json() for c in self.columns],
            "key_columns": list(self.key_columns),
            "timestamp_column": self.timestamp_column,
            "where": self.where,
            "scan": self.scan,
            "rows": self.rows,
            "bytes": self.total_bytes,
            "digest": self.digest.to_json(),
            "min_key": self.min_key,
            "max_key": self.max_key,
            "files": [f.to_json() for f in self.files],
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "tool_version": self.tool_version,
            "extra": self.extra,
            "generation": self.generation,
            "superseded": self.superseded.to_json(),
            "source": None if self.source is None else self.source.to_json(),
            **(
                {}
                if self.record_version_id is None
                else {"record_version_id": self.record_version_id}
            ),
        }

    def dumps(self) -> bytes:
        return json.dumps(self.to_json(), indent=2, ensure_ascii=False).encode() + b"\n"

    @classmethod
    def loads(cls, raw: bytes) -> Manifest:
        data = json.loads(raw)
        if data.get("manifest_version") not in READABLE_VERSIONS:
            raise ValueError(f"unsupported manifest version {data.get('manifest_version')!r}")
        manifest = cls._from_json(data)
        # "rows" and "bytes" are written for other readers (query engines, scripts) and derived
        # here from the digest and the files: a manifest that states others is not one we wrote.
        for name, value in (("rows", manifest.rows), ("bytes", manifest.total_bytes)):
            if name in data and data[name] != value:
                raise ValueError(f'"{name}" says {data[name]!r}, its digest and files {value}')
        return manifest

    @classmethod
    def _from_json(cls, data: dict[str, Any]) -> Manifest:
        return cls(
            table=data["table"],
            schema=data["schema"],
            day=dt.date.fromisoformat(data["day"]),
            timezone=data["timezone"],
            window_start=data["window"]["start"],
            window_end=data["window"]["end"],
            query_window=(data["query_window"][0], data["query_window"][1]),
            format=data["format"],
            compression=data["compression"],
            columns=tuple(ColumnEntry(**c) for c in data["columns"]),
            key_columns=tuple(data["key_columns"]),
            timestamp_column=data["timestamp_column"],
            scan=data["scan"],
            files=tuple(FileEntry.from_json(f) for f in data["files"]),
            digest=RowDigest.from_json(data["digest"]),
            started_at=data["started_at"],
            finished_at=data["finished_at"],
            tool_version=data["tool_version"],
            where=data.get("where"),
            min_key=data.get("min_key"),
            max_key=data.get("max_key"),
            extra=data.get("extra") or {},
            generation=int(data.get("generation", 0)),
            superseded=RowDigest.from_json(data["superseded"])
            if "superseded" in data
            else RowDigest(),
            source=SourceRecord.from_json(data.get("source")),
            record_version_id=data.get("record_version_id"),
        )
