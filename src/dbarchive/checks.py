"""``dbarchive check``: what a run would need, probed before it runs — without changing anything
in the database, and in the bucket only a probe object that is removed again.

One function per check, each returning a :class:`CheckResult` (what was found and, when it
failed, the fix). ``run_checks`` calls them in order; other platforms (e.g. Aurora) add their own
functions next to these. Every MySQL probe is one that the server answers from privileges alone:
``EXPLAIN SELECT`` / ``EXPLAIN DELETE … WHERE 1 = 0`` fail exactly when the statement would.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass

from dbarchive.config import TableSpec
from dbarchive.context import Context
from dbarchive.errors import DbArchiveError, SourceError, StorageError
from dbarchive.sources.canonical import quote_identifier
from dbarchive.sources.probes import replica_lag_seconds


@dataclass(frozen=True)
class CheckResult:
    """One probed requirement: ``ok``, what was found, and what to do if it is missing."""

    name: str
    ok: bool
    detail: str
    fix: str = ""


def _probe(name: str, action: Callable[[], str], fix: str) -> CheckResult:
    """Run one probe; any DbArchiveError means the requirement is missing."""
    try:
        return CheckResult(name, True, action())
    except DbArchiveError as exc:
        return CheckResult(name, False, str(exc).splitlines()[0], fix)


def check_login(ctx: Context) -> CheckResult:
    """The MySQL login works and the session can be set up."""
    return _probe(
        f"mysql: login to {ctx.source.settings.safe_url()}",
        lambda: str(ctx.source.query("SELECT CURRENT_USER()")[0][0].decode()),
        f"check the user, the host and ${ctx.source.settings.password_env}",
    )


def _table(ctx: Context, spec: TableSpec) -> str:
    schema = spec.schema_name or ctx.source.settings.database
    return f"{quote_identifier(schema)}.{quote_identifier(spec.name)}"


def check_select(ctx: Context, spec: TableSpec) -> CheckResult:
    """SELECT on the table, which has a usable key and a time index (export, verify)."""

    def probe() -> str:
        info = ctx.describe(spec)
        ctx.source.query(f"EXPLAIN SELECT * FROM {_table(ctx, spec)} WHERE 1 = 0")
        return f"key {', '.join(c.name for c in info.key)}, time index {info.ts_index or '-'}"

    return _probe(
        f"mysql: SELECT on {spec.name}",
        probe,
        f"GRANT SELECT ON {_table(ctx, spec)} TO <the archive user>",
    )


def check_delete(ctx: Context, spec: TableSpec) -> CheckResult:
    """DELETE on the table (purge); the probe deletes nothing and locks nothing."""

    def probe() -> str:
        ctx.source.query(f"EXPLAIN DELETE FROM {_table(ctx, spec)} WHERE 1 = 0")
        return "granted"

    return _probe(
        f"mysql: DELETE on {spec.name}",
        probe,
        f"GRANT DELETE ON {_table(ctx, spec)} TO <the archive user> (the purge needs it)",
    )


def check_writable(ctx: Context) -> CheckResult:
    """The server accepts writes (a read-only server or replica cannot be purged)."""

    def probe() -> str:
        (ro, inno_ro) = ctx.source.query("SELECT @@GLOBAL.read_only, @@GLOBAL.innodb_read_only")[0]
        if int(ro) or int(inno_ro):
            raise SourceError("the server is read-only (read_only / innodb_read_only)")
        return "read_only = OFF"

    return _probe("mysql: server accepts deletes", probe, "point [source] url at the primary")


def check_statement_limit(ctx: Context) -> CheckResult:
    """A per-session statement time limit, if any, leaves room for one chunk."""

    def probe() -> str:
        rows = ctx.source.query("SELECT @@SESSION.max_statement_time")
        limit = float(rows[0][0] or 0)
        if limit and limit < ctx.job.throttle.chunk_time:
            raise SourceError(
                f"max_statement_time is {limit:g}s, below chunk_time {ctx.job.throttle.chunk_time:g}s"
            )
        return f"max_statement_time = {limit:g}s" if limit else "no statement time limit"

    return _probe(
        "mysql: statement time limit",
        probe,
        "lower [throttle] chunk_time, or raise the user's MAX_STATEMENT_TIME",
    )


def check_replicas(ctx: Context) -> list[CheckResult]:
    """Every watched replica is reachable and its status readable (REPLICATION CLIENT)."""
    from dbarchive.sources.probes import MySqlLoadProbe

    results = []
    probe = MySqlLoadProbe(ctx.source, ctx.job.throttle.replicas)
    try:
        for i, url in enumerate(ctx.job.throttle.replicas):

            def lag(i: int = i) -> str:
                try:
                    value = replica_lag_seconds(probe._connections()[i])
                except Exception as exc:  # a driver error: the privilege or the link
                    raise SourceError(str(exc)) from None
                return "not replicating" if value is None else f"lag {value:g}s"

            results.append(
                _probe(
                    f"mysql: replica {url.split('@')[-1]}",
                    lag,
                    "GRANT REPLICATION CLIENT (MariaDB: SLAVE MONITOR) ON *.* on the replica",
                )
            )
    finally:
        probe.close()
    return results


def check_bucket(ctx: Context) -> CheckResult:
    """The destination exists and the credentials reach it."""

    def probe() -> str:
        ctx.storage.check()
        return ctx.storage.url

    return _probe("storage: destination reachable", probe, "create the bucket / fix credentials")


def check_bucket_access(ctx: Context) -> CheckResult:
    """List, read, write and delete under the prefix (a probe object, removed at once), and
    list unfinished uploads (needed to clean up after a killed run)."""
    key = f"_dbarchive-check/{uuid.uuid4().hex}"

    def probe() -> str:
        list(ctx.storage.list_objects("_dbarchive-check/"))
        ctx.storage.put_bytes(key, b"dbarchive check\n")
        try:
            if ctx.storage.get_bytes(key) != b"dbarchive check\n":
                raise StorageError("the probe object read back differs from what was written")
            ctx.storage.abort_incomplete("_dbarchive-check/")
        finally:
            ctx.storage.delete_keys([key])
        return "all allowed"

    return _probe(
        "storage: list, put, get, delete, list/abort uploads",
        probe,
        "allow s3:ListBucket, GetObject, PutObject, DeleteObject, ListBucketMultipartUploads and "
        "AbortMultipartUpload on the bucket/prefix",
    )


def run_checks(
    ctx: Context, specs: list[TableSpec], purge: bool = True, storage: bool = True
) -> list[CheckResult]:
    """Every check for these tables, in the order a run needs them."""
    results = [check_login(ctx)]
    if not results[0].ok:
        return results
    for spec in specs:
        results.append(check_select(ctx, spec))
        if purge:
            results.append(check_delete(ctx, spec))
    if purge:
        results += [check_writable(ctx), check_statement_limit(ctx), *check_replicas(ctx)]
    if any(spec.server_side for spec in specs):
        from dbarchive.aurora.checks import outfile_checks  # it builds on this module

        results += outfile_checks(ctx)
    if storage:
        results.append(check_bucket(ctx))
        if results[-1].ok:
            results.append(check_bucket_access(ctx))
    return results


def require_delete(ctx: Context, spec: TableSpec) -> None:
    """Raise SourceError unless the user may DELETE from the table (before a purge touches
    anything: no export, no purge record, no row)."""
    result = check_delete(ctx, spec)
    if not result.ok:
        error = SourceError(f"{spec.name}: cannot purge: {result.detail}; {result.fix}")
        error.mysql_code = 1142
        raise error
