"""Which MySQL errors a statement survives, and how long to keep trying.

A production server drops connections (failover, restart, ``KILL CONNECTION``, a proxy's idle
timeout), interrupts statements (``KILL QUERY``, ``max_statement_time``) and rolls back lock waits
and deadlocks. Every statement dbarchive runs outside a transaction is a bounded, idempotent read,
so it is simply run again on a fresh session; a statement inside a purge chunk's transaction is
not: the chunk's owner rolls back and redoes the whole chunk (``steps/purge.py``), which re-reads
the rows still there, so a chunk whose COMMIT was lost is never repeated.
"""

from __future__ import annotations

from collections.abc import Iterator

CONNECTION_LOST = frozenset({2006, 2013, 1927, 4031})  # gone away, lost, killed, client timeout
UNREACHABLE = frozenset({2002, 2003})  # refused / no route while the server restarts
INTERRUPTED = frozenset({1317})  # KILL QUERY
STATEMENT_TIMEOUT = frozenset({1969, 3024})  # MariaDB max_statement_time, MySQL max_execution_time
LOCK_CONFLICT = frozenset({1205, 1213})  # lock wait timeout, deadlock

# A purge chunk rolls back and starts again on any of these (its transaction is gone).
CHUNK_RETRYABLE = CONNECTION_LOST | INTERRUPTED | STATEMENT_TIMEOUT | LOCK_CONFLICT

STATEMENT_ATTEMPTS = 6  # a read interrupted or cut off is run again up to this often
RECONNECT_SECONDS = 60.0  # how long a lost server may take to come back (restart, failover)


def backoff(first: float = 0.1, cap: float = 2.0) -> Iterator[float]:
    """Delays of 0.1, 0.2, 0.4 … seconds, at most ``cap`` each."""
    delay = first
    while True:
        yield delay
        delay = min(cap, delay * 2)
