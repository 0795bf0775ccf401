"""RDS IAM authentication (``auth = "iam"``): the token botocore makes locally, checked against an
independent SigV4 computation with fake credentials and a frozen clock (no network: the metadata
service is switched off), its renewal before expiry, the settings it needs, and the C reader's
fallback without the ``mysql_clear_password`` plugin."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest

from dbarchive.config import SourceSettings, job_from_dict
from dbarchive.errors import ConfigError, SourceError
from dbarchive.sources import iam, mysql_direct

KEY_ID = "AKIDEXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"  # AWS's documentation example, not a key
HOST = "prod-db.cluster-xyz.eu-west-1.rds.amazonaws.com"
START = dt.datetime(2026, 12, 15, 12, 0, 0)


class FrozenClock:
    """One clock for dbarchive's token age and botocore's signature time."""

    def __init__(self) -> None:
        self.now = START

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)

    def seconds(self) -> float:
        return self.now.replace(tzinfo=dt.UTC).timestamp()


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[FrozenClock]:
    """Fake credentials in the environment only, no metadata service, a frozen clock."""
    import botocore.auth

    frozen = FrozenClock()
    for name in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setattr(
        botocore.auth, "get_current_datetime", lambda remove_tzinfo=True: frozen.now
    )
    monkeypatch.setattr(iam, "clock", frozen.seconds)
    iam._providers.clear()
    yield frozen
    iam._providers.clear()


def expected_token(
    host: str,
    port: int,
    user: str,
    region: str,
    when: dt.datetime,
    key_id: str = KEY_ID,
    secret: str = SECRET,
) -> str:
    """SigV4 query signing of RDS's ``connect`` action, written out from AWS's description."""
    amz_date, date = when.strftime("%Y%m%dT%H%M%SZ"), when.strftime("%Y%m%d")
    scope = f"{date}/{region}/rds-db/aws4_request"
    query = "&".join(
        [
            "Action=connect",
            f"DBUser={quote(user, safe='')}",
            "X-Amz-Algorithm=AWS4-HMAC-SHA256",
            f"X-Amz-Credential={quote(f'{key_id}/{scope}', safe='')}",
            f"X-Amz-Date={amz_date}",
            "X-Amz-Expires=900",
            "X-Amz-SignedHeaders=host",
        ]
    )
    canonical = "\n".join(
        ["GET", "/", query, f"host:{host}:{port}", "", "host", hashlib.sha256(b"").hexdigest()]
    )
    to_sign = "\n".join(
        ["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )

    def mac(key: bytes, text: str) -> bytes:
        return hmac.new(key, text.encode(), hashlib.sha256).digest()

    key = mac(mac(mac(mac(f"AWS4{secret}".encode(), date), region), "rds-db"), "aws4_request")
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    return f"{host}:{port}/?{query}&X-Amz-Signature={signature}"


def _settings(**extra: Any) -> SourceSettings:
    return SourceSettings(url=f"mysql://archiver@{HOST}:3306/payments", auth="iam", **extra)


def test_the_password_is_the_rds_token_for_host_port_user_and_region(clock: FrozenClock) -> None:
    """connect_args() carries botocore's token, equal to an independent SigV4 computation; the
    region comes from the RDS host name."""
    settings = _settings(ssl_ca="/etc/ssl/rds/global-bundle.pem")
    token = settings.connect_args()["password"]
    assert token == expected_token(HOST, 3306, "archiver", "eu-west-1", START)


def test_a_token_is_renewed_before_it_expires(clock: FrozenClock) -> None:
    """Reused for sessions opened within 10 minutes, a new one after (RDS accepts 15)."""
    settings = _settings(ssl_ca="/ca.pem", region="eu-central-1")
    first = settings.connect_args()["password"]
    clock.advance(iam.REFRESH_AFTER - 1)
    assert settings.connect_args()["password"] == first
    clock.advance(1)
    renewed = settings.connect_args()["password"]
    assert renewed == expected_token(
        HOST, 3306, "archiver", "eu-central-1", START + dt.timedelta(seconds=iam.REFRESH_AFTER)
    )
    assert iam.REFRESH_AFTER < iam.TOKEN_LIFETIME


def test_replicas_get_their_own_hosts_token(clock: FrozenClock) -> None:
    """A replica's sessions are signed for the replica's host."""
    replica_host = "prod-db-ro.cluster-ro-xyz.eu-west-1.rds.amazonaws.com"
    replica = _settings(ssl_ca="/ca.pem").for_url(f"mysql://archiver@{replica_host}:3306/payments")
    assert replica.connect_args()["password"] == expected_token(
        replica_host, 3306, "archiver", "eu-west-1", START
    )


def test_without_credentials_the_error_says_what_to_give(
    clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No AWS credentials anywhere: a SourceError naming the user, host and the fix."""
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    with pytest.raises(SourceError, match="cannot make an RDS IAM token for archiver@prod-db") as e:
        _settings(ssl_ca="/ca.pem").connect_args()
    assert "rds-db:connect" in str(e.value)


@pytest.mark.parametrize(
    ("source", "words"),
    [
        ({}, "needs ssl_mode VERIFY_IDENTITY"),
        ({"ssl_mode": "VERIFY_CA", "ssl_ca": "/ca.pem"}, "needs ssl_mode VERIFY_IDENTITY"),
        ({"ssl_mode": "REQUIRED"}, "global-bundle.pem"),
        (
            {"ssl_ca": "/ca.pem", "url": "mysql://archiver:pw@" + HOST + "/payments"},
            "remove the password from the url",
        ),
        (
            {"ssl_ca": "/ca.pem", "url": "mysql://archiver@db.internal/payments"},
            'set region (e.g. region = "eu-west-1")',
        ),
    ],
    ids=["no-tls", "verify-ca", "required", "password-in-url", "no-region"],
)
def test_iam_settings_that_would_expose_the_token_are_refused(
    source: dict[str, str], words: str
) -> None:
    """IAM without VERIFY_IDENTITY, with a password, or without a region: a ConfigError."""
    data = {"url": f"mysql://archiver@{HOST}:3306/payments", "auth": "iam", **source}
    with pytest.raises(ConfigError, match="source: ") as refused:
        job_from_dict(
            {
                "source": data,
                "destination": {"url": "/tmp/a"},
                "tables": [{"name": "t", "timestamp_column": "ts"}],
            }
        )
    assert words in str(refused.value)


def test_region_of_rds_endpoints() -> None:
    """Instance, cluster, reader, proxy and China endpoints; anything else has none."""
    assert iam.region_of("db.abc123.us-east-1.rds.amazonaws.com") == "us-east-1"
    assert iam.region_of("c.cluster-ro-abc.ap-southeast-2.rds.amazonaws.com") == "ap-southeast-2"
    assert iam.region_of("p.proxy-abc.eu-west-3.rds.amazonaws.com") == "eu-west-3"
    assert iam.region_of("db.abc.cn-north-1.rds.amazonaws.com.cn") == "cn-north-1"
    assert iam.region_of("db.internal") is None


class _ReaderWithout:
    """The C reader module as built against a library without mysql_clear_password."""

    def __init__(self, real: Any) -> None:
        self._real = real

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)

    @staticmethod
    def auth_plugin_available(name: str) -> bool:
        return False


def test_the_c_reader_is_used_for_iam_only_with_the_clear_password_plugin(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """This machine's client library has the plugin (the C reader serves IAM); without it the
    reads go through the Python driver, with a warning saying what to install."""
    if mysql_direct._module is None:
        pytest.fail("the C reader was not built: install the MySQL client headers", False)
    settings = _settings(ssl_ca="/ca.pem")
    mysql_direct._clear_password_plugin.cache_clear()
    assert mysql_direct._module.auth_plugin_available("mysql_clear_password")
    assert mysql_direct.available(settings)
    monkeypatch.setattr(mysql_direct, "_module", _ReaderWithout(mysql_direct._module))
    mysql_direct._clear_password_plugin.cache_clear()
    with caplog.at_level(logging.WARNING, logger="dbarchive"):
        assert not mysql_direct.available(settings)
        assert mysql_direct.available(SourceSettings(url="mysql://a@127.0.0.1/app"))
    mysql_direct._clear_password_plugin.cache_clear()
    (warning,) = [r.getMessage() for r in caplog.records]
    assert "mysql_clear_password" in warning and "Python driver" in warning
