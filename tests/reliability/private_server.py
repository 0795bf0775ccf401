"""One private ``mariadbd`` of our own (never the shared :3306), that a test may kill and restart.

Built from the replica-pair helpers (``tests/integration/replication.py``): its own data directory
from ``mariadb-install-db``, its own free port, ``--no-defaults``. ``crash()`` SIGKILLs the server
(InnoDB recovers on the next start, like after a real crash); ``start()`` brings it back on the
same port and data directory.
"""

from __future__ import annotations

import shutil
import signal
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.integration import replication as r


@dataclass
class PrivateServer:
    workdir: Path
    port: int
    server: Any = None

    def start(self) -> None:
        for _ in range(3):
            self.server = r._start("private", self.workdir, self.workdir / "data", self.port, [])
            if r._wait_ready(self.server):
                return
            self.port = r._free_port({self.port})
        pytest.fail("the private mariadbd found no free port", False)

    def crash(self) -> None:
        """SIGKILL the server process: connections die mid-statement, nothing is flushed."""
        self.server.proc.send_signal(signal.SIGKILL)
        self.server.proc.wait(30)

    def stop(self) -> None:
        if self.server is not None:
            r._stop(self.server)


@pytest.fixture(scope="session")
def private_server() -> Iterator[PrivateServer]:
    """A private MariaDB for the whole session (started once; restarted by tests that crash it)."""
    if r.MARIADBD is None or r.INSTALL_DB is None:
        pytest.fail(
            "mariadbd / mariadb-install-db not found: apt-get install mariadb-server", False
        )
    workdir = Path(tempfile.mkdtemp(prefix="dbarchive-private-"))
    server = PrivateServer(workdir, r._free_port(set()))
    try:
        r._install(workdir / "data", workdir)
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


@dataclass
class PrivateSchema:
    """A fresh database on the private server, shaped like ``MySqlSchema`` for the oracle."""

    server: PrivateServer
    name: str

    @property
    def url(self) -> str:
        return f"mysql://root@127.0.0.1:{self.server.port}/{self.name}"

    def execute(self, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
        conn = r.connect(self.server.port, self.name)  # fresh: the server may have restarted
        try:
            return r.execute(conn, sql, params)
        finally:
            conn.close()


@pytest.fixture
def private_schema(private_server: PrivateServer) -> Iterator[PrivateSchema]:
    """A new database on the private server for one test (the server is running again after)."""
    name = f"dbat_{uuid.uuid4().hex[:12]}"
    conn = r.connect(private_server.port)
    r.execute(conn, f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
    conn.close()
    yield PrivateSchema(private_server, name)
    if private_server.server.proc.poll() is not None:
        private_server.start()
    conn = r.connect(private_server.port)
    r.execute(conn, f"DROP DATABASE IF EXISTS `{name}`")
    conn.close()
