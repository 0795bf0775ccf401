"""The heartbeat: how dbarchive knows a replica has applied the primary's writes up to an instant.

pt-heartbeat's idea, without its daemon. dbarchive owns a small table on the primary,
``[source] heartbeat_table`` (default ``dbarchive_heartbeat`` in the source database), one row per
primary (``@@server_id``, so a failover's new primary writes its own row)::

    server_id INT UNSIGNED PRIMARY KEY, ts DATETIME(6)   -- the primary's UTC time when written

When it needs one, it reads the primary's clock (``UTC_TIMESTAMP(6)``) and writes that instant as
a literal (the same row under any binlog format). A replica applies transactions in the primary's
commit order, so a replica whose row shows ``ts >= T`` has applied every transaction the primary
committed before ``T``. That holds for binlog replicas that preserve commit order (MariaDB always;
MySQL with ``replica_preserve_commit_order``, the default since 8.0.27) and for Aurora replicas,
which read the writer's storage. ``Seconds_Behind_Master`` is not used: it moves in whole
seconds, reads 0 on an idle replica that stopped receiving, and Aurora readers do not have it.
"""

from __future__ import annotations

import datetime as dt

from dbarchive.errors import SourceError
from dbarchive.sources.canonical import quote_identifier
from dbarchive.sources.mysql_session import MySqlSession

NO_SUCH_TABLE = 1146
_PRIMARY_CLOCK = "SELECT @@GLOBAL.server_id, UTC_TIMESTAMP(6)"


class HeartbeatTable:
    """The heartbeat table's name and statements (identifiers quoted; values as parameters)."""

    def __init__(self, schema: str, name: str) -> None:
        self.schema, self.name = schema, name
        self.qualified = f"{quote_identifier(schema)}.{quote_identifier(name)}"

    @property
    def ddl(self) -> str:
        """What creates it: dbarchive runs it on first use, or an administrator does."""
        return (
            f"CREATE TABLE IF NOT EXISTS {self.qualified} (server_id INT UNSIGNED NOT NULL "
            "PRIMARY KEY, ts DATETIME(6) NOT NULL) ENGINE=InnoDB"
        )

    @property
    def write_sql(self) -> str:
        return (
            f"INSERT INTO {self.qualified} (server_id, ts) VALUES (%s, %s) "
            "ON DUPLICATE KEY UPDATE ts = %s"
        )

    def read_sql(self, server_id: int) -> str:
        """The replica's row of this primary (a literal: the C reader takes no parameters)."""
        return f"SELECT ts FROM {self.qualified} WHERE server_id = {int(server_id)}"

    @property
    def grant(self) -> str:
        """What the archive user needs (CREATE: dbarchive creates it on first use, and a grant
        on a table that does not exist yet is accepted only with CREATE)."""
        return f"GRANT SELECT, INSERT, UPDATE, CREATE ON {self.qualified}"

    def grants_fix(self) -> str:
        return (
            f"{self.grant} TO <the archive user>; or create it as an administrator ({self.ddl}) "
            "and grant SELECT, INSERT, UPDATE on it"
        )


class Heartbeat:
    """Writes the primary's heartbeat, on the primary's own session."""

    def __init__(self, primary: MySqlSession, table: HeartbeatTable) -> None:
        self.primary, self.table = primary, table
        self._server_id: int | None = None

    @property
    def server_id(self) -> int:
        """The primary's ``@@server_id``: which row of the table is its own."""
        if self._server_id is None:
            self._server_id = self._clock()[0]
        return self._server_id

    def beat(self) -> dt.datetime:
        """Write the primary's current UTC time into its row; returns that instant (aware)."""
        server_id, now = self._clock()
        self._server_id = server_id
        params = (server_id, now, now)
        try:
            self.primary.execute(self.table.write_sql, params, "writing the heartbeat")
        except SourceError as exc:
            if exc.mysql_code != NO_SUCH_TABLE:
                raise _explained(exc, self.table) from None
            self._create()
            self.primary.execute(self.table.write_sql, params, "writing the heartbeat")
        return _instant(now)

    def last_beat(self) -> dt.datetime | None:
        """The primary's own row as it is now (None: never written), without writing."""
        rows = self.primary.query(
            self.table.read_sql(self.server_id), (), "reading the primary's heartbeat"
        )
        return parse_instant(rows[0][0]) if rows else None

    def _clock(self) -> tuple[int, str]:
        ((server_id, now),) = self.primary.query(_PRIMARY_CLOCK, (), "reading the primary's clock")
        return int(server_id), bytes(now).decode()

    def _create(self) -> None:
        try:
            self.primary.execute(self.table.ddl, (), "creating the heartbeat table")
        except SourceError as exc:
            raise _explained(exc, self.table) from None


def parse_instant(value: bytes | None) -> dt.datetime | None:
    """A heartbeat's ``ts`` (server text, UTC) as an aware datetime; None for no value."""
    return None if value is None else _instant(bytes(value).decode())


def _instant(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


def _explained(exc: SourceError, table: HeartbeatTable) -> SourceError:
    """The primary refused the heartbeat: say what it is for and how to allow it."""
    error = SourceError(
        f"the heartbeat that proves the read endpoint is recent enough cannot be written to "
        f"{table.qualified} on the primary ([source] url must be the primary when read_url is "
        f"set): {exc}; {table.grants_fix()}"
    )
    error.mysql_code = exc.mysql_code
    return error
