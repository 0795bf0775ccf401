"""Database faults from a second session, and our own server crashing (issue 7, matrix 4).

KILL CONNECTION / KILL QUERY at random moments of a `run`, rows locked FOR UPDATE in the purge
range, a provoked deadlock, and the (private) mariadbd SIGKILLed and restarted mid-export and
mid-purge: the tool reconnects or retries and finishes by itself; the oracle finds nothing.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from contextlib import suppress
from pathlib import Path
from typing import Any

import MySQLdb
import pytest

from dbarchive.layout import MANIFEST_NAME
from dbarchive.sources.lock import lock_name
from tests.integration.conftest import S3Endpoint
from tests.integration.mysql_fixtures import MySqlSchema, _connect
from tests.reliability import scenario
from tests.reliability.conftest import s3_env
from tests.reliability.oracle import S3View, Seed, check
from tests.reliability.private_server import PrivateSchema, private_schema, private_server  # noqa: F401
from tests.reliability.scenario import ROUNDS, Job, in_round, record, write_job

KILLS = 15  # per round (the soak runs SCALE rounds)


class Saboteur(threading.Thread):
    """A second session that KILLs the tool's connection (or running query) now and then.

    Deterministic bounds, so the run always can finish: a statement (its session and text) is
    killed at most once, and the run lock's own session is spared — losing the lock stops a run
    on purpose (exit 8, ``test_run_lock.py``); this test is about the sessions that do the work.
    """

    def __init__(self, schema: str, mode: str, rng: random.Random, spare: set[int]) -> None:
        super().__init__(daemon=True)
        self.schema, self.mode, self.rng, self.spare = schema, mode, rng, spare
        self.kills = 0
        self.killed: set[tuple[int, str]] = set()
        self.done = threading.Event()

    def _victims(self, cur: Any) -> list[tuple[int, str]]:
        busy = "AND COMMAND = 'Query'" if self.mode == "QUERY" else ""
        cur.execute(
            "SELECT ID, COALESCE(INFO, '') FROM information_schema.PROCESSLIST WHERE DB = %s "
            f"AND ID <> CONNECTION_ID() AND ID <> COALESCE(IS_USED_LOCK(%s), 0) {busy}",
            (self.schema, lock_name(self.schema, "events")),
        )
        found = [(int(r[0]), str(r[1])) for r in cur.fetchall()]
        if self.mode == "CONNECTION":
            return [(i, "") for i, _ in found if i not in self.spare]
        return [v for v in found if v[0] not in self.spare and v not in self.killed]

    def run(self) -> None:
        conn = _connect(self.schema)
        try:
            # Queries run for milliseconds: look for one often; connections are always there.
            pause = (0.002, 0.02) if self.mode == "QUERY" else (0.05, 0.35)
            while not self.done.wait(self.rng.uniform(*pause)):
                with conn.cursor() as cur:
                    victims = self._victims(cur)
                    if not victims:
                        continue
                    victim = self.rng.choice(victims)
                    self.killed.add(victim)
                    with suppress(MySQLdb.OperationalError):  # it ended meanwhile
                        cur.execute(f"KILL {self.mode} {victim[0]}")
                        self.kills += 1
        finally:
            conn.close()


@pytest.mark.parametrize("round_", ROUNDS)
@pytest.mark.parametrize("mode", ["CONNECTION", "QUERY"])
def test_kill_from_a_second_session_at_random_moments(
    mode: str, round_: int, s3_job: Job, light: Seed, mysql_schema: MySqlSchema, view: S3View
) -> None:
    """A `run` whose connection (or query) is killed again and again still finishes by itself."""
    s3_job.path.write_text(
        s3_job.path.read_text().replace("[throttle]\n", "[throttle]\nsleep = 0.02\n")
    )
    codes, kills = [], 0
    for _ in range(16):  # a run can be quicker than the kills we want: run it again
        saboteur = Saboteur(
            mysql_schema.name,
            mode,
            random.Random(mode if round_ == 0 else f"{mode}-{round_}"),  # round 0: the quick tier's
            {mysql_schema.conn.thread_id()},
        )
        saboteur.start()
        proc = s3_job.run(*scenario.run_args())
        saboteur.done.set()
        saboteur.join(10)
        codes.append(proc.returncode)
        kills += saboteur.kills
        assert proc.returncode == 0, proc.stderr[-3000:]
        if kills >= KILLS:
            break
    verdict = record(
        check(
            in_round(f"KILL {mode} at random moments from a second session during run", round_),
            light,
            mysql_schema,
            view,
            injections=kills,
            retries=s3_job.retries + _source_retries(s3_job),
            exit=",".join(map(str, codes)),
        )
    )
    assert verdict.clean, verdict.details
    assert kills >= KILLS // 2


def _source_retries(job: Job) -> int:
    return sum(int(r.get("source_retries", 0)) for r in job.runs)


def _first_expired_ids(db: MySqlSchema, n: int) -> list[int]:
    day = scenario.EXPIRED[0]
    rows = db.execute(
        "SELECT id FROM events WHERE created_at >= %s AND created_at < %s ORDER BY id LIMIT %s",
        (day, day + scenario.dt.timedelta(days=1), n),
    )
    return [int(r[0]) for r in rows]


def _lock_waits(db: MySqlSchema) -> int:
    """The tool's locking reads that have waited over 0.2 s (they take milliseconds otherwise;
    a transaction waiting for its first lock is not in INNODB_TRX yet)."""
    (count,) = db.execute(
        "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE DB = %s "
        "AND INFO LIKE '%%FOR UPDATE' AND TIME_MS > 200 AND ID <> CONNECTION_ID()",
        (db.name,),
    )[0]
    return int(count)


def _stop_if_running(proc: Any, grace: float = 90.0) -> None:
    """Give the run ``grace`` seconds to end by itself (it must), else kill it (no hang)."""
    try:
        proc.wait(grace)
    except Exception:
        proc.kill()


def _wait_for(condition: Any, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_rows_locked_for_update_make_the_tool_wait_not_the_application(
    s3_job: Job, light: Seed, mysql_schema: MySqlSchema, view: S3View
) -> None:
    """An application transaction holds rows of the purge range FOR UPDATE for 3 s: the purge
    waits (1 s lock timeout, retries), the application's transaction commits untouched."""
    assert s3_job.run(*scenario.export_args()).returncode == 0
    s3_job.path.write_text(
        s3_job.path.read_text().replace("[throttle]\n", "[throttle]\nlock_wait_timeout = 1\n")
    )
    app = _connect(mysql_schema.name)
    app.autocommit(False)
    app_thread = app.thread_id()
    locked = _first_expired_ids(mysql_schema, 300)[-1]
    with app.cursor() as cur:
        cur.execute("SELECT id FROM events WHERE id = %s FOR UPDATE", (locked,))
    proc = s3_job.popen(*scenario.purge_args())
    try:
        _wait_for(lambda: _lock_waits(mysql_schema) > 0 or proc.poll() is not None)
        assert proc.poll() is None, proc.communicate()
        time.sleep(3)
        with app.cursor() as cur:  # the application's session is alive, its transaction works
            cur.execute("SELECT CONNECTION_ID(), COUNT(*) FROM events WHERE id = %s", (locked,))
            assert cur.fetchone() == (app_thread, 1)
        app.commit()
    finally:
        app.close()
        _stop_if_running(proc)
    stdout, stderr = proc.communicate(timeout=120)
    s3_job._keep(stdout)
    assert proc.returncode == 0, stderr
    verdict = record(
        check(
            "rows locked FOR UPDATE by the application in the purge range",
            light,
            mysql_schema,
            view,
            injections=1,
            retries=s3_job.retries,
            exit=str(proc.returncode),
        )
    )
    assert verdict.clean, verdict.details
    assert s3_job.retries >= 1  # it waited and retried: it was the one to give way


def test_provoked_deadlock_is_rolled_back_and_retried(
    s3_job: Job, light: Seed, mysql_schema: MySqlSchema, view: S3View
) -> None:
    """The application locks a row ahead in the chunk, waits for the tool's locked row: the
    deadlock's victim is the (lighter) purge chunk, which rolls back and is redone."""
    assert s3_job.run(*scenario.export_args()).returncode == 0
    mysql_schema.execute("CREATE TABLE ballast (n INT)")
    app = _connect(mysql_schema.name)
    app.autocommit(False)
    first, ahead = (lambda ids: (ids[0], ids[-1]))(_first_expired_ids(mysql_schema, 200))
    with app.cursor() as cur:
        cur.execute("SELECT id FROM events WHERE id = %s FOR UPDATE", (ahead,))
        cur.execute("INSERT INTO ballast SELECT seq FROM seq_1_to_5000")  # a heavier transaction
    proc = s3_job.popen(*scenario.purge_args())
    victim = "purge"
    try:
        _wait_for(lambda: _lock_waits(mysql_schema) > 0)
        with app.cursor() as cur:
            cur.execute("SELECT id FROM events WHERE id = %s FOR UPDATE", (first,))
        app.rollback()
    except MySQLdb.OperationalError as exc:  # 1213: InnoDB chose the application instead
        victim = f"application ({exc.args[0]})"
    finally:
        app.close()
        _stop_if_running(proc)
    stdout, stderr = proc.communicate(timeout=120)
    s3_job._keep(stdout)
    assert proc.returncode == 0, stderr
    verdict = record(
        check(
            "deadlock provoked by the application in a purge chunk",
            light,
            mysql_schema,
            view,
            injections=1,
            retries=s3_job.retries,
            exit=str(proc.returncode),
            extra={"victim": victim},
        )
    )
    assert verdict.clean, verdict.details
    assert victim == "purge" and s3_job.retries >= 1


@pytest.mark.parametrize("phase", ["export", "purge"])
def test_private_server_killed_and_restarted_mid_phase(
    phase: str,
    private_schema: PrivateSchema,
    s3_endpoint: S3Endpoint,
    s3_bucket: str,
    s3_client: Any,
    tmp_path: Path,
) -> None:
    """Our own mariadbd is SIGKILLed mid-export / mid-purge and started again 1 s later: the
    run reconnects and finishes with exit 0 — or, its run lock's session gone with the server,
    stops with exit 8 and a rerun finishes — and the oracle finds nothing."""
    seed = Seed(scenario.DAYS, 2500, 1536 if phase == "export" else 0)
    seed.create(private_schema)
    job = write_job(
        tmp_path / "job.toml",
        private_schema.url,
        f"s3://{s3_bucket}/arch",
        s3_env(s3_endpoint),
        destination=f'endpoint_url = "{s3_endpoint.url}"\npart_size_mib = 5\n',
        throttle="sleep = 0.05\n",
    )
    view = S3View(s3_client, s3_bucket, "arch/")
    if phase == "purge":
        assert job.run(*scenario.export_args()).returncode == 0
    total = len(seed.keys)
    proc = job.popen(*scenario.run_args())
    if phase == "export":  # the first of the 8 days is published, the others are to come
        _wait_for(lambda: _manifests(view) > 0 or proc.poll() is not None)
    else:
        _wait_for(lambda: _count(private_schema) < total)
    assert proc.poll() is None, "the run ended before the crash"
    private_schema.server.crash()
    time.sleep(1.0)
    private_schema.server.start()
    stdout, stderr = proc.communicate(timeout=180)
    job._keep(stdout)
    codes = [proc.returncode]
    if proc.returncode == 8:  # the run lock's session died with the server: stop, then rerun
        assert "lost the run lock" in stderr, stderr[-3000:]
        rerun = job.run(*scenario.run_args())
        codes.append(rerun.returncode)
        stderr = rerun.stderr
    assert codes[-1] == 0, stderr[-3000:]
    verdict = record(
        check(
            f"private mariadbd SIGKILLed and restarted mid-{phase}",
            seed,
            private_schema,
            view,
            injections=1,
            retries=job.retries + _source_retries(job),
            exit=",".join(map(str, codes)),
        )
    )
    assert verdict.clean, verdict.details


def _count(db: PrivateSchema) -> int:
    return int(db.execute("SELECT COUNT(*) FROM events")[0][0])


def _manifests(view: S3View) -> int:
    return sum(key.endswith(MANIFEST_NAME) for key in view.keys(""))


def test_max_statement_time_makes_the_chunks_shrink(
    mysql_schema: MySqlSchema, s3_endpoint: S3Endpoint, s3_bucket: str, view: S3View, tmp_path: Path
) -> None:
    """A user whose statements the server cuts off (MAX_STATEMENT_TIME: a third of what one
    500-row hash chunk takes here, at least 50 ms): the reads and purge chunks it cuts off halve
    and fit; the run finishes and the oracle finds nothing. (Calibrated, never timed.)"""
    from tests.reliability.oracle import ROW_HASH_SQL

    seed = Seed((scenario.EXPIRED[0], scenario.CUTOFF), 800, 32 * 1024)
    seed.create(mysql_schema)
    timings = []
    for _ in range(3):
        started = time.perf_counter()
        mysql_schema.execute(f"SELECT {ROW_HASH_SQL} FROM events ORDER BY id LIMIT 500")
        timings.append(time.perf_counter() - started)
    limit = max(0.05, min(timings) / 3)
    user, password = f"dbat_{uuid.uuid4().hex[:10]}", uuid.uuid4().hex
    mysql_schema.execute(f"CREATE USER '{user}'@'127.0.0.1' IDENTIFIED BY %s", (password,))
    try:
        mysql_schema.execute(
            f"GRANT SELECT, DELETE ON `{mysql_schema.name}`.* TO '{user}'@'127.0.0.1'"
        )
        mysql_schema.execute(f"ALTER USER '{user}'@'127.0.0.1' WITH MAX_STATEMENT_TIME {limit:.3f}")
        job = write_job(
            tmp_path / "limited.toml",
            f"mysql://{user}@127.0.0.1:3306/{mysql_schema.name}",
            f"s3://{s3_bucket}/arch",
            {**s3_env(s3_endpoint), "DBAT_LIMITED_PW": password},
            destination=f'endpoint_url = "{s3_endpoint.url}"\npart_size_mib = 5\n',
        ).with_source_extra('password_env = "DBAT_LIMITED_PW"\n')
        job.path.write_text(
            job.path.read_text().replace("min_chunk_rows = 50", "min_chunk_rows = 10")
        )
        proc = job.run(*scenario.run_args())
    finally:
        mysql_schema.execute(f"DROP USER IF EXISTS '{user}'@'127.0.0.1'")
    assert proc.returncode == 0, proc.stderr[-3000:]
    retries = job.retries + _source_retries(job)
    verdict = record(
        check(
            "max_statement_time cuts chunks off (they shrink to fit)",
            seed,
            mysql_schema,
            view,
            injections=1,
            retries=retries,
            exit=str(proc.returncode),
            extra={"figures": {
                "500-row hash chunk on this machine": f"{min(timings) * 1000:.0f} ms",
                "MAX_STATEMENT_TIME of the user": f"{limit * 1000:.0f} ms",
                "statements cut off and retried smaller": retries,
            }},
        )
    )  # fmt: skip
    assert verdict.clean, verdict.details
