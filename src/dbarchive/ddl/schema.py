"""A table's archived partitions as one table definition, with what the partitions disagree on.

Every manifest records the columns (and MySQL types) its day was exported with, so a column
added, dropped or retyped between two days is visible per partition. The definition takes the
newest partition's columns in their order, then columns only older partitions have (dropped
since), each with its newest type; :attr:`TableDefinition.notes` says which days differ and
what each kind of reader makes of that.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Literal

from dbarchive.errors import ConfigError
from dbarchive.formats import format_named
from dbarchive.formats.lake_types import LakeType, lake_type
from dbarchive.layout import MANIFEST_NAME, Layout, day_dir, day_of_key, table_dir
from dbarchive.manifest import ColumnEntry, ColumnStats, Manifest
from dbarchive.storage import Storage

FOLDER_KEYS: tuple[str, ...] = (
    "year",
    "month",
    "day",
)  # the keys of a day's Hive folder: year=/month=/day=


@dataclass(frozen=True)
class LakeColumn:
    """One column of the table definition."""

    name: str
    mysql_type: str
    type: LakeType


@dataclass(frozen=True)
class PartitionInfo:
    """What one archived day holds, as its manifest says."""

    day: dt.date
    location: str  # URL of the partition folder, ending in '/'
    format: str
    columns: tuple[ColumnEntry, ...]
    column_stats: ColumnStats | None = None  # None: not recorded (Parquet, older archives)
    compression: str = ""  # as its manifest says ("": not given)
    has_files: bool = True  # False: a day archived without rows (no data file)


@dataclass(frozen=True)
class TableDefinition:
    """Everything a DDL generator needs: where, which format, which columns, which days."""

    table: str
    location: str  # URL of the table folder, ending in '/'
    layout: Layout
    format: str
    compression: str
    columns: tuple[LakeColumn, ...]
    partitions: tuple[PartitionInfo, ...]
    notes: tuple[str, ...] = field(default=())
    endpoint_url: str | None = None  # an S3 endpoint other than AWS's ([destination] endpoint_url)
    region: str | None = None  # the bucket's region ([destination] region), if configured
    name: str | None = None  # its name in the lake's catalogs (None: the table's)

    @property
    def lake_name(self) -> str:
        return self.name or self.table

    @property
    def first_day(self) -> dt.date:
        return self.partitions[0].day

    @property
    def last_day(self) -> dt.date:
        return self.partitions[-1].day

    @property
    def file_glob(self) -> str:
        """The data files below the table folder (never the manifests), as the newest day names
        them."""
        return _glob(self.format, self.compression)

    @property
    def file_globs(self) -> tuple[str, ...]:
        """The data files of every day of this format, whatever compression each day has (days
        archived before ``compression`` changed keep their own extension). Only globs some
        day's files match: DuckDB fails a whole view over a glob that matches no file."""
        days = [  # the newest day's first
            p.compression or self.compression
            for p in reversed(self.partitions)
            if p.format == self.format and p.has_files
        ]
        return tuple(dict.fromkeys(_glob(self.format, c) for c in days))

    @property
    def partition_columns(self) -> tuple[str, ...]:
        return partition_columns(self.columns)

    @property
    def partitions_renamed(self) -> bool:
        return self.partition_columns != FOLDER_KEYS

    @property
    def schema_changes(self) -> bool:
        return len({p.columns for p in self.partitions}) > 1

    def days_with(self, stat: Literal["line_breaks", "null_text"]) -> dict[str, list[dt.date]]:
        """Per column, the days of this format whose files hold such a value (the manifests'
        column stats): ``line_breaks`` a CR or LF, ``null_text`` the text ``\\N``."""
        found: dict[str, list[dt.date]] = {}
        for p in self.partitions:
            if p.format == self.format and p.column_stats is not None:
                for name in getattr(p.column_stats, stat):
                    found.setdefault(name, []).append(p.day)
        return found

    @property
    def days_without_stats(self) -> list[dt.date]:
        """The days of this format whose manifests record no column stats."""
        return [
            p.day for p in self.partitions if p.format == self.format and p.column_stats is None
        ]


def read_definition(
    storage: Storage,
    root_url: str,
    table: str,
    layout: Layout,
    folder: str | None = None,
    *,
    endpoint_url: str | None = None,
    region: str | None = None,
    name: str | None = None,
) -> TableDefinition:
    """The definition of ``table`` from every manifest under its folder (``ArchiveJob.folder``;
    None: the folder its name maps to in the default schema). ``endpoint_url`` and ``region``:
    where readers reach an ``s3://`` archive (the destination's settings); ``name``: the
    table's name in the lake (``ArchiveJob.lake_name``; None: ``table``).

    Raises:
        ConfigError: if no day of the table is archived yet.
    """
    folder = table_dir(table) if folder is None else folder
    manifests = _manifests(storage, folder, layout)
    if not manifests:
        raise ConfigError(
            f"no archived day of {table!r} under {root_url}: export a day first (dbarchive export)"
        )
    location = root_url.rstrip("/") + "/" + folder + "/"
    partitions = tuple(
        PartitionInfo(
            m.day,
            location + _partition_dir(m.day, layout),
            format_named(m.format).files,
            m.columns,
            m.column_stats,
            m.compression,
            bool(m.files),
        )
        for m in manifests
    )
    newest = manifests[-1]
    columns = _merged_columns(manifests)
    files = format_named(newest.format).files
    notes = _format_notes(manifests) + _column_notes(manifests, files)
    notes += _partition_note(columns) + _zone_note(newest) + _superseded_note(manifests)
    return TableDefinition(
        table,
        location,
        layout,
        files,
        newest.compression,
        columns,
        partitions,
        notes,
        endpoint_url,
        region,
        name,
    )


def partition_columns(columns: tuple[LakeColumn, ...]) -> tuple[str, ...]:
    """The lake's names for the folders' year, month and day: those, unless the table has a
    column of such a name (in any case: Hive and Athena fold it), then ``part_year`` and so on —
    the same name for two columns is refused by Athena and Spark and read wrong by DuckDB and
    pyarrow."""
    taken = {c.name.lower() for c in columns}
    names = FOLDER_KEYS
    while taken & set(names):
        names = tuple(f"part_{n}" for n in names)
    return names


def _partition_note(columns: tuple[LakeColumn, ...]) -> tuple[str, ...]:
    """What the readers call the folders' year/month/day when the table has such a column."""
    names = partition_columns(columns)
    if names == FOLDER_KEYS:
        return ()
    own = [c.name for c in columns if c.name.lower() in set(FOLDER_KEYS)]
    return (
        f"the table has columns named {', '.join(own)}: they keep their own values, and the "
        f"folders' year/month/day are {', '.join(names)} (Athena, Glue, DuckDB) or left out "
        "(Spark, pyarrow: read by the files alone)",
    )


def _zone_note(newest: Manifest) -> tuple[str, ...]:
    """Whose days the folders are, when not UTC's (an outside trial: a Berlin day=25 held rows
    whose TIMESTAMP read 24th 22:xx UTC, and a query on both missed them)."""
    if newest.timezone == "UTC":
        return ()
    return (
        f"the folders' year/month/day are days in {newest.timezone} (the rows' day there), "
        "while TIMESTAMP values read UTC (DATETIME ones, source.timezone's wall clock): filter "
        f"a day by the folders or by {newest.timestamp_column}'s range, not by both as if they "
        "agreed",
    )


def _superseded_note(manifests: list[Manifest]) -> tuple[str, ...]:
    """The days holding older versions of rows changed after their purge began: every reader
    of the files sees both versions of such a row (restore gives the newest only)."""
    days = [m.day for m in manifests if m.superseded.count]
    if not days:
        return ()
    rows = sum(m.superseded.count for m in manifests)
    return (
        f"WARNING: {day_list(days)} hold {rows} older version(s) of rows changed after their "
        "purge began: a query over the files sees each such row twice (its newest version is in "
        "the day's highest part-gNNNN file); dbarchive restore gives the newest only",
    )


def _glob(fmt: str, compression: str) -> str:
    if fmt == "parquet":
        return "*/*/*/part-*.parquet"
    return "*/*/*/part-*.csv" + {"gzip": ".gz", "zstd": ".zst"}.get(compression, "")


def _partition_dir(day: dt.date, layout: Layout) -> str:
    return day_dir(day, layout) + "/"


def _manifests(storage: Storage, folder: str, layout: Layout) -> list[Manifest]:
    found = []
    for obj in storage.list_objects(folder + "/"):
        if obj.key.rsplit("/", 1)[-1] != MANIFEST_NAME or day_of_key(obj.key, layout) is None:
            continue
        raw = storage.get_bytes(obj.key)
        if raw is not None:
            found.append(Manifest.loads(raw))
    return sorted(found, key=lambda m: m.day)


def _merged_columns(manifests: list[Manifest]) -> tuple[LakeColumn, ...]:
    """Newest columns in newest order, then columns only older days have; newest type wins."""
    merged: dict[str, str] = {}
    for m in reversed(manifests):
        for c in m.columns:
            merged.setdefault(c.name, c.mysql_type)
    return tuple(LakeColumn(n, t, lake_type(t)) for n, t in merged.items())


def day_list(days: list[dt.date]) -> str:
    """``2026-05-01, 2026-05-03`` (up to three days), else ``first .. last (N days)``."""
    if len(days) <= 3:
        return ", ".join(d.isoformat() for d in days)
    return f"{days[0]} .. {days[-1]} ({len(days)} days)"


def _column_notes(manifests: list[Manifest], fmt: str) -> tuple[str, ...]:
    newest = manifests[-1].columns
    differing = [m for m in manifests[:-1] if m.columns != newest]
    if not differing:
        return ()
    new = {c.name: c.mysql_type for c in newest}
    notes = [
        _describe_difference(
            m.day,
            {c.name: c.mysql_type for c in m.columns},
            new,
            [c.name for c in m.columns] != [c.name for c in newest],
        )
        for m in differing
    ]
    how = (
        "Parquet is read by column name: a column a day lacks reads as NULL there, a retyped "
        "column needs a reader that converts the old type (widening does; else re-export)"
        if fmt == "parquet"
        else "CSV is read by position by Athena and Spark: the days listed read wrong columns "
        "under this definition; DuckDB's union_by_name reads them by header name"
    )
    head = (
        f"partitions disagree on columns ({day_list([m.day for m in differing])} differ from "
        f"{manifests[-1].day}):"
    )
    return (head, *notes, how)


def _describe_difference(
    day: dt.date, old: dict[str, str], new: dict[str, str], reordered: bool
) -> str:
    parts: list[str] = []
    added = [n for n in new if n not in old]
    dropped = [n for n in old if n not in new]
    retyped = [f"{n} {old[n]} -> {new[n]}" for n in new if n in old and old[n] != new[n]]
    if added:
        parts.append("lacks " + ", ".join(added))
    if dropped:
        parts.append("has since-dropped " + ", ".join(dropped))
    if retyped:
        parts.append("retyped " + ", ".join(retyped))
    if reordered and not (added or dropped):
        parts.append("columns in another order")
    return f"  {day}: " + "; ".join(parts)


def _format_notes(manifests: list[Manifest]) -> tuple[str, ...]:
    newest = format_named(manifests[-1].format).files  # iceberg days are Parquet files too
    other = [m.day for m in manifests if format_named(m.format).files != newest]
    if not other:
        return ()
    return (
        f"{day_list(other)} are archived as another format than {newest}: this definition cannot "
        f"read them; re-export those days with format = '{newest}' if their purge has not begun "
        "(a purged day's rows are only in the archive: it keeps its format), or define a second "
        "table over them",
    )
