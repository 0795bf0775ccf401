"""``[source] read_url`` and what goes with it: the read endpoint logs in and speaks TLS like the
primary unless ``[source.read]`` says otherwise, names the same database, and every bad value is a
ConfigError naming the setting (the reads themselves: tests/integration/test_read_replica.py)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from pydantic import SecretStr

from dbarchive.build import build_context
from dbarchive.config import SourceSettings, SslMode, job_from_dict
from dbarchive.errors import ConfigError
from dbarchive.storage.local import LocalStorage

PRIMARY = "mysql://archiver@writer.example.internal:3306/shop"
READER = "mysql://archiver@reader.example.internal:3306/shop"


def _job(**source: Any) -> Any:
    return job_from_dict(
        {
            "source": {"url": PRIMARY, **source},
            "destination": {"url": "/tmp/archive"},
            "tables": [{"name": "events", "timestamp_column": "created_at"}],
        },
        "archive.toml",
    )


def test_without_read_url_everything_reads_the_primary() -> None:
    """No read_url: no read endpoint, and the context reads the primary."""
    job = _job()
    assert job.source.read_settings() is None
    ctx = build_context(job)
    assert ctx.reader is None
    assert ctx.reads(job.tables[0], dt.date(2026, 11, 24)) is ctx.source


def test_aurora_outfile_tables_are_read_on_the_primary() -> None:
    """Aurora writes an aurora-outfile table's files on the writer: its reads stay there (no
    read endpoint asked, nothing connects)."""
    job = job_from_dict(
        {
            "source": {"url": PRIMARY, "read_url": READER},
            "destination": {"url": "s3://bucket/prefix"},
            "tables": [
                {"name": "events", "timestamp_column": "created_at"},
                {
                    "name": "ledger",
                    "timestamp_column": "ts",
                    "export": {"strategy": "aurora-outfile"},
                },
            ],
        }
    )
    ctx = build_context(job, storage=LocalStorage("/nonexistent"))  # never used
    assert ctx.reader is not None and not ctx.reader.is_open
    assert ctx.reads(job.tables[1], dt.date(2026, 11, 24)) is ctx.source
    assert not ctx.reader.is_open


def test_the_read_endpoint_inherits_tls_login_and_identity() -> None:
    """TLS (mode, CA, client certificate), the user, the password's source, the zone and the
    source id are the primary's; only the host (and port) differ."""
    job = _job(
        read_url="mysql://archiver@reader.example.internal:3307",  # no database: url's
        ssl_ca="/etc/ssl/ca.pem",
        ssl_cert="/etc/ssl/client.pem",
        ssl_key="/etc/ssl/client.key",
        password_env="SHOP_DB_PASSWORD",
        timezone="Europe/Berlin",
        id="shop-prod",
    )
    read = job.source.read_settings()
    assert read.url == "mysql://archiver@reader.example.internal:3307/shop"
    assert read.tls_mode is SslMode.VERIFY_IDENTITY and read.ssl_ca == "/etc/ssl/ca.pem"
    assert (read.ssl_cert, read.ssl_key) == ("/etc/ssl/client.pem", "/etc/ssl/client.key")
    assert (read.password_env, read.timezone, read.id) == (
        "SHOP_DB_PASSWORD",
        "Europe/Berlin",
        "shop-prod",
    )
    assert read.read_url is None and read.host == "reader.example.internal"


def test_source_read_overrides_what_it_sets() -> None:
    """[source.read] sets the read endpoint's own CA and password variable; the rest is url's."""
    job = _job(
        read_url=READER,
        ssl_ca="/etc/ssl/ca.pem",
        read={
            "ssl_ca": "/etc/ssl/replica-ca.pem",
            "ssl_mode": "verify_ca",
            "password_env": "RO_PW",
        },
    )
    read = job.source.read_settings()
    assert (read.ssl_ca, read.tls_mode, read.password_env) == (
        "/etc/ssl/replica-ca.pem",
        SslMode.VERIFY_CA,
        "RO_PW",
    )
    assert job.source.ssl_ca == "/etc/ssl/ca.pem" and job.source.tls_mode is SslMode.VERIFY_IDENTITY


def test_a_database_name_is_compared_and_carried_over_decoded() -> None:
    """url's database, percent-encoded in its URL, is the read endpoint's when read_url names
    none, and the same name written encoded in read_url is the same database."""
    source = SourceSettings(url="mysql://a@writer:3306/shop%20eu", read_url="mysql://a@reader:3306")
    read = source.read_settings()
    assert read is not None and read.url == "mysql://a@reader:3306/shop%20eu"
    assert read.database == "shop eu"
    named = SourceSettings(url="mysql://a@writer/shop%20eu", read_url="mysql://a@reader/shop%20eu")
    assert named.read_settings() is not None


def test_iam_applies_to_the_aurora_reader_endpoint() -> None:
    """auth = "iam" on the primary signs the reader's tokens for the reader's own host."""
    writer = "mysql://archiver@shop.cluster-abc.eu-west-1.rds.amazonaws.com:3306/shop"
    reader = "mysql://archiver@shop.cluster-ro-abc.eu-west-1.rds.amazonaws.com:3306/shop"
    source = SourceSettings(url=writer, auth="iam", ssl_ca="/etc/ssl/rds.pem", read_url=reader)
    read = source.read_settings()
    assert read is not None and read.auth == "iam" and read.host.startswith("shop.cluster-ro-")


def test_a_password_given_by_code_carries_over_unless_the_reader_has_its_own() -> None:
    """An Airflow connection's password logs in to the read endpoint too, unless read_url holds
    one or [source.read] names another variable."""
    given = SecretStr("from-the-connection")
    same = SourceSettings(url=PRIMARY, read_url=READER, password=given).read_settings()
    assert same is not None and same.connect_args()["password"] == "from-the-connection"
    own = SourceSettings(
        url=PRIMARY, read_url=READER.replace("archiver@", "archiver:ro%40pw@"), password=given
    ).read_settings()
    assert own is not None and own.connect_args()["password"] == "ro@pw"
    other_env = SourceSettings(
        url=PRIMARY, read_url=READER, password=given, read={"password_env": "RO_PW"}
    ).read_settings()
    assert other_env is not None and other_env.password is None


def test_the_heartbeat_table_and_the_wait() -> None:
    """heartbeat_table is a name in the source database or schema.table; read_lag_wait a
    duration (default 5 minutes)."""
    assert _job(read_url=READER).source.heartbeat_name == ("shop", "dbarchive_heartbeat")
    assert _job(read_url=READER, heartbeat_table="ops.hb").source.heartbeat_name == ("ops", "hb")
    assert _job(read_url=READER).source.read_lag_wait == dt.timedelta(minutes=5)
    assert _job(read_url=READER, read_lag_wait="0 seconds").source.read_lag_wait == dt.timedelta(0)


def test_replicas_watched_for_lag_take_no_read_endpoint() -> None:
    """[throttle] replicas get the primary's TLS through for_url, not its read_url."""
    source = SourceSettings(url=PRIMARY, read_url=READER)
    assert source.for_url("mysql://archiver@replica-2:3306/shop").read_url is None


@pytest.mark.parametrize(
    ("source", "says"),
    [
        ({"read_url": "mysql://archiver@reader/other"}, "read_url names the database 'other'"),
        ({"read_url": "https://reader/shop"}, "read_url must look like mysql://"),
        ({"read": {"ssl_ca": "/ca.pem"}}, "[source.read] sets the read endpoint's login/TLS"),
        (
            {"read_url": READER, "read": {"ssl_mode": "VERIFY_CA"}},
            "read endpoint (read_url, [source.read]): ssl_mode VERIFY_CA checks the server's",
        ),
        ({"read_url": READER, "read": {"sslmode": "x"}}, "source.read.sslmode"),
        ({"read_url": READER, "heartbeat_table": "a.b.c"}, "heartbeat_table 'a.b.c' must be"),
        ({"read_url": READER, "read_lag_wait": "soon"}, "read_lag_wait 'soon' is not like"),
        ({"read_url": READER, "read_lag_wait": "2 days"}, "must be from '0 seconds' to '1 day'"),
    ],
    ids=[
        "other-database",
        "not-mysql",
        "read-without-url",
        "verify-without-ca",
        "unknown-field",
        "dotted-table",
        "wait-words",
        "wait-too-long",
    ],
)
def test_bad_read_settings_are_config_errors(source: dict[str, Any], says: str) -> None:
    """Each bad read setting is refused on load, naming it and the fix."""
    with pytest.raises(ConfigError) as refused:
        _job(**source)
    assert says in str(refused.value)


def test_the_settings_read_back_from_their_json() -> None:
    """The latency probe's process gets the source settings as JSON: they must validate again."""
    settings = SourceSettings(url="mysql://u@db:3306/app", read_lag_wait="90 seconds")
    again = SourceSettings.model_validate(settings.model_dump(mode="json"))
    assert again.read_lag_wait == dt.timedelta(seconds=90)
    assert again == settings
