"""MySqlLoadProbe: the primary's Threads_running, InnoDB's history list length and redo log fill,
and the replicas' lag, for the Throttle."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

import MySQLdb

from dbarchive.errors import SourceError
from dbarchive.sources import connection
from dbarchive.sources.mysql import MySqlSource
from dbarchive.sources.mysql_session import translate_error
from dbarchive.sources.redo_log import (
    AGE_SQL,
    CAPACITY_SQL,
    age_from_innodb_status,
    age_from_status,
    capacity_from_variables,
)

_LAG_COLUMNS = ("Seconds_Behind_Master", "Seconds_Behind_Source")
# MySQL, MariaDB and Aurora all keep it (on by default); whether it is switched on is told by
# TIME_ENABLED/TIME_DISABLED, which both have (MySQL also says STATUS, MariaDB ENABLED).
HISTORY_METRIC_SQL = (
    "SELECT `COUNT`, TIME_ENABLED IS NOT NULL AND "
    "(TIME_DISABLED IS NULL OR TIME_DISABLED < TIME_ENABLED) "
    "FROM information_schema.INNODB_METRICS WHERE NAME = 'trx_rseg_history_len'"
)
_HISTORY_LINE = re.compile(rb"History list length (\d+)")
# Seconds one SHOW ENGINE INNODB STATUS serves both the history and the redo gate: they read it
# one after the other at a chunk boundary; a pause reads again each second.
STATUS_REUSE = 0.5


def history_from_status(text: bytes) -> int | None:
    """The history list length in ``SHOW ENGINE INNODB STATUS`` text, if it is there."""
    found = _HISTORY_LINE.search(text)
    return None if found is None else int(found.group(1))


def replica_lag_seconds(conn: Any) -> float | None:
    """Lag of the replica behind ``conn``: seconds, or None when it is not replicating.

    Uses ``SHOW REPLICA STATUS`` (MariaDB ≥ 10.5, MySQL ≥ 8.0.22) and falls back to ``SHOW SLAVE
    STATUS``. A stopped SQL or IO thread reports NULL lag: None, which the throttle treats as
    "wait", never as "no lag".
    """
    cur = conn.cursor()
    try:
        try:
            cur.execute("SHOW REPLICA STATUS")
        except MySQLdb.ProgrammingError:
            cur.execute("SHOW SLAVE STATUS")
        row = cur.fetchone()
        names = [d[0] for d in cur.description or ()]
    finally:
        cur.close()
    if row is None:
        return None
    status = dict(zip(names, row, strict=True))
    lag = next((status[c] for c in _LAG_COLUMNS if c in status), None)
    return None if lag is None else float(lag)


class MySqlLoadProbe:
    """Reads load from the source's own session and lag from each configured replica."""

    def __init__(
        self,
        source: MySqlSource,
        replicas: tuple[str, ...] = (),
        aurora: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._source = source
        self._replica_settings = [source.settings.for_url(u) for u in replicas]
        self._replicas: list[Any] = []
        self._aurora = aurora
        self._redo_capacity: int | None = None
        self._clock = clock
        self._status: tuple[float, Any] | None = None  # (read at, SHOW ENGINE INNODB STATUS text)

    def threads_running(self) -> int:
        rows = self._source.query(
            "SHOW GLOBAL STATUS LIKE 'Threads_running'", what="reading server load"
        )
        return int(rows[0][1])

    def history_length(self) -> int:
        """InnoDB's history list length: the ``trx_rseg_history_len`` metric, or, where that
        metric is switched off, the line of ``SHOW ENGINE INNODB STATUS`` (both need PROCESS)."""
        what = "reading InnoDB's history list length (for max_history_length)"
        rows = self._source.query(HISTORY_METRIC_SQL, what=what)
        if rows and rows[0][1] and int(rows[0][1]):
            return int(rows[0][0])
        status = self._innodb_status(what)
        length = None if status is None else history_from_status(status)
        if length is None:
            raise SourceError(
                "the server reports no InnoDB history list length (neither INNODB_METRICS' "
                "trx_rseg_history_len nor SHOW ENGINE INNODB STATUS): remove max_history_length"
            )
        return length

    def redo_fill(self) -> float | None:
        """The redo log's checkpoint age as a share of its capacity (``sources/redo_log.py``);
        None on Aurora and on a server that tells neither. Falls back to ``SHOW ENGINE INNODB
        STATUS`` (needs PROCESS) where no status variable has the age."""
        what = "reading the redo log's checkpoint age (for max_redo_fill)"
        if self._redo_capacity is None:
            identity = self._source.server_identity()
            if "aurora_server_id" in identity:
                return None
            variables = self._source.query(CAPACITY_SQL, what=what)
            self._redo_capacity = capacity_from_variables(variables) or 0
        if not self._redo_capacity:
            return None
        age = age_from_status(self._source.query(AGE_SQL, what=what))
        if age is None:
            status = self._innodb_status(what)
            age = None if status is None else age_from_innodb_status(status)
        return None if age is None else age / self._redo_capacity

    def _innodb_status(self, what: str) -> Any:
        """``SHOW ENGINE INNODB STATUS``'s text; one read serves both gates at a chunk
        boundary (on a server without the history metric and the redo status variables: MySQL
        before 8.0.30), since the statement walks every open transaction."""
        now = self._clock()
        if self._status is None or now - self._status[0] > STATUS_REUSE:
            rows = self._source.query("SHOW ENGINE INNODB STATUS", what=what)
            self._status = (now, rows[0][2] if rows else None)
        return self._status[1]

    def replica_lag(self) -> float | None:
        lags: list[float | None] = [replica_lag_seconds(c) for c in self._connections()]
        if self._aurora:
            lags.append(self._aurora_lag())
        if not lags:
            return 0.0
        if any(lag is None for lag in lags):
            return None
        return max(lag for lag in lags if lag is not None)

    def _connections(self) -> list[Any]:
        if not self._replicas:
            for settings in self._replica_settings:
                try:
                    self._replicas.append(connection.open_session(settings, autocommit=True))
                except MySQLdb.Error as exc:
                    raise translate_error(exc, settings, "connecting to a replica") from None
        return self._replicas

    def _aurora_lag(self) -> float | None:
        rows = self._source.query(
            "SELECT MAX(replica_lag_in_milliseconds) FROM information_schema.replica_host_status"
            " WHERE session_id <> 'MASTER_SESSION_ID'",
            what="reading Aurora replica lag",
        )
        value = rows[0][0] if rows else None
        return None if value is None else float(value) / 1000.0

    def close(self) -> None:
        for conn in self._replicas:
            conn.close()
        self._replicas = []
