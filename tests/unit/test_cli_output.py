"""What the command line prints, without a database: records on a terminal and off it, progress,
exit codes, the --json error object, -v/-q placement, --version, --destination, status text."""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
from pathlib import Path

import pytest
from click.testing import CliRunner
from rich.console import Console

from dbarchive.cli import cli
from dbarchive.cli.failure import EXIT_CODES, TrackingReporter, combined_code
from dbarchive.cli.progress import PeriodicLogReporter, RichReporter
from dbarchive.cli.render import plain_line, print_records
from dbarchive.cli.reports import day_ranges, days_text, status_lines
from dbarchive.events import Event, NullReporter
from dbarchive.jobs.status import TableStatus
from dbarchive.sources.mysql import NoDayRows

LONG = "shop_line_item_events_with_a_name_as_long_as_mysql_allows_it_x64"  # 64 characters
RECORDS = [
    {"result": "published", "table": LONG, "day": dt.date(2026, 11, 24), "rows": 31_123_456,
     "bytes": 9_876_543_210, "seconds": 12.5, "note": None},
    {"result": "unchanged", "table": "t", "day": dt.date(2026, 11, 25), "rows": 0, "bytes": 0,
     "seconds": 0.0, "note": 'a "quoted" value = with spaces'},
]  # fmt: skip


def _console(terminal: bool, width: int = 80) -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, force_terminal=terminal, width=width, soft_wrap=True), out


# -- records ------------------------------------------------------------------------------------
def test_off_a_terminal_each_record_is_one_whole_key_value_line() -> None:
    """A file or a pipe gets one line per record, every value whole, numbers bare, None as "-",
    values with spaces or quotes as JSON strings; no box, no "…"."""
    console, out = _console(terminal=False, width=40)
    print_records(RECORDS, "title", console)
    lines = out.getvalue().splitlines()
    assert lines == [
        f"result=published table={LONG} day=2026-11-24 rows=31123456 bytes=9876543210 "
        "seconds=12.50 note=-",
        "result=unchanged table=t day=2026-11-25 rows=0 bytes=0 seconds=0.00 "
        'note="a \\"quoted\\" value = with spaces"',
    ]
    assert len(lines[0]) > 80


def test_a_plain_line_reads_back_with_shlex() -> None:
    """The quoting is the shell's and logfmt's: shlex gives back every key and value."""
    import shlex

    record = {"result": "FAIL", "details": "t 2026-01-01: the database holds 3 rows, archive 2"}
    assert shlex.split(plain_line(record)) == [
        "result=FAIL",
        "details=t 2026-01-01: the database holds 3 rows, archive 2",
    ]


def test_on_a_terminal_the_result_column_comes_first_and_nothing_is_cut() -> None:
    """A narrow terminal gets a table whose first column is the result; long values fold onto
    more lines instead of ending in "…", and short ones (results, numbers, days) stay whole."""
    console, out = _console(terminal=True, width=60)
    print_records(RECORDS, "dbarchive export", console)
    text = out.getvalue()
    assert "…" not in text
    header = next(line for line in text.splitlines() if "result" in line)
    assert header.index("result") < header.index("table") < header.index("day")
    assert _column(text, 1) == LONG + "t"  # the table column, read down, holds every name
    for whole in ("published", "unchanged", "2026-11-24", "31,123,456", "9,876,543,210"):
        assert whole in text


def _column(text: str, index: int) -> str:
    """The cells of one column of a rich table, read top to bottom (folded cells rejoined)."""
    cells = [line.split("│")[index + 1].strip() for line in text.splitlines() if "│" in line]
    return "".join(cells)


def test_details_go_under_the_table_on_a_terminal_and_on_the_line_otherwise() -> None:
    """A long problem text is printed whole: after the table on a terminal, as the last pair
    of its line in a file (and left out when there is none)."""
    records = [
        {"result": "FAIL", "table": "t", "day": "2026-01-01", "details": "t 2026-01-01: " + "x" * 150},
        {"result": "OK", "table": "t", "day": "2026-01-02", "details": None},
    ]  # fmt: skip
    console, out = _console(terminal=True, width=60)
    print_records(records, "verify", console, details="details")
    assert ("t 2026-01-01: " + "x" * 150) in out.getvalue()
    console, out = _console(terminal=False)
    print_records(records, "verify", console, details="details")
    first, second = out.getvalue().splitlines()
    assert first.endswith(f'details="t 2026-01-01: {"x" * 150}"')
    assert "details" not in second


# -- progress -----------------------------------------------------------------------------------
class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_off_a_terminal_progress_is_a_log_line_every_interval(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Start and finish are logged; in between, a line with rows of the total, bytes, rate and
    time left at most every interval seconds (not one per chunk)."""
    clock = _Clock()
    reporter = PeriodicLogReporter(interval=10, clock=clock)
    caplog.set_level(logging.INFO, logger="dbarchive")
    reporter.emit(Event("verify", "events", "2026-11-24", "start", total_rows=2_000_000))
    for second, rows in ((4, 100_000), (11, 400_000), (15, 500_000), (22, 800_000)):
        clock.now = second
        reporter.emit(Event("verify", "events", "2026-11-24", "chunk", rows, rows * 10, 2_000_000))
    lines = [r.getMessage() for r in caplog.records if ": chunk" not in r.getMessage()]
    progress = [line for line in lines if "rows/s" in line]
    assert progress == [
        "verify events 2026-11-24: 400,000 of 2,000,000 rows (20%), 4.0 MB, 36,364 rows/s, "
        "44 s left",
        "verify events 2026-11-24: 800,000 of 2,000,000 rows (40%), 8.0 MB, 36,364 rows/s, "
        "33 s left",
    ]


def test_the_purge_bar_takes_its_total_from_the_first_chunk() -> None:
    """The purge's start event knows no total; its chunks carry the day's rows: the bar then
    has a total (and so a percentage and a time left)."""
    console, _out = _console(terminal=True)
    bar = RichReporter(console)
    try:
        bar.emit(Event("purge", "events", "2026-01-01", "start"))
        assert bar._progress.tasks[0].total is None
        bar.emit(Event("purge", "events", "2026-01-01", "chunk", 1000, 0, total_rows=5000))
        assert (bar._progress.tasks[0].completed, bar._progress.tasks[0].total) == (1000, 5000)
    finally:
        bar.close()


def test_the_tracker_knows_where_a_command_is_and_how_far_each_step_got() -> None:
    """Each start moves "where" (the error object's step, table, day); the latest event of
    each step says how far it got (what an interrupted restore reports)."""
    tracker = TrackingReporter(NullReporter())
    tracker.emit(Event("restore", "events", "2026-01-01", "start", total_rows=2_000_000))
    tracker.emit(Event("restore", "events", "2026-01-01", "chunk", 187_000, 0, 2_000_000))
    assert (tracker.where.step, tracker.where.table, tracker.where.day) == (
        "restore",
        "events",
        "2026-01-01",
    )
    assert tracker.latest[("restore", "events", "2026-01-01")].rows == 187_000


def test_purge_output_is_titled_purge_and_run_output_run(monkeypatch: pytest.MonkeyPatch) -> None:
    """On a terminal the summary table is titled by the command that ran, result first."""
    from dbarchive.cli import reports
    from dbarchive.jobs.daily import TableReport
    from dbarchive.throttle import ThrottleStats

    class _Throttle:
        stats = ThrottleStats()

    for command in ("purge", "run"):
        console, out = _console(terminal=True, width=120)
        monkeypatch.setattr(reports, "stdout_console", lambda console=console: console)
        reports.print_reports([TableReport("events")], command, _Throttle())
        text = out.getvalue()
        assert f"dbarchive {command}" in text and "dbarchive run: " not in text
        header = next(line for line in text.splitlines() if "result" in line)
        assert header.index("result") < header.index("table")


# -- exit codes and errors ----------------------------------------------------------------------
def test_exit_codes_are_one_per_cause() -> None:
    """Failures of one cause give its code; of several causes, 1; none, 0."""
    assert combined_code([]) == 0
    assert combined_code([0, 5, 5]) == 5
    assert combined_code([3, 5]) == 1
    assert sorted(EXIT_CODES) == list(range(10))


@pytest.mark.parametrize("command", sorted(cli.commands))
def test_every_help_lists_the_exit_codes_and_takes_v_and_q(command: str) -> None:
    """`dbarchive CMD --help` ends with the exit-code table and offers -v and -q."""
    result = CliRunner().invoke(cli, [command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Exit codes:" in result.stdout
    words = " ".join(result.stdout.split())
    for code, (_name, text) in EXIT_CODES.items():
        assert f"{code} {text}" in words
    assert "-v, --verbose" in result.stdout and "-q, --quiet" in result.stdout


@pytest.mark.parametrize("args", [["status", "-v", "-q"], ["-v", "-q", "status"]])
def test_v_and_q_work_before_and_after_the_subcommand(args: list[str], tmp_path: Path) -> None:
    """-v/-q are accepted on either side of the subcommand (here it then stops at the missing
    config, exit 2, not at an unknown option)."""
    result = CliRunner().invoke(cli, [*args, "-c", str(tmp_path / "missing.toml")])
    assert result.exit_code == 2, result.output
    assert "config file not found" in result.stderr


def test_json_failure_is_an_error_object_on_stdout(tmp_path: Path) -> None:
    """With --json a failure prints {"error": {code, cause, message, table, day, step}} on
    stdout (the one line on stderr stays, for people and cron)."""
    missing = tmp_path / "missing.toml"
    result = CliRunner().invoke(cli, ["status", "-c", str(missing), "--json"])
    assert result.exit_code == 2
    error = json.loads(result.stdout)["error"]
    assert error == {
        "code": 2,
        "cause": "config",
        "message": f"{missing}: config file not found; pass --config PATH",
        "table": None,
        "day": None,
        "step": None,
    }
    assert result.stderr.startswith("error: ")


def test_json_usage_error_is_an_error_object_too() -> None:
    """A mistyped option with --json: the error object (code 2) on stdout, click's usage on
    stderr."""
    result = CliRunner().invoke(cli, ["verify", "--json", "--no-such-option"])
    assert result.exit_code == 2
    error = json.loads(result.stdout)["error"]
    assert (error["code"], error["cause"]) == (2, "config")
    assert "--no-such-option" in error["message"]
    assert "Usage:" in result.stderr


def test_version_says_whether_the_c_speedups_are_loaded(monkeypatch: pytest.MonkeyPatch) -> None:
    """--version names the speedups this process loaded; switched off, it says so."""
    from dbarchive.runtime.native import load_extension

    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0
    built = load_extension("_speedups") is not None
    assert ("C speedups: loaded (_speedups" in result.stdout) == built
    monkeypatch.setenv("DBARCHIVE_PURE_PYTHON", "1")
    result = CliRunner().invoke(cli, ["--version"])
    assert "C speedups: off (DBARCHIVE_PURE_PYTHON=1)" in result.stdout


def test_a_bad_destination_override_is_a_config_error_naming_it(tmp_path: Path) -> None:
    """--destination is validated like the config's url, and the error says it came from
    --destination; nothing is contacted."""
    config = tmp_path / "archive.toml"
    config.write_text(
        '[source]\nurl = "mysql://u@127.0.0.1:1/db"\n[destination]\nurl = "/tmp/a"\n'
        '[[tables]]\nname = "events"\ntimestamp_column = "created_at"\n'
    )
    result = CliRunner().invoke(
        cli, ["status", "-c", str(config), "--destination", "ftp://elsewhere/x"]
    )
    assert result.exit_code == 2, result.output
    assert f"{config} with --destination: invalid configuration" in result.stderr
    assert "destination.url: must be s3://bucket/prefix" in result.stderr


# -- status ---------------------------------------------------------------------------------------
def _days(first: str, count: int) -> list[dt.date]:
    start = dt.date.fromisoformat(first)
    return [start + dt.timedelta(days=i) for i in range(count)]


def test_days_fold_into_ranges() -> None:
    days = [*_days("2026-01-01", 3), dt.date(2026, 1, 5), *_days("2026-01-31", 2)]
    assert day_ranges(days) == [
        (dt.date(2026, 1, 1), dt.date(2026, 1, 3)),
        (dt.date(2026, 1, 5), dt.date(2026, 1, 5)),
        (dt.date(2026, 1, 31), dt.date(2026, 2, 1)),
    ]
    assert (
        days_text(days) == "6 days: 2026-01-01 .. 2026-01-03, 2026-01-05, 2026-01-31 .. 2026-02-01"
    )
    assert days_text([dt.date(2026, 1, 5)]) == "1 day: 2026-01-05"
    assert days_text([]) == "none"


def test_status_text_has_ranges_plurals_restored_and_expired_unarchived_days() -> None:
    """Sixty pending days are one range; one archived day is "1 day", "1 row"; restored and
    expired-but-never-archived days have their own lines; an empty table says so."""
    status = TableStatus(
        table="events",
        retention="60 days",
        cutoff=dt.date(2026, 1, 1),
        oldest_day=None,
        archived_days=[dt.date(2025, 12, 1)],
        archived_rows=1,
        archived_bytes=2,
        purged_days=[],
        partial_days=[],
        pending_days=_days("2026-01-01", 60),
        restored_days=[dt.date(2025, 11, 30)],
        no_day=NoDayRows("created_at", 0, []),
        expired_unarchived_days=_days("2025-11-01", 3),
    )
    assert status_lines(status) == [
        "events: retention 60 days (keeps 2026-01-01 and later); oldest row in the database: "
        "none (none to archive: the table, or its where filter, holds none)",
        "  archived:  1 day: 2025-12-01; 1 row, 2 bytes",
        "  purged:    none",
        "  restored into the table after their purge: 1 day: 2025-11-30",
        "  expired, never archived (a purge archives them before it deletes; with "
        'on_unarchived = "fail" it stops there): 3 days: 2025-11-01 .. 2025-11-03',
        "  pending:   60 days: 2026-01-01 .. 2026-03-01",
    ]


def test_check_config_only_validates_and_contacts_nothing(tmp_path: Path) -> None:
    """`check --config-only` (a DAGs repository's CI step): a valid config exits 0 listing its
    tables although its database and bucket are unreachable (port 1: a probe would fail); a
    broken one exits 2 naming the field; an unknown -t exits 2 too."""
    good = tmp_path / "good.toml"
    good.write_text(
        '[source]\nurl = "mysql://u@127.0.0.1:1/db"\n'
        '[destination]\nurl = "s3://nowhere/p"\nendpoint_url = "http://127.0.0.1:1"\n'
        '[[tables]]\nname = "events"\ntimestamp_column = "created_at"\n'
        '[[tables]]\nname = "api_log"\ntimestamp_column = "at"\n'
    )
    runner = CliRunner()
    ok = runner.invoke(cli, ["check", "-c", str(good), "--config-only"])
    assert ok.exit_code == 0, ok.output
    assert "ok      config: 2 table(s) (events, api_log) to s3://nowhere/p" in ok.output
    as_json = runner.invoke(cli, ["check", "-c", str(good), "--config-only", "--json"])
    assert json.loads(as_json.output) == {
        "ok": True, "tables": ["events", "api_log"], "destination": "s3://nowhere/p"
    }  # fmt: skip
    unknown = runner.invoke(cli, ["check", "-c", str(good), "--config-only", "-t", "nope"])
    assert unknown.exit_code == 2
    bad = tmp_path / "bad.toml"
    bad.write_text(good.read_text() + '[defaults]\ncompression = "lz4"\n')
    broken = runner.invoke(cli, ["check", "-c", str(bad), "--config-only"])
    assert broken.exit_code == 2
    assert "compression" in broken.output


def test_a_day_cut_short_is_called_partly_purged() -> None:
    """A stop during the last day, or a day failing after some deletes, left rows of it:
    `result=purged` said otherwise (an outside trial; `status` said "partly purged")."""
    from dbarchive.cli.reports import day_records
    from dbarchive.jobs.table_report import TableReport
    from dbarchive.steps.purge import PurgeResult

    def day(d: int) -> PurgeResult:
        return PurgeResult("t", dt.date(2026, 9, d), 10, 0, 1, 0, 0.1, 0.1, 0.1)

    report = TableReport("t", purged=[day(1), day(2), day(3)], stopped="received SIGTERM")
    report.fail("t 2026-09-02: a file changed", 5, dt.date(2026, 9, 2))
    assert [r["result"] for r in day_records(report)] == [
        "purged",
        "partly purged",
        "partly purged",
    ]
    assert [r["result"] for r in day_records(TableReport("t", purged=[day(1)]))] == ["purged"]


def test_an_error_line_names_its_table_and_day_once() -> None:
    """ "error: column 'zd' holds a value Parquet cannot store …" did not say of which table or
    day (only --json did), and purge printed "t_bad: t_bad: the row …" (an outside trial): a
    line is led by its table and day unless it names the table already."""
    from dbarchive.cli.failure import led_by

    bare = "column 'zd' holds a value Parquet cannot store"
    assert led_by("t", "2026-12-01", bare) == f"t 2026-12-01: {bare}"
    assert led_by("t_bad", None, "t_bad: the row with id = 2") == "t_bad: the row with id = 2"
    assert led_by("events", "2026-12-01", "events 2026-12-01: x") == "events 2026-12-01: x"
    assert led_by(None, None, "bad option") == "bad option"
    assert led_by("t", None, "no table") == "t: no table"
