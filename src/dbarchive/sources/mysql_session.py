"""The MySQL session: connect (TLS, IAM) and reconnect, run a statement with retries, transactions,
the run lock; errors turned into one clear sentence, never with a secret.

Every statement runs in autocommit mode (no transaction spans chunks), on a session pinned to
``time_zone='+00:00'`` and utf8mb4, and returns raw text-protocol bytes (no decoders)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal, TypeVar

import MySQLdb
from MySQLdb import converters

from dbarchive.config import SourceSettings
from dbarchive.errors import SourceError
from dbarchive.sources import connection, mysql_direct, retry, tls
from dbarchive.sources import mysql_sql as q
from dbarchive.sources.lock import TableLocks, lock_name
from dbarchive.sources.sqltext import driver_template
from dbarchive.sources.table import (
    TableInfo,
)

# Results stay raw text-protocol bytes (no decoders); numbers go out as numeric literals, not
# quoted strings, so a BIGINT key above 2**53 is never compared as a double.
_ENCODERS: dict[Any, Any] = {int: converters.Thing2Str, Decimal: converters.Decimal2Literal}


Isolation = Literal["read committed", "repeatable read"]


_LEVELS: dict[Isolation, str] = {
    "read committed": "READ COMMITTED",
    "repeatable read": "REPEATABLE READ",
}


_ACCESS_DENIED = {1045, 1698}


_NO_DATABASE_ACCESS = 1044  # the login worked; the user may not use the database


_UNREACHABLE = {2002, 2003, 2005}
_LOST = {2006, 2013}  # gone away, lost during a query


_NO_PRIVILEGE = {1142, 1143, 1227}


@dataclass
class SourceCounters:
    """What the source did, for tests and reports: statements issued and the largest chunk."""

    statements: int = 0
    retries: int = 0  # statements run again after a lost connection, KILL QUERY or timeout
    reconnects: int = 0
    rows_read: int = 0
    max_chunk_rows: int = 0
    chunk_sql: list[str] = field(default_factory=list)


def translate_error(exc: Exception, settings: SourceSettings, what: str) -> SourceError:
    """One clear sentence for a driver error (keeping its error number); never the password."""
    code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else None
    error = _describe_error(code, exc, settings, what)
    error.mysql_code = code
    return error


def _describe_error(
    code: int | None, exc: Exception, settings: SourceSettings, what: str
) -> SourceError:
    detail = _without_secrets(str(exc.args[1]) if len(exc.args) > 1 else str(exc), settings)
    where = settings.safe_url()
    if code == tls.TLS_ERROR:
        return SourceError(
            f"TLS to MySQL at {where} failed: {detail}; {tls.explain(detail, settings)}"
        )
    if code in _ACCESS_DENIED:
        hint = settings.login_hint()
        if settings.auth == "iam":
            hint = (
                "check the user is IDENTIFIED WITH AWSAuthenticationPlugin AS 'RDS' and the AWS "
                "identity may rds-db:connect as it (IAM database authentication on the instance)"
            )
        return SourceError(f"MySQL refused the login at {where}: {detail}; {hint}")
    if code == _NO_DATABASE_ACCESS:
        return SourceError(
            f"the MySQL user of {where} may not use the database: {detail}; "
            "grant it SELECT on the tables to archive"
        )
    if code in _LOST:  # the session was there, and is gone: killed, timed out or restarted
        return SourceError(
            f"lost the session to MySQL at {where} while {what} ({detail}): it was killed or "
            "timed out, or the server restarted; run it again (it goes on where it stopped)"
        )
    if code in _UNREACHABLE:
        return SourceError(f"cannot reach MySQL at {where} ({detail}); is the server running?")
    if code in _NO_PRIVILEGE:
        return SourceError(f"missing privilege while {what}: {detail}; grant it to the user")
    if code == 1049:
        return SourceError(f"database of {where} does not exist: {detail}")
    return SourceError(f"MySQL error while {what}: {detail}")


def _without_secrets(detail: str, settings: SourceSettings) -> str:
    """The library's message without the client key's or certificate's path (some name them)."""
    for path in (settings.ssl_key, settings.ssl_cert):
        if path:
            detail = detail.replace(path, "<path>")
    return detail


def _fetch_all(conn: Any, sql: str, params: Sequence[object]) -> list[Any]:
    cur = conn.cursor()
    try:
        cur.execute(driver_template(sql, params), tuple(params))
        return list(cur.fetchall())
    finally:
        cur.close()


def _begin(conn: Any, before: Sequence[str]) -> None:
    """BEGIN, after ``before`` (settings of the next transaction) on the same session."""
    for sql in before:
        _run(conn, sql, ())
    conn.begin()


def _run(conn: Any, sql: str, params: Sequence[object]) -> int:
    cur = conn.cursor()
    try:
        cur.execute(driver_template(sql, params), tuple(params))
        return int(cur.rowcount)
    except MySQLdb.Error as exc:
        with suppress(MySQLdb.Error):  # asked before the cursor's close clears it
            exc.sqlstate = conn.sqlstate()
        raise
    finally:
        cur.close()


T = TypeVar("T")


Row = Sequence[bytes | None]


class MySqlSession:
    """A session to the MySQL/MariaDB server: connecting, retrying, statements and
    transactions, and the run lock (the layer every other part of the source builds on)."""

    def __init__(self, settings: SourceSettings) -> None:
        self.settings = settings
        self.counters = SourceCounters()
        self._conn: Any = None
        self._direct: mysql_direct.DirectReader | None = None
        self._direct_refused = False  # the C reader cannot log in here (mysql_direct.py)
        self._connected_once = False
        self._in_transaction = False
        self._locks = TableLocks(self._open)
        self._server: dict[str, str] | None = None
        self._lost_bytes: dict[str, bytes | None] = {}  # per charset (charsets.lost_bytes)

    # -- connection -------------------------------------------------------------------------
    @property
    def is_open(self) -> bool:
        """Whether a session is held now (connections open lazily and close on close())."""
        return self._conn is not None

    def connect(self) -> Any:
        """Open (once) the session used for reads; after a lost session, wait for the server."""
        if self._conn is None:
            self._conn = self._reconnect() if self._connected_once else self._open()
            self._connected_once = True
        return self._conn

    def _open(self) -> Any:
        try:
            conn = connection.open_session(
                self.settings,
                charset="utf8mb4",
                use_unicode=False,
                conv=dict(_ENCODERS),
                autocommit=True,
            )
            cur = conn.cursor()
            cur.execute(q.SESSION_SETUP)
            cur.close()
        except MySQLdb.Error as exc:
            raise translate_error(exc, self.settings, "connecting") from None
        return conn

    def _reconnect(self) -> Any:
        """A new session after the old one was lost; a restarting server gets RECONNECT_SECONDS."""
        conn = retry.RECONNECT.call(self._open)
        self.counters.reconnects += 1
        return conn

    def close(self) -> None:
        self._locks.close()
        if self._direct is not None:
            self._direct.close()
            self._direct = None
        if self._conn is not None:
            self._drop()

    def lock_table(self, info: TableInfo) -> None:
        """Hold this table's run lock until close(); AlreadyRunning if another run has it."""
        self._locks.acquire(lock_name(info.schema, info.name), info.name)

    def check_run_lock(self, info: TableInfo) -> None:
        """Raise RunLockLost unless this run still holds the table's run lock (one short read).

        Called before every commit a second run could also make (``sources/lock.py``). A run
        that never took the lock is not checked: Airflow's unit tasks and backfill workers share
        a day on purpose, and their units and the purge's row matching keep them apart.
        """
        self._locks.check(lock_name(info.schema, info.name), info.name, self._lock_holder)

    def holding_run_lock(self, info: TableInfo, chunks: Iterable[T]) -> Iterator[T]:
        """``chunks``, each handed on only after :meth:`check_run_lock` passed.

        The check runs wherever the chunks are read (the export's reader thread, which owns this
        session while it reads), so it never races the reads for the connection.
        """
        for chunk in chunks:
            self.check_run_lock(info)
            yield chunk

    def _lock_holder(self, name: str) -> int | None:
        (holder,) = self.query("SELECT IS_USED_LOCK(%s)", (name,), "checking the run lock")[0]
        return None if holder is None else int(holder)

    def _drop(self) -> None:
        """Forget the session (it is gone or unusable); the next statement opens a new one."""
        conn, self._conn = self._conn, None
        self._in_transaction = False
        with suppress(MySQLdb.Error):  # already closed by the server
            conn.close()

    def _call(self, action: Callable[[Any], Any], what: str) -> Any:
        """Run ``action(connection)``, turning driver errors into SourceError (never a password)."""
        try:
            return action(self.connect())
        except MySQLdb.Error as exc:
            error = translate_error(exc, self.settings, what)
            error.sqlstate = getattr(exc, "sqlstate", None)  # a write's (``_run``)
            if error.mysql_code in retry.CONNECTION_LOST:
                self._drop()
            raise error from None

    def query(self, sql: str, params: Sequence[object] = (), what: str = "reading") -> list[Any]:
        """Run one statement and return all its rows (every statement here is bounded).

        Outside a transaction a lost connection or a KILL QUERY makes it run again (each
        statement is an idempotent read or a session setting). Inside one it never does: the
        transaction and its locks are gone with the session (which forgets it was in one), and
        only the transaction's owner can redo it (``retry.py``).
        """
        in_transaction = self._in_transaction  # asked before a lost session resets it
        rows: list[Any] = retry.STATEMENT.call(
            lambda: self._call(lambda c: _fetch_all(c, sql, params), what),
            when=lambda _error: not in_transaction,
            before_retry=self._count_retry,
        )
        self.counters.statements += 1
        return rows

    def _count_retry(self, _error: SourceError) -> None:
        self.counters.retries += 1

    def server_identity(self) -> dict[str, str]:
        """The server's own names (``server_uuid``, ``server_id``, ``hostname``,
        ``aurora_server_id``: those it has), read once per source; recorded in manifests."""
        if self._server is None:
            rows = self.query(q.SERVER_IDENTITY, what="reading the server's identity")
            self._server = {
                bytes(name).decode().lower(): bytes(value).decode(errors="replace")
                for name, value in rows
                if value
            }
        return dict(self._server)

    # -- writes ------------------------------------------------------------------------------
    def execute(self, sql: str, params: Sequence[object] = (), what: str = "writing") -> int:
        """Run one statement that returns no rows; returns the affected row count (never retried:
        a write is redone only by its owner, who knows whether that is safe)."""
        affected: int = self._call(lambda c: _run(c, sql, params), what)
        self.counters.statements += 1
        return affected

    def begin(
        self, lock_wait_timeout: int | None = None, isolation: Isolation | None = None
    ) -> None:
        """Start a short explicit transaction (the session stays autocommit outside it).

        ``isolation`` applies to this transaction only, whatever the session's or the server's
        default; it is set on the very session that then runs BEGIN, so a reconnect in between
        cannot lose it.
        """
        if lock_wait_timeout is not None:
            self.query(f"SET SESSION innodb_lock_wait_timeout = {int(lock_wait_timeout)}")
        level = (
            [] if isolation is None else [f"SET TRANSACTION ISOLATION LEVEL {_LEVELS[isolation]}"]
        )
        self._call(lambda c: _begin(c, level), "starting a transaction")
        self._in_transaction = True

    def logs_statements(self) -> bool:
        """Whether this session's changes go to the binary log as statements (binlog_format =
        STATEMENT with binary logging on): InnoDB then refuses a READ COMMITTED DELETE (1665)."""
        ((log_bin, binlog_format),) = self.query(
            "SELECT @@log_bin, @@SESSION.binlog_format", (), "reading the binary log format"
        )
        return bytes(log_bin) == b"1" and bytes(binlog_format).upper() == b"STATEMENT"

    def commit(self) -> None:
        """Commit; a lost connection here leaves the outcome unknown, so the caller re-reads."""
        try:
            self._call(lambda c: c.commit(), "committing")
        finally:
            self._in_transaction = False

    def rollback(self) -> None:
        """Roll back; on a lost session there is nothing left to roll back (the server did)."""
        if self._conn is not None:
            try:
                self._conn.rollback()
            except MySQLdb.Error:
                self._drop()
        self._in_transaction = False

    def explain(self, sql: str, params: Sequence[object]) -> list[dict[str, str | None]]:
        """EXPLAIN rows as dicts (id, select_type, table, type, key, rows, Extra, …)."""
        cur = self.connect().cursor()
        try:
            cur.execute(driver_template("EXPLAIN " + sql, params), tuple(params))
            names = [d[0] for d in cur.description]
            return [
                {
                    n: (v.decode() if isinstance(v, bytes) else v)
                    for n, v in zip(names, row, strict=True)
                }
                for row in cur.fetchall()
            ]
        finally:
            cur.close()
