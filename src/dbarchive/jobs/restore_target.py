"""The table a restore writes into: refused when unsafe, created when missing, and described
with exactly the archived columns (jobs/restore.py, step 2)."""

from __future__ import annotations

import dataclasses
import re

from dbarchive.checks.dependents import rewriting_triggers
from dbarchive.checks.table import refuse_dotted_new_target
from dbarchive.config import TableSpec
from dbarchive.context import Context
from dbarchive.errors import ConfigError, SourceError
from dbarchive.manifest import Manifest
from dbarchive.sources.table import TableInfo

_DISPLAY_WIDTH = re.compile(r"^(tinyint|smallint|mediumint|int|integer|bigint|year)\(\d+\)")


def require_not_archived(ctx: Context, spec: TableSpec, target: str) -> None:
    """Refuse (ConfigError, nothing changed) ``--into`` another table the job archives: its
    next run would archive the rows as its own, erased ones included, and its audit break (an
    outside trial restored one table's day into another's)."""
    schema = target_schema(ctx, spec)
    for other in ctx.job.tables:
        if other is not spec and other.name == target and ctx.job.schema_of(other) == schema:
            raise ConfigError(
                f"{spec.name} restore: {target!r} is another table this job archives; its next "
                "run would archive the rows as its own. Restore --into a new table"
            )


def require_plain_target(ctx: Context, spec: TableSpec, target: str) -> None:
    """Refuse (ConfigError, nothing changed) a target whose triggers may rewrite the rows as
    they load: restored through a BEFORE INSERT trigger, a day came back with other values, and
    the next run archived those (an outside trial). A new table (``--into``) has no triggers."""
    schema = target_schema(ctx, spec)
    refuse_dotted_new_target(ctx, schema, target)
    if not ctx.source.table_exists(schema, target):
        return
    triggers = rewriting_triggers(ctx, schema, target)
    if triggers:
        raise ConfigError(
            f"{spec.name} restore: {target!r} has triggers that may change the rows as they are "
            f"written: {', '.join(triggers)}; the restore would load other values than the "
            "archive's. Restore into a new table (--into NEW_TABLE, created without triggers) "
            "and copy the rows over, or drop the triggers while restoring"
        )


def ensure_target(ctx: Context, spec: TableSpec, manifest: Manifest, target: str) -> bool:
    """Create the target if it does not exist; True if it was created. Like the table (its
    indexes, charsets, generated columns) while it still has the archived columns as archived;
    else (a column retyped or dropped since) from the archive's own columns."""
    schema = target_schema(ctx, spec)
    if ctx.source.table_exists(schema, target):
        return False
    if target != spec.name and ctx.source.table_exists(schema, spec.name):
        ctx.source.create_like(schema, target, spec.name, what="creating the target")
        try:
            target_info(ctx, spec, manifest, target)
            return True
        except ConfigError:  # the table changed since the day was archived
            ctx.source.drop_table(schema, target)
    ctx.source.create_table_for(
        schema, target, manifest.columns, manifest.key_columns, manifest.timestamp_column
    )
    return True


def target_schema(ctx: Context, spec: TableSpec) -> str:
    return spec.schema_name or ctx.source.settings.database


def _normal(column_type: str) -> str:
    """A COLUMN_TYPE without integer display widths, which MySQL 8 no longer shows."""
    return _DISPLAY_WIDTH.sub(r"\1", column_type.lower().strip())


def target_info(ctx: Context, spec: TableSpec, manifest: Manifest, target: str) -> TableInfo:
    """The target described with exactly the archived columns, in the archive's order."""
    names = [c.name for c in manifest.columns]
    target_spec = spec.model_copy(
        update={"name": target, "include_columns": tuple(names), "exclude_columns": ()}
    )
    try:
        info = ctx.source.describe(target_spec)
    except SourceError as exc:
        raise ConfigError(
            f"restore target {target!r} cannot take the archived rows: "
            f"{_lacking(ctx, target_spec, names) or exc}; restore into a new table with --into"
        ) from exc
    by_name = {c.name: c for c in info.columns}
    for col in manifest.columns:
        have = by_name[col.name]
        if _normal(have.column_type) != _normal(col.mysql_type):
            raise ConfigError(
                f"restore target {target!r}: column {col.name!r} is {have.column_type}, the "
                f"archive has {col.mysql_type}; restore into a new table with --into"
            )
        if col.charset is not None and have.charset != col.charset:
            raise ConfigError(
                f"restore target {target!r}: column {col.name!r} holds {have.charset} text, the "
                f"archive's was {col.charset} (the same characters, other bytes); restore into a "
                "new table with --into"
            )
    return dataclasses.replace(info, columns=tuple(by_name[n] for n in names))


def _lacking(ctx: Context, target: TableSpec, names: list[str]) -> str:
    """The archived columns the target lacks, said as such (the describe's own words named
    include/exclude_columns, which the user never set: an outside trial), or ''."""
    whole = target.model_copy(update={"include_columns": None})
    try:
        have = {c.name for c in ctx.source.describe(whole).columns}
    except SourceError:
        return ""
    lacking = [n for n in names if n not in have]
    if not lacking:
        return ""
    what = "column" if len(lacking) == 1 else "columns"
    return f"it has no {what} {', '.join(map(repr, lacking))}, which the archive holds"
