"""RDS IAM database authentication: a short-lived token instead of a password (``auth = "iam"``).

The token is a SigV4-presigned ``connect`` URL that botocore's ``generate_db_auth_token`` makes
*locally* from the AWS credentials (environment, profile, or the instance/task/MWAA role through
the standard chain): no request is sent to make it. RDS accepts it at login for 15 minutes; a
session, once open, outlives it. So a token is made when a session is about to open and reused
for later sessions (the C reader, the lock session, a reconnect) only while it is younger than
``REFRESH_AFTER``: a long run's late reconnects get a fresh one.

RDS sends the token through the ``mysql_clear_password`` plugin, in the clear *inside* TLS:
``auth = "iam"`` requires ``ssl_mode = "VERIFY_IDENTITY"`` (a server that offers no TLS, or is not
the host named, is refused before the token leaves). The user needs ``rds-db:connect`` on
``arn:aws:rds-db:<region>:<account>:dbuser:<DbiResourceId>/<user>``.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dbarchive.errors import ConfigError, SourceError

TOKEN_LIFETIME = 900.0  # seconds RDS accepts a token for (fixed by AWS)
REFRESH_AFTER = 600.0  # a token older than this is not used for a new session
_RDS_HOST = re.compile(r"\.([a-z]{2}(?:-[a-z]+)+-\d)\.rds\.amazonaws\.com(?:\.cn)?$")


def region_of(host: str) -> str | None:
    """The region in an RDS endpoint (``db.xyz.eu-west-1.rds.amazonaws.com``), else None."""
    match = _RDS_HOST.search(host.lower())
    return match.group(1) if match else None


@dataclass(frozen=True)
class _Key:
    host: str
    port: int
    user: str
    region: str


class IamTokens:
    """Tokens for one host, port, user and region, renewed before they expire.

    ``session`` is a botocore or boto3 session (Airflow passes its AWS connection's); the
    default is botocore's, with the standard credential chain. ``clock`` gives seconds (tests
    freeze it; botocore signs with its own clock).
    """

    def __init__(
        self,
        key: _Key,
        session: Any = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._key = key
        self._session = session
        self._clock = clock
        self._client: Any = None
        self._token: str | None = None
        self._made = 0.0
        self._lock = threading.Lock()

    def token(self) -> str:
        """A token at least ``TOKEN_LIFETIME - REFRESH_AFTER`` seconds from expiring."""
        with self._lock:
            now = self._clock()
            if self._token is None or now - self._made >= REFRESH_AFTER:
                self._token = self._generate()
                self._made = now
            return self._token

    def _generate(self) -> str:
        from botocore.exceptions import BotoCoreError

        try:
            if self._client is None:
                self._client = _rds_client(self._session, self._key.region)
            token: str = self._client.generate_db_auth_token(
                DBHostname=self._key.host,
                Port=self._key.port,
                DBUsername=self._key.user,
                Region=self._key.region,
            )
        except BotoCoreError as exc:
            # botocore's messages name what is missing (e.g. "Unable to locate credentials"),
            # never a secret.
            raise SourceError(
                f"cannot make an RDS IAM token for {self._key.user}@{self._key.host}: {exc}; "
                "give AWS credentials (environment, profile or role) allowed rds-db:connect"
            ) from None
        return token


def _rds_client(session: Any, region: str) -> Any:
    """An RDS client (only its signer is used): from a boto3 session (``client``), a botocore
    one (``create_client``), or botocore's default session."""
    if session is None:
        import botocore.session

        session = botocore.session.get_session()
    if hasattr(session, "client"):
        return session.client("rds", region_name=region)
    return session.create_client("rds", region_name=region)


_providers: dict[_Key, IamTokens] = {}
_providers_lock = threading.Lock()
clock: Callable[[], float] = time.time  # replaced by tests that freeze time


def token_for(host: str, port: int, user: str, region: str | None, session: Any = None) -> str:
    """The current token for ``user`` at ``host:port`` (one provider per key and process)."""
    if not region:
        raise ConfigError(
            f"source.region: cannot tell the AWS region of {host!r} for its IAM token; set "
            '[source] region = "<region>" (e.g. "eu-west-1")'
        )
    key = _Key(host, port, user, region)
    with _providers_lock:
        provider = _providers.get(key)
        if provider is None or (session is not None and provider._session is not session):
            provider = _providers[key] = IamTokens(key, session, lambda: clock())
    return provider.token()
