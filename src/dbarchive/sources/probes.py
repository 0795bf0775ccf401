"""MySqlLoadProbe: the primary's Threads_running and the replicas' lag, for the Throttle."""

from __future__ import annotations

from typing import Any

import MySQLdb

from dbarchive.config import SourceSettings
from dbarchive.sources.mysql import MySqlSource, translate_error

_LAG_COLUMNS = ("Seconds_Behind_Master", "Seconds_Behind_Source")


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
        self, source: MySqlSource, replicas: tuple[str, ...] = (), aurora: bool = False
    ) -> None:
        self._source = source
        self._replica_settings = [
            SourceSettings(url=u, password_env=source.settings.password_env) for u in replicas
        ]
        self._replicas: list[Any] = []
        self._aurora = aurora

    def threads_running(self) -> int:
        rows = self._source.query(
            "SHOW GLOBAL STATUS LIKE 'Threads_running'", what="reading server load"
        )
        return int(rows[0][1])

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
                    self._replicas.append(
                        MySQLdb.connect(**settings.connect_args(), autocommit=True)
                    )
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
