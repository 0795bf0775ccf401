"""Crash safety of the purge: killed (SIGKILL) at any step, a rerun deletes every expired row
exactly once, keeps every other row untouched, and leaves every purged day verifiable.

Every kill lands at a moment the test observes (a failpoint, or a statement of the purge seen
waiting for a row the test holds), never after a random sleep: the number of kills is fixed."""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dbarchive import load_job
from dbarchive.layout import PartitionPath
from dbarchive.manifest import Manifest
from tests.integration.helpers import LOG_TABLE_DDL, fill_events
from tests.integration.mysql_fixtures import MySqlSchema, _connect, mysql_schema  # noqa: F401

TODAY = dt.date(2026, 12, 15)


@pytest.fixture(autouse=True)
def _clock_on_today(monkeypatch: pytest.MonkeyPatch) -> None:
    """The clock on TODAY's morning (``--today`` may not be later than the clock's today)."""
    monkeypatch.setenv("DBARCHIVE_NOW", "2026-12-15T06:00:00+00:00")


CUTOFF = dt.date(2026, 11, 15)  # TODAY - 30 days: the first kept day
EXPIRED_DAYS = [CUTOFF - dt.timedelta(days=n) for n in range(10, 0, -1)]
KEPT_DAYS = [CUTOFF + dt.timedelta(days=n) for n in range(5)]
ROWS_PER_DAY = 3000
MAX_CHUNK = 500
RANDOM_KILLS = 8  # each at most a day's work into its run: 10 expired days leave days to spare
# Where a kill may land: a failpoint (its occurrence drawn at random), or a locking read waiting
# on a row (drawn at random) that the application holds.
POINTS = ["purge.chunk-locked", "purge.before-commit", "purge.after-commit"]
DAY_POINTS = ["purge.after-verify", "purge.before-record", "purge.after-record"]
WAITING_ON_A_ROW = "waiting on a row"


def _config(schema: MySqlSchema, tmp_path: Path, statement_rows: int | None = None) -> Path:
    path = tmp_path / "job.toml"
    split = "" if statement_rows is None else f"statement_rows = {statement_rows}\n"
    path.write_text(
        f'[source]\nurl = "{schema.url}"\n\n[destination]\nurl = "{tmp_path / "archive"}"\n\n'
        '[defaults]\nretention = "30 days"\nchunk_rows = 2000\n\n'
        f"[throttle]\nmax_chunk_rows = {MAX_CHUNK}\nmin_chunk_rows = 100\nsleep = 0.02\n"
        f"lock_wait_timeout = 120\n{split}\n"
        '[[tables]]\nname = "events"\ntimestamp_column = "created_at"\n'
    )
    return path


def _cli(config: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "dbarchive", *args, "-c", str(config)]


def _env(failpoint: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "DBARCHIVE_FAILPOINT"}
    if failpoint:
        env["DBARCHIVE_FAILPOINT"] = failpoint
    return env


def _run(config: Path, *args: str, failpoint: str | None = None) -> int:
    proc = subprocess.run(
        _cli(config, *args), env=_env(failpoint), timeout=180, capture_output=True, check=False
    )
    if proc.returncode not in (0, -signal.SIGKILL):
        print(proc.stdout.decode(errors="replace"), proc.stderr.decode(errors="replace"))
    return proc.returncode


def _purge_args() -> tuple[str, ...]:
    return ("purge", "--today", TODAY.isoformat(), "-q")


def _kept_rows(schema: MySqlSchema) -> list[tuple[object, ...]]:
    """Id and SHA-256 of every row of a kept day (the purge must not touch any of them)."""
    return schema.execute(
        "SELECT id, SHA2(CONCAT_WS('|', id, created_at, account_id, amount, note), 256) "
        "FROM events WHERE created_at >= %s ORDER BY id",
        (CUTOFF.isoformat(),),
    )


def _expired_count(schema: MySqlSchema) -> int:
    (count,) = schema.execute(
        "SELECT COUNT(*) FROM events WHERE created_at < %s", (CUTOFF.isoformat(),)
    )[0]
    return int(count)


def _prepare(
    schema: MySqlSchema, tmp_path: Path, statement_rows: int | None = None
) -> tuple[Path, list[tuple[object, ...]], int]:
    """Fill 10 expired and 5 kept days, archive all 15; returns config, kept snapshot, expired."""
    schema.execute(LOG_TABLE_DDL)
    for day in [*EXPIRED_DAYS, *KEPT_DAYS]:
        fill_events(schema, day.isoformat(), ROWS_PER_DAY)
    config = _config(schema, tmp_path, statement_rows)
    first, last = EXPIRED_DAYS[0].isoformat(), KEPT_DAYS[-1].isoformat()
    assert _run(config, "export", "--from", first, "--to", last, "-q") == 0
    expired = _expired_count(schema)
    assert expired == len(EXPIRED_DAYS) * ROWS_PER_DAY
    return config, _kept_rows(schema), expired


def _check_final(
    schema: MySqlSchema, config: Path, kept: list[tuple[object, ...]], expired: int
) -> None:
    """Expired rows gone, kept rows identical, purged days verify, manifests still complete."""
    assert _expired_count(schema) == 0
    assert _kept_rows(schema) == kept
    first, last = EXPIRED_DAYS[0].isoformat(), EXPIRED_DAYS[-1].isoformat()
    assert _run(config, "verify", "--from", first, "--to", last) == 0
    dest = Path(load_job(config).destination.url)
    manifests = [
        Manifest.loads((dest / PartitionPath("events", day).manifest_key).read_bytes())
        for day in EXPIRED_DAYS
    ]
    assert [m.rows for m in manifests] == [ROWS_PER_DAY] * len(EXPIRED_DAYS)
    assert sum(m.rows for m in manifests) == expired
    status = subprocess.run(
        _cli(config, "status", "--today", TODAY.isoformat(), "--json"),
        env=_env(),
        timeout=60,
        capture_output=True,
        check=True,
    )
    (table,) = json.loads(status.stdout)
    assert table["purged_days"] == [d.isoformat() for d in EXPIRED_DAYS]
    assert table["partially_purged_days"] == []


@pytest.mark.parametrize(
    ("failpoint", "committed_chunks"),
    [
        ("purge.chunk-locked", 0),
        ("purge.before-commit:3", 2),
        ("purge.after-commit:5", 5),
        # The first day's last rows are gone, its purge record still says "started".
        ("purge.after-commit:6", 6),
    ],
)
@pytest.mark.parametrize("statement_rows", [None, 64])
def test_killed_purge_then_rerun_deletes_exactly_the_expired_rows(
    mysql_schema: MySqlSchema,
    tmp_path: Path,
    failpoint: str,
    committed_chunks: int,
    statement_rows: int | None,
) -> None:
    """SIGKILL at a purge step keeps only committed chunks deleted; a rerun finishes exactly.
    The same with a chunk's reads and DELETEs split into statements of 64 rows."""
    config, kept, expired = _prepare(mysql_schema, tmp_path, statement_rows)
    assert _run(config, *_purge_args(), failpoint=failpoint) == -signal.SIGKILL
    deleted = expired - _expired_count(mysql_schema)
    # Only committed chunks count: the killed session's open transaction is rolled back.
    assert committed_chunks * 100 <= deleted <= committed_chunks * MAX_CHUNK
    assert _kept_rows(mysql_schema) == kept
    assert _run(config, *_purge_args()) == 0
    _check_final(mysql_schema, config, kept, expired)


def test_killed_between_the_delete_statements_of_a_chunk_keeps_all_its_rows(
    mysql_schema: MySqlSchema, tmp_path: Path
) -> None:
    """With statements of 64 rows a chunk of 500 is 8 DELETEs in one transaction: killed after the
    third, none of the chunk's deletes survives (nothing committed yet); a rerun is exact."""
    config, kept, expired = _prepare(mysql_schema, tmp_path, statement_rows=64)
    point = "purge.statement-deleted:3"
    assert _run(config, *_purge_args(), failpoint=point) == -signal.SIGKILL
    assert _expired_count(mysql_schema) == expired
    assert _run(config, *_purge_args()) == 0
    _check_final(mysql_schema, config, kept, expired)


def _oldest_expired_ids(schema: MySqlSchema) -> list[int]:
    """Ids of the rows of the oldest expired day that still has rows."""
    rows = schema.execute(
        "SELECT id FROM events WHERE created_at < %s AND DATE(created_at) = "
        "(SELECT MIN(DATE(created_at)) FROM events) ORDER BY id",
        (CUTOFF.isoformat(),),
    )
    return [int(r[0]) for r in rows]


def _wait_until_waiting_on_a_lock(schema: MySqlSchema, proc: subprocess.Popen[bytes]) -> None:
    """Return once a session of the test schema other than ours waits for a row lock."""
    deadline = time.monotonic() + 120  # only a bound for a failing run
    while not schema.execute(
        "SELECT COUNT(*) FROM information_schema.INNODB_TRX t JOIN information_schema.PROCESSLIST p "
        "ON p.ID = t.trx_mysql_thread_id WHERE t.trx_state = 'LOCK WAIT' AND p.DB = %s",
        (schema.name,),
    )[0][0]:
        assert proc.poll() is None, "the purge ended before it reached the locked row"
        if time.monotonic() > deadline:
            sessions = schema.execute(
                "SELECT ID, COMMAND, STATE, LEFT(INFO, 200) FROM information_schema.PROCESSLIST "
                "WHERE DB = %s",
                (schema.name,),
            )
            pytest.fail(f"the purge never waited for the locked row; its sessions: {sessions}")
        # INNODB_TRX is a snapshot InnoDB refreshes only when it was last read over 0.1 s ago:
        # polled faster it never changes. The pace sets how soon the kill comes, not where.
        time.sleep(0.2)


def _kill_while_waiting_on(schema: MySqlSchema, config: Path, row_id: int) -> int:
    """Hold a row lock on ``row_id``, start the purge, SIGKILL it while a statement of its chunk
    waits for that row (the locking read, or the range DELETE of the chunk before it, which
    reads one row past its last key): a statement in flight, a transaction open. Returns the
    exit code."""
    holder = _connect(schema.name)
    holder.autocommit(False)
    try:
        with holder.cursor() as cur:
            cur.execute("SELECT id FROM events WHERE id = %s FOR UPDATE", (row_id,))
        proc = subprocess.Popen(
            _cli(config, *_purge_args()),
            env=_env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            _wait_until_waiting_on_a_lock(schema, proc)
        finally:  # lands while the purge waits (or ends it after a failed wait)
            proc.send_signal(signal.SIGKILL)
            _, stderr = proc.communicate(timeout=60)
        assert proc.returncode == -signal.SIGKILL, stderr.decode(errors="replace")
    finally:
        holder.rollback()
        holder.close()
    return proc.returncode


def _random_kill(
    rng: random.Random, schema: MySqlSchema, config: Path, kind: str
) -> tuple[str, int]:
    """Run the purge once and kill it at a ``kind`` of point, its details drawn with ``rng``;
    returns where the kill landed and the exit code."""
    if kind == WAITING_ON_A_ROW:
        row_id = rng.choice(_oldest_expired_ids(schema))
        return f"{kind} {row_id}", _kill_while_waiting_on(schema, config, row_id)
    # A day holds at least ROWS_PER_DAY / MAX_CHUNK chunks: every occurrence drawn is reached.
    nth = rng.randint(1, ROWS_PER_DAY // MAX_CHUNK) if kind in POINTS else 1
    point = f"{kind}:{nth}"
    return point, _run(config, *_purge_args(), failpoint=point)


def test_purge_killed_at_random_moments_then_rerun_is_exact(
    mysql_schema: MySqlSchema, tmp_path: Path
) -> None:
    """SIGKILLs at points drawn at random (a chunk's locking read, DELETE or commit, a day's
    verification or record, a statement waiting for a row the application holds), one per run,
    then a clean rerun: exact result. Each of the RANDOM_KILLS kills must land."""
    config, kept, expired = _prepare(mysql_schema, tmp_path)
    rng = random.Random(20261215)
    kinds = [*POINTS, *DAY_POINTS, WAITING_ON_A_ROW]  # each kind once, then drawn at random
    kinds += rng.choices(kinds, k=RANDOM_KILLS - len(kinds))
    rng.shuffle(kinds)
    for kind in kinds:
        assert _expired_count(mysql_schema) >= ROWS_PER_DAY  # a day left: the next kill lands
        point, code = _random_kill(rng, mysql_schema, config, kind)
        assert code == -signal.SIGKILL, f"the kill at {point} did not land (exit {code})"
        assert _kept_rows(mysql_schema) == kept
    assert _run(config, *_purge_args()) == 0
    _check_final(mysql_schema, config, kept, expired)
