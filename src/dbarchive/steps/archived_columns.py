"""A day archived before the table's columns changed: what changed, and how to compare it.

Each manifest records the columns (and MySQL types) its day was exported with. When the table
has since gained, lost, retyped or moved columns, its rows' digest today is over other columns
than the archive's, so the two cannot agree even when no archived value changed. Verify then
names the change and compares on the archived columns that are unchanged since (same name, same
type, the archive's order): the database's digest over those columns against the archive's —
the manifest's own when every archived column is still there unchanged (only columns added or
moved), else recomputed from the files with the other columns left out.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from dbarchive.checksum import RowDigest
from dbarchive.formats.csv import encode_rows
from dbarchive.manifest import Manifest
from dbarchive.sources.canonical import quote_identifier
from dbarchive.sources.table import TableInfo
from dbarchive.steps.archive_files import iter_archive_chunks
from dbarchive.storage import Storage


@dataclass(frozen=True)
class ColumnChange:
    """How the table's columns now differ from a day's archived ones."""

    added: tuple[str, ...]  # in the table now, not in the archive
    dropped: tuple[str, ...]  # in the archive, no longer in the table
    retyped: tuple[tuple[str, str, str], ...]  # (name, archived type, type now)
    moved: bool  # the columns both have are in another order
    kept: tuple[str, ...]  # archived columns unchanged since, in the archive's order

    @property
    def archive_whole(self) -> bool:
        """Whether every archived column is still there with its type (compared as archived)."""
        return not (self.dropped or self.retyped)

    def describe(self) -> str:
        """``added note; dropped latin; retyped i int(11) -> bigint(20)``."""
        parts = []
        if self.added:
            parts.append("added " + ", ".join(self.added))
        if self.dropped:
            parts.append("dropped " + ", ".join(self.dropped))
        if self.retyped:
            parts.append("retyped " + ", ".join(f"{n} {a} -> {b}" for n, a, b in self.retyped))
        if self.moved:
            parts.append("columns in another order")
        return "; ".join(parts)


def dropped_columns_refusal(
    table: str, day: object, change: ColumnChange, begun: bool = False
) -> str:
    """Why a day whose archive holds columns the table has dropped is not exported again by the
    daily job or the purge: the archive is the only copy of their values, and a new generation
    of an unpurged day replaces the old one. ``begun``: the day's purge has begun, so not even
    an export on purpose may replace its archive (it alone holds the rows already deleted)."""
    dropped = ", ".join(change.dropped)
    if begun:
        return (
            f"{table} {day}: columns dropped since the day was archived ({dropped}), and its "
            "purge has begun: the archive alone holds the rows already deleted, so it is never "
            "replaced, and the rows left cannot join it without those columns; they are kept. "
            "To finish the day, add the columns back (the rows left then match the archive), "
            "or delete the rows left yourself if they need no archive"
        )
    return (
        f"{table} {day}: columns dropped since the day was archived ({dropped}): the archive "
        "holds their values and the database no longer does, and exporting the day again would "
        "replace the archive without them, so it is not purged. To purge it, export it again "
        f"on purpose (dbarchive export -t {table} --date {day}: its archive then holds today's "
        "columns only), then purge"
    )


def column_change(info: TableInfo, manifest: Manifest) -> ColumnChange | None:
    """How ``info``'s exported columns differ from ``manifest``'s; None if they do not."""
    archived = {c.name: c.mysql_type for c in manifest.columns}
    now = {c.name: c.column_type for c in info.columns}
    if list(archived.items()) == list(now.items()):
        return None
    common = [n for n in archived if n in now]
    return ColumnChange(
        added=tuple(n for n in now if n not in archived),
        dropped=tuple(n for n in archived if n not in now),
        retyped=tuple((n, archived[n], now[n]) for n in common if archived[n] != now[n]),
        moved=common != [n for n in now if n in archived],
        kept=tuple(n for n in common if archived[n] == now[n]),
    )


def on_kept_columns(info: TableInfo, change: ColumnChange) -> TableInfo:
    """``info`` reading only the kept columns, in the archive's order."""
    by_name = {c.name: c for c in info.columns}
    kept = set(change.kept)
    return dataclasses.replace(
        info,
        columns=tuple(by_name[n] for n in change.kept),
        checked_text=tuple(t for t in info.checked_text if t.column.name in kept),
    )


def matching_scope(info: TableInfo, manifest: Manifest) -> TableInfo:
    """The table as its rows are matched with ``manifest``'s archive, row by row (growth, the
    purge, the check of a partly purged day). Columns as archived: as it is. Columns only added
    or moved since: the archived columns in the archive's order, and a row whose added columns
    hold other values than a restore of its archived columns gives them hashes as held
    (``TableInfo.held_unless``), so it is neither grown (the archive would lose those values)
    nor deleted. A column dropped or retyped: as it is, so a row matches only if each of its
    values reads as archived (a widening that keeps the text, INT to BIGINT, does)."""
    change = column_change(info, manifest)
    return info if change is None else changed_scope(info, change)


def changed_scope(info: TableInfo, change: ColumnChange) -> TableInfo:
    """``matching_scope`` for a ``change`` the caller has already computed."""
    if not change.archive_whole:
        return info
    kept = on_kept_columns(info, change)
    return dataclasses.replace(kept, held_unless=restorable_condition(info, change.added))


def restorable_condition(info: TableInfo, added: tuple[str, ...]) -> str | None:
    """SQL true for a row whose ``added`` columns each hold what an INSERT without them gives
    (``col <=> DEFAULT(col)``); FALSE if one of them has no fixed such value; None: none added.
    A generated column needs no condition: its value follows from the others."""
    conditions = []
    for col in info.columns:
        if col.name not in added or col.generated:
            continue
        if not col.fixed_default:
            return "FALSE"
        name = quote_identifier(col.name)
        conditions.append(f"{name} <=> DEFAULT({name})")
    return " AND ".join(conditions) if conditions else None


def held_rows_note(table: str, day: object, held: int, change: ColumnChange) -> str:
    """What became of a partly purged day's rows that hold values in columns added since."""
    added = ", ".join(change.added)
    return (
        f"{table} {day}: kept in the table, neither archived nor deleted: {held} of its rows, "
        f"holding values other than their defaults in columns added since the day was archived "
        f"({added}); its purge has begun, so its archive only grows, by rows of its archived "
        "columns, and a restore would not give those values back. If they need no archive, set "
        "them to the columns' defaults: the next run archives and purges the rows"
    )


def kept_archive_digest(storage: Storage, manifest: Manifest, change: ColumnChange) -> RowDigest:
    """The digest of the archived rows over the kept columns only, read from the files (each
    checked against the manifest as it is read). Only for a day archived in one version per key
    (nothing ``superseded``): which version of a key is the newest is not in the rows."""
    names = [c.name for c in manifest.columns]
    positions = [names.index(n) for n in change.kept]
    digest = RowDigest()
    for chunk in iter_archive_chunks(storage, manifest):
        encode_rows([[row[i] for i in positions] for row in chunk], digest)
    return digest
