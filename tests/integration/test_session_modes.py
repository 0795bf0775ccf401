"""Every session dbarchive opens leaves out the sql_mode flags that change what its statements
mean or what a value reads as, whatever the server's default (an outside trial's question: a
server-wide PAD_CHAR_TO_FULL_LENGTH would archive CHAR values padded, ANSI_QUOTES would read a
quoted string as a name). The server's default cannot be changed here (other tests share it), so
a session is given those flags first, then the setup every session runs."""

from __future__ import annotations

import pytest

from dbarchive.sources.mysql_sql import SESSION_SETUP
from tests.integration.mysql_fixtures import MySqlSchema, mysql_schema  # noqa: F401

pytestmark = pytest.mark.integration

SERVER_DEFAULT = "ANSI,PAD_CHAR_TO_FULL_LENGTH,NO_BACKSLASH_ESCAPES,STRICT_TRANS_TABLES"


def test_the_session_setup_drops_the_flags_that_change_reads_and_keeps_the_rest(
    mysql_schema: MySqlSchema,
) -> None:
    mysql_schema.execute("CREATE TABLE c (id INT PRIMARY KEY, code CHAR(6))")
    mysql_schema.execute("INSERT INTO c VALUES (1, 'ab')")
    mysql_schema.execute(f"SET SESSION sql_mode = '{SERVER_DEFAULT}'")
    assert mysql_schema.execute("SELECT code FROM c") == [("ab    ",)]  # padded: the trap

    mysql_schema.execute(SESSION_SETUP)
    modes = set(mysql_schema.execute("SELECT @@SESSION.sql_mode")[0][0].split(","))
    assert not modes & {"ANSI", "ANSI_QUOTES", "PAD_CHAR_TO_FULL_LENGTH", "NO_BACKSLASH_ESCAPES"}
    assert "STRICT_TRANS_TABLES" in modes and "PIPES_AS_CONCAT" in modes  # the rest kept
    assert mysql_schema.execute('SELECT code, "x" FROM c') == [("ab", "x")]  # a string again
    assert mysql_schema.execute("SELECT @@SESSION.time_zone") == [("+00:00",)]

    for combined in ("ORACLE", "MSSQL,NO_BACKSLASH_ESCAPES", "POSTGRESQL", "DB2", "MAXDB"):
        mysql_schema.execute(f"SET SESSION sql_mode = '{combined}'")  # each implies ANSI_QUOTES
        mysql_schema.execute(SESSION_SETUP)
        modes = set(mysql_schema.execute("SELECT @@SESSION.sql_mode")[0][0].split(","))
        assert "ANSI_QUOTES" not in modes and combined.split(",")[0] not in modes, combined
        assert mysql_schema.execute('SELECT "x"') == [("x",)], combined

    mysql_schema.execute("SET SESSION sql_mode = ''")
    mysql_schema.execute(SESSION_SETUP)  # an empty mode stays empty
    assert mysql_schema.execute("SELECT @@SESSION.sql_mode") == [("",)]
