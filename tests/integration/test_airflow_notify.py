"""Notifications (issue 21, section 3): one notifier on Airflow's BaseNotifier, for each kind of
connection — Slack incoming webhook, Slack API with a channel, a generic webhook — each posting
to a local receiver on 127.0.0.1; a refused post is logged with its status and reply."""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.integration.airflow_fixtures import (  # noqa: F401
    AIRFLOW_WARNINGS,
    RUN_DATE,
    AirflowHome,
    airflow_home,
    archive_config,
    connections,
    dag_file,
    fill_days,
    run_dag,
)
from tests.integration.mysql_fixtures import MySqlSchema, mysql_schema  # noqa: F401

pytestmark = [pytest.mark.timeout(300), *AIRFLOW_WARNINGS]
TOKEN = "T0DBA/B0ARCH/" + uuid.uuid4().hex  # a webhook's secret path
BOT = "xoxb-" + uuid.uuid4().hex  # a Slack bot token


@dataclass
class Receiver:
    """A local HTTP server recording each POST; ``reply`` sets what it answers."""

    base: str
    posts: list[dict[str, Any]] = field(default_factory=list)
    reply: tuple[int, bytes] = (200, b"ok")


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver("")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            state.posts.append(
                {"path": self.path, "headers": dict(self.headers), "json": json.loads(body)}
            )
            status, answer = state.reply
            self.send_response(status)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args: Any) -> None:
            return None

    server = HTTPServer(("127.0.0.1", 0), Handler)
    state.base = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def _connection(monkeypatch: pytest.MonkeyPatch, conn_id: str, value: dict[str, Any]) -> None:
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(value))


def _notifier(**kwargs: Any) -> Any:
    from dbarchive.airflow import WebhookNotifier

    return WebhookNotifier(**kwargs)


def test_it_is_an_airflow_notifier(airflow_home: AirflowHome) -> None:
    """Built on BaseNotifier, so Airflow takes it wherever it takes a notifier."""
    from dbarchive.airflow._compat import BaseNotifier

    assert isinstance(_notifier(url="http://127.0.0.1:1/"), BaseNotifier)


@pytest.mark.parametrize("form", ["path", "url"])
def test_a_slack_incoming_webhook_connection(
    form: str, receiver: Receiver, airflow_home: AirflowHome, monkeypatch: pytest.MonkeyPatch
) -> None:
    """conn_type slackwebhook, as the Slack provider documents it: the password is the token
    path under the host, or the whole webhook URL."""
    if form == "path":
        value = {
            "conn_type": "slackwebhook",
            "host": f"{receiver.base}/services",
            "password": TOKEN,
        }
    else:
        value = {"conn_type": "slackwebhook", "password": f"{receiver.base}/services/{TOKEN}"}
    _connection(monkeypatch, "dbarchive_slack_hook", value)
    assert _notifier(conn_id="dbarchive_slack_hook").send("archive failed")
    (post,) = receiver.posts
    assert post["path"] == f"/services/{TOKEN}"
    assert post["json"] == {"text": "archive failed"}


def test_a_slack_api_connection_posts_to_the_channel(
    receiver: Receiver, airflow_home: AirflowHome, monkeypatch: pytest.MonkeyPatch
) -> None:
    """conn_type slack (a bot token): chat.postMessage under the base_url extra, with the
    notifier's channel and the token as a bearer."""
    receiver.reply = (200, b'{"ok": true, "channel": "C0DBA", "ts": "1.2"}')
    _connection(monkeypatch, "dbarchive_slack_api",
                {"conn_type": "slack", "password": BOT,
                 "extra": {"base_url": f"{receiver.base}/api/"}})  # fmt: skip
    assert _notifier(conn_id="dbarchive_slack_api", channel="#db-archive").send("hello")
    (post,) = receiver.posts
    assert post["path"] == "/api/chat.postMessage"
    assert post["headers"]["Authorization"] == f"Bearer {BOT}"
    assert post["json"] == {"channel": "#db-archive", "text": "hello"}


def test_a_generic_webhook_connection(
    receiver: Receiver, airflow_home: AirflowHome, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Any other connection: the extra webhook_url (else the password, else the host)."""
    _connection(monkeypatch, "dbarchive_hook",
                {"conn_type": "http", "extra": {"webhook_url": f"{receiver.base}/relay/1"}})  # fmt: skip
    assert _notifier(conn_id="dbarchive_hook").send("hi")
    assert [(p["path"], p["json"]) for p in receiver.posts] == [("/relay/1", {"text": "hi"})]


@pytest.mark.parametrize(
    ("kind", "reply", "logged"),
    [
        ("slackwebhook", (404, b"no_service"), "HTTP 404, reply: no_service"),
        ("slackwebhook", (500, b""), "HTTP 500, reply: (empty body)"),
        ("slack", (200, b'{"ok": false, "error": "channel_not_found"}'),
         'HTTP 200, reply: {"ok": false, "error": "channel_not_found"}'),
    ],
)  # fmt: skip
def test_a_refused_post_is_logged_with_its_status_and_reply(
    kind: str,
    reply: tuple[int, bytes],
    logged: str,
    receiver: Receiver,
    airflow_home: AirflowHome,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The post fails; the log says why (status and body) and holds neither token; nothing is
    raised (the task's own failure stays what Airflow reports)."""
    receiver.reply = reply
    if kind == "slack":
        value = {"conn_type": "slack", "password": BOT, "extra": {"base_url": f"{receiver.base}/"}}
    else:
        value = {"conn_type": "slackwebhook", "host": receiver.base, "password": TOKEN}
    _connection(monkeypatch, "dbarchive_refused", value)
    with caplog.at_level(logging.WARNING, logger="dbarchive"):
        sent = _notifier(conn_id="dbarchive_refused", channel="#x").send("x")
    assert sent is False and len(receiver.posts) == 1
    assert f"notification via connection 'dbarchive_refused' not sent: {logged}" in caplog.text
    assert TOKEN not in caplog.text and BOT not in caplog.text


def test_a_connection_that_does_not_exist_is_named_in_the_warning(
    airflow_home: AirflowHome, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    """The on-call reads which notifier broke: the warning names its connection id (Airflow 3
    logs the notifier's own logger through structlog, to stdout; Airflow 2 through logging)."""
    with caplog.at_level(logging.WARNING):
        assert _notifier(conn_id="dbarchive_no_such_conn").send("x") is False
    out, err = capfd.readouterr()
    logged = caplog.text + out + err
    assert "notification via connection 'dbarchive_no_such_conn' not sent" in logged


def test_an_unreachable_endpoint_is_logged_with_the_reason(
    airflow_home: AirflowHome, caplog: pytest.LogCaptureFixture
) -> None:
    """Nothing listens on port 1: the log names the network's reason, not just a class name."""
    with caplog.at_level(logging.WARNING, logger="dbarchive"):
        assert _notifier(url="http://127.0.0.1:1/hook").send("x") is False
    assert (
        "notification via its url not sent: [Errno 111] Connection refused (URLError)"
        in caplog.text
    )


def test_a_failed_task_names_its_table_day_and_step_from_the_operator(
    connections: MySqlSchema,
    receiver: Receiver,
    tmp_path: Path,
    dag_file: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An export task with a task id of its own (``nightly_dump``, no table in it) fails on a
    missing bucket: the Slack message names table events, day 2026-11-24 and step export, the
    run id, the try (not retried: a missing bucket is permanent) and the log's link."""
    schema = connections
    fill_days(schema, dt.date(2026, 11, 24), 1)
    receiver.reply = (200, b'{"ok": true}')
    _connection(monkeypatch, "dbarchive_slack_api",
                {"conn_type": "slack", "password": BOT,
                 "extra": {"base_url": f"{receiver.base}/api/"}})  # fmt: skip
    config = archive_config(tmp_path, f"missing-{uuid.uuid4().hex[:8]}")
    source = (
        "import datetime as dt\n"
        "from dbarchive.airflow import ArchiveExportOperator, WebhookNotifier\n"
        "from dbarchive.airflow._compat import DAG\n"
        "with DAG('own_ids', schedule=None, start_date=dt.datetime(2026, 1, 1)) as dag:\n"
        f"    ArchiveExportOperator(task_id='nightly_dump', config={str(config)!r}, "
        "table='events', retries=2, on_failure_callback=WebhookNotifier("
        "conn_id='dbarchive_slack_api', "
        "channel='#db-archive'))\n"
    )
    run = run_dag(dag_file(source, "own_ids"), RUN_DATE)
    assert run.state == "failed"
    (post,) = receiver.posts
    assert post["json"]["channel"] == "#db-archive"
    text = post["json"]["text"]
    assert text.startswith(
        "dbarchive FAILED (own_ids): table events, day 2026-11-24, step export — bucket"
    )
    # a missing bucket is permanent: the task failed at once, not "try 1 of 3"
    assert f"run {run.run_id}, try 1, not retried (a permanent error)" in text
    assert "log: http" in text and "nightly_dump" in text


def test_as_a_dag_level_callback_it_names_the_run(
    connections: MySqlSchema, receiver: Receiver, tmp_path: Path, dag_file: Any
) -> None:
    """Given to the DAG (``build_dag(on_failure_callback=…)``), it posts once for the failed
    run — its run id — besides nothing else (no task notifier here)."""
    schema = connections
    fill_days(schema, dt.date(2026, 11, 24), 1)
    config = archive_config(tmp_path, f"missing-{uuid.uuid4().hex[:8]}")
    source = (
        "from dbarchive.airflow import WebhookNotifier, build_dag\n"
        f"dag = build_dag({str(config)!r}, dag_id='dag_level', retries=0, "
        f"on_failure_callback=WebhookNotifier(url={receiver.base + '/dag'!r}))\n"
    )
    run = run_dag(dag_file(source, "dag_level"), RUN_DATE)
    assert run.state == "failed"
    (post,) = receiver.posts
    assert post["path"] == "/dag"
    text = post["json"]["text"]
    assert text.startswith(f"dbarchive FAILED (dag_level): DAG run {run.run_id} — ")
    assert text.endswith(" — task_failure")
