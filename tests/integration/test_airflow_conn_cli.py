"""The CLI on the Airflow config (issue 21, section 4): an ``archive.toml`` without ``[source]``,
the MySQL login from an Airflow connection — ``--conn-from-env`` (its ``AIRFLOW_CONN_*``
variable) or ``--connection URI`` — read exactly as the operators read it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from dbarchive.cli import cli
from tests.integration.airflow_fixtures import AirflowHome, airflow_home  # noqa: F401
from tests.integration.helpers import LOG_TABLE_DDL, fill_events
from tests.integration.mysql_fixtures import MySqlSchema, mysql_schema  # noqa: F401

pytestmark = [
    pytest.mark.integration,
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::PendingDeprecationWarning"),
]
DAY = "2026-11-24"


def _airflow_config(tmp_path: Path) -> Path:
    """The Airflow example's kind of config: destination and tables, no [source]."""
    path = tmp_path / "archive.toml"
    path.write_text(
        f'[destination]\nurl = "{tmp_path / "archive"}"\n'
        '[[tables]]\nname = "events"\ntimestamp_column = "created_at"\n'
    )
    return path


def _cli(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


@pytest.fixture
def events(mysql_schema: MySqlSchema) -> MySqlSchema:
    mysql_schema.execute(LOG_TABLE_DDL)
    fill_events(mysql_schema, DAY, 30)
    return mysql_schema


def test_without_a_connection_the_airflow_config_has_no_source(
    events: MySqlSchema, tmp_path: Path
) -> None:
    """Today's behaviour, kept: the config alone says what is missing and how to give it."""
    result = _cli("status", "-c", str(_airflow_config(tmp_path)))
    assert result.exit_code == 2
    assert "the config has no [source]" in result.output


def test_export_with_conn_from_env_uses_the_airflow_connection(
    events: MySqlSchema, tmp_path: Path
) -> None:
    """``--conn-from-env mysql_archive`` reads AIRFLOW_CONN_MYSQL_ARCHIVE (URI form) and
    exports the day; ``sql`` (the issue's example) prints the procedures from the same config."""
    uri = f"mysql://root:@127.0.0.1:3306/{events.name}"
    env = {"AIRFLOW_CONN_MYSQL_ARCHIVE": uri}
    config = str(_airflow_config(tmp_path))
    result = _cli("export", "-c", config, "--conn-from-env", "mysql_archive", "--date", DAY,
                  "--json", env=env)  # fmt: skip
    assert result.exit_code == 0, result.output
    manifests = list((tmp_path / "archive").rglob("_manifest.json"))
    assert len(manifests) == 1 and json.loads(manifests[0].read_text())["rows"] == 30
    sql = _cli("sql", "-c", config, "-t", "events", "--conn-from-env", "mysql_archive",
               "--destination", "s3://acme-archive/prod", env=env)  # fmt: skip
    assert sql.exit_code == 0, sql.output
    assert "CREATE PROCEDURE" in sql.output


def test_status_with_a_connection_uri_in_json_form_and_as_uri(
    events: MySqlSchema, tmp_path: Path
) -> None:
    """``--connection`` takes the URI; ``--conn-from-env`` also reads the JSON form."""
    config = str(_airflow_config(tmp_path))
    uri = f"mysql://root@127.0.0.1:3306/{events.name}"
    assert _cli("status", "-c", config, "--connection", uri).exit_code == 0
    value = json.dumps({"conn_type": "mysql", "host": "127.0.0.1", "port": 3306, "login": "root",
                        "schema": events.name})  # fmt: skip
    result = _cli("status", "-c", config, "--conn-from-env", "db", env={"AIRFLOW_CONN_DB": value})
    assert result.exit_code == 0, result.output


def test_a_tls_extra_dbarchive_does_not_read_is_refused(
    events: MySqlSchema, tmp_path: Path
) -> None:
    """``?sslmode=require`` (the PostgreSQL spelling) was dropped and the session opened in
    plain text (an outside trial): a TLS-looking extra that is not read is refused, exit 2."""
    config = str(_airflow_config(tmp_path))
    uri = f"mysql://root@127.0.0.1:3306/{events.name}?sslmode=require"
    refused = _cli("status", "-c", config, "--connection", uri)
    assert refused.exit_code == 2, refused.output
    assert "extra sslmode is not read by dbarchive" in refused.output
    other = f"mysql://root@127.0.0.1:3306/{events.name}?charset=utf8mb4"  # not TLS: left alone
    assert _cli("status", "-c", config, "--connection", other).exit_code == 0


def test_extras_dbarchive_does_not_use_are_named_or_refused_never_dropped_silently(
    events: MySqlSchema, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The README promised an extra dbarchive cannot honour is refused; ``charset`` and
    ``local_infile`` ran with nothing said (an outside trial). ``init_command`` is refused (exit
    2: dbarchive would not run it); other unused extras are named in a warning; ``unix_socket``
    is used, as MySqlHook uses it (for host localhost)."""
    config = str(_airflow_config(tmp_path))
    base = f"mysql://root@127.0.0.1:3306/{events.name}"
    refused = _cli("status", "-c", config, "--connection", f"{base}?init_command=SET+x%3D1")
    assert refused.exit_code == 2, refused.output
    assert "extra init_command is not run by dbarchive" in refused.output
    with caplog.at_level("WARNING", logger="dbarchive"):
        named = _cli(
            "status", "-c", config, "--connection", f"{base}?charset=latin1&local_infile=1"
        )
    assert named.exit_code == 0, named.output
    assert "does not use its extra charset, local_infile" in caplog.text
    from dbarchive.airflow.conn_settings import parse_connection, source_settings
    from dbarchive.config import load_job

    socket = "/run/mysqld/mysqld.sock"
    through = f"mysql://root@localhost:3306/{events.name}?unix_socket={socket}"
    conn = parse_connection("c", through, "--connection")
    settings = source_settings(conn, load_job(config))
    assert settings.connect_args()["unix_socket"] == socket
    assert _cli("status", "-c", config, "--connection", through).exit_code == 0


def test_a_missing_variable_or_both_options_is_a_config_error(
    events: MySqlSchema, tmp_path: Path
) -> None:
    """Exit 2, naming the variable; never the URI (it may hold a password)."""
    config = str(_airflow_config(tmp_path))
    missing = _cli("status", "-c", config, "--conn-from-env", "nowhere", env={})
    assert missing.exit_code == 2
    assert "the variable AIRFLOW_CONN_NOWHERE is not set" in missing.output
    uri = "mysql://root:s3cr3t-pw@127.0.0.1:notaport/db"
    bad = _cli("status", "-c", config, "--connection", uri)
    assert bad.exit_code == 2 and "--connection: the port is not a number" in bad.output
    assert "s3cr3t-pw" not in bad.output
    both = _cli("status", "-c", config, "--connection", uri, "--conn-from-env", "x")
    assert both.exit_code == 2 and "either --connection or --conn-from-env" in both.output


@pytest.mark.parametrize("form", ["uri", "json"])
def test_the_cli_and_the_operators_read_a_connection_alike(
    form: str, airflow_home: AirflowHome, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """One connection with TLS extras (``ssl`` with ca/cert/key — a JSON text in the URI form —
    and ``ssl_mode``): Airflow's own parsing (BaseHook, as the operators read it) and the CLI's
    give the same [source], password included."""
    from dbarchive.airflow.conn_settings import connection_from_env, source_settings
    from dbarchive.airflow.connections import source_from_connection
    from dbarchive.config import load_job

    ssl = {"ca": "/etc/rds/ca.pem", "cert": "/etc/db/client.pem", "key": "/etc/db/client.key"}
    if form == "uri":
        from urllib.parse import quote

        value = (f"mysql://arch%40iver:p%40ss%2Fw%3Ard@db.internal:3307/pay%20ments"
                 f"?ssl={quote(json.dumps(ssl), safe='')}&ssl_mode=VERIFY_CA")  # fmt: skip
    else:
        value = json.dumps({"conn_type": "mysql", "host": "db.internal", "port": 3307,
                            "login": "arch@iver", "password": "p@ss/w:rd", "schema": "pay ments",
                            "extra": {"ssl": ssl, "ssl_mode": "VERIFY_CA"}})  # fmt: skip
    monkeypatch.setenv("AIRFLOW_CONN_DBARCHIVE_PARITY", value)
    job = load_job(_airflow_config(tmp_path))
    airflow = source_from_connection("dbarchive_parity", job)
    cli_side = source_settings(connection_from_env("dbarchive_parity"), job)
    assert _settings(cli_side) == _settings(airflow)
    assert _settings(airflow)["url"] == "mysql://arch%40iver@db.internal:3307/pay%20ments"
    assert (airflow.ssl_ca, airflow.ssl_cert, airflow.ssl_key) == tuple(ssl.values())
    assert airflow.tls_mode.value == "VERIFY_CA"


def _settings(settings: Any) -> dict[str, Any]:
    data = settings.model_dump()
    data["password"] = settings.password.get_secret_value() if settings.password else None
    return data
