"""RDS IAM authentication end to end, without AWS: the TLS ``mariadbd`` (``tls_server.py``) plays
RDS with a user whose password is the token dbarchive must present (fake credentials, frozen
clock: the token is known in advance). Every session kind logs in with it over VERIFY_IDENTITY
TLS, a whole run works, a late session uses a renewed token, and an Airflow connection with
``iam`` signs with its AWS connection's credentials."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from dbarchive.config import SourceSettings, job_from_dict
from dbarchive.errors import SourceError
from dbarchive.sources import iam
from dbarchive.sources.mysql import MySqlSource
from tests.integration.airflow_fixtures import AirflowHome, airflow_home  # noqa: F401
from tests.integration.helpers import LOG_TABLE_DDL
from tests.integration.test_cli import run_cli, write_config
from tests.integration.test_tls import CIPHER_SQL, SESSION_KINDS
from tests.integration.tls_server import TlsServers, new_database, tls_servers  # noqa: F401
from tests.unit.test_iam import KEY_ID, SECRET, START, FrozenClock, clock, expected_token  # noqa: F401

pytestmark = pytest.mark.integration

REGION = "eu-west-1"
USER = "dbat_iam"


@pytest.fixture
def rds(tls_servers: TlsServers, clock: FrozenClock) -> Iterator[tuple[str, str]]:
    """A database with a day of ``events``, and USER whose password is the token of START."""
    name = new_database(tls_servers)
    table = LOG_TABLE_DDL.replace("`events`", f"`{name}`.`events`")
    tls_servers.admin(table)
    tls_servers.admin(
        f"INSERT INTO `{name}`.`events` (created_at, account_id, amount, note) "
        f"SELECT TIMESTAMP('2026-11-01') + INTERVAL seq MINUTE, seq, seq, 'r' "
        f"FROM `{name}`.seq_1_to_50"
    )
    token = expected_token("127.0.0.1", tls_servers.tls_port, USER, REGION, START)
    tls_servers.admin(f"CREATE USER '{USER}'@'127.0.0.1' IDENTIFIED BY %s", (token,))
    tls_servers.admin(f"GRANT SELECT, DELETE ON `{name}`.* TO '{USER}'@'127.0.0.1'")
    yield name, token
    tls_servers.admin(f"DROP USER '{USER}'@'127.0.0.1'")
    tls_servers.admin(f"DROP DATABASE `{name}`")


def _settings(servers: TlsServers, database: str) -> SourceSettings:
    return SourceSettings(
        url=servers.url(database, user=USER), auth="iam", region=REGION, ssl_ca=servers.ca
    )


def test_every_session_kind_logs_in_with_the_token_over_tls(
    tls_servers: TlsServers, rds: tuple[str, str]
) -> None:
    """The driver's session, the C reader's and the run-lock session present the token, each
    encrypted (VERIFY_IDENTITY)."""
    settings = _settings(tls_servers, rds[0])
    for kind in SESSION_KINDS.values():
        assert kind(settings)
    source = MySqlSource(settings)
    try:
        source._locks.acquire("dbarchive:iam-test", "the test")
        with source._locks._conn.cursor() as cur:
            cur.execute(CIPHER_SQL)
            assert cur.fetchone()[1]
    finally:
        source.close()


def test_a_daily_run_with_iam_and_a_session_after_the_token_was_renewed(
    tls_servers: TlsServers,
    rds: tuple[str, str],
    clock: FrozenClock,
    tmp_path: Path,
) -> None:
    """run exports, verifies and purges with the token; 10 minutes on, a new session presents
    a renewed token (the server, told the new one, refuses the old)."""
    database, first = rds
    config = write_config(
        tmp_path / "iam.toml",
        {
            "url": tls_servers.url(database, user=USER),
            "auth": "iam",
            "region": REGION,
            "ssl_ca": tls_servers.ca,
        },
        {"url": str(tmp_path / "archive")},
        [{"name": "events", "timestamp_column": "created_at", "retention": "5 days"}],
    )
    result = run_cli("run", "-c", str(config), "--today", "2026-11-15", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["tables"][0]["purged"]
    clock.advance(iam.REFRESH_AFTER)
    renewed = expected_token(
        "127.0.0.1",
        tls_servers.tls_port,
        USER,
        REGION,
        START + dt.timedelta(seconds=iam.REFRESH_AFTER),
    )
    assert renewed != first
    tls_servers.admin(f"ALTER USER '{USER}'@'127.0.0.1' IDENTIFIED BY %s", (renewed,))
    settings = _settings(tls_servers, database)
    for kind in SESSION_KINDS.values():
        assert kind(settings)
    tls_servers.admin(f"ALTER USER '{USER}'@'127.0.0.1' IDENTIFIED BY %s", (first,))
    with pytest.raises(SourceError, match=r"refused the login .* AWSAuthenticationPlugin"):
        SESSION_KINDS["driver"](settings)


def test_an_airflow_connection_with_iam_signs_with_its_aws_connection(
    tls_servers: TlsServers,
    rds: tuple[str, str],
    airflow_home: AirflowHome,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Extras ``{"iam": true, "aws_conn_id": …}`` as MySqlHook reads them: the token is signed
    with that AWS connection's keys and region, and both session kinds log in with it."""
    from dbarchive.airflow.connections import source_from_connection

    monkeypatch.delenv("AWS_ACCESS_KEY_ID")  # only the Airflow connection holds the keys
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    aws = {
        "conn_type": "aws",
        "login": KEY_ID,
        "password": SECRET,
        "extra": {"region_name": REGION},
    }
    mysql = {
        "conn_type": "mysql",
        "host": "127.0.0.1",
        "port": tls_servers.tls_port,
        "login": USER,
        "schema": rds[0],
        "extra": {"iam": True, "aws_conn_id": "dbarchive_iam_aws", "ssl": {"ca": tls_servers.ca}},
    }
    monkeypatch.setenv("AIRFLOW_CONN_DBARCHIVE_IAM_AWS", json.dumps(aws))
    monkeypatch.setenv("AIRFLOW_CONN_DBARCHIVE_IAM_MYSQL", json.dumps(mysql))
    job = job_from_dict(
        {"destination": {"url": "/unused"}, "tables": [{"name": "events", "timestamp_column": "t"}]}
    )
    settings = source_from_connection("dbarchive_iam_mysql", job)
    assert settings.auth == "iam" and settings.region == REGION
    assert settings.connect_args()["password"] == rds[1]
    for kind in SESSION_KINDS.values():
        assert kind(settings)
