"""The latency budget on the real server: a user-named probe query reads a delay from a small
table the test controls (``SELECT SLEEP(d) FROM probe_delay``); making it slow makes the purge
slow down, making it fast again lets it recover. InnoDB's history list length pauses the purge
too. The tests assert on the throttle's decisions, never on the machine's speed: each change of
the delay is made on an event (a chunk, a decision) and waits for the probe to have seen it."""

from __future__ import annotations

import datetime as dt
import gc
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import MySQLdb
import pytest

from dbarchive import api, build_context, export_day, load_job
from dbarchive.build import build_throttle
from dbarchive.checks import run_checks
from dbarchive.clock import FixedClock
from dbarchive.config import SourceSettings
from dbarchive.errors import SourceError, StopRequested
from dbarchive.events import Event
from dbarchive.jobs.daily import TableReport, purge_table
from dbarchive.sources.latency_probe import ProbeProcess
from dbarchive.sources.mysql import MySqlSource
from dbarchive.sources.probes import MySqlLoadProbe
from dbarchive.sources.redo_log import age_from_innodb_status
from dbarchive.throttle import Throttle
from tests.integration.helpers import LOG_TABLE_DDL, fill_events
from tests.integration.mysql_fixtures import MySqlSchema, mysql_schema  # noqa: F401

pytestmark = pytest.mark.integration

TODAY = dt.date(2026, 12, 15)


@pytest.fixture(autouse=True)
def _clock_on_today(monkeypatch: pytest.MonkeyPatch) -> None:
    """The clock on TODAY's morning (``--today`` may not be later than the clock's today)."""
    monkeypatch.setenv("DBARCHIVE_NOW", "2026-12-15T06:00:00+00:00")


CUTOFF = dt.date(2026, 11, 15)  # TODAY - 30 days: the first kept day
EXPIRED_DAYS = [CUTOFF - dt.timedelta(days=n) for n in range(3, 0, -1)]
ROWS_PER_DAY = 3000
SLOW = 0.5  # seconds each probe sleeps while the test slows the "server" down
# The budget: twice the baseline, never under 200 ms. The floor keeps this shared, busy test
# machine's scheduling noise (idle p99s of 2 to 25 ms) from counting as the server slowing down.
# max_rate holds the purge near 2000 rows/s, so it cannot finish before the test has seen it
# recover (the cap then grows x1.5 to 3/4 of the rate that was over, then by 2000 / 20 per window
# of fresh probes with headroom).
BUDGET = {
    "latency_budget": 2.0,
    "max_rate": 2000.0,
    "probe_floor_ms": 200.0,
    "probe_query": "SELECT SLEEP(d) FROM probe_delay",
    "probe_interval": 0.02,
    "probe_window": 0.5,
    "check_interval": 0.05,
    "min_chunk_rows": 50,
    "max_chunk_rows": 200,
    "max_pause": 120.0,
    # These tests are about the probe: the redo log ceiling a budget sets by default is off, so
    # that another test's burst of writes cannot add a "redo" pause to the decisions they count.
    "max_redo_fill": 1.0,
}


def _prepare(schema: MySqlSchema, tmp_path: Path, **throttle: object) -> Path:
    """3 expired days of 3000 rows, archived; the probe's delay table at 0 s; the config."""
    schema.execute(LOG_TABLE_DDL)
    for day in EXPIRED_DAYS:
        fill_events(schema, day.isoformat(), ROWS_PER_DAY)
    schema.execute("CREATE TABLE probe_delay (d DOUBLE NOT NULL)")
    schema.execute("INSERT INTO probe_delay VALUES (0)")
    lines = "".join(f"{k} = {json.dumps(v)}\n" for k, v in throttle.items())
    config = tmp_path / "job.toml"
    config.write_text(
        f'[source]\nurl = "{schema.url}"\n\n[destination]\nurl = "{tmp_path / "archive"}"\n\n'
        '[defaults]\nretention = "30 days"\n\n'
        f"[throttle]\n{lines}\n"
        '[[tables]]\nname = "events"\ntimestamp_column = "created_at"\n'
    )
    ctx = build_context(load_job(config))
    try:
        for day in EXPIRED_DAYS:
            assert export_day(ctx, ctx.job.tables[0], day).rows == ROWS_PER_DAY
    finally:
        ctx.source.close()
    return config


def _expired(schema: MySqlSchema) -> int:
    (count,) = schema.execute(
        "SELECT COUNT(*) FROM events WHERE created_at < %s", (CUTOFF.isoformat(),)
    )[0]
    return int(count)


def _wait_until(condition: Any, what: str, timeout: float = 60.0) -> None:
    """Poll an event (not a duration): fail if it has not happened within ``timeout``."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what} did not happen within {timeout:.0f}s"
        time.sleep(0.01)


class _Operator:
    """The test's hand on the server: slows the probe at the purge's 3rd chunk (once the probe
    has seen it), makes it fast again when the purge pauses for latency, and asks the purge to
    stop after it has sped up twice since."""

    def __init__(self, schema: MySqlSchema) -> None:
        self.schema = schema
        self.throttle: Throttle | None = None
        self.chunks = 0
        self.decisions: list[dict[str, Any]] = []
        self.slowed_at_chunk: int | None = None
        self.recovered = False

    def emit(self, event: Event) -> None:
        if event.step == "purge" and event.kind == "chunk":
            self.chunks += 1
            if self.chunks == 3:
                self._slow_down()
        elif event.kind == "throttle":
            self.decisions.append({**event.data, "chunk": self.chunks})
            if (event.data["action"], event.data["reason"]) == ("pause", "latency"):
                self._set_delay(0.0)
                self.recovered = True
            if self.recovered and [d["action"] for d in self.decisions].count("faster") == 2:
                assert self.throttle is not None
                self.throttle.stop.request("the test saw the recovery")

    def _slow_down(self) -> None:
        """Every probe from now on sleeps SLOW; return once the throttle's probe shows it."""
        assert self.throttle is not None and self.throttle.budget is not None
        budget = self.throttle.budget
        self._set_delay(SLOW)
        self.slowed_at_chunk = self.chunks
        limit = budget.limit_ms
        assert limit is not None and limit < SLOW * 1000
        _wait_until(
            lambda: budget.reading(time.monotonic()).over(limit), "the probe seeing the delay"
        )

    def _set_delay(self, seconds: float) -> None:
        self.schema.execute("UPDATE probe_delay SET d = %s", (seconds,))


def test_a_slow_probe_slows_the_purge_down_then_it_recovers(
    mysql_schema: MySqlSchema, tmp_path: Path
) -> None:
    """probe_query reads its delay from probe_delay: 0 s while the baseline is measured, 0.5 s
    from the 3rd chunk → the very next chunk boundary cuts the rate (a strict budget then pauses
    the purge); back to 0 s → it resumes, at the lower rate, and speeds up step by step."""
    config = _prepare(mysql_schema, tmp_path, **BUDGET)
    operator = _Operator(mysql_schema)
    ctx = build_context(load_job(config), reporter=operator)
    throttle = build_throttle(ctx)
    operator.throttle = throttle
    report = TableReport("events")
    try:
        with pytest.raises(StopRequested, match="the test saw the recovery"):
            purge_table(ctx, ctx.job.tables[0], TODAY, throttle, report)
    finally:
        throttle.close()
        ctx.source.close()
    actions = [(d["action"], d["reason"]) for d in operator.decisions]
    assert actions[0] == ("baseline", "latency")
    baseline = operator.decisions[0]
    assert baseline["limit_ms"] == 200.0  # 2 x a baseline of a few ms is under the floor
    # Nothing before the slowdown; the chunk after it: the cut, then the pause until recovery.
    slowed = operator.slowed_at_chunk
    assert slowed == 3
    first_after = next(i for i, d in enumerate(operator.decisions) if d["chunk"] >= slowed)
    assert actions[1:first_after] == []
    cut, pause = operator.decisions[first_after : first_after + 2]
    assert (cut["action"], cut["reason"], cut["chunk"]) == ("slower", "latency", slowed)
    assert (pause["action"], pause["reason"]) == ("pause", "latency")
    assert "> limit 200.00 ms" in cut["message"]
    later = actions[first_after + 2 :]
    assert ("resume", "latency") in later
    resumed = later.index(("resume", "latency"))
    assert later[resumed + 1 :].count(("faster", "headroom")) == 2
    rates = [d["rate"] for d in operator.decisions[first_after:] if d["action"] == "faster"]
    assert cut["rate"] < rates[0] < rates[1]  # recovering from the cut, step by step
    assert throttle.stats.reasons["latency"] == 1  # one pause, decided on the probe's p99
    assert 0 < _expired(mysql_schema) < len(EXPIRED_DAYS) * ROWS_PER_DAY  # deleted, then stopped


def test_history_list_length_reads_the_server(mysql_schema: MySqlSchema) -> None:
    """history_length() reads InnoDB's trx_rseg_history_len: while an old snapshot is held, the
    undo of every later commit stays in the list."""
    mysql_schema.execute("CREATE TABLE t (id INT PRIMARY KEY, v INT)")
    mysql_schema.execute("INSERT INTO t VALUES (1, 0)")
    settings = SourceSettings(url=mysql_schema.url)
    holder = MySQLdb.connect(**settings.connect_args())
    source = MySqlSource(settings)
    try:
        with holder.cursor() as cur:
            cur.execute("START TRANSACTION WITH CONSISTENT SNAPSHOT")
            cur.execute("SELECT * FROM t")
        for i in range(20):
            mysql_schema.execute("UPDATE t SET v = %s WHERE id = 1", (i,))
        assert MySqlLoadProbe(source).history_length() >= 20
    finally:
        holder.rollback()
        holder.close()
        source.close()


def test_redo_fill_reads_the_server(mysql_schema: MySqlSchema) -> None:
    """redo_fill() is the checkpoint age over the redo log's size as the server reports them
    (MariaDB: Innodb_checkpoint_age over innodb_log_file_size), and the LOG section of SHOW
    ENGINE INNODB STATUS, the fallback for servers without the variable, says the same."""
    mysql_schema.execute("CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(200))")
    mysql_schema.execute("INSERT INTO t SELECT seq, REPEAT('x', 200) FROM seq_1_to_2000")
    source = MySqlSource(SourceSettings(url=mysql_schema.url))
    try:
        fill = MySqlLoadProbe(source).redo_fill()
        age = int(source.query("SHOW GLOBAL STATUS LIKE 'Innodb_checkpoint_age'")[0][1])
        from_text = age_from_innodb_status(source.query("SHOW ENGINE INNODB STATUS")[0][2])
        size = int(source.query("SELECT @@innodb_log_file_size")[0][0])
    finally:
        source.close()
    assert fill is not None and 0 <= fill < 1
    assert fill == pytest.approx(age / size, abs=0.02)  # read a moment apart: other writers
    assert from_text is not None and from_text / size == pytest.approx(age / size, abs=0.02)


def test_a_redo_log_over_max_redo_fill_holds_the_purge_before_it_deletes(
    mysql_schema: MySqlSchema, tmp_path: Path
) -> None:
    """The purge reads the redo log's fill before its first chunk: over max_redo_fill (a share
    no server's log is ever under: its checkpoint record alone is newer than the checkpoint)
    it pauses and, after max_pause, stops cleanly (exit 6) saying why, having deleted nothing."""
    config = _prepare(mysql_schema, tmp_path, max_redo_fill=1e-9, max_pause=0.3)
    env = {**os.environ, "DBARCHIVE_NOW": "2026-12-15T12:00:00+00:00"}
    result = subprocess.run(
        [sys.executable, "-m", "dbarchive", "purge", "-c", str(config), "-v"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 6, result.stderr
    pause = r"throttle pause \(redo\): redo log \d+% full[^\n]* > max_redo_fill=1e-09: waiting"
    assert re.search(pause, result.stderr), result.stderr
    assert "max_redo_fill=1e-09: waiting for the server to flush); giving up" in result.stderr
    assert _expired(mysql_schema) == len(EXPIRED_DAYS) * ROWS_PER_DAY


def test_check_reads_the_redo_log_fill_the_throttle_will_watch(
    mysql_schema: MySqlSchema, tmp_path: Path
) -> None:
    """`check` reads the fill where the throttle will (max_redo_fill, or a budget's default of
    half the log), and says nothing of it where nothing watches it."""
    config = _prepare(mysql_schema, tmp_path, max_redo_fill=0.9)
    ctx = build_context(load_job(config))
    try:
        results = {r.name: r for r in run_checks(ctx, list(ctx.job.tables), storage=False)}
    finally:
        ctx.source.close()
    redo = results["mysql: redo log fill"]
    assert redo.ok and not redo.warning
    assert re.fullmatch(r"\d+% full, pausing above 90%", redo.detail)

    plain_config = tmp_path / "plain.toml"
    plain_config.write_text(config.read_text().replace("max_redo_fill = 0.9\n", ""))
    plain = build_context(load_job(plain_config))
    try:
        names = [r.name for r in run_checks(plain, list(plain.job.tables), storage=False)]
    finally:
        plain.source.close()
    assert "mysql: redo log fill" not in names and "mysql: server accepts deletes" in names


def test_cli_reports_time_throttled_by_reason_and_logs_decisions_with_v(
    mysql_schema: MySqlSchema, tmp_path: Path
) -> None:
    """`purge --json -v` with max_rate and a budget: every row deleted; the JSON's throttle says
    the time throttled by reason (max_rate pacing), the baseline and the limit; -v logs each
    decision with its reason on stderr."""
    settings = {**BUDGET, "probe_window": 0.3}
    config = _prepare(mysql_schema, tmp_path, **settings)
    env = {**os.environ, "DBARCHIVE_NOW": "2026-12-15T12:00:00+00:00"}
    result = subprocess.run(
        [sys.executable, "-m", "dbarchive", "purge", "-c", str(config), "--json", "-v"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    stats = summary["throttle"]
    assert "max_rate" in stats["seconds_by_reason"]  # chunks were paced by the cap (a decision)
    assert stats["limit_ms"] == 200.0 and 0 < stats["baseline_ms"] < 100.0
    assert "throttle baseline (latency): probe baseline p99" in result.stderr
    assert _expired(mysql_schema) == 0


def test_with_a_budget_the_export_command_is_paced_too(
    mysql_schema: MySqlSchema, tmp_path: Path
) -> None:
    """`dbarchive export` with a budget reads as `run` does: the probe's baseline comes before
    the first chunk (logged with -v) and the rows still all arrive. Without the budget wired into
    the command, no probe starts and no baseline is logged. Its summary ends, as run's does, with
    what the throttle did: the time paced by max_rate, the baseline and the limit."""
    config = _prepare(mysql_schema, tmp_path, **{**BUDGET, "probe_window": 0.3})
    env = {**os.environ, "DBARCHIVE_NOW": "2026-12-15T12:00:00+00:00"}

    def export(*options: str) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [sys.executable, "-m", "dbarchive", "export", "-c", str(config), *options],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert result.returncode == 0, result.stderr
        return result

    result = export("--date", str(EXPIRED_DAYS[0]), "--json", "-v")
    (summary,) = json.loads(result.stdout)
    assert summary["rows"] == ROWS_PER_DAY
    assert "throttle baseline (latency): probe baseline p99" in result.stderr
    *days, throttle = export("--date", str(EXPIRED_DAYS[1])).stdout.splitlines()
    assert len(days) == 1 and f"rows={ROWS_PER_DAY}" in days[0]
    assert throttle.startswith("result=throttle ") and "limit_ms=200.0" in throttle
    assert "max_rate_seconds=" in throttle


def test_with_a_budget_the_daily_export_is_paced_too(
    mysql_schema: MySqlSchema, tmp_path: Path
) -> None:
    """A latency budget covers the daily export's reads as well as the purge: its chunks start
    after the probe's baseline and keep to max_rate (time throttled by max_rate), and each read
    is no bigger than the cap allows (max_chunk_rows 200 here, not chunk_rows 500): at a low
    rate, small reads often, not a burst of a whole chunk and then a long wait."""
    day = dt.date(2026, 12, 14)
    mysql_schema.execute(LOG_TABLE_DDL)
    fill_events(mysql_schema, day.isoformat(), ROWS_PER_DAY)
    mysql_schema.execute("CREATE TABLE probe_delay (d DOUBLE NOT NULL)")
    mysql_schema.execute("INSERT INTO probe_delay VALUES (0)")
    lines = "".join(f"{k} = {json.dumps(v)}\n" for k, v in BUDGET.items())
    config = tmp_path / "job.toml"
    config.write_text(
        f'[source]\nurl = "{mysql_schema.url}"\n\n[destination]\nurl = "{tmp_path / "a"}"\n\n'
        '[defaults]\nretention = "30 days"\nchunk_rows = 500\n\n'
        f"[throttle]\n{lines}\n"
        '[[tables]]\nname = "events"\ntimestamp_column = "created_at"\n'
    )
    now = dt.datetime(2026, 12, 15, 12, tzinfo=dt.UTC)
    ctx = build_context(load_job(config), wall_clock=FixedClock(now))
    throttle = api.throttle_for(ctx)
    try:
        (report,) = api.run(ctx, export=True, purge=False, stopping=throttle)
    finally:
        throttle.close()
        ctx.source.close()
    assert [(e.day, e.rows) for e in report.exported] == [(day, ROWS_PER_DAY)]
    assert throttle.decisions[0].action == "baseline"
    assert "max_rate" in throttle.stats.seconds_by_reason  # the reads were paced by the cap
    reads = ctx.source.counters.chunk_sql
    assert ctx.source.counters.max_chunk_rows == 200
    assert len(reads) >= ROWS_PER_DAY // 200 and all(r.endswith("LIMIT 200") for r in reads)


def test_probe_process_times_probes_and_ends_with_its_owner(mysql_schema: MySqlSchema) -> None:
    """The probe's own process reports probes on the shared monotonic clock; a failing
    probe_query is a SourceError naming it; a probe dropped without close() takes its process
    with it (nothing is left running)."""
    settings = SourceSettings(url=mysql_schema.url)
    probe = ProbeProcess(settings, "SELECT 1", interval=0.01, window=1.0)
    started = time.monotonic()
    probe.start()
    deadline = time.monotonic() + 60
    while len(values := probe.samples(started, time.monotonic())[0]) < 5:
        assert time.monotonic() < deadline, "five probes did not come within 60s"
        time.sleep(0.01)
    # 0 is a probe that took no more than its wait for a CPU (probe_worker.timed subtracts
    # it): CI's load once gave one, and "0 <" failed at random
    assert all(0 <= v < time.monotonic() - started for v in values)
    assert probe._stop is not None
    child = probe._stop.peek()[2][0]  # type: ignore[index]
    del probe
    gc.collect()
    assert child.wait(timeout=10) == 0  # its stdin closed: it exited by itself

    broken = ProbeProcess(settings, "SELECT nope FROM no_such_table", interval=0.01, window=1.0)
    with pytest.raises(SourceError, match=r"latency probe failed: .*probe_query.*no_such_table"):
        broken.start()
