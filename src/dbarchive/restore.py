"""Restore: load an archived table-day back into MySQL exactly, then prove it.

1. **Check first.** Every file of the partition is read back against the manifest (size,
   SHA-256, row digest). A damaged or missing file refuses the restore before the database is
   touched — no table is created, no row written.
2. **The target** is the original table, or ``into`` (created ``LIKE`` the original, or from the
   manifest's columns when the original is gone). Its archived columns must have the archived
   MySQL types, or the restore refuses: a retyped column would not give the same values back.
3. **Load** in bounded multi-row ``INSERT`` statements (autocommit, throttled like the purge)
   from the canonical text: ``UNHEX`` for binary, ``CAST(… AS UNSIGNED)`` for BIT, the text as is
   for everything else, on a session pinned to UTC (TIMESTAMP) and a strict ``sql_mode`` that
   still accepts zero dates. A row whose key is already there is skipped, or overwritten with
   ``replace``: never duplicated.
4. **Prove.** The database's digest of the day in the target must equal the manifest's.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from dbarchive.checksum import RowDigest, Value
from dbarchive.config import TableSpec
from dbarchive.context import Context
from dbarchive.errors import ConfigError, SourceError, VerificationError
from dbarchive.formats.lake_types import lake_type
from dbarchive.manifest import Manifest
from dbarchive.sources.canonical import quote_identifier
from dbarchive.sources.table import TableInfo
from dbarchive.steps import upload
from dbarchive.steps.verify import check_files, iter_archive_chunks
from dbarchive.throttle import Throttle

BATCH_ROWS = 1000
BATCH_BYTES = 4 * 1024 * 1024  # well below max_allowed_packet (16 MiB on MariaDB, 64 on MySQL 8)
# Strict, but without NO_ZERO_DATE/NO_ZERO_IN_DATE (archived zero dates load back), and an
# archived id 0 stays 0 instead of taking the next AUTO_INCREMENT value.
RESTORE_SQL_MODE = "STRICT_ALL_TABLES,NO_AUTO_VALUE_ON_ZERO,NO_ENGINE_SUBSTITUTION"
_DISPLAY_WIDTH = re.compile(r"^(tinyint|smallint|mediumint|int|integer|bigint|year)\(\d+\)")


@dataclass(frozen=True)
class RestoreResult:
    """What the restore of one table-day did, and whether the target now matches the archive."""

    table: str
    into: str
    day: dt.date
    archived_rows: int
    written: int  # rows inserted (or, with replace, inserted or overwritten)
    skipped: int  # rows whose key was already there (without replace)
    batches: int
    created_table: bool
    target_digest: RowDigest
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


def restore_day(
    ctx: Context,
    spec: TableSpec,
    day: dt.date,
    into: str | None = None,
    replace: bool = False,
    throttle: Throttle | None = None,
) -> RestoreResult:
    """Restore one archived table-day into ``into`` (default: the original table).

    Raises:
        VerificationError: the partition is not archived or its files differ from the manifest
            (nothing was changed).
        ConfigError: the target's columns do not match the archive's (nothing was changed).
    """
    manifest = _checked_manifest(ctx, spec, day)
    target = into or spec.name
    created = _ensure_target(ctx, spec, manifest, target)
    try:
        info = _target_info(ctx, spec, manifest, target)
    except ConfigError:
        if created:  # created LIKE an original that changed since: leave nothing behind
            ctx.source.execute(f"DROP TABLE {_qualified(ctx, spec, target)}", what="cleaning up")
        raise
    loader = _Loader(ctx, info, manifest, replace, throttle)
    loader.run()
    digest = ctx.source.digest_day(info, ctx.source.window(spec, info, day))
    problems = []
    if digest != manifest.digest:
        problems.append(
            f"{target} {day}: the table now holds {digest.describe()} for this day, the archive "
            f"{manifest.digest.describe()}; rows already there differ from the archive "
            "(--replace overwrites them) or the day holds rows the archive does not"
        )
    return RestoreResult(
        spec.name,
        target,
        day,
        manifest.rows,
        loader.written,
        loader.skipped,
        loader.batches,
        created,
        digest,
        tuple(problems),
    )


def _checked_manifest(ctx: Context, spec: TableSpec, day: dt.date) -> Manifest:
    manifest = upload.read_manifest(ctx.storage, ctx.partition(spec, day))
    if manifest is None:
        raise VerificationError(
            f"{spec.name} {day}: not archived (no manifest), nothing to restore"
        )
    problems = check_files(ctx.storage, manifest, "rows")
    if problems:
        raise VerificationError(
            f"{spec.name} {day}: the archive does not match its manifest, so nothing was "
            "restored: " + "; ".join(problems)
        )
    return manifest


def _table_exists(ctx: Context, schema: str, table: str) -> bool:
    rows = ctx.source.query(
        "SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s",
        (schema, table),
        "looking up the restore target",
    )
    return bool(rows)


def _ensure_target(ctx: Context, spec: TableSpec, manifest: Manifest, target: str) -> bool:
    """Create the target if it does not exist; True if it was created."""
    schema = _schema(ctx, spec)
    if _table_exists(ctx, schema, target):
        return False
    qualified = _qualified(ctx, spec, target)
    if target != spec.name and _table_exists(ctx, schema, spec.name):
        original = _qualified(ctx, spec, spec.name)
        ctx.source.execute(f"CREATE TABLE {qualified} LIKE {original}", what="creating the target")
    else:
        ctx.source.execute(create_table_sql(qualified, manifest), what="creating the target")
    return True


def create_table_sql(qualified: str, manifest: Manifest) -> str:
    """A table for the archived columns when the original is gone: their types, key and time index."""
    columns = [
        f"{quote_identifier(c.name)} {c.mysql_type}{'' if c.nullable else ' NOT NULL'}"
        for c in manifest.columns
    ]
    key = ", ".join(quote_identifier(k) for k in manifest.key_columns)
    ts = quote_identifier(manifest.timestamp_column)
    return (
        f"CREATE TABLE {qualified} ({', '.join(columns)}, PRIMARY KEY ({key}), KEY ({ts})) "
        "DEFAULT CHARSET=utf8mb4"
    )


def _schema(ctx: Context, spec: TableSpec) -> str:
    return spec.schema_name or ctx.source.settings.database


def _qualified(ctx: Context, spec: TableSpec, table: str) -> str:
    return f"{quote_identifier(_schema(ctx, spec))}.{quote_identifier(table)}"


def _normal(column_type: str) -> str:
    """A COLUMN_TYPE without integer display widths, which MySQL 8 no longer shows."""
    return _DISPLAY_WIDTH.sub(r"\1", column_type.lower().strip())


def _target_info(ctx: Context, spec: TableSpec, manifest: Manifest, target: str) -> TableInfo:
    """The target described with exactly the archived columns, in the archive's order."""
    names = [c.name for c in manifest.columns]
    target_spec = spec.model_copy(
        update={"name": target, "include_columns": tuple(names), "exclude_columns": ()}
    )
    try:
        info = ctx.source.describe(target_spec)
    except SourceError as exc:
        raise ConfigError(
            f"restore target {target!r} cannot take the archived rows: {exc}"
        ) from exc
    by_name = {c.name: c for c in info.columns}
    for col in manifest.columns:
        have = by_name[col.name].column_type
        if _normal(have) != _normal(col.mysql_type):
            raise ConfigError(
                f"restore target {target!r}: column {col.name!r} is {have}, the archive has "
                f"{col.mysql_type}; restore into a new table with --into"
            )
    return dataclasses.replace(info, columns=tuple(by_name[n] for n in names))


class _Loader:
    """Bounded, throttled multi-row INSERTs of the archived rows into the target."""

    def __init__(
        self,
        ctx: Context,
        info: TableInfo,
        manifest: Manifest,
        replace: bool,
        throttle: Throttle | None,
    ) -> None:
        self.ctx, self.info, self.manifest = ctx, info, manifest
        self.replace, self.throttle = replace, throttle
        self.written = self.skipped = self.batches = 0
        self._wrappers = [_value_wrapper(c.mysql_type) for c in manifest.columns]
        names = ", ".join(quote_identifier(c.name) for c in manifest.columns)
        # Identifiers may hold '%': doubled, so only the value placeholders are parameters.
        self._head = f"INSERT INTO {info.qualified} ({names}) VALUES ".replace("%", "%%")
        self._tail = _on_duplicate(manifest, replace).replace("%", "%%")

    def run(self) -> None:
        old_mode = self.ctx.source.query("SELECT @@SESSION.sql_mode")[0][0]
        self.ctx.source.execute("SET SESSION sql_mode = %s", (RESTORE_SQL_MODE,))
        try:
            for batch in _batches(iter_archive_chunks(self.ctx.storage, self.manifest)):
                if self.throttle is not None:
                    self.throttle.check_stop()
                started = time.monotonic()
                self._insert(batch)
                if self.throttle is not None:
                    self.throttle.between_chunks(time.monotonic() - started)
        finally:
            self.ctx.source.execute("SET SESSION sql_mode = %s", (old_mode,))

    def _insert(self, rows: Sequence[Sequence[Value]]) -> None:
        tuples: list[str] = []
        params: list[bytes] = []
        for row in rows:
            fields = []
            for wrap, value in zip(self._wrappers, row, strict=True):
                if value is None:
                    fields.append("NULL")  # the raw-bytes session has no encoder for None
                else:
                    fields.append(wrap)
                    params.append(value)
            tuples.append("(" + ", ".join(fields) + ")")
        sql = self._head + ", ".join(tuples) + self._tail
        affected = self.ctx.source.execute(sql, params, "restoring rows")
        self.batches += 1
        if self.replace:
            self.written += len(rows)
        else:
            self.written += affected
            self.skipped += len(rows) - affected


def _value_wrapper(mysql_type: str) -> str:
    """The SQL that turns a canonical text parameter back into the column's value."""
    t = lake_type(mysql_type)
    if t.text == "hex":
        return "UNHEX(%s)"
    if mysql_type.lower().startswith("bit"):
        return "CAST(%s AS UNSIGNED)"
    return "%s"


def _on_duplicate(manifest: Manifest, replace: bool) -> str:
    """Skip a row whose key exists (a no-op update), or overwrite its other columns."""
    keys = set(manifest.key_columns)
    others = [c.name for c in manifest.columns if c.name not in keys]
    if replace and others:
        sets = ", ".join(f"{quote_identifier(n)} = VALUES({quote_identifier(n)})" for n in others)
        return " ON DUPLICATE KEY UPDATE " + sets
    first = quote_identifier(manifest.key_columns[0])
    return f" ON DUPLICATE KEY UPDATE {first} = {first}"


def _batches(chunks: Iterator[list[list[Value]]]) -> Iterator[list[list[Value]]]:
    """Re-cut the archive's chunks into INSERTs of at most BATCH_ROWS rows and ~BATCH_BYTES."""
    batch: list[list[Value]] = []
    size = 0
    for chunk in chunks:
        for row in chunk:
            row_size = sum(len(v) for v in row if v is not None) + 4 * len(row)
            if batch and (len(batch) >= BATCH_ROWS or size + row_size > BATCH_BYTES):
                yield batch
                batch, size = [], 0
            batch.append(row)
            size += row_size
    if batch:
        yield batch
