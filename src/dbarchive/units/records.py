"""Work units: one table-day exported as several key ranges, each by its own worker or task.

Three small records live beside the day's data files (hidden names, see ``layout.py``):

- ``_units.json`` (:class:`DayUnits`): the plan — the day's key bounds and row count when planned,
  and the ranges. Its ``plan_id`` (a hash of the content) ties everything else to it; a re-plan
  with the same bounds and count gives the same id, so finished units are kept.
- ``_unit-UUUUU.json`` (:class:`UnitRecord`): written once a unit's files are stored *and*
  verified (read back, and compared with the database over the unit's range). It is the only
  proof that a unit landed: a unit killed mid-way has none and is simply exported again.
- ``_verified.json``: the last passed verification of the day's manifest (backfill skips such days).

The manifest is still the commit marker: it is assembled from the unit records only when every
unit of the plan has landed, so a day is published atomically however many tasks wrote it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from dbarchive.checksum import RowDigest
from dbarchive.clock import SystemClock
from dbarchive.layout import PartitionPath
from dbarchive.manifest import FileEntry, Manifest
from dbarchive.sources.table import Strategy
from dbarchive.storage import Storage

UNITS_VERSION = 1


@dataclass(frozen=True)
class UnitSpan:
    """One unit's slice of the day, as query parameter text.

    Key strategy: the inclusive key bounds ``[low, high]``. Time strategy: the half-open
    sub-window ``[low, high)`` in the column's own wall-clock text.
    """

    index: int
    low: str
    high: str


@dataclass(frozen=True)
class DayUnits:
    """The work-unit plan of one table-day."""

    table: str
    day: dt.date
    strategy: Strategy
    rows: int  # the day's rows when planned (from the same statement as the key bounds)
    low: str | None  # the day's smallest and largest key (single-column keys)
    high: str | None
    units: tuple[UnitSpan, ...]
    generation: int = 1  # the generation the units' files belong to (docs/design/publication.md)
    staged: bool = False  # the day has a committed manifest: files stay hidden until published

    @property
    def plan_id(self) -> str:
        """A short hash of the plan: unit records of another plan are never trusted."""
        canonical = json.dumps(self._content(), sort_keys=True).encode()
        return hashlib.sha256(canonical).hexdigest()[:16]

    def _content(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "day": self.day.isoformat(),
            "strategy": self.strategy,
            "rows": self.rows,
            "low": self.low,
            "high": self.high,
            "units": [[u.index, u.low, u.high] for u in self.units],
            "generation": self.generation,
            "staged": self.staged,
        }

    def dumps(self) -> bytes:
        data = {"units_version": UNITS_VERSION, "plan_id": self.plan_id, **self._content()}
        return json.dumps(data, indent=2).encode() + b"\n"

    @classmethod
    def loads(cls, raw: bytes) -> DayUnits:
        data = json.loads(raw)
        if data.get("units_version") != UNITS_VERSION:
            raise ValueError(f"unsupported work-unit plan version {data.get('units_version')!r}")
        return cls(
            table=data["table"],
            day=dt.date.fromisoformat(data["day"]),
            strategy=data["strategy"],
            rows=int(data["rows"]),
            low=data["low"],
            high=data["high"],
            units=tuple(UnitSpan(int(i), lo, hi) for i, lo, hi in data["units"]),
            generation=int(data.get("generation", 1)),
            staged=bool(data.get("staged", False)),
        )

    def target(self, partition: PartitionPath) -> PartitionPath:
        """Where the units' files go: this generation's names, staged or not."""
        return partition.for_generation(self.generation, self.staged)


@dataclass(frozen=True)
class UnitRecord:
    """A landed, verified work unit: its files and the digest of its rows."""

    plan_id: str
    index: int
    files: tuple[FileEntry, ...]
    digest: RowDigest
    started_at: str
    finished_at: str
    seconds: float  # export + verification of the unit, for throughput estimates

    @property
    def rows(self) -> int:
        return self.digest.count

    def dumps(self) -> bytes:
        data = {
            "units_version": UNITS_VERSION,
            "plan_id": self.plan_id,
            "index": self.index,
            "rows": self.rows,
            "bytes": sum(f.bytes for f in self.files),
            "digest": self.digest.to_json(),
            "files": [f.to_json() for f in self.files],
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "seconds": round(self.seconds, 3),
        }
        return json.dumps(data, indent=2).encode() + b"\n"

    @classmethod
    def loads(cls, raw: bytes) -> UnitRecord:
        data = json.loads(raw)
        if data.get("units_version") != UNITS_VERSION:
            raise ValueError(f"unsupported work-unit record version {data.get('units_version')!r}")
        return cls(
            plan_id=data["plan_id"],
            index=int(data["index"]),
            files=tuple(FileEntry.from_json(f) for f in data["files"]),
            digest=RowDigest.from_json(data["digest"]),
            started_at=data["started_at"],
            finished_at=data["finished_at"],
            seconds=float(data["seconds"]),
        )


def read_plan(storage: Storage, partition: PartitionPath) -> DayUnits | None:
    """The day's stored work-unit plan, or None."""
    raw = storage.get_bytes(partition.unit_plan_key)
    return None if raw is None else DayUnits.loads(raw)


def read_record(storage: Storage, partition: PartitionPath, index: int) -> UnitRecord | None:
    """The record of a landed unit, or None if it has not landed."""
    raw = storage.get_bytes(partition.unit_record_key(index))
    return None if raw is None else UnitRecord.loads(raw)


def write_verify_marker(storage: Storage, partition: PartitionPath, manifest: Manifest) -> None:
    """Record that this very manifest (its digest and publication time) verified."""
    record = {
        "status": "verified",
        "rows": manifest.rows,
        "digest": manifest.digest.to_json(),
        "manifest_finished_at": manifest.finished_at,
        "verified_at": SystemClock().now().isoformat(timespec="seconds"),  # real time
    }
    storage.put_bytes(partition.verify_marker_key, json.dumps(record, indent=2).encode() + b"\n")


def is_verified(storage: Storage, partition: PartitionPath, manifest: Manifest) -> bool:
    """Whether the stored verification record belongs to this manifest (a re-export voids it)."""
    raw = storage.get_bytes(partition.verify_marker_key)
    if raw is None:
        return False
    record = json.loads(raw)
    return bool(
        record.get("status") == "verified"
        and record.get("manifest_finished_at") == manifest.finished_at
        and record.get("digest") == manifest.digest.to_json()
    )
