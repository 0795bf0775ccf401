"""Table formats over the archive's files: what ``format = "iceberg"`` adds to a published day.

The archive stays what it is for every format: part files, verified, listed by the day's
committed manifest (docs/design/publication.md). A table format adds a catalog's view of those
files, so engines get atomic days, schema evolution by column id and hidden partitioning:

- :func:`check_schema`, before a row is read: can the table take the day's columns? (Iceberg's
  type promotions only: int→long, float→double, decimal precision up; else a clear error and
  nothing written.)
- :func:`commit_day`, right after the manifest commit and before the replaced generation's files
  are deleted: one snapshot that makes the table's files of the day exactly the manifest's.
  Idempotent (nothing to change, no snapshot), so a rerun after a kill commits once.
- :func:`day_problems`, for verify and before a purge: the current snapshot must list exactly the
  manifest's files of the day, with their sizes and row counts; a purge relies on nothing else.

For other formats these do nothing. pyiceberg is imported only when a table asks for Iceberg.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dbarchive.config import TableSpec
    from dbarchive.context import Context
    from dbarchive.manifest import Manifest
    from dbarchive.row_filter import RowFilter
    from dbarchive.sources.table import TableInfo

LAKE_FORMATS = ("iceberg",)


def check_schema(ctx: Context, spec: TableSpec, info: TableInfo) -> None:
    """Refuse (SourceError) a table whose columns its Iceberg table cannot take."""
    if spec.format in LAKE_FORMATS:
        from dbarchive.lakehouse.iceberg import lake_of

        lake_of(ctx).check_schema(spec, info)


def commit_day(ctx: Context, spec: TableSpec, manifest: Manifest) -> None:
    """Make the table format's view of the day the committed manifest's files."""
    if manifest.format in LAKE_FORMATS:
        from dbarchive.lakehouse.iceberg import lake_of

        lake_of(ctx).commit_day(spec, manifest)


def forget_history(ctx: Context, spec: TableSpec) -> tuple[int, int]:
    """After an erasure: expire every snapshot but the current one (they name the replaced files,
    which are gone) and delete the metadata only they reached; (snapshots, files), (0, 0) for
    other formats."""
    if spec.format not in LAKE_FORMATS:
        return 0, 0
    from dbarchive.lakehouse.iceberg import lake_of

    return lake_of(ctx).expire_history(spec)


def rows_matching(ctx: Context, spec: TableSpec, where: RowFilter, day: dt.date) -> int:
    """Rows of ``day`` in the table format's current snapshot that ``where`` matches (0 for
    other formats)."""
    if spec.format not in LAKE_FORMATS:
        return 0
    from dbarchive.lakehouse.iceberg import lake_of

    return lake_of(ctx).count_matching(spec, where, day)


def day_problems(ctx: Context, spec: TableSpec, manifest: Manifest) -> list[str]:
    """Why the table format's current view of the day differs from the manifest (none: same)."""
    if manifest.format not in LAKE_FORMATS:
        return []
    from dbarchive.lakehouse.iceberg import lake_of

    return lake_of(ctx).day_problems(spec, manifest)
