"""Failing fast and telling the on-call (issue 21, section 3), with dag.test() against MariaDB + S3.

A permanent error (missing bucket, unknown table or column, a list too long to map) fails its
task at the first try whatever ``retries`` says; a transient one (the table's run lock held by
another run) is retried. Every task logs one summary line.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from pathlib import Path
from typing import Any

import pytest

from dbarchive.sources.lock import lock_name
from tests.integration.airflow_fixtures import (  # noqa: F401
    AIRFLOW_WARNINGS,
    PER_DAY,
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


def _retrying_dag(config: Path, dag_id: str, factory: str = "build_dag", extra: str = "") -> str:
    """A DAG whose tasks have 2 retries, without a delay (dag.test retries at once)."""
    return (
        "import datetime as dt\n"
        f"from dbarchive.airflow import WebhookNotifier, {factory}\n"
        f"dag = {factory}({str(config)!r}, dag_id={dag_id!r}, retries=2, "
        f"retry_delay=dt.timedelta(0), {extra})\n"
    )


def _tries(run: Any) -> dict[str, tuple[str, int]]:
    """task id -> (state, try number) of every task instance of ``run`` (map index -1 or 0)."""
    return {
        ti.task_id: (str(ti.state).rpartition(".")[2], ti.try_number)
        for ti in run.get_task_instances()
        if ti.map_index in (-1, 0)
    }


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("missing bucket", "does not exist; dbarchive does not create buckets"),
        ("missing table", "does not exist (or the user cannot see it)"),
        ("missing column", "has no column 'made_at' (timestamp_column)"),
    ],
)
def test_a_permanent_error_fails_at_the_first_try(
    case: str,
    expected: str,
    connections: MySqlSchema,
    s3_bucket: str,
    tmp_path: Path,
    dag_file: Any,
    webhook: WebhookReceiver,
) -> None:
    """With retries=2, a missing bucket, table or column fails its task once (try 1, failed,
    not up_for_retry) with the error's own sentence, posted once; nothing is deleted."""
    schema = connections
    fill_days(schema, dt.date(2026, 9, 1), 3)
    bucket = f"missing-{uuid.uuid4().hex[:8]}" if case == "missing bucket" else s3_bucket
    config = archive_config(tmp_path, bucket)
    if case == "missing table":
        config.write_text(config.read_text().replace('name = "events"', 'name = "no_such"'))
    if case == "missing column":
        config.write_text(config.read_text().replace('"created_at"', '"made_at"'))
    dag_id = f"fail_fast_{case.replace(' ', '_')}"
    notifier = f"notifier=WebhookNotifier(url={webhook.url!r})"
    run = run_dag(dag_file(_retrying_dag(config, dag_id, extra=notifier), dag_id), RUN_DATE)
    assert run.state == "failed"
    table = "no_such" if case == "missing table" else "events"
    state, tries = _tries(run)[f"{table}.catch_up"]
    assert (state, tries) == ("failed", 1), "a permanent error is not retried"
    assert schema.execute("SELECT COUNT(*) FROM events")[0][0] == 3 * PER_DAY
    (message,) = (m["text"] for m in webhook.messages)
    assert f"table {table}, day 2026-11-24, step catch_up" in message
    assert expected in message and "permanent, not retried" in message
    assert "try 1, not retried (a permanent error)" in message and "try 1 of 3" not in message


def test_a_transient_error_keeps_its_retries(
    connections: MySqlSchema, s3_bucket: str, tmp_path: Path, dag_file: Any
) -> None:
    """Another run holds the table's run lock (AlreadyRunning, exit 8): the export is tried
    three times (retries=2) before the run fails."""
    schema = connections
    fill_days(schema, dt.date(2026, 11, 24), 1)
    (held,) = schema.execute("SELECT GET_LOCK(%s, 0)", (lock_name(schema.name, "events"),))[0]
    assert held == 1
    try:
        dag = dag_file(_retrying_dag(archive_config(tmp_path, s3_bucket), "transient"), "transient")
        run = run_dag(dag, RUN_DATE)
    finally:
        schema.execute("SELECT RELEASE_LOCK(%s)", (lock_name(schema.name, "events"),))
    assert run.state == "failed"
    tries = _tries(run)
    assert tries["events.catch_up"] == ("success", 1)
    assert tries["events.export"] == ("failed", 3), "a transient error is retried"


def test_a_list_longer_than_max_map_length_fails_at_once_with_the_fix(
    connections: MySqlSchema,
    s3_bucket: str,
    tmp_path: Path,
    dag_file: Any,
    monkeypatch: pytest.MonkeyPatch,
    webhook: WebhookReceiver,
) -> None:
    """The backfill's ``days`` task finds 25 days (09-01 .. 09-25, the day before the cutoff),
    more than max_map_length = 4: it fails at try 1 saying how to split the run, instead of
    Airflow's own error after three tries."""
    schema = connections
    fill_days(schema, dt.date(2026, 9, 1), 6)
    monkeypatch.setenv("AIRFLOW__CORE__MAX_MAP_LENGTH", "4")
    notifier = f"notifier=WebhookNotifier(url={webhook.url!r})"
    source = _retrying_dag(
        archive_config(tmp_path, s3_bucket), "map_length", "build_backfill_dag", notifier
    )
    run = run_dag(dag_file(source, "map_length"), RUN_DATE)
    assert run.state == "failed"
    assert _tries(run)["events.days"] == ("failed", 1)
    (message,) = (m["text"] for m in webhook.messages)
    assert "step days — 25 days to map over, more than [core] max_map_length = 4" in message
    assert "day oldest .. cutoff" in message
    assert "give the params from/to a shorter range" in message


def test_every_task_logs_one_summary_line(
    connections: MySqlSchema,
    s3_bucket: str,
    tmp_path: Path,
    dag_file: Any,
    webhook: WebhookReceiver,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """The run's task logs each hold one ``dbarchive summary:`` line with what the task did."""
    schema = connections
    fill_days(schema, dt.date(2026, 11, 20), 5)  # ids 1..200, 40 a day
    config = archive_config(tmp_path, s3_bucket)
    config.write_text(config.read_text().replace('retention = "60 days"', 'retention = "3 days"'))
    notifier = f"notifier=WebhookNotifier(url={webhook.url!r}), notify_success=True"
    dag = dag_file(_retrying_dag(config, "summaries", extra=notifier), "summaries")
    with caplog.at_level(logging.INFO):
        run = run_dag(dag, RUN_DATE)
    assert run.state == "success"
    out, err = capfd.readouterr()
    logged = {
        line[line.index("dbarchive summary:") :].split("[")[0].strip().strip("'\"")
        for line in (caplog.text + out + err).splitlines()
        if "dbarchive summary:" in line
    }
    lines = {task: [line for line in logged if f"step={task} " in line]
             for task in ("settle", "catch_up", "export", "verify", "purge", "report")}  # fmt: skip
    assert {task: len(found) for task, found in lines.items()} == dict.fromkeys(lines, 1)
    (export,) = lines["export"]
    assert "step=export table=events day=2026-11-24 rows=40 bytes=" in export
    assert "files=1 key_range=161..200" in export and "throttled_s=" in export
    (verify,) = lines["verify"]
    assert "step=verify table=events day=2026-11-24 rows=40 files=1 verified=yes" in verify
    (purge,) = lines["purge"]
    assert (
        "step=purge table=events days=2026-11-20,2026-11-21 verified=yes rows_deleted=80" in purge
    )
    (catch_up,) = lines["catch_up"]
    assert "step=catch_up table=events days=2026-11-22,2026-11-23 rows=80" in catch_up
    assert lines["report"] == ["dbarchive summary: step=report tables=events sent=yes"]
    (message,) = webhook.messages  # the success message names the caught-up days too
    assert "events: archived 2026-11-24 (40 rows" in message["text"]
    assert "caught up 2 earlier day(s) (80 rows); purged 2 day(s), 80 rows" in message["text"]


def _client_error(code: str, status: int) -> Exception:
    from botocore.exceptions import ClientError

    return ClientError({"Error": {"Code": code, "Message": "m"},
                        "ResponseMetadata": {"HTTPStatusCode": status}}, "PutObject")  # fmt: skip


def _caused(error: Exception, cause: Exception) -> Exception:
    error.__cause__ = cause
    return error


def _source_error(code: int | None) -> Exception:
    from dbarchive.errors import SourceError

    error = SourceError("x")
    error.mysql_code = code
    return error


def _cases() -> list[tuple[str, Any, bool]]:
    """(name, a factory of the error, permanent?) — the mapping's table, row by row."""
    from botocore.exceptions import EndpointConnectionError, NoCredentialsError

    from dbarchive.airflow.failures import MapTooLong
    from dbarchive.errors import (
        AlreadyRunning,
        ConfigError,
        DayNotSettled,
        NoUsableKeyError,
        ReplicaBehind,
        StopRequested,
        StorageError,
        VerificationError,
    )
    from dbarchive.throttle import CriticalLoad

    def storage(cause: Exception) -> Any:
        return lambda: _caused(StorageError("x"), cause)

    return [
        ("config", lambda: ConfigError("x"), True),
        ("map length", lambda: MapTooLong("x"), True),
        ("day not settled", lambda: DayNotSettled("x"), False),
        ("unknown table (no server code)", lambda: _source_error(None), True),
        ("no usable key", lambda: NoUsableKeyError("x"), True),
        ("access denied 1045", lambda: _source_error(1045), True),
        ("unknown column 1054", lambda: _source_error(1054), True),
        ("no such table 1146", lambda: _source_error(1146), True),
        ("TLS 2026", lambda: _source_error(2026), True),
        ("connection lost 2013", lambda: _source_error(2013), False),
        ("unreachable 2003", lambda: _source_error(2003), False),
        ("lock wait 1205", lambda: _source_error(1205), False),
        ("deadlock 1213", lambda: _source_error(1213), False),
        ("NoSuchBucket", storage(_client_error("NoSuchBucket", 404)), True),
        ("AccessDenied", storage(_client_error("AccessDenied", 403)), True),
        ("InvalidAccessKeyId", storage(_client_error("InvalidAccessKeyId", 403)), True),
        ("no credentials", storage(NoCredentialsError()), True),
        ("SlowDown", storage(_client_error("SlowDown", 503)), False),
        ("InternalError", storage(_client_error("InternalError", 500)), False),
        ("endpoint unreachable", storage(EndpointConnectionError(endpoint_url="http://x")), False),
        ("a missing object", storage(_client_error("NoSuchKey", 404)), False),
        ("verification", lambda: VerificationError("x"), False),
        ("stopped", lambda: StopRequested("x"), False),
        ("critical load", lambda: CriticalLoad("x"), False),
        ("already running", lambda: AlreadyRunning("x"), False),
        ("replica behind", lambda: ReplicaBehind("x"), False),
    ]


def test_the_mapping_of_the_error_tree(airflow_home: AirflowHome) -> None:
    """Each cause of failure, as the core raises it, is permanent or transient as the table in
    failures.py says; a permanent one becomes AirflowFailException carrying the message."""
    from dbarchive.airflow._compat import AirflowFailException
    from dbarchive.airflow.failures import failing_fast, is_permanent

    found = {name: is_permanent(make()) for name, make, _ in _cases()}
    assert found == {name: permanent for name, _, permanent in _cases()}
    for name, make, permanent in _cases():
        error = make()
        expected = AirflowFailException if permanent else type(error)
        with pytest.raises(expected) as raised, failing_fast():
            raise error
        assert ("permanent, not retried" in str(raised.value)) is permanent, name


def test_a_purge_refused_for_a_missing_grant_fails_at_once(
    airflow_home: AirflowHome, mysql_schema: MySqlSchema, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """A login without DELETE: the purge's report kept only exit code 3, which Airflow retried
    (an outside trial: the page came three tries late). The report keeps the error's cause, so
    the operator's error is as permanent as its cause; a lost connection is still retried."""
    from dbarchive import api
    from dbarchive.airflow.failures import is_permanent, report_error
    from dbarchive.errors import SourceError
    from tests.integration.helpers import LOG_TABLE_DDL, fill_events, make_job

    mysql_schema.execute(LOG_TABLE_DDL)
    fill_events(mysql_schema, "2026-09-01", 10)
    user, password = f"dbat_{uuid.uuid4().hex[:10]}", uuid.uuid4().hex
    mysql_schema.execute(f"CREATE USER '{user}'@'127.0.0.1' IDENTIFIED BY %s", (password,))
    try:
        mysql_schema.execute(f"GRANT SELECT ON `{mysql_schema.name}`.* TO '{user}'@'127.0.0.1'")
        monkeypatch.setenv("DBARCHIVE_MYSQL_PASSWORD", password)
        url = f"mysql://{user}@127.0.0.1:3306/{mysql_schema.name}"
        table = {"name": "events", "timestamp_column": "created_at", "retention": "30 days"}
        (report,) = api.purge(make_job(url, str(tmp_path / "archive"), [table]))
    finally:
        mysql_schema.execute(f"DROP USER IF EXISTS '{user}'@'127.0.0.1'")
    (failure,) = report.failures
    assert isinstance(failure.error, SourceError) and failure.error.mysql_code == 1142
    error = report_error(report.errors, [failure.exit_code], [failure.error])
    assert is_permanent(error) and "DELETE command denied" in str(error)

    lost = SourceError("lost the connection")
    lost.mysql_code = 2013
    assert not is_permanent(report_error(["a", "b"], [3, 3], [failure.error, lost]))
    assert not is_permanent(report_error(["a"], [3]))  # no cause kept: by exit code
