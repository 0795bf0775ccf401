"""``dbarchive check --grants``: the statements for each kind of configuration (the run with exactly
those grants is tests/reliability/test_privileges.py)."""

from __future__ import annotations

from typing import Any

from dbarchive.build import build_context
from dbarchive.checks.grants import ServerFacts, grant_statements
from dbarchive.config import job_from_dict
from dbarchive.storage.local import LocalStorage


def _statements(facts: ServerFacts, purge: bool = True, **job: Any) -> list[str]:
    data: dict[str, Any] = {
        "source": {"url": "mysql://archiver@db.internal:3306/payments"},
        "destination": {"url": "s3://bucket/prefix"},
        "tables": [
            {"name": "events", "timestamp_column": "created_at"},
            {"name": "audit", "schema": "ops", "timestamp_column": "ts"},
        ],
        **job,
    }
    ctx = build_context(job_from_dict(data), storage=LocalStorage("/nonexistent"))  # never used
    return grant_statements(ctx, list(ctx.job.tables), facts, purge=purge)


def test_export_verify_purge_need_select_and_delete_per_table() -> None:
    """One GRANT per table, to the logged-in account, and REFERENCES once per schema (to see
    the foreign keys to its tables); no grant for the lock or status."""
    facts = ServerFacts({"events": False, "audit": False}, "archiver@10.0.0.%")
    lines = _statements(facts)
    grants = [line for line in lines if line.startswith("GRANT")]
    assert grants == [
        "GRANT SELECT, DELETE ON `payments`.`events` TO 'archiver'@'10.0.0.%';  -- export, "
        "verify, purge",
        "GRANT SELECT, DELETE ON `ops`.`audit` TO 'archiver'@'10.0.0.%';  -- export, verify, purge",
        *(
            f"GRANT REFERENCES ON `{schema}`.* TO 'archiver'@'10.0.0.%';  -- purge: lets it see the "
            "foreign keys referencing its tables (a key ON DELETE CASCADE is refused); reads no data"
            for schema in ("payments", "ops")
        ),
    ]
    assert lines[-1].startswith("-- no grant for the run lock (GET_LOCK)")


def test_export_only_needs_select() -> None:
    """--no-purge: SELECT alone, whatever the partitioning."""
    facts = ServerFacts({"events": False, "audit": False})
    grants = [line for line in _statements(facts, purge=False) if line.startswith("GRANT")]
    assert [g.split(" ON ")[0] for g in grants] == ["GRANT SELECT", "GRANT SELECT"]
    assert all("TO 'archiver'@'%'" in g for g in grants)  # not logged in: the URL's user


def test_a_partitioned_table_adds_what_exchange_partition_needs() -> None:
    """RANGE-partitioned on its timestamp: ALTER, INSERT, CREATE, DROP on it, what its exchange
    clone needs and LOCK TABLES; unknown (this login cannot see the table yet): the same as a
    comment saying when it applies."""
    lines = _statements(ServerFacts({"events": True, "audit": None}))
    assert lines[1].startswith(
        "GRANT SELECT, DELETE, ALTER, INSERT, CREATE, DROP ON `payments`.`events` TO "
    )
    assert lines[2].startswith(
        "GRANT SELECT, INSERT, DELETE, CREATE, DROP, ALTER ON `payments`.`_dbarchive_x_events` TO "
    )  # the exchange's clone
    assert lines[3].startswith("GRANT LOCK TABLES ON `payments`.* TO ")
    assert lines[4].startswith("GRANT SELECT, DELETE ON `ops`.`audit`")
    assert lines[5].startswith("-- if audit is RANGE-partitioned on ts")
    assert "GRANT ALTER, INSERT, CREATE, DROP ON `ops`.`audit`" in lines[5]
    assert "`ops`.`_dbarchive_x_audit`" in lines[5] and "LOCK TABLES ON `ops`.*" in lines[5]


def test_aurora_outfile_and_replicas() -> None:
    """aurora-outfile: Aurora's S3 role; each replica watched for lag: its monitor privilege
    (MariaDB ≥ 10.5: SLAVE MONITOR), named by its URL without the password."""
    facts = ServerFacts({"events": False, "audit": False}, None, (10, 11))
    lines = _statements(
        facts,
        defaults={"export": {"strategy": "aurora-outfile"}},
        throttle={"replicas": ["mysql://archiver:pw@replica-1:3306/payments"]},
    )
    assert any(line.startswith("GRANT AWS_SELECT_S3_ACCESS TO 'archiver'@'%';") for line in lines)
    (replica,) = [line for line in lines if "replica" in line]
    assert replica.startswith("GRANT SLAVE MONITOR ON *.* TO 'archiver'@'%';")
    assert "replica-1" in replica and "pw" not in replica
    mysql = _statements(
        ServerFacts({"events": False, "audit": False}),
        throttle={"replicas": ["mysql://archiver@replica-1:3306/payments"]},
    )
    assert any(line.startswith("GRANT REPLICATION CLIENT ON *.*") for line in mysql)


def test_a_read_endpoint_adds_the_heartbeat_grant() -> None:
    """With read_url: SELECT, INSERT, UPDATE, CREATE on the heartbeat table (written on the
    primary, created on first use), and a note that the reads need SELECT on the read endpoint."""
    source = {
        "url": "mysql://archiver@db.internal:3306/payments",
        "read_url": "mysql://archiver@replica.internal:3306/payments",
        "heartbeat_table": "ops.dbarchive_heartbeat",
    }
    lines = _statements(ServerFacts({"events": False, "audit": False}, "archiver@%"), source=source)
    assert (
        "GRANT SELECT, INSERT, UPDATE, CREATE ON `ops`.`dbarchive_heartbeat` TO 'archiver'@'%';"
        "  -- the heartbeat proving the read endpoint applied a day (written on the primary; "
        "CREATE: dbarchive creates it on first use)"
    ) in lines
    note = next(line for line in lines if "on the read endpoint" in line)
    assert note.startswith(
        "-- on the read endpoint mysql://archiver@replica.internal:3306/payments"
    )
    assert not any("heartbeat" in line for line in _statements(ServerFacts({}, "archiver@%")))
