"""TLS to MySQL against a real ``mariadbd`` with a test CA (``tls_server.py``): every ``ssl_mode``
on both session kinds (the driver's and the C reader's), the refusals with their messages, and a
whole daily run whose every session the server itself requires to be TLS with our client
certificate."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from dbarchive.config import SourceSettings, SslMode, job_from_dict
from dbarchive.errors import SourceError
from dbarchive.sources import mysql_direct
from dbarchive.sources.mysql import MySqlSource
from dbarchive.sources.mysql_session import translate_error
from dbarchive.sources.probes import MySqlLoadProbe
from tests.integration.airflow_fixtures import AirflowHome, airflow_home  # noqa: F401
from tests.integration.helpers import LOG_TABLE_DDL
from tests.integration.test_cli import run_cli, write_config
from tests.integration.tls_server import TlsServers, new_database, tls_servers  # noqa: F401

pytestmark = pytest.mark.integration

CIPHER_SQL = "SHOW SESSION STATUS LIKE 'Ssl_cipher'"
ANOTHER_CA = "not signed by the CA in ssl_ca"
NOT_THE_HOST = "does not name the host '127.0.0.1'"
NO_TLS = "enable TLS on the server"

# What each mode does with each server certificate, and with a server without TLS:
# "tls" / "plain" (connected, encrypted or not) or the refusal's words.
EXPECTED = {
    "DISABLED": {"good": "plain", "other": "plain", "foreign": "plain", "no-tls": "plain"},
    "PREFERRED": {"good": "tls", "other": "tls", "foreign": "tls", "no-tls": "plain"},
    "REQUIRED": {"good": "tls", "other": "tls", "foreign": "tls", "no-tls": NO_TLS},
    "VERIFY_CA": {"good": "tls", "other": "tls", "foreign": ANOTHER_CA, "no-tls": NO_TLS},
    "VERIFY_IDENTITY": {
        "good": "tls",
        "other": NOT_THE_HOST,
        "foreign": ANOTHER_CA,
        "no-tls": NO_TLS,
    },
}
CASES = [(mode, server) for mode, row in EXPECTED.items() for server in row]


@pytest.fixture
def database(tls_servers: TlsServers) -> Iterator[str]:
    """A fresh database of the same name on both servers; the TLS server serves ``good`` again
    after the test."""
    name = new_database(tls_servers)
    tls_servers.admin(f"CREATE DATABASE `{name}`", plain=True)
    yield name
    tls_servers.serve("good")
    tls_servers.admin(f"DROP DATABASE `{name}`")
    tls_servers.admin(f"DROP DATABASE `{name}`", plain=True)


def _settings(servers: TlsServers, database: str, mode: str, plain: bool = False) -> SourceSettings:
    verifies = mode.startswith("VERIFY")
    return SourceSettings(
        url=servers.url(database, plain=plain),
        ssl_mode=mode,
        ssl_ca=servers.ca if verifies else None,
    )


def _cipher_through_driver(settings: SourceSettings) -> str:
    """The server's view of the driver session's cipher ('' when plain text)."""
    source = MySqlSource(settings)
    try:
        return bytes(source.query(CIPHER_SQL)[0][1]).decode()
    finally:
        source.close()


def _cipher_through_reader(settings: SourceSettings) -> str:
    """The server's view of the C reader session's cipher, and the client's agreeing."""
    try:
        reader = mysql_direct.DirectReader(settings)
    except mysql_direct.error_type() as exc:
        raise translate_error(exc, settings, "connecting") from None
    try:
        chunk = reader.chunk(CIPHER_SQL.encode(), 2, [])
        server_view = chunk.data.decode().strip().split(",")[1].strip('"')
        assert (reader._reader.ssl_cipher() or "") == server_view
        return server_view
    finally:
        reader.close()


SESSION_KINDS = {"driver": _cipher_through_driver, "reader": _cipher_through_reader}


@pytest.mark.parametrize("kind", SESSION_KINDS)
@pytest.mark.parametrize(("mode", "server"), CASES)
def test_each_ssl_mode_on_each_session_kind(
    mode: str, server: str, kind: str, tls_servers: TlsServers, database: str
) -> None:
    """Each mode connects encrypted, in plain text, or refuses with the fix, as MySQL defines it."""
    if kind == "reader" and not mysql_direct.available():
        pytest.fail("the C reader was not built: install the MySQL client headers", False)
    if server != "no-tls":
        tls_servers.serve(server)
    settings = _settings(tls_servers, database, mode, plain=server == "no-tls")
    expected = EXPECTED[mode][server]
    if expected in {"tls", "plain"}:
        cipher = SESSION_KINDS[kind](settings)
        assert bool(cipher) == (expected == "tls"), cipher
    else:
        with pytest.raises(SourceError, match=r"TLS to MySQL at .* failed") as refused:
            SESSION_KINDS[kind](settings)
        assert expected in str(refused.value)
        assert refused.value.mysql_code == 2026


def test_the_replica_probe_and_the_lock_session_use_the_sources_tls(
    tls_servers: TlsServers, database: str
) -> None:
    """Replicas watched by the throttle and the run-lock session: the source's TLS settings."""
    settings = SourceSettings(url=tls_servers.url(database), ssl_ca=tls_servers.ca)
    source = MySqlSource(settings)
    probe = MySqlLoadProbe(source, (tls_servers.url(database),))
    try:
        (replica,) = probe._connections()
        with replica.cursor() as cur:
            cur.execute(CIPHER_SQL)
            assert cur.fetchone()[1]
        source._locks.acquire("dbarchive:tls-test", "the test")
        with source._locks._conn.cursor() as cur:
            cur.execute(CIPHER_SQL)
            assert cur.fetchone()[1]
    finally:
        probe.close()
        source.close()
    tls_servers.serve("foreign")
    source = MySqlSource(settings)
    probe = MySqlLoadProbe(source, (tls_servers.url(database),))
    try:
        with pytest.raises(SourceError, match=ANOTHER_CA):
            probe._connections()
        with pytest.raises(SourceError, match=ANOTHER_CA):
            source._locks.acquire("dbarchive:tls-test", "the test")
    finally:
        probe.close()
        source.close()


# -- a whole daily run -----------------------------------------------------------------------------
TODAY = dt.date(2026, 11, 15)
ROWS = {"2026-11-01": 40, "2026-11-02": 30, "2026-11-14": 20}  # two expired days, one kept


@pytest.fixture
def archiver(
    tls_servers: TlsServers, database: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """A user the server admits only over TLS with our client certificate, holding the grants of
    a run; its password in $DBARCHIVE_MYSQL_PASSWORD. ``events`` has rows on three days."""
    statements = [
        f"CREATE TABLE `{database}`.`events` {LOG_TABLE_DDL.split('`events`', 1)[1]}",
        *(
            f"INSERT INTO `{database}`.`events` (created_at, account_id, amount, note) "
            f"SELECT TIMESTAMP('{day}') + INTERVAL seq MINUTE, seq, seq / 4, CONCAT('r', seq) "
            f"FROM `{database}`.seq_1_to_{count}"
            for day, count in ROWS.items()
        ),
    ]
    for sql in statements:
        tls_servers.admin(sql)
    user = f"dbat_tls_{database[-8:]}"
    tls_servers.admin(
        f"CREATE USER '{user}'@'127.0.0.1' IDENTIFIED BY 'tls-pw' "
        "REQUIRE SUBJECT '/CN=dbarchive-client' AND ISSUER '/CN=dbarchive test CA'"
    )
    tls_servers.admin(f"GRANT SELECT, DELETE ON `{database}`.`events` TO '{user}'@'127.0.0.1'")
    tls_servers.admin(f"GRANT REFERENCES ON `{database}`.* TO '{user}'@'127.0.0.1'")  # its keys
    monkeypatch.setenv("DBARCHIVE_MYSQL_PASSWORD", "tls-pw")
    yield user
    tls_servers.admin(f"DROP USER '{user}'@'127.0.0.1'")


def _config(servers: TlsServers, database: str, user: str, tmp_path: Path, **tls: Any) -> Path:
    return write_config(
        tmp_path / "tls.toml",
        {"url": servers.url(database, user=user), **tls},
        {"url": str(tmp_path / "archive")},
        [
            {
                "name": "events",
                "timestamp_column": "created_at",
                "retention": "5 days",
                "chunk_rows": 7,
            }
        ],
    )


def _rows(servers: TlsServers, database: str) -> int:
    return int(servers.admin(f"SELECT COUNT(*) FROM `{database}`.`events`")[0][0])


def test_a_daily_run_where_the_server_admits_only_tls_with_our_certificate(
    tls_servers: TlsServers, database: str, archiver: str, tmp_path: Path
) -> None:
    """check, run (export through the C reader, verify, lock, purge) and status: every session
    is TLS with the client certificate (the server refuses the user otherwise), VERIFY_IDENTITY
    by default."""
    config = _config(
        tls_servers,
        database,
        archiver,
        tmp_path,
        ssl_ca=tls_servers.ca,
        ssl_cert=tls_servers.cert("client"),
        ssl_key=tls_servers.key("client"),
    )
    checked = run_cli("check", "-c", str(config), "--json")
    assert checked.exit_code == 0, checked.output
    (shown,) = [r for r in json.loads(checked.stdout) if r["name"] == "mysql: TLS"]
    assert shown["ok"] and shown["detail"].startswith("TLS_"), shown
    assert shown["detail"].endswith("ssl_mode VERIFY_IDENTITY (server verified)")
    result = run_cli("run", "-c", str(config), "--today", TODAY.isoformat(), "--json")
    assert result.exit_code == 0, result.output
    assert _rows(tls_servers, database) == ROWS["2026-11-14"]  # the expired days are purged
    manifests = sorted((tmp_path / "archive").rglob("_manifest.json"))
    archived = sum(json.loads(m.read_text())["rows"] for m in manifests)
    assert archived == sum(ROWS.values())


def test_without_the_client_certificate_the_same_user_is_refused(
    tls_servers: TlsServers, database: str, archiver: str, tmp_path: Path
) -> None:
    """The control for the run above: the server really does demand the certificate."""
    config = _config(tls_servers, database, archiver, tmp_path, ssl_ca=tls_servers.ca)
    result = run_cli("run", "-c", str(config), "--today", TODAY.isoformat(), "--json")
    assert result.exit_code == 3, (
        result.output
    )  # the table failed on the database, nothing else ran
    assert "refused the login" in result.output
    assert _rows(tls_servers, database) == sum(ROWS.values())


@pytest.mark.parametrize(
    ("served", "settings", "words"),
    [
        ("foreign", {}, ANOTHER_CA),
        ("other", {}, NOT_THE_HOST),
        ("other", {"ssl_mode": "VERIFY_CA"}, None),
    ],
    ids=["another-ca", "host-mismatch", "host-mismatch-verify-ca"],
)
def test_a_run_against_the_wrong_certificate_stops_before_reading(
    served: str,
    settings: dict[str, str],
    words: str | None,
    tls_servers: TlsServers,
    database: str,
    archiver: str,
    tmp_path: Path,
) -> None:
    """Another CA, or a certificate for another host under VERIFY_IDENTITY: exit 3 (the
    database) with the fix, nothing archived or deleted. VERIFY_CA accepts the other host's certificate."""
    tls_servers.serve(served)
    tls = {
        "ssl_ca": tls_servers.ca,
        "ssl_cert": tls_servers.cert("client"),
        "ssl_key": tls_servers.key("client"),
        **settings,
    }
    config = _config(tls_servers, database, archiver, tmp_path, **tls)
    result = run_cli("run", "-c", str(config), "--today", TODAY.isoformat(), "--json")
    if words is None:
        assert result.exit_code == 0, result.output
        assert _rows(tls_servers, database) == ROWS["2026-11-14"]
        return
    assert result.exit_code == 3, (
        result.output
    )  # the table failed on the database, nothing else ran
    assert words in result.output
    assert _rows(tls_servers, database) == sum(ROWS.values())
    assert not list((tmp_path / "archive").rglob("*.csv*"))


# -- Airflow connections ---------------------------------------------------------------------------
@pytest.mark.parametrize("form", ["uri", "json"])
def test_an_airflow_connections_ssl_extras_are_applied(
    form: str,
    tls_servers: TlsServers,
    database: str,
    airflow_home: AirflowHome,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The ``ssl`` extra MySqlHook reads — JSON text in a URI connection, an object in a JSON
    one: VERIFY_IDENTITY on both session kinds; a server signed by another CA is refused."""
    from dbarchive.airflow.connections import source_from_connection

    ssl = {"ca": tls_servers.ca}
    if form == "uri":
        value = f"{tls_servers.url(database)}?ssl={quote(json.dumps(ssl), safe='')}"
    else:
        value = json.dumps(
            {
                "conn_type": "mysql",
                "host": "127.0.0.1",
                "port": tls_servers.tls_port,
                "login": "root",
                "schema": database,
                "extra": {"ssl": ssl},
            }
        )
    monkeypatch.setenv("AIRFLOW_CONN_DBARCHIVE_TLS_TEST", value)
    job = job_from_dict(
        {
            "destination": {"url": "/unused"},
            "tables": [{"name": "events", "timestamp_column": "created_at"}],
        }
    )
    settings = source_from_connection("dbarchive_tls_test", job)
    assert settings.tls_mode is SslMode.VERIFY_IDENTITY
    for kind in SESSION_KINDS.values():
        assert kind(settings)
    tls_servers.serve("foreign")
    for kind in SESSION_KINDS.values():
        with pytest.raises(SourceError, match=ANOTHER_CA):
            kind(settings)
