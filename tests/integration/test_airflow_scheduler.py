"""The backfill DAG under a real scheduler: LocalExecutor, parallelism 4, PostgreSQL metadata DB,
against MariaDB + SeaweedFS — tasks run in parallel, yet never more sessions than the pool's slots.

The slow tier (about two minutes): ``make test-scheduler`` (DBARCHIVE_SCHEDULER_TEST=1). SQLite
cannot be the metadata DB here: it serializes the tasks the test wants to see overlap.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import MySQLdb
import pytest

from dbarchive.layout import PartitionPath
from dbarchive.manifest import Manifest
from dbarchive.units.records import is_verified
from tests.integration.airflow_scheduler import AirflowDeployment, deploy, teardown
from tests.integration.helpers import LOG_TABLE_DDL, fill_events
from tests.integration.mysql_fixtures import ROOT_URL, MySqlSchema, mysql_schema  # noqa: F401

pytestmark = [
    pytest.mark.scheduler,
    pytest.mark.timeout(900),
    pytest.mark.skipif(
        not os.environ.get("DBARCHIVE_SCHEDULER_TEST"),
        reason="slow tier: make test-scheduler (DBARCHIVE_SCHEDULER_TEST=1)",
    ),
]
POOL_SLOTS = 2
DAYS = 4
ROWS = 1500  # per day: two units of at most 1,000 rows
DAG_ID = "dbarchive_scheduled_backfill"


class SessionSampler:
    """Every 20 ms, the server sessions on the test schema and the client processes holding them.

    An export task holds two sessions (the driver's and the C reader's), so the pool's limit is
    on processes: each session's client port is traced to its process through /proc.
    """

    def __init__(self, schema: MySqlSchema) -> None:
        self.schema = schema.name
        self.peak_sessions = self.peak_tasks = self.samples = 0
        (self.own_id,) = schema.execute("SELECT CONNECTION_ID()")[0]
        self._owners: dict[int, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> SessionSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        conn = MySQLdb.connect(host="127.0.0.1", user="root", autocommit=True)
        try:
            with conn.cursor() as cur:
                while not self._stop.wait(0.02):
                    cur.execute(
                        "SELECT HOST FROM information_schema.PROCESSLIST WHERE DB = %s AND ID <> %s",
                        (self.schema, self.own_id),
                    )
                    ports = [int(h.rsplit(":", 1)[1]) for (h,) in cur.fetchall() if ":" in h]
                    self.peak_sessions = max(self.peak_sessions, len(ports))
                    self.peak_tasks = max(self.peak_tasks, len(self._processes(ports)))
                    self.samples += 1
        finally:
            conn.close()

    def _processes(self, ports: list[int]) -> set[int]:
        if any(p not in self._owners for p in ports):
            self._owners = _port_owners()
        return {self._owners[p] for p in ports if p in self._owners}


def _port_owners() -> dict[int, int]:
    """Local TCP port → pid of the process holding that socket (Linux /proc)."""
    inodes: dict[str, int] = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                inodes[fields[9]] = int(fields[1].rsplit(":", 1)[1], 16)
    owners: dict[int, int] = {}
    for pid in (p for p in os.listdir("/proc") if p.isdigit()):
        with contextlib.suppress(OSError):
            for fd in os.listdir(f"/proc/{pid}/fd"):
                with contextlib.suppress(OSError):
                    link = os.readlink(f"/proc/{pid}/fd/{fd}")
                    if link.startswith("socket:[") and link[8:-1] in inodes:
                        owners[inodes[link[8:-1]]] = int(pid)
    return owners


@pytest.fixture
def airflow(mysql_schema: MySqlSchema, s3_endpoint: Any) -> Iterator[AirflowDeployment]:
    """A running Airflow whose connections point at the test schema and the suite's S3."""
    mysql = {"conn_type": "mysql", "host": "127.0.0.1", "port": 3306, "login": "root",
             "password": "", "schema": mysql_schema.name}  # fmt: skip
    aws = {"conn_type": "aws", "login": s3_endpoint.access_key, "password": s3_endpoint.secret_key,
           "extra": {"endpoint_url": s3_endpoint.url, "region_name": s3_endpoint.region}}  # fmt: skip
    connections = {"AIRFLOW_CONN_MYSQL_DEFAULT": json.dumps(mysql),
                   "AIRFLOW_CONN_AWS_DEFAULT": json.dumps(aws)}  # fmt: skip
    deployment = deploy(connections, POOL_SLOTS)
    try:
        yield deployment
    finally:
        teardown(deployment)


def test_backfill_dag_runs_in_parallel_within_the_pool(
    airflow: AirflowDeployment, mysql_schema: MySqlSchema, s3_bucket: str, s3_endpoint: Any
) -> None:
    """4 expired days x 2 units under a LocalExecutor: all archived, verified and purged; the
    server saw two tasks' sessions at once, and never more tasks than the pool's 2 slots."""
    assert ROOT_URL.startswith("mysql://root@127.0.0.1")
    today = dt.datetime.now(dt.UTC).date()
    first = today - dt.timedelta(days=70)
    mysql_schema.execute(LOG_TABLE_DDL)
    for i in range(DAYS):
        fill_events(mysql_schema, str(first + dt.timedelta(days=i)), ROWS)
    fill_events(mysql_schema, str(today - dt.timedelta(days=1)), 100)  # kept: inside retention
    config = airflow.home / "archive.toml"
    config.write_text(
        f'[destination]\nurl = "s3://{s3_bucket}/archive"\n[defaults]\nretention = "60 days"\n'
        "chunk_rows = 250\n[throttle]\nsleep = 0.3\n"  # slow chunks: sessions last long enough
        '[[tables]]\nname = "events"\ntimestamp_column = "created_at"\nrange_rows = 1000\n'
    )
    (airflow.dags / "backfill.py").write_text(
        "from dbarchive.airflow import build_backfill_dag\n"
        f"dag = build_backfill_dag({str(config)!r}, dag_id={DAG_ID!r}, purge=True, retries=0,\n"
        "                         pool='dbarchive')\n"
    )
    airflow.start()
    airflow.wait_for_dag(DAG_ID)
    airflow.cli("dags", "unpause", DAG_ID)
    with SessionSampler(mysql_schema) as sessions:
        airflow.cli("dags", "trigger", DAG_ID)
        state = airflow.wait_for_run(DAG_ID)
    assert state == "success", airflow.logs()
    exports = airflow.query(
        "SELECT state FROM task_instance WHERE dag_id = %s AND task_id = 'events.export'", (DAG_ID,)
    )
    assert [s for (s,) in exports] == ["success"] * (2 * DAYS)
    assert sessions.samples > 100 and sessions.peak_sessions >= sessions.peak_tasks
    peak = sessions.peak_tasks
    assert peak <= POOL_SLOTS, f"{peak} tasks held sessions at once, the pool has {POOL_SLOTS}"
    assert peak == POOL_SLOTS, "tasks should have held sessions at the same time"
    assert _overlapping_tasks(airflow) >= 2
    _check_archive(mysql_schema, s3_endpoint, s3_bucket, first)


def _overlapping_tasks(airflow: AirflowDeployment) -> int:
    """The most task instances the metadata DB shows running at the same moment."""
    spans = airflow.query(
        "SELECT start_date, end_date FROM task_instance WHERE dag_id = %s AND start_date IS NOT NULL",
        (DAG_ID,),
    )
    return max(sum(1 for a, b in spans if a <= start < b) for start, _end in spans)


def _check_archive(schema: MySqlSchema, endpoint: Any, bucket: str, first: dt.date) -> None:
    from dbarchive.storage.s3 import S3Storage
    from tests.integration.conftest import s3_storage_options

    storage = S3Storage(f"s3://{bucket}/archive", s3_storage_options(endpoint))
    for i in range(DAYS):
        partition = PartitionPath("events", first + dt.timedelta(days=i))
        raw = storage.get_bytes(partition.manifest_key)
        assert raw is not None
        manifest = Manifest.loads(raw)
        assert manifest.rows == ROWS and len(manifest.extra["units"]["ranges"]) == 2
        assert is_verified(storage, partition, manifest)
    assert schema.execute("SELECT COUNT(*) FROM events")[0][0] == 100  # only the kept day
