"""The command line as a person and a program read it, run as they run it: the installed
``dbarchive`` script in a subprocess, its output redirected to files (real MariaDB, real folder).

- every command, redirected to a file, prints plain lines with nothing cut or boxed;
- ``--json`` prints an error object when a command fails, and ``run`` one object;
- the newcomer's journey plan → export → status → verify → purge → restore → ddl, typed;
- progress lines for verify and restore; Ctrl-C in them exits 6 and says what was left;
- ``--destination``, ``purge --before``, the demo's care with ``payment_events``, the login hint.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import MySQLdb
import pytest

from dbarchive.cli import cli
from dbarchive.config import SourceSettings
from tests.integration.helpers import LOG_TABLE_DDL, fill_events
from tests.integration.mysql_fixtures import ROOT_URL, MySqlSchema, mysql_schema  # noqa: F401

DBARCHIVE = Path(sys.executable).parent / "dbarchive"  # the console script a user runs
LONG = "shop_line_item_events_with_a_name_as_long_as_mysql_allows_it_x64"  # 64 characters
ROWS = {"2024-03-08": 11, "2024-03-09": 23, "2024-03-10": 37, "2024-03-11": 19, "2024-03-12": 5}
TODAY = "2024-05-10"  # 60 days keep 2024-03-11 and later: 03-08 .. 03-10 have expired
BOXES = set("│┃━─┏┓┗┛┡┩╇╋")


@dataclass
class Ran:
    """One command as the user ran it: its exit code and what it wrote to each file."""

    argv: list[str]
    code: int
    stdout: str
    stderr: str

    def records(self) -> list[dict[str, str]]:
        """The stdout lines as key=value records (each line must be one)."""
        records = []
        for line in self.stdout.splitlines():
            pairs = [p.split("=", 1) for p in shlex.split(line)]
            assert all(len(p) == 2 for p in pairs), line
            records.append(dict(pairs))
        return records


def run(cwd: Path, line: str, **env: str) -> Ran:
    """Run ``line`` (as typed in a shell, starting with ``dbarchive``) with stdout and stderr
    redirected to files, in an 80-column environment; no terminal anywhere."""
    argv = shlex.split(line)
    assert argv[0] == "dbarchive"
    out, err = cwd / "stdout.txt", cwd / "stderr.txt"
    environment = {k: v for k, v in os.environ.items() if k != "DBARCHIVE_FAILPOINT"}
    environment.update({"COLUMNS": "80", "LINES": "24", **env})
    with out.open("w") as stdout, err.open("w") as stderr:
        proc = subprocess.run(
            [str(DBARCHIVE), *argv[1:]],
            cwd=cwd,
            env=environment,
            stdout=stdout,
            stderr=stderr,
            stdin=subprocess.DEVNULL,
            timeout=300,
            check=False,
        )
    return Ran(argv, proc.returncode, out.read_text(), err.read_text())


def write_config(folder: Path, schema: MySqlSchema, *tables: str, extra: str = "") -> Path:
    """``dbarchive.toml`` (the default name, so ``-c`` may be left out) for a local archive."""
    body = (
        f'[source]\nurl = "{schema.url}"\n[destination]\nurl = "{folder / "archive"}"\n'
        '[defaults]\nretention = "60 days"\nchunk_rows = 10\n'
    )
    for name in tables:
        body += f'[[tables]]\nname = "{name}"\ntimestamp_column = "created_at"\n{extra}'
    path = folder / "dbarchive.toml"
    path.write_text(body)
    return path


@pytest.fixture
def long_table(mysql_schema: MySqlSchema) -> MySqlSchema:
    """A log table with a 64-character name and rows on five days."""
    mysql_schema.execute(LOG_TABLE_DDL)
    for day, count in ROWS.items():
        fill_events(mysql_schema, day, count)
    mysql_schema.execute(f"RENAME TABLE `events` TO `{LONG}`")
    return mysql_schema


@pytest.fixture
def demo_url() -> Iterator[str]:
    """A uuid-named database for the demo; dropped afterwards."""
    name = f"dbat_demo_{uuid.uuid4().hex[:12]}"
    url = f"{ROOT_URL}/{name}"
    try:
        yield url
    finally:
        args = SourceSettings(url=url).connect_args()
        args.pop("database")
        conn = MySQLdb.connect(**args, autocommit=True)
        try:
            with conn.cursor() as cur:
                cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
        finally:
            conn.close()


def _count(schema: MySqlSchema, table: str, day: str | None = None) -> int:
    where = "" if day is None else " WHERE created_at >= %s AND created_at < %s + INTERVAL 1 DAY"
    (n,) = schema.execute(f"SELECT COUNT(*) FROM `{table}`{where}", None if day is None else (day, day))[0]  # fmt: skip
    return int(n)


# -- every command, redirected ---------------------------------------------------------------------
EVERY_COMMAND = [
    "dbarchive plan --date 2024-03-10",
    "dbarchive export --from 2024-03-08 --to 2024-03-12",
    f"dbarchive status --today {TODAY}",
    "dbarchive verify --from 2024-03-08 --to 2024-03-12",
    f"dbarchive purge --today {TODAY} --dry-run",
    f"dbarchive purge --today {TODAY}",
    f"dbarchive run --today {TODAY}",
    f"dbarchive restore -t {LONG} --date 2024-03-09 --into restored",
    f"dbarchive audit -t {LONG}",
    f"dbarchive erase -t {LONG} --where 'account_id = -1' --from 2024-03-08 --to 2024-03-12",
    f"dbarchive ddl -t {LONG} --engine athena",
    "dbarchive check",
    "dbarchive backfill --from 2024-03-11 --to 2024-03-12",
    f"dbarchive sql -t {LONG} --destination s3://archive-bucket/prod",  # prints, reaches no S3
    "dbarchive demo --rows-per-day 50 --days 2 --out demo-archive",
]
RECORD_COMMANDS = {"export", "verify", "purge", "run", "restore", "backfill"}
# They need an S3 bucket with Object Lock: test_worm.py runs them (hold, lifecycle).
NEEDS_OBJECT_LOCK = {"hold", "lifecycle"}


def test_every_command_redirected_to_a_file_prints_whole_plain_lines(
    long_table: MySqlSchema, tmp_path: Path, demo_url: str
) -> None:
    """Each command, its output redirected to files in an 80-column environment: exit 0, no
    box, no colour, nothing cut ("…"), no "None"; the 64-character table name whole wherever a
    table is named; result commands print one key=value line per table-day, the result first."""
    write_config(tmp_path, long_table, LONG)
    assert {shlex.split(line)[1] for line in EVERY_COMMAND} | NEEDS_OBJECT_LOCK == set(cli.commands)
    for line in EVERY_COMMAND:
        ran = run(tmp_path, line, DBARCHIVE_DEMO_URL=demo_url)
        command = ran.argv[1]
        assert ran.code == 0, (line, ran.stdout, ran.stderr)
        for text in (ran.stdout, ran.stderr):
            assert "…" not in text and "\x1b[" not in text, (line, text)
            assert not BOXES & set(text), (line, text)
            assert "None" not in text, (line, text)  # an unknown value is "-", never None
        if command != "demo":
            assert LONG in ran.stdout, (line, ran.stdout)
        if command in RECORD_COMMANDS and not (command == "purge" and "--dry-run" in line):
            records = ran.records()
            assert records and all(next(iter(r)) == "result" for r in records), line
            assert any(r.get("table") == LONG for r in records), line
    exported = run(tmp_path, "dbarchive export --date 2024-03-10")
    (record,) = exported.records()
    assert record["result"] == "unchanged" and record["table"] == LONG and record["rows"] == "37"
    assert len(exported.stdout.splitlines()[0]) > 80  # one line, not cut at the 80 columns


# -- --json on failure -------------------------------------------------------------------------------
def test_json_on_failure_is_one_error_object_naming_the_step_table_and_day(
    long_table: MySqlSchema, tmp_path: Path
) -> None:
    """A failing export or restore with --json prints exactly one JSON document on stdout:
    {"error": {code, cause, message, table, day, step}}; the one-line error stays on stderr."""
    write_config(tmp_path, long_table, "no_such_table")
    failed = run(tmp_path, "dbarchive export --date 2024-03-10 --json")
    assert failed.code == 3, failed.stderr
    error = json.loads(failed.stdout)["error"]
    assert (error["code"], error["cause"], error["step"]) == (3, "database", "export")
    assert (error["table"], error["day"]) == ("no_such_table", "2024-03-10")
    assert "no_such_table does not exist" in error["message"]
    assert failed.stderr.startswith("error: ") and error["message"] in failed.stderr

    write_config(tmp_path, long_table, LONG)
    missing = run(tmp_path, f"dbarchive restore -t {LONG} --date 2024-03-10 --json")
    assert missing.code == 5
    error = json.loads(missing.stdout)["error"]
    assert (error["code"], error["step"], error["table"], error["day"]) == (5, "restore", LONG, "2024-03-10")  # fmt: skip


def test_run_json_is_one_object_and_exits_with_the_cause(
    long_table: MySqlSchema, tmp_path: Path
) -> None:
    """`run --json` prints one object: tables, throttle and an error object per failure (with
    the step and day the table was on). One cause gives its code; two causes give 1."""
    extra = 'on_unarchived = "fail"\n'  # an expired day without archive fails verification
    write_config(tmp_path, long_table, LONG, extra=extra)
    one = run(tmp_path, f"dbarchive run --today {TODAY} --json")
    assert one.code == 5, one.stderr
    summary = json.loads(one.stdout)
    assert set(summary) == {"command", "ok", "tables", "throttle", "source_retries", "errors"}
    assert (summary["command"], summary["ok"]) == ("run", False)
    error, *others = summary["errors"]  # one per expired day: the purge goes on to the next
    assert (error["code"], error["cause"], error["table"]) == (5, "verification", LONG)
    assert (error["step"], error["day"]) == ("purge", "2024-03-08")  # the oldest expired day
    assert "on_unarchived = 'fail'" in error["message"]
    assert all(o["day"] > "2024-03-08" and o["code"] == 5 for o in others)
    assert [t["table"] for t in summary["tables"]] == [LONG]

    config = write_config(tmp_path, long_table, LONG, "no_such_table", extra=extra)
    two = run(tmp_path, f"dbarchive run --today {TODAY} --json")
    assert two.code == 1, two.stderr  # a verification failure and a missing table
    summary = json.loads(two.stdout)
    assert {(e["table"], e["code"]) for e in summary["errors"]} == {(LONG, 5), ("no_such_table", 3)}
    lines = two.stderr.splitlines()  # each failure once on stderr, named once
    assert any(line.startswith(f"{LONG} 2024-03-08: ") for line in lines), lines
    assert any("no_such_table does not exist" in line for line in lines), lines
    assert f"{LONG}: {LONG}" not in two.stderr
    assert config.exists()


# -- the newcomer's journey ----------------------------------------------------------------------------
JOURNEY = [
    "dbarchive check",
    "dbarchive plan --date 2024-03-09",
    "dbarchive export --from 2024-03-08 --to 2024-03-12",
    f"dbarchive status --today {TODAY}",
    "dbarchive verify --from 2024-03-08 --to 2024-03-12",
    f"dbarchive purge --today {TODAY} --dry-run",
    f"dbarchive purge --today {TODAY}",
    f"dbarchive status --today {TODAY}",
    "dbarchive restore -t events --date 2024-03-09 --into events_2024_03_09",
    "dbarchive ddl -t events --engine duckdb",
]


def test_newcomer_journey_as_typed(mysql_schema: MySqlSchema, tmp_path: Path) -> None:
    """The README's path, typed in a folder holding dbarchive.toml: every step exits 0 and says
    what a newcomer needs next; at the end the purged day is back in a table of its own and
    the DDL queries the archive in DuckDB."""
    import duckdb

    mysql_schema.execute(LOG_TABLE_DDL)
    for day, count in ROWS.items():
        fill_events(mysql_schema, day, count)
    write_config(tmp_path, mysql_schema, "events")
    out = []
    for line in JOURNEY:
        ran = run(tmp_path, line)
        assert ran.code == 0, (line, ran.stdout, ran.stderr)
        out.append(ran)
    assert out[0].stdout.startswith("ok      mysql: login")
    assert "events 2024-03-09: ~23 rows" in out[1].stdout
    assert [r["result"] for r in out[2].records()] == ["published"] * 5
    before, after = out[3].stdout, out[7].stdout
    assert "archived:  5 days: 2024-03-08 .. 2024-03-12; 95 rows" in before
    assert "purged:    none" in before
    assert [r["result"] for r in out[4].records()] == ["OK"] * 5
    assert "  2024-03-09: 23 rows would be verified and deleted" in out[5].stdout
    purged = [r for r in out[6].records() if r["result"] == "purged"]
    assert [(r["day"], r["rows"]) for r in purged] == [
        ("2024-03-08", "11"), ("2024-03-09", "23"), ("2024-03-10", "37")
    ]  # fmt: skip
    assert "purged:    3 days: 2024-03-08 .. 2024-03-10" in after
    (restored,) = out[8].records()
    assert (restored["result"], restored["written"]) == ("verified", "23")
    assert _count(mysql_schema, "events_2024_03_09") == 23
    assert _count(mysql_schema, "events", "2024-03-09") == 0
    con = duckdb.connect()
    con.execute(out[9].stdout)
    assert con.execute("SELECT count(*) FROM events").fetchone() == (95,)


# -- progress and Ctrl-C -----------------------------------------------------------------------------
def test_verify_and_restore_log_their_progress_off_a_terminal(
    long_table: MySqlSchema, tmp_path: Path
) -> None:
    """Off a terminal, verify and restore log lines with rows of the total, bytes and rate
    (DBARCHIVE_PROGRESS_SECONDS=0: one per chunk), then a finish line."""
    write_config(tmp_path, long_table, LONG)
    assert run(tmp_path, "dbarchive export --date 2024-03-10 -q").code == 0
    fast = {"DBARCHIVE_PROGRESS_SECONDS": "0"}
    verified = run(tmp_path, "dbarchive verify --date 2024-03-10", **fast)
    assert verified.code == 0, verified.stderr
    assert f"verify {LONG} 2024-03-10: 37 of 37 rows (100%)" in verified.stderr
    assert f"verify {LONG} 2024-03-10 finish: 37 rows" in verified.stderr
    restored = run(tmp_path, f"dbarchive restore -t {LONG} --date 2024-03-10 --into r", **fast)
    assert restored.code == 0, restored.stderr
    assert f"restore {LONG} 2024-03-10: 37 of 37 rows (100%)" in restored.stderr
    assert "rows/s" in restored.stderr
    assert run(tmp_path, "dbarchive verify --date 2024-03-10 -q").stderr == ""


def test_ctrl_c_in_verify_exits_6_and_names_the_days_left(
    long_table: MySqlSchema, tmp_path: Path
) -> None:
    """SIGINT while the second of three days is being verified: exit 6, the first day's result
    on stdout, and stderr says where it stopped and which days were not verified."""
    write_config(tmp_path, long_table, LONG)
    assert run(tmp_path, "dbarchive export --from 2024-03-08 --to 2024-03-10 -q").code == 0
    line = "dbarchive verify --from 2024-03-08 --to 2024-03-10"
    ran = run(tmp_path, line, DBARCHIVE_FAILPOINT="verify.chunk-digested:2:int")
    assert ran.code == 6, ran.stderr
    assert [(r["result"], r["day"]) for r in ran.records()] == [("OK", "2024-03-08")]
    assert (
        f"interrupted (Ctrl-C) while verifying {LONG} 2024-03-09 after 23 of 23 rows: 1 of 3 "
        f"table-days verified, not verified: {LONG} 2 days: 2024-03-09 .. 2024-03-10"
    ) in ran.stderr
    termed = run(tmp_path, line, DBARCHIVE_FAILPOINT="verify.chunk-digested:2:term")
    assert termed.code == 6, termed.stderr  # SIGTERM (a scheduler's stop) killed it silently
    assert f"interrupted (SIGTERM) while verifying {LONG} 2024-03-09" in termed.stderr
    assert "1 of 3 table-days verified" in termed.stderr
    stopped = run(tmp_path, line + " --json", DBARCHIVE_FAILPOINT="verify.chunk-digested:2:int")
    error = json.loads(stopped.stdout)["error"]  # with --json: only the error object
    assert (error["code"], error["cause"], error["step"], error["day"]) == (6, "stopped", "verify", "2024-03-09")  # fmt: skip


def test_ctrl_c_in_restore_stops_after_the_batch_exits_6_and_a_rerun_finishes(
    mysql_schema: MySqlSchema, tmp_path: Path
) -> None:
    """SIGINT after the first INSERT batch: exit 6, "1,000 of 2,500 rows … restored"; the same
    command again writes the other 1,500 and verifies the day."""
    mysql_schema.execute(LOG_TABLE_DDL)
    fill_events(mysql_schema, "2024-03-10", 2500)
    write_config(tmp_path, mysql_schema, "events")
    assert run(tmp_path, "dbarchive export --date 2024-03-10 -q").code == 0
    line = "dbarchive restore -t events --date 2024-03-10 --into copy"
    stopped = run(tmp_path, line, DBARCHIVE_FAILPOINT="restore.batch-inserted:1:int")
    assert stopped.code == 6, stopped.stderr
    assert (
        "stopped after the current chunk: received SIGINT: 1,000 of 2,500 rows of events "
        "2024-03-10 restored into copy; the same restore carries on"
    ) in stopped.stderr
    assert _count(mysql_schema, "copy") == 1000
    again = run(tmp_path, line)
    assert again.code == 0, again.stderr
    (record,) = again.records()
    assert (record["result"], record["written"], record["already_there"]) == ("verified", "1500", "1000")  # fmt: skip


# -- flags -------------------------------------------------------------------------------------------
def test_destination_overrides_the_config_for_one_call(
    long_table: MySqlSchema, tmp_path: Path
) -> None:
    """--destination writes (and reads) another archive for that call only."""
    write_config(tmp_path, long_table, LONG)
    other = tmp_path / "elsewhere"
    ran = run(tmp_path, f"dbarchive export --date 2024-03-10 --destination {other}")
    assert ran.code == 0, ran.stderr
    assert list(other.rglob("_manifest.json")) and not (tmp_path / "archive").exists()
    verified = run(tmp_path, f"dbarchive verify --date 2024-03-10 --destination {other}")
    assert [r["result"] for r in verified.records()] == ["OK"]
    empty = run(tmp_path, "dbarchive verify --date 2024-03-10")  # the config's archive: empty
    assert empty.code == 5 and "None" not in empty.stdout
    (record,) = empty.records()
    assert (record["result"], record["archived_rows"], record["database_rows"]) == (
        "FAIL",
        "-",
        "-",
    )
    assert record["details"] == f"{LONG} 2024-03-10: not archived (no manifest)"


def test_purge_before_narrows_the_purge_and_never_widens_it(
    long_table: MySqlSchema, tmp_path: Path
) -> None:
    """--before 2024-03-10 purges 03-08 and 03-09 only (dry-run JSON first); a day inside the
    retention window is refused with exit 2 and nothing changes."""
    write_config(tmp_path, long_table, LONG)
    dry = run(tmp_path, f"dbarchive purge --today {TODAY} --before 2024-03-10 --dry-run --json")
    assert dry.code == 0, dry.stderr
    (plan,) = json.loads(dry.stdout)["tables"]
    assert (plan["cutoff"], plan["before"], plan["rows"]) == ("2024-03-10", "2024-03-10", 34)
    assert [(d["day"], d["would_delete"]) for d in plan["days"]] == [
        ("2024-03-08", True),
        ("2024-03-09", True),
    ]
    inside = run(tmp_path, f"dbarchive purge --today {TODAY} --before 2024-03-12")
    assert inside.code == 2
    assert "--before 2024-03-12 is inside the retention window" in inside.stderr
    assert "keeps 2024-03-11 and later" in inside.stderr
    ran = run(tmp_path, f"dbarchive purge --today {TODAY} --before 2024-03-10")
    assert ran.code == 0, ran.stderr
    assert [r["day"] for r in ran.records() if r["result"] == "purged"] == ["2024-03-08", "2024-03-09"]  # fmt: skip
    assert _count(long_table, LONG, "2024-03-10") == 37  # expired, but not before the given day
    status = run(tmp_path, f"dbarchive status --today {TODAY}")
    assert "  purged:    2 days: 2024-03-08 .. 2024-03-09" in status.stdout
    assert "never archived" in status.stdout and ": 1 day: 2024-03-10" in status.stdout


def test_demo_says_it_recreates_payment_events_and_leaves_a_foreign_one_alone(
    tmp_path: Path, demo_url: str
) -> None:
    """The demo says it drops and recreates payment_events and ends with the next step; a
    payment_events it did not create stops it (exit 2) and keeps every row."""
    ran = run(tmp_path, "dbarchive demo --rows-per-day 50 --days 2", DBARCHIVE_DEMO_URL=demo_url)
    assert ran.code == 0, ran.stderr
    assert "payment_events" in ran.stderr and "(dropped and recreated)" in ran.stderr
    assert "(matches)" in ran.stdout
    assert (
        "Next: archive a table of your own. Write a config from examples/archive.toml" in ran.stdout
    )
    assert ran.stdout.rstrip().endswith("(what an export would do, touching nothing)")
    assert "[ledger] enabled = true" in ran.stdout and "dbarchive audit -c" in ran.stdout
    database = demo_url.rsplit("/", 1)[1]
    args = SourceSettings(url=demo_url).connect_args()
    conn = MySQLdb.connect(**args, autocommit=True)
    try:
        with conn.cursor() as cur:
            cur.execute("DROP TABLE payment_events")
            cur.execute("CREATE TABLE payment_events (id INT PRIMARY KEY)")
            cur.execute("INSERT INTO payment_events VALUES (1), (2)")
        refused = run(tmp_path, "dbarchive demo --days 2", DBARCHIVE_DEMO_URL=demo_url)
        assert refused.code == 2, refused.stderr
        assert f"the table payment_events of the database {database!r}" in refused.stderr
        assert "was not made by the demo, so nothing was changed" in refused.stderr
        with conn.cursor() as cur:
            cur.execute("SELECT COUNT(*) FROM payment_events")
            assert cur.fetchone() == (2,)
    finally:
        conn.close()


def test_a_refused_login_names_where_the_password_came_from(
    mysql_schema: MySqlSchema, tmp_path: Path
) -> None:
    """The hint names the setting that held the password: [source] url, the variable of
    password_env, or none at all; check prints no second, generic fix."""
    user = f"dbat_{uuid.uuid4().hex[:8]}"
    mysql_schema.execute(f"CREATE USER '{user}'@'127.0.0.1' IDENTIFIED BY 'right'")
    try:
        cases: list[tuple[str, dict[str, Any], str]] = [
            (f"mysql://{user}:wrong@127.0.0.1:3306/x", {}, "the password written in [source] url"),
            (f"mysql://{user}@127.0.0.1:3306/x", {"DBARCHIVE_MYSQL_PASSWORD": "wrong"},
             "the password in $DBARCHIVE_MYSQL_PASSWORD (the variable [source] password_env names)"),
            (f"mysql://{user}@127.0.0.1:3306/x", {"DBARCHIVE_MYSQL_PASSWORD": ""},
             "no password was sent: $DBARCHIVE_MYSQL_PASSWORD is not set"),
        ]  # fmt: skip
        for url, env, words in cases:
            (tmp_path / "dbarchive.toml").write_text(
                f'[source]\nurl = "{url}"\n[destination]\nurl = "{tmp_path / "a"}"\n'
                '[[tables]]\nname = "events"\ntimestamp_column = "created_at"\n'
            )
            ran = run(tmp_path, "dbarchive check", **env)
            assert ran.code == 3, ran.stdout
            assert words in ran.stdout and "wrong" not in ran.stdout + ran.stderr, ran.stdout
            assert "fix:" not in ran.stdout
    finally:
        mysql_schema.execute(f"DROP USER '{user}'@'127.0.0.1'")


def test_check_gives_a_missing_key_its_own_fix_not_a_grant(
    mysql_schema: MySqlSchema, tmp_path: Path
) -> None:
    """A table without a usable key: its own check (not the SELECT one, which passes) says to
    add a key, and offers no GRANT."""
    mysql_schema.execute("CREATE TABLE events (created_at DATETIME NOT NULL, KEY (created_at))")
    write_config(tmp_path, mysql_schema, "events")
    ran = run(tmp_path, "dbarchive check --no-purge")
    assert ran.code == 3, ran.stdout
    line = next(x for x in ran.stdout.splitlines() if "key and time index of events" in x)
    assert line.startswith("MISSING") and "add a primary key" in line
    assert "ok      mysql: SELECT on events: granted" in ran.stdout
    assert "GRANT" not in ran.stdout


def test_demo_in_iceberg_leaves_a_table_its_guide_reads(tmp_path: Path, demo_url: str) -> None:
    """`dbarchive demo --format iceberg`: the day is published, the database matches, and the
    guide's pyiceberg lines, run as printed, read the day's rows from the catalog."""
    ran = run(tmp_path, "dbarchive demo --format iceberg --rows-per-day 60 --days 2 --out ice",
              DBARCHIVE_DEMO_URL=demo_url)  # fmt: skip
    assert ran.code == 0, ran.stderr
    assert "(matches)" in ran.stdout
    lines = ran.stdout.splitlines()
    start = lines.index("Query the Iceberg table, e.g. with pyiceberg:") + 1
    code = "\n".join(line.strip() for line in lines[start : start + 3])
    scope: dict[str, object] = {}
    exec(code.replace(".to_arrow()", ".to_arrow().num_rows", 1).replace(  # noqa: S102
        'catalog.load_table("dbarchive.payment_events")', 'rows = catalog.load_table("dbarchive.payment_events")', 1
    ), scope)  # fmt: skip
    assert scope["rows"] == 60
