"""A real Airflow (3.x) in this process: its own AIRFLOW_HOME, SQLite metadata DB, dags folder.

The environment is set before the first ``import airflow`` (otherwise Airflow creates ~/airflow);
connections come from AIRFLOW_CONN_* variables, as on any deployment.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest


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
