"""Checks of one configured table: what export, verify and purge need of it, and what its user
should know (generated columns, time values that are no day, system versioning)."""

from __future__ import annotations

from dbarchive.checks.dependents import require_no_cascades
from dbarchive.checks.result import DENIED, CheckResult, run_probe
from dbarchive.config import TableSpec
from dbarchive.context import Context
from dbarchive.errors import ConfigError, DbArchiveError, SourceError
from dbarchive.sources.canonical import quote_identifier
from dbarchive.sources.mysql import NoDayRows


def _table(ctx: Context, spec: TableSpec) -> str:
    schema = spec.schema_name or ctx.source.settings.database
    return f"{quote_identifier(schema)}.{quote_identifier(spec.name)}"


def check_select(ctx: Context, spec: TableSpec) -> CheckResult:
    """SELECT on the table (export, verify)."""

    def probe() -> str:
        ctx.source.query(f"EXPLAIN SELECT * FROM {_table(ctx, spec)} WHERE 1 = 0")
        return "granted"

    return run_probe(
        f"mysql: SELECT on {spec.name}",
        probe,
        f"GRANT SELECT ON {_table(ctx, spec)} TO <the archive user>",
    )


def check_key_and_index(ctx: Context, spec: TableSpec) -> CheckResult:
    """A key to page by and an index on the time column, which every day's read needs (a
    table the user may read but cannot be archived is named here, not under SELECT)."""

    def probe() -> str:
        info = ctx.describe(spec)
        if info.ts_index is None and spec.scan != "key":  # every day's plan refuses it
            raise SourceError(
                f"column {info.ts.name!r} has no index starting with it, so reading one day "
                "would scan the whole table; add an index on it"
            )
        return f"key {', '.join(c.name for c in info.key)}, time index {info.ts_index or '-'}"

    return run_probe(f"mysql: key and time index of {spec.name}", probe, "")


def check_generated(ctx: Context, spec: TableSpec) -> CheckResult | None:
    """A warning for a table with generated columns: archived with their values, recomputed
    by the server on restore (None when the table has none, or cannot be described)."""
    try:
        info = ctx.describe(spec)
    except DbArchiveError:
        return None  # check_select or check_key_and_index says why
    generated = [f"{c.name} ({c.generated})" for c in info.columns if c.generated]
    if not generated:
        return None
    return CheckResult(
        f"mysql: generated columns of {spec.name}",
        True,
        f"{', '.join(generated)} are archived with their values; restore writes the other "
        "columns and the server computes these again, then the day must match the archive",
        "keep their expressions while archived days may be restored: a changed expression "
        "makes restore report a mismatch (restore --into a table built without the original "
        "keeps the archived values as plain columns)",
        warning=True,
    )


def check_moving_time(ctx: Context, spec: TableSpec) -> CheckResult | None:
    """A warning for a timestamp column every UPDATE moves (``ON UPDATE CURRENT_TIMESTAMP``):
    an updated row leaves its archived day or place (None otherwise)."""
    try:
        info = ctx.describe(spec)
    except DbArchiveError:
        return None  # check_select or check_key_and_index says why
    if not info.ts.on_update:
        return None
    return CheckResult(
        f"mysql: timestamp column of {spec.name}",
        True,
        f"{info.ts.name} is ON UPDATE CURRENT_TIMESTAMP: each update of a row moves it to the "
        "update's time, so a row updated after its day was archived is archived again in "
        "another day or place, and restore and verify report the older version",
        "use the row's creation time as timestamp_column",
        warning=True,
    )


def check_time_values(ctx: Context, spec: TableSpec) -> CheckResult | None:
    """A warning for rows whose time value is NULL, zero or not a date: they belong to no day,
    so no run archives or purges them (None when there are none, or the table cannot be
    described). Index ranges only: cheap on any table size."""
    try:
        info = ctx.describe(spec)
        found = ctx.source.no_day_rows(info)
    except DbArchiveError:
        return None  # check_select or check_key_and_index says why
    if not found.count:
        return None
    return CheckResult(
        f"mysql: time values of {spec.name}",
        True,
        f"{describe_no_day_rows(found)}: they stay in the database, never archived nor purged",
        f"set {info.ts.name} of those rows to their real time (the next run archives them with "
        "their day), or delete them yourself if they are junk",
        warning=True,
    )


def check_system_versioning(ctx: Context, spec: TableSpec) -> CheckResult | None:
    """A warning for a table ``WITH SYSTEM VERSIONING``: the purge deletes its current rows
    only; MariaDB keeps them as history (None for any other table)."""
    note = system_versioning_note(ctx, spec)
    if note is None:
        return None
    return CheckResult(
        f"mysql: system versioning of {spec.name}", True, note, history_fix(ctx, spec), True
    )


def system_versioning_note(ctx: Context, spec: TableSpec) -> str | None:
    """What a purge does to a system-versioned table, or None if the table is not one (or
    cannot be described: the other checks say why)."""
    try:
        versioned = ctx.mysql.system_versioned(ctx.describe(spec))
    except DbArchiveError:
        return None
    if not versioned:
        return None
    return (
        f"{spec.name} is WITH SYSTEM VERSIONING: a purge deletes its current rows only, and "
        "MariaDB keeps each of them as a history row, so no space is freed"
    )


def history_fix(ctx: Context, spec: TableSpec) -> str:
    """How to remove the history of purged rows (dbarchive never deletes history itself)."""
    return (
        f"once archived, remove history with DELETE HISTORY FROM {_table(ctx, spec)} BEFORE "
        "SYSTEM_TIME '<time>' (every row version that ended before it, the purged rows "
        "included; needs the DELETE HISTORY privilege), or partition the history "
        "(PARTITION BY SYSTEM_TIME) and drop old partitions"
    )


def describe_no_day_rows(found: NoDayRows) -> str:
    """``3 rows belong to no day: NULL, zero or invalid created_at (keys 5, 9, 12)``."""
    keys = ", ".join("/".join(k) for k in found.example_keys)
    more = ", …" if found.count > len(found.example_keys) else ""
    rows = f"{found.count} rows belong" if found.count != 1 else "1 row belongs"
    return f"{rows} to no day: NULL, zero or invalid {found.column} (keys {keys}{more})"


def check_delete(ctx: Context, spec: TableSpec) -> CheckResult:
    """DELETE on the table (purge); the probe deletes nothing and locks nothing."""

    def probe() -> str:
        sql = f"EXPLAIN DELETE FROM {_table(ctx, spec)} WHERE 1 = 0"
        ctx.source.query(sql, what="checking that it may delete rows")
        return "granted"

    return run_probe(
        f"mysql: DELETE on {spec.name}",
        probe,
        f"GRANT DELETE ON {_table(ctx, spec)} TO <the archive user> (the purge needs it)",
    )


def check_partition_drop(ctx: Context, spec: TableSpec) -> list[CheckResult]:
    """For a table RANGE-partitioned on its timestamp column (whose expired partitions the purge
    drops): the grants of the exchange, the table lock and the clone. Each probe fails on
    privileges before it does anything (a partition that does not exist, a clone that does not
    exist yet); none changes anything. Not asked when no partition is bounded by midnights of the
    table's days, or the table has a ``where`` filter: the purge then drops none, and deletes
    chunk by chunk (an outside trial saw check fail for grants a run never needed)."""
    from dbarchive.steps import exchange, partitions

    try:
        info = ctx.describe(spec)
        if not partitions.drops_partitions(ctx, spec, info):
            return []
    except DbArchiveError:
        return []  # an unknown table or no SELECT: check_select says so
    clone = exchange.clone_of(info).qualified

    def probe() -> str:
        exchange_sql = (
            f"ALTER TABLE {info.qualified} EXCHANGE PARTITION `_dbarchive_probe` WITH TABLE {clone}"
        )
        # Granted, this ALTER waits for the table's metadata lock like any ALTER (behind an open
        # transaction on the table) before it fails: wait 1 s at most, and take a timeout as
        # "granted" (the server checks privileges before it locks).
        (saved,) = ctx.source.query("SELECT @@SESSION.lock_wait_timeout")[0]
        ctx.source.execute("SET SESSION lock_wait_timeout = 1")
        try:
            _refused_only_by_privilege(ctx, exchange_sql, "EXCHANGE PARTITION with the clone")
        finally:
            ctx.source.execute(f"SET SESSION lock_wait_timeout = {int(saved)}")
        _refused_only_by_privilege(
            ctx, f"EXPLAIN DELETE FROM {clone} WHERE 1 = 0", "DELETE from the clone"
        )
        try:
            _refused_only_by_privilege(ctx, f"LOCK TABLES {clone} WRITE", "LOCK TABLES")
        finally:
            ctx.source.execute("UNLOCK TABLES")
        return "granted"

    return [
        run_probe(
            f"mysql: partition drop of {spec.name} (exchange, table lock, clone)",
            probe,
            exchange.grants(info),
        )
    ]


def _refused_only_by_privilege(ctx: Context, sql: str, what: str) -> None:
    """Run a probe whose success or other errors both mean "allowed"; SourceError if denied."""
    try:
        ctx.source.execute(sql, what="probing a privilege")
    except SourceError as exc:
        if exc.mysql_code in DENIED:
            error = SourceError(
                f"{what} refused for lack of a privilege (MySQL error {exc.mysql_code})"
            )
            error.mysql_code = exc.mysql_code
            raise error from None


def require_delete(ctx: Context, spec: TableSpec) -> None:
    """Raise SourceError unless the purge may DELETE from the table: the grant, and no foreign
    key that carries the deletes to other tables' rows (before a purge touches anything: no
    export, no purge record, no row)."""
    result = check_delete(ctx, spec)
    if not result.ok:
        error = SourceError(f"{spec.name}: cannot purge: {result.detail}; {result.fix}")
        error.mysql_code = 1142
        raise error
    require_no_cascades(ctx, spec)


def refuse_dotted_new_target(ctx: Context, schema: str, target: str) -> None:
    """Refuse (ConfigError) a new restore target whose name holds a dot: ``other_schema.table``
    (quoted or not) made a table of that very name in ``schema`` (outside trials: whether or not
    the other schema exists, or the login can see it). A table of such a name that exists
    already is taken as it is; any other name (backticks, quotes) is a table name as written."""
    if "." not in target or ctx.source.table_exists(schema, target):
        return
    raise ConfigError(
        f"restore target {target!r}: a restore writes into the table's own schema ({schema!r}), "
        "and --into takes a table name there, without a schema; to restore into another schema, "
        "restore into a new table here and copy the rows over (a new table whose name holds a "
        "dot: create it first, LIKE the table)"
    )
