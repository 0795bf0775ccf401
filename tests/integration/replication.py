"""A private MariaDB primary/replica pair on 127.0.0.1, for the replica-lag tests.

Two ``mariadbd`` processes of their own (never the shared server on :3306): one data directory is
made with ``mariadb-install-db`` and copied for the replica, both start in parallel with
``--no-defaults`` on free ports, then the replica follows the primary by GTID. Root has an empty
password over TCP (``--auth-root-authentication-method=normal``). Teardown stops both by PID.

Use it from a test module with::

    from tests.integration.replication import ReplicationPair, replication, replication_pair  # noqa: F401
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import MySQLdb
import pytest

DATABASE = "dbat_repl"
REPL_USER = "dbat_repl"
REPL_PASSWORD = "dbat-repl-pw"
_START_TIMEOUT = 60.0
_STOP_TIMEOUT = 30.0
_POLL = 0.1


def _find(name: str, *fallbacks: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    return next((f for f in fallbacks if Path(f).exists()), None)


MARIADBD = _find("mariadbd", "/usr/sbin/mariadbd", "/usr/libexec/mariadbd")
INSTALL_DB = _find("mariadb-install-db", "/usr/bin/mariadb-install-db")


@dataclass(frozen=True)
class ReplicationPair:
    """Where the primary and its replica listen; URLs point at the replicated ``dbat_repl``."""

    primary_url: str
    replica_url: str
    primary_port: int
    replica_port: int

    def connect_primary(self) -> Any:
        """A new autocommit root session on the primary (close it when done)."""
        return connect(self.primary_port, DATABASE)

    def connect_replica(self) -> Any:
        """A new autocommit root session on the replica (close it when done)."""
        return connect(self.replica_port, DATABASE)


def connect(port: int, database: str | None = None, timeout: int = 5) -> Any:
    """An autocommit root session over TCP on 127.0.0.1."""
    args: dict[str, Any] = {"host": "127.0.0.1", "port": port, "user": "root"}
    if database:
        args["database"] = database
    return MySQLdb.connect(**args, connect_timeout=timeout, autocommit=True)


def execute(conn: Any, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
    """Run one statement; its rows (empty for statements without a result)."""
    with conn.cursor() as cur:
        cur.execute(sql, params)
        return list(cur.fetchall() or ())


def replica_status(conn: Any) -> dict[str, Any]:
    """``SHOW REPLICA STATUS`` as a dict (empty if the server is not a replica)."""
    with conn.cursor(MySQLdb.cursors.DictCursor) as cur:
        cur.execute("SHOW REPLICA STATUS")
        row = cur.fetchone()
    return dict(row) if row else {}


def wait_until(check: Any, timeout: float, what: str, interval: float = 0.05) -> Any:
    """Poll ``check()`` until it returns a truthy value; fail with ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:g}s waiting for {what}", False)
        time.sleep(interval)


def wait_threads_running(replica: Any, timeout: float = 15.0) -> None:
    """Wait until both replication threads run; fail with the replica's last errors if not."""

    def running() -> bool:
        status = replica_status(replica)
        return status.get("Slave_IO_Running") == "Yes" and status.get("Slave_SQL_Running") == "Yes"

    deadline = time.monotonic() + timeout
    while not running():
        if time.monotonic() > deadline:
            status = replica_status(replica)
            pytest.fail(
                "replication threads not running: "
                f"IO={status.get('Slave_IO_Running')} ({status.get('Last_IO_Error')}), "
                f"SQL={status.get('Slave_SQL_Running')} ({status.get('Last_SQL_Error')})",
                False,
            )
        time.sleep(0.05)


def wait_caught_up(primary: Any, replica: Any, timeout: float = 15.0) -> None:
    """Wait until the replica has applied everything the primary has logged so far."""
    pos = execute(primary, "SELECT @@GLOBAL.gtid_binlog_pos")[0][0]
    if not pos:
        return
    result = execute(replica, "SELECT MASTER_GTID_WAIT(%s, %s)", (pos, timeout))[0][0]
    if result != 0:
        status = replica_status(replica)
        pytest.fail(
            f"replica did not reach GTID {pos} in {timeout:g}s "
            f"(at {execute(replica, 'SELECT @@GLOBAL.gtid_slave_pos')[0][0]}, "
            f"SQL error: {status.get('Last_SQL_Error')!r})",
            False,
        )


# --- starting and stopping the servers ---


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _free_port(taken: set[int]) -> int:
    """A free port below the ephemeral range (so no outgoing connection grabs it meanwhile)."""
    rng = random.Random()
    for _ in range(200):
        port = rng.randrange(22_000, 32_000)
        if port not in taken and _port_is_free(port):
            return port
    raise RuntimeError("no free TCP port on 127.0.0.1 for a private mariadbd")


def _server_options() -> list[str]:
    """Options shared by install-db and both servers: small, fast, local-only."""
    return [
        "--innodb-buffer-pool-size=64M",
        "--innodb-log-file-size=16M",
        "--skip-name-resolve",
    ]


def _install(datadir: Path, workdir: Path) -> None:
    assert INSTALL_DB is not None
    command = [
        INSTALL_DB,
        "--no-defaults",
        "--auth-root-authentication-method=normal",
        f"--datadir={datadir}",
        # a private tmpdir: a starting mariadbd deletes every #sql* file in its tmpdir, so
        # bootstraps sharing /tmp (parallel runs) delete each other's temporary tables
        f"--tmpdir={workdir}",
        "--skip-test-db",
        *_server_options(),
    ]
    if os.geteuid() == 0:
        command.append("--user=root")
    log = workdir / "install-db.log"
    with open(log, "wb") as out:
        result = subprocess.run(
            command, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, check=False
        )
    if result.returncode != 0:
        text = log.read_text(errors="replace").splitlines()
        errors = [line for line in text if "ERROR" in line or "Warning" in line] or text[-30:]
        pytest.fail(
            f"mariadb-install-db failed ({result.returncode}):\n" + "\n".join(errors[:30]), False
        )


@dataclass
class _Server:
    name: str
    workdir: Path
    port: int
    proc: subprocess.Popen[bytes]

    @property
    def error_log(self) -> Path:
        return self.workdir / f"{self.name}.err"


def _start(name: str, workdir: Path, datadir: Path, port: int, extra: list[str]) -> _Server:
    assert MARIADBD is not None
    command = [
        MARIADBD,
        "--no-defaults",  # must come first: /etc/mysql is never read
        f"--datadir={datadir}",
        f"--tmpdir={workdir}",
        "--bind-address=127.0.0.1",
        f"--port={port}",
        f"--socket={workdir / (name + '.sock')}",
        f"--pid-file={workdir / (name + '.pid')}",
        "--skip-networking=0",
        f"--log-error={workdir / (name + '.err')}",
        "--performance-schema=OFF",
        "--innodb-flush-log-at-trx-commit=2",
        "--sync-binlog=0",
        *_server_options(),
        *extra,
    ]
    if os.geteuid() == 0:
        command.append("--user=root")
    proc = subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=workdir,
    )
    return _Server(name, workdir, port, proc)


def _tail(path: Path, lines: int = 30) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return f"(no {path.name})"
    return "\n".join(text.splitlines()[-lines:])


def _wait_ready(server: _Server) -> bool:
    """Connect every 100 ms until the server answers; fail with its error log if it does not.

    False if it exited because another process took its port meanwhile (the caller retries).
    """
    deadline = time.monotonic() + _START_TIMEOUT
    while True:
        if server.proc.poll() is not None:
            if "Address already in use" in _tail(server.error_log):
                return False
            pytest.fail(
                f"{server.name} mariadbd exited with code {server.proc.returncode}:\n"
                f"{_tail(server.error_log)}",
                False,
            )
        try:
            conn = connect(server.port, timeout=2)
        except MySQLdb.OperationalError as exc:
            if time.monotonic() > deadline:
                pytest.fail(
                    f"{server.name} mariadbd on port {server.port} not ready after "
                    f"{_START_TIMEOUT:g}s ({exc}):\n{_tail(server.error_log)}",
                    False,
                )
            time.sleep(_POLL)
        else:
            conn.close()
            return True


def _stop(server: _Server) -> None:
    """SIGTERM by PID, up to 30 s for a clean shutdown, then SIGKILL."""
    proc = server.proc
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(_STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _set_up_replication(primary: _Server, replica: _Server) -> None:
    p = connect(primary.port)
    r = connect(replica.port)
    try:
        execute(p, f"CREATE USER '{REPL_USER}'@'127.0.0.1' IDENTIFIED BY '{REPL_PASSWORD}'")
        execute(p, f"GRANT REPLICATION SLAVE ON *.* TO '{REPL_USER}'@'127.0.0.1'")
        execute(p, f"CREATE DATABASE `{DATABASE}` CHARACTER SET utf8mb4")
        execute(
            r,
            "CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=%s, MASTER_USER=%s,"
            " MASTER_PASSWORD=%s, MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1",
            (primary.port, REPL_USER, REPL_PASSWORD),
        )
        execute(r, "START SLAVE")
        wait_threads_running(r)
        wait_caught_up(p, r)
        assert execute(r, "SHOW DATABASES LIKE %s", (DATABASE,)), "database did not replicate"
    finally:
        p.close()
        r.close()


@pytest.fixture(scope="session")
def replication_pair() -> Iterator[ReplicationPair]:
    """A primary (binlog, server_id=1) and a read-only replica (server_id=2) replicating by GTID."""
    if MARIADBD is None or INSTALL_DB is None:
        pytest.fail(
            "mariadbd / mariadb-install-db not found: apt-get install mariadb-server", False
        )
    workdir = Path(tempfile.mkdtemp(prefix="dbarchive-repl-"))
    servers: list[_Server] = []
    try:
        _install(workdir / "primary-data", workdir)
        shutil.copytree(workdir / "primary-data", workdir / "replica-data", symlinks=True)
        roles = {
            "primary": ["--server-id=1", "--log-bin=binlog", "--binlog-format=ROW"],
            "replica": [
                "--server-id=2",
                "--read-only=1",
                "--relay-log=relay",
                "--skip-slave-start",
            ],
        }
        taken: set[int] = set()
        for role, extra in roles.items():  # both start in parallel
            taken.add(port := _free_port(taken))
            servers.append(_start(role, workdir, workdir / f"{role}-data", port, extra))
        for i, server in enumerate(servers):
            for _ in range(3):  # a port taken between the check and mariadbd's bind: try another
                if _wait_ready(server):
                    break
                taken.add(port := _free_port(taken))
                server.error_log.rename(server.error_log.with_suffix(".err.old"))
                server = servers[i] = _start(
                    server.name, workdir, workdir / f"{server.name}-data", port, roles[server.name]
                )
            else:
                pytest.fail(f"{server.name} mariadbd found no free port", False)
        primary, replica = servers
        _set_up_replication(primary, replica)
        yield ReplicationPair(
            primary_url=f"mysql://root@127.0.0.1:{primary.port}/{DATABASE}",
            replica_url=f"mysql://root@127.0.0.1:{replica.port}/{DATABASE}",
            primary_port=primary.port,
            replica_port=replica.port,
        )
    finally:
        for server in reversed(servers):
            _stop(server)
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def replication(replication_pair: ReplicationPair) -> Iterator[ReplicationPair]:
    """The session pair, healthy before and after the test: both threads running, caught up."""
    _make_healthy(replication_pair)
    yield replication_pair
    _make_healthy(replication_pair)


def _make_healthy(pair: ReplicationPair) -> None:
    primary = pair.connect_primary()
    replica = pair.connect_replica()
    try:
        status = replica_status(replica)
        if status.get("Slave_IO_Running") != "Yes" or status.get("Slave_SQL_Running") != "Yes":
            execute(replica, "START SLAVE")
        wait_threads_running(replica)
        wait_caught_up(primary, replica)
    finally:
        primary.close()
        replica.close()
