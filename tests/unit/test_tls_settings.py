"""``[source]`` TLS settings: defaults, refusals of settings that do not fit together, the warning
for an unverified remote server, and the driver options each mode becomes (the behaviour against a
real server is in tests/integration/test_tls.py)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from dbarchive.config import SourceSettings, SslMode, job_from_dict
from dbarchive.errors import ConfigError
from dbarchive.sources import tls


def _job(**source: Any) -> Any:
    return job_from_dict(
        {
            "source": {"url": "mysql://archiver@db.example.internal:3306/app", **source},
            "destination": {"url": "/tmp/archive"},
            "tables": [{"name": "events", "timestamp_column": "created_at"}],
        },
        "archive.toml",
    )


@pytest.fixture
def pem(tmp_path: Path) -> Path:
    path = tmp_path / "ca.pem"
    path.write_text("-----BEGIN CERTIFICATE-----\n")
    return path


def test_a_ca_makes_verify_identity_the_default() -> None:
    """With ssl_ca and no ssl_mode the host name is checked; without either, PREFERRED."""
    assert _job(ssl_ca="/etc/ssl/rds/global-bundle.pem").source.tls_mode is SslMode.VERIFY_IDENTITY
    assert _job().source.tls_mode is SslMode.PREFERRED


def test_ssl_mode_takes_mysqls_names_in_any_case() -> None:
    """``verify_ca`` is VERIFY_CA, like mysql --ssl-mode; an unknown name lists the valid ones."""
    assert _job(ssl_mode="verify_ca", ssl_ca="/ca.pem").source.tls_mode is SslMode.VERIFY_CA
    with pytest.raises(ConfigError, match=r"source\.ssl_mode: .*'VERIFY_IDENTITY'"):
        _job(ssl_mode="VERIFY_FULL")


@pytest.mark.parametrize(
    ("source", "words"),
    [
        ({"ssl_mode": "VERIFY_IDENTITY"}, "set ssl_ca to the CA file"),
        ({"ssl_mode": "VERIFY_CA"}, "global-bundle.pem"),
        ({"ssl_mode": "REQUIRED", "ssl_ca": "/ca.pem"}, 'set ssl_mode = "VERIFY_IDENTITY"'),
        ({"ssl_mode": "DISABLED", "ssl_ca": "/ca.pem"}, "ssl_ca is used only to verify"),
        ({"ssl_cert": "/c.pem"}, "needs both ssl_cert and ssl_key"),
        ({"ssl_mode": "DISABLED", "ssl_cert": "/c.pem", "ssl_key": "/k.pem"}, "need TLS"),
    ],
    ids=["verify-no-ca", "verify-ca-no-ca", "ca-unused", "ca-disabled", "cert-alone", "cert-plain"],
)
def test_settings_that_do_not_fit_together_are_refused(source: dict[str, str], words: str) -> None:
    """A CA that would not be used, a verification without a CA, half a client certificate:
    a ConfigError naming the file, the field and the fix."""
    with pytest.raises(ConfigError, match=r"archive\.toml: invalid configuration") as refused:
        _job(**source)
    assert words in str(refused.value)
    assert "source:" in str(refused.value)


def test_replicas_get_the_sources_tls_and_password_source() -> None:
    """A replica URL keeps ssl_mode/ssl_ca/ssl_cert/ssl_key and password_env of the source."""
    source = SourceSettings(
        url="mysql://a@primary:3306/app",
        password_env="PW",
        ssl_ca="/ca.pem",
        ssl_cert="/c.pem",
        ssl_key="/k.pem",
    )
    replica = source.for_url("mysql://a@replica:3306/app")
    assert replica.host == "replica"
    assert (replica.tls_mode, replica.ssl_ca, replica.ssl_cert, replica.ssl_key) == (
        SslMode.VERIFY_IDENTITY,
        "/ca.pem",
        "/c.pem",
        "/k.pem",
    )
    assert replica.password_env == "PW"


@pytest.mark.parametrize(
    ("url", "mode", "warned"),
    [
        ("mysql://a@db.example.internal:3306/app", "PREFERRED", True),
        ("mysql://a@10.0.0.5:3306/app", "DISABLED", True),
        ("mysql://a@db.example.internal:3306/app", "REQUIRED", True),
        ("mysql://a@127.0.0.1:3306/app", "PREFERRED", False),
        ("mysql://a@localhost/app?unix_socket=/run/mysqld/mysqld.sock", "DISABLED", False),
        ("mysql://a@[::1]:3306/app", "DISABLED", False),
    ],
)
def test_an_unverified_remote_server_is_warned_about_once(
    url: str, mode: str, warned: bool, caplog: pytest.LogCaptureFixture
) -> None:
    """A host other than this machine without verified TLS: one warning with the fix."""
    tls._warned.clear()
    settings = SourceSettings(url=url, ssl_mode=mode)
    with caplog.at_level(logging.WARNING, logger="dbarchive"):
        tls.tls_policy(settings)
        tls.tls_policy(settings)
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == (1 if warned else 0)
    if warned:
        assert settings.host in messages[0] and "ssl_ca" in messages[0]


def test_a_verified_remote_server_is_not_warned_about(
    pem: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """VERIFY_IDENTITY to a remote host: no warning."""
    tls._warned.clear()
    with caplog.at_level(logging.WARNING, logger="dbarchive"):
        tls.tls_policy(SourceSettings(url="mysql://a@db.example.internal/app", ssl_ca=str(pem)))
    assert caplog.records == []


def test_an_unreadable_key_file_is_refused_without_showing_its_path(pem: Path) -> None:
    """The CA's path is shown (it helps and is no secret); the client key's never is."""
    settings = SourceSettings(
        url="mysql://a@127.0.0.1/app",
        ssl_ca=str(pem),
        ssl_cert=str(pem),
        ssl_key="/secret/place/client-key.pem",
    )
    with pytest.raises(ConfigError, match=r"source\.ssl_key: cannot read the file") as refused:
        tls.tls_policy(settings)
    assert "/secret/place" not in str(refused.value)
    assert "/secret/place" not in repr(settings) + repr(
        tls.TlsPolicy(SslMode.REQUIRED, key="/secret/place/k")
    )
    with pytest.raises(
        ConfigError, match=r"source\.ssl_ca: cannot read the file '/missing/ca\.pem'"
    ):
        tls.tls_policy(SourceSettings(url="mysql://a@127.0.0.1/app", ssl_ca="/missing/ca.pem"))


# What mysqlclient is given for each mode: on MariaDB's client library, where mysqlclient's own
# emulation would make VERIFY_CA check the host name and REQUIRED fall back to plain text, and on
# MySQL's, which implements ssl_mode itself.
MARIADB_LIBRARY = {
    "DISABLED": "DISABLED",
    "PREFERRED": "REQUIRED",
    "REQUIRED": "REQUIRED",
    "VERIFY_CA": "REQUIRED",
    "VERIFY_IDENTITY": "VERIFY_IDENTITY",
}


@pytest.mark.parametrize("mode", list(SslMode))
@pytest.mark.parametrize("mysql_library", [False, True], ids=["mariadb-library", "mysql-library"])
def test_each_mode_becomes_explicit_driver_options(
    mode: SslMode, mysql_library: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The mode mysqlclient gets, with the CA only where the mode verifies, and the client
    certificate wherever one is configured; the C reader gets the mode by name."""
    monkeypatch.setattr(tls, "client_is_mysqls", lambda: mysql_library)
    ca = "/ca.pem" if mode.verifies else None
    cert = None if mode is SslMode.DISABLED else "/c.pem"
    key = None if mode is SslMode.DISABLED else "/k.pem"
    policy = tls.TlsPolicy(mode, ca, cert, key)
    options = tls.driver_options(policy)
    assert options["ssl_mode"] == (mode.value if mysql_library else MARIADB_LIBRARY[mode.value])
    expected_ssl = {k: v for k, v in {"ca": ca, "cert": cert, "key": key}.items() if v}
    assert options.get("ssl", {}) == expected_ssl
    assert tls.reader_options(policy)["ssl_mode"] == mode.value


@pytest.mark.parametrize("mode", list(SslMode))
def test_a_session_without_tls_is_refused_exactly_when_the_mode_demands_it(mode: SslMode) -> None:
    """REQUIRED, VERIFY_CA, VERIFY_IDENTITY refuse a plain session; the others accept it."""
    refusal = tls.require_encrypted(tls.TlsPolicy(mode), encrypted=False)
    assert (refusal is not None) == (mode in {"REQUIRED", "VERIFY_CA", "VERIFY_IDENTITY"})
    assert tls.require_encrypted(tls.TlsPolicy(mode), encrypted=True) is None
