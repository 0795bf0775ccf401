"""Two private ``mariadbd`` on 127.0.0.1 for the TLS tests: one serving TLS from a test CA, one
without TLS at all. Never the shared server on :3306.

The certificates are made here with ``cryptography`` (EC P-256, valid for a day around now):

- ``ca.pem``: the test CA, what ``ssl_ca`` points at;
- ``good``: the server certificate for ``127.0.0.1`` and ``localhost`` (IP and DNS SANs);
- ``other``: a certificate for ``other.example`` from the same CA (what VERIFY_IDENTITY refuses);
- ``foreign``: a certificate for ``127.0.0.1`` from another CA (what VERIFY_CA refuses);
- ``client``: a client certificate from the test CA (for ``REQUIRE X509`` users).

The TLS server reads ``server-cert.pem``/``server-key.pem``; :meth:`TlsServers.serve` copies one of
the certificates there and runs ``FLUSH SSL``, which makes the server use it for new sessions.
Both servers come from one ``mariadb-install-db`` (the data directory is copied, as the
replication pair does); root has an empty password over TCP.

Use it from a test module with::

    from tests.integration.tls_server import TlsServers, tls_servers  # noqa: F401
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.integration import replication as r

CERTS = ("good", "other", "foreign", "client")


@dataclass
class TlsServers:
    """Where the two servers listen and where the test certificates are."""

    workdir: Path
    tls_port: int
    plain_port: int

    @property
    def ca(self) -> str:
        return str(self.workdir / "ca.pem")

    def cert(self, name: str) -> str:
        return str(self.workdir / f"{name}-cert.pem")

    def key(self, name: str) -> str:
        return str(self.workdir / f"{name}-key.pem")

    def serve(self, name: str) -> None:
        """Make the TLS server present certificate ``name`` to every new session."""
        shutil.copyfile(self.cert(name), self.workdir / "server-cert.pem")
        shutil.copyfile(self.key(name), self.workdir / "server-key.pem")
        self.admin("FLUSH SSL")

    def admin(
        self, sql: str, params: Any = None, plain: bool = False, database: str | None = None
    ) -> list[tuple[Any, ...]]:
        """Run one statement as root on the TLS server (or the plain one), over plain TCP."""
        conn = r.connect(self.plain_port if plain else self.tls_port, database)
        try:
            return r.execute(conn, sql, params)
        finally:
            conn.close()

    def url(self, database: str, user: str = "root", plain: bool = False) -> str:
        port = self.plain_port if plain else self.tls_port
        return f"mysql://{user}@127.0.0.1:{port}/{database}"


def _write_certificates(folder: Path) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = dt.datetime.now(dt.UTC)

    def name(common: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])

    def builder(subject: str, issuer: x509.Name, key: ec.EllipticCurvePrivateKey) -> Any:
        return (
            x509.CertificateBuilder()
            .subject_name(name(subject))
            .issuer_name(issuer)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1))
            .not_valid_after(now + dt.timedelta(days=1))
        )

    def save(stem: str, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> None:
        (folder / f"{stem}-cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        (folder / f"{stem}-key.pem").write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.TraditionalOpenSSL,
                serialization.NoEncryption(),
            )
        )

    def authority(common: str) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (
            builder(common, name(common), key)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .sign(key, hashes.SHA256())
        )
        return cert, key

    def leaf(
        common: str, ca: tuple[x509.Certificate, ec.EllipticCurvePrivateKey], sans: list[Any]
    ) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
        key = ec.generate_private_key(ec.SECP256R1())
        cert = builder(common, ca[0].subject, key).add_extension(
            x509.BasicConstraints(ca=False, path_length=None), critical=True
        )
        if sans:
            cert = cert.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        return cert.sign(ca[1], hashes.SHA256()), key

    test_ca = authority("dbarchive test CA")
    other_ca = authority("another test CA")
    (folder / "ca.pem").write_bytes(test_ca[0].public_bytes(serialization.Encoding.PEM))
    here = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    save("good", *leaf("localhost", test_ca, here))
    save("other", *leaf("other.example", test_ca, [x509.DNSName("other.example")]))
    save("foreign", *leaf("localhost", other_ca, here))
    save("client", *leaf("dbarchive-client", test_ca, []))


def _start(name: str, workdir: Path, datadir: Path, extra: list[str]) -> Any:
    for _ in range(3):
        server = r._start(name, workdir, datadir, r._free_port(set()), extra)
        if r._wait_ready(server):
            return server
    pytest.fail(f"the private {name} mariadbd found no free port", False)


@pytest.fixture(scope="session")
def tls_servers() -> Iterator[TlsServers]:
    """The TLS server (serving ``good``) and the plain one, for the whole session."""
    if r.MARIADBD is None or r.INSTALL_DB is None:
        pytest.fail(
            "mariadbd / mariadb-install-db not found: apt-get install mariadb-server", False
        )
    workdir = Path(tempfile.mkdtemp(prefix="dbarchive-tls-"))
    servers = []
    try:
        _write_certificates(workdir)
        shutil.copyfile(workdir / "good-cert.pem", workdir / "server-cert.pem")
        shutil.copyfile(workdir / "good-key.pem", workdir / "server-key.pem")
        r._install(workdir / "data", workdir)
        shutil.copytree(workdir / "data", workdir / "data-plain")
        tls_options = [
            f"--ssl-ca={workdir / 'ca.pem'}",
            f"--ssl-cert={workdir / 'server-cert.pem'}",
            f"--ssl-key={workdir / 'server-key.pem'}",
        ]
        servers.append(_start("tls", workdir, workdir / "data", tls_options))
        servers.append(_start("plain", workdir, workdir / "data-plain", []))
        yield TlsServers(workdir, servers[0].port, servers[1].port)
    finally:
        for server in servers:
            r._stop(server)
        shutil.rmtree(workdir, ignore_errors=True)


@dataclass
class TlsSchema:
    """A database on the TLS server, shaped like ``MySqlSchema`` for the reliability oracle."""

    servers: TlsServers
    name: str

    def execute(self, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
        return self.servers.admin(sql, params, database=self.name)


def new_database(servers: TlsServers, plain: bool = False) -> str:
    """A fresh database on the TLS server (or the plain one); the caller drops it."""
    name = f"dbat_{uuid.uuid4().hex[:12]}"
    servers.admin(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4", plain=plain)
    return name
