"""What a DELETE of the table's rows reaches beyond them: foreign keys and triggers.

A purge deletes exactly the rows it verified in the archive, but the server may carry each
DELETE further: a foreign key of another table ``ON DELETE CASCADE`` deletes that table's rows,
``SET NULL``/``SET DEFAULT`` rewrites them, and none of those rows is in any archive. So a table
that such a key references is refused by the purge (before it exports or deletes anything), and
``check`` says so. A ``DELETE`` trigger runs for every purged row and may do the same, or only
write an audit row: ``check`` warns, naming it; the purge runs.

Both are read from ``information_schema``, which shows a user only the tables it holds some
privilege on: a referencing table the archive user cannot see is not found (``check`` says so).
"""

from __future__ import annotations

from dbarchive.checks.result import CheckResult
from dbarchive.config import TableSpec
from dbarchive.context import Context
from dbarchive.errors import DbArchiveError, SourceError
from dbarchive.sources.canonical import quote_identifier

# The ON DELETE rules that change rows of the referencing table (RESTRICT and NO ACTION refuse
# the DELETE instead: the server then keeps the row, and the purge stops with its error).
_CHANGING_RULES = ("CASCADE", "SET NULL", "SET DEFAULT")

_CASCADES_SQL = (
    "SELECT CONSTRAINT_SCHEMA, TABLE_NAME, CONSTRAINT_NAME, DELETE_RULE"
    " FROM information_schema.REFERENTIAL_CONSTRAINTS"
    " WHERE UNIQUE_CONSTRAINT_SCHEMA = %s AND REFERENCED_TABLE_NAME = %s"
    f" AND DELETE_RULE IN ({', '.join(repr(r) for r in _CHANGING_RULES)})"
    " ORDER BY CONSTRAINT_SCHEMA, TABLE_NAME, CONSTRAINT_NAME"
)
_TRIGGERS_SQL = (
    "SELECT TRIGGER_NAME, ACTION_TIMING FROM information_schema.TRIGGERS"
    " WHERE EVENT_OBJECT_SCHEMA = %s AND EVENT_OBJECT_TABLE = %s AND EVENT_MANIPULATION = 'DELETE'"
    " ORDER BY TRIGGER_NAME"
)
_NOT_SEEN = (
    "information_schema shows only the tables the archive user holds a privilege on: a "
    "referencing table it cannot see is not found here"
)


def _schema(ctx: Context, spec: TableSpec) -> str:
    return spec.schema_name or ctx.source.settings.database


def cascading_keys(ctx: Context, spec: TableSpec) -> list[str]:
    """The foreign keys through which deleting the table's rows changes other rows, as
    ``schema.table (constraint, ON DELETE rule)``."""
    rows = ctx.source.query(_CASCADES_SQL, (_schema(ctx, spec), spec.name), "reading foreign keys")
    return [
        f"{quote_identifier(_text(s))}.{quote_identifier(_text(t))} (constraint "
        f"{quote_identifier(_text(c))}, ON DELETE {_text(rule)})"
        for s, t, c, rule in rows
    ]


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


_REMEDY = (
    "archive and purge the referencing rows first, and make the keys ON DELETE RESTRICT or NO "
    "ACTION (a row still referenced is then kept by the server) or drop them"
)


def _reached(keys: list[str]) -> str:
    return (
        "deleting its rows would delete or change rows of other tables through their foreign "
        f"keys, and those rows are in no archive: {'; '.join(keys)}"
    )


def cascade_refusal(spec: TableSpec, keys: list[str]) -> str:
    """Why the purge refuses the table, and what to do."""
    return f"{spec.name}: cannot purge: {_reached(keys)}. To purge it, {_REMEDY}"


def require_no_cascades(ctx: Context, spec: TableSpec) -> None:
    """Raise SourceError (no server code: no retry fixes it) if a foreign key would carry the
    purge's deletes to other tables' rows."""
    keys = cascading_keys(ctx, spec)
    if keys:
        raise SourceError(cascade_refusal(spec, keys))


def check_cascades(ctx: Context, spec: TableSpec) -> CheckResult:
    """``check``: no foreign key carries a purge's deletes to other tables' rows."""
    name = f"mysql: foreign keys referencing {spec.name}"
    try:
        keys = cascading_keys(ctx, spec)
    except DbArchiveError as exc:
        return CheckResult(name, False, str(exc), "GRANT SELECT on the table")
    if keys:
        return CheckResult(name, False, _reached(keys), _REMEDY)
    return CheckResult(name, True, f"none deletes or changes other rows (ON DELETE); {_NOT_SEEN}")


def check_delete_triggers(ctx: Context, spec: TableSpec) -> CheckResult | None:
    """A warning for DELETE triggers on the table (None when it has none)."""
    try:
        rows = ctx.source.query(_TRIGGERS_SQL, (_schema(ctx, spec), spec.name), "reading triggers")
    except DbArchiveError:
        return None  # check_select or check_key_and_index says why
    if not rows:
        return None
    triggers = ", ".join(f"{_text(n)} ({_text(t)} DELETE)" for n, t in rows)
    return CheckResult(
        f"mysql: DELETE triggers of {spec.name}",
        True,
        f"{triggers} run for every purged row: what they write or delete elsewhere is not "
        "archived by dbarchive",
        "make sure they only record (an audit row), or archive what they change first",
        warning=True,
    )
