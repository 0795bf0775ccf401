"""The reliability oracle: one checker that every fault scenario ends with.

A scenario seeds a table deterministically (``Seed``), records S = key → exact row hash, runs the
tool through faults, and calls :func:`check`. The oracle then reads, *independently of dbarchive's
code* (its own CSV parser, its own digest, raw boto3 or plain files):

- A = every row of every file listed by a committed ``_manifest.json``;
- D = the keys (and rows) still in the table;

and counts ``lost`` (a key gone from D whose latest version is not A's newest version of it: the
row of the key in the newest generation holding it), ``duplicated`` (a key more than once in one
generation of A), ``unexpected`` (a row in A that is no version the scenario ever wrote, or a row in
D the tool changed), ``deleted_unverified`` (a key gone from D whose day has no archive that checks
out: sizes, SHA-256, row digests), ``orphans`` (objects in the table's folder no manifest lists)
and ``uploads`` (unfinished multipart uploads / temp files). Every count must be 0.

With the deletion ledger on (``check(..., ledger=True)``), ``ledger`` counts the keys gone from D
that the ledger does not record as deleted exactly once (committed), the keys it records that are
still in D, its records whose digest is not the digest of the rows of their keys, and its broken
links (a record missing, or whose ``prev`` is not the SHA-256 of the record before): "ledger rows
= deleted rows". The ledger is read from its published format (README "The deletion ledger").

The canonical row text and the digest follow the published spec (README "The CSV dialect",
``CHECKSUM.md``): netstring fields, SHA-256, lanes XOR/XOR/SUM.
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import json
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import zstandard

# -- the seeded table ------------------------------------------------------------------------------

TABLE = "events"
DDL = f"""
CREATE TABLE `{TABLE}` (
  id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  created_at DATETIME(6) NOT NULL,
  account_id INT NOT NULL,
  amount DECIMAL(65,30) NULL,
  note TEXT NULL,
  payload BLOB NULL,
  ratio DOUBLE NULL,
  f FLOAT NULL,
  bits BIT(64) NULL,
  doc JSON NULL,
  big BIGINT NULL,
  KEY idx_created (created_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4
"""
COLUMNS = (
    "id", "created_at", "account_id", "amount", "note", "payload", "ratio", "f", "bits", "doc", "big"
)  # fmt: skip

# Adversarial texts (NULL, '', 'NULL', '\N', separators, quotes, CR/LF, NUL, 4-byte UTF-8).
_NOTES = (
    "NULL",
    "''",
    "'NULL'",
    "'\\\\N'",
    "'a,\"b\"\\r\\n,c'",
    "CONCAT('x', CHAR(0), 'y\\\\')",
    "'ünïcødé ✓ 🐬 𝔘'",
    "'\"'",
    "CONCAT('row ', seq)",
)
_AMOUNTS = (
    "NULL",
    "0",
    "99999999999999999999999999999999999.999999999999999999999999999999",
    "-99999999999999999999999999999999999.999999999999999999999999999999",
    "0.000000000000000000000000000001",
    "seq / 7",
)
_RATIOS = ("NULL", "0", "-1e308", "2.2250738585072014e-308", "5e-324", "seq / 3", "1e15 + 0.5")
_FLOATS = ("NULL", "3.4028234e38", "-1.17549435e-38", "0.1", "seq / 9")
_BITS = ("NULL", "0", "~0", "seq")
_DOCS = ("NULL", '\'{"a": [1, "x\\\\"y"], "b": null}\'', "'[]'", "'\"ünï 🐬\"'")
_BIGS = ("NULL", "-9223372036854775808", "9223372036854775807", "seq * 1000003")

# The canonical text of each column (README / CHECKSUM.md), as the oracle's own SQL.
_CANONICAL = {
    "id": "`id`",
    "created_at": "`created_at`",
    "account_id": "`account_id`",
    "amount": "`amount`",
    "note": "CONVERT(`note` USING utf8mb4)",
    "payload": "HEX(`payload`)",
    "ratio": "`ratio`",
    "f": "CAST(`f` AS DOUBLE)",
    "bits": "CAST(`bits` AS UNSIGNED)",
    "doc": "CONVERT(`doc` USING utf8mb4)",
    "big": "`big`",
}
ROW_HASH_SQL = "SHA2(CONCAT({}), 256)".format(
    ", ".join(
        f"IFNULL(CONCAT(LENGTH({e}), ':', {e}), '-1:')" for e in (_CANONICAL[c] for c in COLUMNS)
    )
)


class Sql(Protocol):
    """Anything that runs SQL in the scenario's schema (``MySqlSchema``)."""

    def execute(self, sql: str, params: Any = None) -> list[tuple[Any, ...]]: ...


@dataclass
class Seed:
    """The deterministic table of a scenario and every version of every row it ever wrote."""

    days: tuple[dt.date, ...]
    rows_per_day: int
    payload_bytes: int
    versions: dict[int, set[str]] = field(default_factory=dict)  # key -> every row hash
    latest: dict[int, str] = field(default_factory=dict)
    day_of: dict[int, dt.date] = field(default_factory=dict)

    def create(self, db: Sql) -> None:
        """Create and fill the table: ``rows_per_day`` rows a day, ids growing with time."""
        db.execute(DDL)
        for day in self.days:
            self.insert_day(db, day, self.rows_per_day)
        self.snapshot(db)

    def insert_day(self, db: Sql, day: dt.date, count: int, offset_s: int = 0) -> None:
        """``count`` rows spread over ``day`` (server-side, deterministic values)."""
        blocks = max(1, -(-self.payload_bytes // 64))
        payload = (
            "UNHEX(CONCAT(" + ", ".join(f"SHA2(seq * 97 + {b}, 512)" for b in range(blocks)) + "))"
        )
        if self.payload_bytes == 0:
            payload = "NULL"
        db.execute(
            f"INSERT INTO `{TABLE}` (created_at, account_id, amount, note, payload, ratio, "
            "f, bits, doc, big) "
            f"SELECT TIMESTAMP(%s) + INTERVAL ({offset_s} * 1000000 + seq * (86400000000 - "
            f"{offset_s} * 1000000) DIV (%s + 1)) MICROSECOND, seq %% 97, "
            f"{_pick(_AMOUNTS)}, {_pick(_NOTES)}, IF(seq %% 11 = 0, NULL, {payload}), "
            f"{_pick(_RATIOS)}, {_pick(_FLOATS)}, {_case(_BITS)}, {_pick(_DOCS)}, {_pick(_BIGS)} "
            f"FROM seq_1_to_{int(count)}",
            (day.isoformat(), count),
        )

    def snapshot(self, db: Sql) -> None:
        """Record the current version of every row in the table (call after each write)."""
        for key, created, digest in db.execute(
            f"SELECT id, created_at, {ROW_HASH_SQL} FROM `{TABLE}`"
        ):
            h = _text(digest)
            self.versions.setdefault(int(key), set()).add(h)
            self.latest[int(key)] = h
            self.day_of[int(key)] = created.date() if hasattr(created, "date") else created

    @property
    def keys(self) -> set[int]:
        return set(self.latest)


def _pick(options: tuple[str, ...]) -> str:
    return "ELT(1 + seq %% {}, {})".format(len(options), ", ".join(options))


def _case(options: tuple[str, ...]) -> str:
    """Like ``_pick`` but keeps a numeric type (ELT returns strings: a BIT column takes bytes)."""
    whens = " ".join(f"WHEN {i} THEN {o}" for i, o in enumerate(options))
    return f"CASE seq %% {len(options)} {whens} END"


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


# -- reading the archive independently ------------------------------------------------------------

_FIELD = re.compile(rb'"((?:[^"]|"")*)"([,\n])|\\N([,\n])', re.S)


def parse_csv(data: bytes) -> Iterator[list[bytes | None]]:
    """Rows of the archive's CSV dialect; raises ValueError on anything malformed."""
    pos, row, end = 0, [], len(data)
    while pos < end:
        m = _FIELD.match(data, pos)
        if m is None:
            raise ValueError(f"malformed CSV at byte {pos}")
        if m.group(1) is not None:
            row.append(m.group(1).replace(b'""', b'"'))
            sep = m.group(2)
        else:
            row.append(None)
            sep = m.group(3)
        pos = m.end()
        if sep == b"\n":
            yield row
            row = []
    if row:
        raise ValueError("CSV ends inside a row")


def row_hash(values: list[bytes | None]) -> str:
    """SHA-256 hex of the row's netstring fields (NULL is ``-1:``)."""
    net = b"".join(b"-1:" if v is None else b"%d:%b" % (len(v), v) for v in values)
    return hashlib.sha256(net).hexdigest()


def fold(hashes: list[str]) -> dict[str, str | int]:
    """The set digest of rows (count, XOR of lane 1, XOR of lane 2, SUM of lane 1)."""
    x1 = x2 = s1 = 0
    for h in hashes:
        a, b = int(h[:16], 16), int(h[16:32], 16)
        x1, x2, s1 = x1 ^ a, x2 ^ b, s1 + a
    return {"rows": len(hashes), "x1": str(x1), "x2": str(x2), "s1": str(s1)}


def decompress(key: str, data: bytes) -> bytes:
    if key.endswith(".gz"):
        return gzip.decompress(data)
    if key.endswith(".zst"):
        return zstandard.ZstdDecompressor().decompressobj().decompress(data)
    return data


class Bucket(Protocol):
    """The raw view of a destination: keys with bytes, and unfinished writes."""

    def keys(self, prefix: str) -> list[str]: ...

    def read(self, key: str) -> bytes: ...

    def unfinished(self) -> int: ...


@dataclass
class S3View:
    """A bucket and prefix read with a plain boto3 client (not dbarchive's storage)."""

    client: Any
    bucket: str
    prefix: str = ""

    def keys(self, prefix: str) -> list[str]:
        out = []
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self.prefix + prefix
        )
        for page in pages:
            out += [o["Key"][len(self.prefix) :] for o in page.get("Contents", [])]
        return out

    def read(self, key: str) -> bytes:
        body: bytes = self.client.get_object(Bucket=self.bucket, Key=self.prefix + key)[
            "Body"
        ].read()
        return body

    def unfinished(self) -> int:
        uploads = self.client.list_multipart_uploads(Bucket=self.bucket).get("Uploads", [])
        return len(uploads)

    def listing(self) -> list[tuple[str, int, str]]:
        """(key, size, ETag) of every object: equal listings mean the bucket did not change."""
        out = []
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket):
            out += [(o["Key"], o["Size"], o["ETag"]) for o in page.get("Contents", [])]
        return sorted(out)


@dataclass
class DirView:
    """A local destination folder."""

    root: Path

    def keys(self, prefix: str) -> list[str]:
        if not self.root.exists():
            return []
        found = (p.relative_to(self.root).as_posix() for p in self.root.rglob("*") if p.is_file())
        return sorted(k for k in found if k.startswith(prefix))

    def read(self, key: str) -> bytes:
        return (self.root / key).read_bytes()

    def unfinished(self) -> int:
        return sum(1 for k in self.keys("") if ".dbarchive-tmp-" in k)


# -- the verdict ----------------------------------------------------------------------------------


@dataclass
class Verdict:
    """The oracle's counts for one scenario, plus what the scenario itself reports."""

    scenario: str
    injections: int = 0
    lost: int = 0
    duplicated: int = 0
    unexpected: int = 0
    deleted_unverified: int = 0
    orphans: int = 0
    uploads: int = 0
    ledger: int = 0
    retries: int = 0
    exit: str = ""
    details: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def clean(self) -> bool:
        return not (
            self.lost
            or self.duplicated
            or self.unexpected
            or self.deleted_unverified
            or self.orphans
            or self.uploads
            or self.ledger
        )

    def line(self) -> str:
        """``scenario | injections | lost | duplicated | unexpected | deleted_unverified |
        orphans | retries | exit`` (orphans counts unfinished uploads too)."""
        cells = [
            self.scenario,
            self.injections,
            self.lost,
            self.duplicated,
            self.unexpected,
            self.deleted_unverified,
            self.orphans + self.uploads,
            self.retries,
            self.exit,
        ]
        return " | ".join(str(c) for c in cells)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["details"] = self.details[:20]
        return data


@dataclass
class Archive:
    """What the oracle read from the destination."""

    rows: Counter[tuple[int, int]]  # (key, generation) -> times it appears in committed files
    hashes: dict[int, set[str]]
    newest: dict[int, tuple[int, str]]  # key -> (generation, hash) of its newest archived row
    verified_days: set[dt.date]
    referenced: set[str]
    problems: list[str]


def read_archive(view: Bucket, table_dir: str = TABLE) -> Archive:
    """A and the verified days, from every committed manifest under ``table_dir/``."""
    rows: Counter[tuple[int, int]] = Counter()
    hashes: dict[int, set[str]] = {}
    newest: dict[int, tuple[int, str]] = {}
    verified: set[dt.date] = set()
    referenced: set[str] = set()
    problems: list[str] = []
    for key in view.keys(table_dir + "/"):
        if not key.endswith("/_manifest.json"):
            continue
        referenced.add(key)
        manifest = json.loads(view.read(key))
        day = dt.date.fromisoformat(manifest["day"])
        day_ok, day_hashes = True, []
        for entry in manifest["files"]:
            referenced.add(entry["key"])
            ok, file_hashes = _read_file(view, entry, problems)
            day_ok = day_ok and ok
            day_hashes += file_hashes
            generation = file_generation(entry["key"])
            for row_key, h in file_hashes:
                rows[(row_key, generation)] += 1
                hashes.setdefault(row_key, set()).add(h)
                before = newest.get(row_key, (-1, ""))
                if before[0] < generation:
                    if before[1] == h:  # a newer generation holding the very same row again
                        rows[(row_key, -generation)] += 2
                    newest[row_key] = (generation, h)
        if fold([h for _, h in day_hashes]) != _digest(manifest["digest"]):
            day_ok = False
            problems.append(f"{key}: files do not add up to the manifest digest")
        if day_ok:
            verified.add(day)
    return Archive(rows, hashes, newest, verified, referenced, problems)


_GENERATION = re.compile(r"/(?:_staged-)?part-g(\d{4,})-")


def file_generation(key: str) -> int:
    """The generation in a data file's name (docs/design/publication.md); 0 for older names."""
    m = _GENERATION.search(key)
    return int(m.group(1)) if m else 0


def is_claim(key: str) -> bool:
    """A generation's create-only manifest (``_manifest-gGGGG.json``): its claim, kept as history."""
    return re.search(r"/_manifest-g\d{4,}\.json$", key) is not None


def _digest(d: dict[str, Any]) -> dict[str, str | int]:
    return {"rows": int(d["rows"]), "x1": str(d["x1"]), "x2": str(d["x2"]), "s1": str(d["s1"])}


def _read_file(
    view: Bucket, entry: dict[str, Any], problems: list[str]
) -> tuple[bool, list[tuple[int, str]]]:
    """(checks out, [(key, row hash)]) of one listed file; a damaged file still yields rows."""
    try:
        raw = view.read(entry["key"])
    except Exception as exc:  # a missing object is a finding, not a crash of the oracle
        problems.append(f"{entry['key']}: unreadable ({type(exc).__name__})")
        return False, []
    ok = len(raw) == entry["bytes"] and hashlib.sha256(raw).hexdigest() == entry["sha256"]
    if not ok:
        problems.append(f"{entry['key']}: size or SHA-256 differs from the manifest")
    try:
        parsed = list(parse_csv(decompress(entry["key"], raw)))
    except Exception as exc:
        problems.append(f"{entry['key']}: cannot be read back ({exc})")
        return False, []
    header, data = parsed[:1], parsed[1:]
    if header != [[c.encode() for c in COLUMNS]]:
        problems.append(f"{entry['key']}: unexpected header {header[:1]}")
        ok = False
    pairs = [(int(r[0] or b"-1"), row_hash(r)) for r in data]
    if fold([h for _, h in pairs]) != _digest(entry["digest"]):
        problems.append(f"{entry['key']}: rows do not match the file's manifest digest")
        ok = False
    return ok, pairs


def table_rows(db: Sql) -> dict[int, str]:
    """D: key -> current row hash of every row still in the table."""
    return {int(k): _text(h) for k, h in db.execute(f"SELECT id, {ROW_HASH_SQL} FROM `{TABLE}`")}


def check(
    scenario: str, seed: Seed, db: Sql, view: Bucket, ledger: bool = False, **report: Any
) -> Verdict:
    """Compare S with A + D and the destination's leftovers (and, with ``ledger``, the deletion
    ledger with the rows gone from D); see the module docstring."""
    verdict = Verdict(scenario, **report)
    archive = read_archive(view)
    in_db = table_rows(db)
    verdict.details += archive.problems
    for key, latest in seed.latest.items():
        if key not in in_db and archive.newest.get(key, (0, ""))[1] != latest:
            verdict.lost += 1
            _note(verdict, f"lost: key {key}")
        if key not in in_db and seed.day_of[key] not in archive.verified_days:
            verdict.deleted_unverified += 1
            _note(verdict, f"deleted unverified: key {key} of {seed.day_of[key]}")
        if key in in_db and in_db[key] != latest:
            verdict.unexpected += 1
            _note(verdict, f"changed in the table: key {key}")
    for (key, generation), count in archive.rows.items():
        if count > 1:
            verdict.duplicated += 1
            _note(verdict, f"duplicated: key {key} x{count} in generation {generation}")
    for key, found in archive.hashes.items():
        verdict.unexpected += len(found - seed.versions.get(key, set()))
    for key in in_db.keys() - seed.keys:
        verdict.unexpected += 1
        _note(verdict, f"unknown key in the table: {key}")
    leftovers = [
        k
        for k in view.keys(TABLE + "/")
        if k not in archive.referenced
        and not k.endswith("/_purge.json")
        and not k.endswith(f"/{BACKLOG}")
        and not k.endswith(f"/{FOLDER_CLAIM}")
        and f"/{LEDGER}/" not in k
        and not is_claim(k)
        and ".dbarchive-tmp-" not in k
    ]
    verdict.orphans = len(leftovers)
    verdict.details += [f"orphan: {k}" for k in leftovers[:5]]
    verdict.uploads = view.unfinished()
    if ledger:
        _check_ledger(verdict, seed, set(in_db), view)
    return verdict


def _note(verdict: Verdict, text: str) -> None:
    if len(verdict.details) < 20:
        verdict.details.append(text)


# -- "identical to a clean run" -------------------------------------------------------------------


def archive_signature(view: Bucket) -> dict[str, Any]:
    """Data files by SHA-256 and manifests without run times or schema: equal for equal archives.

    Byte-identical *content*: a generation number in a name (a killed attempt that claimed one
    makes the rerun take the next) is not content, so names and manifests are read without it,
    and the claims (history, and the folder's, which names the schema) are left out."""
    out: dict[str, Any] = {}
    for key in view.keys(TABLE + "/"):
        if key.endswith("/_manifest.json"):
            m = json.loads(view.read(key))
            for name in ("started_at", "finished_at", "tool_version", "schema", "generation"):
                m.pop(name, None)
            out[_without_generation(key)] = json.loads(_without_generation(json.dumps(m)))
        elif not (
            key.endswith(("/_purge.json", f"/{BACKLOG}", f"/{FOLDER_CLAIM}"))
            or is_claim(key)
            or f"/{LEDGER}/" in key
        ):
            out[_without_generation(key)] = hashlib.sha256(view.read(key)).hexdigest()
    return out


def _without_generation(text: str) -> str:
    return re.sub(r"part-g\d{4,}-", "part-", text)


# -- the deletion ledger --------------------------------------------------------------------------

LEDGER = "_ledger"
BACKLOG = "_backlog.json"  # the table's backlog as the last run left it (state, not archive)
FOLDER_CLAIM = "_dbarchive_table.json"  # whose folder it is (steps/folder_claim.py), not archive
_RECORD = re.compile(r"/_ledger/(\d{4}-\d{2}-\d{2})/(\d{10})\.json$")


@dataclass
class Ledger:
    """What the oracle read from the ledger: committed deletions and the records' problems."""

    deleted: Counter[int]  # key -> how many committed records delete it
    problems: list[str]


def read_ledger(view: Bucket, table_dir: str = TABLE, seed: Seed | None = None) -> Ledger:
    """Every day's chain under ``table_dir/_ledger/``: links checked, and the keys of every
    ``delete``/``drop`` record a later record resolves as committed (with ``seed``, each such
    record's digest checked against the digest of its keys' rows)."""
    days: dict[str, dict[int, bytes]] = {}
    for key in view.keys(f"{table_dir}/{LEDGER}/"):
        m = _RECORD.search(key)
        if m:
            days.setdefault(m.group(1), {})[int(m.group(2))] = view.read(key)
    deleted: Counter[int] = Counter()
    problems: list[str] = []
    for day, stored in sorted(days.items()):
        if sorted(stored) != list(range(1, len(stored) + 1)):
            problems.append(f"{day}: records {sorted(stored)} are not 1..{len(stored)}")
        for seq in sorted(stored)[1:]:
            before = stored.get(seq - 1)
            if before and json.loads(stored[seq])["prev"] != hashlib.sha256(before).hexdigest():
                problems.append(f"{day}: record {seq} does not follow record {seq - 1}")
        records = [json.loads(stored[s]) for s in sorted(stored)]
        outcome = {x["seq"]: x["outcome"] for r in records for x in r.get("resolves", [])}
        for r in records:
            if r["kind"] not in {"delete", "drop"} or outcome.get(r["seq"]) != "committed":
                continue
            keys = _ledger_keys(r["keys"])
            deleted.update(keys)
            rows = [seed.latest.get(k, "") for k in keys] if seed is not None else None
            if rows is not None and fold(rows) != _digest(r["digest"]):
                problems.append(f"{day}: record {r['seq']}'s digest is not its rows'")
    return Ledger(deleted, problems)


def _ledger_keys(keys: dict[str, Any]) -> list[int]:
    if "runs" in keys:
        return [k for low, high in keys["runs"] for k in range(int(low), int(high) + 1)]
    return [int(v[0]) for v in keys["values"]]


def _check_ledger(verdict: Verdict, seed: Seed, in_db: set[int], view: Bucket) -> None:
    found = read_ledger(view, seed=seed)
    gone = seed.keys - in_db
    wrong = [k for k in gone if found.deleted[k] != 1]
    wrong += [k for k in found.deleted if k not in gone]
    verdict.ledger = len(wrong) + len(found.problems)
    verdict.details += found.problems[:5]
    verdict.details += [
        f"ledger: key {k} gone from the table, recorded x{found.deleted[k]}"
        if k in gone
        else f"ledger: key {k} recorded as deleted, still in the table"
        for k in sorted(wrong)[:5]
    ]
