"""Config validation: good files load with defaults; bad ones fail naming file, field and fix."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from dbarchive.config import (
    WITH_SECRETS,
    Retention,
    SourceSettings,
    job_from_dict,
    load_job,
    with_overrides,
)
from dbarchive.errors import ConfigError
from dbarchive.formats.compression import Compression

GOOD = """
[source]
url = "mysql://archiver@db.internal:3306/app"

[destination]
url = "s3://archive-bucket/mysql"

[defaults]
compression = "zstd"
retention = "60 days"

[[tables]]
name = "events"
timestamp_column = "created_at"

[[tables]]
name = "audit_log"
timestamp_column = "ts"
compression = "none"
exclude_columns = ["secret"]
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "archive.toml"
    path.write_text(text)
    return path


def test_tables_inherit_defaults_and_may_override(tmp_path: Path) -> None:
    """Each table gets the defaults it does not set itself."""
    job = load_job(_write(tmp_path, GOOD))
    events, audit = job.tables
    assert events.compression is Compression.ZSTD
    assert audit.compression is Compression.NONE
    assert str(events.retention) == "60 days"
    assert events.timezone == "UTC"
    assert audit.exclude_columns == ("secret",)


def test_example_config_is_valid() -> None:
    """The annotated example in examples/ loads."""
    job = load_job(Path(__file__).parents[2] / "examples" / "archive.toml")
    assert job.tables


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        (('compression = "zstd"', 'compression = "lz4"'), "compression"),
        (('retention = "60 days"', 'retention = "sixty"'), "retention"),
        (('name = "events"', 'name = "events"\ntimezone = "Mars/Olympus"'), "tables.0.timezone"),
        (
            ('timestamp_column = "created_at"', 'timestamp_colum = "created_at"'),
            "tables.0.timestamp_colum",
        ),
        (('url = "s3://archive-bucket/mysql"', 'url = "ftp://x/y"'), "destination.url"),
        (
            ('url = "mysql://archiver@db.internal:3306/app"', 'url = "mysql://db.internal"'),
            "source.url",
        ),
    ],
)
def test_bad_field_is_named_with_the_file(
    tmp_path: Path, patch: tuple[str, str], field: str
) -> None:
    """The error names the file and the offending field."""
    path = _write(tmp_path, GOOD.replace(*patch))
    with pytest.raises(ConfigError) as err:
        load_job(path)
    assert str(path) in str(err.value)
    assert field in str(err.value)


def test_a_retention_without_its_unit_says_so(tmp_path: Path) -> None:
    """``retention = 7`` (an outside trial): not pydantic's "a valid dictionary or instance"."""
    path = _write(tmp_path, GOOD.replace('retention = "60 days"', "retention = 7"))
    with pytest.raises(ConfigError, match=r"retention 7 needs a unit, like '7 days'"):
        load_job(path)


def test_toml_syntax_error(tmp_path: Path) -> None:
    """Broken TOML is a ConfigError that says so."""
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_job(_write(tmp_path, "[source\nurl="))


def test_missing_file() -> None:
    """A missing file is named; the library's message speaks of no CLI option (the CLI's says
    to pass --config: an outside trial found that wording in a library error)."""
    with pytest.raises(ConfigError, match=r"^/nonexistent/archive.toml: config file not found$"):
        load_job("/nonexistent/archive.toml")


def test_include_and_exclude_together_are_rejected() -> None:
    """A table cannot both include and exclude columns."""
    with pytest.raises(ConfigError, match="not both"):
        job_from_dict(
            {
                "source": {"url": "mysql://u@h/d"},
                "destination": {"url": "/tmp/a"},
                "tables": [
                    {
                        "name": "t",
                        "timestamp_column": "ts",
                        "include_columns": ["a"],
                        "exclude_columns": ["b"],
                    }
                ],
            }
        )


def test_password_comes_from_environment_and_never_shows(monkeypatch: pytest.MonkeyPatch) -> None:
    """The password is read from the env var at connect time and not in safe_url/repr."""
    monkeypatch.setenv("MY_DB_PW", "s3cr3t-value")
    job = job_from_dict(
        {
            "source": {"url": "mysql://app@db:3307/prod", "password_env": "MY_DB_PW"},
            "destination": {"url": "/tmp/a"},
            "tables": [{"name": "t", "timestamp_column": "ts"}],
        }
    )
    assert job.source.connect_args()["password"] == "s3cr3t-value"
    assert job.source.connect_args()["port"] == 3307
    assert "s3cr3t" not in repr(job) + job.source.safe_url()


def test_password_in_url_is_hidden_from_safe_url() -> None:
    """A password written into the URL is used but never shown."""
    job = job_from_dict(
        {
            "source": {"url": "mysql://app:hunter2@db/prod"},
            "destination": {"url": "/tmp/a"},
            "tables": [{"name": "t", "timestamp_column": "ts"}],
        }
    )
    assert job.source.connect_args()["password"] == "hunter2"
    assert "hunter2" not in job.source.safe_url()


def test_passwords_in_urls_are_not_in_the_jobs_repr() -> None:
    """A job printed or logged (``repr``, f-strings, an Airflow task's log) shows the URLs
    without their passwords, the read endpoint's too."""
    job = job_from_dict(
        {
            "source": {
                "url": "mysql://app:S3cret%21pw@db:3306/prod",
                "read_url": "mysql://ro:R3ader@replica:3306/prod",
            },
            "destination": {"url": "/tmp/a"},
            "tables": [{"name": "t", "timestamp_column": "ts"}],
        }
    )
    shown = repr(job) + str(job) + repr(job.source) + f"{job.source}"
    assert "S3cret" not in shown and "R3ader" not in shown
    assert "mysql://app@db:3306/prod" in shown and "mysql://ro@replica:3306/prod" in shown


def test_a_dump_of_the_job_leaves_the_passwords_out_but_keeps_the_rest() -> None:
    """``model_dump``/``model_dump_json`` (a library user writing the job to a log or a file)
    carry no password; the settings still read back, taking it from the environment. Code
    that hands the settings on whole asks for the password with ``WITH_SECRETS``."""
    job = job_from_dict(
        {
            "source": {
                "url": "mysql://app:S3cret%21pw@db:3306/prod?unix_socket=%2Ftmp%2Fm.sock",
                "read_url": "mysql://ro:R3ader@replica:3306/prod",
            },
            "destination": {"url": "/tmp/a"},
            "tables": [{"name": "t", "timestamp_column": "ts"}],
        }
    )
    dumped = job.model_dump_json() + repr(job.model_dump()) + job.source.model_dump_json()
    assert "S3cret" not in dumped and "R3ader" not in dumped
    source = job.model_dump()["source"]
    assert source["url"] == "mysql://app@db:3306/prod?unix_socket=%2Ftmp%2Fm.sock"
    assert source["read_url"] == "mysql://ro@replica:3306/prod"
    assert SourceSettings.model_validate(source).connect_args().get("password") is None
    whole = job.source.model_dump(mode="json", context=WITH_SECRETS)
    assert SourceSettings.model_validate(whole).connect_args()["password"] == "S3cret!pw"
    again = with_overrides(job, {}, "test")
    assert again.source.connect_args()["password"] == "S3cret!pw"


def test_a_job_dumped_to_json_loads_back() -> None:
    """``job_from_dict(json.loads(job.model_dump_json()))`` refused its own durations ("settle
    'PT10M' is not like '10 minutes'", an outside trial): they are read as ISO 8601 too."""
    job = job_from_dict(
        {
            "source": {
                "url": "mysql://app@db:3306/prod",
                "read_url": "mysql://ro@replica/prod",
                "read_lag_wait": "90 seconds",
            },
            "destination": {"url": "/tmp/a"},
            "defaults": {"settle": "10 minutes", "retention": "60 days"},
            "tables": [{"name": "t", "timestamp_column": "ts", "settle": "1 hour"}],
        }
    )
    assert job_from_dict(json.loads(job.model_dump_json())) == job
    with pytest.raises(ConfigError, match="settle 'PT10Q' is not like"):
        job_from_dict({**job.model_dump(), "defaults": {"settle": "PT10Q"}})


def test_a_port_that_is_not_a_number_is_a_config_error() -> None:
    """It used to pass ``check --config-only`` and crash the export with a ValueError."""
    with pytest.raises(ConfigError, match="port must be a number") as caught:
        job_from_dict(
            {
                "source": {"url": "mysql://app:hunter2@db:notaport/prod"},
                "destination": {"url": "/tmp/a"},
                "tables": [{"name": "t", "timestamp_column": "ts"}],
            }
        )
    assert "hunter2" not in str(caught.value)


def test_a_password_in_the_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "a.toml"
    path.write_text(
        '[source]\nurl = "mysql://app@db/prod"\npassword = "hunter2"\n'
        '[destination]\nurl = "/tmp/a"\n[[tables]]\nname = "t"\ntimestamp_column = "ts"\n'
    )
    with pytest.raises(ConfigError, match="password is not read from a file") as caught:
        load_job(path)
    assert "hunter2" not in str(caught.value)


@pytest.mark.parametrize(
    ("text", "today", "cutoff"),
    [
        ("2 months", dt.date(2026, 11, 25), dt.date(2026, 9, 25)),
        ("2 months", dt.date(2026, 5, 31), dt.date(2026, 3, 31)),
        ("1 month", dt.date(2026, 3, 31), dt.date(2026, 2, 28)),
        ("60 days", dt.date(2026, 11, 25), dt.date(2026, 9, 26)),
        ("8 weeks", dt.date(2026, 11, 25), dt.date(2026, 9, 30)),
        ("3 months", dt.date(2026, 1, 15), dt.date(2025, 10, 15)),
    ],
)
def test_retention_cutoff(text: str, today: dt.date, cutoff: dt.date) -> None:
    """Calendar months clamp to the month's last day; days and weeks are exact."""
    assert Retention.parse(text).cutoff(today) == cutoff


def _outfile_job(destination: str = "s3://b/p", **table: object) -> object:
    return job_from_dict(
        {
            "source": {"url": "mysql://u@h/db"},
            "destination": {"url": destination},
            "defaults": {"export": {"strategy": "aurora-outfile"}},
            "tables": [{"name": "t", "timestamp_column": "ts", **table}],
        }
    )


def test_export_strategy_is_inherited_and_overridable_per_table() -> None:
    """export.strategy in [defaults] reaches every table; a table's own export.* wins."""
    job: Any = _outfile_job()
    assert job.tables[0].export.strategy == "aurora-outfile" and job.tables[0].server_side
    job = _outfile_job(export={"strategy": "stream"})
    assert job.tables[0].export.strategy == "stream" and not job.tables[0].ranged


@pytest.mark.parametrize(
    ("destination", "table", "message"),
    [
        ("/srv/archive", {}, "the destination must be s3://bucket/prefix"),
        ("s3://b/p", {"format": "parquet"}, "writes CSV"),
        ("s3://b/p", {"export": {"strategy": "server"}}, "export.strategy"),
    ],
)
def test_aurora_outfile_refuses_what_aurora_cannot_do(
    destination: str, table: dict[str, Any], message: str
) -> None:
    """A local destination, Parquet, or an unknown strategy: one ConfigError naming the fix."""
    with pytest.raises(ConfigError, match=message):
        _outfile_job(destination, **table)


def test_a_retention_of_one_says_its_unit_in_the_singular() -> None:
    assert [str(Retention(amount=n, unit="weeks")) for n in (1, 2)] == ["1 week", "2 weeks"]


def test_a_bad_default_is_reported_once_where_it_is_written() -> None:
    """Not again as tables.0.retentoin, a key the file does not have; a table's own bad value
    still is."""
    with pytest.raises(ConfigError) as caught:
        job_from_dict(
            {
                "source": {"url": "mysql://app@db/prod"},
                "destination": {"url": "/tmp/a"},
                "defaults": {"retentoin": "2 months"},
                "tables": [
                    {"name": "t", "timestamp_column": "ts"},
                    {"name": "u", "timestamp_column": "ts", "retention": "bad"},
                ],
            }
        )
    lines = str(caught.value).splitlines()[1:]
    assert [line.split(":")[0].strip() for line in lines] == [
        "defaults.retentoin",
        "tables.1.retention (table 'u')",  # named: an index alone had a trial counting entries
    ]


def _source(url: str, **destination: Any) -> Any:
    return job_from_dict(
        {
            "source": {"url": url},
            "destination": {"url": "/tmp/a", **destination},
            "tables": [{"name": "t", "timestamp_column": "ts"}],
        }
    )


@pytest.mark.parametrize(
    "url",
    [
        "mysql://app:Sup3rS3cret/XYZ@db:3306/prod",
        "mysql://app:p@ss:w/rdSup3rS3cret@db:3306/prod",
        "mysql://app:Sup3rS3cret%zz@db:3306/prod",  # sent as is, then "the login was refused"
        "mysql://app:Tr0ub4dor?Sup3rS3cret@db:3306/prod",  # read as the query: named in its error
        "mysql://app:Pass?word=Sup3rS3cret@db/prod",
        "mysql://app:ab#Sup3rS3cret@db:3306/prod",  # read as a URL without a database
        "mysql://app:x?y/Sup3rS3cret@db:3306/prod",
    ],
)
def test_a_password_with_unencoded_slash_or_at_is_refused_without_showing_it(url: str) -> None:
    """urlparse reads such a URL with another host or port, and the error showed the password
    (an outside trial). It is refused, saying how to encode it."""
    with pytest.raises(ConfigError, match="percent-encode them") as caught:
        _source(url)
    assert "Sup3rS3cret" not in str(caught.value) + repr(caught.value)


def test_a_socket_path_holding_an_at_sign_is_not_a_login() -> None:
    assert _source("mysql://db/prod?unix_socket=%2Fx%40y").source.database == "prod"
    assert _source("mysql://db/prod?unix_socket=/run/a@b.sock").source.database == "prod"


def test_redacted_keeps_only_the_user_of_any_url() -> None:
    from dbarchive.config.source import redacted

    assert redacted("mysql://u:Sup3r/S3cret@h:1/db") == "mysql://u@h:1/db"
    assert redacted("mysql://u:a@b:c/Sup3r@h:3306/db?unix_socket=/s") == "mysql://u@h:3306/db"
    assert redacted("mysql://h/db") == "mysql://h/db"
    assert redacted("mysql://u:Tr0?Sup3r@h:3306/db?unix_socket=/s") == "mysql://u@h:3306/db"
    assert redacted("mysql://u:a#Sup3r@h/db") == "mysql://u@h/db"
    assert redacted("mysql://u@localhost/db?unix_socket=/x@y") == "mysql://u@localhost/db"
    assert redacted("mysql://h/db?unix_socket=/x@y") == "mysql://h/db"
    assert "Sup3r" not in redacted("mysql://u:x?y/Sup3r@h/db")


def test_url_options_dbarchive_does_not_read_are_refused() -> None:
    """``?ssl_mode=VERIFY_IDENTITY&ssl_ca=…`` in the URL was dropped: the session connected
    without TLS checks (an outside trial accepted a wrong-host certificate so)."""
    with pytest.raises(ConfigError, match="its query has ssl_ca, ssl_mode"):
        _source("mysql://app@db:3306/prod?ssl_mode=VERIFY_IDENTITY&ssl_ca=/ca.pem")
    socket = _source("mysql://app@localhost/prod?unix_socket=/run/mysqld/mysqld.sock")
    assert socket.source.connect_args()["unix_socket"] == "/run/mysqld/mysqld.sock"


def test_localhost_with_another_port_is_refused() -> None:
    """MySQL clients take localhost for the local socket and ignore the port: a tunnel on
    localhost:3307 would have been another server (the local one)."""
    with pytest.raises(ConfigError, match=r"write 127\.0\.0\.1:3307 for the port"):
        _source("mysql://app@localhost:3307/prod")
    assert _source("mysql://app@localhost:3306/prod").source.connect_args()["port"] == 3306
    assert _source("mysql://app@127.0.0.1:3307/prod").source.connect_args()["port"] == 3307


def test_an_s3_endpoint_holding_a_login_is_refused_without_showing_it() -> None:
    with pytest.raises(ConfigError, match="endpoint_url holds a user or password") as caught:
        _source("mysql://app@db/prod", endpoint_url="http://u:Sup3rS3cret@127.0.0.1:9000")
    assert "Sup3rS3cret" not in str(caught.value)
    assert _source("mysql://app@db/prod", endpoint_url="http://127.0.0.1:9000").destination
