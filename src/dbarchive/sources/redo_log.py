"""How full InnoDB's redo log is: the checkpoint age as a share of the log's capacity.

Every change is written to the redo log before the page it changes is written back; the
checkpoint can only advance past changes whose pages have been flushed. The distance from the
checkpoint to the newest change (the *checkpoint age*) grows while changes arrive faster than
the page cleaner flushes. Near the log's capacity InnoDB flushes furiously and then makes every
writer wait for the flush (MariaDB 10.11 here: asynchronous flushing from 70 % of
``innodb_log_file_size``, synchronous from 80 %): a stall every write in the server feels and no
read does. A purge that deletes tens of thousands of rows a second writes redo faster than a
modest server flushes; measured here, production's writes stalled 0.5 s at a time (p99 25-50x)
while a primary-key read, the latency probe, stayed at its baseline. So the throttle watches the
fill itself (``max_redo_fill``).

Where the server tells it: MariaDB's ``Innodb_checkpoint_age``; MySQL 8.0.30+'s
``Innodb_redo_log_current_lsn`` - ``Innodb_redo_log_checkpoint_lsn`` (no privilege needed); else
the LOG section of ``SHOW ENGINE INNODB STATUS`` (needs ``PROCESS``). The capacity is
``innodb_redo_log_capacity`` (MySQL 8.0.30+) or ``innodb_log_file_size`` x
``innodb_log_files_in_group``. Aurora has no checkpoint to wait for (its storage applies the
log): there is no fill to read.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

AGE_SQL = (
    "SHOW GLOBAL STATUS WHERE Variable_name IN ('Innodb_checkpoint_age', "
    "'Innodb_redo_log_current_lsn', 'Innodb_redo_log_checkpoint_lsn')"
)
CAPACITY_SQL = (
    "SHOW GLOBAL VARIABLES WHERE Variable_name IN ('innodb_redo_log_capacity', "
    "'innodb_log_file_size', 'innodb_log_files_in_group')"
)
_LSN = re.compile(rb"^Log sequence number\s+(\d+)\s*$", re.MULTILINE)
_CHECKPOINT = re.compile(rb"^Last checkpoint at\s+(\d+)\s*$", re.MULTILINE)


def _named(rows: list[tuple[object, object]]) -> dict[str, str]:
    """``SHOW`` rows (bytes or str) as a name -> value mapping, names lowercased."""

    def text(value: object) -> str:
        return value.decode() if isinstance(value, bytes | bytearray) else str(value)

    return {text(name).lower(): text(value) for name, value in rows}


def age_from_status(rows: list[tuple[object, object]]) -> int | None:
    """The checkpoint age in bytes from ``AGE_SQL``'s rows, or None when the server has
    neither MariaDB's variable nor MySQL 8.0.30's pair."""
    status = _named(rows)
    if "innodb_checkpoint_age" in status:
        return int(status["innodb_checkpoint_age"])
    current = status.get("innodb_redo_log_current_lsn")
    checkpoint = status.get("innodb_redo_log_checkpoint_lsn")
    if current is None or checkpoint is None:
        return None
    return max(0, int(current) - int(checkpoint))


def age_from_innodb_status(text: bytes | str) -> int | None:
    """The checkpoint age in ``SHOW ENGINE INNODB STATUS`` text: "Log sequence number" minus
    "Last checkpoint at", or None when either line is missing."""
    if isinstance(text, str):
        text = text.encode()
    current, checkpoint = _LSN.search(text), _CHECKPOINT.search(text)
    if current is None or checkpoint is None:
        return None
    return max(0, int(current.group(1)) - int(checkpoint.group(1)))


def capacity_from_variables(rows: list[tuple[object, object]]) -> int | None:
    """The redo log's capacity in bytes from ``CAPACITY_SQL``'s rows (None: not told).

    MySQL 8.0.30+ keeps ``innodb_log_file_size`` for compatibility but sizes the log by
    ``innodb_redo_log_capacity``, so that one wins where it exists."""
    variables: Mapping[str, str] = _named(rows)
    if capacity := int(variables.get("innodb_redo_log_capacity") or 0):
        return capacity
    size = int(variables.get("innodb_log_file_size") or 0)
    files = int(variables.get("innodb_log_files_in_group") or 1)
    return size * files or None
