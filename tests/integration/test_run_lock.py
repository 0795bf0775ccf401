"""The run lock's ownership check (``sources/lock.py``) against the real MariaDB; the runs that
lose it mid-purge or mid-export are in ``tests/reliability/test_run_lock.py``."""

from __future__ import annotations

from pathlib import Path

import pytest

from dbarchive import build_context
from dbarchive.context import Context
from dbarchive.errors import AlreadyRunning, RunLockLost
from dbarchive.sources.lock import lock_name
from tests.integration.helpers import LOG_TABLE_DDL, make_job
from tests.integration.mysql_fixtures import MySqlSchema, mysql_schema  # noqa: F401


def _ctx(schema: MySqlSchema, tmp_path: Path) -> Context:
    spec = {"name": "events", "timestamp_column": "created_at"}
    return build_context(make_job(schema.url, str(tmp_path), [spec]))


def test_a_run_whose_lock_session_was_killed_knows_it_lost_the_lock(
    mysql_schema: MySqlSchema, tmp_path: Path
) -> None:
    """Held: the check passes. KILL of the lock's session, another session takes the lock: the
    check raises RunLockLost (exit 8, an AlreadyRunning) naming both sessions."""
    mysql_schema.execute(LOG_TABLE_DDL)
    ctx = _ctx(mysql_schema, tmp_path)
    info = ctx.describe(ctx.job.tables[0])
    source = ctx.source
    name = lock_name(mysql_schema.name, "events")
    source.lock_table(info)
    source.check_run_lock(info)
    (ours,) = mysql_schema.execute("SELECT IS_USED_LOCK(%s)", (name,))[0]
    mysql_schema.execute(f"KILL CONNECTION {int(ours)}")
    assert mysql_schema.execute("SELECT GET_LOCK(%s, 60)", (name,))[0][0] == 1  # once freed
    (mine,) = mysql_schema.execute("SELECT CONNECTION_ID()")[0]
    try:
        with pytest.raises(RunLockLost, match="lost the run lock") as lost:
            source.check_run_lock(info)
        assert isinstance(lost.value, AlreadyRunning) and lost.value.exit_code == 8
        assert f"session {ours} ended" in str(lost.value)
        assert f"session {mine} holds it now" in str(lost.value)
    finally:
        mysql_schema.execute("SELECT RELEASE_LOCK(%s)", (name,))
    with pytest.raises(RunLockLost, match="nobody holds it now"):
        source.check_run_lock(info)
    source.close()


def test_a_worker_that_never_took_the_lock_is_not_stopped_by_it(
    mysql_schema: MySqlSchema, tmp_path: Path
) -> None:
    """Airflow unit tasks and backfill workers share a day on purpose and take no lock: another
    session holding the table's lock does not stop their chunks."""
    mysql_schema.execute(LOG_TABLE_DDL)
    ctx = _ctx(mysql_schema, tmp_path)
    info = ctx.describe(ctx.job.tables[0])
    name = lock_name(mysql_schema.name, "events")
    assert mysql_schema.execute("SELECT GET_LOCK(%s, 0)", (name,))[0][0] == 1
    try:
        ctx.source.check_run_lock(info)
    finally:
        mysql_schema.execute("SELECT RELEASE_LOCK(%s)", (name,))
        ctx.source.close()
