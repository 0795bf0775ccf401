"""Least privilege (issue 7, matrix 12; issue 18): the daily job as a user holding exactly the
GRANT statements ``dbarchive check --grants`` prints, and ``dbarchive check`` naming each thing
that is missing."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.conftest import S3Endpoint
from tests.integration.mysql_fixtures import MySqlSchema
from tests.reliability import scenario
from tests.reliability.conftest import s3_env
from tests.reliability.oracle import S3View, Seed, check
from tests.reliability.scenario import DAYS, EXPIRED, Job, record, write_job

# The grants of README "Least privilege": all a run needs on the archived table, nothing else.
# The table, and REFERENCES on its schema: what lets the purge see the foreign keys to it.
GRANTS = ("SELECT, DELETE ON `{db}`.`events`", "REFERENCES ON `{db}`.*")


@pytest.fixture
def archiver(mysql_schema: MySqlSchema) -> Iterator[tuple[str, str]]:
    """A user with no privilege at all yet (the test grants); dropped after."""
    name, password = f"dbat_{uuid.uuid4().hex[:10]}", uuid.uuid4().hex
    mysql_schema.execute(f"CREATE USER '{name}'@'127.0.0.1' IDENTIFIED BY %s", (password,))
    yield name, password
    mysql_schema.execute(f"DROP USER IF EXISTS '{name}'@'127.0.0.1'")


def _job(
    tmp_path: Path,
    db: MySqlSchema,
    user: tuple[str, str],
    endpoint: S3Endpoint,
    bucket: str,
    secret: str | None = None,
) -> Job:
    env = {**s3_env(endpoint), "DBAT_ARCHIVER_PW": user[1]}
    if secret:
        env["AWS_SECRET_ACCESS_KEY"] = secret
    return write_job(
        tmp_path / "least.toml",
        f"mysql://{user[0]}@127.0.0.1:3306/{db.name}",
        f"s3://{bucket}/arch",
        env,
        destination=f'endpoint_url = "{endpoint.url}"\n',
    ).with_source_extra('password_env = "DBAT_ARCHIVER_PW"\n')


def test_run_as_the_least_privileged_user(
    light: Seed,
    mysql_schema: MySqlSchema,
    archiver: tuple[str, str],
    s3_endpoint: S3Endpoint,
    s3_bucket: str,
    view: S3View,
    tmp_path: Path,
) -> None:
    """SELECT and DELETE on the table (and REFERENCES on its schema, which reads no data): check
    passes, run exports, verifies and purges."""
    for grant in GRANTS:
        mysql_schema.execute(
            f"GRANT {grant.format(db=mysql_schema.name)} TO '{archiver[0]}'@'127.0.0.1'"
        )
    job = _job(tmp_path, mysql_schema, archiver, s3_endpoint, s3_bucket)
    checked = job.run("check", "--json")
    assert checked.returncode == 0, checked.stdout
    assert all(r["ok"] or r["advisory"] for r in json.loads(checked.stdout))  # advisory: bucket
    proc = job.run(*scenario.run_args())
    assert proc.returncode == 0, proc.stderr
    verdict = record(
        check(
            "run as a user with only SELECT, DELETE on the table",
            light,
            mysql_schema,
            view,
            exit="0",
        )
    )
    assert verdict.clean, verdict.details


def test_a_restore_refused_its_first_insert_leaves_no_empty_table_behind(
    light: Seed,
    mysql_schema: MySqlSchema,
    archiver: tuple[str, str],
    s3_endpoint: S3Endpoint,
    s3_bucket: str,
    tmp_path: Path,
) -> None:
    """A login that may create tables in the schema but insert only where granted: ``restore
    --into`` creates its table, the first INSERT is denied, and the table it made is dropped
    again (an outside trial found it left empty: bad input changes nothing)."""
    for grant in (*GRANTS, "SELECT, CREATE, DROP ON `{db}`.*"):
        mysql_schema.execute(
            f"GRANT {grant.format(db=mysql_schema.name)} TO '{archiver[0]}'@'127.0.0.1'"
        )
    job = _job(tmp_path, mysql_schema, archiver, s3_endpoint, s3_bucket)
    assert job.run(*scenario.run_args()).returncode == 0
    restore = ("restore", "-t", "events", "--date", str(EXPIRED[0]), "--into", "events_back")
    proc = job.run(*restore)
    assert proc.returncode == 3, proc.stderr
    assert "INSERT" in proc.stderr and "denied" in proc.stderr, proc.stderr
    assert not mysql_schema.execute(
        "SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s",
        (mysql_schema.name, "events_back"),
    )
    mysql_schema.execute(  # without DROP the table stays: the message says so
        f"REVOKE DROP ON `{mysql_schema.name}`.* FROM '{archiver[0]}'@'127.0.0.1'"
    )
    proc = job.run(*restore)
    assert proc.returncode == 3, proc.stderr
    assert "the empty table 'events_back' it created is left" in proc.stderr, proc.stderr


def test_a_user_who_may_read_only_some_columns_is_refused_before_anything_changes(
    light: Seed,
    mysql_schema: MySqlSchema,
    archiver: tuple[str, str],
    s3_endpoint: S3Endpoint,
    s3_bucket: str,
    view: S3View,
    tmp_path: Path,
) -> None:
    """SELECT on every column but ``payload``, and DELETE: information_schema shows the user
    only the columns it may read, so the run archived the others, verified them and deleted
    the rows with their payloads (an outside trial). It is refused now (exit 3), nothing
    archived or deleted, and check says the same."""
    columns = ", ".join(
        str(c)
        for (c,) in mysql_schema.execute(
            "SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = %s AND "
            "TABLE_NAME = 'events' AND COLUMN_NAME <> 'payload'",
            (mysql_schema.name,),
        )
    )
    mysql_schema.execute(
        f"GRANT SELECT ({columns}), DELETE ON `{mysql_schema.name}`.`events` "
        f"TO '{archiver[0]}'@'127.0.0.1'"
    )
    job = _job(tmp_path, mysql_schema, archiver, s3_endpoint, s3_bucket)
    before = view.listing()
    proc = job.run(*scenario.run_args())
    assert proc.returncode == 3, (proc.stdout, proc.stderr)
    assert "lacks the SELECT privilege on some or all columns of" in proc.stderr
    assert view.listing() == before
    verdict = record(check("run by a user who may read some columns", light, mysql_schema, view))
    assert verdict.clean and mysql_schema.execute("SELECT COUNT(*) FROM events")[0][0] == len(
        light.keys
    ), verdict.details
    checked = job.run("check")
    assert checked.returncode == 3
    assert next(x for x in checked.stdout.splitlines() if "SELECT on events" in x).startswith(
        "MISSING"
    )


def _printed_grants(job: Job, user: str) -> list[str]:
    """The GRANT statements of ``check --grants`` for ``'user'@'127.0.0.1'``, run as the job's
    own login (which may not see the table yet)."""
    proc = job.run("check", "--grants", "--grantee", f"'{user}'@'127.0.0.1'")
    assert proc.returncode == 0, proc.stderr
    return [line.split(";")[0] for line in proc.stdout.splitlines() if line.startswith("GRANT ")]


def _partition_by_day(db: MySqlSchema) -> None:
    """events RANGE COLUMNS-partitioned by day on created_at (the key must then hold it)."""
    bounds = [*DAYS[1:], DAYS[-1] + dt.timedelta(days=1)]
    parts = ", ".join(
        f"PARTITION p{day:%Y%m%d} VALUES LESS THAN ('{end}')"
        for day, end in zip(DAYS, bounds, strict=True)
    )
    db.execute("ALTER TABLE `events` DROP PRIMARY KEY, ADD PRIMARY KEY (id, created_at)")
    db.execute(
        "ALTER TABLE `events` PARTITION BY RANGE COLUMNS(created_at) "
        f"({parts}, PARTITION pmax VALUES LESS THAN MAXVALUE)"
    )


def _partitions(db: MySqlSchema) -> list[str]:
    rows = db.execute(
        "SELECT PARTITION_NAME FROM information_schema.PARTITIONS WHERE TABLE_SCHEMA = %s "
        "AND TABLE_NAME = 'events' ORDER BY PARTITION_ORDINAL_POSITION",
        (db.name,),
    )
    return [str(r[0]) for r in rows]


@pytest.mark.parametrize("shape", ["plain", "partitioned"])
def test_the_daily_job_runs_with_exactly_the_grants_check_prints(
    shape: str,
    light: Seed,
    mysql_schema: MySqlSchema,
    archiver: tuple[str, str],
    s3_endpoint: S3Endpoint,
    s3_bucket: str,
    view: S3View,
    tmp_path: Path,
) -> None:
    """A new user with no privilege runs ``check --grants`` (again after granting, once it can
    see the table: whether it is partitioned); with exactly those statements check passes and
    run exports, verifies and purges — dropping the expired partitions when partitioned."""
    if shape == "partitioned":
        _partition_by_day(mysql_schema)
    job = _job(tmp_path, mysql_schema, archiver, s3_endpoint, s3_bucket)
    granted: list[str] = []
    for _ in range(2):
        for statement in _printed_grants(job, archiver[0]):
            if statement not in granted:
                mysql_schema.execute(statement)
                granted.append(statement)
    table = f"`{mysql_schema.name}`.`events`"
    privileges = "SELECT, DELETE" + (
        ", ALTER, INSERT, CREATE, DROP" if shape == "partitioned" else ""
    )
    user = f"'{archiver[0]}'@'127.0.0.1'"
    assert f"GRANT {privileges} ON {table} TO {user}" in granted
    # the partition drop locks the table and its empty clone (EXCHANGE PARTITION, #16 item 4)
    locks = f"GRANT LOCK TABLES ON `{mysql_schema.name}`.* TO {user}"
    assert (locks in granted) == (shape == "partitioned")
    checked = job.run("check", "--json")
    assert checked.returncode == 0, checked.stdout
    proc = job.run(*scenario.run_args())
    assert proc.returncode == 0, proc.stderr
    if shape == "partitioned":
        # the first partition reaches back to the beginning of time: its day goes row by row
        assert not {f"p{day:%Y%m%d}" for day in EXPIRED[1:]} & set(_partitions(mysql_schema))
    verdict = record(
        check(
            f"run as a user with exactly the grants check --grants prints ({shape} table)",
            light,
            mysql_schema,
            view,
            exit="0",
        )
    )
    assert verdict.clean, verdict.details


@pytest.mark.parametrize(
    ("grant", "missing"),
    [
        ("SELECT ON `{db}`.`events`", "mysql: DELETE on events"),
        ("DELETE ON `{db}`.`events`", "mysql: SELECT on events"),
        (None, "mysql: login"),  # no grant on the database: the login itself is refused
    ],
    ids=["no-delete", "no-select", "nothing"],
)
def test_check_names_what_is_missing_and_changes_nothing(
    grant: str | None,
    missing: str,
    light: Seed,
    mysql_schema: MySqlSchema,
    archiver: tuple[str, str],
    s3_endpoint: S3Endpoint,
    s3_bucket: str,
    view: S3View,
    tmp_path: Path,
) -> None:
    """check exits 3 (the database) naming the missing privilege with its GRANT; nothing else
    is touched."""
    if grant:
        mysql_schema.execute(
            f"GRANT {grant.format(db=mysql_schema.name)} TO '{archiver[0]}'@'127.0.0.1'"
        )
    job = _job(tmp_path, mysql_schema, archiver, s3_endpoint, s3_bucket)
    before = view.listing()
    proc = job.run("check")
    assert proc.returncode == 3, proc.stdout
    line = next(line for line in proc.stdout.splitlines() if missing in line)
    assert line.startswith("MISSING")
    assert "GRANT" in proc.stdout or "grant" in proc.stdout
    assert view.listing() == before


def test_check_names_a_bucket_the_credentials_cannot_reach(
    light: Seed,
    mysql_schema: MySqlSchema,
    archiver: tuple[str, str],
    s3_endpoint: S3Endpoint,
    s3_bucket: str,
    tmp_path: Path,
) -> None:
    """A wrong secret key: the storage check is the one that fails, and says access denied."""
    for grant in GRANTS:
        mysql_schema.execute(
            f"GRANT {grant.format(db=mysql_schema.name)} TO '{archiver[0]}'@'127.0.0.1'"
        )
    job = _job(tmp_path, mysql_schema, archiver, s3_endpoint, s3_bucket, secret="wrong-" * 4)
    proc = job.run("check", "--json")
    assert proc.returncode == 4  # storage
    failed = [r for r in json.loads(proc.stdout) if not r["ok"]]
    assert [r["name"] for r in failed] == ["storage: destination reachable"]
    assert "access denied" in failed[0]["detail"]
