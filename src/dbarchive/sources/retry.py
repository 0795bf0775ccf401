"""Which MySQL errors a statement survives, and how long to keep trying: one policy for all.

A production server drops connections (failover, restart, ``KILL CONNECTION``, a proxy's idle
timeout), interrupts statements (``KILL QUERY``, ``max_statement_time``) and rolls back lock waits
and deadlocks. Every statement dbarchive runs outside a transaction is a bounded, idempotent read,
so it is simply run again on a fresh session; a statement inside a purge chunk's transaction is
not: the chunk's owner rolls back and redoes the whole chunk (``steps/purge.py``), which re-reads
the rows still there, so a chunk whose COMMIT was lost is never repeated.

Every retry loop of the source is a :class:`RetryPolicy` (which error numbers, how many attempts
or how many seconds, the pauses between) run by :meth:`RetryPolicy.call`:

- :data:`STATEMENT`: a read or a session setting, outside a transaction (``MySqlSession.query``);
- :data:`CHUNK_READ`: a chunk read by the C reader, which also survives a refused connection;
- :data:`RECONNECT`: opening a new session after the old one was lost (a restarting server);
- :func:`purge_chunk`: a purge chunk's transaction, redone ``[throttle] max_retries`` times;
- :func:`table_lock`: ``LOCK TABLES`` for a partition exchange, ``[throttle] max_retries`` times.

The pauses double from 0.1 s up to 2 s. S3 is not retried here: botocore's own policy does that.
Costs nothing on the hot path: a statement that succeeds runs one ``try``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import TypeVar

from dbarchive.errors import SourceError

CONNECTION_LOST = frozenset({2006, 2013, 1927, 4031})  # gone away, lost, killed, client timeout
UNREACHABLE = frozenset({2002, 2003})  # refused / no route while the server restarts
INTERRUPTED = frozenset({1317})  # KILL QUERY
STATEMENT_TIMEOUT = frozenset({1969, 3024})  # MariaDB max_statement_time, MySQL max_execution_time
LOCK_CONFLICT = frozenset({1205, 1213})  # lock wait timeout, deadlock

# A purge chunk rolls back and starts again on any of these (its transaction is gone).
CHUNK_RETRYABLE = CONNECTION_LOST | INTERRUPTED | STATEMENT_TIMEOUT | LOCK_CONFLICT

STATEMENT_ATTEMPTS = 6  # a read interrupted or cut off is run again up to this often
RECONNECT_SECONDS = 60.0  # how long a lost server may take to come back (restart, failover)

T = TypeVar("T")


def backoff(first: float = 0.1, cap: float = 2.0) -> Iterator[float]:
    """Delays of 0.1, 0.2, 0.4 … seconds, at most ``cap`` each."""
    delay = first
    while True:
        yield delay
        delay = min(cap, delay * 2)


def _always(_error: SourceError) -> bool:
    return True


def _nothing(_error: SourceError) -> None:
    return None


@dataclass(frozen=True)
class RetryPolicy:
    """Which errors are tried again, and how long: at most ``attempts`` tries, and none that
    would start more than ``seconds`` after the first (either may be None: no such bound)."""

    errors: frozenset[int]
    attempts: int | None = None
    seconds: float | None = None
    first_delay: float = 0.1
    max_delay: float = 2.0

    def with_attempts(self, attempts: int) -> RetryPolicy:
        return replace(self, attempts=attempts)

    def delays(self) -> Iterator[float]:
        return backoff(self.first_delay, self.max_delay)

    def call(
        self,
        action: Callable[[], T],
        *,
        when: Callable[[SourceError], bool] = _always,
        before_retry: Callable[[SourceError], None] = _nothing,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> T:
        """``action()``, tried again after a pause while it raises a SourceError whose number is
        one of :attr:`errors` and ``when(error)`` agrees; any other error, or the last one,
        is raised. ``before_retry(error)`` runs before each pause (count it, or raise to stop)."""
        deadline = None if self.seconds is None else clock() + self.seconds
        delays = self.delays()
        attempt = 0
        while True:
            attempt += 1
            try:
                return action()
            except SourceError as exc:
                if exc.mysql_code not in self.errors or not when(exc):
                    raise
                if self.attempts is not None and attempt >= self.attempts:
                    raise
                delay = next(delays)
                if deadline is not None and clock() + delay > deadline:
                    raise
                before_retry(exc)
                sleep(delay)


# A read or a session setting outside a transaction: run again on a new session.
STATEMENT = RetryPolicy(CONNECTION_LOST | INTERRUPTED, attempts=STATEMENT_ATTEMPTS)
# A chunk through the C reader: also while its own session cannot connect yet.
CHUNK_READ = RetryPolicy(CONNECTION_LOST | INTERRUPTED | UNREACHABLE, attempts=STATEMENT_ATTEMPTS)
# A new session after a lost one: a restarting server (or a failover) gets RECONNECT_SECONDS.
RECONNECT = RetryPolicy(UNREACHABLE | CONNECTION_LOST, seconds=RECONNECT_SECONDS)


def purge_chunk(max_retries: int) -> RetryPolicy:
    """A purge chunk's transaction lost or refused: rolled back and redone ``max_retries`` more
    times, pausing 0.1 s doubling up to 5 s (``steps/purge.py`` runs the loop: a redo also
    restarts the archive walk)."""
    return RetryPolicy(CHUNK_RETRYABLE, attempts=max_retries + 1, max_delay=5.0)


def table_lock(max_retries: int) -> RetryPolicy:
    """``LOCK TABLES`` bounded by ``lock_wait_timeout``: tried ``max_retries`` more times, so the
    application never queues long behind a waiting table lock."""
    return RetryPolicy(LOCK_CONFLICT, attempts=max_retries + 1)
