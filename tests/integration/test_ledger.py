"""The deletion ledger and ``dbarchive audit`` against the real MariaDB and a real destination.

Every purged row has exactly one committed record; the audit passes on an untouched ledger and
exits 5, naming the break, when a record is changed, removed or reordered, when an archive file a
record relies on changes, or when a deleted key is back in the table without a restore.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from dbarchive.cli import cli
from dbarchive.ledger.chain import DayChain
from dbarchive.ledger.records import KeySet
from dbarchive.storage.local import LocalStorage
from tests.integration.helpers import LOG_TABLE_DDL, fill_events
from tests.integration.moto_server import moto_server
from tests.integration.mysql_fixtures import MySqlSchema, mysql_schema  # noqa: F401

TODAY = dt.date(2026, 12, 15)


@pytest.fixture(autouse=True)
def _clock_on_today(monkeypatch: pytest.MonkeyPatch) -> None:
    """The clock on TODAY's morning (``--today`` may not be later than the clock's today)."""
    monkeypatch.setenv("DBARCHIVE_NOW", "2026-12-15T06:00:00+00:00")


DAYS = [dt.date(2026, 11, 1) + dt.timedelta(days=i) for i in range(3)]  # expired (30 days)
PER_DAY = 450
KEY = "k" * 40  # an HMAC key of 40 bytes
KEY_ENV = "DBAT_LEDGER_KEY"
CSV = 'compression = "none"\n'
PARQUET = 'format = "parquet"\n'


def _config(
    db: MySqlSchema, tmp_path: Path, ledger: str = "enabled = true\n", defaults: str = CSV
) -> Path:
    path = tmp_path / "job.toml"
    path.write_text(
        f'[source]\nurl = "{db.url}"\n\n[destination]\nurl = "{tmp_path / "archive"}"\n\n'
        f'[defaults]\nretention = "30 days"\n{defaults}\n'
        "[throttle]\nmax_chunk_rows = 100\nmin_chunk_rows = 100\n\n"
        f"[ledger]\n{ledger}\n"
        '[[tables]]\nname = "events"\ntimestamp_column = "created_at"\n'
    )
    return path


def _invoke(config: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, [*args, "-c", str(config)], catch_exceptions=False)


def _log_deletes(db: MySqlSchema) -> None:
    """A trigger logs each deleted key in the deleting transaction (a rollback leaves nothing)."""
    db.execute("CREATE TABLE deleted_log (id BIGINT NOT NULL)")
    db.execute(
        "CREATE TRIGGER log_delete AFTER DELETE ON events FOR EACH ROW "
        "INSERT INTO deleted_log VALUES (OLD.id)"
    )


def _prepared(
    db: MySqlSchema, tmp_path: Path, ledger: str = "enabled = true\n", defaults: str = CSV
) -> Path:
    """Three expired days of PER_DAY rows, archived; deletions logged."""
    db.execute(LOG_TABLE_DDL)
    for day in DAYS:
        fill_events(db, day.isoformat(), PER_DAY)
    _log_deletes(db)
    config = _config(db, tmp_path, ledger, defaults)
    result = _invoke(config, "export", "--from", DAYS[0].isoformat(), "--to", DAYS[-1].isoformat())
    assert result.exit_code == 0, result.output
    return config


def _purge(config: Path) -> None:
    result = _invoke(config, "purge", "--today", TODAY.isoformat(), "-q")
    assert result.exit_code == 0, result.output


def _ledger(tmp_path: Path, day: dt.date) -> list[Path]:
    return sorted((tmp_path / "archive" / "events" / "_ledger" / day.isoformat()).glob("*.json"))


def _records(tmp_path: Path) -> list[dict[str, Any]]:
    return [json.loads(p.read_bytes()) for day in DAYS for p in _ledger(tmp_path, day)]


def _keys(record: dict[str, Any]) -> list[int]:
    """A record's keys, decoded as the README describes them (runs of integers)."""
    return [k for low, high in record["keys"]["runs"] for k in range(int(low), int(high) + 1)]


def _committed_keys(records: list[dict[str, Any]]) -> Counter[int]:
    """Keys of every intent some record resolves as committed, once per such intent."""
    outcome = {
        (r["day"], res["seq"]): res["outcome"] for r in records for res in r.get("resolves", [])
    }
    found: Counter[int] = Counter()
    for r in records:
        if r["kind"] in {"delete", "drop"} and outcome.get((r["day"], r["seq"])) == "committed":
            found.update(_keys(r))
    return found


def _deleted(db: MySqlSchema) -> Counter[int]:
    return Counter(int(k) for (k,) in db.execute("SELECT id FROM deleted_log"))


def _audit(config: Path, *args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner(env=env).invoke(
        cli, ["audit", "-t", "events", "--json", *args, "-c", str(config)], catch_exceptions=False
    )


@pytest.mark.parametrize("defaults", [CSV, PARQUET], ids=["csv", "parquet"])
def test_every_deleted_row_has_one_committed_record_and_the_audit_passes(
    mysql_schema: MySqlSchema, tmp_path: Path, defaults: str
) -> None:
    """A purge in chunks of 100: the committed records hold exactly the deleted keys, each once,
    chained per day; the audit (chain, archive files by digest, database) says OK (exit 0)."""
    config = _prepared(mysql_schema, tmp_path, defaults=defaults)
    _purge(config)
    records = _records(tmp_path)
    assert _committed_keys(records) == _deleted(mysql_schema)
    assert sum(_deleted(mysql_schema).values()) == len(DAYS) * PER_DAY
    first = records[0]
    assert first["mysql"]["user"] and first["mysql"]["server"] and first["tool"]
    assert first["files"] and first["digest"]["rows"] == 100
    assert first["files"][0]["key"].endswith(".parquet" if defaults == PARQUET else ".csv")
    assert all(len(_ledger(tmp_path, day)) == 6 for day in DAYS)  # 5 intents + a closing record
    result = _audit(config)
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["ok"] and report["rows_deleted"] == len(DAYS) * PER_DAY
    assert [d["records"] for d in report["days"]] == [6, 6, 6]
    assert not list((tmp_path / "archive" / "events" / "_ledger").glob("_open/*"))  # all resolved


def test_records_say_when_deletions_happened_in_real_time_under_a_fixed_clock(
    mysql_schema: MySqlSchema, tmp_path: Path
) -> None:
    """The job's clock is fixed at 2026-12-15 06:00 (DBARCHIVE_NOW): which days expire comes
    from it, but a ledger record's time is when the deletion happened (an outside re-test saw
    the fixed time in an audit trail)."""
    config = _prepared(mysql_schema, tmp_path)
    started = dt.datetime.now(dt.UTC).replace(microsecond=0)
    _purge(config)
    ended = dt.datetime.now(dt.UTC)
    times = [dt.datetime.fromisoformat(r["at"]) for r in _records(tmp_path)]
    assert times and all(started <= t <= ended for t in times), sorted(set(times))


def test_no_ledger_unless_it_is_enabled(mysql_schema: MySqlSchema, tmp_path: Path) -> None:
    """Off by default: a purge writes no ledger object."""
    config = _prepared(mysql_schema, tmp_path, ledger="")
    _purge(config)
    assert not (tmp_path / "archive" / "events" / "_ledger").exists()


def _purged(db: MySqlSchema, tmp_path: Path, ledger: str = "enabled = true\n") -> Path:
    config = _prepared(db, tmp_path, ledger)
    _purge(config)
    return config


def _breaks(result: Result) -> list[str]:
    assert result.exit_code == 5, result.output
    report = json.loads(result.output)
    assert not report["ok"]
    return list(report["breaks"])


def test_a_changed_record_breaks_the_chain(mysql_schema: MySqlSchema, tmp_path: Path) -> None:
    """One record's row count edited in place → audit exits 5: the next record no longer
    follows it, and its rows no longer add up to what its archive files hold."""
    config = _purged(mysql_schema, tmp_path)
    path = _ledger(tmp_path, DAYS[1])[2]
    path.write_bytes(path.read_bytes().replace(b'"rows":100', b'"rows":99'))
    found = _breaks(_audit(config, "--no-source"))
    assert len(found) == 2, found
    assert found[0].startswith(f"events {DAYS[1]}: record 4 does not follow record 3")
    assert found[1].startswith(f"events {DAYS[1]}: record 3 deletes rows the archive files it")


def test_a_removed_record_is_missing(mysql_schema: MySqlSchema, tmp_path: Path) -> None:
    """A record deleted from the middle of a chain, and the last one of another → both named."""
    config = _purged(mysql_schema, tmp_path)
    _ledger(tmp_path, DAYS[0])[1].unlink()
    _ledger(tmp_path, DAYS[2])[-1].unlink()
    found = _breaks(_audit(config, "--no-source"))
    assert f"events {DAYS[0]}: records 2..2 are missing (the chain jumps to 3): removed" in found
    assert any(
        b.startswith(f"events {DAYS[2]}: the day's purge record names record 6 as the chain's head")
        and b.endswith("records were removed")
        for b in found
    ), found


def test_a_day_whose_chain_was_removed_whole_is_a_break(
    mysql_schema: MySqlSchema, tmp_path: Path
) -> None:
    """A whole day's chain removed, then the whole ledger folder: the audit looked only at the
    days that had a chain and said OK (an outside trial). Every day whose purge record names a
    ledger head must have it: each such day is a break, also when audited alone."""
    config = _purged(mysql_schema, tmp_path)
    shutil.rmtree(tmp_path / "archive" / "events" / "_ledger" / DAYS[1].isoformat())
    found = _breaks(_audit(config, "--no-source"))
    assert found == [
        f"events {DAYS[1]}: the day's purge record names record 6 as the chain's head"
        f" ({found[0].split('(')[1].split(')')[0]}), and the chain does not hold it: records "
        "were removed"
    ]
    day = DAYS[1].isoformat()
    assert len(_breaks(_audit(config, "--no-source", "--from", day, "--to", day))) == 1
    shutil.rmtree(tmp_path / "archive" / "events" / "_ledger")
    assert len(_breaks(_audit(config, "--no-source"))) == len(DAYS)


def test_reordered_records_are_named(mysql_schema: MySqlSchema, tmp_path: Path) -> None:
    """Two records swapped → each is at the other's number, and the links break."""
    config = _purged(mysql_schema, tmp_path)
    second, third = _ledger(tmp_path, DAYS[0])[1:3]
    a, b = second.read_bytes(), third.read_bytes()
    second.write_bytes(b)
    third.write_bytes(a)
    found = _breaks(_audit(config, "--no-source"))
    assert any(
        "0000000002.json holds record 3: records were moved or reordered" in x for x in found
    )
    assert f"events {DAYS[0]}: record 4 does not follow record 3" in " ".join(found)


def test_a_changed_archive_file_is_named(mysql_schema: MySqlSchema, tmp_path: Path) -> None:
    """An archive file a record relies on changed after the purge → every record of that file
    is named, with the file."""
    config = _purged(mysql_schema, tmp_path)
    (part,) = (tmp_path / "archive" / "events").glob(f"year=*/month=*/day={DAYS[2].day:02d}/part-*")
    part.write_bytes(part.read_bytes().replace(b'"row 7"', b'"row X"'))
    found = _breaks(_audit(config, "--no-source"))
    assert len(found) == 5  # the day's five deletion records
    assert all(f"relies on events/{part.relative_to(tmp_path / 'archive' / 'events')}" in b
               for b in found)  # fmt: skip
    assert all("SHA-256" in b and "differs from the record's" in b for b in found)
    shown = _invoke(config, "audit", "-t", "events")  # for a person: a line per day, the breaks
    assert shown.exit_code == 5
    assert f"result=BROKEN day={DAYS[2]} records=6 rows_deleted={PER_DAY}" in shown.stdout
    assert f"BREAK events {DAYS[2]}: record 1 relies on events/" in shown.stdout
    assert shown.stdout.rstrip().endswith("5 break(s)")


def test_a_deleted_key_back_without_a_restore_is_a_break(
    mysql_schema: MySqlSchema, tmp_path: Path
) -> None:
    """A deleted row inserted again by hand → audit names its record and key; the archive-only
    audit (--no-source) does not look."""
    config = _purged(mysql_schema, tmp_path)
    first_id = min(_deleted(mysql_schema))
    mysql_schema.execute(
        "INSERT INTO events (id, created_at, account_id) VALUES (%s, '2026-11-01 00:00:01', 1)",
        (first_id,),
    )
    (found,) = _breaks(_audit(config))
    assert found == (
        f"events {DAYS[0]}: record 1: 1 of its 100 deleted keys are in the table again "
        f"({first_id}) and no restore explains it"
    )
    assert _audit(config, "--no-source").exit_code == 0


def test_a_restore_is_recorded_and_explains_the_keys_back(
    mysql_schema: MySqlSchema, tmp_path: Path
) -> None:
    """A restore into the table is a ledger event: the keys back are reported as restored (not a
    break); purged again, the day's new deletions are recorded once more and the audit passes."""
    config = _purged(mysql_schema, tmp_path)
    result = _invoke(config, "restore", "-t", "events", "--date", DAYS[1].isoformat())
    assert result.exit_code == 0, result.output
    restore = json.loads(_ledger(tmp_path, DAYS[1])[-1].read_bytes())
    assert (restore["kind"], restore["open"]) == ("resolve", [])
    assert restore["resolves"][0]["written"] == PER_DAY
    report = json.loads(_audit(config).output)
    assert report["ok"], report["breaks"]
    assert report["days"][1]["restores"] == 1
    assert report["days"][1]["restored_keys"] == PER_DAY
    _purge(config)
    report = json.loads(_audit(config).output)
    assert report["ok"], report["breaks"]
    assert report["days"][1]["restored_keys"] == 0
    assert report["rows_deleted"] == (len(DAYS) + 1) * PER_DAY


def test_a_chain_rewritten_without_the_key_fails_the_signed_audit(
    mysql_schema: MySqlSchema, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With hmac_key_env, records are signed: a record rewritten by someone without the key (its
    successors' links and the purge record's head fixed up, so the chain itself holds) fails the
    audit with the key; the same audit without the key
    variable is refused (exit 2)."""
    monkeypatch.setenv(KEY_ENV, KEY)
    config = _purged(mysql_schema, tmp_path, f'enabled = true\nhmac_key_env = "{KEY_ENV}"\n')
    assert _audit(config).exit_code == 0
    paths = _ledger(tmp_path, DAYS[0])
    first = json.loads(paths[0].read_bytes())
    assert first["sig"]["alg"] == "hmac-sha256" and len(first["sig"]["mac"]) == 64
    head = _rewrite_chain(paths, lambda body: body.update(rows=99) if body["seq"] == 1 else None)
    marker = tmp_path / "archive" / "events" / "year=2026" / "month=11" / "day=01" / "_purge.json"
    purge = json.loads(marker.read_bytes())
    marker.write_text(json.dumps({**purge, "ledger_head": {"seq": 6, "sha256": head}}))
    found = _breaks(_audit(config, "--no-source"))
    # Record 1 changed; the later ones had their prev changed to keep the links: none verifies.
    assert found == [f"events {DAYS[0]}: record {n} has a signature that does not match its "
                     "content (changed without the key)" for n in range(1, 7)]  # fmt: skip
    monkeypatch.delenv(KEY_ENV)
    assert _audit(config).exit_code == 2


@pytest.fixture
def kms_endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """moto's KMS server on 127.0.0.1: a real HTTP endpoint, reached through boto3 exactly as AWS
    KMS is (``AWS_ENDPOINT_URL_KMS``), so GenerateMac/VerifyMac go over the wire."""
    with moto_server() as url:
        for name, value in {"AWS_ENDPOINT_URL_KMS": url, "AWS_ACCESS_KEY_ID": "testing",
                            "AWS_SECRET_ACCESS_KEY": "testing",
                            "AWS_DEFAULT_REGION": "us-east-1"}.items():  # fmt: skip
            monkeypatch.setenv(name, value)
        yield url


def _hmac_key(kms: Any) -> str:
    answer = kms.create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")
    return str(answer["KeyMetadata"]["KeyId"])


def test_records_signed_by_a_kms_key_audit_and_a_rewrite_without_it_fails(
    mysql_schema: MySqlSchema, tmp_path: Path, kms_endpoint: str
) -> None:
    """With kms_key_id every record carries a MAC made by KMS (GenerateMac): the audit verifies
    it (VerifyMac) and passes; an audit configured with another KMS key trusts none of the
    untouched records; a chain rewritten without the key fails VerifyMac record by record."""
    import boto3

    kms = boto3.client("kms")
    key = _hmac_key(kms)
    config = _purged(mysql_schema, tmp_path, f'enabled = true\nkms_key_id = "{key}"\n')
    assert _audit(config).exit_code == 0
    paths = _ledger(tmp_path, DAYS[1])
    first = json.loads(paths[0].read_bytes())
    assert first["sig"]["alg"] == "kms-hmac-sha256" and first["sig"]["key"] == key
    other = config.with_name("other.toml")
    other.write_text(config.read_text().replace(key, _hmac_key(kms)))
    assert all("is signed by another key" in b for b in _breaks(_audit(other, "--no-source")))
    head = _rewrite_chain(paths, lambda body: body.update(rows=99) if body["seq"] == 1 else None)
    marker = tmp_path / "archive" / "events" / "year=2026" / "month=11" / "day=02" / "_purge.json"
    purge = json.loads(marker.read_bytes())
    marker.write_text(json.dumps({**purge, "ledger_head": {"seq": len(paths), "sha256": head}}))
    found = _breaks(_audit(config, "--no-source"))
    assert found == [f"events {DAYS[1]}: record {n} has a signature that does not match its "
                     "content (changed without the key)" for n in range(1, len(paths) + 1)]  # fmt: skip


def _rewrite_chain(paths: list[Path], change: Any) -> str:
    """Change records and fix every later ``prev`` (what an attacker without the key can do);
    returns the new head's SHA-256."""
    prev = ""
    for path in paths:
        body = json.loads(path.read_bytes())
        change(body)
        if prev:
            body["prev"] = prev
        data = json.dumps(body, sort_keys=True, separators=(",", ":")).encode() + b"\n"
        path.write_bytes(data)
        prev = hashlib.sha256(data).hexdigest()
    return prev


def _cli_run(config: Path, *args: str, failpoint: str | None = None) -> int:
    env = {k: v for k, v in os.environ.items() if k != "DBARCHIVE_FAILPOINT"}
    if failpoint:
        env["DBARCHIVE_FAILPOINT"] = failpoint
    proc = subprocess.run(
        [sys.executable, "-m", "dbarchive", *args, "-c", str(config)],
        env=env, capture_output=True, timeout=180, check=False,
    )  # fmt: skip
    return proc.returncode


@pytest.mark.parametrize(
    "point",
    ["purge.chunk-locked:2", "purge.before-commit:2", "purge.after-commit:2",
     "purge.after-commit:5", "purge.before-record:1"],
)  # fmt: skip
def test_a_killed_purge_leaves_no_committed_chunk_unrecorded(
    mysql_schema: MySqlSchema, tmp_path: Path, point: str
) -> None:
    """SIGKILL mid-purge: an intent stored before the COMMIT; the rerun resolves it from the
    database (void if rolled back, committed if not) and goes on; the ledger then holds each
    deleted key exactly once, and the audit passes."""
    config = _prepared(mysql_schema, tmp_path)
    args = ("purge", "--today", TODAY.isoformat(), "-q")
    assert _cli_run(config, *args, failpoint=point) == -signal.SIGKILL
    killed = _records(tmp_path)
    # The killed chunk's intent (or the one before it) is open; at before-record none is.
    assert bool(killed[-1]["open"]) == (not point.startswith("purge.before-record"))
    assert _cli_run(config, *args) == 0
    records = _records(tmp_path)
    assert _committed_keys(records) == _deleted(mysql_schema)
    outcomes = [res["outcome"] for r in records for res in r.get("resolves", [])]
    if point.startswith("purge.before-commit"):
        assert "void" in outcomes
    report = json.loads(_audit(config).output)
    assert report["ok"], report["breaks"]
    assert all(not d["open"] for d in report["days"])


PARTITIONED = """
CREATE TABLE events (
  id BIGINT NOT NULL AUTO_INCREMENT, created_at DATETIME(6) NOT NULL, account_id INT NOT NULL,
  amount DECIMAL(18,4) NULL, note TEXT NULL, PRIMARY KEY (id, created_at),
  KEY idx_created (created_at)
) PARTITION BY RANGE COLUMNS (created_at) (
  PARTITION p202610 VALUES LESS THAN ('2026-11-01'), PARTITION p202611 VALUES LESS THAN ('2026-11-04'),
  PARTITION pmax VALUES LESS THAN (MAXVALUE))"""


@pytest.mark.parametrize(
    "killed",
    [None, "purge.after-exchange", "ledger.record-stored:2", "ledger.record-stored:4"],
)
def test_a_partition_drop_is_recorded_day_by_day(
    mysql_schema: MySqlSchema, tmp_path: Path, killed: str | None
) -> None:
    """A dropped partition's rows are recorded as ``drop`` intents per day (read from the exchange
    clone, composite keys listed), committed once the clone is dropped. Killed after the
    exchange, or with day 2's intent stored and the clone not dropped (its intents are voided:
    the rows are still in the clone), or with the clone dropped and only day 1 resolved (the
    others are committed from the database), the rerun records each row once. Audit passes."""
    mysql_schema.execute(PARTITIONED)
    for day in DAYS:
        fill_events(mysql_schema, day.isoformat(), PER_DAY)
    config = _config(mysql_schema, tmp_path)
    days = ("--from", DAYS[0].isoformat(), "--to", DAYS[-1].isoformat())
    assert _invoke(config, "export", *days).exit_code == 0
    ids = Counter(int(k) for (k,) in mysql_schema.execute("SELECT id FROM events"))
    args = ("purge", "--today", TODAY.isoformat(), "-q")
    if killed:
        assert _cli_run(config, *args, failpoint=killed) == -signal.SIGKILL
    assert _cli_run(config, *args) == 0
    assert mysql_schema.execute("SELECT COUNT(*) FROM events")[0][0] == 0
    records = _records(tmp_path)
    drops = [r for r in records if r["kind"] == "drop"]
    assert drops and all(r["keys"]["columns"] == ["id", "created_at"] for r in drops)
    outcome = {(r["day"], x["seq"]): x["outcome"] for r in records for x in r.get("resolves", [])}
    committed: Counter[int] = Counter()
    for r in drops:
        if outcome[(r["day"], r["seq"])] == "committed":
            committed.update(int(k[0]) for k in r["keys"]["values"])
    assert committed == ids
    hows = " | ".join(x["how"] for r in records for x in r.get("resolves", []))
    if killed == "ledger.record-stored:2":
        assert "every key is still in the database: rolled back" in hows
    if killed == "ledger.record-stored:4":
        assert "its keys are gone from the database: committed" in hows
    report = json.loads(_audit(config).output)
    assert report["ok"], report["breaks"]
    assert report["rows_deleted"] == len(DAYS) * PER_DAY


def test_an_open_intent_whose_keys_a_later_chunk_deleted_is_void(
    mysql_schema: MySqlSchema, tmp_path: Path
) -> None:
    """Two runs on one day (a retried Airflow task beside its zombie): while a purge holds its
    first chunk's rows (stopped there), the zombie stores an intent for those very keys and dies
    uncommitted. The purge goes on and deletes them under its own intent; the zombie's stays
    open. The next run voids it — a later intent deleted its keys, so it cannot have committed —
    instead of counting those rows twice."""
    config = _prepared(mysql_schema, tmp_path)
    env = {**os.environ, "DBARCHIVE_FAILPOINT": "purge.chunk-locked:1:stop"}
    args = ("purge", "--today", TODAY.isoformat(), "-q")
    proc = subprocess.Popen(
        [sys.executable, "-m", "dbarchive", *args, "-c", str(config)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        _, status = os.waitpid(proc.pid, os.WUNTRACED)
        assert os.WIFSTOPPED(status)  # its first chunk (ids 1..100) is locked
        chain = DayChain(LocalStorage(str(tmp_path / "archive")), "events", mysql_schema.name,
                         "events", DAYS[0])  # fmt: skip
        zombie = KeySet.of(("id",), True, [(str(k),) for k in range(1, 101)])
        chain.append(lambda tail: {"kind": "delete", "rows": 100, "keys": zombie.to_json()})
    finally:
        proc.send_signal(signal.SIGCONT)
    assert proc.wait(timeout=120) == 0
    tail = json.loads(_ledger(tmp_path, DAYS[0])[-1].read_bytes())
    assert tail["open"] == [1]  # the zombie's intent, unresolved
    assert _cli_run(config, *args) == 0
    records = _records(tmp_path)
    day0 = [r for r in records if r["day"] == DAYS[0].isoformat()]
    (void,) = [x for r in day0 for x in r.get("resolves", []) if x["seq"] == 1]
    assert (void["outcome"], void["how"]) == ("void", "record 2 deleted some of these keys later")
    assert _committed_keys(records) == _deleted(mysql_schema)
    report = json.loads(_audit(config).output)
    assert report["ok"], report["breaks"]


def test_a_missing_signing_key_stops_the_purge_before_anything_changes(
    mysql_schema: MySqlSchema, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """hmac_key_env names an unset variable: the purge exits 2 naming it; no row, record or
    purge record is written."""
    monkeypatch.delenv(KEY_ENV, raising=False)
    config = _prepared(mysql_schema, tmp_path, f'enabled = true\nhmac_key_env = "{KEY_ENV}"\n')
    result = _invoke(config, "purge", "--today", TODAY.isoformat(), "-q")
    assert result.exit_code == 2, result.output
    assert f"${KEY_ENV}, which is not set" in result.stderr
    assert _deleted(mysql_schema) == Counter()
    assert not list((tmp_path / "archive").rglob("_purge.json"))
    assert not (tmp_path / "archive" / "events" / "_ledger").exists()


def test_a_day_noted_open_without_records_is_no_break_and_the_next_purge_clears_it(
    mysql_schema: MySqlSchema, tmp_path: Path
) -> None:
    """A run killed after noting a day open but before its first intent leaves a note and no
    record: the audit lists the day (0 records) without a break, and the next purge removes it."""
    config = _prepared(mysql_schema, tmp_path)
    note = tmp_path / "archive" / "events" / "_ledger" / "_open" / f"{DAYS[0]}.json"
    note.parent.mkdir(parents=True)
    note.write_text('{"day": "2026-11-01", "run": "killed"}')
    report = json.loads(_audit(config).output)
    assert report["ok"] and report["days"][0]["records"] == 0
    _purge(config)
    assert not note.exists()
    assert json.loads(_audit(config).output)["ok"]


def test_an_erasure_goes_on_past_a_day_whose_ledger_is_broken(
    mysql_schema: MySqlSchema, tmp_path: Path
) -> None:
    """Three purged days, the middle one's ledger edited: the erasure erases the first and the
    last, and names the middle one as not erased (exit 5). It stopped there and said "nothing
    was erased" though the first day's rows were gone (an outside trial)."""
    config = _purged(mysql_schema, tmp_path)
    path = _ledger(tmp_path, DAYS[1])[2]
    path.write_bytes(path.read_bytes().replace(b'"rows":100', b'"rows":99'))
    result = _invoke(
        config, "erase", "-t", "events", "--where", "account_id = 5",
        "--from", DAYS[0].isoformat(), "--to", DAYS[-1].isoformat(),
    )  # fmt: skip
    assert result.exit_code == 5, result.output
    assert f"{DAYS[1]}: NOT erased: the deletion ledger does not match" in result.output
    assert "nothing was erased" not in result.output
    for day in (DAYS[0], DAYS[-1]):
        assert f"{day}" in result.output
    manifests = [
        json.loads((tmp_path / "archive" / "events" / p).read_bytes())
        for p in (f"year=2026/month=11/day={d.day:02d}/_manifest.json" for d in DAYS)
    ]
    assert [bool(m["extra"].get("erasures")) for m in manifests] == [True, False, True]
