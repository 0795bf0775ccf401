"""The audit's archive check: the rows each committed deletion record names are in its files.

A record names its archive files by key, size, SHA-256 and row digest, and its rows by key set and
digest. Each named file is read once per day (checked against the record's size, SHA-256 and
row digest before its rows count), newest generation first; a row counts for the record that
deleted its key if the record names that file and no newer named file held the key. Each record's
rows found must add up to its own count and digest.

Between two restores of a day a key is deleted at most once, so within such an *epoch* every key
belongs to one record: a key claimed by two records there is a chunk recorded twice.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from dbarchive.checksum import RowDigest, Value
from dbarchive.errors import DbArchiveError
from dbarchive.formats.csv import row_hex_digests
from dbarchive.layout import generation_of
from dbarchive.ledger.records import Record
from dbarchive.manifest import FileEntry, Manifest
from dbarchive.steps.archive_files import iter_file_chunks, iter_file_digests
from dbarchive.storage import Storage


@dataclass
class _KeyIndex:
    """Which record of an epoch deleted a key (runs by bisection, other keys by dict)."""

    lows: list[int] = field(default_factory=list)
    runs: list[tuple[int, int, int]] = field(default_factory=list)  # low, high, seq
    values: dict[tuple[str, ...], int] = field(default_factory=dict)

    def add(self, record: Record) -> list[str]:
        """Index the record's keys; the problems of keys another record of the epoch has."""
        keys = record.keys
        assert keys is not None
        problems = []
        for low, high in keys.runs:
            at = bisect.bisect_left(self.lows, low)
            for neighbour in self.runs[max(0, at - 1) : at + 1]:
                if neighbour[0] <= high and low <= neighbour[1]:
                    problems.append(_twice(neighbour[2], str(max(low, neighbour[0]))))
            self.lows.insert(at, low)
            self.runs.insert(at, (low, high, record.seq))
        for key in keys.values:
            if key in self.values:
                problems.append(_twice(self.values[key], ", ".join(key)))
            self.values[key] = record.seq
        return problems

    def owner(self, key: tuple[str, ...]) -> int | None:
        if self.runs:
            try:
                k = int(key[0])
            except ValueError:
                return None
            at = bisect.bisect_right(self.lows, k) - 1
            if at >= 0 and self.runs[at][0] <= k <= self.runs[at][1]:
                return self.runs[at][2]
            return None
        return self.values.get(key)


def _twice(other: int, key: str) -> str:
    return f"deletes key {key}, which record {other} deleted already: recorded twice"


def check_epoch(
    storage: Storage, manifest: Manifest | None, records: list[Record]
) -> dict[int, list[str]]:
    """Problems per record (by seq) for the committed deletion records of one epoch."""
    problems: dict[int, list[str]] = {r.seq: [] for r in records}
    index = _KeyIndex()
    named: dict[str, dict[str, Any]] = {}
    claims: dict[str, set[int]] = {}
    for record in records:
        for problem in index.add(record):
            problems[record.seq].append(problem)
        for ref in record.body.get("files", []):
            named.setdefault(ref["key"], ref)
            claims.setdefault(ref["key"], set()).add(record.seq)
            if ref != named[ref["key"]]:
                problems[record.seq].append(
                    f"names {ref['key']} with another size, SHA-256 or digest than record "
                    f"{min(claims[ref['key']])} did"
                )
    if manifest is None:
        for seq in problems:
            problems[seq].append("its day has no manifest, so its archive files cannot be read")
        return problems
    positions = _key_positions(manifest, records[0])
    found = {r.seq: RowDigest() for r in records}
    seen: set[tuple[str, ...]] = set()
    generations = {k: generation_of(k.rsplit("/", 1)[-1]) or 0 for k in named}
    # A key is in one file per generation: with one generation there is no older version to skip.
    several = len(set(generations.values())) > 1
    newest_first = sorted(named, key=lambda k: -generations[k])
    for key in newest_first:
        entry = _entry(named[key])
        try:
            for keys, hashes in _file_keys(storage, entry, positions):
                for row_key, row_hash in zip(keys, hashes, strict=True):
                    owner = index.owner(row_key)
                    if owner is None or owner not in claims[key] or row_key in seen:
                        continue
                    if several:
                        seen.add(row_key)
                    found[owner].add_hex(row_hash)
        except DbArchiveError as exc:
            for seq in claims[key]:
                problems[seq].append(
                    f"relies on {key}, which does not check out: {_said(key, exc)}"
                )
    for record in records:
        expected = RowDigest.from_json(record.body["digest"])
        if found[record.seq] != expected and not problems[record.seq]:
            problems[record.seq].append(
                f"deletes rows the archive files it names do not hold: of its keys they hold "
                f"{found[record.seq].describe()}, the record says {expected.describe()}"
            )
    return problems


def _said(key: str, exc: Exception) -> str:
    """The file's problem as the audit sees it: measured against what the record says of it
    (the reader's words compare with a manifest)."""
    detail = str(exc).removeprefix(f"{key}: ")
    return detail.replace("the manifest's", "the record's").replace("manifest says", "record says")


def _key_positions(manifest: Manifest, record: Record) -> list[int]:
    keys = record.keys
    assert keys is not None
    names = [c.name for c in manifest.columns]
    return [names.index(c) for c in keys.columns if c in names]


def _entry(ref: dict[str, Any]) -> FileEntry:
    digest = RowDigest.from_json(ref["digest"])
    return FileEntry(ref["key"], int(ref["bytes"]), digest.count, str(ref["sha256"]), digest)


def _file_keys(
    storage: Storage, entry: FileEntry, positions: list[int]
) -> Iterator[tuple[list[tuple[str, ...]], list[str]]]:
    """(keys as canonical texts, row hashes) of a file, block by block, the file checked first."""
    if len(positions) == 1:
        for keys, hashes in iter_file_digests(storage, entry, positions[0], checked_first=True):
            yield [(_text(k),) for k in keys], hashes
        return
    for rows in iter_file_chunks(storage, entry, checked_first=True):
        yield [tuple(_text(r[p]) for p in positions) for r in rows], row_hex_digests(rows)


def _text(value: Value) -> str:
    return "" if value is None else bytes(value).decode()
