"""``[source]``: the MySQL server, its login (password or RDS IAM) and TLS."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from enum import StrEnum
from typing import Any, Literal
from urllib.parse import unquote, urlparse

from pydantic import (
    Field,
    PrivateAttr,
    SecretStr,
    SerializationInfo,
    ValidationError,
    field_serializer,
    field_validator,
    model_validator,
)

from dbarchive.config.base import (
    Frozen,
    check_zone,
    parse_duration,
)
from dbarchive.config.read import (
    DEFAULT_HEARTBEAT_TABLE,
    DEFAULT_READ_LAG_WAIT,
    MAX_READ_LAG_WAIT,
    ReadEndpointOverrides,
    check_read_url,
    split_table_name,
)
from dbarchive.config.source_url import (
    redacted,
    require_encoded_login,
    require_known_options,
    without_password,
)

DEFAULT_PASSWORD_ENV = "DBARCHIVE_MYSQL_PASSWORD"  # noqa: S105 - a variable name, not a secret
_SECRETS_KEY = "dbarchive_secrets"
# ``model_dump(context=WITH_SECRETS)``: the URLs keep their password (see _url_without_password).
WITH_SECRETS: dict[str, Any] = {_SECRETS_KEY: True}


class SslMode(StrEnum):
    """How the connection to MySQL is protected: MySQL's own ``--ssl-mode`` names.

    ``DISABLED`` plain text; ``PREFERRED`` TLS when the server offers it, else plain text, nothing
    verified; ``REQUIRED`` TLS or no connection, the server's certificate not checked;
    ``VERIFY_CA`` REQUIRED + the certificate chains to ``ssl_ca``; ``VERIFY_IDENTITY`` VERIFY_CA +
    the certificate names the host connected to (what stops another server signed by the same CA,
    e.g. any RDS instance of the region, from standing in for yours).
    """

    DISABLED = "DISABLED"
    PREFERRED = "PREFERRED"
    REQUIRED = "REQUIRED"
    VERIFY_CA = "VERIFY_CA"
    VERIFY_IDENTITY = "VERIFY_IDENTITY"

    @property
    def encrypts(self) -> bool:
        """Whether a session without TLS is refused."""
        return self in {SslMode.REQUIRED, SslMode.VERIFY_CA, SslMode.VERIFY_IDENTITY}

    @property
    def verifies(self) -> bool:
        """Whether the server's certificate is checked against ``ssl_ca``."""
        return self in {SslMode.VERIFY_CA, SslMode.VERIFY_IDENTITY}


class SourceSettings(Frozen):
    """Where the rows live. The password comes from ``password_env`` unless the URL holds one.

    TLS (``ssl_mode``, ``ssl_ca``, ``ssl_cert``, ``ssl_key``) applies to every session dbarchive
    opens to this server and to the replicas it watches; ``dbarchive.sources.tls`` turns it into
    driver options. With ``auth = "iam"`` the password is an RDS IAM token made at connect time
    (``dbarchive.sources.iam``), which needs VERIFY_IDENTITY.
    """

    url: str
    password_env: str = DEFAULT_PASSWORD_ENV
    # Set by code (e.g. from an Airflow connection), never from a file; hidden from repr and logs.
    password: SecretStr | None = Field(default=None, exclude=True)
    timezone: str = Field(default="UTC", description="zone of DATETIME values as stored")
    connect_timeout: int = Field(default=10, ge=1, le=600)
    ssl_mode: SslMode | None = Field(
        default=None, description="default: VERIFY_IDENTITY when ssl_ca is set, else PREFERRED"
    )
    ssl_ca: str | None = Field(default=None, min_length=1)
    ssl_cert: str | None = Field(default=None, min_length=1, repr=False)
    ssl_key: str | None = Field(default=None, min_length=1, repr=False)  # never shown
    auth: Literal["password", "iam"] = "password"
    region: str | None = Field(
        default=None, min_length=1, description="IAM tokens: default from the RDS host name"
    )
    # Names the database in every manifest (e.g. "payments-prod"); a partition whose manifest
    # names another id is refused (None: this job's manifests carry none, and a manifest naming
    # one is refused). A manifest without an id (older, or written before one was set) is accepted.
    id: str | None = Field(default=None, min_length=1, max_length=128, pattern=r"^[^\x00-\x1f]+$")
    # The read endpoint (a replica, an Aurora reader endpoint): the export and the verification
    # read there; the purge, the run lock, growth and restore stay on ``url`` (config/read.py).
    read_url: str | None = None
    read: ReadEndpointOverrides | None = None  # [source.read]: its own login/TLS, if not url's
    heartbeat_table: str = DEFAULT_HEARTBEAT_TABLE  # written on url, read on read_url
    read_lag_wait: dt.timedelta = DEFAULT_READ_LAG_WAIT
    # IAM tokens: the AWS session whose credentials sign them (Airflow's connection), set by code.
    _aws_session: Any = PrivateAttr(default=None)

    @field_validator("ssl_mode", mode="before")
    @classmethod
    def _mode_any_case(cls, v: Any) -> Any:
        """``verify_identity`` is accepted like MySQL's own option (case-insensitive)."""
        return v.strip().upper() if isinstance(v, str) else v

    @model_validator(mode="after")
    def _tls_consistent(self) -> SourceSettings:
        mode = self.tls_mode
        if mode.verifies and not self.ssl_ca:
            raise ValueError(
                f"ssl_mode {mode.value} checks the server's certificate against a CA: set ssl_ca "
                "to the CA file (RDS/Aurora: the region's or the global bundle, global-bundle.pem)"
            )
        if self.ssl_ca and not mode.verifies:
            raise ValueError(
                f"ssl_ca is used only to verify the server, which ssl_mode {mode.value} does not "
                'do: set ssl_mode = "VERIFY_IDENTITY" (or "VERIFY_CA"), or remove ssl_ca'
            )
        if (self.ssl_cert is None) != (self.ssl_key is None):
            raise ValueError("a client certificate needs both ssl_cert and ssl_key")
        if self.ssl_cert and mode is SslMode.DISABLED:
            raise ValueError(
                'ssl_cert/ssl_key need TLS: remove them or choose an ssl_mode other than "DISABLED"'
            )
        return self

    @model_validator(mode="after")
    def _iam_needs(self) -> SourceSettings:
        if self.auth != "iam":
            return self
        if self.tls_mode is not SslMode.VERIFY_IDENTITY:
            raise ValueError(
                'auth = "iam" sends a token that logs in for 15 minutes, in the clear inside TLS: '
                "it needs ssl_mode VERIFY_IDENTITY (the server proven to be the host named before "
                "the token leaves); set ssl_ca to the RDS CA bundle, global-bundle.pem"
            )
        if urlparse(self.url).password:
            raise ValueError('auth = "iam" logs in with a token: remove the password from the url')
        from dbarchive.sources.iam import region_of

        if not self.region and not region_of(self.host):
            raise ValueError(
                f'auth = "iam" signs its token for a region, and {self.host!r} is not an RDS '
                'endpoint name: set region (e.g. region = "eu-west-1")'
            )
        return self

    @model_validator(mode="after")
    def _read_endpoint_valid(self) -> SourceSettings:
        """The read endpoint's settings are checked as [source]'s are, when the file is loaded."""
        if self.read is not None and self.read_url is None:
            raise ValueError("[source.read] sets the read endpoint's login/TLS: set read_url too")
        split_table_name(self.heartbeat_table)
        if self.read_url is not None:
            try:
                self.read_settings()
            except ValidationError as exc:
                problems = "; ".join(e["msg"].removeprefix("Value error, ") for e in exc.errors())
                raise ValueError(f"read endpoint (read_url, [source.read]): {problems}") from None
        return self

    @field_validator("read_lag_wait", mode="before")
    @classmethod
    def _parse_wait(cls, v: Any) -> dt.timedelta:
        return parse_duration(
            v,
            name="read_lag_wait",
            like="'5 minutes' or '30 seconds'",
            meaning="how long an export waits for the read endpoint to apply the day before "
            "refusing",
            most=MAX_READ_LAG_WAIT,
        )

    @field_serializer("url", "read_url")
    def _url_without_password(self, v: str | None, info: SerializationInfo) -> str | None:
        """A dump (``model_dump``, ``model_dump_json``) leaves a URL's password out, as repr
        does: settings written to a log or a file carry no secret. Code that hands the settings
        on whole (to the probe process, to a copy) asks for it with ``WITH_SECRETS``."""
        if v is None or (info.context or {}).get(_SECRETS_KEY):
            return v
        return without_password(v)

    @field_serializer("read_lag_wait", when_used="json")
    def _wait_as_written(self, v: dt.timedelta) -> str:
        """As a config says it, so the settings read back (the probe process gets them as JSON)."""
        return f"{int(v.total_seconds())} seconds"

    def read_settings(self) -> SourceSettings | None:
        """The read endpoint's settings (None without ``read_url``): ``url``'s TLS, login and
        password source, with ``read_url`` and what ``[source.read]`` sets."""
        url = check_read_url(self.read_url, self.database)
        if url is None:
            return None
        overrides = self.read.model_dump(exclude_none=True) if self.read else {}
        data = {
            **self.model_dump(context=WITH_SECRETS),
            **overrides,
            "url": url,
            "read_url": None,
            "read": None,
        }
        other = SourceSettings.model_validate(data)
        own_password = urlparse(url).password or "password_env" in overrides
        if self.password is not None and not own_password:
            other = other.model_copy(update={"password": self.password})
        return other.with_aws_session(self._aws_session)

    @property
    def heartbeat_name(self) -> tuple[str, str]:
        """The heartbeat table as (schema, name): ``heartbeat_table`` in the source database
        unless it names its schema."""
        schema, name = split_table_name(self.heartbeat_table)
        return schema or self.database, name

    @property
    def tls_mode(self) -> SslMode:
        """``ssl_mode`` as set, else VERIFY_IDENTITY when a CA is given, else PREFERRED."""
        if self.ssl_mode is not None:
            return self.ssl_mode
        return SslMode.VERIFY_IDENTITY if self.ssl_ca else SslMode.PREFERRED

    @property
    def host(self) -> str:
        """The host name or address connected to (what VERIFY_IDENTITY checks)."""
        return urlparse(self.url).hostname or "localhost"

    def for_url(self, url: str) -> SourceSettings:
        """The same TLS settings and password source for another server (a replica); a
        password written in ``url`` wins over one given by code."""
        data = {**self.model_dump(context=WITH_SECRETS), "url": url, "read_url": None, "read": None}
        other = SourceSettings.model_validate(data)
        if self.password is not None and not urlparse(url).password:
            other = other.model_copy(update={"password": self.password})
        return other.with_aws_session(self._aws_session)

    def with_aws_session(self, session: Any) -> SourceSettings:
        """These settings, with IAM tokens signed by ``session`` (a boto3/botocore session)."""
        copy = self.model_copy()
        copy._aws_session = session
        return copy

    @field_validator("url")
    @classmethod
    def _url_is_mysql(cls, v: str) -> str:
        parsed = urlparse(v)
        if parsed.scheme not in {"mysql", "mariadb"}:
            raise ValueError("must look like mysql://user@host:3306/database")
        require_encoded_login(v)
        require_known_options(parsed.query)
        if not parsed.hostname and "unix_socket=" not in (parsed.query or ""):
            raise ValueError("needs a host: mysql://user@host:3306/database")
        if not parsed.path.strip("/"):
            raise ValueError("needs a database name at the end: mysql://user@host:3306/database")
        try:
            port = parsed.port
        except ValueError:
            raise ValueError(f"its port must be a number from 0 to 65535: {redacted(v)}") from None
        if parsed.hostname == "localhost" and port not in (None, 3306):
            raise ValueError(
                f"localhost with port {port}: MySQL clients reach localhost through the local "
                "socket and ignore the port, so this would log in to another server; write "
                f"127.0.0.1:{port} for the port, or leave the port out for the socket"
            )
        return v

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        """The URLs without their password: a job printed or logged shows no secret."""
        for name, value in super().__repr_args__():
            if name in {"url", "read_url"} and isinstance(value, str):
                value = redacted(value)
            yield name, value

    _zone = field_validator("timezone")(classmethod(lambda cls, v: check_zone(v)))

    @property
    def database(self) -> str:
        return unquote(urlparse(self.url).path.strip("/"))

    def connect_args(self) -> dict[str, Any]:
        """Login arguments for the MySQL driver; the password is read here, at connect time, only.

        TLS is not among them: sessions are opened by ``dbarchive.sources.connection``, which adds
        the options of ``dbarchive.sources.tls`` and checks each session is what they ask for.
        """
        parsed = urlparse(self.url)
        query = dict(p.split("=", 1) for p in parsed.query.split("&") if "=" in p)
        args: dict[str, Any] = {
            "host": parsed.hostname or "localhost",
            "port": parsed.port or 3306,
            "user": unquote(parsed.username or "root"),
            "database": self.database,
            "connect_timeout": self.connect_timeout,
        }
        password = self._password(parsed.password)
        if password:
            args["password"] = password
        if "unix_socket" in query:
            args["unix_socket"] = unquote(query["unix_socket"])
        return args

    def _password(self, in_url: str | None) -> str | None:
        """An IAM token; else given by code, then written in the URL, then the environment."""
        if self.auth == "iam":
            from dbarchive.sources import iam

            parsed = urlparse(self.url)
            return iam.token_for(
                self.host,
                parsed.port or 3306,
                unquote(parsed.username or "root"),
                self.region or iam.region_of(self.host),
                self._aws_session,
            )
        if self.password is not None:
            return self.password.get_secret_value()
        if in_url:
            return unquote(in_url)
        return os.environ.get(self.password_env)

    def login_hint(self) -> str:
        """What to check when the login is refused, naming where the password came from (a
        password written in the URL is supported, percent-encoded); never the password."""
        if self.password is not None:
            return "check the user and the password given with the connection (Airflow or code)"
        if urlparse(self.url).password is not None:
            return (
                "check the user and the password written in [source] url (percent-encode "
                "@ : / % in it)"
            )
        if os.environ.get(self.password_env):
            return (
                f"check the user and the password in ${self.password_env} (the variable "
                "[source] password_env names)"
            )
        return (
            f"no password was sent: ${self.password_env} is not set; set it (or name another "
            "variable in [source] password_env), or write the password in [source] url; and "
            "check the user"
        )

    def safe_url(self) -> str:
        """The URL without any password, for logs and messages."""
        return redacted(self.url)
