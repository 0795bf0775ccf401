"""The source's retry policy (``sources/retry.py``) against the real MariaDB: a read whose session
is killed runs again on a new one; a statement inside a transaction never does."""

from __future__ import annotations

import pytest

from dbarchive.config import SourceSettings
from dbarchive.errors import SourceError
from dbarchive.sources import retry
from dbarchive.sources.mysql import MySqlSource
from tests.integration.mysql_fixtures import ROOT_URL, MySqlSchema, mysql_schema  # noqa: F401


def _source(db: MySqlSchema) -> MySqlSource:
    db.execute("CREATE TABLE t (id INT PRIMARY KEY, v INT NOT NULL)")
    db.execute("INSERT INTO t VALUES (1, 10), (2, 20)")
    return MySqlSource(SourceSettings(url=f"{ROOT_URL}/{db.name}"))


def _kill_session_of(db: MySqlSchema, source: MySqlSource) -> None:
    db.execute(f"KILL CONNECTION {int(source.connect().thread_id())}")


def test_a_read_whose_session_was_killed_runs_again_on_a_new_one(
    mysql_schema: MySqlSchema,
) -> None:
    source = _source(mysql_schema)
    _kill_session_of(mysql_schema, source)
    assert source.query("SELECT COUNT(*) FROM t") == [(b"2",)]
    assert (source.counters.retries, source.counters.reconnects) == (1, 1)
    source.close()


def test_a_statement_inside_a_transaction_is_never_run_again_on_a_new_session(
    mysql_schema: MySqlSchema,
) -> None:
    """The transaction (and its row locks) died with the session. Running the locking read again
    would run it on a new session in autocommit: its FOR UPDATE locks nothing, and the purge
    chunk would go on to DELETE rows another session may have changed since, committed at once,
    past any rollback. So the error reaches the chunk's owner, which rolls back and redoes the
    chunk; then the session works again."""
    source = _source(mysql_schema)
    source.begin()
    _kill_session_of(mysql_schema, source)
    with pytest.raises(SourceError) as lost:
        source.query("SELECT id, v FROM t WHERE id = 1 FOR UPDATE", what="locking a purge chunk")
    assert lost.value.mysql_code in retry.CONNECTION_LOST
    assert source.counters.retries == 0
    # said as what it is (it said "cannot reach MySQL …; is the server running?": an outside
    # trial's restore, whose session it had KILLed, the server up)
    assert "lost the session to MySQL at" in str(lost.value)
    assert "while locking a purge chunk" in str(lost.value)
    assert "is the server running" not in str(lost.value)
    source.rollback()
    source.begin()
    assert source.query("SELECT v FROM t WHERE id = 1 FOR UPDATE") == [(b"10",)]
    source.rollback()
    source.close()
