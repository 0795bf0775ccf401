"""``Source``: exactly what the core (steps, jobs, work units, the pipeline) asks of a database.

``MySqlSource`` implements it; ``Context.source`` is typed with it, so mypy holds every step to
these methods, and ``tests/unit/test_import_contract.py`` checks the list both ways (each method
is called by the core, and the core calls nothing else on a source). Most are intent-named
(``window``, ``plan_scan``, ``read_chunks``, ``digest_day``, ``exchange_and_drop``,
``insert_rows`` …): the SQL behind them lives in ``sources/``. ``query``/``execute`` and the
transaction calls remain for the purge, growth and work units, which still pass statements built
by ``mysql_sql.py``; they are the next to get intent-named methods (``docs/architecture.md``).

A new source (a replica read session, another engine) is a class with these methods; a concrete
strategy that needs more (``strategies/aurora``) asks for ``MySqlSource`` itself.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

if TYPE_CHECKING:
    from dbarchive.checksum import RowDigest, Value
    from dbarchive.config import SourceSettings, TableSpec
    from dbarchive.formats.csv import EncodedChunk
    from dbarchive.sources.mysql_session import Isolation, Row, SourceCounters
    from dbarchive.sources.mysql_sql import SelectShape
    from dbarchive.sources.restore_sql import ArchivedColumn
    from dbarchive.sources.table import (
        ChunkRows,
        DayWindow,
        NoDayRows,
        RangePartition,
        ScanPlan,
        TableInfo,
    )

T = TypeVar("T")


class Source(Protocol):
    """A database holding the tables to archive, as the core uses it."""

    settings: SourceSettings
    counters: SourceCounters

    # -- session, run lock --------------------------------------------------------------------
    def close(self) -> None: ...
    def server_identity(self) -> dict[str, str]: ...
    def lock_table(self, info: TableInfo) -> None: ...
    def check_run_lock(self, info: TableInfo) -> None: ...
    def holding_run_lock(self, info: TableInfo, chunks: Iterable[T]) -> Iterator[T]: ...

    # -- describe and plan a day --------------------------------------------------------------
    def describe(self, spec: TableSpec) -> TableInfo: ...
    def window(self, spec: TableSpec, info: TableInfo, day: dt.date) -> DayWindow: ...
    def plan_scan(self, info: TableInfo, window: DayWindow, scan: str) -> ScanPlan: ...
    def oldest_day(
        self, spec: TableSpec, info: TableInfo, since: dt.date | None = None
    ) -> dt.date | None: ...
    def no_day_rows(self, info: TableInfo, examples: int = 5) -> NoDayRows: ...

    # -- read and digest a day ----------------------------------------------------------------
    @property
    def reads_in_c(self) -> bool: ...
    def read_day_csv(
        self, info: TableInfo, window: DayWindow, plan: ScanPlan, chunk_rows: ChunkRows
    ) -> Iterator[EncodedChunk]: ...
    def read_chunks(
        self,
        info: TableInfo,
        window: DayWindow,
        plan: ScanPlan,
        chunk_rows: ChunkRows,
        shape: SelectShape,
        lock: bool = False,
    ) -> Iterator[tuple[list[Row], Row]]: ...
    def digest_day(self, info: TableInfo, window: DayWindow) -> RowDigest: ...

    # -- statements the purge, growth and work units still build (mysql_sql.py) ---------------
    def chunk_query(
        self,
        info: TableInfo,
        shape: SelectShape,
        window: DayWindow,
        plan: ScanPlan,
        first: bool,
        last: Row | None,
        limit: int,
    ) -> tuple[str, list[object]]: ...
    def query(
        self, sql: str, params: Sequence[object] = (), what: str = "reading"
    ) -> list[Any]: ...
    def execute(self, sql: str, params: Sequence[object] = (), what: str = "writing") -> int: ...
    def explain(self, sql: str, params: Sequence[object]) -> list[dict[str, str | None]]: ...
    def begin(
        self, lock_wait_timeout: int | None = None, isolation: Isolation | None = None
    ) -> None: ...
    def commit(self) -> None: ...
    def rollback(self) -> None: ...
    def logs_statements(self) -> bool: ...

    # -- whole tables and the verified partition drop -----------------------------------------
    def table_exists(self, schema: str, table: str) -> bool: ...
    def create_statement(self, table: TableInfo) -> bytes: ...
    def count_rows(self, table: TableInfo) -> int: ...
    def time_range(self, table: TableInfo) -> tuple[str, str] | None: ...
    def stored_columns(self, table: TableInfo) -> list[str]: ...
    def create_like(self, schema: str, table: str, like: str, what: str) -> None: ...
    def drop_table(self, schema: str, table: str) -> None: ...
    def range_partitions(self, info: TableInfo) -> list[RangePartition]: ...
    def partition_rows(self, info: TableInfo, partition: str) -> int: ...
    def create_exchange_clone(self, info: TableInfo, clone: TableInfo) -> None: ...
    def exchange_and_drop(
        self,
        info: TableInfo,
        partition: str,
        clone: TableInfo,
        lock_wait_timeout: int,
        max_retries: int,
        check_stop: Callable[[], None],
    ) -> float: ...
    def move_rows(
        self,
        into: TableInfo,
        source: TableInfo,
        columns: list[str],
        limit: int,
        lock_wait_timeout: int,
    ) -> int: ...

    # -- restore ------------------------------------------------------------------------------
    def create_table_for(
        self,
        schema: str,
        table: str,
        columns: Sequence[ArchivedColumn],
        key: Sequence[str],
        ts: str,
    ) -> None: ...
    def restoring(self) -> AbstractContextManager[int]: ...
    def insert_rows(
        self,
        target: TableInfo,
        rows: Sequence[Sequence[Value]],
        archived_types: Sequence[str],
        key: Sequence[str],
    ) -> int: ...
    def upsert_rows(
        self,
        target: TableInfo,
        rows: Sequence[Sequence[Value]],
        archived_types: Sequence[str],
        key: Sequence[str],
    ) -> int: ...
