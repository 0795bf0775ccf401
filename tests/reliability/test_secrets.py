"""Secrets never leak (issue 7, matrix 11; issue 18): canaries at DEBUG log level.

A MySQL password canary (with characters that URL-encoding changes), the S3 secret key and — over
TLS — the client key's path are searched, raw and URL-encoded, in everything a run leaves: stdout
and stderr of every command at DEBUG (``-v``: botocore's request logs too), every object in the
bucket (manifests, parts, purge records), every file the run could write, and the process
arguments seen while it runs.
"""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from tests.integration.conftest import S3Endpoint
from tests.integration.mysql_fixtures import MySqlSchema
from tests.integration.tls_server import (  # noqa: F401
    TlsSchema,
    TlsServers,
    new_database,
    tls_servers,
)
from tests.reliability import scenario
from tests.reliability.conftest import s3_env
from tests.reliability.oracle import S3View, Seed, check
from tests.reliability.scenario import record, write_job
from tests.unit.test_iam import expected_token


def _forms(secret: str) -> set[str]:
    return {secret, quote(secret, safe=""), quote(secret)}


def _leaks(text: str | bytes, secrets: list[str]) -> list[str]:
    data = text.encode() if isinstance(text, str) else text
    return [s for secret in secrets for s in _forms(secret) if s.encode() in data]


def _cmdlines(root: int) -> list[bytes]:
    """The argument vectors (what `ps` shows) of process ``root`` and every process below it.
    Every process on the machine was read once: another tool's test server started with the
    suite's S3 key in its command line failed this test (CI beside an outside trial)."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        parents[int(stat.parent.name)] = int(fields[1])  # after "pid (comm) state": ppid
    out = []
    for pid in parents:
        ancestor = pid
        while ancestor not in (root, 0, 1) and ancestor in parents:
            ancestor = parents[ancestor]
        if ancestor == root:
            try:
                out.append((Path("/proc") / str(pid) / "cmdline").read_bytes())
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
        url_password = f":{quote(password, safe='')}" if where == "url" else ""
        source = f"mysql://{user}{url_password}@127.0.0.1:3306/{mysql_schema.name}"
        outputs, cmdlines = _run_everything(
            source, "", password if where == "env" else "", wrong, s3_endpoint, s3_bucket, tmp_path
        )
    finally:
        mysql_schema.execute(f"DROP USER IF EXISTS '{user}'@'127.0.0.1'")
    found = _search(outputs, cmdlines, view, tmp_path, secrets)
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


def _search(
    outputs: dict[str, str], cmdlines: list[bytes], view: S3View, tmp_path: Path, secrets: list[str]
) -> dict[str, list[str]]:
    """Each place searched and the secrets found there."""
    found = {name: _leaks(text, secrets) for name, text in outputs.items()}
    for key in view.keys(""):
        found[f"s3://{key}"] = _leaks(view.read(key), secrets)
    for path in tmp_path.rglob("*"):
        if path.is_file() and path.suffix != ".toml":  # the config holds what the user put there
            found[str(path)] = _leaks(path.read_bytes(), secrets)
    found["ps"] = [leak for line in cmdlines for leak in _leaks(line, secrets)]
    return found


def _frozen_token_clock(folder: Path, at: dt.datetime) -> dict[str, str]:
    """Environment that makes botocore sign RDS tokens at ``at`` in the CLI's own processes (a
    ``sitecustomize`` on PYTHONPATH), so the token they present is known in advance. Only the
    token's signing is frozen (S3 requests keep the real time), and ``at`` is the test's start,
    so even a request signed meanwhile stays within S3's allowed clock skew."""
    folder.mkdir()
    (folder / "sitecustomize.py").write_text(
        "import datetime\nimport botocore.auth\nimport botocore.signers\n"
        f"_AT = datetime.datetime.fromisoformat({at.isoformat()!r})\n"
        "_MAKE = botocore.signers.generate_db_auth_token\n"
        "def _frozen(self, *args, **kwargs):\n"
        "    real = botocore.auth.get_current_datetime\n"
        "    botocore.auth.get_current_datetime = lambda remove_tzinfo=True: _AT\n"
        "    try:\n"
        "        return _MAKE(self, *args, **kwargs)\n"
        "    finally:\n"
        "        botocore.auth.get_current_datetime = real\n"
        "botocore.signers.generate_db_auth_token = _frozen\n"
    )
    return {"PYTHONPATH": str(folder), "AWS_CONFIG_FILE": "/nonexistent"}


@pytest.mark.parametrize("auth", ["password", "iam"])
def test_tls_key_paths_and_iam_tokens_appear_nowhere(
    auth: str,
    tls_servers: TlsServers,
    s3_endpoint: S3Endpoint,
    s3_bucket: str,
    view: S3View,
    tmp_path: Path,
) -> None:
    """Over TLS with a client certificate whose key file's name is a canary, logging in with a
    password or an RDS IAM token: at DEBUG, through every command, a refused login, a server
    signed by another CA and a key file gone, no output, object, file or process argument holds
    the key's path, the password or token, or the S3 secret."""
    db = TlsSchema(tls_servers, new_database(tls_servers))
    seed = Seed(scenario.DAYS, 2500, 0)
    seed.create(db)
    canary = f"canary-{uuid.uuid4().hex[:12]}"
    keys = tmp_path / "keys"
    keys.mkdir()
    key = keys / f"{canary}-key.pem"
    shutil.copyfile(tls_servers.key("client"), key)
    user = f"dbat_{uuid.uuid4().hex[:10]}"
    password = f"Tl5@pw/{uuid.uuid4().hex[:12]}"
    env: dict[str, str] = {}
    extra = ""
    if auth == "iam":  # the S3 test keys sign the token too: the same AWS credential chain
        at = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
        password = expected_token(
            "127.0.0.1",
            tls_servers.tls_port,
            user,
            "eu-west-1",
            at,
            s3_endpoint.access_key,
            s3_endpoint.secret_key,
        )
        env = _frozen_token_clock(tmp_path / "site", at)
        extra = 'auth = "iam"\nregion = "eu-west-1"\n'
    tls_servers.admin(
        f"CREATE USER '{user}'@'127.0.0.1' IDENTIFIED BY %s REQUIRE SUBJECT '/CN=dbarchive-client'",
        (password,),
    )
    tls_servers.admin(f"GRANT SELECT, DELETE ON `{db.name}`.* TO '{user}'@'127.0.0.1'")

    def refuse_the_token() -> None:
        tls_servers.admin(f"ALTER USER '{user}'@'127.0.0.1' IDENTIFIED BY 'something else'")

    def another_ca() -> None:
        tls_servers.admin(f"ALTER USER '{user}'@'127.0.0.1' IDENTIFIED BY %s", (password,))
        tls_servers.serve("foreign")

    def key_gone() -> None:
        tls_servers.serve("good")
        key.rename(keys / "moved.pem")

    failing: dict[str, tuple[Callable[[], None], str]] = {}
    if auth == "iam":
        failing["a token the server refuses"] = (refuse_the_token, "refused the login")
    failing["a server signed by another CA"] = (another_ca, "not signed by the CA in ssl_ca")
    failing["the key file gone"] = (
        key_gone,
        "source.ssl_key: cannot read the file (path not shown",
    )
    extra += (
        f'ssl_ca = "{tls_servers.ca}"\nssl_cert = "{tls_servers.cert("client")}"\n'
        f'ssl_key = "{key}"\n'
    )
    try:
        outputs, cmdlines = _run_everything(
            tls_servers.url(db.name, user=user),
            extra,
            password if auth == "password" else "",
            f"Wr0ng@pw/{uuid.uuid4().hex[:12]}",
            s3_endpoint,
            s3_bucket,
            tmp_path,
            failing,
            env,
        )
    finally:
        tls_servers.serve("good")
        tls_servers.admin(f"DROP USER IF EXISTS '{user}'@'127.0.0.1'")
    secrets = [canary, password, s3_endpoint.secret_key]
    leaks = {k: v for k, v in _search(outputs, cmdlines, view, tmp_path, secrets).items() if v}
    verdict = record(
        check(
            f"secret canaries at DEBUG (TLS client key path, {auth}, S3 secret)",
            seed,
            db,
            view,
            injections=len(secrets) + len(failing),
            exit="0",
        )
    )
    tls_servers.admin(f"DROP DATABASE `{db.name}`")
    assert leaks == {}
    assert verdict.clean, verdict.details
    assert sum(len(t) for t in outputs.values()) > 10_000  # DEBUG really was on


def _run_everything(
    source: str,
    source_extra: str,
    password: str,
    wrong: str,
    endpoint: S3Endpoint,
    bucket: str,
    tmp_path: Path,
    failing: dict[str, tuple[Callable[[], None], str]] | None = None,
    more_env: dict[str, str] | None = None,
) -> tuple[dict[str, str], list[bytes]]:
    """Every command at DEBUG, a failing login, a SIGKILLed run, and each ``failing`` case (set
    up by its function, expected to fail saying its words); their outputs."""
    env = {**s3_env(endpoint), "DBARCHIVE_MYSQL_PASSWORD": password, **(more_env or {})}
    job = write_job(
        tmp_path / "canary.toml",
        source,
        f"s3://{bucket}/arch",
        env,
        destination=f'endpoint_url = "{endpoint.url}"\n',
        throttle="sleep = 0.01\n",
    ).with_source_extra(source_extra)
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
            cmdlines += _cmdlines(running.pid)
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
    if password:  # the same commands with a wrong password fail without showing either
        job.env["DBARCHIVE_MYSQL_PASSWORD"] = wrong
        run("wrong password", *scenario.run_args())
        assert "refused the login" in outputs["wrong password stderr"]
        job.env["DBARCHIVE_MYSQL_PASSWORD"] = password
    for name, (set_up, words) in (failing or {}).items():
        set_up()
        run(name, *scenario.run_args())
        assert words in outputs[f"{name} stdout"] + outputs[f"{name} stderr"], name
    return outputs, cmdlines


def test_an_aws_session_token_is_not_in_the_debug_log(
    light: Seed, mysql_schema: MySqlSchema, s3_endpoint: S3Endpoint, tmp_path: Path
) -> None:
    """A role's temporary credentials come with a session token, and botocore logs it at DEBUG
    (the canonical request and the header dump) under ``-v`` (an outside trial: 8 times per
    check). The endpoint is closed (port 1): botocore logs each request before it fails."""
    token = "TOKENcanary" + uuid.uuid4().hex
    env = {**s3_env(s3_endpoint), "AWS_SESSION_TOKEN": token, "AWS_MAX_ATTEMPTS": "1"}
    job = write_job(
        tmp_path / "token.toml",
        mysql_schema.url,
        "s3://no-such-bucket/arch",
        env,
        destination='endpoint_url = "http://127.0.0.1:1"\n',
    )
    proc = job.run("-v", "check")
    assert proc.returncode == 4, proc.stderr  # the storage is unreachable
    assert "x-amz-security-token" in proc.stderr.lower()  # botocore did log the request
    assert _leaks(proc.stdout + proc.stderr, [token]) == []
