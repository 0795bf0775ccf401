"""The built artifacts as users install them: each wheel in a fresh virtualenv, and dbarchive
resolved and installed under the constraints of every MWAA version still offered.

The install tier: ``make test-install`` (DBARCHIVE_INSTALL_TEST=1) builds the wheels (``make
dist``), fetches what the installs need into ``.wheelhouse/`` (``make wheelhouse``), then runs
this file offline (uv ``--offline``: nothing is downloaded here). The stored constraints are in
``tests/integration/mwaa/``; each file says where its pins come from.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import secrets
import shutil
import subprocess
from pathlib import Path
from typing import Any

import MySQLdb
import pytest

from tests.integration.conftest import S3Endpoint
from tests.integration.helpers import LOG_TABLE_DDL, fill_events
from tests.integration.mysql_fixtures import MySqlSchema, mysql_schema  # noqa: F401

pytestmark = [
    pytest.mark.integration,
    pytest.mark.timeout(900),
    pytest.mark.skipif(
        not os.environ.get("DBARCHIVE_INSTALL_TEST"),
        reason="install tier: make test-install (DBARCHIVE_INSTALL_TEST=1)",
    ),
]
ROOT = Path(__file__).resolve().parents[2]
DIST = ROOT / "dist"
CACHE = ROOT / ".wheelhouse" / "uv-cache"
CONSTRAINTS = ROOT / "tests" / "integration" / "mwaa"
EXAMPLES = ROOT / "examples" / "airflow"
MWAA_VERSIONS = sorted(p.stem.removeprefix("mwaa-") for p in CONSTRAINTS.glob("mwaa-*.txt"))
DAY = dt.date(2026, 11, 24)
WARNING = "the C reader cannot log in as the MySQL server asks"


# -- helpers ---------------------------------------------------------------------------------------
def _uv() -> str:
    uv = ROOT / ".venv" / "bin" / "uv"
    if not uv.exists():
        pytest.fail("no .venv/bin/uv: run make dev")
    return str(uv)


def _env(**extra: str) -> dict[str, str]:
    """The environment of every command here: offline, uv's cache as the wheelhouse."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DBARCHIVE_", "VIRTUAL_ENV"))}
    env.update(UV_CACHE_DIR=str(CACHE), UV_OFFLINE="1", UV_PYTHON_DOWNLOADS="never", **extra)
    return env


def _run(*args: str, env: dict[str, str] | None = None, check: bool = True) -> Any:
    result = subprocess.run(args, capture_output=True, text=True, env=env or _env(), timeout=600)
    if check and result.returncode != 0:
        pytest.fail(
            f"{' '.join(args)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
        )
    return result


def _python_of(constraints: Path) -> str:
    match = re.search(r"^# python: (\S+)$", constraints.read_text(), re.MULTILINE)
    assert match, f"{constraints} names no Python"
    return match.group(1)


def _wheels() -> dict[str, Path]:
    """The built wheels by Python version ("3.12" → its wheel)."""
    wheels = {}
    for wheel in DIST.glob("dbarchive-*-manylinux_2_28_x86_64.whl"):
        tag = re.search(r"-cp(\d)(\d+)-", wheel.name)
        assert tag, wheel.name
        wheels[f"{tag.group(1)}.{tag.group(2)}"] = wheel
    return wheels


def _find_python(version: str) -> str | None:
    found = subprocess.run([str(ROOT / "scripts" / "find-python"), version], capture_output=True,
                           text=True, check=False)  # fmt: skip
    return found.stdout.strip() or None


def _venv(where: Path, python: str, extras: str, constraints: Path | None = None) -> Path:
    """A fresh virtualenv with ``dbarchive[extras]`` installed offline from this Python's wheel
    (named by its path: uv's cache keeps a local wheel by its modification time, so a rebuilt
    wheel is never taken for the one before)."""
    wheel = _wheels()[python]
    _run(_uv(), "venv", "-q", "--python", _find_python(python) or python, str(where))
    args = ["-c", str(constraints)] if constraints is not None else []
    _run(_uv(), "pip", "install", "-q", "--python", str(where / "bin" / "python"), *args,
         f"dbarchive[{extras}] @ {wheel.as_uri()}")  # fmt: skip
    return where / "bin"


@pytest.fixture(scope="module", autouse=True)
def _built() -> None:
    if not _wheels() or not CACHE.is_dir():
        pytest.fail("no wheels or no wheelhouse: make test-install (it runs make dist wheelhouse)")


# -- the wheels ------------------------------------------------------------------------------------
@pytest.mark.parametrize("python", ["3.11", "3.12", "3.13"])
def test_wheel_installs_and_loads_its_speedups(python: str, tmp_path: Path) -> None:
    """Each wheel installs into a fresh venv, and ``--version`` shows both C extensions loaded,
    the client library linked in, and the logins it leaves to the Python driver."""
    wheel, interpreter = _wheels().get(python), _find_python(python)
    if wheel is None or interpreter is None:
        pytest.skip(f"no CPython {python} (or its wheel) on this machine")
    bin_dir = _venv(tmp_path / "venv", python, "s3")
    shown = _run(str(bin_dir / "dbarchive"), "--version").stdout
    assert "dbarchive, version" in shown
    assert "C speedups: loaded (_speedups, _mysqlread)" in shown
    assert "linked in; logs in with mysql_native_password\n" in shown
    assert (
        "other logins read through the Python driver: caching_sha2_password, sha256_password, "
        "client_ed25519, mysql_clear_password" in shown
    )
    installed = _run(str(bin_dir / "python"), "-c",
                     "import dbarchive, sys; print(dbarchive.__file__)").stdout  # fmt: skip
    assert str(tmp_path / "venv") in installed  # the wheel, not this checkout


@pytest.mark.parametrize("mwaa", MWAA_VERSIONS)
def test_resolves_under_mwaa_constraints(mwaa: str, tmp_path: Path) -> None:
    """dbarchive[airflow,s3] with the mysql provider resolves under each MWAA version's pins
    (its Airflow, boto3, SQLAlchemy, pydantic… exactly as MWAA installs them)."""
    constraints = CONSTRAINTS / f"mwaa-{mwaa}.txt"
    wanted = tmp_path / "requirements.in"
    wanted.write_text(
        f"apache-airflow=={mwaa}\napache-airflow-providers-mysql\ndbarchive[airflow,s3]\n"
    )
    result = _run(_uv(), "pip", "compile", "-q", "--python-version", _python_of(constraints),
                  "--python-platform", "x86_64-manylinux_2_28", "--find-links", str(DIST),
                  "--only-binary", "dbarchive", "-c", str(constraints), str(wanted),
                  check=False)  # fmt: skip
    assert result.returncode == 0, result.stderr
    pins = dict(re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)", result.stdout, re.MULTILINE))
    assert pins["dbarchive"] == "0.1.0"
    mwaa_pins = dict(re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)", constraints.read_text(), re.M))
    for name in ("boto3", "botocore", "apache-airflow-providers-mysql", "pydantic", "mysqlclient"):
        assert pins[name] == mwaa_pins[name], name


# -- the wheel at work, on MWAA 2.10's pins (botocore 1.35) ------------------------------------------
def _ed25519_available(schema: MySqlSchema) -> None:
    """MariaDB's ed25519 login (a plugin the wheels' client library lacks); installed on the test
    server if it is not (INSTALL SONAME is idempotent here, and left in place)."""
    rows = schema.execute(
        "SELECT PLUGIN_STATUS FROM information_schema.PLUGINS WHERE PLUGIN_NAME = 'ed25519'"
    )
    if not rows:
        schema.execute("INSTALL SONAME 'auth_ed25519'")


def _user(schema: MySqlSchema, how: str) -> tuple[str, str]:
    name, password = f"dbat_{secrets.token_hex(4)}", secrets.token_hex(12)
    if how == "ed25519":
        schema.execute(f"CREATE USER '{name}'@'127.0.0.1' IDENTIFIED VIA ed25519 USING PASSWORD(%s)",
                       (password,))  # fmt: skip
    else:
        schema.execute(f"CREATE USER '{name}'@'127.0.0.1' IDENTIFIED BY %s", (password,))
    schema.execute(f"GRANT SELECT, DELETE ON `{schema.name}`.* TO '{name}'@'127.0.0.1'")
    return name, password


def _fill(schema: MySqlSchema, rows: int) -> None:
    """``rows`` rows on DAY, ~330 bytes each of incompressible text: the day's one file is larger
    than a 5 MiB part, so it goes up as a multipart upload."""
    schema.execute(LOG_TABLE_DDL)
    schema.executemany(
        "INSERT INTO events (created_at, account_id, amount, note) VALUES (%s, %s, %s, %s)",
        [(dt.datetime(2026, 11, 24, 0, 0, i % 60, i), i % 7, i / 4, secrets.token_hex(150))
         for i in range(rows)],
    )  # fmt: skip


def _config(path: Path, schema: MySqlSchema, user: str, s3: S3Endpoint, bucket: str) -> Path:
    path.write_text(
        f'[source]\nurl = "mysql://{user}@127.0.0.1:3306/{schema.name}"\n'
        f'[destination]\nurl = "s3://{bucket}/{user}"\nendpoint_url = "{s3.url}"\n'
        f'region = "{s3.region}"\npart_size_mib = 5\n'
        '[defaults]\ncompression = "none"\n'
        '[[tables]]\nname = "events"\ntimestamp_column = "created_at"\n'
    )
    return path


def test_wheel_on_mwaa_2_10_pins_exports_in_c_or_falls_back_loudly(
    mysql_schema: MySqlSchema, s3_endpoint: S3Endpoint, s3_bucket: str, tmp_path: Path
) -> None:
    """The cp311 wheel under MWAA 2.10.3's pins (botocore 1.35.36, no ChecksumType) exports a day
    as a multipart upload and verifies it. A mysql_native_password user reads through the C
    reader; an ed25519 user, whose login the linked-in library cannot make, reads through the
    Python driver with a warning; both archives hold the same rows (same digest). The commit
    marker's conditional PUT holds there too (this botocore has no ``IfMatch``)."""
    interpreter = _find_python("3.11")
    if interpreter is None or "3.11" not in _wheels():
        pytest.skip("no CPython 3.11 (MWAA 2.10's) here")
    constraints = CONSTRAINTS / "mwaa-2.10.3.txt"
    bin_dir = _venv(tmp_path / "venv", "3.11", "s3", constraints=constraints)
    botocore = _run(str(bin_dir / "python"), "-c", "import botocore; print(botocore.__version__)")
    assert botocore.stdout.strip() == "1.35.36"
    _fill(mysql_schema, 20_000)
    _ed25519_available(mysql_schema)
    digests = {}
    for how in ("native", "ed25519"):
        user, password = _user(mysql_schema, how)
        try:
            config = _config(tmp_path / f"{how}.toml", mysql_schema, user, s3_endpoint, s3_bucket)
            env = _env(DBARCHIVE_MYSQL_PASSWORD=password, AWS_ACCESS_KEY_ID=s3_endpoint.access_key,
                       AWS_SECRET_ACCESS_KEY=s3_endpoint.secret_key)  # fmt: skip
            dbarchive = str(bin_dir / "dbarchive")
            export = _run(dbarchive, "export", "-c", str(config), "--date", str(DAY), "--json",
                          env=env, check=False)  # fmt: skip
            assert export.returncode == 0, export.stderr
            assert (WARNING in export.stderr) == (how == "ed25519"), export.stderr
            _run(dbarchive, "verify", "-c", str(config), "--date", str(DAY), env=env)
        finally:
            mysql_schema.execute(f"DROP USER '{user}'@'127.0.0.1'")
        manifest = s3_endpoint.client().get_object(
            Bucket=s3_bucket, Key=f"{user}/events/year=2026/month=11/day=24/_manifest.json"
        )
        body = json.loads(manifest["Body"].read())
        assert body["rows"] == 20_000
        (entry,) = body["files"]
        assert entry["bytes"] > 5 * 1024 * 1024  # a multipart upload
        assert entry.get("s3_checksum") is None  # composite under botocore 1.35: not recorded
        digests[how] = body["digest"]
    assert digests["native"] == digests["ed25519"]
    # The commit marker's conditional PUT: botocore 1.35.36 has no IfMatch, the store adds it.
    url = f"s3://{s3_bucket}/conditional"
    probe = _run(str(bin_dir / "python"), "-c", _CONDITIONAL_PUT, url, s3_endpoint.url,
                 s3_endpoint.region, env=env)  # fmt: skip
    assert probe.stdout.split() == ["created", "replaced", "refused", "two"], probe.stderr


_CONDITIONAL_PUT = """
import sys
from dbarchive.storage import StorageOptions
from dbarchive.storage.s3 import S3Storage
s3 = S3Storage(sys.argv[1], StorageOptions(endpoint_url=sys.argv[2], region=sys.argv[3]))
key = "day/_manifest.json"
print("created" if s3.put_if_match(key, b"one", None) else "not-created")
_, etag = s3.get_with_etag(key)
print("replaced" if s3.put_if_match(key, b"two", etag) else "not-replaced")
print("refused" if s3.put_if_match(key, b"three", etag) is None else "REPLACED")
print(s3.get_bytes(key).decode())
"""


def test_mysql_native_user_can_log_in(mysql_schema: MySqlSchema) -> None:
    """The users above are real logins (a refused one would make the fallback test vacuous)."""
    user, password = _user(mysql_schema, "native")
    try:
        MySQLdb.connect(host="127.0.0.1", user=user, password=password).close()
    finally:
        mysql_schema.execute(f"DROP USER '{user}'@'127.0.0.1'")


def test_dist_has_the_sdist() -> None:
    """The sdist is there too, and holds the C sources a build from it needs."""
    (sdist,) = DIST.glob("dbarchive-*.tar.gz")
    listing = _run("tar", "tzf", str(sdist)).stdout
    for name in ("_speedups.c", "_mysqlread.c", "_csvcore.h", "setup.py"):
        assert name in listing, name


def test_mwaa_bundle_installs_as_mwaa_does(tmp_path: Path) -> None:
    """README "Running on MWAA", the plugins.zip route, step by step: make mwaa-bundle, plugins.zip
    unpacked as MWAA does (its /usr/local/airflow/plugins here a temporary folder), then
    requirements.txt installed on top of that MWAA version's Airflow — the constraints URL read
    from the stored copy (offline)."""
    if _find_python("3.12") is None or "3.12" not in _wheels():
        pytest.skip("no CPython 3.12 (MWAA 2.11's) here")
    out = tmp_path / "bundle"
    _run(str(ROOT / "scripts" / "mwaa-bundle"), "2.11.2", str(out))
    plugins = tmp_path / "plugins"
    shutil.unpack_archive(out / "plugins.zip", plugins, "zip")
    requirements = (out / "requirements.txt").read_text()
    assert "--find-links /usr/local/airflow/plugins\n" in requirements
    assert "apache-airflow-providers-mysql\n" in requirements
    url = "https://raw.githubusercontent.com/apache/airflow/constraints-2.11.2/constraints-3.12.txt"
    assert f'--constraint "{url}"' in requirements
    local = tmp_path / "requirements.txt"
    local.write_text(
        requirements.replace("/usr/local/airflow/plugins", str(plugins)).replace(
            url, str(CONSTRAINTS / "mwaa-2.11.2.txt")
        )
    )
    venv = tmp_path / "venv"
    _run(_uv(), "venv", "-q", "--python", _find_python("3.12") or "3.12", str(venv))
    python = str(venv / "bin" / "python")
    _run(_uv(), "pip", "install", "-q", "--python", python, "-c",
         str(CONSTRAINTS / "mwaa-2.11.2.txt"), "apache-airflow==2.11.2")  # fmt: skip
    _run(_uv(), "pip", "install", "-q", "--python", python, "-r", str(local))
    shown = _run(str(venv / "bin" / "dbarchive"), "--version").stdout
    assert "C speedups: loaded (_speedups, _mysqlread)" in shown
    env = _env(AIRFLOW_HOME=str(tmp_path / "airflow"))
    _run(python, "-c", "from dbarchive.airflow import build_dag; import MySQLdb", env=env)


# -- the example DAG, as MWAA runs it ----------------------------------------------------------------
def _example_tables(schema: MySqlSchema, day: dt.date) -> None:
    """The example config's two tables, with the columns it names, holding ``day``."""
    schema.execute(LOG_TABLE_DDL.replace("`events`", "payment_events"))
    schema.execute(
        LOG_TABLE_DDL.replace("`events`", "api_request_log")
        .replace("created_at", "requested_at")
        .replace(
            "  KEY idx_",
            "  authorization_header VARCHAR(200) NULL,\n"
            "  environment VARCHAR(20) NOT NULL DEFAULT 'production',\n  KEY idx_",
        )
    )
    schema.execute("CREATE TABLE events LIKE payment_events")
    fill_events(schema, day.isoformat(), 300)
    schema.execute("INSERT INTO payment_events SELECT * FROM events")
    schema.execute(
        "INSERT INTO api_request_log (requested_at, account_id, amount, note, authorization_header,"
        " environment) SELECT created_at, account_id, amount, note, 'Bearer secret',"
        " IF(id % 3 = 0, 'staging', 'production') FROM events"
    )
    schema.execute("DROP TABLE events")


@pytest.mark.parametrize("mwaa", ["2.11.2", "3.3.1"])
def test_example_dag_runs_with_airflow_dags_test_under_mwaa_pins(
    mwaa: str,
    mysql_schema: MySqlSchema,
    s3_endpoint: S3Endpoint,
    s3_bucket: str,
    tmp_path: Path,
) -> None:
    """examples/airflow/dbarchive_dag.py, unchanged, in a fresh venv holding that MWAA version's
    Airflow, the mysql provider and the built wheel under its constraints (offline): `airflow db
    migrate`, then `airflow dags test` of the day before; both tables' day is published with the
    rows the config selects, through the connections MWAA would hold (AIRFLOW_CONN_*)."""
    constraints = CONSTRAINTS / f"mwaa-{mwaa}.txt"
    python = _python_of(constraints)
    interpreter = _find_python(python)
    if interpreter is None or python not in _wheels():
        pytest.skip(f"no CPython {python} (MWAA {mwaa}'s) here")
    venv = tmp_path / "venv"
    _run(_uv(), "venv", "-q", "--python", interpreter, str(venv))
    _run(_uv(), "pip", "install", "-q", "--python", str(venv / "bin" / "python"), "-c",
         str(constraints), f"apache-airflow=={mwaa}", "apache-airflow-providers-mysql",
         f"dbarchive[airflow,s3] @ {_wheels()[python].as_uri()}")  # fmt: skip
    home, day = tmp_path / "airflow", dt.date(2026, 11, 24)
    (home / "dags").mkdir(parents=True)
    shutil.copy(EXAMPLES / "dbarchive_dag.py", home / "dags")
    (home / "dags" / "archive.toml").write_text(
        (ROOT / "examples" / "archive.toml")
        .read_text()
        .replace("s3://acme-mysql-archive/prod", f"s3://{s3_bucket}/prod")
    )
    _example_tables(mysql_schema, day)
    mysql = {"conn_type": "mysql", "host": "127.0.0.1", "port": 3306, "login": "root",
             "password": "", "schema": mysql_schema.name}  # fmt: skip
    aws = {"conn_type": "aws", "login": s3_endpoint.access_key,
           "password": s3_endpoint.secret_key,
           "extra": {"endpoint_url": s3_endpoint.url, "region_name": s3_endpoint.region}}  # fmt: skip
    env = _env(
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__DAGS_FOLDER=str(home / "dags"),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{home}/airflow.db",
        AIRFLOW_CONN_MYSQL_DEFAULT=json.dumps(mysql),
        AIRFLOW_CONN_AWS_DEFAULT=json.dumps(aws),
    )
    airflow = str(venv / "bin" / "airflow")
    _run(airflow, "db", "migrate", env=env)
    _run(airflow, "pools", "set", "dbarchive", "4", "dbarchive tasks", env=env)
    ran = _run(airflow, "dags", "test", "dbarchive", str(day + dt.timedelta(days=1)), env=env,
               check=False)  # fmt: skip
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-3000:]
    s3 = s3_endpoint.client()
    for table, rows in (("payment_events", 300), ("api_request_log", 200)):
        key = f"prod/{table}/year=2026/month=11/day=24/_manifest.json"
        manifest = json.loads(s3.get_object(Bucket=s3_bucket, Key=key)["Body"].read())
        assert manifest["rows"] == rows, (table, manifest["rows"])
    columns = [c["name"] for c in manifest["columns"]]
    assert "authorization_header" not in columns and "environment" in columns
