"""RANGE partitions on the MySQL source, for the verified partition drop (``steps/exchange.py``
and ``steps/partitions.py`` decide when; this module only speaks SQL, from ``partition_sql.py``):
read a table's partitions and their bounds, count one, make the empty clone, exchange the
partition into it and drop it under a table lock, move the clone's rows back."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from dbarchive.errors import VerificationError
from dbarchive.sources import partition_sql as p
from dbarchive.sources.mysql_tables import MySqlTables
from dbarchive.sources.table import RangePartition, TableInfo


class MySqlPartitions(MySqlTables):
    """What the partition drop asks of the server."""

    def range_partitions(self, info: TableInfo) -> list[RangePartition]:
        """The table's RANGE partitions on its time column, or [] if it is not so partitioned
        (another expression: the purge deletes row by row)."""
        rows = self.query(p.PARTITIONS, (info.schema, info.name), "reading the table's partitions")
        partitions: list[RangePartition] = []
        lower: dt.datetime | None = None
        for name, method, expression, description in rows:
            text = description.decode()
            if text.upper() == "MAXVALUE":
                upper = None
            else:
                bound = p.bound_sql(method.decode(), expression.decode(), text, info.ts.name)
                if bound is None:
                    return []
                sql, param = bound
                (value,) = self.query(sql, (param,), "reading a partition bound")[0]
                if not value:
                    return []
                upper = dt.datetime.fromisoformat(value.decode())
            partitions.append(RangePartition(name.decode(), lower, upper))
            lower = upper
        return partitions

    def partition_rows(self, info: TableInfo, partition: str) -> int:
        """The rows the partition holds now."""
        (count,) = self.query(p.partition_count_sql(info, partition), what="counting a partition")[
            0
        ]
        return int(count)

    def create_exchange_clone(self, info: TableInfo, clone: TableInfo) -> None:
        """``clone``: empty, in the table's schema, of the very same structure but not
        partitioned (what EXCHANGE PARTITION takes)."""
        what = f"creating {clone.name} for a partition exchange"
        self.create_like(clone.schema, clone.name, info.name, what)
        self.execute(
            p.remove_partitioning_sql(clone), what=f"removing the partitioning of {clone.name}"
        )

    def exchange_and_drop(
        self,
        info: TableInfo,
        partition: str,
        clone: TableInfo,
        lock_wait_timeout: int,
        max_retries: int,
        check_stop: Callable[[], None],
    ) -> float:
        """Under ``LOCK TABLES`` of the table and the clone: exchange the partition with the
        (empty) clone, then drop the emptied partition. Returns the seconds the table was locked
        (the wait for the lock is bounded, see ``MySqlTables._under_table_locks``)."""
        return self._under_table_locks(
            [info, clone],
            [
                (p.exchange_partition_sql(info, partition, clone),
                 f"exchanging partition {partition} with {clone.name}"),
                (p.drop_partition_sql(info, partition),
                 f"dropping the emptied partition {partition}"),
            ],
            lock_wait_timeout,
            max_retries,
            check_stop,
        )  # fmt: skip

    def move_rows(
        self,
        into: TableInfo,
        source: TableInfo,
        columns: list[str],
        limit: int,
        lock_wait_timeout: int,
    ) -> int:
        """Move the first ``limit`` rows of ``source`` (key order) into ``into``: the INSERT and
        the DELETE commit together or not at all, so a kill loses or doubles nothing. Returns
        the rows moved. VerificationError (rolled back) if the two did not count the same."""
        insert, delete = p.move_rows_sql(into, source, columns, limit)
        self.begin(lock_wait_timeout)
        try:
            inserted = self.execute(insert, what=f"putting rows of {source.name} back")
            deleted = self.execute(delete, what=f"removing the rows put back from {source.name}")
            if inserted != deleted:
                raise VerificationError(
                    f"{into.name}: putting exchanged rows back inserted {inserted} rows but "
                    f"removed {deleted} from {source.name}; rolled back, the rows stay there"
                )
            self.commit()
        except BaseException:
            self.rollback()
            raise
        return inserted
