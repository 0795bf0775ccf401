"""Reading the redo log's fill from what each server tells (sources/redo_log.py): MariaDB's
status variable, MySQL 8.0.30's pair of LSNs, the LOG section of SHOW ENGINE INNODB STATUS, and
the capacity from each generation's variables."""

from __future__ import annotations

from typing import Any

from dbarchive.sources.probes import HISTORY_METRIC_SQL, STATUS_REUSE, MySqlLoadProbe
from dbarchive.sources.redo_log import (
    AGE_SQL,
    CAPACITY_SQL,
    age_from_innodb_status,
    age_from_status,
    capacity_from_variables,
)

MARIADB_LOG_SECTION = (
    b"---\nLOG\n---\nLog sequence number 2921158500\nLog flushed up to   2921158500\n"
    b"Pages flushed up to 2914690492\nLast checkpoint at  2914690492\n"
    b"----------------------\nBUFFER POOL AND MEMORY\n"
)
MYSQL57_LOG_SECTION = (
    "LOG\n---\nLog sequence number 18446744\nLog flushed up to   18446744\n"
    "Pages flushed up to 18000000\nLast checkpoint at  17000000\n0 pending log flushes\n"
)


def test_checkpoint_age_from_each_servers_status_variables() -> None:
    """MariaDB says the age; MySQL 8.0.30+ says both LSNs (bytes or str, as the driver gives
    them); a server with neither says nothing."""
    assert age_from_status([(b"Innodb_checkpoint_age", b"6468008")]) == 6_468_008
    mysql8 = [("Innodb_redo_log_checkpoint_lsn", "1000"), ("Innodb_redo_log_current_lsn", "5096")]
    assert age_from_status(mysql8) == 4096
    assert age_from_status([("Innodb_redo_log_current_lsn", "5096")]) is None
    assert age_from_status([]) is None


def test_checkpoint_age_from_the_log_section_of_innodb_status() -> None:
    """The fallback: "Log sequence number" minus "Last checkpoint at", not "Pages flushed"."""
    assert age_from_innodb_status(MARIADB_LOG_SECTION) == 2921158500 - 2914690492
    assert age_from_innodb_status(MYSQL57_LOG_SECTION) == 18446744 - 17000000
    assert age_from_innodb_status(b"Log sequence number 10\n") is None


def test_capacity_from_each_generations_variables() -> None:
    """MySQL 8.0.30+ sizes the log by innodb_redo_log_capacity (its innodb_log_file_size is a
    leftover); MySQL 5.7/8.0 by file size x files; MariaDB 10.5+ has one file."""
    mysql8 = [
        ("innodb_log_file_size", "50331648"),
        ("innodb_log_files_in_group", "2"),
        ("innodb_redo_log_capacity", "104857600"),
    ]
    assert capacity_from_variables(mysql8) == 104_857_600
    mysql57 = [(b"innodb_log_file_size", b"50331648"), (b"innodb_log_files_in_group", b"2")]
    assert capacity_from_variables(mysql57) == 100_663_296
    assert capacity_from_variables([("innodb_log_file_size", "100663296")]) == 100_663_296
    assert capacity_from_variables([]) is None


class OldMySql:
    """What MySQL 5.7 answers the probe (no redo status variables, the history metric off):
    only SHOW ENGINE INNODB STATUS tells both the history length and the checkpoint age."""

    def __init__(self) -> None:
        self.statements: list[str] = []

    def server_identity(self) -> dict[str, Any]:
        return {}

    def query(self, sql: str, what: str = "") -> list[tuple[Any, ...]]:
        self.statements.append(sql)
        answers: dict[str, list[tuple[Any, ...]]] = {
            CAPACITY_SQL: [
                (b"innodb_log_file_size", b"1000000"),
                (b"innodb_log_files_in_group", b"2"),
            ],
            AGE_SQL: [],
            HISTORY_METRIC_SQL: [(123, 0)],
            "SHOW ENGINE INNODB STATUS": [
                ("InnoDB", "", b"History list length 42\n" + MYSQL57_LOG_SECTION.encode())
            ],
        }
        return answers[sql]


def test_one_innodb_status_read_serves_both_gates_at_a_chunk_boundary() -> None:
    """The history and the redo gates read it one after the other: one read, parsed for both;
    the next boundary (a pause's next second) reads it again."""
    source, now = OldMySql(), [100.0]
    probe = MySqlLoadProbe(source, clock=lambda: now[0])  # type: ignore[arg-type]
    assert probe.history_length() == 42
    assert probe.redo_fill() == (18446744 - 17000000) / 2_000_000
    assert source.statements.count("SHOW ENGINE INNODB STATUS") == 1
    now[0] += STATUS_REUSE + 0.5
    assert probe.history_length() == 42
    assert source.statements.count("SHOW ENGINE INNODB STATUS") == 2
