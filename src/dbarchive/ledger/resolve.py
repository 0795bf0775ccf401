"""Resolving an intent whose outcome no record states: did its transaction commit?

A record cannot be written atomically with a MySQL COMMIT, so the intent goes first and its
resolution after. A run killed in between leaves the intent open; the next one decides it from
the database:

- a later intent of the chain holding one of its keys (no restore between them) → **void**: the
  later one could lock those rows only because this one did not delete them;
- every key still in the table (for a partition drop: in the table or in the exchange clone) →
  **void**: the transaction rolled back;
- otherwise → **committed**. Keys found again are counted in the resolution (something put them
  back since); a committed chunk is never left without its record.

The keys are read with a locking read, which waits while the intent's transaction (a COMMIT still
in flight from a killed process) holds them, so it sees the outcome and never the state before.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from dbarchive.errors import SourceError
from dbarchive.ledger.records import INTENT_KINDS, KeySet, Record
from dbarchive.sources import mysql_ledger as q
from dbarchive.sources.canonical import key_parameter
from dbarchive.sources.mysql import MySqlSource
from dbarchive.sources.table import TableInfo


def present_keys(
    source: MySqlSource, info: TableInfo, keys: KeySet, lock: bool = False
) -> list[tuple[str, ...]]:
    """The keys of ``keys`` that ``info``'s table holds now (as canonical texts)."""
    found: list[tuple[str, ...]] = []
    what = f"looking for deleted keys in {info.name}"
    for low, high in keys.runs:
        rows = source.query(q.present_range_sql(info, lock), (low, high), what)
        found += [_texts(row) for row in rows]
    values = list(keys.values)
    for start in range(0, len(values), q.KEYS_PER_STATEMENT):
        batch = values[start : start + q.KEYS_PER_STATEMENT]
        params = [
            key_parameter(col, text.encode())
            for key in batch
            for col, text in zip(info.key, key, strict=True)
        ]
        rows = source.query(q.present_keys_sql(info, len(batch), lock), params, what)
        found += [_texts(row) for row in rows]
    return found


def _texts(row: Any) -> tuple[str, ...]:
    return tuple(bytes(v).decode() for v in row)


def table_exists(source: MySqlSource, info: TableInfo) -> bool:
    (count,) = source.query(q.TABLE_EXISTS, (info.schema, info.name), "looking for a table")[0]
    return int(count) > 0


def superseded_by(pending: Record, later: list[Record]) -> int | None:
    """The first later intent that holds one of ``pending``'s keys (stopping at a restore, which
    may have put the keys back), or None."""
    keys = pending.keys
    if keys is None:
        return None
    for record in later:
        if record.kind == "restore":
            return None
        other = record.keys
        if record.kind in INTENT_KINDS and other is not None and other.overlaps(keys):
            return record.seq
    return None


def resolve(
    source: MySqlSource,
    info: TableInfo,
    pending: Record,
    later: list[Record],
    lock_wait_timeout: int,
) -> dict[str, Any]:
    """The resolution of an intent left open (see the module docstring); SourceError if the
    database cannot answer now (the intent then stays open for the next run)."""
    seq = pending.seq
    if pending.kind == "restore":
        return _resolution(seq, "committed", "a restore that did not report its end: some or "
                           "all of the day's archived rows may be back in the table")  # fmt: skip
    later_seq = superseded_by(pending, later)
    if later_seq is not None:
        return _resolution(seq, "void", f"record {later_seq} deleted some of these keys later")
    keys = pending.keys
    if keys is None:
        raise SourceError(f"ledger record {seq} of {info.name} has no keys to look for")
    present = _locked_count(source, _tables(source, info, pending), keys, lock_wait_timeout)
    if present == len(keys):
        return _resolution(seq, "void", "every key is still in the database: rolled back")
    found = {"present": present} if present else {}
    how = "its keys are gone from the database: committed" + (
        f" ({present} of them are back)" if present else ""
    )
    return {**_resolution(seq, "committed", how), **found}


def _tables(source: MySqlSource, info: TableInfo, pending: Record) -> list[TableInfo]:
    """Where the intent's rows may still be: the table, and for a drop its exchange clone."""
    clone = pending.body.get("clone")
    if pending.kind != "drop" or not isinstance(clone, str):
        return [info]
    clone_info = dataclasses.replace(info, name=clone)
    return [info, clone_info] if table_exists(source, clone_info) else [info]


def _locked_count(
    source: MySqlSource, tables: list[TableInfo], keys: KeySet, lock_wait_timeout: int
) -> int:
    # READ COMMITTED: only the rows found are locked, for this one statement's transaction.
    source.begin(lock_wait_timeout, "read committed")
    try:
        return sum(len(present_keys(source, t, keys, lock=True)) for t in tables)
    finally:
        source.rollback()


def _resolution(seq: int, outcome: str, how: str) -> dict[str, Any]:
    return {"seq": seq, "outcome": outcome, "how": how}
