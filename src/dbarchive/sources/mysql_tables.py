"""Whole tables on the MySQL source: whether one exists, its rows, a copy of its structure, drop
it, and hold a table lock for a few statements (the text is ``table_sql.py``)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress

from dbarchive.errors import SourceError
from dbarchive.sources import retry
from dbarchive.sources import table_sql as t
from dbarchive.sources.mysql_session import MySqlSession
from dbarchive.sources.table import TableInfo


class MySqlTables(MySqlSession):
    """Statements about whole tables, for the partition drop and the restore."""

    def table_exists(self, schema: str, table: str) -> bool:
        rows = self.query(t.TABLE_EXISTS, (schema, table), f"looking for {table}")
        return bool(rows)

    def count_rows(self, table: TableInfo) -> int:
        """Every row of ``table`` (a small one: this reads it whole)."""
        (count,) = self.query(t.count_sql(table), what=f"counting {table.name}")[0]
        return int(count)

    def time_range(self, table: TableInfo) -> tuple[str, str] | None:
        """The smallest and largest value of the time column, as the server prints them; None
        if the table holds no row with one."""
        low, high = self.query(t.time_range_sql(table), what=f"reading {table.name}")[0]
        if low is None or high is None:
            return None
        return bytes(low).decode(), bytes(high).decode()

    def stored_columns(self, table: TableInfo) -> list[str]:
        """Every column of the table but the generated ones (which INSERT refuses a value for)."""
        rows = self.query(
            t.STORED_COLUMNS, (table.schema, table.name), "reading the table's columns"
        )
        return [bytes(r[0]).decode() for r in rows]

    def create_like(self, schema: str, table: str, like: str, what: str) -> None:
        """Create ``table`` empty, with the very structure of ``like`` (the same schema)."""
        self.execute(t.create_like_sql(schema, table, like), what=what)

    def create_statement(self, table: TableInfo) -> bytes:
        """The table's ``SHOW CREATE TABLE`` text (b"" if the server shows none)."""
        rows = self.query(
            t.show_create_sql(table.schema, table.name), what=f"reading {table.name}'s definition"
        )
        value = rows[0][1] if rows else b""
        return value if isinstance(value, bytes) else str(value).encode()

    def drop_table(self, schema: str, table: str) -> None:
        """Drop ``table`` if it exists."""
        self.execute(t.drop_table_sql(schema, table), what=f"dropping {table}")

    def _under_table_locks(
        self,
        tables: Sequence[TableInfo],
        statements: Sequence[tuple[str, str]],
        lock_wait_timeout: int,
        max_retries: int,
        check_stop: Callable[[], None],
    ) -> float:
        """Run ``statements`` (SQL, what it does) between ``LOCK TABLES … WRITE`` and ``UNLOCK
        TABLES``; returns the seconds the lock was held. Waiting for the lock is bounded by
        ``lock_wait_timeout`` and tried ``max_retries`` more times (``check_stop`` between): the
        application queues behind a waiting table lock, so it must never wait long."""
        with self._lock_wait_timeout(lock_wait_timeout):
            retry.table_lock(max_retries).call(
                lambda: self.execute(
                    t.lock_tables_sql(tables), what="locking the table for the partition exchange"
                ),
                before_retry=lambda _error: check_stop(),
            )
            started = time.monotonic()
            try:
                for sql, what in statements:
                    self.execute(sql, what=what)
            finally:
                with suppress(SourceError):  # a lost session has no lock left to release
                    self.execute(t.UNLOCK_TABLES, what="unlocking the table")
            return time.monotonic() - started

    @contextmanager
    def _lock_wait_timeout(self, seconds: int) -> Iterator[None]:
        """This session's ``lock_wait_timeout`` is ``seconds`` inside, and as before after."""
        (saved,) = self.query(t.LOCK_WAIT_TIMEOUT, what="reading lock_wait_timeout")[0]
        self.execute(t.set_lock_wait_timeout_sql(seconds))
        try:
            yield
        finally:
            with suppress(SourceError):
                self.execute(t.set_lock_wait_timeout_sql(int(saved)))
