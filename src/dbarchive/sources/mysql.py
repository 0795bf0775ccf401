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
from collections.abc import Callable, Iterator
from typing import Any

from dbarchive import failpoints
from dbarchive.checksum import RowDigest, sql_digest_select
from dbarchive.config import TableSpec
from dbarchive.errors import NoUsableKeyError, SourceError
from dbarchive.formats.csv import EncodedChunk, encode_chunk
from dbarchive.sources import mysql_direct, retry
from dbarchive.sources import mysql_sql as q
from dbarchive.sources.canonical import (
    canonical_expression,
    key_parameter,
    netstring_expression,
    quote_identifier,
)
from dbarchive.sources.charsets import check_rows, key_scan_refusal, unconvertible
from dbarchive.sources.mysql_catalog import MySqlCatalog
from dbarchive.sources.mysql_partitions import MySqlPartitions
from dbarchive.sources.mysql_restore import MySqlRestore
from dbarchive.sources.mysql_session import (
    Row,
    T,
    translate_error,
)
from dbarchive.sources.ordinal_keys import bound_text
from dbarchive.sources.sqltext import bind
from dbarchive.sources.table import (
    ChunkRows,
    DayWindow,
    ScanPlan,
    TableInfo,
    date_window,
    day_holding,
    day_window,
)
from dbarchive.sources.table import NoDayRows as NoDayRows  # where status and check import it

# Keys denser than this (key span / rows of the day) are read by key range; sparser by time.
KEY_SPAN_LIMIT = 4


FIRST_DAY = "0001-01-01 00:00:00"  # zero dates and year 0 sort before it: they have no day


def client_literal(connection: Any) -> Callable[[object], str]:
    """SQL text of one parameter, quoted by the driver as ``execute`` would; bytes (a binary key)
    as a hex literal, which is text in any charset (the driver's quoted bytes are not UTF-8)."""

    def literal(value: object) -> str:
        if isinstance(value, bytes):
            return f"X'{value.hex()}'"
        text: bytes = connection.literal(value)
        return text.decode()

    return literal


class MySqlSource(MySqlPartitions, MySqlRestore, MySqlCatalog):
    """A MySQL/MariaDB server holding the tables to archive: the session and the catalog
    (``mysql_session.py``, ``mysql_catalog.py``), whole tables, partitions and the restore's
    loading (``mysql_tables.py``, ``mysql_partitions.py``, ``mysql_restore.py``), and reading a
    day (here)."""

    # -- plan -------------------------------------------------------------------------------
    def window(self, spec: TableSpec, info: TableInfo, day: dt.date) -> DayWindow:
        """The query window of ``day``: TIMESTAMP compares in UTC, DATETIME in the source zone,
        and a DATE is its own day whatever the zones (it has no time of day to convert)."""
        if info.ts.data_type == "date":
            return date_window(day, spec.timezone)
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
        low, high = (
            bound_text(info.key[0].data_type, info.key[0].column_type, v) for v in (low, high)
        )
        if scan == "key" and (refusal := key_scan_refusal(info)):
            raise NoUsableKeyError(refusal)
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
            by_range = (
                "; or set scan = 'key' to read each day by its range"
                if len(info.key) == 1
                else " (a key of several columns is always read through the time index)"
            )
            raise NoUsableKeyError(
                f"{info.name!r}: reading a day through the time index needs the primary key as "
                "its tie-breaker (InnoDB keeps the primary key in every index), and the key "
                f"paged by is the unique index {info.key_index!r}: page by the primary key "
                "(leave key_columns out; a table without one needs one added, an AUTO_INCREMENT "
                "id is ideal)" + by_range
            )

    def oldest_day(
        self, spec: TableSpec, info: TableInfo, since: dt.date | None = None
    ) -> dt.date | None:
        """The partition day of the oldest row that has one (through the time index; of those the
        table's ``where`` selects), or of the oldest from the start of day ``since`` on; None if
        no row has. A zero or invalid time
        value (``0000-00-00``, ``2026-11-00``) belongs to no day: it is passed over here, never
        archived nor purged (``no_day_rows`` counts them)."""
        ts = quote_identifier(info.ts.name)
        bound = FIRST_DAY if since is None else self.window(spec, info, since).start_param
        rows = self.query(
            f"SELECT {ts} FROM {info.qualified} WHERE {ts} >= %s{q.valid_date_guard(info)}"
            f"{q.filter_clause(info.where)} ORDER BY {ts} LIMIT 1",
            (max(bound, FIRST_DAY),),
            what="finding the oldest row",
        )
        if not rows:
            return None
        text = rows[0][0].decode()
        if info.ts.data_type == "date":
            return dt.date.fromisoformat(text)
        column_zone = "UTC" if info.ts.data_type == "timestamp" else self.settings.timezone
        return day_holding(text, spec.timezone, column_zone)

    def no_day_rows(self, info: TableInfo, examples: int = 5) -> NoDayRows:
        """The rows whose time value is NULL, zero or not a date, so they belong to no day:
        how many, and the keys of the first few (index ranges only; see ``no_day_sql``)."""
        ts = quote_identifier(info.ts.name)
        where, params = q.no_day_sql(info, self._months_with_values(info))
        (count,) = self.query(
            f"SELECT COUNT(*) FROM {info.qualified} {where}", params, "counting rows with no day"
        )[0]
        keys = ", ".join(canonical_expression(c) for c in info.key)
        sample = self.query(
            f"SELECT {keys} FROM {info.qualified} {where} ORDER BY {ts} LIMIT {int(examples)}",
            params,
            "listing rows with no day",
        )
        return NoDayRows(info.ts.name, int(count), [[v.decode() for v in row] for row in sample])

    def _months_with_values(self, info: TableInfo) -> list[tuple[int, int]]:
        """Each month holding a value of the time column, and the month after it: the gaps an
        invalid date can sort into (``2026-11-00`` just before November). One index dive per
        month with values, so a far-off value (a ``9999-12-31`` sentinel) adds one, not the
        thousands of months in between."""
        if info.ts.data_type not in q.VALIDATED_TIME_TYPES:
            return []
        ts = quote_identifier(info.ts.name)
        months: list[tuple[int, int]] = []
        bound = FIRST_DAY
        while True:
            (value,) = self.query(
                f"SELECT MIN({ts}) FROM {info.qualified} WHERE {ts} >= %s",
                (bound,),
                "finding the months of the time column",
            )[0]
            if value is None:
                return months
            month = (int(value[:4]), max(1, int(value[5:7])))
            after = (month[0] + month[1] // 12, month[1] % 12 + 1)
            if month not in months[-1:]:
                months.append(month)
            if after[0] > 9999:  # nothing sorts after December 9999
                return months
            months.append(after)
            bound = f"{after[0]:04d}-{after[1]:02d}-01 00:00:00"

    # -- read -------------------------------------------------------------------------------
    def read_day(
        self, info: TableInfo, window: DayWindow, plan: ScanPlan, chunk_rows: ChunkRows
    ) -> Iterator[list[Row]]:
        """Yield the day's rows (canonical text, exported columns only) in bounded chunks."""
        for rows, _last in self.read_chunks(info, window, plan, chunk_rows, q.select_shape(info)):
            failpoints.hit("export.chunk-read")
            yield rows

    @property
    def reads_in_c(self) -> bool:
        """Whether day reads go through the C reader (``dbarchive._mysqlread``): built, not
        switched off, and able to log in. Asked just before reading, so it opens the reader's
        session; a login its client library cannot make sends the reads through the driver."""
        if self._direct_refused or not mysql_direct.available(self.settings):
            return False
        try:
            self._direct_reader()
        except mysql_direct.LoginUnsupported:
            self._direct_refused = True
            return False
        return True

    def read_day_csv(
        self, info: TableInfo, window: DayWindow, plan: ScanPlan, chunk_rows: ChunkRows
    ) -> Iterator[EncodedChunk]:
        """The day's chunks already encoded as archive CSV: in C when it was built, else here."""
        shape = q.select_shape(info)
        if not self.reads_in_c:
            for rows, _last in self.read_chunks(info, window, plan, chunk_rows, shape):
                failpoints.hit("export.chunk-read")
                yield encode_chunk(rows)
            return
        keep = sorted({*shape.key_positions, shape.ts_position})
        literal = client_literal(self.connect())  # quoting is done on the client

        def fetch(sql: str, params: list[object]) -> tuple[int, Row, EncodedChunk]:
            text = bind(sql, params, literal).encode()
            try:
                chunk = retry.CHUNK_READ.call(
                    lambda: self._direct_chunk(text, shape, keep), before_retry=self._count_retry
                )
            except mysql_direct.FlaggedRow as flagged:  # text that does not convert
                key = [flagged.values[keep.index(p)] for p in shape.key_positions]
                raise unconvertible(info, flagged.flag, key) from None
            self.counters.statements += 1
            return chunk.rows, chunk.last, chunk

        for chunk in self._keyset(info, window, plan, chunk_rows, shape, fetch):
            failpoints.hit("export.chunk-read")
            yield chunk

    def reading_sessions(self) -> list[int]:
        """Server thread ids of the sessions an export reads through (connecting them first):
        the driver's, and the C reader's when it is built. For ``KILL`` and for watching them."""
        ids = [int(self.connect().thread_id())]
        if self.reads_in_c:
            thread_id = self._direct_reader().thread_id
            if thread_id is not None:
                ids.append(thread_id)
        return ids

    def _direct_chunk(self, text: bytes, shape: q.SelectShape, keep: list[int]) -> Any:
        """One chunk through the C reader; a lost session is dropped (the next call reconnects,
        waiting for a restarting server like the driver's session)."""
        reader = self._direct_reader()
        try:
            return reader.chunk(text, shape.width, keep, shape.guard_position)
        except mysql_direct.error_type() as exc:
            error = translate_error(exc, self.settings, "reading a chunk")
            if error.mysql_code in retry.CONNECTION_LOST:
                reader.close()
                self._direct = None
            raise error from None

    def _direct_reader(self) -> mysql_direct.DirectReader:
        if self._direct is None:  # after a lost session, wait for a restarting server
            self._direct = retry.RECONNECT.call(
                self._open_direct, when=lambda _error: self._connected_once
            )
        return self._direct

    def _open_direct(self) -> mysql_direct.DirectReader:
        try:
            return mysql_direct.DirectReader(self.settings)
        except mysql_direct.error_type() as exc:
            raise translate_error(exc, self.settings, "connecting") from None

    def read_chunks(
        self,
        info: TableInfo,
        window: DayWindow,
        plan: ScanPlan,
        chunk_rows: ChunkRows,
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
            check_rows(info, shape.key_positions, shape.guard_position, rows)
            cut = rows if len(rows[0]) == shape.width else [r[: shape.width] for r in rows]
            return len(rows), rows[-1], (cut, rows[-1])

        yield from self._keyset(info, window, plan, chunk_rows, shape, fetch)

    def _keyset(
        self,
        info: TableInfo,
        window: DayWindow,
        plan: ScanPlan,
        chunk_rows: ChunkRows,
        shape: q.SelectShape,
        fetch: Callable[[str, list[object]], tuple[int, Row, T]],
    ) -> Iterator[T]:
        """Page through the day: each statement resumes after the last row of the one before.
        A callable ``chunk_rows`` is asked before each statement (a throttle's cap moves)."""
        if plan.is_empty:
            return
        first = True
        last: Row | None = None
        ceiling: int | None = None  # lowered when the server cut a statement off
        while True:
            size = max(1, chunk_rows if isinstance(chunk_rows, int) else chunk_rows())
            size = size if ceiling is None else min(size, ceiling)
            sql, params = self.chunk_query(info, shape, window, plan, first, last, size)
            try:
                count, last, item = fetch(sql, params)
            except SourceError as exc:
                if exc.mysql_code not in retry.STATEMENT_TIMEOUT or size == 1:
                    raise
                ceiling = max(1, size // 2)  # cut off by the server: ask for less
                self.counters.retries += 1
                continue
            self._count_chunk(sql, count)
            if not count:
                return
            yield item
            if count < size:
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

    # -- digest & explain -------------------------------------------------------------------
    def digest_day(self, info: TableInfo, window: DayWindow) -> RowDigest:
        """The row digest of the day computed by the database (same canonical text as export)."""
        sql = sql_digest_select(
            netstring_expression(list(info.columns)), q.day_digest_from_where(info)
        )
        cnt, x1, x2, s1 = self.query(sql, (window.start_param, window.end_param), "digesting")[0]
        return RowDigest(int(cnt), int(x1), int(x2), int(s1))
