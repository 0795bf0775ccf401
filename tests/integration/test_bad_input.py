"""Bad input gets a clear error and changes nothing: not MySQL, not the archive destination."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
from click.testing import CliRunner, Result

from dbarchive.build import build_context
from dbarchive.cli import cli
from dbarchive.config import load_job
from dbarchive.errors import ConfigError, NoUsableKeyError, SourceError
from dbarchive.formats.csv import iter_rows
from dbarchive.pipeline import export
from dbarchive.storage.local import LocalStorage
from tests.integration.helpers import LOG_TABLE_DDL, fill_events
from tests.integration.mysql_fixtures import ROOT_URL, MySqlSchema, mysql_schema  # noqa: F401

pytestmark = pytest.mark.integration

DAY = dt.date(2024, 3, 10)
DAY_ROWS = 40


# -- helpers ---------------------------------------------------------------------------------------
def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # a JSON string is a TOML basic string
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"no TOML for {value!r}")


def config_text(
    source: dict[str, Any],
    destination: dict[str, Any],
    tables: list[dict[str, Any]],
    defaults: dict[str, Any] | None = None,
) -> str:
    sections = [("[source]", source), ("[destination]", destination)]
    if defaults:
        sections.append(("[defaults]", defaults))
    sections += [("[[tables]]", t) for t in tables]
    return "\n".join(
        "\n".join([header, *(f"{k} = {_toml_value(v)}" for k, v in values.items())]) + "\n"
        for header, values in sections
    )


def write_config(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def events_config(
    tmp_path: Path, source_url: str, dest: str, **table: Any
) -> tuple[Path, dict[str, Any]]:
    spec = {"name": "events", "timestamp_column": "created_at", **table}
    text = config_text({"url": source_url}, {"url": dest}, [spec])
    return write_config(tmp_path / "archive.toml", text), spec


def run_cli(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def error_lines(result: Result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("error:")]


def files_under(folder: Path) -> list[Path]:
    """Every file below ``folder`` (hidden ones too); empty if the folder does not exist."""
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def snapshot(schema: MySqlSchema) -> dict[str, Any]:
    """The tables of the schema with their checksums: equal snapshots mean nothing changed."""
    tables = [r[0] for r in schema.execute("SHOW TABLES")]
    sums = {}
    for t in tables:
        quoted = "`" + t.replace("`", "``") + "`"
        sums[t] = schema.execute(f"CHECKSUM TABLE {quoted} EXTENDED")[0][1]
    return {"tables": sorted(tables), "checksums": sums}


def closed_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def run_library(config: Path) -> None:
    """The export the CLI runs, through the library: load, build, export DAY of every table."""
    job = load_job(config)
    ctx = build_context(job)
    try:
        export(ctx, job.tables, [DAY])
    finally:
        ctx.source.close()


@pytest.fixture
def events(mysql_schema: MySqlSchema) -> MySqlSchema:
    """The log table with rows on DAY and on the days around it."""
    mysql_schema.execute(LOG_TABLE_DDL)
    fill_events(mysql_schema, "2024-03-09", 7)
    fill_events(mysql_schema, DAY.isoformat(), DAY_ROWS)
    fill_events(mysql_schema, "2024-03-11", 5)
    return mysql_schema


# -- invalid config ------------------------------------------------------------------------------
def _valid_tables() -> str:
    return '[[tables]]\nname = "events"\ntimestamp_column = "created_at"\n'


def _head(dest: str, source_extra: str = "") -> str:
    return (
        f'[source]\nurl = "mysql://root@127.0.0.1:3306/dbat_unused"\n{source_extra}'
        f'[destination]\nurl = "{dest}"\n'
    )


BAD_CONFIGS: dict[str, tuple[Callable[[str], str], list[str]]] = {
    # name: (text builder taking the destination, fragments the message must hold)
    "toml syntax": (
        lambda d: _head(d).replace('/dbat_unused"', "/dbat_unused") + _valid_tables(),
        ["not valid TOML", "line 2"],
    ),
    "unknown field": (
        lambda d: _head(d, 'pasword_env = "PW"\n') + _valid_tables(),
        ["source.pasword_env", "check its spelling"],
    ),
    "wrong compression": (
        lambda d: _head(d) + _valid_tables() + 'compression = "rar"\n',
        ["tables.0.compression", "'gzip'"],
    ),
    "missing tables": (lambda d: _head(d), ["tables: Field required"]),
    "bad timezone": (
        lambda d: _head(d, 'timezone = "Mars/Olympus_Mons"\n') + _valid_tables(),
        ["source.timezone", "Mars/Olympus_Mons"],
    ),
    "bad retention": (
        lambda d: _head(d) + _valid_tables() + 'retention = "forever"\n',
        ["tables.0.retention", "'forever'"],
    ),
}


@pytest.mark.parametrize("case", list(BAD_CONFIGS))
def test_invalid_config_names_file_and_field_and_writes_nothing(tmp_path: Path, case: str) -> None:
    """An invalid config is one ConfigError naming file and field; the CLI exits 2, writes nothing."""
    build, fragments = BAD_CONFIGS[case]
    dest = tmp_path / "archive"
    config = write_config(tmp_path / "bad.toml", build(str(dest)))

    with pytest.raises(ConfigError) as caught:
        load_job(config)
    message = str(caught.value)
    assert str(config) in message
    for fragment in fragments:
        assert fragment in message

    result = run_cli("export", "-c", str(config), "--date", DAY.isoformat())
    assert result.exit_code == 2, result.output
    assert len(error_lines(result)) == 1, result.stderr
    assert str(config) in result.stderr
    assert fragments[0] in result.stderr
    assert "Traceback" not in result.output
    assert result.stdout == ""
    assert not dest.exists()


def test_missing_config_file_is_a_config_error(tmp_path: Path) -> None:
    """A config path that does not exist gives exit code 2 and names the path."""
    missing = tmp_path / "nope.toml"
    result = run_cli("export", "-c", str(missing))
    assert result.exit_code == 2, result.output
    assert error_lines(result) == [f"error: {missing}: config file not found; pass --config PATH"]


# -- unknown table / column, no usable key, bad filter ---------------------------------------------
NOKEY_DDL = """
CREATE TABLE `nokey` (
  a INT NULL,
  u INT NULL,
  created_at DATETIME NOT NULL,
  UNIQUE KEY uq_u (u),
  KEY idx_created (created_at)
)
"""

UKEY_DDL = """
CREATE TABLE `ukey` (
  id INT NOT NULL PRIMARY KEY,
  a INT NOT NULL,
  b INT NOT NULL,
  created_at DATETIME NOT NULL,
  UNIQUE KEY uq_ab (a, b),
  KEY idx_created (created_at)
)
"""

SOURCE_ERRORS: dict[str, tuple[dict[str, Any], type[SourceError], list[str]]] = {
    # name: (table spec overrides, error class, fragments the message must hold)
    "unknown table": ({"name": "evnets"}, SourceError, ["evnets", "does not exist"]),
    "unknown timestamp column": (
        {"timestamp_column": "created"},
        SourceError,
        ["'events'", "'created'", "timestamp_column"],
    ),
    "unknown include column": (
        {"include_columns": ["id", "created_at", "acount_id"]},
        SourceError,
        ["'events'", "'acount_id'", "include/exclude_columns"],
    ),
    "unknown exclude column": (
        {"exclude_columns": ["nte"]},
        SourceError,
        ["'events'", "'nte'"],
    ),
    # an outside trial was told to "add a primary key" to a table that had one
    "key_columns beside the primary key": (
        {"name": "ukey", "key_columns": ["a", "b"]},
        NoUsableKeyError,
        ["'ukey'", "leave key_columns out", "several columns is always read through the time"],
    ),
    "key_columns out of their index's order": (
        {"name": "ukey", "key_columns": ["b", "a"]},
        NoUsableKeyError,
        ["'ukey'", "the unique index 'uq_ab' has them in the order ['a', 'b']"],
    ),
    "no usable key": (
        {"name": "nokey"},
        NoUsableKeyError,
        ["'nokey'", "no primary key or unique NOT NULL index"],
    ),
    "invalid where": (
        {"where": "account_id = = 3"},
        SourceError,
        ["'events'", "where filter", "not valid SQL"],
    ),
    "where naming an unknown column": (
        {"where": "no_such_column = 3"},
        SourceError,
        ["'events'", "where filter", "not valid SQL"],
    ),
}


@pytest.mark.parametrize("case", list(SOURCE_ERRORS))
def test_source_problem_is_named_before_anything_is_written(
    events: MySqlSchema, tmp_path: Path, case: str
) -> None:
    """Unknown table/column, no usable key or a bad filter: SourceError naming it, no file at all."""
    events.execute(NOKEY_DDL)
    events.execute("INSERT INTO nokey VALUES (1, NULL, '2024-03-10 10:00:00')")
    events.execute(UKEY_DDL)
    overrides, error, fragments = SOURCE_ERRORS[case]
    dest = tmp_path / "archive"
    config, _ = events_config(tmp_path, events.url, str(dest), **overrides)
    before = snapshot(events)

    with pytest.raises(error) as caught:
        run_library(config)
    assert type(caught.value) is error
    for fragment in fragments:
        assert fragment in str(caught.value)
    assert files_under(dest) == []

    result = run_cli("export", "-c", str(config), "--date", DAY.isoformat(), "-q")
    assert result.exit_code == 3, result.output
    lines = error_lines(result)
    assert len(lines) == 1, result.stderr
    assert fragments[0] in lines[0]
    assert files_under(dest) == []
    assert snapshot(events) == before


# -- login and privileges --------------------------------------------------------------------------
def _server() -> tuple[str, int]:
    parsed = urlparse(ROOT_URL)
    return parsed.hostname or "127.0.0.1", parsed.port or 3306


@pytest.fixture
def mysql_user(events: MySqlSchema) -> Iterator[tuple[str, str]]:
    """A fresh MySQL user (name, password) on 127.0.0.1 without privileges; dropped afterwards."""
    name = f"dbat_{uuid.uuid4().hex[:12]}"
    password = uuid.uuid4().hex
    events.execute(f"CREATE USER '{name}'@'127.0.0.1' IDENTIFIED BY %s", (password,))
    try:
        yield name, password
    finally:
        events.execute(f"DROP USER IF EXISTS '{name}'@'127.0.0.1'")


@pytest.mark.parametrize("where", ["env", "url"])
def test_wrong_password_is_refused_without_leaking_a_password(
    events: MySqlSchema,
    mysql_user: tuple[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    where: str,
) -> None:
    """A wrong password: SourceError 'refused the login', and neither password appears anywhere."""
    user, right = mysql_user
    events.execute(f"GRANT SELECT ON `{events.name}`.* TO '{user}'@'127.0.0.1'")
    wrong = uuid.uuid4().hex
    env_name = f"DBAT_PW_{uuid.uuid4().hex[:8].upper()}"
    host, port = _server()
    dest = tmp_path / "archive"

    def configure(password: str) -> Path:
        if where == "env":
            monkeypatch.setenv(env_name, password)
            url = f"mysql://{user}@{host}:{port}/{events.name}"
        else:
            monkeypatch.delenv(env_name, raising=False)
            url = f"mysql://{user}:{password}@{host}:{port}/{events.name}"
        spec = {"name": "events", "timestamp_column": "created_at"}
        text = config_text({"url": url, "password_env": env_name}, {"url": str(dest)}, [spec])
        return write_config(tmp_path / "archive.toml", text)

    config = configure(wrong)
    with pytest.raises(SourceError) as caught:
        run_library(config)
    message = str(caught.value)
    assert "refused the login" in message
    assert user in message
    assert wrong not in message and right not in message
    assert wrong not in repr(caught.value) and right not in repr(caught.value)

    result = run_cli("export", "-c", str(config), "--date", DAY.isoformat(), "-q")
    assert result.exit_code == 3, result.output
    assert len(error_lines(result)) == 1, result.stderr
    assert "refused the login" in result.stderr
    assert wrong not in result.output and right not in result.output
    assert files_under(dest) == []

    # The same user with the right password works: the refusal was the password, nothing else.
    config = configure(right)
    result = run_cli("export", "-c", str(config), "--date", DAY.isoformat(), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)[0]["rows"] == DAY_ROWS
    assert right not in result.output


@pytest.mark.parametrize(
    ("grant", "fragments"),
    [
        ("INSERT ON `{db}`.`events`", ["privilege", "SELECT", "events"]),
        ("SELECT ON `{db}`.`other`", ["events", "does not exist", "SELECT privilege"]),
        ("USAGE ON *.*", ["may not use the database", "{db}", "grant"]),
    ],
    ids=["insert-only", "select-on-another-table", "nothing-on-the-database"],
)
def test_user_without_select_on_the_table_gets_a_clear_error(
    events: MySqlSchema,
    mysql_user: tuple[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    grant: str,
    fragments: list[str],
) -> None:
    """A user lacking SELECT on the table: a SourceError that says so, and no file written."""
    user, password = mysql_user
    events.execute("CREATE TABLE other (id INT PRIMARY KEY)")
    events.execute(f"GRANT {grant.format(db=events.name)} TO '{user}'@'127.0.0.1'")
    monkeypatch.setenv("DBAT_PRIV_PW", password)
    host, port = _server()
    dest = tmp_path / "archive"
    spec = {"name": "events", "timestamp_column": "created_at"}
    text = config_text(
        {"url": f"mysql://{user}@{host}:{port}/{events.name}", "password_env": "DBAT_PRIV_PW"},
        {"url": str(dest)},
        [spec],
    )
    config = write_config(tmp_path / "archive.toml", text)
    before = snapshot(events)

    with pytest.raises(SourceError) as caught:
        run_library(config)
    message = str(caught.value)
    for fragment in fragments:
        assert fragment.format(db=events.name) in message
    assert "password" not in message  # the login worked: a password hint would mislead
    assert password not in message

    result = run_cli("export", "-c", str(config), "--date", DAY.isoformat(), "-q")
    assert result.exit_code == 3, result.output
    assert len(error_lines(result)) == 1, result.stderr
    assert files_under(dest) == []
    assert snapshot(events) == before


def test_an_export_failing_on_mysql_leaves_no_destination_check_running(
    events: MySqlSchema,
    mysql_user: tuple[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No SELECT: the export fails while its destination survey (on a thread) is still checking
    the folder. The survey ends before the error leaves, so its probe file is gone and no
    thread runs on (a CI run once found the probe file still there)."""
    user, password = mysql_user
    events.execute(f"GRANT INSERT ON `{events.name}`.`events` TO '{user}'@'127.0.0.1'")
    monkeypatch.setenv("DBAT_PRIV_PW", password)
    real_check = LocalStorage.check

    def slow_check(self: LocalStorage) -> None:  # the real check, after MySQL has failed
        time.sleep(0.5)
        real_check(self)

    monkeypatch.setattr(LocalStorage, "check", slow_check)
    host, port = _server()
    dest = tmp_path / "archive"
    text = config_text(
        {"url": f"mysql://{user}@{host}:{port}/{events.name}", "password_env": "DBAT_PRIV_PW"},
        {"url": str(dest)},
        [{"name": "events", "timestamp_column": "created_at"}],
    )
    with pytest.raises(SourceError):
        run_library(write_config(tmp_path / "archive.toml", text))
    assert not [t for t in threading.enumerate() if t.name == "dbarchive-s3-survey"]
    assert files_under(dest) == []


def test_unreachable_mysql_says_cannot_reach(tmp_path: Path) -> None:
    """MySQL on a closed port: SourceError 'cannot reach', CLI exit 3, no file written."""
    dest = tmp_path / "archive"
    config, _ = events_config(
        tmp_path, f"mysql://root@127.0.0.1:{closed_port()}/dbat_nowhere", str(dest)
    )
    with pytest.raises(SourceError, match=r"cannot reach MySQL at mysql://root@127\.0\.0\.1:"):
        run_library(config)

    result = run_cli("export", "-c", str(config), "--date", DAY.isoformat(), "-q")
    assert result.exit_code == 3, result.output
    lines = error_lines(result)
    assert len(lines) == 1 and "cannot reach MySQL" in lines[0], result.stderr
    assert files_under(dest) == []


# -- unusable S3 destination -----------------------------------------------------------------------
def _s3_env(monkeypatch: pytest.MonkeyPatch, access: str, secret: str, region: str) -> None:
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", access)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)
    monkeypatch.setenv("AWS_DEFAULT_REGION", region)


def test_unreachable_s3_endpoint_is_a_storage_error(
    events: MySqlSchema, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An S3 endpoint nobody listens on: exit 4 with 'unreachable', and MySQL is untouched."""
    secret = uuid.uuid4().hex
    _s3_env(monkeypatch, "dbat-access", secret, "us-east-1")
    endpoint = f"http://127.0.0.1:{closed_port()}"
    text = config_text(
        {"url": events.url},
        {"url": "s3://dbat-archive/archive", "endpoint_url": endpoint},
        [{"name": "events", "timestamp_column": "created_at"}],
    )
    config = write_config(tmp_path / "archive.toml", text)
    before = snapshot(events)

    result = run_cli("export", "-c", str(config), "--date", DAY.isoformat(), "-q")
    assert result.exit_code == 4, result.output
    lines = error_lines(result)
    assert len(lines) == 1, result.stderr
    assert "unreachable" in lines[0] and endpoint in lines[0]
    assert secret not in result.output
    assert snapshot(events) == before


def test_missing_bucket_is_a_storage_error_and_is_not_created(
    events: MySqlSchema, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, s3_endpoint: Any
) -> None:
    """A bucket that does not exist: exit 4 naming it; the bucket still does not exist after."""
    import boto3
    from botocore.exceptions import ClientError

    _s3_env(monkeypatch, s3_endpoint.access_key, s3_endpoint.secret_key, s3_endpoint.region)
    bucket = f"dbat-missing-{uuid.uuid4().hex[:12]}"
    text = config_text(
        {"url": events.url},
        {"url": f"s3://{bucket}/archive", "endpoint_url": s3_endpoint.url},
        [{"name": "events", "timestamp_column": "created_at"}],
    )
    config = write_config(tmp_path / "archive.toml", text)
    before = snapshot(events)

    result = run_cli("export", "-c", str(config), "--date", DAY.isoformat(), "-q")
    assert result.exit_code == 4, result.output
    lines = error_lines(result)
    assert len(lines) == 1, result.stderr
    assert bucket in lines[0] and "does not exist" in lines[0]
    assert s3_endpoint.secret_key not in result.output
    assert snapshot(events) == before

    client = boto3.client(
        "s3",
        endpoint_url=s3_endpoint.url,
        aws_access_key_id=s3_endpoint.access_key,
        aws_secret_access_key=s3_endpoint.secret_key,
        region_name=s3_endpoint.region,
    )
    try:
        with pytest.raises(ClientError):
            client.head_bucket(Bucket=bucket)
        assert bucket not in {b["Name"] for b in client.list_buckets().get("Buckets", [])}
    finally:
        client.close()


# -- hostile identifiers ---------------------------------------------------------------------------
def _read_part(path: Path) -> list[list[bytes | None]]:
    with gzip.open(path, "rb") as f:
        return list(iter_rows(f))  # type: ignore[arg-type]


def _manifests(dest: Path) -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted(dest.rglob("_manifest.json"))]


def test_malicious_table_name_is_quoted_not_executed(events: MySqlSchema, tmp_path: Path) -> None:
    """A table named ``logs`; DROP TABLE x`` exports its rows; table x still exists."""
    table = "logs`; DROP TABLE x"
    events.execute("CREATE TABLE x (id INT PRIMARY KEY)")
    events.execute("INSERT INTO x VALUES (1)")
    events.execute(
        "CREATE TABLE `logs``; DROP TABLE x` (id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,"
        " created_at DATETIME NOT NULL, msg TEXT, KEY idx_created (created_at))"
    )
    events.execute(
        "INSERT INTO `logs``; DROP TABLE x` (created_at, msg) VALUES"
        " ('2024-03-09 23:59:59', 'before'), ('2024-03-10 00:00:00', 'first'),"
        " ('2024-03-10 12:00:00', 'noon'), ('2024-03-10 23:59:59', 'last'),"
        " ('2024-03-11 00:00:00', 'after')"
    )
    dest = tmp_path / "archive"
    text = config_text(
        {"url": events.url},
        {"url": str(dest)},
        [{"name": table, "timestamp_column": "created_at", "chunk_rows": 2}],
    )
    config = write_config(tmp_path / "archive.toml", text)

    result = run_cli("export", "-c", str(config), "--date", DAY.isoformat(), "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert [(s["table"], s["rows"]) for s in summary] == [(table, 3)]
    parts = [p for p in files_under(dest) if p.name.endswith(".csv.gz")]
    assert len(parts) == 1
    rows = _read_part(parts[0])
    assert rows[0] == [b"id", b"created_at", b"msg"]
    assert [r[2] for r in rows[1:]] == [b"first", b"noon", b"last"]
    (manifest,) = _manifests(dest)
    assert manifest["table"] == table and manifest["rows"] == 3
    tables = {r[0] for r in events.execute("SHOW TABLES")}
    assert {"x", table, "events"} <= tables
    assert events.execute("SELECT COUNT(*) FROM x") == [(1,)]


@pytest.mark.parametrize("scan", ["key", "time"])
def test_malicious_column_names_are_quoted_everywhere(
    events: MySqlSchema, tmp_path: Path, scan: str
) -> None:
    """Key, timestamp, index and data columns holding backticks and spaces export exactly."""
    key, ts, note, secret = "i`d; DROP TABLE x; --", "created`at x", "no`te, DROP", "sec`ret col"
    events.execute("CREATE TABLE x (id INT PRIMARY KEY)")
    events.execute(
        "CREATE TABLE evil (`i``d; DROP TABLE x; --` BIGINT NOT NULL PRIMARY KEY,"
        " `created``at x` DATETIME(6) NOT NULL, `no``te, DROP` TEXT NULL, `sec``ret col` INT,"
        " KEY `idx``; DROP TABLE x` (`created``at x`))"
    )
    values = [
        (1, "2024-03-09 23:00:00", "yesterday", 1),
        (2, "2024-03-10 00:00:00", "a`b", 2),
        (3, "2024-03-10 01:00:00", None, 3),
        (4, "2024-03-10 01:00:00", "same time", 4),
        (5, "2024-03-10 13:00:00", "x`; DROP TABLE x; --", 5),
        (6, "2024-03-10 23:59:59.999999", "last", 6),
        (7, "2024-03-11 00:00:00", "tomorrow", 7),
    ]
    events.executemany("INSERT INTO evil VALUES (%s, %s, %s, %s)", values)
    dest = tmp_path / "archive"
    spec = {
        "name": "evil",
        "timestamp_column": ts,
        "exclude_columns": [secret],
        "scan": scan,
        "chunk_rows": 2,
    }
    config = write_config(
        tmp_path / "archive.toml", config_text({"url": events.url}, {"url": str(dest)}, [spec])
    )

    result = run_cli("export", "-c", str(config), "--date", DAY.isoformat(), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)[0]["scan"] == scan
    (part,) = [p for p in files_under(dest) if p.name.endswith(".csv.gz")]
    rows = _read_part(part)
    assert rows[0] == [key.encode(), ts.encode(), note.encode()]
    expected = [
        [
            str(i).encode(),
            f"{t}.000000".encode() if "." not in t else t.encode(),
            None if n is None else n.encode(),
        ]
        for i, t, n, _ in values[1:6]
    ]
    assert rows[1:] == expected
    (manifest,) = _manifests(dest)
    assert manifest["key_columns"] == [key]
    assert manifest["timestamp_column"] == ts
    assert [c["name"] for c in manifest["columns"]] == [key, ts, note]
    assert "x" in {r[0] for r in events.execute("SHOW TABLES")}


# -- every bad input leaves the database and the bucket byte-identical (issue 7) -------------------
def _listing(client: Any, bucket: str) -> list[tuple[str, int, str]]:
    """Every object (key, size, ETag) and unfinished upload: equal listings mean no change."""
    objects = [
        (o["Key"], o["Size"], o["ETag"])
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket)
        for o in page.get("Contents", [])
    ]
    uploads = client.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
    return sorted(objects) + [(u["Key"], -1, u["UploadId"]) for u in uploads]


def _s3_config(
    tmp_path: Path, source: dict[str, Any], bucket: str, endpoint: str, **spec: Any
) -> Path:
    table = {"name": "events", "timestamp_column": "created_at", **spec}
    text = config_text(source, {"url": f"s3://{bucket}/arch", "endpoint_url": endpoint}, [table])
    return write_config(tmp_path / "s3.toml", text)


BAD_RUNS: dict[str, tuple[dict[str, Any], list[str], int, str]] = {
    # name: (table spec overrides, extra CLI arguments, exit code, text the error must hold)
    "unknown table": ({"name": "evnets"}, [], 3, "does not exist"),
    "unknown column": ({"timestamp_column": "created"}, [], 3, "'created'"),
    "no usable key": ({"name": "nokey"}, [], 3, "no primary key"),
    "injection-shaped identifier": (
        {"name": "events`; DROP TABLE events; --"},
        [],
        3,
        "does not exist",
    ),
    "invalid date": ({}, ["--date", "2024-02-30"], 2, "2024-02-30"),
    "retention shorter than a day": ({"retention": "0 days"}, [], 2, "retention"),
    "malformed config": ({"chunk_rows": "many"}, [], 2, "chunk_rows"),
    "unknown bucket": ({}, ["bucket=dbat-no-such-bucket"], 4, "does not exist"),
    "wrong credentials": ({}, ["secret=wrong-secret-0123456789"], 4, "access denied"),
}


@pytest.mark.parametrize("case", list(BAD_RUNS))
def test_bad_input_leaves_database_and_bucket_byte_identical(
    events: MySqlSchema,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    s3_endpoint: Any,
    s3_bucket: str,
    s3_client: Any,
    case: str,
) -> None:
    """Each bad input: one clear error and its exit code; CHECKSUM TABLE of every table and the
    bucket's listing (keys, sizes, ETags, unfinished uploads) are the same before and after."""
    events.execute(NOKEY_DDL)
    _s3_env(monkeypatch, s3_endpoint.access_key, s3_endpoint.secret_key, s3_endpoint.region)
    good = _s3_config(tmp_path, {"url": events.url}, s3_bucket, s3_endpoint.url)
    assert run_cli("export", "-c", str(good), "--date", DAY.isoformat(), "-q").exit_code == 0
    overrides, extra, code, fragment = BAD_RUNS[case]
    bucket = s3_bucket
    args = [a for a in extra if "=" not in a]
    for item in extra:
        if item.startswith("bucket="):
            bucket = item.split("=", 1)[1]
        if item.startswith("secret="):
            monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", item.split("=", 1)[1])
    config = _s3_config(tmp_path, {"url": events.url}, bucket, s3_endpoint.url, **overrides)
    before = (snapshot(events), _listing(s3_client, s3_bucket))
    today = "2024-02-30" if args else "2024-06-01"
    for command in (
        ["export", *(args or ["--date", DAY.isoformat()])],
        ["run", "--today", today],
    ):
        result = run_cli(*command, "-c", str(config), "-q")
        # run reports a table's database error and goes on to the next table, then exits with
        # that cause's code, like export
        assert result.exit_code == code, (command, result.output)
        assert fragment in result.stderr or fragment in result.output, result.output
        assert "Traceback" not in result.output
        assert (snapshot(events), _listing(s3_client, s3_bucket)) == before, command


def test_purge_without_delete_grant_changes_nothing(
    events: MySqlSchema,
    mysql_user: tuple[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    s3_endpoint: Any,
    s3_bucket: str,
    s3_client: Any,
) -> None:
    """A user with SELECT but no DELETE: purge and run fail before touching anything — no
    export of an unarchived day, no purge record, not one row."""
    user, password = mysql_user
    events.execute(f"GRANT SELECT ON `{events.name}`.* TO '{user}'@'127.0.0.1'")
    _s3_env(monkeypatch, s3_endpoint.access_key, s3_endpoint.secret_key, s3_endpoint.region)
    monkeypatch.setenv("DBAT_NODEL_PW", password)
    host, port = _server()
    source = {"url": f"mysql://{user}@{host}:{port}/{events.name}", "password_env": "DBAT_NODEL_PW"}
    config = _s3_config(tmp_path, source, s3_bucket, s3_endpoint.url)
    assert run_cli("export", "-c", str(config), "--date", DAY.isoformat(), "-q").exit_code == 0
    before = (snapshot(events), _listing(s3_client, s3_bucket))
    for command in ("purge", "run"):
        result = run_cli(command, "-c", str(config), "--today", "2024-06-01", "-q")
        assert result.exit_code == 3, result.output  # the cause: a database privilege
        assert "DELETE command denied" in result.stderr and "GRANT DELETE" in result.stderr
        assert "while checking that it may delete rows" in result.stderr  # not "reading"
        assert (snapshot(events), _listing(s3_client, s3_bucket)) == before
