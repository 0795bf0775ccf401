"""Audit the deletion ledger of a table: is every deletion recorded, proven and still true?

For each day with a chain (``dbarchive.ledger``):

1. **the chain** — records 1..n all present, each at its own number, each naming the table and
   day, each ``prev`` the SHA-256 of the record before (the first: the day's genesis), and with a
   key configured, each signature valid;
2. **the outcomes** — every resolution resolves an open intent, once; every record's ``open``
   is what the chain leaves open; the purge record's ``ledger_head`` is a record of the chain;
3. **the archive** — every committed deletion's rows are in the archive files it names, by digest
   (``audit_archive.py``), and no key is deleted twice between restores; deletions recorded before
   an erasure (``dbarchive erase``) were proven so just before it replaced those files, and are
   counted as such;
4. **the database** (unless ``check_source`` is off) — it holds none of the deleted keys; keys
   back after a later restore record of the day are reported as restored, others are breaks.

Any break makes the report not ``ok`` (the CLI exits 5). Open intents (a killed run's, which the
next purge resolves) are reported, not breaks.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from typing import Any

from dbarchive.config import TableSpec
from dbarchive.context import Context
from dbarchive.errors import VerificationError
from dbarchive.jobs.audit_archive import check_epoch
from dbarchive.layout import PURGE_MARKER_NAME
from dbarchive.ledger import resolve
from dbarchive.ledger.chain import DayChain, ledger_days, open_days
from dbarchive.ledger.records import INTENT_KINDS, Record, genesis
from dbarchive.ledger.session import signer
from dbarchive.ledger.signing import Signer, signature_problem
from dbarchive.sources.table import TableInfo
from dbarchive.steps import upload

_EXAMPLES = 3


@dataclass
class DayAudit:
    """What the audit found in one table-day's chain."""

    day: dt.date
    records: int = 0
    rows_deleted: int = 0  # rows of committed deletions (chunks and partition drops)
    void: int = 0  # intents whose transaction did not commit
    restores: int = 0
    open: list[int] = field(default_factory=list)  # intents no record has resolved yet
    restored_keys: int = 0  # deleted keys back in the table, explained by a later restore
    proven_before_erasure: int = 0  # deletions proven against files an erasure then replaced
    breaks: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"day": self.day.isoformat(), "records": self.records,
                "rows_deleted": self.rows_deleted, "void": self.void, "restores": self.restores,
                "open": self.open, "restored_keys": self.restored_keys,
                "proven_before_erasure": self.proven_before_erasure,
                "breaks": self.breaks}  # fmt: skip


@dataclass
class AuditReport:
    """The audit of one table's ledger."""

    table: str
    days: list[DayAudit]
    signatures: str  # "hmac-sha256 <key id>", "kms-hmac-sha256 <key>" or "not configured"
    checked_source: bool

    @property
    def ok(self) -> bool:
        return not self.breaks

    @property
    def breaks(self) -> list[str]:
        return [f"{self.table} {d.day}: {b}" for d in self.days for b in d.breaks]

    @property
    def rows_deleted(self) -> int:
        return sum(d.rows_deleted for d in self.days)

    def to_json(self) -> dict[str, Any]:
        return {"table": self.table, "ok": self.ok, "rows_deleted": self.rows_deleted,
                "signatures": self.signatures, "checked_source": self.checked_source,
                "breaks": self.breaks, "days": [d.to_json() for d in self.days]}  # fmt: skip


def audit_table(
    ctx: Context,
    spec: TableSpec,
    first: dt.date | None = None,
    last: dt.date | None = None,
    check_source: bool = True,
) -> AuditReport:
    """Audit every day of ``spec``'s ledger from ``first`` to ``last`` (inclusive; None: no
    bound). Reads the destination and, with ``check_source``, the deleted keys in the database."""
    folder = ctx.folder(spec)
    key = signer(ctx)
    days = sorted(
        set(ledger_days(ctx.storage, folder))
        | set(open_days(ctx.storage, folder))
        | set(_days_with_a_head(ctx, spec, first, last))
    )
    days = [d for d in days if (first is None or d >= first) and (last is None or d <= last)]
    info = ctx.describe(spec) if check_source else None
    report = AuditReport(spec.name, [], _signatures(key), check_source)
    schema = spec.schema_name or ctx.source.settings.database
    for day in days:
        chain = DayChain(ctx.storage, folder, schema, spec.name, day, key)
        report.days.append(_audit_day(ctx, spec, chain, key, info))
    return report


def _days_with_a_head(
    ctx: Context, spec: TableSpec, first: dt.date | None, last: dt.date | None
) -> list[dt.date]:
    """The days whose purge record names a ledger head: each must have its chain, so a day
    whose chain was removed whole (or the whole ledger folder) is audited, and breaks."""
    layout = ctx.job.destination.layout
    found = []
    for day in upload.days_holding(ctx.storage, ctx.folder(spec), layout, PURGE_MARKER_NAME):
        if (first is not None and day < first) or (last is not None and day > last):
            continue
        try:
            marker = upload.read_purge_marker(ctx.storage, ctx.partition(spec, day)) or {}
        except VerificationError:
            continue  # verify and the purge report a damaged record
        if isinstance(marker.get("ledger_head"), dict):
            found.append(day)
    return found


def _signatures(key: Signer | None) -> str:
    return "not configured" if key is None else f"{key.alg} {key.key_id}"


def _audit_day(
    ctx: Context, spec: TableSpec, chain: DayChain, key: Signer | None, info: TableInfo | None
) -> DayAudit:
    audit = DayAudit(chain.day)
    records = _links(chain, key, audit)
    audit.records = len(records)
    outcomes = _outcomes(records, audit)
    _head(ctx, spec, chain, records, audit)
    committed = [
        r for r in records if r.kind in {"delete", "drop"} and _is(outcomes.get(r.seq), "committed")
    ]
    audit.rows_deleted = sum(int(r.body.get("rows", 0)) for r in committed)
    audit.restores = sum(1 for r in records if r.kind == "restore")
    # Deletions before an erasure were proven against the files it replaced, just before it
    # (jobs/erase.py); those files are gone, so the erasure record stands for that proof.
    erased_at = max((r.seq for r in records if r.kind == "erase"
                     and _is(outcomes.get(r.seq), "committed")), default=0)  # fmt: skip
    audit.proven_before_erasure = sum(1 for r in committed if r.seq < erased_at)
    checkable = [r for r in committed if r.seq > erased_at]
    if checkable:
        _archive(ctx, spec, records, checkable, audit)
    if committed and info is not None:
        _database(ctx, info, records, committed, audit)
    return audit


def _links(chain: DayChain, key: Signer | None, audit: DayAudit) -> list[Record]:
    """Step 1: the records that parse, in order; every broken link is a break."""
    records: list[Record] = []
    previous: bytes | None = None
    expected = 1
    for seq, name, data in chain.records():
        if seq != expected:
            audit.breaks.append(
                f"records {expected}..{seq - 1} are missing (the chain jumps to {seq}): removed"
            )
            previous = None
        expected = seq + 1
        if data is None:
            audit.breaks.append(f"record {seq} vanished while it was read")
            previous = None
            continue
        try:
            record = Record.parse(data, name)
        except VerificationError as exc:
            audit.breaks.append(str(exc))
            previous = None
            continue
        _link_problems(chain, seq, record, previous, key, audit)
        records.append(record)
        previous = data
    return records  # none: a day noted open by a run killed before its first intent


def _link_problems(
    chain: DayChain,
    seq: int,
    record: Record,
    previous: bytes | None,
    key: Signer | None,
    audit: DayAudit,
) -> None:
    body = record.body
    if record.seq != seq:
        audit.breaks.append(
            f"{chain.prefix}{seq:010d}.json holds record {record.seq}: records were moved or "
            "reordered"
        )
    where = (body.get("schema"), body.get("table"), body.get("day"))
    if where != (chain.schema, chain.table, chain.day.isoformat()):
        audit.breaks.append(f"record {seq} belongs to {'.'.join(map(str, where))}: moved here")
    if seq == 1 and body["prev"] != genesis(chain.schema, chain.table, chain.day):
        audit.breaks.append("record 1 does not start this day's chain (its prev is not genesis)")
    if previous is not None and body["prev"] != _sha256(previous):
        audit.breaks.append(
            f"record {seq} does not follow record {seq - 1} (its prev is not that record's "
            f"SHA-256): record {seq - 1} was changed, replaced or reordered"
        )
    problem = signature_problem(body, key)
    if problem:
        audit.breaks.append(f"record {seq} {problem}")


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _outcomes(records: list[Record], audit: DayAudit) -> dict[int, dict[str, Any]]:
    """Step 2: each intent's resolution; a resolution of no open intent, or an ``open`` that is
    not what the chain leaves open, is a break."""
    open_now: set[int] = set()
    outcomes: dict[int, dict[str, Any]] = {}
    for record in records:
        for seq, resolution in record.resolves.items():
            if seq not in open_now:
                audit.breaks.append(f"record {record.seq} resolves {seq}, which is no open intent")
                continue
            open_now.discard(seq)
            outcomes[seq] = resolution
        if record.kind in INTENT_KINDS:
            open_now.add(record.seq)
        if set(record.open) != open_now:
            audit.breaks.append(
                f"record {record.seq} says {sorted(record.open)} are open, the chain before it "
                f"leaves {sorted(open_now)} open"
            )
            open_now = set(record.open)
    audit.open = sorted(open_now)
    audit.void = sum(1 for r in outcomes.values() if r.get("outcome") == "void")
    return outcomes


def _is(resolution: dict[str, Any] | None, outcome: str) -> bool:
    return resolution is not None and resolution.get("outcome") == outcome


def _head(
    ctx: Context, spec: TableSpec, chain: DayChain, records: list[Record], audit: DayAudit
) -> None:
    """The purge record keeps the chain's last record when the day's purge ended: it must still
    be there, unchanged (a removed or rewritten tail shows here)."""
    marker = upload.read_purge_marker(ctx.storage, ctx.partition(spec, chain.day)) or {}
    head = marker.get("ledger_head")
    if not isinstance(head, dict):
        return
    by_seq = {r.seq: r for r in records}
    kept = by_seq.get(int(head.get("seq", 0)))
    if kept is None or kept.sha256 != head.get("sha256"):
        audit.breaks.append(
            f"the day's purge record names record {head.get('seq')} as the chain's head "
            f"({str(head.get('sha256'))[:16]}…), and the chain "
            + ("does not hold it: records were removed" if kept is None else "holds another one")
        )


def _epochs(records: list[Record], committed: list[Record]) -> list[list[Record]]:
    """The committed deletions between restores (a restore may put keys back to delete again)."""
    restores = [r.seq for r in records if r.kind == "restore"]
    epochs: dict[int, list[Record]] = {}
    for record in committed:
        epochs.setdefault(sum(1 for s in restores if s < record.seq), []).append(record)
    return [epochs[e] for e in sorted(epochs)]


def _archive(
    ctx: Context, spec: TableSpec, records: list[Record], committed: list[Record], audit: DayAudit
) -> None:
    """Step 3."""
    manifest = upload.read_manifest(ctx.storage, ctx.partition(spec, audit.day))
    for epoch in _epochs(records, committed):
        for seq, problems in sorted(check_epoch(ctx.storage, manifest, epoch).items()):
            audit.breaks += [f"record {seq} {p}" for p in problems]


def _database(
    ctx: Context, info: TableInfo, records: list[Record], committed: list[Record], audit: DayAudit
) -> None:
    """Step 4: deleted keys in the table again, explained by a later restore or not."""
    restores = [r.seq for r in records if r.kind == "restore"]
    for record in committed:
        keys = record.keys
        if keys is None:
            continue
        back = resolve.present_keys(ctx.mysql, info, keys)
        if not back:
            continue
        if any(s > record.seq for s in restores):
            audit.restored_keys += len(back)
            continue
        examples = ", ".join("/".join(k) for k in back[:_EXAMPLES])
        audit.breaks.append(
            f"record {record.seq}: {len(back)} of its {len(keys)} deleted keys are in the table "
            f"again ({examples}{', …' if len(back) > _EXAMPLES else ''}) and no restore explains it"
        )
