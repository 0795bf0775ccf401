"""The ``dbarchive`` command end to end: real MariaDB, a real local folder or SeaweedFS S3."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import MySQLdb
import pytest
from click.testing import CliRunner, Result

from dbarchive.cli import cli
from dbarchive.config import SourceSettings
from dbarchive.formats.csv import iter_rows
from tests.integration.helpers import LOG_TABLE_DDL, fill_events
from tests.integration.mysql_fixtures import ROOT_URL, MySqlSchema, mysql_schema  # noqa: F401

pytestmark = pytest.mark.integration

DAY = dt.date(2024, 3, 10)
ROWS = {"2024-03-08": 11, "2024-03-09": 23, "2024-03-10": 37, "2024-03-11": 19, "2024-03-12": 5}


# -- helpers ---------------------------------------------------------------------------------------
def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # a JSON string is a TOML basic string
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"no TOML for {value!r}")


def write_config(
    path: Path,
    source: dict[str, Any],
    destination: dict[str, Any],
    tables: list[dict[str, Any]],
) -> Path:
    sections = [("[source]", source), ("[destination]", destination)]
    sections += [("[[tables]]", t) for t in tables]
    path.write_text(
        "\n".join(
            "\n".join([header, *(f"{k} = {_toml_value(v)}" for k, v in values.items())]) + "\n"
            for header, values in sections
        ),
        encoding="utf-8",
    )
    return path


def run_cli(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def files_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def day_count(schema: MySqlSchema, day: str, table: str = "events") -> int:
    (count,) = schema.execute(
        f"SELECT COUNT(*) FROM `{table}` WHERE created_at >= %s AND created_at < %s + INTERVAL 1 DAY",
        (day, day),
    )[0]
    return int(count)


@pytest.fixture
def events(mysql_schema: MySqlSchema) -> MySqlSchema:
    """The log table ``events`` with a different number of rows on each of five days."""
    mysql_schema.execute(LOG_TABLE_DDL)
    for day, count in ROWS.items():
        fill_events(mysql_schema, day, count)
    return mysql_schema


@pytest.fixture
def config(events: MySqlSchema, tmp_path: Path) -> Path:
    """A config that archives ``events`` to the folder tmp_path/archive."""
    return write_config(
        tmp_path / "archive.toml",
        {"url": events.url},
        {"url": str(tmp_path / "archive")},
        [{"name": "events", "timestamp_column": "created_at", "chunk_rows": 10}],
    )


# -- export ----------------------------------------------------------------------------------------
def test_export_one_day_prints_json_summary_and_writes_manifest(
    events: MySqlSchema, config: Path, tmp_path: Path
) -> None:
    """export --date --json: exit 0, a JSON summary that matches the files and the source count."""
    dest = tmp_path / "archive"
    result = run_cli("export", "-c", str(config), "--date", DAY.isoformat(), "--json")
    assert result.exit_code == 0, result.output

    (summary,) = json.loads(result.stdout)
    expected = day_count(events, DAY.isoformat())
    assert expected == ROWS[DAY.isoformat()]
    assert summary["table"] == "events" and summary["day"] == DAY.isoformat()
    assert summary["rows"] == expected
    assert summary["files"] == ["events/year=2024/month=03/day=10/part-g0001-00000.csv.gz"]
    assert summary["manifest"] == "events/year=2024/month=03/day=10/_manifest.json"
    assert summary["bytes"] == sum((dest / f).stat().st_size for f in summary["files"])

    with gzip.open(dest / summary["files"][0], "rb") as f:
        rows = list(iter_rows(f))
    assert rows[0] == [b"id", b"created_at", b"account_id", b"amount", b"note"]
    assert len(rows) - 1 == expected
    assert all(r[1] is not None and r[1].startswith(b"2024-03-10 ") for r in rows[1:])

    manifest = json.loads((dest / summary["manifest"]).read_text())
    assert manifest["rows"] == expected
    assert manifest["bytes"] == summary["bytes"]
    assert [f["key"] for f in manifest["files"]] == summary["files"]
    assert sorted(p.relative_to(dest).as_posix() for p in files_under(dest)) == sorted(
        [
            *summary["files"],
            summary["manifest"],
            summary["manifest"].replace(".json", "-g0001.json"),
            "events/_dbarchive_table.json",  # the table folder's claim
        ]
    )


def test_export_range_of_three_days_for_one_selected_table(
    events: MySqlSchema, tmp_path: Path
) -> None:
    """--from/--to exports each day of the range; -t exports only the selected table."""
    events.execute(LOG_TABLE_DDL.replace("`events`", "`audit`"))
    events.execute("INSERT INTO audit SELECT * FROM events")
    dest = tmp_path / "archive"
    tables = [
        {"name": "audit", "timestamp_column": "created_at"},
        {"name": "events", "timestamp_column": "created_at"},
    ]
    config = write_config(
        tmp_path / "archive.toml", {"url": events.url}, {"url": str(dest)}, tables
    )

    result = run_cli(
        "export", "-c", str(config), "-t", "events", "--from", "2024-03-09", "--to", "2024-03-11",
        "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    days = ["2024-03-09", "2024-03-10", "2024-03-11"]
    assert [(s["table"], s["day"], s["rows"]) for s in summary] == [
        ("events", d, ROWS[d]) for d in days
    ]
    manifests = sorted(dest.rglob("_manifest.json"))
    assert [p.relative_to(dest).as_posix() for p in manifests] == [
        f"events/year=2024/month=03/day={d[-2:]}/_manifest.json" for d in days
    ]
    for path, d in zip(manifests, days, strict=True):
        assert json.loads(path.read_text())["rows"] == day_count(events, d)
    assert not (dest / "audit").exists()


def test_unknown_table_option_is_a_config_error(config: Path, tmp_path: Path) -> None:
    """-t with a table that is not configured: exit 2 naming the configured tables, no files."""
    result = run_cli("export", "-c", str(config), "-t", "evnts", "--date", DAY.isoformat())
    assert result.exit_code == 2, result.output
    assert "'evnts' is not in the config; configured tables: events" in result.stderr
    assert files_under(tmp_path / "archive") == []


# -- plan and dry run ------------------------------------------------------------------------------
@pytest.mark.parametrize("command", [["plan"], ["export", "--dry-run"]], ids=["plan", "dry-run"])
def test_plan_and_dry_run_print_the_plan_and_write_nothing(
    events: MySqlSchema, config: Path, tmp_path: Path, command: list[str]
) -> None:
    """plan / export --dry-run print window, estimated rows and SQL, and write nothing."""
    dest = tmp_path / "archive"
    result = run_cli(*command, "-c", str(config), "--date", DAY.isoformat())
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "events 2024-03-10" in out
    assert "window [2024-03-10 00:00:00.000000, 2024-03-11 00:00:00.000000)" in out
    assert f"~{day_count(events, DAY.isoformat())} rows" in out
    assert "SELECT `id`" in out and f"FROM `{events.name}`.`events`" in out
    assert "LIMIT 10" in out
    assert "not archived" in out
    assert files_under(dest) == []

    result = run_cli(
        *command, "-c", str(config), "--from", "2024-03-09", "--to", "2024-03-11", "--json"
    )
    assert result.exit_code == 0, result.output
    planned = json.loads(result.stdout)
    assert [(p["day"], p["estimated_rows"]) for p in planned] == [
        (d, ROWS[d]) for d in ("2024-03-09", "2024-03-10", "2024-03-11")
    ]
    assert all(p["first_chunk_sql"].startswith("SELECT ") for p in planned)
    assert files_under(dest) == []
    assert not dest.exists() or not any(dest.iterdir())


def test_plan_reports_an_archived_partition(events: MySqlSchema, config: Path) -> None:
    """After an export, plan says the day is archived with its row count."""
    assert run_cli("export", "-c", str(config), "--date", DAY.isoformat(), "-q").exit_code == 0
    result = run_cli("plan", "-c", str(config), "--date", DAY.isoformat())
    assert result.exit_code == 0, result.output
    assert f"archived: {ROWS[DAY.isoformat()]} rows" in result.stdout


def test_quiet_verify_and_restore_print_failures_only(events: MySqlSchema, config: Path) -> None:
    """``-q`` on verify and restore: nothing on stdout, and a failure alone on stderr (it
    printed every result line, as without ``-q``)."""
    day = DAY.isoformat()
    assert run_cli("export", "-c", str(config), "--date", day, "-q").exit_code == 0
    ok = run_cli("verify", "-c", str(config), "--date", day, "-q")
    assert (ok.exit_code, ok.stdout, ok.stderr) == (0, "", "")
    restored = run_cli("restore", "-c", str(config), "-t", "events", "--date", day, "--into",
                       "events_back", "-q")  # fmt: skip
    assert (restored.exit_code, restored.stdout, restored.stderr) == (0, "", "")
    events.execute("UPDATE events SET note = 'changed' WHERE DATE(created_at) = %s LIMIT 1", (day,))
    failed = run_cli("verify", "-c", str(config), "--date", day, "-q")
    assert failed.exit_code == 5 and failed.stdout == ""
    assert failed.stderr.startswith(f"FAIL: events {day}: the database holds rows=37 ")


# -- help --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("command", sorted(cli.commands))
def test_every_command_help_has_examples(command: str) -> None:
    """`dbarchive <command> --help` works and shows Examples."""
    result = run_cli(command, "--help")
    assert result.exit_code == 0, result.output
    assert "Examples" in result.stdout
    assert f"dbarchive {command}" in result.stdout


def test_top_level_help_lists_every_command() -> None:
    """`dbarchive --help` works and lists every command."""
    result = run_cli("--help")
    assert result.exit_code == 0, result.output
    for command in cli.commands:
        assert command in result.stdout


# -- demo --------------------------------------------------------------------------------------------
@pytest.fixture
def demo_database(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """DBARCHIVE_DEMO_URL pointing at a uuid-named database, dropped afterwards."""
    name = f"dbat_demo_{uuid.uuid4().hex[:12]}"
    url = f"{ROOT_URL}/{name}"
    monkeypatch.setenv("DBARCHIVE_DEMO_URL", url)
    try:
        yield name
    finally:
        args = SourceSettings(url=url).connect_args()
        args.pop("database")
        conn = MySQLdb.connect(**args, autocommit=True)
        try:
            with conn.cursor() as cur:
                cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
        finally:
            conn.close()


@pytest.mark.parametrize(
    ("now", "day"),
    [("2026-11-25T12:00:00+00:00", "2026-11-24"), ("2026-11-25T00:05:00+00:00", "2026-11-23")],
    ids=["yesterday", "yesterday-not-settled"],
)
def test_demo_runs_and_matches(
    demo_database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, now: str, day: str
) -> None:
    """`dbarchive demo` (the README's first command) archives yesterday and says (matches); in
    the first minutes after midnight (before yesterday has settled) the day before."""
    monkeypatch.setenv("DBARCHIVE_NOW", now)
    out = tmp_path / "demo-archive"
    result = run_cli("demo", "--out", str(out), "--rows-per-day", "2000", "--days", "2", "-q")
    assert result.exit_code == 0, result.output
    assert "(matches)" in result.stdout
    assert "DIFFERENT" not in result.output
    manifests = list(out.rglob("_manifest.json"))
    assert len(manifests) == 1
    manifest = json.loads(manifests[0].read_text())
    assert manifest["day"] == day
    assert manifest["rows"] == 2000
    assert [p.name for p in manifests[0].parent.glob("*.csv.gz")] == ["part-g0001-00000.csv.gz"]


# -- S3 ----------------------------------------------------------------------------------------------
def test_export_to_s3_via_cli(
    events: MySqlSchema,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    s3_endpoint: Any,
    s3_bucket: str,
) -> None:
    """export to s3://bucket/archive writes the part and the manifest under the Hive path."""
    import boto3

    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3_endpoint.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3_endpoint.secret_key)
    monkeypatch.setenv("AWS_DEFAULT_REGION", s3_endpoint.region)
    config = write_config(
        tmp_path / "archive.toml",
        {"url": events.url},
        {"url": f"s3://{s3_bucket}/archive", "endpoint_url": s3_endpoint.url},
        [{"name": "events", "timestamp_column": "created_at"}],
    )

    result = run_cli("export", "-c", str(config), "--date", DAY.isoformat(), "--json")
    assert result.exit_code == 0, result.output
    assert s3_endpoint.secret_key not in result.output
    (summary,) = json.loads(result.stdout)
    assert summary["rows"] == ROWS[DAY.isoformat()]

    client = boto3.client(
        "s3",
        endpoint_url=s3_endpoint.url,
        aws_access_key_id=s3_endpoint.access_key,
        aws_secret_access_key=s3_endpoint.secret_key,
        region_name=s3_endpoint.region,
    )
    try:
        listed = client.list_objects_v2(Bucket=s3_bucket).get("Contents", [])
        prefix = "archive/events/year=2024/month=03/day=10/"
        assert sorted(o["Key"] for o in listed) == [
            "archive/events/_dbarchive_table.json",  # the table folder's claim
            f"{prefix}_manifest-g0001.json",
            f"{prefix}_manifest.json",
            f"{prefix}part-g0001-00000.csv.gz",
        ]
        body = client.get_object(Bucket=s3_bucket, Key=f"{prefix}_manifest.json")["Body"].read()
        manifest = json.loads(body)
        assert manifest["rows"] == day_count(events, DAY.isoformat())
        part = client.get_object(Bucket=s3_bucket, Key=f"{prefix}part-g0001-00000.csv.gz")[
            "Body"
        ].read()
        assert len(part) == manifest["files"][0]["bytes"] == summary["bytes"]
        assert gzip.decompress(part).count(b"\n") == manifest["rows"] + 1
    finally:
        client.close()
