"""One run per table at a time: a MySQL named lock (``GET_LOCK``) held on a session of its own.

Why a MySQL lock and not an S3 object written with ``If-None-Match``: the server releases a named
lock the moment its session ends — a SIGKILLed run, a crashed host, a dropped network — so there
is never a stale lock to expire or break by hand, and no clock or lease to trust. The rows being
protected live in that server, so every run that could touch them can see the lock. (A server
restart releases it too; the runs then reconnect unlocked, which is the one gap.)

A lock that ends with its session can also end while the run goes on: a ``KILL`` of that session
from another one, a proxy closing it as idle. So the run records the session's id when it takes
the lock, and before it commits anything that a second run could also be doing (an export chunk,
the manifest, a purge chunk, a partition exchange) it asks the server whether
``IS_USED_LOCK(name)`` is still that id (:meth:`TableLocks.check`, on the working session: no
privilege needed). When it is not, the run stops with :class:`RunLockLost` (exit 8) before that
commit. The window left is one statement wide: between the check and the COMMIT that follows it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from contextlib import suppress
from typing import Any

import MySQLdb

from dbarchive.errors import AlreadyRunning, RunLockLost

_MAX_NAME = 64  # MariaDB and MySQL refuse longer lock names
# The server frees a killed holder's lock only once it notices the session is gone (usually
# milliseconds, after the socket closes); a retry that starts at that moment waits this long.
_GRACE_S = 2


def lock_name(schema: str, table: str) -> str:
    """``dbarchive:<schema>.<table>``, hashed when it would be longer than 64 characters."""
    name = f"dbarchive:{schema}.{table}"
    if len(name) <= _MAX_NAME:
        return name
    return "dbarchive:" + hashlib.sha256(name.encode()).hexdigest()[: _MAX_NAME - 10]


class TableLocks:
    """Named locks held until :meth:`close` (or until the process dies)."""

    def __init__(self, open_session: Callable[[], Any]) -> None:
        self._open = open_session
        self._conn: Any = None
        self._held: dict[str, int] = {}  # lock name -> id of the session holding it

    def acquire(self, name: str, what: str) -> None:
        """Take the lock (waiting at most the short grace) or raise AlreadyRunning; taking a lock
        already held is a no-op."""
        if name in self._held:
            return
        if self._conn is None:
            self._conn = self._open()
        cur = self._conn.cursor()
        try:
            cur.execute("SELECT GET_LOCK(%s, %s), CONNECTION_ID()", (name, _GRACE_S))
            got, session = cur.fetchone()
        finally:
            cur.close()
        if got != b"1" and got != 1:
            raise AlreadyRunning(
                f"{what}: already running — another dbarchive run holds the lock {name!r} on this "
                "table; this one did nothing. Wait for it to finish (or stop it) and run again"
            )
        self._held[name] = int(session)

    def check(self, name: str, what: str, holder: Callable[[str], int | None]) -> None:
        """Raise RunLockLost unless the lock taken as ``name`` is still held by our session.

        ``holder(name)`` asks the server for ``IS_USED_LOCK(name)`` on any session (the working
        one: this costs one round trip, and nothing is asked of the lock's own session, which
        may be the one that was killed). A lock this run never took is not checked.
        """
        ours = self._held.get(name)
        if ours is None:
            return
        now = holder(name)
        if now == ours:
            return
        who = "nobody holds it now" if now is None else f"session {now} holds it now"
        raise RunLockLost(
            f"{what}: lost the run lock {name!r} — its MySQL session {ours} ended (killed, or the "
            f"connection dropped) and {who}, so another run may be working on this table; this "
            "run stopped before committing anything more (the current chunk was rolled back). "
            "Check that no other run is active, then run again: it carries on where this one "
            "stopped"
        )

    def close(self) -> None:
        """Release every lock, then close the session. Released by statement first: a closed
        session's locks are freed only once the server has handled its quit, so a retry (or a
        check) right after could still find them held."""
        if self._conn is not None:
            with suppress(MySQLdb.Error):
                cur = self._conn.cursor()
                for name in self._held:
                    cur.execute("DO RELEASE_LOCK(%s)", (name,))
                cur.close()
            with suppress(MySQLdb.Error):
                self._conn.close()
        self._conn = None
        self._held.clear()
