"""The daily DAG's ``catch_up`` task: days a run missed (an outage, a paused DAG) are exported.

Without it, a day whose run never happened stays unarchived inside the retention window until the
purge reaches it two months later (and exports it then, unverified until that moment). This task
exports and verifies them the way ``dbarchive run`` does — the same rule picks the days
(``jobs.catch_up.catch_up_days``): earlier days of the window with rows but no archive, and archived
days whose rows changed (count, or digest for the ``recheck_days`` before the run's day). The
run's own day is left to the ``export`` task that follows. Oldest first; a stop (``max_runtime``,
the stop file) fails the try and the retry goes on with the days still missing.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from dbarchive import api
from dbarchive.airflow.operators import _ArchiveOperator
from dbarchive.airflow.summary import throttled_seconds
from dbarchive.errors import VerificationError
from dbarchive.jobs.catch_up import catch_up_days


class ArchiveCatchUpOperator(_ArchiveOperator):
    """Export and verify the days before the run's day that the daily job missed."""

    step = "catch_up"

    def work(self, context: Any) -> dict[str, Any]:
        ctx, spec = self.dbarchive_context()
        day = self.archive_day(context, spec)
        done: list[str] = []
        rows = size = 0
        try:
            throttle = api.throttle_for(ctx)
            paced = throttle if throttle.settings.has_budget else None  # as the export's reads
            after = day + dt.timedelta(days=1)
            missed = [d for d in catch_up_days(ctx, spec, after, throttle=paced) if d < day]
            for missing in missed:
                result = api.export(ctx, spec, missing, stopping=throttle)
                check = api.verify(ctx, spec, missing)
                if not check.ok:
                    raise VerificationError(
                        f"{spec.name} {missing} (caught up): " + "; ".join(check.problems)
                    )
                done.append(missing.isoformat())
                rows, size = rows + result.rows, size + result.bytes
        finally:
            ctx.close()
        if done:
            self.log.info("%s: caught up %d missed day(s): %s", spec.name, len(done), done)
        return {"table": spec.name, "days": done, "rows": rows,
                "bytes": size, "verified": True if done else None,
                "throttled_s": throttled_seconds(throttle)}  # fmt: skip
