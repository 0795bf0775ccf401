"""What the purge of one table-day did: rows deleted, and the rows kept and why."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True)
class PurgeResult:
    """What the purge of one table-day did."""

    table: str
    day: dt.date
    rows_deleted: int
    rows_kept: int  # rows of the day the archive does not hold: never deleted
    chunks: int
    retries: int
    seconds: float
    longest_chunk_seconds: float  # the whole transaction: locking read, match, DELETE, COMMIT
    longest_delete_seconds: float  # the longest DELETE statement alone (statement_rows splits)
    rows_held: int = 0  # of the rows kept, those holding values in columns added since (HELD)
    # of the rows kept, archived ones the server refused to delete (a foreign key RESTRICT, a
    # trigger's SIGNAL), and its first refusal
    rows_refused: int = 0
    refusal: str = ""

    @property
    def rows_unarchived(self) -> int:
        """The rows kept because the archive does not hold them as they are (refused ones are
        archived)."""
        return self.rows_kept - self.rows_refused

    def refused_note(self) -> str:
        """What a run says of the rows the server refused to delete."""
        return (
            f"{self.table} {self.day}: kept {self.rows_refused} archived rows the server refused "
            f"to delete ({self.refusal}); each purge tries them again, the other rows and days "
            "went on"
        )
