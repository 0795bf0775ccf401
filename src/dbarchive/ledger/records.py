"""Ledger records: their names, their bytes, the hash chain and the key sets they carry (pure).

A record is one JSON object, serialised canonically (sorted keys, no spaces, UTF-8) and stored
once under ``<table folder>/_ledger/<YYYY-MM-DD>/<seq>.json``. Its ``prev`` is the SHA-256 of the
previous record's stored bytes (of the day's genesis text for record 1), so changing, removing or
reordering one record breaks the link to the next. ``sig``, when records are signed, is a MAC of
the SHA-256 of the record without ``sig``; it is part of the stored bytes, so the chain covers it.

Every record also carries ``open``: the intents of the chain that no record has resolved yet,
counting itself. The last record alone therefore tells a writer what is unresolved, without
reading the day's whole chain.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from dbarchive.errors import VerificationError

LEDGER_VERSION = 1
LEDGER_FOLDER = "_ledger"
OPEN_FOLDER = "_open"
# Records that change the table and are resolved by a later record ("committed" or "void").
INTENT_KINDS = frozenset({"delete", "drop", "restore", "erase"})
KINDS = INTENT_KINDS | {"resolve"}
OUTCOMES = frozenset({"committed", "void"})
_SEQ_DIGITS = 10
_RECORD_NAME = re.compile(r"^(\d{10})\.json$")
_DAY_FOLDER = re.compile(r"^(\d{4}-\d{2}-\d{2})/")


def ledger_prefix(folder: str) -> str:
    """Where a table's ledger lives: ``<table folder>/_ledger/``."""
    return f"{folder}/{LEDGER_FOLDER}/"


def day_prefix(folder: str, day: dt.date) -> str:
    """The folder of one table-day's chain."""
    return f"{ledger_prefix(folder)}{day.isoformat()}/"


def record_key(folder: str, day: dt.date, seq: int) -> str:
    """The key of record ``seq`` (1-based) of the day's chain, zero-padded so keys sort by seq."""
    return f"{day_prefix(folder, day)}{seq:0{_SEQ_DIGITS}d}.json"


def open_flag_key(folder: str, day: dt.date) -> str:
    """A deletable note that the day's chain may hold an intent a run has not resolved."""
    return f"{ledger_prefix(folder)}{OPEN_FOLDER}/{day.isoformat()}.json"


def seq_of_key(key: str) -> int | None:
    """The sequence number in a record's key, or None for any other object."""
    m = _RECORD_NAME.match(key.rsplit("/", 1)[-1])
    return int(m.group(1)) if m else None


def day_of_ledger_key(folder: str, key: str) -> dt.date | None:
    """The day whose chain (or open flag) an object under the table's ledger belongs to."""
    rest = key.removeprefix(ledger_prefix(folder))
    if rest.startswith(OPEN_FOLDER + "/"):
        rest = rest[len(OPEN_FOLDER) + 1 :].removesuffix(".json") + "/"
    m = _DAY_FOLDER.match(rest)
    if m is None:
        return None
    try:
        return dt.date.fromisoformat(m.group(1))
    except ValueError:
        return None


def genesis(schema: str, table: str, day: dt.date) -> str:
    """The ``prev`` of a day's first record: binds the chain to its table-day, so records cannot
    be moved to another day's chain unnoticed."""
    text = f"dbarchive-ledger/{LEDGER_VERSION}/{schema}/{table}/{day.isoformat()}"
    return hashlib.sha256(text.encode()).hexdigest()


def canonical(body: dict[str, Any]) -> bytes:
    """The one byte form of a record (or of the part a signature covers)."""
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def signed_part(body: dict[str, Any]) -> bytes:
    """What a signature covers: the SHA-256 of the canonical record without its ``sig``."""
    return hashlib.sha256(canonical({k: v for k, v in body.items() if k != "sig"})).digest()


@dataclass(frozen=True)
class Record:
    """One stored record: its bytes (what the chain hashes) and its parsed fields."""

    data: bytes
    body: dict[str, Any]

    @classmethod
    def parse(cls, data: bytes, where: str) -> Record:
        """The record in ``data``; VerificationError naming ``where`` if it is not one."""
        try:
            body = json.loads(data)
        except ValueError as exc:
            raise VerificationError(f"{where} is not a ledger record (not JSON: {exc})") from None
        problem = _shape_problem(body)
        if problem:
            raise VerificationError(f"{where} is not a valid ledger record: {problem}")
        return cls(data, body)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @property
    def seq(self) -> int:
        return int(self.body["seq"])

    @property
    def kind(self) -> str:
        return str(self.body["kind"])

    @property
    def open(self) -> frozenset[int]:
        return frozenset(int(s) for s in self.body["open"])

    @property
    def resolves(self) -> dict[int, dict[str, Any]]:
        """Intent seq → its resolution (outcome, when, how) as this record states it."""
        return {int(r["seq"]): r for r in self.body.get("resolves", [])}

    @property
    def keys(self) -> KeySet | None:
        raw = self.body.get("keys")
        return None if raw is None else KeySet.from_json(raw)


def _shape_problem(body: Any) -> str | None:
    if not isinstance(body, dict):
        return "not an object"
    for name in ("ledger", "seq", "prev", "kind", "open", "table", "schema", "day"):
        if name not in body:
            return f"no {name!r}"
    if body["ledger"] != LEDGER_VERSION:
        return f"ledger version {body['ledger']!r}, this dbarchive reads {LEDGER_VERSION}"
    if body["kind"] not in KINDS:
        return f"unknown kind {body['kind']!r}"
    if not isinstance(body["seq"], int) or body["seq"] < 1:
        return "seq is not a positive number"
    if not isinstance(body["open"], list) or not all(isinstance(s, int) for s in body["open"]):
        return "open is not a list of numbers"
    for resolution in body.get("resolves", []):
        if not isinstance(resolution, dict) or resolution.get("outcome") not in OUTCOMES:
            return "a resolution without a known outcome"
        if not isinstance(resolution.get("seq"), int):
            return "a resolution without a seq"
    return None


def next_open(tail: Record | None, seq: int, kind: str, resolved: Iterable[int]) -> list[int]:
    """The ``open`` of a new record ``seq``: what the tail left open, less what it resolves, plus
    itself if it is an intent."""
    still = set(tail.open if tail is not None else ()) - set(resolved)
    if kind in INTENT_KINDS:
        still.add(seq)
    return sorted(still)


@dataclass(frozen=True)
class KeySet:
    """The keys a record deleted: runs of consecutive integers for a single integer key (a day of
    AUTO_INCREMENT ids is one run), else the keys themselves. Values are canonical key texts."""

    columns: tuple[str, ...]
    runs: tuple[tuple[int, int], ...] = ()
    values: tuple[tuple[str, ...], ...] = ()

    @classmethod
    def of(cls, columns: tuple[str, ...], integer: bool, keys: Iterable[tuple[str, ...]]) -> KeySet:
        """The set of ``keys`` (canonical texts, one tuple per row)."""
        if integer and len(columns) == 1:
            return cls.of_integers(columns[0], (int(k[0]) for k in keys))
        return cls(columns, values=tuple(sorted(set(keys))))

    @classmethod
    def of_integers(cls, column: str, keys: Iterable[int]) -> KeySet:
        """The set of a single integer key's values, as runs."""
        return cls((column,), runs=tuple(_runs(sorted(keys))))

    def __len__(self) -> int:
        if self.runs:
            return sum(high - low + 1 for low, high in self.runs)
        return len(self.values)

    def __iter__(self) -> Iterator[tuple[str, ...]]:
        for low, high in self.runs:
            for k in range(low, high + 1):
                yield (str(k),)
        yield from self.values

    def overlaps(self, other: KeySet) -> bool:
        """Whether a key is in both sets."""
        if self.runs and other.runs:
            return any(a <= d and c <= b for a, b in self.runs for c, d in other.runs)
        mine = set(self)
        return any(k in mine for k in other)

    def to_json(self) -> dict[str, Any]:
        if self.runs:
            return {"columns": list(self.columns), "runs": [[str(a), str(b)] for a, b in self.runs]}
        return {"columns": list(self.columns), "values": [list(v) for v in self.values]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> KeySet:
        columns = tuple(str(c) for c in data["columns"])
        if "runs" in data:
            return cls(columns, runs=tuple((int(a), int(b)) for a, b in data["runs"]))
        return cls(columns, values=tuple(tuple(str(x) for x in v) for v in data["values"]))


def _runs(ordered: list[int]) -> Iterator[tuple[int, int]]:
    if not ordered:
        return
    low = high = ordered[0]
    for k in ordered[1:]:
        if k == high + 1:
            high = k
        elif k != high:
            yield low, high
            low = high = k
    yield low, high
