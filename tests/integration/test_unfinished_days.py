"""A day is archived only once it has ended plus ``settle``: today, tomorrow and a yesterday that
has not settled are refused (exit 2) by every command, nothing is written, and ``status`` does
not change; ``run`` skips such a day with a note and catches it up once it has settled.

The wall clock is the testing hook ``DBARCHIVE_NOW`` (the CLI runs in this process here); the
database and the archive are the real MariaDB and SeaweedFS.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from dbarchive import api, load_job
from tests.integration.helpers import LOG_TABLE_DDL, fill_events
from tests.integration.mysql_fixtures import MySqlSchema, mysql_schema  # noqa: F401
from tests.integration.test_bad_input import _listing, _s3_env
from tests.integration.test_cli import run_cli

pytestmark = pytest.mark.integration

NOW = "2026-11-25T00:05:00+00:00"  # yesterday (11-24) is over, not settled (10 minutes)
SETTLED = "2026-11-25T00:10:00+00:00"  # 11-24 settles at this very instant
ROWS = {"2026-11-22": 30, "2026-11-23": 40, "2026-11-24": 50, "2026-11-25": 20, "2026-11-26": 10}
TABLES = ("events", "ranged", "outfile")  # whole day, work units, aurora-outfile


@pytest.fixture
def config(
    mysql_schema: MySqlSchema,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    s3_endpoint: Any,
    s3_bucket: str,
) -> Path:
    """Rows from 11-22 to 11-26 in three tables, each archived its own way; the clock at NOW."""
    mysql_schema.execute(LOG_TABLE_DDL)
    for day, count in ROWS.items():
        fill_events(mysql_schema, day, count)
    for table in TABLES[1:]:
        mysql_schema.execute(f"CREATE TABLE `{table}` LIKE events")
        mysql_schema.execute(f"INSERT INTO `{table}` SELECT * FROM events")
    _s3_env(monkeypatch, s3_endpoint.access_key, s3_endpoint.secret_key, s3_endpoint.region)
    monkeypatch.setenv("DBARCHIVE_NOW", NOW)
    path = tmp_path / "archive.toml"
    path.write_text(
        f'[source]\nurl = "{mysql_schema.url}"\n'
        f'[destination]\nurl = "s3://{s3_bucket}/archive"\nendpoint_url = "{s3_endpoint.url}"\n'
        '[[tables]]\nname = "events"\ntimestamp_column = "created_at"\n'
        '[[tables]]\nname = "ranged"\ntimestamp_column = "created_at"\nrange_rows = 1000\n'
        '[[tables]]\nname = "outfile"\ntimestamp_column = "created_at"\n'
        'export.strategy = "aurora-outfile"\n'
    )
    return path


def _status(config: Path) -> list[dict[str, Any]]:
    result = run_cli("status", "-c", str(config), "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def _refused(result: Any, table: str, day: str) -> None:
    assert result.exit_code == 2, result.output
    assert f"{table} {day} has not ended in UTC plus settle = 10 minutes" in result.stderr
    assert "Nothing was written" in result.stderr


def test_today_tomorrow_and_an_unsettled_yesterday_are_refused_and_nothing_is_written(
    config: Path, s3_client: Any, s3_bucket: str
) -> None:
    before = _status(config)
    assert [t["pending_days"] for t in before] == [["2026-11-22", "2026-11-23"]] * 3
    c = str(config)
    for table in TABLES:
        for day in ("2026-11-25", "2026-11-26", "2026-11-24"):  # today, tomorrow, yesterday
            _refused(run_cli("export", "-c", c, "-t", table, "--date", day), table, day)
            _refused(run_cli("plan", "-c", c, "-t", table, "--date", day), table, day)
        # A range with one day not over: refused before its first (settled) day is written.
        ranged = run_cli(
            "export", "-c", c, "-t", table, "--from", "2026-11-22", "--to", "2026-11-24"
        )
        _refused(ranged, table, "2026-11-24")
    yesterday = run_cli("export", "-c", c, "-t", "events")  # the default day: yesterday
    _refused(yesterday, "events", "2026-11-24")
    assert "may be archived from 2026-11-25 00:10:00 UTC" in yesterday.stderr
    assert "the newest day that may be archived now is 2026-11-23" in yesterday.stderr
    _refused(
        run_cli("export", "-c", c, "--dry-run", "--date", "2026-11-25"), "events", "2026-11-25"
    )
    backfill = run_cli("backfill", "-c", c, "-t", "ranged", "--to", "2026-11-25", "-q")
    _refused(backfill, "ranged", "2026-11-25")
    assert _listing(s3_client, s3_bucket) == []  # no manifest, no part, no unit plan
    assert _status(config) == before


def test_run_skips_a_day_not_settled_with_a_note_and_exports_it_once_settled(
    config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    c = str(config)
    result = run_cli("run", "-c", c, "-t", "events", "-t", "ranged", "--json")
    assert result.exit_code == 0, result.output
    reports = json.loads(result.stdout)["tables"]
    for report in reports:
        assert [e["day"] for e in report["exported"]] == ["2026-11-22", "2026-11-23"]
        assert report["errors"] == []
        (note,) = report["notes"]
        assert note.startswith(f"{report['table']} 2026-11-24: not exported yet")
        assert "may be archived from 2026-11-25 00:10:00 UTC" in note
    # --today in the future moves the cutoff and the catch-up, never the day rule.
    ahead = run_cli("run", "-c", c, "-t", "events", "--no-purge", "--today", "2026-11-28", "--json")
    assert ahead.exit_code == 0, ahead.output
    (report,) = json.loads(ahead.stdout)["tables"]
    assert report["exported"] == []
    assert report["notes"][0].startswith("events 2026-11-24 .. 2026-11-27: not exported yet")
    archived = [t["archived_days"] for t in _status(config)]
    assert archived == [["2026-11-22", "2026-11-23"]] * 2 + [[]]
    monkeypatch.setenv("DBARCHIVE_NOW", SETTLED)
    done = run_cli("export", "-c", c, "-t", "events", "-t", "ranged", "--json")
    assert done.exit_code == 0, done.output
    assert [(r["day"], r["rows"]) for r in json.loads(done.stdout)] == [("2026-11-24", 50)] * 2
    # A purge whose --today is ahead of the clock would purge rows the retention keeps.
    early = run_cli("purge", "-c", c, "-t", "events", "--today", "2026-11-28")
    assert early.exit_code == 2, early.output
    assert "--today 2026-11-28 is after today for table 'events'" in early.stderr
    before = _status(config)  # a backfill that purges is held to the same rule
    ahead_backfill = run_cli(
        "backfill", "-c", c, "-t", "events", "--purge", "--today", "2026-11-28"
    )
    assert ahead_backfill.exit_code == 2, ahead_backfill.output
    assert "--today 2026-11-28 is after today for table 'events'" in ahead_backfill.stderr
    assert _status(config) == before


def test_a_purge_ahead_of_the_clock_leaves_the_days_not_settled(
    config: Path, mysql_schema: MySqlSchema
) -> None:
    """A today two months ahead (from code: the CLI refuses it) puts the cutoff after 11-24,
    which has not settled: that day can be neither archived nor purged, so the purge leaves it
    (it stopped the table, exit 1), says how early the cutoff is, and purges the settled days
    before it, exporting them first."""
    (report,) = api.purge(load_job(config), ["events"], today="2027-01-25")
    assert report.ok, report.errors
    assert [e.day.isoformat() for e in report.exported] == ["2026-11-22", "2026-11-23"]
    assert any("the retention cutoff counts from 2027-01-25" in n for n in report.notes)
    left = mysql_schema.execute("SELECT DATE(created_at), COUNT(*) FROM events GROUP BY 1")
    assert [(str(d), n) for d, n in left] == [("2026-11-24", 50), ("2026-11-25", 20),
                                              ("2026-11-26", 10)]  # fmt: skip
