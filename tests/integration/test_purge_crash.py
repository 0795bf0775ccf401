"""Crash safety of the purge: killed (SIGKILL) at any step, a rerun deletes every expired row
exactly once, keeps every other row untouched, and leaves every purged day verifiable."""

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
from tests.integration.mysql_fixtures import MySqlSchema, mysql_schema  # noqa: F401

TODAY = dt.date(2026, 12, 15)
CUTOFF = dt.date(2026, 11, 15)  # TODAY - 30 days: the first kept day
EXPIRED_DAYS = [CUTOFF - dt.timedelta(days=n) for n in range(10, 0, -1)]
KEPT_DAYS = [CUTOFF + dt.timedelta(days=n) for n in range(5)]
ROWS_PER_DAY = 3000
MAX_CHUNK = 500
RANDOM_KILLS = 5
MAX_RANDOM_ROUNDS = 40


def _config(schema: MySqlSchema, tmp_path: Path) -> Path:
    path = tmp_path / "job.toml"
    path.write_text(
        f'[source]\nurl = "{schema.url}"\n\n[destination]\nurl = "{tmp_path / "archive"}"\n\n'
        '[defaults]\nretention = "30 days"\nchunk_rows = 2000\n\n'
        f"[throttle]\nmax_chunk_rows = {MAX_CHUNK}\nmin_chunk_rows = 100\nsleep = 0.02\n\n"
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


def _prepare(schema: MySqlSchema, tmp_path: Path) -> tuple[Path, list[tuple[object, ...]], int]:
    """Fill 10 expired and 5 kept days, archive all 15; returns config, kept snapshot, expired."""
    schema.execute(LOG_TABLE_DDL)
    for day in [*EXPIRED_DAYS, *KEPT_DAYS]:
        fill_events(schema, day.isoformat(), ROWS_PER_DAY)
    config = _config(schema, tmp_path)
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
def test_killed_purge_then_rerun_deletes_exactly_the_expired_rows(
    mysql_schema: MySqlSchema, tmp_path: Path, failpoint: str, committed_chunks: int
) -> None:
    """SIGKILL at a purge step keeps only committed chunks deleted; a rerun finishes exactly."""
    config, kept, expired = _prepare(mysql_schema, tmp_path)
    assert _run(config, *_purge_args(), failpoint=failpoint) == -signal.SIGKILL
    deleted = expired - _expired_count(mysql_schema)
    # Only committed chunks count: the killed session's open transaction is rolled back.
    assert committed_chunks * 100 <= deleted <= committed_chunks * MAX_CHUNK
    assert _kept_rows(mysql_schema) == kept
    assert _run(config, *_purge_args()) == 0
    _check_final(mysql_schema, config, kept, expired)


def test_purge_killed_at_random_moments_then_rerun_is_exact(
    mysql_schema: MySqlSchema, tmp_path: Path
) -> None:
    """Repeated SIGKILLs at random moments of the purge, then a clean rerun: exact result."""
    config, kept, expired = _prepare(mysql_schema, tmp_path)
    rng = random.Random(20261215)
    kills = 0
    for _ in range(MAX_RANDOM_ROUNDS):
        proc = subprocess.Popen(
            _cli(config, *_purge_args()),
            env=_env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        time.sleep(rng.uniform(0.05, 1.0))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        _, stderr = proc.communicate(timeout=60)
        code = proc.returncode
        assert code in (0, -signal.SIGKILL), stderr.decode(errors="replace")
        assert _kept_rows(mysql_schema) == kept
        if code == 0:
            break
    else:
        assert _run(config, *_purge_args()) == 0
    assert kills >= RANDOM_KILLS, f"only {kills} kills landed: make the purge slower"
    _check_final(mysql_schema, config, kept, expired)
