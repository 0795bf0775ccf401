"""The partition manifest: the commit marker written after every data file of a table-day.

A partition is complete if and only if its ``_manifest.json`` exists. The manifest lists every data
file with its size, SHA-256 and row digest, and the partition's totals, so verify can prove the
archive without trusting listings, and purge can prove it against the database.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass, field
from typing import Any

from dbarchive.checksum import RowDigest

MANIFEST_VERSION = 1


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

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["digest"] = self.digest.to_json()
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FileEntry:
        return cls(**{**data, "digest": RowDigest.from_json(data["digest"])})


@dataclass(frozen=True)
class ColumnEntry:
    """A column as exported: its name and MySQL type (what DDL generators need)."""

    name: str
    mysql_type: str
    nullable: bool


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

    @property
    def rows(self) -> int:
        return self.digest.count

    @property
    def total_bytes(self) -> int:
        return sum(f.bytes for f in self.files)

    def content(self) -> dict[str, Any]:
        """What the manifest says about the data, without run times (for idempotence checks)."""
        data = self.to_json()
        for name in ("started_at", "finished_at", "tool_version"):
            data.pop(name)
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
            "columns": [asdict(c) for c in self.columns],
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
        }

    def dumps(self) -> bytes:
        return json.dumps(self.to_json(), indent=2, ensure_ascii=False).encode() + b"\n"

    @classmethod
    def loads(cls, raw: bytes) -> Manifest:
        data = json.loads(raw)
        if data.get("manifest_version") != MANIFEST_VERSION:
            raise ValueError(f"unsupported manifest version {data.get('manifest_version')!r}")
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
        )
