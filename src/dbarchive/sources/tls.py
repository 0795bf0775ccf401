"""TLS to MySQL: ``source.ssl_mode`` / ``ssl_ca`` / ``ssl_cert`` / ``ssl_key`` → driver options.

:func:`tls_policy` is the one function that reads the TLS settings; every session dbarchive opens
(the driver's, the C reader's, the lock session, replicas, the demo, Airflow's) gets its options
from it through ``dbarchive.sources.connection``, and a test fails if a call site bypasses it.

Why the modes are spelled out here instead of handed to the driver: mysqlclient built on
MariaDB's client library (Connector/C, what Debian and most Linux distributions ship) has no
``ssl_mode`` option and emulates it with two switches, which gives

- ``REQUIRED``: TLS when the server offers it — and plain text when it does not (Connector/C 3.3
  only refuses a server without TLS when it also verifies the certificate);
- ``VERIFY_CA``: the host name checked as well, i.e. ``VERIFY_IDENTITY``.

So, on that library, ``VERIFY_CA`` is "REQUIRED with ``ssl_ca``" (Connector/C checks the chain
whenever a CA is given), and every mode from ``REQUIRED`` up checks after the handshake, on the
client's side, that the session really is encrypted (``CLIENT_SSL`` in the negotiated flags; the C
reader asks ``mysql_get_ssl_cipher``) and closes it otherwise. ``VERIFY_IDENTITY`` is refused by
the library itself before the login when the server offers no TLS; ``REQUIRED``/``VERIFY_CA``
are refused right after it. On MySQL's client library (5.7.11+, 8.x) mysqlclient passes the
mode through unchanged and the library implements it. The tests run each mode against a private
``mariadbd`` with a test CA (``tests/integration/test_tls.py``).
"""

from __future__ import annotations

import ipaddress
import logging
import os
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from dbarchive.config import SourceSettings, SslMode
from dbarchive.errors import ConfigError

log = logging.getLogger("dbarchive")

CLIENT_SSL = 2048  # the protocol's capability flag: this session negotiated TLS
TLS_ERROR = 2026  # CR_SSL_CONNECTION_ERROR, what the client library reports for TLS failures
_warned: set[tuple[str, SslMode]] = set()


@dataclass(frozen=True)
class TlsPolicy:
    """The resolved TLS settings of one server: the mode and the files it uses."""

    mode: SslMode
    ca: str | None = None
    cert: str | None = None
    key: str | None = None

    def __repr__(self) -> str:  # the key's path is never shown
        return f"TlsPolicy(mode={self.mode.value}, ca={self.ca!r}, client_cert={bool(self.cert)})"


def tls_policy(settings: SourceSettings) -> TlsPolicy:
    """The TLS settings for a session to ``settings``' server (the one place that reads them).

    Checks the files can be read (a clear ConfigError instead of the library's), and warns once
    per process when a host other than this machine is reached without verified TLS.
    """
    mode = settings.tls_mode
    policy = TlsPolicy(mode, settings.ssl_ca, settings.ssl_cert, settings.ssl_key)
    _check_readable("ssl_ca", policy.ca, show=True)
    _check_readable("ssl_cert", policy.cert, show=False)
    _check_readable("ssl_key", policy.key, show=False)
    if not mode.verifies and not is_local(settings):
        _warn_unverified(settings, mode)
    return policy


def _check_readable(name: str, path: str | None, show: bool) -> None:
    if path is None or (os.access(path, os.R_OK) and os.path.isfile(path)):
        return
    shown = f" {path!r}" if show else " (path not shown: it names a secret)"
    raise ConfigError(
        f"source.{name}: cannot read the file{shown}; check the path and that this user may read it"
    )


def is_local(settings: SourceSettings) -> bool:
    """A Unix socket or a loopback address: the traffic never leaves this machine."""
    if "unix_socket=" in urlparse(settings.url).query:
        return True
    host = settings.host
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _warn_unverified(settings: SourceSettings, mode: SslMode) -> None:
    key = (settings.host, mode)
    if key in _warned:
        return
    _warned.add(key)
    what = {
        SslMode.DISABLED: "in plain text",
        SslMode.PREFERRED: "without verified TLS (plain text if the server offers no TLS)",
        SslMode.REQUIRED: "over TLS without checking the server's certificate",
    }[mode]
    log.warning(
        "dbarchive: connecting to %s %s (ssl_mode %s): anyone on the network path can read the "
        "rows, or pose as the server. Set [source] ssl_ca to the server's CA file (RDS/Aurora: "
        "global-bundle.pem), which makes ssl_mode default to VERIFY_IDENTITY",
        settings.host,
        what,
        mode.value,
    )


def client_is_mysqls() -> bool:
    """Whether mysqlclient runs on MySQL's client library (5.7.11+/8.x/9.x), which implements
    ``ssl_mode`` itself; MariaDB's reports 3.x (Connector/C) or 10.x/11.x (bundled)."""
    import MySQLdb

    major = int(MySQLdb._mysql.get_client_info().split(".")[0])
    return 5 <= major < 10


def driver_options(policy: TlsPolicy) -> dict[str, Any]:
    """``MySQLdb.connect`` keyword arguments for ``policy`` (see the module docstring)."""
    ssl = {k: v for k, v in (("ca", policy.ca), ("cert", policy.cert), ("key", policy.key)) if v}
    if client_is_mysqls():
        mode = policy.mode.value
    elif policy.mode is SslMode.DISABLED:
        mode = "DISABLED"
    elif policy.mode is SslMode.VERIFY_IDENTITY:
        mode = "VERIFY_IDENTITY"
    else:
        # MariaDB's library: "REQUIRED" only asks for TLS (the check after the handshake refuses
        # plain text where the mode demands it); with a CA the chain is verified, without the
        # host name — which is VERIFY_CA.
        mode = "REQUIRED"
    options: dict[str, Any] = {"ssl_mode": mode}
    if ssl:
        options["ssl"] = ssl
    return options


def reader_options(policy: TlsPolicy) -> dict[str, Any]:
    """``_mysqlread.Reader`` keyword arguments for ``policy``: the C reader maps the mode to
    its client library's options and refuses an unencrypted session itself."""
    return {
        "ssl_mode": policy.mode.value,
        "ssl_ca": policy.ca,
        "ssl_cert": policy.cert,
        "ssl_key": policy.key,
    }


NOT_ENCRYPTED = "the session is not encrypted: the server offered no TLS"


def require_encrypted(policy: TlsPolicy, encrypted: bool) -> str | None:
    """The error text for a session that is not encrypted when the mode demands TLS, else None.

    The caller closes the session and raises it as a TLS error (``TLS_ERROR``), like the client
    library's own, so one translation (``explain``) serves both.
    """
    if encrypted or not policy.mode.encrypts:
        return None
    return f"{NOT_ENCRYPTED} (ssl_mode {policy.mode.value})"


def is_encrypted(client_flag: int) -> bool:
    """Whether a driver session negotiated TLS (its client flags after the handshake)."""
    return bool(client_flag & CLIENT_SSL)


def explain(detail: str, settings: SourceSettings) -> str:
    """The fix for a TLS error the client library reported (``detail`` is its message)."""
    text = detail.lower()
    if "does not support" in text or "not encrypted" in text:
        return (
            "enable TLS on the server (ssl_cert and ssl_key in its configuration), or check "
            "that the URL names the right server"
        )
    if "validation of ssl server certificate" in text or "hostname" in text:
        return (
            f"the server's certificate does not name the host {settings.host!r} "
            "(VERIFY_IDENTITY): connect by a name the certificate lists (for RDS/Aurora the "
            'instance or cluster endpoint), or set ssl_mode = "VERIFY_CA" to check the CA only'
        )
    if any(s in text for s in ("issuer", "self-signed", "self signed", "verify failed")):
        return (
            f"the server's certificate is not signed by the CA in ssl_ca = {settings.ssl_ca!r}: "
            "use the CA that signed the server's certificate (RDS/Aurora: global-bundle.pem)"
        )
    return (
        f"check ssl_ca/ssl_cert/ssl_key and the server's TLS setup (ssl_mode {settings.tls_mode})"
    )
