"""Secrets never leak (issue 7, matrix 11): canary passwords at DEBUG log level.

A MySQL password canary (with characters that URL-encoding changes) and the S3 secret key are
searched, raw and URL-encoded, in everything a run leaves: stdout and stderr of every command at
DEBUG (``-v``: botocore's request logs too), every object in the bucket (manifests, parts, purge
records), every file the run could write, and the process arguments seen while it runs.
"""

from __future__ import annotations

import subprocess
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from tests.integration.conftest import S3Endpoint
from tests.integration.mysql_fixtures import MySqlSchema
from tests.reliability import scenario
from tests.reliability.conftest import s3_env
from tests.reliability.oracle import S3View, Seed, check
from tests.reliability.scenario import record, write_job


def _forms(secret: str) -> set[str]:
    return {secret, quote(secret, safe=""), quote(secret)}


def _leaks(text: str | bytes, secrets: list[str]) -> list[str]:
    data = text.encode() if isinstance(text, str) else text
    return [s for secret in secrets for s in _forms(secret) if s.encode() in data]


def _cmdlines() -> list[bytes]:
    """The argument vectors of every process on the machine (what `ps` shows)."""
    out = []
    for path in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            out.append(path.read_bytes())
        except OSError:
            continue
    return out


@pytest.mark.parametrize("where", ["env", "url"])
def test_canary_secrets_appear_nowhere(
    where: str,
    light: Seed,
    mysql_schema: MySqlSchema,
    s3_endpoint: S3Endpoint,
    s3_bucket: str,
    view: S3View,
    tmp_path: Path,
) -> None:
    """Password in $DBARCHIVE_MYSQL_PASSWORD or (URL-encoded) in the URL: at DEBUG level no
    output, object, file or process argument holds it or the S3 secret key, in any form."""
    password = f"Cn@ry/pw:%41 {uuid.uuid4().hex[:12]}"  # 25 characters, changed by URL-encoding
    wrong = f"Wr0ng@pw/{uuid.uuid4().hex[:12]}"
    user = f"dbat_{uuid.uuid4().hex[:10]}"
    mysql_schema.execute(f"CREATE USER '{user}'@'127.0.0.1' IDENTIFIED BY %s", (password,))
    try:
        mysql_schema.execute(
            f"GRANT SELECT, DELETE ON `{mysql_schema.name}`.* TO '{user}'@'127.0.0.1'"
        )
        secrets = [password, wrong, s3_endpoint.secret_key]
        outputs, cmdlines = _run_everything(
            where, user, password, wrong, mysql_schema, s3_endpoint, s3_bucket, tmp_path
        )
    finally:
        mysql_schema.execute(f"DROP USER IF EXISTS '{user}'@'127.0.0.1'")
    found = {name: _leaks(text, secrets) for name, text in outputs.items()}
    for key in view.keys(""):
        found[f"s3://{key}"] = _leaks(view.read(key), secrets)
    for path in tmp_path.rglob("*"):
        if path.is_file() and path.suffix != ".toml":  # the config holds what the user put there
            found[str(path)] = _leaks(path.read_bytes(), secrets)
    found["ps"] = [leak for line in cmdlines for leak in _leaks(line, secrets)]
    leaks = {k: v for k, v in found.items() if v}
    verdict = record(
        check(
            f"secret canaries at DEBUG (password in {where})",
            light,
            mysql_schema,
            view,
            injections=len(secrets),
            exit="0",
            extra={"places_searched": len(found), "leaks": len(leaks)},
        )
    )
    assert leaks == {}
    assert verdict.clean, verdict.details
    assert sum(len(t) for t in outputs.values()) > 10_000  # DEBUG really was on


def _run_everything(
    where: str,
    user: str,
    password: str,
    wrong: str,
    db: MySqlSchema,
    endpoint: S3Endpoint,
    bucket: str,
    tmp_path: Path,
) -> tuple[dict[str, str], list[bytes]]:
    """Every command at DEBUG, a failing login, and a SIGKILLed run; their outputs."""
    url_password = f":{quote(password, safe='')}" if where == "url" else ""
    env = {**s3_env(endpoint), "DBARCHIVE_MYSQL_PASSWORD": password if where == "env" else ""}
    job = write_job(
        tmp_path / "canary.toml",
        f"mysql://{user}{url_password}@127.0.0.1:3306/{db.name}",
        f"s3://{bucket}/arch",
        env,
        destination=f'endpoint_url = "{endpoint.url}"\n',
        throttle="sleep = 0.01\n",
    )
    outputs: dict[str, str] = {}

    def run(name: str, *args: str, **extra: Any) -> None:
        proc = job.run("-v", *args, **extra)
        outputs[f"{name} stdout"], outputs[f"{name} stderr"] = proc.stdout, proc.stderr

    logs = tmp_path / "logs"  # searched like every other file under tmp_path
    logs.mkdir()
    with open(logs / "out", "wb") as out, open(logs / "err", "wb") as err:
        running = subprocess.Popen(
            job.cmd("-v", *scenario.run_args()),
            env=job.environment("purge.after-commit:3"),
            stdout=out,
            stderr=err,
        )
        cmdlines = []
        while running.poll() is None:
            cmdlines += _cmdlines()
            time.sleep(0.05)
    assert running.returncode == -9
    outputs["killed run stdout"] = (logs / "out").read_text()
    outputs["killed run stderr"] = (logs / "err").read_text()
    for name, args in {
        "check": ("check",),
        "plan": ("plan", "--date", scenario.DAYS[-1].isoformat()),
        "run": scenario.run_args(),
        "verify": (
            "verify",
            "--from",
            scenario.DAYS[0].isoformat(),
            "--to",
            scenario.DAYS[-1].isoformat(),
        ),
        "status": ("status", "--today", scenario.TODAY.isoformat()),
        "purge": scenario.purge_args(),
    }.items():
        run(name, *args)
    if where == "env":  # the same commands with a wrong password fail without showing either
        job.env["DBARCHIVE_MYSQL_PASSWORD"] = wrong
        run("wrong password", *scenario.run_args())
        assert "refused the login" in outputs["wrong password stderr"]
    return outputs, cmdlines
