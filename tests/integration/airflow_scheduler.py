"""A real Airflow deployment for one test: PostgreSQL metadata DB, LocalExecutor, scheduler.

Airflow 3 runs three processes (api-server for the task execution API, dag-processor, scheduler);
Airflow 2.11 runs the scheduler alone. Everything listens on 127.0.0.1 only, lives in a temp
AIRFLOW_HOME and a fresh PostgreSQL database, and is stopped and removed afterwards.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

PG_DSN = os.environ.get("DBARCHIVE_TEST_PG", "host=127.0.0.1 port=5432 user=postgres")
AIRFLOW = Path(sys.executable).parent / "airflow"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _pg(database: str = "postgres") -> Any:
    import psycopg2

    try:
        conn = psycopg2.connect(f"{PG_DSN} dbname={database}")
    except psycopg2.OperationalError as exc:
        pytest.fail(f"PostgreSQL ({PG_DSN}) is needed for the scheduler tier: {exc}", False)
    conn.autocommit = True
    return conn


@dataclass
class AirflowDeployment:
    """Airflow processes started for a test, and how to talk to them."""

    home: Path
    database: str
    env: dict[str, str]
    v3: bool
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def dags(self) -> Path:
        return self.home / "dags"

    def cli(self, *args: str) -> str:
        """Run one ``airflow`` CLI command; fail the test with its output if it fails."""
        proc = subprocess.run(
            [str(AIRFLOW), *args], env=self.env, capture_output=True, text=True, timeout=180,
            check=False,
        )  # fmt: skip
        if proc.returncode != 0:
            pytest.fail(f"airflow {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}", False)
        return proc.stdout

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """A query on the metadata database (what the scheduler recorded)."""
        conn = _pg(self.database)
        try:
            with conn.cursor() as cur:
                cur.execute(sql, params)
                return list(cur.fetchall())
        finally:
            conn.close()

    def start(self) -> None:
        commands = [["scheduler"]]
        if self.v3:
            port = self.env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"].split(":")[2].split("/")[0]
            commands = [
                ["api-server", "--apps", "execution", "-H", "127.0.0.1", "-p", port],
                ["dag-processor"],
                ["scheduler"],
            ]
        for command in commands:
            with open(self.home / f"{command[0]}.log", "wb") as log:  # the child keeps its copy
                proc = subprocess.Popen(
                    [str(AIRFLOW), *command],
                    env=self.env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,
                )
            self.processes.append(proc)

    def wait_for_dag(self, dag_id: str, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while not self.query("SELECT 1 FROM dag WHERE dag_id = %s", (dag_id,)):
            self._check_alive()
            if time.monotonic() > deadline:
                pytest.fail(f"DAG {dag_id} was not parsed in {timeout:.0f}s:\n{self.logs()}", False)
            time.sleep(1)

    def wait_for_run(self, dag_id: str, timeout: float = 300) -> str:
        deadline = time.monotonic() + timeout
        while True:
            rows = self.query("SELECT state FROM dag_run WHERE dag_id = %s", (dag_id,))
            if rows and rows[0][0] in {"success", "failed"}:
                return str(rows[0][0])
            self._check_alive()
            if time.monotonic() > deadline:
                pytest.fail(
                    f"the run of {dag_id} did not end in {timeout:.0f}s:\n{self.logs()}", False
                )
            time.sleep(1)

    def _check_alive(self) -> None:
        for proc in self.processes:
            if proc.poll() is not None:
                pytest.fail(f"an Airflow process exited ({proc.args}):\n{self.logs()}", False)

    def logs(self, lines: int = 60) -> str:
        out = []
        for path in sorted(self.home.rglob("*.log")):
            text = path.read_text(errors="replace").splitlines()
            if any("Traceback" in t or "ERROR" in t for t in text) or path.parent == self.home:
                out.append(f"--- {path.relative_to(self.home)}\n" + "\n".join(text[-lines:]))
        return "\n".join(out)[-20_000:]

    def stop(self) -> None:
        for proc in self.processes:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.processes:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def deploy(connections: dict[str, str], pool_slots: int, parallelism: int = 4) -> AirflowDeployment:
    """Create the metadata DB and the home, migrate, create the pool; processes not started."""
    from dbarchive.airflow._compat import AIRFLOW_V3

    home = Path(tempfile.mkdtemp(prefix="dbarchive-airflow-sched-"))
    (home / "dags").mkdir()
    database = f"dbarchive_af_{uuid.uuid4().hex[:10]}"
    admin = _pg()
    with admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{database}"')
    admin.close()
    env = {
        **os.environ,
        **connections,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(home / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": str(parallelism),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": (
            f"postgresql+psycopg2://postgres@127.0.0.1:5432/{database}"
        ),
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(_free_port()),
        "AIRFLOW__SCHEDULER__DAG_DIR_LIST_INTERVAL": "5",
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
        "AIRFLOW__SCHEDULER__MIN_FILE_PROCESS_INTERVAL": "5",
        "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "5",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{_free_port()}/execution/",
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(16),
    }
    env.pop("AIRFLOW__CORE__UNIT_TEST_MODE", None)
    deployment = AirflowDeployment(home, database, env, AIRFLOW_V3)
    try:
        deployment.cli("db", "migrate")
        deployment.cli("pools", "set", "dbarchive", str(pool_slots), "dbarchive scheduler test")
    except BaseException:  # pytest.fail included: leave no database or folder behind
        teardown(deployment)
        raise
    return deployment


def teardown(deployment: AirflowDeployment) -> None:
    """Stop the processes, drop the metadata DB, remove the home."""
    deployment.stop()
    admin = _pg()
    with admin.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{deployment.database}" WITH (FORCE)')
    admin.close()
    shutil.rmtree(deployment.home, ignore_errors=True)
