"""A day's manifest or purge record that cannot be read fails that day only (found by an outside
trial: `status` crashed, `verify` over a range stopped at it with the storage's exit code, and the
purge's JSON error named the day before it)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from dbarchive.cli import cli
from tests.integration.helpers import LOG_TABLE_DDL, fill_events
from tests.integration.mysql_fixtures import MySqlSchema, mysql_schema  # noqa: F401

DAYS = [dt.date(2026, 11, d) for d in (12, 13, 14)]
TODAY = "2026-12-20"  # 30-day retention: every day above is expired


@pytest.fixture(autouse=True)
def _clock_after_every_today(monkeypatch: pytest.MonkeyPatch) -> None:
    """The clock after each --today given here: a --today later than the clock is refused."""
    monkeypatch.setenv("DBARCHIVE_NOW", "2027-01-06T00:00:00+00:00")


ROWS = 50


def _filled(schema: MySqlSchema, tmp_path: Path) -> Path:
    """ROWS rows on each of DAYS in ``events`` (created by the caller), and a config archiving
    it to ``tmp_path/arch`` with a 30-day retention."""
    for day in DAYS:
        fill_events(schema, day.isoformat(), ROWS)
    config = tmp_path / "job.toml"
    config.write_text(
        f'[source]\nurl = "{schema.url}"\n[destination]\nurl = "{tmp_path / "arch"}"\n'
        '[defaults]\nretention = "30 days"\n'
        '[[tables]]\nname = "events"\ntimestamp_column = "created_at"\n'
    )
    return config


def _archived(schema: MySqlSchema, tmp_path: Path) -> Path:
    schema.execute(LOG_TABLE_DDL)
    config = _filled(schema, tmp_path)
    result = _cli(config, "export", "--from", str(DAYS[0]), "--to", str(DAYS[-1]))
    assert result.exit_code == 0, result.output
    return config


def _cli(config: Path, *args: str) -> Any:
    return CliRunner().invoke(cli, [args[0], "-c", str(config), *args[1:]])


def _day_rows(schema: MySqlSchema) -> dict[str, int]:
    rows = schema.execute("SELECT DATE(created_at), COUNT(*) FROM events GROUP BY 1 ORDER BY 1")
    return {str(day): count for day, count in rows}


def _garbage(raw: bytes) -> bytes:
    return raw + b"garbage{"


def _more_rows(raw: bytes) -> bytes:
    """A manifest whose "rows" a hand (or a script) changed: its files and digest say otherwise."""
    data = json.loads(raw)
    data["rows"] += 1
    return json.dumps(data).encode()


@pytest.mark.parametrize(
    ("record", "damage"),
    [("_manifest.json", _garbage), ("_purge.json", _garbage), ("_manifest.json", _more_rows)],
    ids=["manifest", "purge record", "manifest rows"],
)
def test_an_unreadable_record_fails_its_day_only(
    mysql_schema: MySqlSchema, tmp_path: Path, record: str, damage: Any
) -> None:
    config = _archived(mysql_schema, tmp_path)
    if record == "_purge.json":  # a purge record exists only once a purge began: make one
        first = _cli(config, "purge", "-t", "events", "--today", "2026-12-13")
        assert first.exit_code == 0, first.output  # DAYS[0] purged
        mysql_schema.execute(  # a late row: DAYS[0]'s purge record is read again
            "INSERT INTO events (created_at, account_id) VALUES ('2026-11-12 12:00:00', 1)"
        )
        target = "day=12"
    else:
        target = "day=13"
    damaged = next((tmp_path / "arch").rglob(f"{target}/{record}"))
    damaged.write_bytes(damage(damaged.read_bytes()))
    day = dt.date(2026, 11, int(target[4:]))

    status = _cli(config, "status", "--today", TODAY)
    assert status.exit_code == 0, status.output
    assert "a manifest or purge record that cannot be read" in status.output
    as_json = json.loads(_cli(config, "status", "--today", TODAY, "--json").stdout)
    (table,) = as_json if isinstance(as_json, list) else as_json["tables"]
    assert table["days_with_unreadable_records"] == [day.isoformat()]

    verified = _cli(config, "verify", "--from", str(DAYS[0]), "--to", str(DAYS[-1]))
    assert verified.exit_code == 5, verified.output
    assert f"is not a dbarchive {'manifest' if record == '_manifest.json' else 'purge'}" in (
        verified.output
    )
    assert verified.output.count("result=OK") == 2  # the other two days

    purged = _cli(config, "purge", "--today", TODAY, "--json")
    assert purged.exit_code == 5, purged.output
    (error,) = json.loads(purged.stdout)["errors"]
    assert (error["day"], error["step"], error["code"]) == (day.isoformat(), "purge", 5)
    assert target.replace("day=", "day=") in error["message"]
    left = _day_rows(mysql_schema)
    assert list(left) == [day.isoformat()], "the other days are purged"


def test_a_damaged_file_found_by_the_purge_leaves_the_day_unbegun(
    mysql_schema: MySqlSchema, tmp_path: Path
) -> None:
    """The purge finds a changed byte in a file before it deletes a row: the day keeps its rows
    and is reported, and is not recorded as begun, so an export on purpose can replace its
    archive and the next purge deletes it (found by an outside trial: the record said
    'started' and every export of the day was refused)."""
    config = _archived(mysql_schema, tmp_path)
    part = next((tmp_path / "arch").rglob("day=12/part-*"))
    data = bytearray(part.read_bytes())
    data[len(data) // 2] ^= 0x01
    part.write_bytes(bytes(data))

    purged = _cli(config, "purge", "--today", TODAY)
    assert purged.exit_code == 5, purged.output
    assert list(_day_rows(mysql_schema)) == ["2026-11-12"]
    assert not list((tmp_path / "arch").rglob("day=12/_purge.json"))

    again = _cli(config, "export", "--date", "2026-11-12")
    assert again.exit_code == 0, again.output
    purged = _cli(config, "purge", "--today", TODAY)
    assert purged.exit_code == 0, purged.output
    assert _day_rows(mysql_schema) == {}


def test_a_damaged_purge_record_in_an_expired_partition_fails_its_day_only(
    mysql_schema: MySqlSchema, tmp_path: Path
) -> None:
    """The partition pass reads each day's purge record too: a damaged one leaves the partition
    to the chunked purge, which reports that day and purges the others (it failed the table)."""
    mysql_schema.execute(
        LOG_TABLE_DDL.replace("PRIMARY KEY", "").replace(
            "KEY idx_created (created_at)",
            "PRIMARY KEY (id, created_at), KEY idx_created (created_at)",
        )
        + " PARTITION BY RANGE COLUMNS (created_at) (PARTITION p_old VALUES LESS THAN"
        " ('2026-11-01'), PARTITION p_nov VALUES LESS THAN ('2026-12-01'), PARTITION pmax"
        " VALUES LESS THAN (MAXVALUE))"
    )
    config = _filled(mysql_schema, tmp_path)
    first = _cli(config, "purge", "--today", "2026-12-13")  # day 12 only, chunk by chunk
    assert first.exit_code == 0, first.output
    mysql_schema.execute(
        "INSERT INTO events (created_at, account_id) VALUES ('2026-11-12 12:00:00', 1)"
    )
    record = next((tmp_path / "arch").rglob("day=12/_purge.json"))
    record.write_bytes(record.read_bytes() + b"garbage{")

    purged = _cli(config, "purge", "--today", "2027-01-05", "--json")  # p_nov is expired
    assert purged.exit_code == 5, purged.output
    (error,) = json.loads(purged.stdout)["errors"]
    assert (error["day"], error["code"]) == ("2026-11-12", 5)
    assert _day_rows(mysql_schema) == {"2026-11-12": 1}
