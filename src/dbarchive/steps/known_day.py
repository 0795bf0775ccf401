"""What the purge knows of a day as it starts: read once, passed to verify and the chunk loop."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dbarchive.manifest import Manifest
from dbarchive.sources.table import ScanPlan


@dataclass(frozen=True)
class KnownDay:
    """A day's manifest, purge record and scan plan, read moments ago by the caller.

    ``matched_rows``: the caller deletes only rows it locks, hashes on the server and finds
    equal to the archived row of their key, in files whose bytes were checked (the chunked
    purge). Before such a purge, reading and digesting the whole day again (an export's reads,
    on the server, before every purge) proves nothing more about the rows it deletes; it only
    found rows that differ before the first deletion. So when the plan's fresh count equals the
    archive's, the count stands for the digest: a late row still changes the count (and is
    archived first, as before); a row changed in place is kept by the purge and archived and
    purged by its second pass (``daily.purge_table``). A partition drop, which removes whole
    days at once, is verified by digest.
    """

    manifest: Manifest | None
    marker: dict[str, Any] | None
    plan: ScanPlan | None
    matched_rows: bool = False

    def count_instead_of_digest(self) -> int | None:
        """The day's fresh row count, where it stands for the digest (see above); asked only
        before a purge has begun (after, ``verify`` compares what is left row by row)."""
        if not self.matched_rows or self.plan is None or self.manifest is None:
            return None
        count = self.plan.estimated_rows
        return count if count == self.manifest.effective_digest.count else None
