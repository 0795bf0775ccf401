"""One process's writing to one table-day's chain: intents, their outcomes, reconciliation.

The rule: **an intent is stored before its transaction commits**, and its outcome after. In a
purge, chunk N's intent also resolves chunk N-1 (committed), so a chunk costs one PUT, held while
its rows are locked; the day's last chunk is resolved by a closing ``resolve`` record. Whatever
this process cannot state (it rolled back after the intent, the COMMIT's answer was lost, it was
killed) is decided from the database (``resolve.py``) — right away when it can, else by the next
run, which finds the day through the chain's last record (its ``open``) or the open note.
"""

from __future__ import annotations

import datetime as dt
import functools
import uuid
from typing import Any

from dbarchive._version import __version__
from dbarchive.clock import SystemClock
from dbarchive.config import LedgerSettings, TableSpec
from dbarchive.context import Context
from dbarchive.errors import DbArchiveError
from dbarchive.ledger import resolve
from dbarchive.ledger.chain import DayChain
from dbarchive.ledger.records import Record
from dbarchive.ledger.signing import Signer, signer_for
from dbarchive.sources import mysql_ledger as q
from dbarchive.sources.table import TableInfo

RUN_ID = uuid.uuid4().hex  # names this process in the records it writes


@functools.lru_cache(maxsize=8)
def _kms_signer(settings: LedgerSettings, region: str | None) -> Signer | None:
    return signer_for(settings, region)


def signer(ctx: Context) -> Signer | None:
    """The job's signer: an HMAC key is read from its variable each time (never kept beyond
    it), a KMS signer is made once per settings (its client)."""
    if ctx.job.ledger.kms_key_id:
        return _kms_signer(ctx.job.ledger, ctx.job.destination.region)
    return signer_for(ctx.job.ledger)


class DaySession:
    """This process's records in the chain of one table-day."""

    def __init__(self, ctx: Context, spec: TableSpec, info: TableInfo, day: dt.date) -> None:
        self.ctx, self.spec, self.info, self.day = ctx, spec, info, day
        self.chain = DayChain(
            ctx.storage, ctx.folder(spec), info.schema, spec.name, day, signer(ctx)
        )
        self._outcomes: dict[int, dict[str, Any]] = {}  # intent seq -> its known resolution
        self._uncertain: set[int] = set()  # rolled back after the intent: ask the database
        self._noted = False
        self._who = {"user": _current_user(ctx), "server": ctx.source.server_identity()}

    # -- reconciliation -------------------------------------------------------------------------
    def reconcile(self) -> int:
        """Resolve every intent the chain leaves open (a killed run's) from the database;
        returns how many were resolved. One that cannot be decided now stays open."""
        tail = self.chain.tail()
        if tail is None or not tail.open:
            self.chain.clear_open()
            return 0
        later = [self.chain.record(s) for s in range(min(tail.open) + 1, tail.seq + 1)]
        decided = []
        for seq in sorted(tail.open):
            pending = self.chain.record(seq)
            try:
                decided.append(self._resolve(pending, [r for r in later if r.seq > seq]))
            except DbArchiveError:
                continue  # the database cannot tell now: left open for the next run
        if decided:
            self.chain.append(lambda t: self._resolve_body(t, decided, "reconciled"))
        self.chain.clear_open()
        return len(decided)

    def _resolve(self, pending: Record, later: list[Record]) -> dict[str, Any]:
        if pending.kind == "erase":
            return self._erase_outcome(pending)
        wait = self.ctx.job.throttle.lock_wait_timeout
        return resolve.resolve(self.ctx.mysql, self.info, pending, later, wait)

    def _erase_outcome(self, pending: Record) -> dict[str, Any]:
        """An erasure took effect iff the committed manifest is past the generation it replaced
        and records an erasure of its filter."""
        from dbarchive.steps import upload

        manifest = upload.read_manifest(self.ctx.storage, self.ctx.partition(self.spec, self.day))
        replaced = int(pending.body.get("replaced_generation", 0))
        done = (
            manifest is not None
            and manifest.generation > replaced
            and any(
                e.get("where") == pending.body.get("where")
                for e in manifest.extra.get("erasures", [])
            )
        )
        how = "the day's committed manifest records it" if done else "the old generation stays"
        return {"seq": pending.seq, "outcome": "committed" if done else "void", "how": how,
                "at": self._now()}  # fmt: skip

    # -- this process's intents ---------------------------------------------------------------
    def intent(self, kind: str, fields: dict[str, Any]) -> int:
        """Store an intent (resolving this process's earlier ones in the same record); returns
        its number. Call it before the COMMIT it announces."""
        if not self._noted:
            self.chain.mark_open(RUN_ID)
            self._noted = True
        record = self.chain.append(lambda tail: self._intent_body(tail, kind, fields))
        assert record is not None
        self._forget(record)
        return record.seq

    def committed(self, seq: int, detail: dict[str, Any] | None = None) -> None:
        """The intent's transaction committed (the COMMIT returned)."""
        when = self._now()
        how = "COMMIT returned"
        self._outcomes[seq] = {"seq": seq, "outcome": "committed", "how": how, "at": when,
                               **(detail or {})}  # fmt: skip

    def rolled_back(self, seq: int) -> None:
        """The intent's transaction was rolled back or failed: decide it from the database now
        (outside any transaction) if it answers, else at :meth:`close` or by the next run."""
        self._uncertain.add(seq)
        self._settle()

    def close(self) -> None:
        """Store the outcomes not stored yet and remove the open note once nothing is open."""
        self._settle()
        if self._outcomes:
            self.chain.append(lambda t: self._resolve_body(t, [], "closed"))
            self._forget(self.chain.tail())
        if self._noted and not self._uncertain:
            self.chain.clear_open()

    def head(self) -> dict[str, Any]:
        """The chain's last record, for the day's purge record (an audit finds a removed tail)."""
        tail = self.chain.tail()
        return {} if tail is None else {"ledger_head": {"seq": tail.seq, "sha256": tail.sha256}}

    def _settle(self) -> None:
        for seq in sorted(self._uncertain):
            try:
                self._outcomes[seq] = self._resolve(self.chain.record(seq), [])
            except DbArchiveError:
                continue
            self._uncertain.discard(seq)

    # -- bodies ---------------------------------------------------------------------------------
    def _common(self, kind: str) -> dict[str, Any]:
        return {"kind": kind, "at": self._now(), "run": RUN_ID, "tool": __version__,
                "mysql": self._who}  # fmt: skip

    def _mine(self, tail: Record | None) -> list[dict[str, Any]]:
        """This process's known outcomes of intents the tail still leaves open."""
        still = tail.open if tail is not None else frozenset()
        return [self._outcomes[s] for s in sorted(self._outcomes) if s in still]

    def _intent_body(
        self, tail: Record | None, kind: str, fields: dict[str, Any]
    ) -> dict[str, Any]:
        return {**self._common(kind), **fields, "resolves": self._mine(tail)}

    def _resolve_body(
        self, tail: Record | None, decided: list[dict[str, Any]], why: str
    ) -> dict[str, Any] | None:
        still = tail.open if tail is not None else frozenset()
        resolves = [d for d in decided if d["seq"] in still] + self._mine(tail)
        if not resolves:
            return None  # another writer resolved them meanwhile
        return {**self._common("resolve"), "why": why, "resolves": resolves}

    def _forget(self, tail: Record | None) -> None:
        """Drop the outcomes the chain no longer leaves open (stored, by this or another run)."""
        still = tail.open if tail is not None else frozenset()
        for seq in [s for s in self._outcomes if s not in still]:
            del self._outcomes[seq]

    def _now(self) -> str:
        """When a deletion was recorded: the machine's real time, not the job's clock."""
        return SystemClock().now().isoformat(timespec="milliseconds")


def _current_user(ctx: Context) -> str:
    rows = ctx.source.query(q.CURRENT_USER, what="reading the session's MySQL user")
    return bytes(rows[0][0]).decode(errors="replace")
