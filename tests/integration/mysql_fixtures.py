"""MySQL fixtures: the real MariaDB on 127.0.0.1:3306, one fresh schema per test, dropped after."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import MySQLdb
import pytest

ROOT_URL = os.environ.get("DBARCHIVE_TEST_MYSQL_URL", "mysql://root@127.0.0.1:3306")


@dataclass
class MySqlSchema:
    """A throwaway database on the test server, with a helper to run SQL in it."""

    name: str
    conn: Any

    @property
    def url(self) -> str:
        return f"{ROOT_URL}/{self.name}"

    def execute(self, sql: str, params: Any = None) -> list[tuple[Any, ...]]:
        with self.conn.cursor() as cur:
            cur.execute(sql, params)
            return list(cur.fetchall())

    def executemany(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        with self.conn.cursor() as cur:
            cur.executemany(sql, rows)


def _connect(database: str | None = None) -> Any:
    from dbarchive.config import SourceSettings

    args = SourceSettings(url=f"{ROOT_URL}/{database or 'mysql'}").connect_args()
    if database is None:
        args.pop("database")
    try:
        return MySQLdb.connect(**args, charset="utf8mb4", autocommit=True)
    except MySQLdb.OperationalError as exc:
        pytest.fail(
            f"the test MySQL at {ROOT_URL} is not reachable ({exc}); start it with "
            "`start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd`"
        )


@pytest.fixture
def mysql_schema() -> Iterator[MySqlSchema]:
    """A fresh, empty database for one test; dropped afterwards."""
    name = f"dbat_{uuid.uuid4().hex[:12]}"
    admin = _connect()
    with admin.cursor() as cur:
        cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
    conn = _connect(name)
    try:
        yield MySqlSchema(name, conn)
    finally:
        conn.close()
        with admin.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
        admin.close()
