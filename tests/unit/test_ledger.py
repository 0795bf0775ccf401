"""The ledger's pure parts and its chain on a local folder: key sets, links, open intents, races,
signatures, and the SQL it asks the database with."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from dbarchive.config import LedgerSettings, job_from_dict
from dbarchive.errors import ConfigError, VerificationError
from dbarchive.ledger import records as r
from dbarchive.ledger.chain import DayChain, ledger_days, open_days
from dbarchive.ledger.signing import HmacSigner, sign, signature_problem, signer_for
from dbarchive.sources import mysql_ledger as q
from dbarchive.sources.canonical import Column
from dbarchive.sources.table import TableInfo
from dbarchive.storage.local import LocalStorage

DAY = dt.date(2026, 11, 2)


def test_integer_keys_become_runs_and_come_back() -> None:
    """Consecutive ids are one run (unordered and repeated input too); the JSON round trip and
    iteration give the same keys."""
    keys = KEYS = [("5",), ("3",), ("4",), ("9",), ("4",), ("10",), ("-2",)]
    ks = r.KeySet.of(("id",), True, KEYS)
    assert ks.runs == ((-2, -2), (3, 5), (9, 10))
    assert len(ks) == 6
    assert sorted(int(k[0]) for k in ks) == sorted({int(k[0]) for k in keys})
    assert r.KeySet.from_json(json.loads(json.dumps(ks.to_json()))) == ks
    assert ks.to_json()["runs"][0] == ["-2", "-2"]  # text: readers lose integers over 2**53


def test_other_keys_are_listed_and_overlap_is_found() -> None:
    """A composite key is listed (sorted, once each); overlap works within and across forms."""
    a = r.KeySet.of(("id", "ts"), False, [("2", "x"), ("1", "y"), ("2", "x")])
    assert a.values == (("1", "y"), ("2", "x")) and len(a) == 2
    assert a.overlaps(r.KeySet.of(("id", "ts"), False, [("2", "x")]))
    assert not a.overlaps(r.KeySet.of(("id", "ts"), False, [("2", "y")]))
    runs = r.KeySet.of(("id",), True, [("1",), ("2",), ("7",)])
    assert runs.overlaps(r.KeySet.of(("id",), True, [("2",)]))
    assert not runs.overlaps(r.KeySet.of(("id",), True, [("3",), ("6",)]))


def test_names_sort_by_sequence_and_map_back_to_their_day() -> None:
    key = r.record_key("events", DAY, 12)
    assert key == "events/_ledger/2026-11-02/0000000012.json"
    assert r.seq_of_key(key) == 12 and r.seq_of_key("events/_ledger/x.json") is None
    assert r.day_of_ledger_key("events", key) == DAY
    assert r.day_of_ledger_key("events", r.open_flag_key("events", DAY)) == DAY
    assert sorted([r.record_key("t", DAY, 10), r.record_key("t", DAY, 9)])[0].endswith("9.json")


def _chain(tmp_path: Path, signer: Any = None) -> DayChain:
    return DayChain(LocalStorage(str(tmp_path)), "events", "db", "events", DAY, signer)


def _intent(seq_hint: str = "") -> Any:
    return lambda tail: {"kind": "delete", "note": seq_hint}


def test_records_link_and_track_what_is_open(tmp_path: Path) -> None:
    """Record 1 follows the day's genesis, each next one the SHA-256 of the previous bytes;
    ``open`` lists unresolved intents, counting the record itself."""
    chain = _chain(tmp_path)
    one = chain.append(_intent())
    two = chain.append(lambda t: {"kind": "delete", "resolves": [_done(1)]})
    three = chain.append(lambda t: {"kind": "resolve", "resolves": [_done(2)]})
    assert one and two and three
    assert one.body["prev"] == r.genesis("db", "events", DAY)
    assert two.body["prev"] == hashlib.sha256(one.data).hexdigest() == one.sha256
    assert three.body["prev"] == two.sha256
    assert (one.open, two.open, three.open) == ({1}, {2}, frozenset())
    assert one.data == r.canonical(one.body) + b"\n"
    fresh = _chain(tmp_path)
    assert fresh.tail() == three and [s for s, _ in fresh.stored_keys()] == [1, 2, 3]
    assert ledger_days(fresh.storage, "events") == [DAY]


def _done(seq: int, outcome: str = "committed") -> dict[str, Any]:
    return {"seq": seq, "outcome": outcome, "how": "test"}


def test_a_writer_that_lost_the_race_builds_on_the_new_tail(tmp_path: Path) -> None:
    """Two writers of one day: the second's cached tail is stale, its number is taken
    (create-only), so it rebuilds on the record that won and takes the next number."""
    a, b = _chain(tmp_path), _chain(tmp_path)
    assert a.tail() is None and b.tail() is None
    seen = []

    def build(tail: r.Record | None) -> dict[str, Any]:
        seen.append(None if tail is None else tail.seq)
        return {"kind": "delete"}

    a.append(_intent("a"))
    won = b.append(build)
    assert won is not None and won.seq == 2 and won.body["prev"] == a.tail().sha256  # type: ignore[union-attr]
    assert seen == [None, 1]
    assert won.open == {1, 2}


def test_a_resolution_someone_else_stored_is_not_stored_twice(tmp_path: Path) -> None:
    """A build that finds nothing left to resolve on the new tail stores nothing."""
    a, b = _chain(tmp_path), _chain(tmp_path)
    a.append(_intent())
    b.tail()
    a.append(lambda t: {"kind": "resolve", "run": "a", "resolves": [_done(1)]})

    def build(tail: r.Record | None) -> dict[str, Any] | None:
        todo = [_done(1)] if tail is not None and 1 in tail.open else []
        return {"kind": "resolve", "run": "b", "resolves": todo} if todo else None

    assert b.append(build) is None
    assert [s for s, _ in b.stored_keys()] == [1, 2]


class _LostAnswer(LocalStorage):
    """A create-only PUT that is stored, but whose answer is lost (a retry then gets 412)."""

    def put_if_absent(self, key: str, data: bytes) -> bool:
        super().put_if_absent(key, data)
        return False


def test_a_put_whose_answer_was_lost_is_not_written_again(tmp_path: Path) -> None:
    """The stored bytes are this very record: it counts as stored, no second record appears."""
    chain = DayChain(_LostAnswer(str(tmp_path)), "events", "db", "events", DAY)
    first = chain.append(_intent())
    assert first is not None and first.seq == 1
    assert [s for s, _ in chain.stored_keys()] == [1]


def test_a_damaged_tail_stops_the_writer(tmp_path: Path) -> None:
    """A tail that is not a record (or sits at another number) is not built upon."""
    chain = _chain(tmp_path)
    chain.append(_intent())
    path = tmp_path / r.record_key("events", DAY, 1)
    path.write_bytes(b"not json")
    with pytest.raises(VerificationError, match="not a ledger record"):
        _chain(tmp_path).tail()
    body = json.loads(r.canonical({"kind": "delete", "ledger": 1, "seq": 7, "prev": "x",
                                   "open": [7], "table": "t", "schema": "s", "day": "d"}))  # fmt: skip
    path.write_bytes(r.canonical(body))
    with pytest.raises(VerificationError, match="holds record 7"):
        _chain(tmp_path).tail()


def test_open_notes_are_listed_and_cleared_when_nothing_is_open(tmp_path: Path) -> None:
    chain = _chain(tmp_path)
    chain.mark_open("run-1")
    chain.append(_intent())
    chain.clear_open()  # record 1 is open: the note stays
    assert open_days(chain.storage, "events") == [DAY]
    chain.append(lambda t: {"kind": "resolve", "resolves": [_done(1, "void")]})
    chain.clear_open()
    assert open_days(chain.storage, "events") == []


def test_signatures_cover_the_record_and_name_the_key(tmp_path: Path) -> None:
    """A signed record verifies; a changed field, another key, or no signature is named."""
    key = HmacSigner(b"a" * 32)
    body = sign({"kind": "delete", "rows": 5}, key)
    assert body["sig"]["alg"] == "hmac-sha256" and body["sig"]["key"] == key.key_id
    assert signature_problem(body, key) is None
    assert "does not match its content" in str(signature_problem({**body, "rows": 6}, key))
    assert "another key" in str(signature_problem(body, HmacSigner(b"b" * 32)))
    assert "is not signed" in str(signature_problem({"kind": "delete"}, key))
    assert signature_problem(body, None) is None  # no key configured: nothing is checked
    assert "a" * 8 not in repr(key) + key.key_id


def test_the_hmac_key_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Unset or short keys are ConfigErrors naming the variable, never the value."""
    settings = LedgerSettings(enabled=True, hmac_key_env="DBAT_KEY")
    monkeypatch.delenv("DBAT_KEY", raising=False)
    with pytest.raises(ConfigError, match=r"\$DBAT_KEY, which is not set"):
        signer_for(settings)
    monkeypatch.setenv("DBAT_KEY", "short-secret")
    with pytest.raises(ConfigError, match="at least 32") as short:
        signer_for(settings)
    assert "short-secret" not in str(short.value)
    monkeypatch.setenv("DBAT_KEY", "s" * 32)
    assert isinstance(signer_for(settings), HmacSigner)
    assert signer_for(LedgerSettings(enabled=True)) is None


def test_ledger_settings_refuse_a_key_in_place_of_its_variable() -> None:
    with pytest.raises(ValueError, match="not an environment variable name"):
        LedgerSettings(hmac_key_env="0123-my secret")
    with pytest.raises(ValueError, match="not both"):
        LedgerSettings(hmac_key_env="K", kms_key_id="alias/ledger")


def test_the_sql_quotes_names_and_locks_only_when_asked() -> None:
    """Identifiers quoted (backticks doubled), values as parameters, FOR UPDATE on request."""
    key = Column("i`d", "bigint", "bigint", False)
    ts = Column("ts", "datetime", "datetime", False)
    info = TableInfo("d`b", "t`x", (key, ts), (key,), "PRIMARY", ts, None)
    assert q.present_range_sql(info, lock=True) == (
        "SELECT `i``d` FROM `d``b`.`t``x` WHERE `i``d` >= %s AND `i``d` <= %s FOR UPDATE"
    )
    assert q.present_keys_sql(info, 2, lock=False).endswith("WHERE `i``d` IN (%s, %s)")
    pair = dataclasses.replace(info, key=(key, ts))
    assert "(`i``d`, `ts`) IN ((%s, %s), (%s, %s))" in q.present_keys_sql(pair, 2, lock=False)


def test_a_bad_ledger_setting_is_a_config_error_naming_it() -> None:
    """In a config file the error names the section and field; the ledger is off by default."""
    base = {"destination": {"url": "/tmp/x"}, "tables": [{"name": "t", "timestamp_column": "ts"}]}
    assert job_from_dict(base).ledger.enabled is False
    with pytest.raises(ConfigError, match=r"ledger\.hmac_key_env: hmac_key_env 'my key' is not"):
        job_from_dict({**base, "ledger": {"enabled": True, "hmac_key_env": "my key"}})
    with pytest.raises(ConfigError, match=r"ledger\.sign: .*remove it or check its spelling"):
        job_from_dict({**base, "ledger": {"sign": True}})
