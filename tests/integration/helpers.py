"""Small builders shared by integration tests (no fakes: real MySQL and real storage)."""

from __future__ import annotations

from typing import Any

from dbarchive.config import ArchiveJob, job_from_dict


def make_job(
    source_url: str, dest_url: str, tables: list[dict[str, Any]], **defaults: Any
) -> ArchiveJob:
    """A validated job for ``tables`` (each needs name and timestamp_column)."""
    destination: dict[str, Any] = {"url": dest_url}
    for name in ("endpoint_url", "region", "part_size_mib", "layout"):
        if name in defaults:
            destination[name] = defaults.pop(name)
    return job_from_dict(
        {
            "source": {"url": source_url},
            "destination": destination,
            "defaults": defaults,
            "tables": tables,
        }
    )


LOG_TABLE_DDL = """
CREATE TABLE `events` (
  id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  created_at DATETIME(6) NOT NULL,
  account_id INT NOT NULL,
  amount DECIMAL(18,4) NULL,
  note TEXT NULL,
  KEY idx_created (created_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4
"""


def fill_events(schema: Any, day: str, count: int, start_hour: int = 0) -> None:
    """Insert ``count`` rows spread over ``day`` (server-side, fast), ids growing with time."""
    schema.execute(
        "INSERT INTO events (created_at, account_id, amount, note) "
        "SELECT TIMESTAMP(%s) + INTERVAL (%s * 3600 + seq * (86400 - %s * 3600) DIV (%s + 1)) SECOND, "
        "seq %% 97, seq / 7, CONCAT('row ', seq) FROM seq_1_to_" + str(int(count)),
        (day, start_hour, start_hour, count),
    )
