"""Checks of the MySQL server as a whole: the login, TLS, a writable session, the statement
time limit, the redo log's fill, the replicas watched for lag."""

from __future__ import annotations

from dbarchive.checks.result import CheckResult, Missing, run_probe
from dbarchive.context import Context
from dbarchive.errors import DbArchiveError, SourceError
from dbarchive.sources.probes import replica_lag_seconds


def check_login(ctx: Context) -> CheckResult:
    """The MySQL login works and the session can be set up."""
    return run_probe(
        f"mysql: login to {ctx.source.settings.safe_url()}",
        lambda: str(ctx.source.query("SELECT CURRENT_USER()")[0][0].decode()),
        "",  # the error names the cause and its fix (the password's origin, the server)
    )


def check_tls(ctx: Context) -> CheckResult:
    """How the session is protected: its cipher and ssl_mode (advisory: a remote server reached
    without verified TLS is a WARN with the fix)."""
    from dbarchive.sources import tls

    settings = ctx.source.settings
    mode = settings.tls_mode
    name = "mysql: TLS"
    try:
        rows = ctx.source.query("SHOW SESSION STATUS LIKE 'Ssl_cipher'", what="reading TLS")
    except DbArchiveError as exc:
        return CheckResult(name, False, str(exc).splitlines()[0], "", advisory=True)
    cipher = bytes(rows[0][1]).decode() if rows else ""
    state = f"{cipher or 'not encrypted'}, ssl_mode {mode.value}"
    if (cipher and mode.verifies) or tls.is_local(settings):
        verified = " (server verified)" if cipher and mode.verifies else " (this machine)"
        return CheckResult(name, True, state + verified, advisory=True)
    return CheckResult(
        name,
        False,
        state + ": the server's identity is not verified",
        "set [source] ssl_ca to the server's CA file (RDS/Aurora: global-bundle.pem); ssl_mode "
        "then defaults to VERIFY_IDENTITY",
        advisory=True,
    )


def check_writable(ctx: Context) -> CheckResult:
    """The server accepts writes (a read-only server or replica cannot be purged)."""

    def probe() -> str:
        (ro, inno_ro) = ctx.source.query("SELECT @@GLOBAL.read_only, @@GLOBAL.innodb_read_only")[0]
        if int(ro) or int(inno_ro):
            raise Missing("the server is read-only (read_only / innodb_read_only)")
        return "read_only = OFF"

    return run_probe("mysql: server accepts deletes", probe, "point [source] url at the primary")


def check_statement_limit(ctx: Context) -> CheckResult:
    """A per-session statement time limit, if any, leaves room for one chunk."""

    def probe() -> str:
        rows = ctx.source.query("SELECT @@SESSION.max_statement_time")
        limit = float(rows[0][0] or 0)
        if limit and limit < ctx.job.throttle.chunk_time:
            raise Missing(
                f"max_statement_time is {limit:g}s, below chunk_time {ctx.job.throttle.chunk_time:g}s"
            )
        return f"max_statement_time = {limit:g}s" if limit else "no statement time limit"

    return run_probe(
        "mysql: statement time limit",
        probe,
        "lower [throttle] chunk_time, or raise the user's MAX_STATEMENT_TIME",
    )


def check_redo_log(ctx: Context) -> list[CheckResult]:
    """The redo log's fill is readable where the throttle watches it (``max_redo_fill``, or a
    latency budget's default): a ceiling the user set needs it; the budget's goes without."""
    from dbarchive.sources.probes import MySqlLoadProbe

    settings = ctx.job.throttle
    ceiling = settings.redo_ceiling
    if ceiling is None:
        return []
    explicit = settings.max_redo_fill is not None

    def fill() -> str:
        value = MySqlLoadProbe(ctx.mysql).redo_fill()
        if value is None:
            raise Missing("the server reports no redo log checkpoint age (Aurora has none)")
        return f"{value:.0%} full, pausing above {ceiling:.0%}"

    result = run_probe(
        "mysql: redo log fill",
        fill,
        "GRANT PROCESS ON *.* (before MySQL 8.0.30 the fill is read from SHOW ENGINE INNODB "
        "STATUS)" + ("" if explicit else ", or set max_redo_fill = 1 to go without it"),
    )
    if not result.ok and not explicit:  # the budget goes on without its ceiling: a note
        return [CheckResult(result.name, True, result.detail, result.fix, warning=True)]
    return [result]


def check_replicas(ctx: Context) -> list[CheckResult]:
    """Every watched replica is reachable and its status readable (REPLICATION CLIENT)."""
    from dbarchive.sources.probes import MySqlLoadProbe

    results = []
    probe = MySqlLoadProbe(ctx.mysql, ctx.job.throttle.replicas)
    try:
        for i, url in enumerate(ctx.job.throttle.replicas):

            def lag(i: int = i) -> str:
                try:
                    value = replica_lag_seconds(probe._connections()[i])
                except Exception as exc:  # a driver error: the privilege or the link
                    error = SourceError(str(exc))
                    error.mysql_code = (
                        exc.args[0] if exc.args and isinstance(exc.args[0], int) else None
                    )
                    raise error from None
                return "not replicating" if value is None else f"lag {value:g}s"

            results.append(
                run_probe(
                    f"mysql: replica {url.split('@')[-1]}",
                    lag,
                    "GRANT REPLICATION CLIENT (MariaDB: SLAVE MONITOR) ON *.* on the replica",
                )
            )
    finally:
        probe.close()
    return results
