"""An Airflow MySQL connection → ``[source]`` settings, without Airflow: shared by the operators
(``connections.py``, which asks Airflow for the connection) and the CLI (``--conn-from-env``,
``--connection``), so one ``archive.toml`` without ``[source]`` serves both.

The connection's extras are read as the mysql provider's ``MySqlHook`` reads them: ``ssl`` —
``{"ca", "cert", "key"}``, a JSON text in a URI-form connection — and ``ssl_mode``; ``iam``
with ``aws_conn_id`` and ``region`` for RDS IAM tokens, ``unix_socket``. A TLS extra it does
not read and ``init_command`` are refused; any other extra it does not use is named in a
warning. Connection values come in Airflow's two forms (an ``AIRFLOW_CONN_*`` variable,
Secrets Manager): a URI (``mysql://user:pw@host:3306/db?ssl=…``, extras in the query,
or a JSON ``__extra__``) or a JSON object (``{"conn_type": "mysql", "host": …, "extra": {…}}``).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from pydantic import SecretStr, ValidationError

from dbarchive.config import ArchiveJob, SourceSettings
from dbarchive.errors import ConfigError

_TLS_FIELDS = ("ssl_mode", "ssl_ca", "ssl_cert", "ssl_key")
_READ_FIELDS = ("read_url", "read", "heartbeat_table", "read_lag_wait")  # from the config
_SSL_KEYS = {"ca": "ssl_ca", "cert": "ssl_cert", "key": "ssl_key"}
log = logging.getLogger("dbarchive")

# RDS IAM: (extras) -> (the AWS session that signs tokens, or None for the default chain; region)
AwsSession = Callable[[dict[str, Any]], tuple[Any, str | None]]


@dataclass(frozen=True)
class ConnectionFields:
    """The fields of an Airflow connection dbarchive reads."""

    conn_id: str
    conn_type: str = ""
    host: str | None = None
    port: int | None = None
    login: str | None = None
    password: str | None = field(default=None, repr=False)
    schema: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def env_name(conn_id: str) -> str:
    """``AIRFLOW_CONN_MYSQL_DEFAULT`` for ``mysql_default``: where Airflow looks for it too."""
    return f"AIRFLOW_CONN_{conn_id.upper()}"


def connection_from_env(conn_id: str, environ: Mapping[str, str] | None = None) -> ConnectionFields:
    """The connection ``conn_id`` from its ``AIRFLOW_CONN_*`` variable (URI or JSON)."""
    name = env_name(conn_id)
    value = (os.environ if environ is None else environ).get(name)
    if not value:
        raise ConfigError(
            f"--conn-from-env {conn_id}: the variable {name} is not set; export the Airflow "
            "connection there (its URI or JSON form), or give --connection"
        )
    return parse_connection(conn_id, value, f"the variable {name}")


def parse_connection(conn_id: str, value: str, where: str) -> ConnectionFields:
    """A connection from Airflow's URI or JSON form; ``where`` names it in errors (never the
    value itself: it holds the password)."""
    text = value.strip()
    if text.startswith("{"):
        return _from_json(conn_id, text, where)
    return _from_uri(conn_id, text, where)


def _from_json(conn_id: str, text: str, where: str) -> ConnectionFields:
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        raise ConfigError(f"{where} is not valid JSON (an Airflow connection object)") from None
    extra = data.get("extra") or {}
    if isinstance(extra, str):
        extra = _json_extra(extra, where)
    port = data.get("port")
    return ConnectionFields(
        conn_id, str(data.get("conn_type") or ""), data.get("host"),
        int(port) if port not in (None, "") else None, data.get("login"), data.get("password"),
        data.get("schema"), dict(extra),
    )  # fmt: skip


def _from_uri(conn_id: str, text: str, where: str) -> ConnectionFields:
    parts = urlsplit(text)
    if not parts.scheme:
        raise ConfigError(f"{where} is not a connection URI like mysql://user@host:3306/db")
    try:
        port = parts.port
    except ValueError:
        raise ConfigError(f"{where}: the port is not a number") from None
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    extra = _json_extra(query["__extra__"], where) if "__extra__" in query else query
    return ConnectionFields(
        conn_id, parts.scheme.replace("-", "_"), unquote(parts.hostname or "") or None, port,
        unquote(parts.username) if parts.username else None,
        unquote(parts.password) if parts.password is not None else None,
        unquote(parts.path[1:]) or None, extra,
    )  # fmt: skip


def _json_extra(text: str, where: str) -> dict[str, Any]:
    try:
        extra = json.loads(text)
    except json.JSONDecodeError:
        raise ConfigError(f"{where}: its extra is not JSON") from None
    if not isinstance(extra, dict):
        raise ConfigError(f"{where}: its extra must be a JSON object")
    return extra


def source_settings(
    conn: ConnectionFields, job: ArchiveJob, aws_session: AwsSession | None = None
) -> SourceSettings:
    """SourceSettings from a MySQL connection (host, port, login, password, schema, extras).

    TLS comes from the extras (``ssl``, ``ssl_mode``), else from the config's ``[source]``.
    With ``iam`` the password is an RDS IAM token signed with ``aws_session``'s credentials
    (the ``region`` extra, else the session's region, else the host's); without one, the
    default AWS chain signs.
    """
    extra = conn.extra or {}
    _check_other_extras(conn.conn_id, extra)
    database = conn.schema or (job.source.database if job.source else "")
    login = quote(conn.login or "root", safe="")
    url = (
        f"mysql://{login}@{conn.host or 'localhost'}:{conn.port or 3306}/{quote(database, safe='')}"
    )
    if extra.get("unix_socket"):  # MySqlHook connects through it: so does dbarchive
        url += f"?unix_socket={quote(str(extra['unix_socket']), safe='/')}"
    from_config = job.source.model_dump(include=set(_TLS_FIELDS)) if job.source else {}
    tls = _tls_from_extras(conn.conn_id, extra) or from_config
    session, auth = None, {}
    if str(extra.get("iam", "")).lower() in {"true", "1"}:
        session, region = aws_session(extra) if aws_session else (None, None)
        auth = {"auth": "iam", "region": extra.get("region") or region}
    try:
        settings = SourceSettings(
            url=url,
            password=SecretStr(conn.password) if conn.password and not auth else None,
            timezone=job.source.timezone if job.source else "UTC",
            id=job.source.id if job.source else None,  # the config names the source, not the login
            **(job.source.model_dump(include=set(_READ_FIELDS)) if job.source else {}),
            **tls,
            **auth,
        )
    except ValidationError as exc:
        problems = "; ".join(e["msg"].removeprefix("Value error, ") for e in exc.errors())
        raise ConfigError(f"Airflow connection {conn.conn_id!r}: {problems}") from None
    return settings.with_aws_session(session) if session is not None else settings


def _tls_from_extras(conn_id: str, extra: dict[str, Any]) -> dict[str, Any]:
    """``ssl``/``ssl_mode`` extras as SourceSettings fields ({} when the connection sets none).

    mysqlclient's ``ssl = true`` means REQUIRED; keys dbarchive does not apply (``capath``,
    ``cipher``) are refused rather than silently dropped.
    """
    ssl = extra.get("ssl")
    if isinstance(ssl, str):
        try:
            ssl = json.loads(ssl)
        except json.JSONDecodeError:
            raise ConfigError(
                f"Airflow connection {conn_id!r}: extra 'ssl' is not JSON; give it as "
                '{"ca": "/path/ca.pem"} (and optionally "cert", "key")'
            ) from None
    tls: dict[str, Any] = {}
    if ssl is True:
        tls["ssl_mode"] = "REQUIRED"
    elif isinstance(ssl, dict):
        unknown = sorted(set(ssl) - set(_SSL_KEYS))
        if unknown:
            raise ConfigError(
                f"Airflow connection {conn_id!r}: extra 'ssl' has {', '.join(unknown)}, which "
                "dbarchive does not apply; give the CA file as 'ca' (and 'cert', 'key')"
            )
        tls.update({_SSL_KEYS[k]: v for k, v in ssl.items() if v})
    elif ssl not in (None, False, {}):
        raise ConfigError(
            f"Airflow connection {conn_id!r}: extra 'ssl' must be an object like "
            '{"ca": "/path/ca.pem"}'
        )
    if extra.get("ssl_mode"):
        tls["ssl_mode"] = extra["ssl_mode"]
    _refuse_other_tls_keys(conn_id, extra)
    return tls


def _refuse_other_tls_keys(conn_id: str, extra: dict[str, Any]) -> None:
    """A TLS-looking extra dbarchive does not read (``sslmode``, ``ssl_ca``, ``tls``) would be
    dropped, and the session opened without the checks it asks for: refused instead."""
    other = sorted(
        k for k in extra if k.lower().startswith(("ssl", "tls")) and k not in {"ssl", "ssl_mode"}
    )
    if other:
        raise ConfigError(
            f"Airflow connection {conn_id!r}: extra {', '.join(other)} is not read by "
            "dbarchive (nor by MySqlHook); give TLS as ssl_mode (e.g. VERIFY_IDENTITY) and "
            'ssl = {"ca": "/path/ca.pem"} (and optionally "cert", "key")'
        )


# The extras dbarchive reads (TLS, RDS IAM, the socket); TLS-looking others are refused above.
_READ_EXTRAS = frozenset({"ssl", "ssl_mode", "iam", "region", "aws_conn_id", "unix_socket"})


def _check_other_extras(conn_id: str, extra: dict[str, Any]) -> None:
    """``init_command`` is refused (dbarchive opens its own sessions, UTC and its own sql_mode,
    and would not run it); any other extra it does not read (``charset``, ``cursor``,
    ``local_infile``, …: MySqlHook's, which dbarchive's own reader makes moot) is named in a
    warning, not dropped silently (an outside trial found the README promising refusal)."""
    if "init_command" in extra:
        raise ConfigError(
            f"Airflow connection {conn_id!r}: extra init_command is not run by dbarchive, which "
            "sets up its own sessions (UTC, its own sql_mode): remove it, or give dbarchive a "
            "connection of its own"
        )
    unused = sorted(
        k for k in extra if k not in _READ_EXTRAS and not k.lower().startswith(("ssl", "tls"))
    )
    if unused:
        log.warning(
            "Airflow connection %r: dbarchive does not use its extra %s (it reads ssl, "
            "ssl_mode, iam, region, aws_conn_id and unix_socket)", conn_id, ", ".join(unused),
        )  # fmt: skip
