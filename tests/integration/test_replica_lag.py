"""Replica lag, measured on a real MariaDB primary/replica pair, and the throttle that waits on it.

Lag is made for real: a second session on the replica holds ``LOCK TABLES … WRITE`` on the table
a primary INSERT touches, so the replica's SQL thread waits on the metadata lock while
``Seconds_Behind_Master`` grows by one each second; ``UNLOCK TABLES`` lets it catch up.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from dbarchive.config import DEFAULT_PASSWORD_ENV, SourceSettings, ThrottleSettings
from dbarchive.errors import StopRequested
from dbarchive.sources.mysql import MySqlSource
from dbarchive.sources.probes import MySqlLoadProbe, replica_lag_seconds
from dbarchive.throttle import Throttle
from tests.integration.replication import (  # noqa: F401
    ReplicationPair,
    execute,
    replica_status,
    replication,
    replication_pair,
    wait_caught_up,
    wait_until,
)

pytestmark = pytest.mark.timeout(60)

_CHECKS_WHILE_WAITING = 5  # lag checks a paused throttle must answer by waiting on
_RESUME_TIMEOUT = 10.0


@pytest.fixture(autouse=True)
def _no_password_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The private servers' root has an empty password: ignore any password in the environment."""
    monkeypatch.delenv(DEFAULT_PASSWORD_ENV, raising=False)


@pytest.fixture
def primary(replication: ReplicationPair) -> Iterator[Any]:
    conn = replication.connect_primary()
    yield conn
    conn.close()


@pytest.fixture
def replica(replication: ReplicationPair) -> Iterator[Any]:
    conn = replication.connect_replica()
    yield conn
    conn.close()


@pytest.fixture
def probe(replication: ReplicationPair) -> Iterator[MySqlLoadProbe]:
    source = MySqlSource(SourceSettings(url=replication.primary_url))
    load_probe = MySqlLoadProbe(source, replicas=(replication.replica_url,))
    yield load_probe
    load_probe.close()
    source.close()


def _stop_sql_thread(replica: Any) -> None:
    execute(replica, "STOP SLAVE SQL_THREAD")
    assert replica_status(replica)["Slave_SQL_Running"] == "No"


def _start_sql_thread(replica: Any) -> None:
    execute(replica, "START SLAVE SQL_THREAD")


class _LagChecks:
    """Counts the probe's replica-lag checks (the throttle asks once per check_interval), so a
    test can wait for the throttle to have decided N times instead of waiting N seconds."""

    def __init__(self, probe: MySqlLoadProbe) -> None:
        self._check = probe.replica_lag
        self._done = threading.Condition()
        self.count = 0
        probe.replica_lag = self._counted  # type: ignore[method-assign]

    def _counted(self) -> float | None:
        lag = self._check()
        with self._done:
            self.count += 1
            self._done.notify_all()
        return lag

    def wait_for(self, count: int) -> None:
        with self._done:
            # the timeout only bounds a failing run
            assert self._done.wait_for(lambda: self.count >= count, 30), f"{self.count} checks"


class _Waiter:
    """Runs ``throttle.between_chunks(0)`` in a thread and keeps what it raised, if anything."""

    def __init__(self, throttle: Throttle) -> None:
        self.throttle = throttle
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            self.throttle.between_chunks(0)
        except BaseException as exc:
            self.error = exc

    def __enter__(self) -> _Waiter:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        # however the test ended, never leave the thread polling a server that goes away
        self.throttle.stop.request("test finished")
        self._thread.join(_RESUME_TIMEOUT)

    def is_waiting(self) -> bool:
        return self._thread.is_alive()

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)


def _throttle(probe: MySqlLoadProbe, max_lag: float, max_pause: float = 30.0) -> Throttle:
    settings = ThrottleSettings(max_lag=max_lag, check_interval=0.05, max_pause=max_pause)
    return Throttle(settings, probe)


# --- replica_lag_seconds ---


def test_replica_lag_seconds_is_a_number_while_replicating_and_none_without_sql_thread(
    replica: Any,
) -> None:
    """replica_lag_seconds gives seconds >= 0 while replicating, None with the SQL thread stopped."""
    lag = replica_lag_seconds(replica)
    assert isinstance(lag, float)
    assert lag >= 0

    _stop_sql_thread(replica)
    assert replica_lag_seconds(replica) is None

    _start_sql_thread(replica)
    wait_until(lambda: replica_lag_seconds(replica) is not None, 5, "a lag after restart")
    after = replica_lag_seconds(replica)
    assert isinstance(after, float)
    assert after >= 0


def test_replica_lag_seconds_is_none_on_a_server_that_is_not_a_replica(primary: Any) -> None:
    """replica_lag_seconds on the primary (no replication configured) is None, not 0."""
    assert replica_status(primary) == {}
    assert replica_lag_seconds(primary) is None


# --- MySqlLoadProbe ---


def test_load_probe_reads_threads_running_and_the_replica_lag(
    probe: MySqlLoadProbe, replica: Any
) -> None:
    """MySqlLoadProbe reads Threads_running >= 1 and a lag number, None once the SQL thread stops."""
    assert probe.threads_running() >= 1
    lag = probe.replica_lag()
    assert isinstance(lag, float)
    assert lag >= 0

    _stop_sql_thread(replica)
    assert probe.replica_lag() is None

    _start_sql_thread(replica)
    wait_until(lambda: probe.replica_lag() is not None, 5, "the probe to see a lag again")
    assert (probe.replica_lag() or 0) >= 0


# --- Throttle on a stopped SQL thread ---


def test_throttle_waits_while_the_sql_thread_is_stopped_and_resumes_when_it_starts(
    probe: MySqlLoadProbe, replica: Any
) -> None:
    """Throttle.between_chunks keeps waiting while the lag is unknown and returns once it is back."""
    throttle = _throttle(probe, max_lag=5)
    checks = _LagChecks(probe)
    _stop_sql_thread(replica)
    with _Waiter(throttle) as waiter:
        checks.wait_for(_CHECKS_WHILE_WAITING)  # each saw no lag: the throttle must wait on
        assert waiter.is_waiting(), f"returned with the SQL thread stopped: {waiter.error!r}"
        _start_sql_thread(replica)
        waiter.join(_RESUME_TIMEOUT)
        assert not waiter.is_waiting(), "still waiting after START SLAVE SQL_THREAD"
    assert waiter.error is None
    assert throttle.stats.pauses >= 1
    assert throttle.stats.reasons.get("lag", 0) >= 1


def test_throttle_gives_up_after_max_pause_when_the_sql_thread_stays_stopped(
    probe: MySqlLoadProbe, replica: Any
) -> None:
    """With the SQL thread stopped longer than max_pause, between_chunks raises StopRequested."""
    throttle = _throttle(probe, max_lag=5, max_pause=0.5)
    _stop_sql_thread(replica)
    with pytest.raises(StopRequested, match="lag unknown"):
        throttle.between_chunks(0)
    assert throttle.stats.pauses == 1


# --- real lag ---


def test_throttle_pauses_while_the_replica_really_lags_and_resumes_when_it_catches_up(
    replication: ReplicationPair, primary: Any, replica: Any, probe: MySqlLoadProbe
) -> None:
    """A replica whose SQL thread is blocked lags >= max_lag: the throttle pauses, then resumes."""
    table = f"lag_{uuid.uuid4().hex[:8]}"
    execute(primary, f"CREATE TABLE `{table}` (id INT AUTO_INCREMENT PRIMARY KEY, v INT)")
    wait_caught_up(primary, replica)

    control = _throttle(probe, max_lag=1)
    control.between_chunks(0)
    assert control.stats.pauses == 0, "paused although the replica was caught up"

    locker = replication.connect_replica()
    try:
        execute(locker, f"LOCK TABLES `{table}` WRITE")
        execute(primary, f"INSERT INTO `{table}` (v) VALUES (1)")
        wait_until(lambda: (probe.replica_lag() or 0) >= 2, 10, "the replica to lag 2 s behind")
        measured = probe.replica_lag()
        assert measured is not None, "a blocked SQL thread must still report its lag"
        assert measured >= 2
        assert replica_status(replica)["Slave_SQL_Running"] == "Yes"

        throttle = _throttle(probe, max_lag=1)
        checks = _LagChecks(probe)
        with _Waiter(throttle) as waiter:
            checks.wait_for(_CHECKS_WHILE_WAITING)  # each saw the lag: the throttle waits on
            assert waiter.is_waiting(), f"returned while the replica lagged: {waiter.error!r}"
            execute(locker, "UNLOCK TABLES")
            waiter.join(_RESUME_TIMEOUT)
            assert not waiter.is_waiting(), "still waiting after the replica caught up"
    finally:
        locker.close()  # also releases the lock if an assertion failed above

    assert waiter.error is None
    assert throttle.stats.pauses == 1
    assert throttle.stats.reasons == {"lag": 1}
    assert (probe.replica_lag() or 0) <= 1
    wait_caught_up(primary, replica)
    assert execute(replica, f"SELECT v FROM `{table}`") == [(1,)]
