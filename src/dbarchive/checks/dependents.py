"""What a DELETE of the table's rows reaches beyond them: foreign keys and triggers.

A purge deletes exactly the rows it verified in the archive, but the server may carry each
DELETE further: a foreign key of another table ``ON DELETE CASCADE`` deletes that table's rows,
``SET NULL``/``SET DEFAULT`` rewrites them, and none of those rows is in any archive. So a table
that such a key references is refused by the purge (before it exports or deletes anything), and
``check`` says so. A ``DELETE`` trigger runs for every purged row and may do the same, or only
write an audit row: ``check`` warns, naming it; the purge runs.

``information_schema`` shows a login only the tables it holds some privilege on, so a login
granted only the archived table would find no referencing table and purge through a cascade (an
outside trial: 144 rows of a child table deleted, none archived). The keys are therefore read
where the login can see them all (``foreign_key_view.py``): InnoDB's own list (``PROCESS``:
every schema), else ``information_schema`` when the login holds a privilege on the whole schema
(``REFERENCES`` on it is enough, and reads no data); a login that can see neither is refused
the purge, with the GRANT that lets it see.
"""

from __future__ import annotations

from dbarchive.checks.foreign_key_view import dictionary_keys, sees_schema
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
# The triggers that may rewrite a row as a restore writes it: BEFORE INSERT, and BEFORE UPDATE
# (the restore's INSERT … ON DUPLICATE KEY UPDATE updates a row already there).
_REWRITING_TRIGGERS_SQL = (
    "SELECT TRIGGER_NAME, EVENT_MANIPULATION FROM information_schema.TRIGGERS"
    " WHERE EVENT_OBJECT_SCHEMA = %s AND EVENT_OBJECT_TABLE = %s AND ACTION_TIMING = 'BEFORE'"
    " AND EVENT_MANIPULATION IN ('INSERT', 'UPDATE') ORDER BY TRIGGER_NAME"
)
_NOT_SEEN = "a referencing table in another schema the login cannot see is not found"


def _schema(ctx: Context, spec: TableSpec) -> str:
    return spec.schema_name or ctx.source.settings.database


def view_grant(ctx: Context, spec: TableSpec) -> str:
    """The GRANT that lets the archive login see the schema's foreign keys (reads no data)."""
    return f"GRANT REFERENCES ON {quote_identifier(_schema(ctx, spec))}.* TO <the archive user>"


def cascading_keys(ctx: Context, spec: TableSpec) -> tuple[list[str], str | None]:
    """The foreign keys through which deleting the table's rows changes other rows, as
    ``schema.table (constraint, ON DELETE rule)``, and how far the login could look: "every
    schema", "its schema" (a referencing table elsewhere may be unseen), or None (it cannot see
    the tables it holds no grant on: the keys found prove nothing)."""
    schema = _schema(ctx, spec)
    rows = ctx.source.query(_CASCADES_SQL, (schema, spec.name), "reading foreign keys")
    keys = [
        f"{quote_identifier(_text(s))}.{quote_identifier(_text(t))} (constraint "
        f"{quote_identifier(_text(c))}, ON DELETE {_text(rule)})"
        for s, t, c, rule in rows
    ]
    found = dictionary_keys(ctx, schema, spec.name)
    if found is not None:
        return sorted(set(keys) | set(found)), "every schema"
    return keys, ("its schema" if sees_schema(ctx, schema) else None)


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


_UNSEEN = (
    "the login cannot see which tables' foreign keys reference it (information_schema shows a "
    "login only the tables it holds a privilege on), and a key ON DELETE CASCADE or SET NULL "
    "would delete or change rows that are in no archive"
)


def _unseen_fix(ctx: Context, spec: TableSpec) -> str:
    return (
        f"{view_grant(ctx, spec)} (lets it see the schema's tables and their keys; reads no "
        "data), or GRANT PROCESS ON *.* (InnoDB's list of every schema's foreign keys)"
    )


def require_no_cascades(ctx: Context, spec: TableSpec) -> None:
    """Raise SourceError (no server code: no retry fixes it) if a foreign key would carry the
    purge's deletes to other tables' rows, or the login cannot see whether one does."""
    keys, seen = cascading_keys(ctx, spec)
    if keys:
        raise SourceError(cascade_refusal(spec, keys))
    if seen is None:
        raise SourceError(
            f"{spec.name}: cannot purge: {_UNSEEN}. To purge it: {_unseen_fix(ctx, spec)}"
        )


def check_cascades(ctx: Context, spec: TableSpec) -> CheckResult:
    """``check``: no foreign key carries a purge's deletes to other tables' rows, and the login
    can see that."""
    name = f"mysql: foreign keys referencing {spec.name}"
    try:
        keys, seen = cascading_keys(ctx, spec)
    except DbArchiveError as exc:
        return CheckResult(name, False, str(exc), "GRANT SELECT on the table")
    if keys:
        return CheckResult(name, False, _reached(keys), _REMEDY)
    if seen is None:
        return CheckResult(name, False, _UNSEEN, _unseen_fix(ctx, spec))
    where = "" if seen == "every schema" else f" ({_NOT_SEEN})"
    return CheckResult(
        name, True, f"none deletes or changes other rows (ON DELETE), in {seen}{where}"
    )


def delete_triggers(ctx: Context, spec: TableSpec) -> list[tuple[str, str]]:
    """The table's DELETE triggers, as ``(name, BEFORE or AFTER)``."""
    rows = ctx.source.query(_TRIGGERS_SQL, (_schema(ctx, spec), spec.name), "reading triggers")
    return [(_text(n), _text(t)) for n, t in rows]


def check_delete_triggers(ctx: Context, spec: TableSpec) -> CheckResult | None:
    """A warning for DELETE triggers on the table (None when it has none)."""
    try:
        rows = delete_triggers(ctx, spec)
    except DbArchiveError:
        return None  # check_select or check_key_and_index says why
    if not rows:
        return None
    triggers = ", ".join(f"{n} ({t} DELETE)" for n, t in rows)
    return CheckResult(
        f"mysql: DELETE triggers of {spec.name}",
        True,
        f"{triggers} run for every purged row: what they write or delete elsewhere is not "
        "archived by dbarchive",
        "make sure they only record (an audit row), or archive what they change first",
        warning=True,
    )


def rewriting_triggers(ctx: Context, schema: str, table: str) -> list[str]:
    """The triggers of ``schema.table`` that may change a row as the restore writes it, as
    ``name (BEFORE INSERT)``: a restore through one would load other values than the archive's
    (and a later export would archive those)."""
    rows = ctx.source.query(_REWRITING_TRIGGERS_SQL, (schema, table), "reading triggers")
    return [f"{quote_identifier(_text(n))} (BEFORE {_text(e)})" for n, e in rows]
