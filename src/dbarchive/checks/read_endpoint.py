"""Checks of the read endpoint (``[source] read_url``): it is reachable, how its TLS protects it,
that it replicates from the primary, and the grants its reads and the heartbeat need.

Nothing is written: the heartbeat is read on both servers, never beaten, and its write is probed
with ``EXPLAIN INSERT … ON DUPLICATE KEY UPDATE``, which the server refuses exactly when the
write would be refused (INSERT and UPDATE), without writing.
"""

from __future__ import annotations

from typing import Any

import MySQLdb

from dbarchive.checks.result import CheckResult, run_probe
from dbarchive.config import TableSpec
from dbarchive.context import Context
from dbarchive.errors import DbArchiveError, SourceError
from dbarchive.sources import tls
from dbarchive.sources.canonical import quote_identifier
from dbarchive.sources.heartbeat import NO_SUCH_TABLE, HeartbeatTable
from dbarchive.sources.mysql_session import translate_error
from dbarchive.sources.read_session import ReadSource

_STATUS_PRIVILEGE = "GRANT REPLICATION CLIENT (MariaDB: SLAVE MONITOR) ON *.* on the read endpoint"


def check_read_endpoint(ctx: Context, specs: list[TableSpec]) -> list[CheckResult]:
    """Everything the reads from ``read_url`` need ([] without one)."""
    reader = ctx.reader
    if reader is None:
        return []
    login = run_probe(
        f"mysql read: login to {reader.settings.safe_url()}",
        lambda: str(reader.query("SELECT CURRENT_USER()")[0][0].decode()),
        "",  # the error names the cause and its fix
    )
    if not login.ok:
        return [login]
    results = [login, _tls(reader), _replicating(ctx, reader)]
    results += [_select(ctx, reader, spec) for spec in specs]
    return [*results, _heartbeat_write(ctx, reader), _heartbeat_read(reader)]


def read_endpoint_grants(ctx: Context, to: str) -> list[str]:
    """``check --grants`` lines for the read endpoint ([] without one): the heartbeat's grant on
    the primary, and where the reads need their SELECT."""
    settings = ctx.source.settings
    read = settings.read_settings()
    if read is None:
        return []
    table = HeartbeatTable(*settings.heartbeat_name)
    return [
        f"{table.grant} TO {to};  -- the heartbeat proving the read endpoint applied a day "
        "(written on the primary; CREATE: dbarchive creates it on first use)",
        f"-- on the read endpoint {read.safe_url()} the same user needs SELECT on the tables and on "
        f"{table.qualified}: the grants above replicate to it unless mysql.* is filtered",
    ]


def _tls(reader: ReadSource) -> CheckResult:
    """How the read endpoint's session is protected (advisory, like the primary's)."""
    settings, name = reader.settings, "mysql read: TLS"
    try:
        rows = reader.query("SHOW SESSION STATUS LIKE 'Ssl_cipher'", what="reading TLS")
    except DbArchiveError as exc:
        return CheckResult(name, False, str(exc).splitlines()[0], "", advisory=True)
    cipher = bytes(rows[0][1]).decode() if rows else ""
    state = f"{cipher or 'not encrypted'}, ssl_mode {settings.tls_mode.value}"
    if (cipher and settings.tls_mode.verifies) or tls.is_local(settings):
        verified = " (server verified)" if cipher and settings.tls_mode.verifies else ""
        return CheckResult(name, True, state + (verified or " (this machine)"), advisory=True)
    return CheckResult(
        name,
        False,
        state + ": the read endpoint's identity is not verified",
        "set ssl_ca in [source] (the read endpoint inherits it) or in [source.read] to its CA "
        "file (RDS/Aurora: global-bundle.pem)",
        advisory=True,
    )


def _replicating(ctx: Context, reader: ReadSource) -> CheckResult:
    """The read endpoint follows the primary: its replication threads run (binlog replica), or
    it is an Aurora reader; and how far its heartbeat is behind the primary's last one."""
    name = "mysql read: replicating from the primary"
    try:
        status = _replica_status(reader)
    except SourceError as exc:
        if exc.mysql_code not in {1227, 1142}:
            return CheckResult(name, False, str(exc).splitlines()[0])
        return CheckResult(
            name,
            True,
            f"its replication status is not visible to this login{_beats(ctx, reader)}",
            f"{_STATUS_PRIVILEGE} to see it here; runs do not need it (they read the heartbeat)",
            warning=True,
        )
    if status is None:
        return _not_a_binlog_replica(ctx, reader, name)
    io, sql = _field(status, "IO_Running"), _field(status, "SQL_Running")
    if io == "Yes" and sql == "Yes":
        lag = _field(status, "Seconds_Behind_Master") or _field(status, "Seconds_Behind_Source")
        return CheckResult(
            name, True, f"IO and SQL threads running, {lag or '?'} s behind{_beats(ctx, reader)}"
        )
    errors = "; ".join(
        e for e in (_field(status, "Last_IO_Error"), _field(status, "Last_SQL_Error")) if e
    )
    return CheckResult(
        name,
        False,
        f"replication is stopped (IO thread {io}, SQL thread {sql}){': ' + errors if errors else ''}",
        "start it on the read endpoint (START REPLICA) once its error is fixed: until it runs, "
        "every export of a day it has not applied waits read_lag_wait and refuses (exit 9)",
    )


def _not_a_binlog_replica(ctx: Context, reader: ReadSource, name: str) -> CheckResult:
    """No replication status: an Aurora reader, the primary itself, or not a replica at all."""
    ours, theirs = reader.server_identity(), ctx.source.server_identity()
    if ours == theirs:
        return CheckResult(
            name,
            True,
            "read_url reaches the primary itself, so the reads are not moved off it",
            "point read_url at a replica or at the Aurora cluster's reader endpoint",
            warning=True,
        )
    if "aurora_server_id" in ours:
        return CheckResult(
            name, True, f"an Aurora reader ({ours['aurora_server_id']})" + _beats(ctx, reader)
        )
    return CheckResult(
        name,
        False,
        "the read endpoint is not a replica (SHOW REPLICA STATUS is empty) nor an Aurora reader",
        "point read_url at a replica of the primary, or at the Aurora cluster's reader endpoint",
    )


def _select(ctx: Context, reader: ReadSource, spec: TableSpec) -> CheckResult:
    """SELECT on the table, on the read endpoint (export and verify read it there)."""
    schema = spec.schema_name or reader.settings.database
    table = f"{quote_identifier(schema)}.{quote_identifier(spec.name)}"
    return run_probe(
        f"mysql read: SELECT on {spec.name}",
        lambda: _explained(reader, f"EXPLAIN SELECT * FROM {table} WHERE 1 = 0"),
        f"GRANT SELECT ON {table} TO <the archive user>, on the read endpoint too",
    )


def _heartbeat_write(ctx: Context, reader: ReadSource) -> CheckResult:
    """INSERT and UPDATE on the heartbeat table, on the primary (probed, nothing written)."""
    table = reader.heartbeat.table
    name = f"mysql: heartbeat {table.qualified} on the primary"
    moment = "2000-01-01 00:00:00"
    try:
        ctx.source.query(
            "EXPLAIN " + table.write_sql, (0, moment, moment), "probing the heartbeat's write"
        )
    except SourceError as exc:
        if exc.mysql_code == NO_SUCH_TABLE:
            return CheckResult(
                name,
                True,
                "not there yet: the first export creates it, which needs CREATE on it",
                f"or {table.grants_fix()}",
                warning=True,
            )
        return CheckResult(
            name,
            False,
            str(exc).splitlines()[0],
            table.grants_fix(),
        )
    return CheckResult(name, True, "INSERT and UPDATE granted (written before a day is read)")


def _heartbeat_read(reader: ReadSource) -> CheckResult:
    """SELECT on the heartbeat table, on the read endpoint."""
    table = reader.heartbeat.table
    name = f"mysql read: heartbeat {table.qualified}"
    try:
        _explained(reader, f"EXPLAIN SELECT ts FROM {table.qualified} WHERE server_id = 0")
    except SourceError as exc:
        if exc.mysql_code == NO_SUCH_TABLE:
            return CheckResult(
                name, True, "not there yet: replicated once the primary has it", warning=True
            )
        return CheckResult(
            name,
            False,
            str(exc).splitlines()[0],
            f"GRANT SELECT ON {table.qualified} TO <the archive user>, on the read endpoint too",
        )
    return CheckResult(name, True, "SELECT granted")


def _beats(ctx: Context, reader: ReadSource) -> str:
    """``; heartbeat applied up to …, the primary's last …`` (read on both, written on none)."""
    try:
        applied, last = reader.applied(), reader.heartbeat.last_beat()
    except DbArchiveError:
        return ""
    if last is None:
        return "; no heartbeat written yet"
    applied_text = f"{applied:%Y-%m-%d %H:%M:%S.%f}" if applied else "none"
    return f"; heartbeat applied up to {applied_text} UTC (the primary's last: {last:%Y-%m-%d %H:%M:%S.%f} UTC)"


def _explained(reader: ReadSource, sql: str) -> str:
    reader.query(sql, what="probing a privilege")
    return "granted"


def _replica_status(reader: ReadSource) -> dict[str, Any] | None:
    """``SHOW REPLICA STATUS`` (``SHOW SLAVE STATUS`` before MariaDB 10.5 / MySQL 8.0.22) as
    text by column name; None when the server replicates from nobody."""
    cur = reader.connect().cursor()
    try:
        try:
            cur.execute("SHOW REPLICA STATUS")
        except MySQLdb.ProgrammingError:
            cur.execute("SHOW SLAVE STATUS")
        row = cur.fetchone()
        names = [d[0] for d in cur.description or ()]
    except MySQLdb.Error as exc:
        raise translate_error(exc, reader.settings, "reading the replication status") from None
    finally:
        cur.close()
    if row is None:
        return None
    return {
        n: v.decode(errors="replace") if isinstance(v, bytes) else v
        for n, v in zip(names, row, strict=True)
    }


def _field(status: dict[str, Any], suffix: str) -> str:
    """A status column by the end of its name (Slave_/Replica_ prefixes differ by version)."""
    for name in (f"Slave_{suffix}", f"Replica_{suffix}", suffix):
        if status.get(name) not in (None, ""):
            return str(status[name])
    return ""
