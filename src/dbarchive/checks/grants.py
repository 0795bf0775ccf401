"""The MySQL privileges a configuration needs, as the GRANT statements to run
(``dbarchive check --grants``).

What each step needs, and nothing more (the reliability suite runs the daily job as a user holding
exactly what this prints, ``tests/reliability/test_privileges.py``):

- export and verify: ``SELECT`` on the table (the table's description, the C reader, digests);
- purge: ``DELETE`` on the table (``SELECT … FOR UPDATE`` needs only SELECT and DELETE here),
  and ``REFERENCES`` on its schema, which reads no data but shows the login the schema's tables,
  so that a foreign key ON DELETE CASCADE of one of them is seen (``checks/dependents.py``);
- a table RANGE-partitioned on its timestamp column at midnights of its days (and no ``where``),
  whose verified partitions the purge drops:
  ``ALTER, INSERT, CREATE, DROP`` on it (``EXCHANGE PARTITION`` needs all four; ``DROP
  PARTITION``, ALTER and DROP);
- aurora-outfile tables: the ``AWS_SELECT_S3_ACCESS`` role (Aurora MySQL 3; version 2:
  ``SELECT INTO S3 ON *.*``) — dbarchive runs ``SET ROLE ALL`` itself;
- each replica watched for lag: ``SLAVE MONITOR`` (MariaDB ≥ 10.5) or ``REPLICATION CLIENT``;
- a read endpoint (``read_url``): ``SELECT, INSERT, UPDATE, CREATE`` on the heartbeat table, and
  SELECT on the tables there (``checks/read_endpoint.py``);
- the run lock (``GET_LOCK``), ``SHOW GLOBAL STATUS`` and ``information_schema``: no grant.

Whether a table is partitioned is read from the server; a login that cannot see the table yet
(a user with no grant) gets that line as a comment saying when it applies.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import unquote, urlparse

from dbarchive.checks.read_endpoint import read_endpoint_grants
from dbarchive.config import SourceSettings, TableSpec
from dbarchive.context import Context
from dbarchive.errors import DbArchiveError
from dbarchive.sources.canonical import quote_identifier

READ = ("SELECT",)
PURGE = ("DELETE",)
PARTITION_DROP = ("ALTER", "INSERT", "CREATE", "DROP")
# The partition drop exchanges the partition into an empty clone (steps/exchange.py), proves its
# rows, and drops it: the clone needs these, and the schema LOCK TABLES (the exchange's lock).
CLONE = ("SELECT", "INSERT", "DELETE", "CREATE", "DROP", "ALTER")


@dataclass(frozen=True)
class ServerFacts:
    """What the server says about the tables (None: could not be read with this login)."""

    partitioned: dict[str, bool | None]
    current_user: str | None = None
    mariadb_version: tuple[int, int] | None = None


def read_facts(ctx: Context, specs: list[TableSpec], purge: bool) -> ServerFacts:
    """Ask the server which tables are RANGE-partitioned on their timestamp column, who we are
    and what it is; every question that fails (no login, no grant yet) is left unknown."""
    from dbarchive.steps.partitions import drops_partitions

    def ask(question: Callable[[], object]) -> object:
        try:
            return question()
        except DbArchiveError:
            return None

    def is_partitioned(spec: TableSpec) -> bool | None:
        if not purge:
            return False  # only the purge drops partitions
        found = ask(lambda: drops_partitions(ctx, spec, ctx.describe(spec)))
        return found if isinstance(found, bool) else None

    user = ask(lambda: ctx.source.query("SELECT CURRENT_USER()")[0][0])
    partitioned = {spec.name: is_partitioned(spec) for spec in specs}
    version = ask(lambda: ctx.source.query("SELECT VERSION()")[0][0])
    return ServerFacts(partitioned, _text(user), _mariadb(_text(version)))


def _text(value: object) -> str | None:
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode()
    return value if isinstance(value, str) else None


def _mariadb(version: str | None) -> tuple[int, int] | None:
    if not version or "mariadb" not in version.lower():
        return None
    major, minor = version.split(".")[:2]
    return int(major), int(minor)


def grantee(source: SourceSettings, facts: ServerFacts, given: str | None) -> str:
    """``'user'@'host'``: as given, else who the server says we are, else the URL's user at '%'."""
    if given:
        return given
    if facts.current_user and "@" in facts.current_user:
        user, host = facts.current_user.rsplit("@", 1)
        return f"{_account(user)}@{_account(host)}"
    return f"{_account(unquote(urlparse(source.url).username or 'root'))}@'%'"


def _account(part: str) -> str:
    return "'" + part.replace("\\", "\\\\").replace("'", "\\'") + "'"


def grant_statements(
    ctx: Context,
    specs: list[TableSpec],
    facts: ServerFacts,
    purge: bool = True,
    grantee_text: str | None = None,
) -> list[str]:
    """The GRANT statements (and comments) for ``specs``, in the order to run them."""
    to = grantee(ctx.source.settings, facts, grantee_text)
    what = "export, verify and purge" if purge else "export and verify (--no-purge)"
    lines = [f"-- dbarchive needs these for {what}; run them as an administrator"]
    for spec in specs:
        lines += _table_lines(ctx, spec, facts, purge, to)
    schemas = dict.fromkeys(spec.schema_name or ctx.source.settings.database for spec in specs)
    lines += [
        f"GRANT REFERENCES ON {quote_identifier(schema)}.* TO {to};  -- purge: lets it see the "
        "foreign keys referencing its tables (a key ON DELETE CASCADE is refused); reads no data"
        for schema in (schemas if purge else ())
    ]
    if any(spec.server_side for spec in specs):
        lines.append(
            f"GRANT AWS_SELECT_S3_ACCESS TO {to};  -- aurora-outfile (Aurora MySQL 3; "
            f"version 2: GRANT SELECT INTO S3 ON *.* TO {to})"
        )
    for url in ctx.job.throttle.replicas:
        replica = ctx.source.settings.for_url(url).safe_url()
        monitor = "SLAVE MONITOR" if (facts.mariadb_version or (0, 0)) >= (10, 5) else None
        privilege = monitor or "REPLICATION CLIENT"
        lines.append(f"GRANT {privilege} ON *.* TO {to};  -- on the replica {replica} (lag)")
    lines += read_endpoint_grants(ctx, to)  # [source] read_url: the heartbeat, the reads there
    lines.append(
        "-- restore (only to bring a day back): INSERT and UPDATE on the target (a row already "
        "there is kept, or replaced with --replace, by INSERT … ON DUPLICATE KEY UPDATE); CREATE "
        "for --into a new table"
    )
    lines.append("-- no grant for the run lock (GET_LOCK), SHOW GLOBAL STATUS, information_schema")
    return lines


def _table_lines(
    ctx: Context, spec: TableSpec, facts: ServerFacts, purge: bool, to: str
) -> list[str]:
    schema = spec.schema_name or ctx.source.settings.database
    table = f"{quote_identifier(schema)}.{quote_identifier(spec.name)}"
    privileges = [*READ, *(PURGE if purge else ())]
    why = "export, verify" + (", purge" if purge else "")
    partitioned = facts.partitioned.get(spec.name)
    if partitioned:
        privileges += PARTITION_DROP
        why += ", dropping verified RANGE partitions"
    lines = [f"GRANT {', '.join(privileges)} ON {table} TO {to};  -- {why}"]
    if partitioned:
        lines += _clone_lines(schema, spec.name, to)
    if purge and partitioned is None:
        lines.append(
            f"-- if {spec.name} is RANGE-partitioned on {spec.timestamp_column} (the purge then "
            f"drops whole verified partitions): GRANT {', '.join(PARTITION_DROP)} ON {table} TO "
            f"{to}; and {' '.join(_clone_lines(schema, spec.name, to))} (not visible to this "
            "login yet: run check --grants again after the grant)"
        )
    return lines


def _clone_lines(schema: str, table: str, to: str) -> list[str]:
    """What the partition drop's clone table and its table lock need."""
    from dbarchive.steps.exchange import clone_name

    clone = f"{quote_identifier(schema)}.{quote_identifier(clone_name(table))}"
    return [
        f"GRANT {', '.join(CLONE)} ON {clone} TO {to};  -- the partition drop's clone",
        f"GRANT LOCK TABLES ON {quote_identifier(schema)}.* TO {to};  -- the drop locks both",
    ]
