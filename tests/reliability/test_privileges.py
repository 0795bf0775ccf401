"""Least privilege (issue 7, matrix 12): export, verify and purge as a user holding exactly the
documented grants, and ``dbarchive check`` naming each thing that is missing."""

from __future__ import annotations

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
from tests.reliability.scenario import Job, record, write_job

# The grants of README "Least privilege": all a run needs on the archived table, nothing else.
GRANTS = ("SELECT, DELETE ON `{db}`.`events`",)


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
    """SELECT and DELETE on the table only: check passes, run exports, verifies and purges."""
    for grant in GRANTS:
        mysql_schema.execute(
            f"GRANT {grant.format(db=mysql_schema.name)} TO '{archiver[0]}'@'127.0.0.1'"
        )
    job = _job(tmp_path, mysql_schema, archiver, s3_endpoint, s3_bucket)
    checked = job.run("check", "--json")
    assert checked.returncode == 0, checked.stdout
    assert all(r["ok"] for r in json.loads(checked.stdout))
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
    """check exits 1 naming the missing privilege with its GRANT; nothing else is touched."""
    if grant:
        mysql_schema.execute(
            f"GRANT {grant.format(db=mysql_schema.name)} TO '{archiver[0]}'@'127.0.0.1'"
        )
    job = _job(tmp_path, mysql_schema, archiver, s3_endpoint, s3_bucket)
    before = view.listing()
    proc = job.run("check")
    assert proc.returncode == 1, proc.stdout
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
    assert proc.returncode == 1
    failed = [r for r in json.loads(proc.stdout) if not r["ok"]]
    assert [r["name"] for r in failed] == ["storage: destination reachable"]
    assert "access denied" in failed[0]["detail"]
