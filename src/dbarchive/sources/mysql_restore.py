"""Loading archived rows back into MySQL, for the restore (``jobs/restore.py`` decides what and
proves the result; the SQL text is ``restore_sql.py``): create the target, load rows in bounded
multi-row INSERTs under a strict ``sql_mode``."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from dbarchive.checksum import Value
from dbarchive.sources import restore_sql as r
from dbarchive.sources.mysql_tables import MySqlTables
from dbarchive.sources.table import TableInfo
from dbarchive.sources.table_sql import qualified


class MySqlRestore(MySqlTables):
    """What the restore asks of the server."""

    def create_table_for(
        self,
        schema: str,
        table: str,
        columns: Sequence[r.ArchivedColumn],
        key: Sequence[str],
        ts: str,
    ) -> None:
        """Create ``table`` for the archived ``columns`` (types, charsets, collations), with
        ``key`` as its primary key and an index on ``ts``: when the original table is gone."""
        sql = r.create_table_sql(qualified(schema, table), columns, key, ts)
        self.execute(sql, what="creating the target")

    @contextmanager
    def restoring(self) -> Iterator[int]:
        """Inside, this session loads rows strictly (``restore_sql.RESTORE_SQL_MODE``: no value
        silently changed, yet archived zero dates and ids 0 load back); after, its mode is back.
        Yields the server's ``max_allowed_packet``: no INSERT may be longer."""
        old_mode = self.query(r.SQL_MODE)[0][0]
        max_packet = int(self.query(r.MAX_PACKET)[0][0])
        self.execute(r.SET_SQL_MODE, (r.RESTORE_SQL_MODE,))
        try:
            yield max_packet
        finally:
            self.execute(r.SET_SQL_MODE, (old_mode,))

    def insert_rows(
        self,
        target: TableInfo,
        rows: Sequence[Sequence[Value]],
        archived_types: Sequence[str],
        key: Sequence[str],
    ) -> int:
        """Insert archived rows (canonical text, the archive's columns, as ``target`` is
        described); a row whose key is there already is skipped. Returns the rows inserted."""
        return self._load(target, rows, archived_types, key, replace=False)

    def upsert_rows(
        self,
        target: TableInfo,
        rows: Sequence[Sequence[Value]],
        archived_types: Sequence[str],
        key: Sequence[str],
    ) -> int:
        """Insert archived rows, overwriting the other columns of a row whose key is there
        already. Returns the server's affected count (1 per insert, 2 per changed row)."""
        return self._load(target, rows, archived_types, key, replace=True)

    def _load(
        self,
        target: TableInfo,
        rows: Sequence[Sequence[Value]],
        archived_types: Sequence[str],
        key: Sequence[str],
        replace: bool,
    ) -> int:
        statement = r.insert_statement(target, tuple(archived_types), tuple(key), replace)
        sql, params = statement.render(rows)
        return self.execute(sql, params, "restoring rows")
