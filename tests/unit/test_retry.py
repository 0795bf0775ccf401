"""The one retry policy of MySQL statements (``sources/retry.py``), on a fake clock: which errors
are tried again, how often, for how long, and the pauses between."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from dbarchive.errors import SourceError, StopRequested
from dbarchive.sources import retry


class FakeTime:
    """A monotonic clock that only moves when something sleeps on it."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def _error(code: int | None) -> SourceError:
    error = SourceError(f"MySQL error {code}")
    error.mysql_code = code
    return error


def failing(codes: list[int | None], result: str = "rows") -> tuple[Callable[[], str], list[int]]:
    """An action raising SourceError with each of ``codes`` in turn, then returning ``result``."""
    calls = [0]

    def action() -> str:
        calls[0] += 1
        if calls[0] <= len(codes):
            raise _error(codes[calls[0] - 1])
        return result

    return action, calls


def test_a_read_is_tried_six_times_with_doubling_pauses() -> None:
    """Five lost connections / KILL QUERYs and the sixth try succeeds, 0.1 … 1.6 s apart."""
    t = FakeTime()
    action, calls = failing([2013, 2006, 1317, 1927, 4031])
    counted: list[int | None] = []
    result = retry.STATEMENT.call(
        action,
        before_retry=lambda e: counted.append(e.mysql_code),
        sleep=t.sleep,
        clock=t.clock,
    )
    assert (result, calls[0]) == ("rows", 6)
    assert t.sleeps == [0.1, 0.2, 0.4, 0.8, 1.6]
    assert counted == [2013, 2006, 1317, 1927, 4031]


def test_the_sixth_failure_is_raised() -> None:
    t = FakeTime()
    action, calls = failing([2013] * 6)
    with pytest.raises(SourceError) as raised:
        retry.STATEMENT.call(action, sleep=t.sleep, clock=t.clock)
    assert (raised.value.mysql_code, calls[0], len(t.sleeps)) == (2013, 6, 5)


@pytest.mark.parametrize("code", [1064, 1142, 1205, 2002, 1969, None])
def test_other_errors_are_raised_at_once(code: int | None) -> None:
    """A syntax error, a missing grant, a lock wait, a refused connection, a statement timeout
    or an error without a number: a read is not run again (the chunk loop halves a timed-out
    chunk itself; a refused connection is the reconnect's business)."""
    t = FakeTime()
    action, calls = failing([code])
    with pytest.raises(SourceError):
        retry.STATEMENT.call(action, sleep=t.sleep, clock=t.clock)
    assert (calls[0], t.sleeps) == (1, [])


def test_a_statement_inside_a_transaction_is_not_run_again() -> None:
    """``when`` says no (the session is in a transaction): the first error is the caller's."""
    t = FakeTime()
    action, calls = failing([2013])
    with pytest.raises(SourceError):
        retry.STATEMENT.call(action, when=lambda _e: False, sleep=t.sleep, clock=t.clock)
    assert (calls[0], t.sleeps) == (1, [])


def test_a_c_reader_chunk_also_waits_for_a_refused_connection() -> None:
    t = FakeTime()
    action, calls = failing([2002, 2003, 2013])
    assert retry.CHUNK_READ.call(action, sleep=t.sleep, clock=t.clock) == "rows"
    assert (calls[0], t.sleeps) == (4, [0.1, 0.2, 0.4])


def test_a_reconnect_waits_up_to_sixty_seconds_for_the_server() -> None:
    """A restarting server: pauses of 0.1 … 2 s, and no try after 60 s from the first."""
    t = FakeTime()
    action, calls = failing([2003] * 1000)
    with pytest.raises(SourceError):
        retry.RECONNECT.call(action, sleep=t.sleep, clock=t.clock)
    assert t.sleeps[:6] == [0.1, 0.2, 0.4, 0.8, 1.6, 2.0]
    assert set(t.sleeps[5:]) == {2.0}
    assert t.now == pytest.approx(59.1)  # one more 2 s pause would start a try after 60 s
    assert calls[0] == len(t.sleeps) + 1 == 34


def test_a_reconnect_that_comes_back_returns_the_session() -> None:
    t = FakeTime()
    action, calls = failing([2003, 2006], result="session")
    assert retry.RECONNECT.call(action, sleep=t.sleep, clock=t.clock) == "session"
    assert (calls[0], t.sleeps) == (3, [0.1, 0.2])


def test_a_reconnect_refused_for_another_reason_is_raised_at_once() -> None:
    """A wrong password (1045) will not get better by waiting."""
    t = FakeTime()
    action, calls = failing([1045])
    with pytest.raises(SourceError):
        retry.RECONNECT.call(action, sleep=t.sleep, clock=t.clock)
    assert (calls[0], t.sleeps) == (1, [])


def test_a_table_lock_is_tried_max_retries_more_times() -> None:
    """Lock wait timeouts and deadlocks: ``[throttle] max_retries`` more tries, then the error."""
    t = FakeTime()
    action, calls = failing([1205, 1213, 1205, 1205])
    with pytest.raises(SourceError) as raised:
        retry.table_lock(3).call(action, sleep=t.sleep, clock=t.clock)
    assert (raised.value.mysql_code, calls[0], t.sleeps) == (1205, 4, [0.1, 0.2, 0.4])
    action, calls = failing([1205, 1213, 1205])
    assert retry.table_lock(3).call(action, sleep=t.sleep, clock=t.clock) == "rows"


def test_a_purge_chunk_is_redone_max_retries_more_times_pausing_up_to_five_seconds() -> None:
    """Lock conflicts, lost sessions and interrupted statements redo a chunk; the pauses double
    from 0.1 s and stop growing at 5 s."""
    policy = retry.purge_chunk(10)
    assert policy.attempts == 11
    assert {1205, 1213, 2013, 1317, 1969} <= policy.errors
    delays = policy.delays()
    assert [round(next(delays), 2) for _ in range(8)] == [0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 5.0, 5.0]


def test_a_stop_asked_between_tries_ends_the_retries_without_a_pause() -> None:
    """``before_retry`` runs before each pause: a stop request raised there is not slept on."""
    t = FakeTime()
    action, calls = failing([1205] * 5)

    def stop(_error: SourceError) -> None:
        raise StopRequested("stop file")

    with pytest.raises(StopRequested):
        retry.table_lock(3).call(action, before_retry=stop, sleep=t.sleep, clock=t.clock)
    assert (calls[0], t.sleeps) == (1, [])


def test_a_success_costs_one_call() -> None:
    t = FakeTime()
    action, calls = failing([])
    assert retry.STATEMENT.call(action, sleep=t.sleep, clock=t.clock) == "rows"
    assert (calls[0], t.sleeps) == (1, [])
