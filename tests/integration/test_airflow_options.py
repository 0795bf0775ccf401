"""What ``build_dag`` passes through to Airflow (issue 21, section 3): default_args, the task
timeout derived from ``max_runtime``, callbacks beside the notifier, dagrun_timeout, tags and
other DAG arguments, and ``sla`` where the Airflow version has SLAs."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.integration.airflow_fixtures import (  # noqa: F401
    AIRFLOW_WARNINGS,
    RUN_DATE,
    AirflowHome,
    WebhookReceiver,
    airflow_home,
    archive_config,
    connections,
    dag_file,
    fill_days,
    run_dag,
    webhook,
)
from tests.integration.mysql_fixtures import MySqlSchema, mysql_schema  # noqa: F401

pytestmark = [pytest.mark.timeout(300), *AIRFLOW_WARNINGS]


def _config_text(max_runtime: str = "") -> str:
    throttle = f"[throttle]\nmax_runtime = {max_runtime}\n" if max_runtime else ""
    return (
        f'[destination]\nurl = "/unused"\n{throttle}'
        '[[tables]]\nname = "events"\ntimestamp_column = "created_at"\n'
    )


def _parse(airflow_home: AirflowHome, tmp_path: Path, arguments: str, max_runtime: str = "") -> Any:
    config = tmp_path / "archive.toml"
    config.write_text(_config_text(max_runtime))
    dag_id = f"options_{uuid.uuid4().hex[:8]}"
    source = (
        "import datetime as dt\n"
        "from dbarchive.airflow import build_dag\n"
        "def page(context): pass\n"
        f"dag = build_dag({str(config)!r}, dag_id={dag_id!r}, {arguments})\n"
    )
    path = airflow_home.write_dag(dag_id, source)
    try:
        return airflow_home.load_dag(dag_id)
    finally:
        path.unlink()


def test_the_task_timeout_is_max_runtime_plus_ten_minutes_unless_given(
    airflow_home: AirflowHome, tmp_path: Path
) -> None:
    """``max_runtime = 3000`` → every working task gets 3000 s + 10 min; the settle sensor
    none (it waits rescheduled); an explicit ``execution_timeout`` wins; no max_runtime, none."""
    dag = _parse(airflow_home, tmp_path, "", max_runtime="3000")
    timeouts = {t.task_id: t.execution_timeout for t in dag.tasks}
    limit = dt.timedelta(seconds=3000) + dt.timedelta(minutes=10)
    assert timeouts == {"events.settle": None, "events.catch_up": limit, "events.export": limit,
                        "events.verify": limit, "events.purge": limit}  # fmt: skip
    given = _parse(airflow_home, tmp_path, "execution_timeout=dt.timedelta(hours=2)", "3000")
    assert given.get_task("events.export").execution_timeout == dt.timedelta(hours=2)
    unset = _parse(airflow_home, tmp_path, "")
    assert unset.get_task("events.export").execution_timeout is None


def test_default_args_dag_arguments_and_tags_pass_through(
    airflow_home: AirflowHome, tmp_path: Path
) -> None:
    """default_args reach every task over dbarchive's own (retries here); dagrun_timeout, tags,
    a description and DAG-level callbacks reach the DAG."""
    dag = _parse(
        airflow_home,
        tmp_path,
        "default_args={'owner': 'data-platform', 'retries': 5, 'email': ['oncall@example.com']}, "
        "dagrun_timeout=dt.timedelta(hours=20), tags=('dbarchive', 'payments'), "
        "description='archive of payments', on_failure_callback=page, "
        "on_success_callback=page",
    )
    for task in dag.tasks:
        assert (task.owner, task.retries, task.email) == (
            "data-platform", 5, ["oncall@example.com"]
        ), task.task_id  # fmt: skip
    assert dag.dagrun_timeout == dt.timedelta(hours=20)
    assert sorted(dag.tags) == ["dbarchive", "payments"]
    assert dag.description == "archive of payments"
    assert dag.has_on_failure_callback and dag.has_on_success_callback


def test_sla_is_set_on_airflow_2_and_refused_on_airflow_3(
    airflow_home: AirflowHome, tmp_path: Path
) -> None:
    """Airflow 2 tasks get the SLA; Airflow 3 has none, and the DAG file fails to import with a
    message pointing to deadline alerts."""
    from dbarchive.airflow._compat import AIRFLOW_V3
    from tests.integration.airflow_fixtures import dagbag_class

    if not AIRFLOW_V3:
        dag = _parse(airflow_home, tmp_path, "sla=dt.timedelta(hours=6)")
        assert {t.sla for t in dag.tasks} == {dt.timedelta(hours=6)}
        return
    config = tmp_path / "archive.toml"
    config.write_text(_config_text())
    path = airflow_home.write_dag(
        "sla_on_3",
        "import datetime as dt\nfrom dbarchive.airflow import build_dag\n"
        f"dag = build_dag({str(config)!r}, dag_id='sla_on_3', sla=dt.timedelta(hours=6))\n",
    )
    try:
        errors = dagbag_class()(str(airflow_home.dags)).import_errors
    finally:
        path.unlink()
    assert any("Airflow 3 has no task SLAs" in e for e in errors.values()), errors


def test_a_failure_calls_the_users_callback_and_the_notifier(
    connections: MySqlSchema,
    tmp_path: Path,
    dag_file: Any,
    webhook: WebhookReceiver,
) -> None:
    """An ``on_failure_callback`` in default_args runs beside the notifier: both hear of the
    failed task once."""
    schema = connections
    fill_days(schema, dt.date(2026, 11, 24), 1)
    config = archive_config(tmp_path, f"missing-{uuid.uuid4().hex[:8]}")
    heard = tmp_path / "heard.jsonl"
    source = (
        "import json\n"
        "from dbarchive.airflow import WebhookNotifier, build_dag\n"
        "def mine(context):\n"
        f"    with open({str(heard)!r}, 'a') as f:\n"
        "        f.write(json.dumps(context['ti'].task_id) + '\\n')\n"
        f"dag = build_dag({str(config)!r}, dag_id='both_callbacks', retries=0, "
        f"notifier=WebhookNotifier(url={webhook.url!r}), "
        "default_args={'on_failure_callback': mine})\n"
    )
    run = run_dag(dag_file(source, "both_callbacks"), RUN_DATE)
    assert run.state == "failed"
    assert [json.loads(line) for line in heard.read_text().splitlines()] == ["events.catch_up"]
    assert len(webhook.messages) == 1 and "step catch_up" in webhook.messages[0]["text"]


def test_the_backfill_dag_takes_the_same_task_arguments(
    airflow_home: AirflowHome, tmp_path: Path
) -> None:
    """build_backfill_dag: the timeout from max_runtime and the user's default_args too."""
    config = tmp_path / "archive.toml"
    config.write_text(_config_text("1200"))
    dag_id = f"options_{uuid.uuid4().hex[:8]}"
    path = airflow_home.write_dag(
        dag_id,
        "from dbarchive.airflow import build_backfill_dag\n"
        f"dag = build_backfill_dag({str(config)!r}, dag_id={dag_id!r}, "
        "default_args={'owner': 'data-platform'}, description='history')\n",
    )
    try:
        dag = airflow_home.load_dag(dag_id)
    finally:
        path.unlink()
    limit = dt.timedelta(seconds=1200) + dt.timedelta(minutes=10)
    assert {(t.owner, t.execution_timeout) for t in dag.tasks} == {("data-platform", limit)}
    assert dag.description == "history"
