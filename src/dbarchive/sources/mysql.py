"""MySqlSource: connect, describe a table, plan and read one day in short keyset statements.

Every statement runs in autocommit mode (no transaction spans chunks), on a session pinned to
``time_zone='+00:00'`` and utf8mb4, and returns raw text-protocol bytes (no decoders): DECIMAL and
DATETIME(6) arrive as exact server text, and skipping per-value conversion is ~3x faster.

A read that loses its connection or is interrupted runs again on a new session (``retry.py``); a
server that restarts is waited for; a chunk cut off by ``max_statement_time`` is read again at
half the size. Inside a transaction nothing is retried here: the purge redoes the whole chunk.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import MySQLdb
from MySQLdb import converters

from dbarchive import failpoints
from dbarchive.checksum import RowDigest, sql_digest_select
from dbarchive.config import SourceSettings, TableSpec
from dbarchive.errors import NoUsableKeyError, SourceError
from dbarchive.formats.csv import EncodedChunk, encode_chunk
from dbarchive.sources import mysql_direct, retry
from dbarchive.sources import mysql_sql as q
from dbarchive.sources.canonical import (
    Column,
    key_parameter,
    netstring_expression,
    quote_identifier,
)
from dbarchive.sources.lock import TableLocks, lock_name
from dbarchive.sources.table import DayWindow, ScanPlan, TableInfo, day_window

Row = Sequence[bytes | None]
T = TypeVar("T")
# Results stay raw text-protocol bytes (no decoders); numbers go out as numeric literals, not
# quoted strings, so a BIGINT key above 2**53 is never compared as a double.
_ENCODERS: dict[Any, Any] = {int: converters.Thing2Str, Decimal: converters.Decimal2Literal}
_EMPTY_CATALOG_PAUSES = (0.05, 0.5)  # asking again before believing an empty catalog answer
# Keys denser than this (key span / rows of the day) are read by key range; sparser by time.
KEY_SPAN_LIMIT = 4

_ACCESS_DENIED = {1045, 1698}
_NO_DATABASE_ACCESS = 1044  # the login worked; the user may not use the database
_UNREACHABLE = {2002, 2003, 2005, 2006, 2013}
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
    detail = str(exc.args[1]) if len(exc.args) > 1 else str(exc)
    where = settings.safe_url()
    if code in _ACCESS_DENIED:
        hint = f"check the user and the password in ${settings.password_env}"
        return SourceError(f"MySQL refused the login at {where}: {detail}; {hint}")
    if code == _NO_DATABASE_ACCESS:
        return SourceError(
            f"the MySQL user of {where} may not use the database: {detail}; "
            "grant it SELECT on the tables to archive"
        )
    if code in _UNREACHABLE:
        return SourceError(f"cannot reach MySQL at {where} ({detail}); is the server running?")
    if code in _NO_PRIVILEGE:
        return SourceError(f"missing privilege while {what}: {detail}; grant it to the user")
    if code == 1049:
        return SourceError(f"database of {where} does not exist: {detail}")
    return SourceError(f"MySQL error while {what}: {detail}")


class MySqlSource:
    """A MySQL/MariaDB server holding the tables to archive."""

    def __init__(self, settings: SourceSettings) -> None:
        self.settings = settings
        self.counters = SourceCounters()
        self._conn: Any = None
        self._direct: mysql_direct.DirectReader | None = None
        self._connected_once = False
        self._in_transaction = False
        self._locks = TableLocks(self._open)

    # -- connection -------------------------------------------------------------------------
    def connect(self) -> Any:
        """Open (once) the session used for reads; after a lost session, wait for the server."""
        if self._conn is None:
            self._conn = self._reconnect() if self._connected_once else self._open()
            self._connected_once = True
        return self._conn

    def _open(self) -> Any:
        try:
            conn = MySQLdb.connect(
                **self.settings.connect_args(),
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
        deadline = time.monotonic() + retry.RECONNECT_SECONDS
        for delay in retry.backoff():
            try:
                conn = self._open()
            except SourceError as exc:
                gone = retry.UNREACHABLE | retry.CONNECTION_LOST
                if exc.mysql_code not in gone or time.monotonic() + delay > deadline:
                    raise
                time.sleep(delay)
                continue
            self.counters.reconnects += 1
            return conn
        raise AssertionError("unreachable")  # backoff() never ends

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
            if error.mysql_code in retry.CONNECTION_LOST:
                self._drop()
            raise error from None

    def query(self, sql: str, params: Sequence[object] = (), what: str = "reading") -> list[Any]:
        """Run one statement and return all its rows (every statement here is bounded).

        Outside a transaction a lost connection or a KILL QUERY makes it run again (each
        statement is an idempotent read or a session setting).
        """
        delays = retry.backoff()
        for attempt in range(1, retry.STATEMENT_ATTEMPTS + 1):
            try:
                rows: list[Any] = self._call(lambda c: _fetch_all(c, sql, params), what)
            except SourceError as exc:
                again = retry.CONNECTION_LOST | retry.INTERRUPTED
                if self._in_transaction or exc.mysql_code not in again:
                    raise
                if attempt == retry.STATEMENT_ATTEMPTS:
                    raise
                self.counters.retries += 1
                time.sleep(next(delays))
                continue
            self.counters.statements += 1
            return rows
        raise AssertionError("unreachable")

    # -- describe ---------------------------------------------------------------------------
    def describe(self, spec: TableSpec) -> TableInfo:
        """Columns, paging key and time index of a configured table; SourceError if unusable."""
        schema = spec.schema_name or self.settings.database
        columns = self._columns(schema, spec.name)
        by_name = {c.name: c for c in columns}
        wanted = self._exported(spec, columns)
        ts = by_name.get(spec.timestamp_column)
        if ts is None:
            raise SourceError(
                f"table {spec.name!r} has no column {spec.timestamp_column!r} "
                f"(timestamp_column); columns are: {', '.join(by_name)}"
            )
        if ts.data_type not in {"datetime", "timestamp", "date"}:
            raise SourceError(
                f"timestamp_column {ts.name!r} of {spec.name!r} is {ts.column_type}; "
                "it must be DATETIME, TIMESTAMP or DATE"
            )
        indexes = self._indexes(schema, spec.name)
        key, key_index = self._key(spec, by_name, indexes)
        ts_index = next((n for n, cols in indexes.items() if cols[0][0] == ts.name), None)
        info = TableInfo(schema, spec.name, wanted, key, key_index, ts, ts_index, spec.where)
        if spec.where:
            self._check_filter(info)
        return info

    def _catalog(self, sql: str, params: tuple[str, str], what: str) -> list[Any]:
        """An information_schema query about one table, asked again while it comes back empty.

        information_schema turns an error opening the table (a KILL QUERY, a lock wait) into a
        warning and an empty answer, so one empty answer does not yet mean "no such table".
        """
        rows = self.query(sql, params, what)
        for pause in _EMPTY_CATALOG_PAUSES:
            if rows:
                break
            time.sleep(pause)
            rows = self.query(sql, params, what)
        return rows

    def _columns(self, schema: str, table: str) -> list[Column]:
        sql = (
            "SELECT COLUMN_NAME, DATA_TYPE, COLUMN_TYPE, IS_NULLABLE FROM information_schema.COLUMNS"
            " WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s ORDER BY ORDINAL_POSITION"
        )
        rows = self._catalog(sql, (schema, table), "describing the table")
        if not rows:
            raise SourceError(
                f"table {schema}.{table} does not exist (or the user cannot see it); "
                "check the table name and the SELECT privilege"
            )
        return [
            Column(r[0].decode(), r[1].decode().lower(), r[2].decode(), r[3] == b"YES")
            for r in rows
        ]

    @staticmethod
    def _exported(spec: TableSpec, columns: list[Column]) -> tuple[Column, ...]:
        names = {c.name for c in columns}
        asked = set(spec.include_columns or ()) | set(spec.exclude_columns)
        unknown = sorted(asked - names)
        if unknown:
            raise SourceError(
                f"table {spec.name!r} has no column(s) {', '.join(map(repr, unknown))} "
                f"named in include/exclude_columns; columns are: {', '.join(sorted(names))}"
            )
        if spec.include_columns is not None:
            keep = set(spec.include_columns)
            return tuple(c for c in columns if c.name in keep)
        drop = set(spec.exclude_columns)
        return tuple(c for c in columns if c.name not in drop)

    def _indexes(self, schema: str, table: str) -> dict[str, list[tuple[str, bool, bool]]]:
        """index name -> [(column, unique, column nullable)] in index order."""
        rows = self._catalog(
            "SELECT s.INDEX_NAME, s.COLUMN_NAME, s.NON_UNIQUE, c.IS_NULLABLE, s.SUB_PART"
            " FROM information_schema.STATISTICS s JOIN information_schema.COLUMNS c"
            " ON c.TABLE_SCHEMA = s.TABLE_SCHEMA AND c.TABLE_NAME = s.TABLE_NAME"
            " AND c.COLUMN_NAME = s.COLUMN_NAME"
            " WHERE s.TABLE_SCHEMA = %s AND s.TABLE_NAME = %s ORDER BY s.INDEX_NAME, s.SEQ_IN_INDEX",
            (schema, table),
            "reading the table's indexes",
        )
        indexes: dict[str, list[tuple[str, bool, bool]]] = {}
        for name, col, non_unique, nullable, sub_part in rows:
            unique = int(non_unique) == 0 and sub_part is None
            indexes.setdefault(name.decode(), []).append((col.decode(), unique, nullable == b"YES"))
        return indexes

    @staticmethod
    def _key(
        spec: TableSpec,
        by_name: dict[str, Column],
        indexes: dict[str, list[tuple[str, bool, bool]]],
    ) -> tuple[tuple[Column, ...], str]:
        """The configured key (must match a unique index) or the primary key / a unique key."""
        candidates = {
            name: [c[0] for c in cols]
            for name, cols in indexes.items()
            if all(c[1] and not c[2] for c in cols)
        }
        if spec.key_columns is not None:
            missing = [c for c in spec.key_columns if c not in by_name]
            if missing:
                raise SourceError(f"key_columns {missing} are not columns of {spec.name!r}")
            match = next(
                (n for n, cols in candidates.items() if cols == list(spec.key_columns)), None
            )
            if match is None:
                raise NoUsableKeyError(
                    f"key_columns {list(spec.key_columns)} of {spec.name!r} are not a primary key "
                    "or a unique index on NOT NULL columns, so they cannot page the table safely"
                )
            return tuple(by_name[c] for c in spec.key_columns), match
        name = "PRIMARY" if "PRIMARY" in candidates else next(iter(sorted(candidates)), None)
        if name is None:
            raise NoUsableKeyError(
                f"table {spec.name!r} has no primary key or unique NOT NULL index to page by; "
                "add a primary key (an AUTO_INCREMENT id is ideal) or set key_columns"
            )
        return tuple(by_name[c] for c in candidates[name]), name

    def _check_filter(self, info: TableInfo) -> None:
        """EXPLAIN the day query once so a bad ``where`` fails before anything is written."""
        try:
            self.query(
                "EXPLAIN SELECT 1 " + q.day_digest_from_where(info), ("2000-01-01", "2000-01-02")
            )
        except SourceError as exc:
            raise SourceError(
                f"the where filter of {info.name!r} is not valid SQL here: {exc}"
            ) from None

    # -- plan -------------------------------------------------------------------------------
    def window(self, spec: TableSpec, info: TableInfo, day: dt.date) -> DayWindow:
        """The query window of ``day``: TIMESTAMP compares in UTC, DATETIME in the source zone."""
        column_zone = "UTC" if info.ts.data_type == "timestamp" else self.settings.timezone
        return day_window(day, spec.timezone, column_zone)

    def plan_scan(self, info: TableInfo, window: DayWindow, scan: str) -> ScanPlan:
        """Choose key or time strategy for this day, from the day's key bounds."""
        if info.ts_index is None and scan != "key":
            raise SourceError(
                f"column {info.ts.name!r} of {info.name!r} has no index starting with it, so "
                "reading one day would scan the whole table; add an index on it"
            )
        window_params = (window.start_param, window.end_param)
        if len(info.key) > 1:
            self._require_primary(info)
            (count,) = self.query(q.day_count_sql(info), window_params)[0]
            return ScanPlan("time", int(count), reason="composite key: read through the time index")
        count, low, high = self.query(q.key_bounds_sql(info), window_params)[0]
        count = int(count)
        if scan == "time" or (scan == "auto" and self._sparse(info, count, low, high)):
            self._require_primary(info)
            return ScanPlan("time", count, low, high, reason="keys do not follow time")
        return ScanPlan("key", count, low, high, reason="key range of the day")

    @staticmethod
    def _sparse(info: TableInfo, count: int, low: bytes | None, high: bytes | None) -> bool:
        """Whether the day's key range holds far more keys than the day has rows."""
        if not count or low is None or high is None:
            return False
        if not info.key[0].is_integer:
            return True  # no way to size the range cheaply: the time index is the safe path
        return int(high) - int(low) + 1 > KEY_SPAN_LIMIT * count

    @staticmethod
    def _require_primary(info: TableInfo) -> None:
        if not info.key_is_primary:
            raise NoUsableKeyError(
                f"{info.name!r}: reading through the time index needs the primary key as "
                "tie-breaker; set key_columns to the primary key or scan = 'key'"
            )

    def oldest_day(self, spec: TableSpec, info: TableInfo) -> dt.date | None:
        """The partition day of the oldest row (through the time index), None if the table is empty."""
        ts = quote_identifier(info.ts.name)
        (value,) = self.query(
            f"SELECT MIN({ts}) FROM {info.qualified}", what="finding the oldest row"
        )[0]
        if value is None or value.startswith(b"0000"):
            return None
        column_zone = "UTC" if info.ts.data_type == "timestamp" else self.settings.timezone
        moment = dt.datetime.fromisoformat(value.decode()).replace(tzinfo=ZoneInfo(column_zone))
        return moment.astimezone(ZoneInfo(spec.timezone)).date()

    # -- read -------------------------------------------------------------------------------
    def read_day(
        self, info: TableInfo, window: DayWindow, plan: ScanPlan, chunk_rows: int
    ) -> Iterator[list[Row]]:
        """Yield the day's rows (canonical text, exported columns only) in bounded chunks."""
        for rows, _last in self.read_chunks(info, window, plan, chunk_rows, q.select_shape(info)):
            failpoints.hit("export.chunk-read")
            yield rows

    @property
    def reads_in_c(self) -> bool:
        """Whether day reads go through the C reader (``dbarchive._mysqlread``)."""
        return mysql_direct.available()

    def read_day_csv(
        self, info: TableInfo, window: DayWindow, plan: ScanPlan, chunk_rows: int
    ) -> Iterator[EncodedChunk]:
        """The day's chunks already encoded as archive CSV: in C when it was built, else here."""
        shape = q.select_shape(info)
        if not self.reads_in_c:
            for rows, _last in self.read_chunks(info, window, plan, chunk_rows, shape):
                failpoints.hit("export.chunk-read")
                yield encode_chunk(rows)
            return
        keep = sorted({*shape.key_positions, shape.ts_position})
        cursor = self.connect().cursor()  # for mogrify only (quoting is done on the client)

        def fetch(sql: str, params: list[object]) -> tuple[int, Row, EncodedChunk]:
            text = cursor.mogrify(sql, tuple(params)).encode()
            delays = retry.backoff()
            for attempt in range(1, retry.STATEMENT_ATTEMPTS + 1):
                try:
                    chunk = self._direct_chunk(text, shape.width, keep)
                except SourceError as exc:
                    again = retry.CONNECTION_LOST | retry.INTERRUPTED | retry.UNREACHABLE
                    if exc.mysql_code not in again or attempt == retry.STATEMENT_ATTEMPTS:
                        raise
                    self.counters.retries += 1
                    time.sleep(next(delays))
                    continue
                self.counters.statements += 1
                return chunk.rows, chunk.last, chunk
            raise AssertionError("unreachable")

        for chunk in self._keyset(info, window, plan, chunk_rows, shape, fetch):
            failpoints.hit("export.chunk-read")
            yield chunk

    def reading_sessions(self) -> list[int]:
        """Server thread ids of the sessions an export reads through (connecting them first):
        the driver's, and the C reader's when it is built. For ``KILL`` and for watching them."""
        ids = [int(self.connect().thread_id())]
        if mysql_direct.available():
            thread_id = self._direct_reader().thread_id
            if thread_id is not None:
                ids.append(thread_id)
        return ids

    def _direct_chunk(self, text: bytes, width: int, keep: list[int]) -> Any:
        """One chunk through the C reader; a lost session is dropped (the next call reconnects,
        waiting for a restarting server like the driver's session)."""
        reader = self._direct_reader()
        try:
            return reader.chunk(text, width, keep)
        except mysql_direct.error_type() as exc:
            error = translate_error(exc, self.settings, "reading a chunk")
            if error.mysql_code in retry.CONNECTION_LOST:
                reader.close()
                self._direct = None
            raise error from None

    def _direct_reader(self) -> mysql_direct.DirectReader:
        if self._direct is None:
            deadline = time.monotonic() + retry.RECONNECT_SECONDS
            for delay in retry.backoff():
                try:
                    self._direct = mysql_direct.DirectReader(self.settings)
                    break
                except mysql_direct.error_type() as exc:
                    error = translate_error(exc, self.settings, "connecting")
                    gone = retry.UNREACHABLE | retry.CONNECTION_LOST
                    restarting = self._connected_once and error.mysql_code in gone
                    if not restarting or time.monotonic() + delay > deadline:
                        raise error from None
                    time.sleep(delay)
        assert self._direct is not None
        return self._direct

    def read_chunks(
        self,
        info: TableInfo,
        window: DayWindow,
        plan: ScanPlan,
        chunk_rows: int,
        shape: q.SelectShape,
        lock: bool = False,
    ) -> Iterator[tuple[list[Row], Row]]:
        """Keyset chunks of the day as ``(rows cut to shape.width, last full row)``.

        With ``lock`` each chunk is read ``FOR UPDATE`` and the caller must end the transaction
        (commit or rollback) before asking for the next chunk.
        """

        def fetch(sql: str, params: list[object]) -> tuple[int, Row, tuple[list[Row], Row]]:
            rows = self.query(sql + (" FOR UPDATE" if lock else ""), params)
            if not rows:
                return 0, (), ([], ())
            cut = rows if len(rows[0]) == shape.width else [r[: shape.width] for r in rows]
            return len(rows), rows[-1], (cut, rows[-1])

        yield from self._keyset(info, window, plan, chunk_rows, shape, fetch)

    def _keyset(
        self,
        info: TableInfo,
        window: DayWindow,
        plan: ScanPlan,
        chunk_rows: int,
        shape: q.SelectShape,
        fetch: Callable[[str, list[object]], tuple[int, Row, T]],
    ) -> Iterator[T]:
        """Page through the day: each statement resumes after the last row of the one before."""
        if plan.is_empty:
            return
        first = True
        last: Row | None = None
        while True:
            sql, params = self.chunk_query(info, shape, window, plan, first, last, chunk_rows)
            try:
                count, last, item = fetch(sql, params)
            except SourceError as exc:
                if exc.mysql_code not in retry.STATEMENT_TIMEOUT or chunk_rows == 1:
                    raise
                chunk_rows = max(1, chunk_rows // 2)  # cut off by the server: ask for less
                self.counters.retries += 1
                continue
            self._count_chunk(sql, count)
            if not count:
                return
            yield item
            if count < chunk_rows:
                return
            first = False

    def chunk_query(
        self,
        info: TableInfo,
        shape: q.SelectShape,
        window: DayWindow,
        plan: ScanPlan,
        first: bool,
        last: Row | None,
        limit: int,
    ) -> tuple[str, list[object]]:
        """SQL and params of one keyset chunk: the first, or the one after ``last``."""
        day: list[object] = [window.start_param, window.end_param]
        if plan.strategy == "key":
            assert plan.low_key is not None and plan.high_key is not None
            k = info.key[0]
            start = plan.low_key if last is None else last[shape.key_positions[0]]
            assert start is not None
            params = [key_parameter(k, start), key_parameter(k, plan.high_key), *day]
            return q.key_chunk_sql(info, shape, first, limit), params
        if last is None:
            return q.time_chunk_sql(info, shape, True, limit), day
        ts_value = last[shape.ts_position]
        assert ts_value is not None
        values: list[object] = [ts_value.decode()]
        for col, pos in zip(info.key, shape.key_positions, strict=True):
            value = last[pos]
            assert value is not None
            values.append(key_parameter(col, value))
        return q.time_chunk_sql(info, shape, False, limit), [*day, *q.keyset_params(values)]

    def _count_chunk(self, sql: str, rows: int) -> None:
        c = self.counters
        c.rows_read += rows
        c.max_chunk_rows = max(c.max_chunk_rows, rows)
        if len(c.chunk_sql) < 1000:
            c.chunk_sql.append(sql)

    # -- writes ------------------------------------------------------------------------------
    def execute(self, sql: str, params: Sequence[object] = (), what: str = "writing") -> int:
        """Run one statement that returns no rows; returns the affected row count (never retried:
        a write is redone only by its owner, who knows whether that is safe)."""
        affected: int = self._call(lambda c: _run(c, sql, params), what)
        self.counters.statements += 1
        return affected

    def begin(self, lock_wait_timeout: int | None = None) -> None:
        """Start a short explicit transaction (the session stays autocommit outside it)."""
        if lock_wait_timeout is not None:
            self.query(f"SET SESSION innodb_lock_wait_timeout = {int(lock_wait_timeout)}")
        self._call(lambda c: c.begin(), "starting a transaction")
        self._in_transaction = True

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

    # -- digest & explain -------------------------------------------------------------------
    def digest_day(self, info: TableInfo, window: DayWindow) -> RowDigest:
        """The row digest of the day computed by the database (same canonical text as export)."""
        sql = sql_digest_select(
            netstring_expression(list(info.columns)), q.day_digest_from_where(info)
        )
        cnt, x1, x2, s1 = self.query(sql, (window.start_param, window.end_param), "digesting")[0]
        return RowDigest(int(cnt), int(x1), int(x2), int(s1))

    def explain(self, sql: str, params: Sequence[object]) -> list[dict[str, str | None]]:
        """EXPLAIN rows as dicts (id, select_type, table, type, key, rows, Extra, …)."""
        cur = self.connect().cursor()
        try:
            cur.execute("EXPLAIN " + sql, tuple(params))
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


def _fetch_all(conn: Any, sql: str, params: Sequence[object]) -> list[Any]:
    cur = conn.cursor()
    try:
        cur.execute(sql, tuple(params))
        return list(cur.fetchall())
    finally:
        cur.close()


def _run(conn: Any, sql: str, params: Sequence[object]) -> int:
    cur = conn.cursor()
    try:
        cur.execute(sql, tuple(params))
        return int(cur.rowcount)
    finally:
        cur.close()
