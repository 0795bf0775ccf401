"""A real Airflow (3.x) in this process: its own AIRFLOW_HOME, SQLite metadata DB, dags folder.

The environment is set before the first ``import airflow`` (otherwise Airflow creates ~/airflow);
connections come from AIRFLOW_CONN_* variables, as on any deployment. Below it, what the DAG tests
share: the ``events`` table they fill, their config, connections, DAG files and runs.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import tempfile
import threading
import tomllib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest

from dbarchive import build_context, job_from_dict
from dbarchive.layout import PartitionPath
from dbarchive.manifest import Manifest
from tests.integration.helpers import LOG_TABLE_DDL
from tests.integration.mysql_fixtures import MySqlSchema

# Airflow's own stack (starlette, its provider shims) warns about its internals; not ours.
AIRFLOW_WARNINGS = [
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::PendingDeprecationWarning"),
    pytest.mark.filterwarnings("ignore:Using `httpx` with `starlette.testclient` is deprecated"),
]
RUN_DATE = dt.datetime(2026, 11, 25, tzinfo=dt.UTC)  # logical date: archives 2026-11-24
PER_DAY = 40


def dagbag_class() -> Any:
    """DagBag moved to airflow.dag_processing in Airflow 3; 2.x has it in airflow.models."""
    try:
        from airflow.dag_processing.dagbag import DagBag
    except ImportError:  # Airflow 2.x
        from airflow.models.dagbag import DagBag  # type: ignore[no-redef, unused-ignore]
    return DagBag


@dataclass
class AirflowHome:
    """Where the in-process Airflow keeps its files."""

    home: Path
    dags: Path

    def write_dag(self, name: str, source: str) -> Path:
        path = self.dags / f"{name}.py"
        path.write_text(source)
        return path

    def load_dag(self, dag_id: str) -> Any:
        """Parse the dags folder like the DAG processor does; fail on any import error."""
        bag = dagbag_class()(str(self.dags))
        assert not bag.import_errors, bag.import_errors
        return bag.get_dag(dag_id)


_CURRENT: AirflowHome | None = None  # Airflow reads its config once per process


@pytest.fixture(scope="session")
def airflow_home() -> Iterator[AirflowHome]:
    """Configure Airflow in a temp folder and create its metadata DB (once per session).

    Each test module importing this fixture gets its own session-scoped instance; all but the
    first reuse the first one's home, which the already-imported Airflow keeps using anyway.
    """
    global _CURRENT
    if _CURRENT is not None:
        yield _CURRENT
        return
    root = Path(tempfile.mkdtemp(prefix="dbarchive-airflow-"))
    dags = root / "dags"
    dags.mkdir()
    settings = {
        "AIRFLOW_HOME": str(root),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{root}/airflow.db",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
    }
    saved = {k: os.environ.get(k) for k in settings}
    os.environ.update(settings)
    from airflow.utils.db import initdb

    initdb()
    from airflow.models.pool import Pool

    Pool.create_or_update_pool(
        "dbarchive", slots=4, description="dbarchive tests", include_deferred=False
    )
    _CURRENT = AirflowHome(root, dags)
    try:
        yield _CURRENT
    finally:
        _CURRENT = None
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        shutil.rmtree(root, ignore_errors=True)


@dataclass
class WebhookReceiver:
    """A local HTTP endpoint that records every JSON body posted to it."""

    url: str
    messages: list[dict[str, Any]] = field(default_factory=list)


@pytest.fixture
def webhook() -> Iterator[WebhookReceiver]:
    """An HTTP receiver on 127.0.0.1 (a stand-in for a Slack incoming webhook)."""
    received: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", 0))
            received.append(json.loads(self.rfile.read(length)))
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: Any) -> None:
            return None

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield WebhookReceiver(f"http://127.0.0.1:{server.server_port}/hook", received)
    finally:
        server.shutdown()
        server.server_close()


def fill_days(schema: MySqlSchema, first: dt.date, days: int) -> None:
    """Create ``events`` with PER_DAY rows on each of ``days`` days from ``first``."""
    schema.execute(LOG_TABLE_DDL)
    schema.execute(
        "INSERT INTO events (created_at, account_id, amount, note) SELECT TIMESTAMP(%s) + INTERVAL "
        "(seq DIV %s) DAY + INTERVAL (seq MOD %s) * 2000 SECOND, seq MOD 5, seq / 3, CONCAT('r', seq) "
        f"FROM seq_0_to_{days * PER_DAY - 1}",
        (first.isoformat(), PER_DAY, PER_DAY),
    )


@pytest.fixture
def connections(
    mysql_schema: MySqlSchema, s3_endpoint: Any, monkeypatch: pytest.MonkeyPatch
) -> MySqlSchema:
    """mysql_default → the test schema; aws_default → the suite's SeaweedFS (endpoint in extras)."""
    mysql = {"conn_type": "mysql", "host": "127.0.0.1", "port": 3306, "login": "root", "password": "",
             "schema": mysql_schema.name}  # fmt: skip
    aws = {"conn_type": "aws", "login": s3_endpoint.access_key, "password": s3_endpoint.secret_key,
           "extra": {"endpoint_url": s3_endpoint.url, "region_name": s3_endpoint.region}}  # fmt: skip
    monkeypatch.setenv("AIRFLOW_CONN_MYSQL_DEFAULT", json.dumps(mysql))
    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", json.dumps(aws))
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name, raising=False)  # credentials must come from the connection
    return mysql_schema


def archive_config(tmp_path: Path, bucket: str) -> Path:
    """archive.toml for ``events`` into ``bucket``, 60 days retention; the DAG's connections
    supply MySQL and S3."""
    path = tmp_path / "archive.toml"
    path.write_text(
        f'[destination]\nurl = "s3://{bucket}/archive"\n[defaults]\nretention = "60 days"\n'
        '[[tables]]\nname = "events"\ntimestamp_column = "created_at"\n'
    )
    return path


@pytest.fixture
def dag_file(airflow_home: AirflowHome) -> Iterator[Any]:
    """Writes one DAG file into the dags folder (removed afterwards) and returns the parsed DAG."""
    written: list[Path] = []

    def write(source: str, dag_id: str) -> Any:
        written.append(airflow_home.write_dag(f"dag_{uuid.uuid4().hex[:8]}", source))
        return airflow_home.load_dag(dag_id)

    yield write
    for path in written:
        path.unlink(missing_ok=True)


def factory_dag(config: Path, dag_id: str, extra: str = "") -> str:
    """A DAG file: ``build_dag`` on ``config``, no retries (a failure shows at once)."""
    return (
        "from dbarchive.airflow import WebhookNotifier, build_dag\n"
        f"dag = build_dag({str(config)!r}, dag_id={dag_id!r}, retries=0, {extra})\n"
    )


def run_dag(dag: Any, logical_date: dt.datetime | None, **kwargs: Any) -> Any:
    """dag.test() on the Airflow this venv has (2.11 and 3 differ)."""
    from dbarchive.airflow._compat import run_dag_test

    return run_dag_test(dag, logical_date, **kwargs)


def archive_context(config: Path, schema: MySqlSchema, endpoint: Any) -> Any:
    """The job's context outside Airflow (config + the test bed's MySQL and S3), to check what a
    run left behind."""
    os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"] = (
        endpoint.access_key,
        endpoint.secret_key,
    )
    text = config.read_text().replace(
        "[destination]", f'[source]\nurl = "{schema.url}"\n[destination]'
    )
    text = text.replace('url = "s3://', f'endpoint_url = "{endpoint.url}"\nurl = "s3://')
    return build_context(job_from_dict(tomllib.loads(text)))


def day_manifest(ctx: Any, day: dt.date) -> Manifest | None:
    """The ``events`` manifest of ``day``, or None when the day is not archived."""
    raw = ctx.storage.get_bytes(PartitionPath("events", day).manifest_key)
    return None if raw is None else Manifest.loads(raw)
