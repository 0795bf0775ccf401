"""Odd values in the time column, and DATE columns in time zones east and west of UTC.

- A NULL, zero or invalid time value (``0000-00-00``, ``2026-11-00``, ``2026-02-31``) belongs
  to no day: it is never archived nor purged, ``status`` and ``check`` report it, and it stops
  neither the other days nor the other tables. (Before: a zero date made ``run`` purge nothing,
  silently; an invalid oldest date crashed it before the other tables.)
- A DATE column's day is its value, whatever the table's ``timezone``. An archive made under the
  earlier rule (a DATE followed the zone) keeps its recorded window: verify and purge use it.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from dbarchive.sources.mysql import MySqlSource
from dbarchive.sources.table import day_window
from tests.integration.mysql_fixtures import MySqlSchema, mysql_schema  # noqa: F401
from tests.integration.test_cli import run_cli, write_config

pytestmark = pytest.mark.integration

PERMISSIVE = "SET SESSION sql_mode = 'ALLOW_INVALID_DATES'"  # zero and invalid dates go in
EVENTS = "(id INT NOT NULL PRIMARY KEY, ts DATETIME NOT NULL, note VARCHAR(20), KEY (ts))"
VALID = [  # (id, ts) of rows with a day: on month ends, where invalid dates sort around them
    (1, "2025-12-31 10:00:00"), (2, "2026-01-01 09:00:00"), (3, "2026-02-28 10:00:00"),
    (4, "2026-03-01 08:00:00"), (5, "2026-06-10 12:00:00"),
]  # fmt: skip
NO_DAY = [  # (id, ts): each sorts inside one of the valid rows' day windows, or before all
    (11, "0000-00-00 00:00:00"), (12, "2026-01-00 10:00:00"), (13, "2026-00-05 10:00:00"),
    (14, "2026-02-31 10:00:00"), (15, "2026-03-00 00:00:00"),
]  # fmt: skip


def _cfg(schema: MySqlSchema, tmp_path: Path, tables: list[dict[str, Any]]) -> str:
    path = write_config(
        tmp_path / "archive.toml", {"url": schema.url}, {"url": str(tmp_path / "arch")}, tables
    )
    return str(path)


def _ids(schema: MySqlSchema, table: str) -> list[int]:
    return [int(r[0]) for r in schema.execute(f"SELECT id FROM `{table}` ORDER BY id")]


def _json(*args: str) -> Any:
    result = run_cli(*args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_rows_with_no_day_are_reported_kept_and_stop_nothing(
    mysql_schema: MySqlSchema,
    tmp_path: Path,
) -> None:
    """Three tables: ``zero`` (oldest value 0000-00-00), ``invalid`` (oldest 2025-12-00 and
    invalid dates inside month-end windows), ``plain``. One ``run`` archives and purges every
    valid expired row of all three, keeps every odd one, and status/check name them."""
    mysql_schema.execute(PERMISSIVE)
    for table in ("zero", "invalid", "plain"):
        mysql_schema.execute(f"CREATE TABLE `{table}` {EVENTS}")
        mysql_schema.executemany(f"INSERT INTO `{table}` (id, ts) VALUES (%s, %s)", VALID)
    mysql_schema.execute("INSERT INTO zero (id, ts) VALUES (11, '0000-00-00 00:00:00')")
    odd = [*NO_DAY[1:], (16, "2025-12-00 10:00:00"), (17, "9999-12-31 23:59:59")]  # + a sentinel
    mysql_schema.executemany("INSERT INTO invalid (id, ts) VALUES (%s, %s)", odd)
    tables = [
        {"name": t, "timestamp_column": "ts", "retention": "30 days"}
        for t in ("zero", "invalid", "plain")
    ]
    config = _cfg(mysql_schema, tmp_path, tables)

    (zero, invalid, plain) = _json("status", "-c", config, "--today", "2026-06-11")
    assert [s["oldest_day_in_database"] for s in (zero, invalid, plain)] == ["2025-12-31"] * 3
    assert zero["rows_without_day"] == {"count": 1, "example_keys": [["11"]]}
    assert invalid["rows_without_day"] == {
        "count": 5,
        "example_keys": [["16"], ["13"], ["12"], ["14"], ["15"]],  # in time order
    }
    assert plain["rows_without_day"] == {"count": 0, "example_keys": []}
    checks = {r["name"]: r for r in _json("check", "-c", config)}
    warned = checks["mysql: time values of invalid"]
    assert warned["ok"] and warned["warning"]
    assert (
        "5 rows belong to no day" in warned["detail"]
        and "keys 16, 13, 12, 14, 15" in warned["detail"]
    )
    assert "1 row belongs to no day" in checks["mysql: time values of zero"]["detail"]
    assert "mysql: time values of plain" not in checks

    reports = _json("run", "-c", config, "--today", "2026-06-11")["tables"]
    assert [(r["table"], r["ok"]) for r in reports] == [
        (t, True) for t in ("zero", "invalid", "plain")
    ]
    for report in reports:  # the four expired valid rows, each in its own day
        assert sorted(p["day"] for p in report["purged"]) == [
            "2025-12-31", "2026-01-01", "2026-02-28", "2026-03-01",
        ]  # fmt: skip
        assert sum(p["rows_deleted"] for p in report["purged"]) == 4
    assert _ids(mysql_schema, "zero") == [5, 11]
    assert _ids(mysql_schema, "invalid") == [5, 12, 13, 14, 15, 16, 17]
    assert _ids(mysql_schema, "plain") == [5]
    archived = tmp_path / "arch" / "invalid"
    for manifest in archived.rglob("_manifest.json"):  # no odd row in any archived day
        assert json.loads(manifest.read_text())["rows"] <= 1  # (0: an empty day of the window)
    for day in ("2025-12-31", "2026-02-28"):
        result = run_cli("verify", "-c", config, "-t", "invalid", "--date", day)
        assert result.exit_code == 0, result.output


DATES = ["2026-11-20", "2026-11-21", "2026-11-21", "2026-11-22"]


@pytest.mark.parametrize("zone", ["America/Los_Angeles", "Asia/Kolkata", "Pacific/Kiritimati"])
def test_a_date_column_day_is_its_value_in_every_zone(
    mysql_schema: MySqlSchema,
    tmp_path: Path,
    zone: str,
) -> None:
    """Rows dated 2026-11-21 are the 2026-11-21 partition, west (UTC-8) and east (+5:30, +14)."""
    mysql_schema.execute("CREATE TABLE visits (id INT PRIMARY KEY, d DATE NOT NULL, KEY (d))")
    mysql_schema.executemany(
        "INSERT INTO visits VALUES (%s, %s)", [(i + 1, d) for i, d in enumerate(DATES)]
    )
    table = {"name": "visits", "timestamp_column": "d", "timezone": zone, "retention": "7 days"}
    config = _cfg(mysql_schema, tmp_path, [table])

    exported = _json("export", "-c", config, "--from", "2026-11-20", "--to", "2026-11-22")
    assert [(e["day"], e["rows"]) for e in exported] == [
        ("2026-11-20", 1), ("2026-11-21", 2), ("2026-11-22", 1),
    ]  # fmt: skip
    manifest = json.loads(
        (tmp_path / "arch/visits/year=2026/month=11/day=21/_manifest.json").read_text()
    )
    assert manifest["query_window"] == ["2026-11-21 00:00:00.000000", "2026-11-22 00:00:00.000000"]
    (status,) = _json("status", "-c", config, "--today", "2026-11-23")
    assert status["oldest_day_in_database"] == "2026-11-20"


def _earlier_rule(self: MySqlSource, spec: Any, info: Any, day: dt.date) -> Any:
    """The window every column got before: a DATE moved by the table's zone like a DATETIME."""
    column_zone = "UTC" if info.ts.data_type == "timestamp" else self.settings.timezone
    return day_window(day, spec.timezone, column_zone)


def test_days_archived_under_the_earlier_date_rule_keep_their_window(
    mysql_schema: MySqlSchema,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A DATE table in America/Los_Angeles archived by the earlier rule: partition D holds the
    rows dated D+1 (the first, 2026-09-30, the oldest rows). Today's verify passes over those
    windows, and a purge deletes exactly the archived rows of every expired day — the oldest
    included — then archives and purges the next days under the new rule."""
    mysql_schema.execute("CREATE TABLE visits (id INT PRIMARY KEY, d DATE NOT NULL, KEY (d))")
    rows = [(n, f"2026-10-{1 + n // 3:02d}") for n in range(30)]  # 3 rows a day, Oct 1..10
    mysql_schema.executemany("INSERT INTO visits VALUES (%s, %s)", rows)
    table = {
        "name": "visits", "timestamp_column": "d", "timezone": "America/Los_Angeles",
        "retention": "7 days",
    }  # fmt: skip
    config = _cfg(mysql_schema, tmp_path, [table])
    with monkeypatch.context() as earlier:
        earlier.setattr(MySqlSource, "window", _earlier_rule)
        exported = _json("export", "-c", config, "--from", "2026-09-30", "--to", "2026-10-05")
    assert [e["rows"] for e in exported] == [3] * 6  # 09-30 holds the rows dated 10-01, …
    verified = _json("verify", "-c", config, "--from", "2026-09-30", "--to", "2026-10-05")
    assert all(v["ok"] for v in verified), verified

    (report,) = _json("purge", "-c", config, "--today", "2026-10-15")["tables"]  # cutoff 2026-10-08
    assert report["ok"], report
    assert [(p["day"], p["rows_deleted"]) for p in report["purged"]] == [
        *((f"2026-{m}", 3) for m in ("09-30", "10-01", "10-02", "10-03", "10-04", "10-05")),
        ("2026-10-07", 3),  # 10-06's rows went with the archive of 10-05: nothing left there
    ]
    remaining = mysql_schema.execute("SELECT MIN(d), COUNT(*) FROM visits")[0]
    assert remaining == (dt.date(2026, 10, 8), 9)


def test_a_day_archived_with_its_invalid_dates_is_verified_purged_and_restored_whole(
    mysql_schema: MySqlSchema,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Before invalid dates were left out of every day, 2025-12-31's window took the row dated
    2026-00-05 and 2026-01-00 too. That archive (its manifest has no ``day_rule``) still verifies, its purge
    deletes those rows with the others (it is archived), and its restore brings all back; a day
    archived now, 2026-02-28, leaves out 2026-02-31 and keeps it in the table."""
    from dbarchive.sources import mysql_sql

    mysql_schema.execute(PERMISSIVE)
    mysql_schema.execute(f"CREATE TABLE events {EVENTS}")
    mysql_schema.executemany("INSERT INTO events (id, ts) VALUES (%s, %s)", [*VALID, *NO_DAY])
    table = {"name": "events", "timestamp_column": "ts", "retention": "30 days"}
    config = _cfg(mysql_schema, tmp_path, [table])
    with monkeypatch.context() as earlier:
        earlier.setattr(mysql_sql, "valid_date_guard", lambda info: "")
        (old,) = _json("export", "-c", config, "--date", "2025-12-31")
    assert old["rows"] == 3  # 10:00 on the 31st, 2026-00-05 and 2026-01-00
    path = tmp_path / "arch" / old["manifest"]
    manifest = json.loads(path.read_text())
    del manifest["extra"]["day_rule"]  # as the earlier version wrote it
    path.write_text(json.dumps(manifest))
    (new,) = _json("export", "-c", config, "--date", "2026-02-28")
    assert new["rows"] == 1

    for day, rows in (("2025-12-31", 3), ("2026-02-28", 1)):
        (verified,) = _json("verify", "-c", config, "--date", day)
        assert (verified["archived_rows"], verified["source_rows"]) == (rows, rows)
    (report,) = _json("purge", "-c", config, "--today", "2026-06-11")["tables"]
    assert {p["day"]: p["rows_deleted"] for p in report["purged"]} == {
        "2025-12-31": 3, "2026-01-01": 1, "2026-02-28": 1, "2026-03-01": 1,
    }  # fmt: skip
    assert _ids(mysql_schema, "events") == [5, 11, 14, 15]
    result = run_cli("restore", "-c", config, "-t", "events", "--date", "2025-12-31")
    assert result.exit_code == 0, result.output
    assert _ids(mysql_schema, "events") == [1, 5, 11, 12, 13, 14, 15]


def test_check_fails_a_table_whose_time_column_has_no_index(
    mysql_schema: MySqlSchema, tmp_path: Path
) -> None:
    """Every export, run and status refuses such a table; `check` said all ok (an outside trial:
    primary key (id, created_at), no index starting with created_at). It names the cause now."""
    mysql_schema.execute(
        "CREATE TABLE ck (id INT NOT NULL, created_at DATETIME NOT NULL,"
        " PRIMARY KEY (id, created_at))"
    )
    config = _cfg(mysql_schema, tmp_path, [{"name": "ck", "timestamp_column": "created_at"}])
    result = run_cli("check", "-c", config, "--json")
    assert result.exit_code != 0, result.output
    (select,) = [
        r for r in json.loads(result.stdout) if r["name"] == "mysql: key and time index of ck"
    ]
    assert not select["ok"] and "'created_at' has no index starting with it" in select["detail"]
    mysql_schema.execute("ALTER TABLE ck ADD KEY (created_at)")
    again = {r["name"]: r for r in json.loads(run_cli("check", "-c", config, "--json").stdout)}
    assert again["mysql: key and time index of ck"]["ok"] and again["mysql: SELECT on ck"]["ok"]


def test_check_warns_of_a_timestamp_column_every_update_moves(
    mysql_schema: MySqlSchema, tmp_path: Path
) -> None:
    """updated_at ON UPDATE CURRENT_TIMESTAMP moves a row at each update: check warns (found by
    an outside trial whose moved rows were restored in an older version); created_at does not."""
    for table in ("mv", "mc"):
        mysql_schema.execute(
            f"CREATE TABLE {table} (id INT PRIMARY KEY, created_at DATETIME NOT NULL, updated_at"
            " TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,"
            " KEY (created_at), KEY (updated_at))"
        )
    tables = [{"name": "mv", "timestamp_column": "updated_at"},
              {"name": "mc", "timestamp_column": "created_at"}]  # fmt: skip
    result = run_cli("check", "-c", _cfg(mysql_schema, tmp_path, tables), "--json")
    names = [r["name"] for r in json.loads(result.stdout)]
    assert "mysql: timestamp column of mc" not in names
    (warned,) = [r for r in json.loads(result.stdout) if r["name"].endswith("column of mv")]
    assert warned["ok"] and warned["warning"]
    assert "updated_at is ON UPDATE CURRENT_TIMESTAMP" in warned["detail"]


def test_invalid_dates_in_other_columns_restore_as_stored(
    mysql_schema: MySqlSchema, tmp_path: Path
) -> None:
    """A DATE '2026-02-31' and a DATETIME '2026-04-31 …' that ALLOW_INVALID_DATES let in are
    archived as stored, so the restore takes them back as stored too (an outside trial: the
    restore's strict mode refused them, and with them every row of the purged day)."""
    mysql_schema.execute(PERMISSIVE)
    mysql_schema.execute(
        "CREATE TABLE events (id INT NOT NULL PRIMARY KEY, ts DATETIME NOT NULL, d DATE,"
        " at DATETIME(3), KEY (ts))"
    )
    mysql_schema.executemany(
        "INSERT INTO events VALUES (%s, %s, %s, %s)",
        [
            (1, "2026-03-02 10:00:00", "2026-02-31", "2026-04-31 23:59:59.999"),
            (2, "2026-03-02 11:00:00", "2026-03-01", None),
            (3, "2026-03-02 12:00:00", "0000-00-00", "2026-02-30 00:00:00"),
        ],
    )
    before = mysql_schema.execute(
        "SELECT id, CAST(ts AS CHAR), CAST(d AS CHAR), CAST(at AS CHAR) FROM events ORDER BY id"
    )
    table = {"name": "events", "timestamp_column": "ts", "retention": "30 days"}
    config = _cfg(mysql_schema, tmp_path, [table])
    (report,) = _json("run", "-c", config, "--today", "2026-06-11")["tables"]
    assert {p["day"]: p["rows_deleted"] for p in report["purged"]} == {"2026-03-02": 3}
    restored = run_cli(
        "restore", "-c", config, "-t", "events", "--date", "2026-03-02", "--into", "back"
    )
    assert restored.exit_code == 0, restored.output
    assert (
        mysql_schema.execute(
            "SELECT id, CAST(ts AS CHAR), CAST(d AS CHAR), CAST(at AS CHAR) FROM back ORDER BY id"
        )
        == before
    )
