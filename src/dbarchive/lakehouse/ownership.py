"""Whose files an Iceberg table lists, and by which column it finds a day's files.

dbarchive finds a day's files in its Iceberg table through the timestamp column's statistics,
kept if they sit in the day's folder. A table that lists another archive's files (two archived
tables given one Iceberg name, in two jobs) or whose days are now decided by another column (a
renamed timestamp column) would have a day's files missed there, and every commit would add them
again: each reader would count the rows twice, then three times. Both are refused before any
file is written or committed; the table properties below record what each table is.
"""

from __future__ import annotations

from collections.abc import Mapping

from dbarchive.errors import ConfigError

TIMESTAMP_PROPERTY = "dbarchive.timestamp-column"  # the column that decides the day
OWNER_PROPERTY = "dbarchive.archive-folder"  # the archive folder whose files the table lists


def require_own(
    properties: Mapping[str, str], table: str, name: str, mine: str, timestamp_column: str
) -> None:
    """Refuse (ConfigError, nothing changed) Iceberg table ``name`` for archived ``table`` whose
    archive is at ``mine`` and whose day is decided by ``timestamp_column``, when its properties
    say it is another archive's or finds its days by another column. A table made before owners
    were recorded has none (its next commit records this one)."""
    owner = properties.get(OWNER_PROPERTY)
    if owner is not None and owner != mine:
        raise ConfigError(
            f"{table}: the Iceberg table {name} lists the files of the archive in {owner}, not "
            f"this table's ({mine}): two archived tables would share one Iceberg table. Give this "
            "one its own Iceberg name (another [iceberg] namespace, or the table's schema); "
            "nothing was changed"
        )
    column = properties.get(TIMESTAMP_PROPERTY)
    if column is not None and column != timestamp_column:
        raise ConfigError(
            f"{table}: the Iceberg table {name} finds each day's files by column {column!r} (its "
            f"day partitions), and the day is now decided by {timestamp_column!r}: the new days' "
            f"rows would be in no day of it. Keep the column {column!r} (rename it back), or "
            "archive the table as another Iceberg table (another [iceberg] namespace, or the "
            "table's schema); nothing was changed"
        )
