"""The real DAG, run in-process with dag.test() on Airflow 3, against MariaDB and SeaweedFS S3."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import uuid
from pathlib import Path
from typing import Any

import pytest

from dbarchive.steps.verify import verify_day
from tests.integration.airflow_fixtures import (  # noqa: F401
    AIRFLOW_WARNINGS,
    PER_DAY,
    RUN_DATE,
    AirflowHome,
    WebhookReceiver,
    airflow_home,
    archive_config,
    archive_context,
    connections,
    dag_file,
    day_manifest,
    factory_dag,
    fill_days,
    run_dag,
    webhook,
)
from tests.integration.helpers import LOG_TABLE_DDL
from tests.integration.mysql_fixtures import MySqlSchema, mysql_schema  # noqa: F401

pytestmark = [pytest.mark.timeout(180), *AIRFLOW_WARNINGS]
EXAMPLES = Path(__file__).parents[2] / "examples" / "airflow"


def test_daily_run_archives_yesterday_and_purges_expired_days(
    connections: MySqlSchema,
    s3_endpoint: Any,
    s3_bucket: str,
    tmp_path: Path,
    dag_file: Any,
    webhook: WebhookReceiver,
) -> None:
    """A run for D archives D-1 (verified) and deletes days older than 60; nothing else changes."""
    schema = connections
    fill_days(schema, dt.date(2026, 9, 20), 66)  # 2026-09-20 .. 2026-11-24
    kept = schema.execute(
        "SELECT id, note FROM events WHERE created_at >= '2026-09-26' ORDER BY id"
    )
    notify = f"notifier=WebhookNotifier(url={webhook.url!r}), notify_success=True"
    config = archive_config(tmp_path, s3_bucket)
    dag = dag_file(factory_dag(config, "dbarchive_daily", notify), "dbarchive_daily")
    tasks = ["events.catch_up", "events.export", "events.purge", "events.settle", "events.verify",
             "report"]  # fmt: skip
    assert sorted(t.task_id for t in dag.tasks) == tasks
    run = run_dag(dag, RUN_DATE)
    assert run.state == "success"
    (message,) = webhook.messages
    assert "events: archived 2026-11-24 (40 rows" in message["text"]
    assert "purged 6 day(s), 240 rows" in message["text"]
    # the 59 days before yesterday, kept but never archived, were caught up by the same run
    assert "caught up 59 earlier day(s) (2,360 rows); purged 6 day(s)" in message["text"]
    # A re-run of the same date (a cleared DAG run) succeeds and changes nothing.
    assert run_dag(dag, RUN_DATE).state == "success"
    ctx = archive_context(tmp_path / "archive.toml", schema, s3_endpoint)
    yesterday = dt.date(2026, 11, 24)
    manifest = day_manifest(ctx, yesterday)
    assert manifest is not None and manifest.rows == PER_DAY
    assert verify_day(ctx, ctx.job.tables[0], yesterday).ok
    assert schema.execute("SELECT id, note FROM events ORDER BY id") == kept
    assert str(schema.execute("SELECT MIN(created_at) FROM events")[0][0]).startswith("2026-09-26")
    for day in (dt.date(2026, 9, 20), dt.date(2026, 9, 25)):
        old = day_manifest(ctx, day)
        assert old is not None and old.rows == PER_DAY, "expired days are archived before the purge"
    ctx.source.close()


def test_each_logical_date_archives_its_own_day_and_a_run_after_an_outage_catches_up(
    connections: MySqlSchema, s3_endpoint: Any, s3_bucket: str, tmp_path: Path, dag_file: Any
) -> None:
    """Runs for 16 and 17 archive 15 and 16; the runs for 18..20 never happen (an outage, a
    paused DAG); the run for 21 archives 20 and its catch_up task the missed 17..19, each
    verified, so no gap waits for the purge two months later. Later runs catch up nothing."""
    schema = connections
    fill_days(schema, dt.date(2026, 11, 15), 10)  # 2026-11-15 .. 2026-11-24
    dag = dag_file(
        factory_dag(archive_config(tmp_path, s3_bucket), "dbarchive_days"), "dbarchive_days"
    )
    ctx = archive_context(tmp_path / "archive.toml", schema, s3_endpoint)
    caught_up = {}
    for day in (16, 17, 21, 22, 23):
        run = run_dag(dag, dt.datetime(2026, 11, day, tzinfo=dt.UTC))
        assert run.state == "success"
        caught_up[day] = _xcom(run, "events.catch_up")["days"]
    archived = sorted(
        d for d in (dt.date(2026, 11, i) for i in range(10, 26)) if day_manifest(ctx, d)
    )
    assert archived == [dt.date(2026, 11, i) for i in range(15, 23)]
    assert caught_up == {16: [], 17: [], 21: ["2026-11-17", "2026-11-18", "2026-11-19"], 22: [],
                         23: []}  # fmt: skip
    for day in (17, 18, 19):
        assert verify_day(ctx, ctx.job.tables[0], dt.date(2026, 11, day)).ok
    ctx.source.close()


def _xcom(run: Any, task_id: str) -> Any:
    (ti,) = [ti for ti in run.get_task_instances() if ti.task_id == task_id]
    return ti.xcom_pull(task_ids=task_id)


def _reschedules() -> int:
    """Rescheduled task tries recorded in Airflow's database (the same table on 2.11 and 3)."""
    from airflow.models.taskreschedule import TaskReschedule
    from airflow.utils.session import create_session
    from sqlalchemy import func, select

    with create_session() as session:
        return int(session.scalar(select(func.count()).select_from(TaskReschedule)) or 0)


def test_a_run_before_its_day_has_settled_waits_then_archives_it(
    connections: MySqlSchema,
    s3_endpoint: Any,
    s3_bucket: str,
    tmp_path: Path,
    dag_file: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The run for 11-25 starts at 00:09:58, before 11-24 has settled (10 minutes): its settle
    sensor is rescheduled — the run does not fail — and the export starts once the day has
    settled. The clock (DBARCHIVE_NOW) moves on by one second at every reading."""
    schema = connections
    fill_days(schema, dt.date(2026, 11, 20), 5)  # 2026-11-20 .. 2026-11-24
    monkeypatch.setenv("DBARCHIVE_NOW", "2026-11-25T00:09:58+00:00")
    monkeypatch.setenv("DBARCHIVE_NOW_STEP", "1")
    config = archive_config(tmp_path, s3_bucket)
    dag = dag_file(factory_dag(config, "dbarchive_settle"), "dbarchive_settle")
    before = _reschedules()
    run = run_dag(dag, RUN_DATE)
    assert run.state == "success"
    assert _reschedules() > before, "the settle sensor waited (was rescheduled)"
    states = {ti.task_id: str(ti.state) for ti in run.get_task_instances()}
    assert states["events.settle"].endswith("success"), states
    monkeypatch.delenv("DBARCHIVE_NOW")
    ctx = archive_context(config, schema, s3_endpoint)
    manifest = day_manifest(ctx, dt.date(2026, 11, 24))
    ctx.source.close()
    assert manifest is not None and manifest.rows == PER_DAY
    assert manifest.started_at >= "2026-11-25T00:10:00+00:00", "exported only once settled"


def test_failure_notifies_once_and_deletes_nothing(
    connections: MySqlSchema, tmp_path: Path, dag_file: Any, webhook: WebhookReceiver
) -> None:
    """A missing bucket fails the run, posts one message naming table, day and step; no delete."""
    schema = connections
    fill_days(schema, dt.date(2026, 9, 1), 10)  # all expired by 2026-11-25
    config = archive_config(tmp_path, f"missing-{uuid.uuid4().hex[:8]}")
    dag = dag_file(
        factory_dag(config, "dbarchive_fail", f"notifier=WebhookNotifier(url={webhook.url!r})"),
        "dbarchive_fail",
    )
    run = run_dag(dag, RUN_DATE)
    assert run.state == "failed"
    assert len(webhook.messages) == 1
    text = webhook.messages[0]["text"]
    # The first task that reaches S3 is catch_up (it runs before the day's export).
    assert "table events, day 2026-11-24, step catch_up — bucket" in text
    assert "does not exist" in text
    assert f"run {run.run_id}, try 1, not retried (a permanent error)" in text
    assert "log: http" in text and "events.catch_up" in text.rpartition("log: ")[2]
    assert schema.execute("SELECT COUNT(*) FROM events")[0][0] == 10 * PER_DAY


def test_example_dag_imports_and_runs(
    connections: MySqlSchema, s3_endpoint: Any, s3_bucket: str, tmp_path: Path, airflow_home: AirflowHome,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """The example DAG file parses with the expected tasks and, pointed at the test bed, runs."""
    schema = connections
    fill_days(schema, dt.date(2026, 11, 20), 5)
    config = tmp_path / "archive.toml"
    config.write_text(
        (EXAMPLES / "archive.toml")
        .read_text()
        .replace("s3://acme-mysql-archive/prod", f"s3://{s3_bucket}/prod")
    )
    monkeypatch.setenv("DBARCHIVE_CONFIG", str(config))
    target = airflow_home.dags / "dbarchive_example_dag.py"
    shutil.copy(EXAMPLES / "dbarchive_dag.py", target)
    try:
        dag = airflow_home.load_dag("dbarchive")
        assert sorted(t.task_id for t in dag.tasks) == sorted(
            f"{table}.{step}"
            for table in ("payment_events", "api_request_log")
            for step in ("settle", "catch_up", "export", "verify", "purge")
        )
        assert dag.max_active_runs == 1
        pools = {t.pool for t in dag.tasks if not t.task_id.endswith(".settle")}
        assert pools == {"dbarchive"}  # the settle sensors read no database: default_pool
        assert {t.pool for t in dag.tasks if t.task_id.endswith(".settle")} == {"default_pool"}
        schema.execute("RENAME TABLE events TO payment_events")
        schema.execute(
            LOG_TABLE_DDL.replace("`events`", "api_request_log").replace(
                "created_at", "requested_at"
            )
        )
        assert run_dag(dag, RUN_DATE).state == "success"
    finally:
        target.unlink()


def test_broken_config_fails_the_dag_import_with_its_message(
    airflow_home: AirflowHome, tmp_path: Path
) -> None:
    """A config error surfaces as the DAG file's import error, with the config's own message."""
    from tests.integration.airflow_fixtures import dagbag_class

    DagBag = dagbag_class()
    bad = tmp_path / "bad.toml"
    bad.write_text(
        '[destination]\nurl = "s3://b/p"\n[defaults]\ncompression = "lz4"\n[[tables]]\nname = "t"\ntimestamp_column = "ts"\n'
    )
    path = airflow_home.write_dag("broken_dag", factory_dag(bad, "broken"))
    try:
        errors = DagBag(str(airflow_home.dags)).import_errors
        assert any("defaults.compression" in message for message in errors.values()), errors
    finally:
        path.unlink()


def test_parsing_the_dag_touches_nothing(
    airflow_home: AirflowHome, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Parse time reads the config only: no DB or S3 (both unreachable here), no env changes."""
    monkeypatch.setenv(
        "AIRFLOW_CONN_MYSQL_DEFAULT",
        json.dumps({"conn_type": "mysql", "host": "127.0.0.1", "port": 1}),
    )
    config = tmp_path / "archive.toml"
    config.write_text('[destination]\nurl = "s3://nowhere/p"\nendpoint_url = "http://127.0.0.1:1"\n'
                      '[[tables]]\nname = "t"\ntimestamp_column = "ts"\n')  # fmt: skip
    before = dict(os.environ)
    path = airflow_home.write_dag("parse_only", factory_dag(config, "parse_only"))
    try:
        dag = airflow_home.load_dag("parse_only")
        assert [t.task_id for t in dag.tasks] == [
            "t.settle", "t.catch_up", "t.export", "t.verify", "t.purge"
        ]  # fmt: skip
        assert dict(os.environ) == before
    finally:
        path.unlink()


def _leaks(data: bytes, secrets: list[str]) -> list[str]:
    from urllib.parse import quote

    forms = {form for s in secrets for form in (s, quote(s, safe=""), quote(s))}
    return sorted(form for form in forms if form.encode() in data)


def test_airflow_task_logs_hold_no_secret(
    connections: MySqlSchema,
    airflow_home: AirflowHome,
    s3_endpoint: Any,
    s3_bucket: str,
    tmp_path: Path,
    dag_file: Any,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """A run whose MySQL connection holds a canary password (and its AWS connection the S3
    secret), at DEBUG: no log record, task log file, XCom or archived object holds either,
    raw or URL-encoded."""
    import logging

    schema = connections
    password = f"Cn@ry/pw:%41 {uuid.uuid4().hex[:12]}"
    user = f"dbat_{uuid.uuid4().hex[:10]}"
    schema.execute(f"CREATE USER '{user}'@'127.0.0.1' IDENTIFIED BY %s", (password,))
    try:
        schema.execute(f"GRANT SELECT, DELETE ON `{schema.name}`.* TO '{user}'@'127.0.0.1'")
        mysql = {"conn_type": "mysql", "host": "127.0.0.1", "port": 3306, "login": user,
                 "password": password, "schema": schema.name}  # fmt: skip
        monkeypatch.setenv("AIRFLOW_CONN_MYSQL_DEFAULT", json.dumps(mysql))
        fill_days(schema, dt.date(2026, 9, 20), 66)
        dag = dag_file(factory_dag(archive_config(tmp_path, s3_bucket), "dbarchive_canary"),
                       "dbarchive_canary")  # fmt: skip
        with caplog.at_level(logging.DEBUG):
            run = run_dag(dag, RUN_DATE)
        assert run.state == "success"
        xcoms = [repr(ti.xcom_pull(task_ids=ti.task_id)) for ti in run.get_task_instances()]
    finally:
        schema.execute(f"DROP USER IF EXISTS '{user}'@'127.0.0.1'")
    out, err = capfd.readouterr()
    secrets = [password, s3_endpoint.secret_key]
    found = {"log records": _leaks(caplog.text.encode(), secrets),
             "stdout/stderr": _leaks((out + err).encode(), secrets),
             "xcom": _leaks("\n".join(xcoms).encode(), secrets)}  # fmt: skip
    for path in (airflow_home.home / "logs").rglob("*"):
        if path.is_file():
            found[str(path)] = _leaks(path.read_bytes(), secrets)
    ctx = archive_context(archive_config(tmp_path, s3_bucket), schema, s3_endpoint)
    for obj in ctx.storage.list_objects(""):
        found[obj.key] = _leaks(ctx.storage.get_bytes(obj.key) or b"", secrets)
    ctx.source.close()
    assert {k: v for k, v in found.items() if v} == {}
    assert len(caplog.text) > 10_000  # DEBUG really was on
