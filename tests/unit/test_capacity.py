"""The backfill estimate's arithmetic: rows at the per-worker rate, plus each day's own cost,
shared by the workers that run at once (no database: the estimate's fields are given)."""

from __future__ import annotations

import datetime as dt

from dbarchive.jobs.capacity import DAY_SECONDS, BackfillEstimate, Throughput


def _estimate(days: int, rows: int, parallel: int) -> BackfillEstimate:
    first = dt.date(2026, 8, 1)
    return BackfillEstimate(
        "events", first, first + dt.timedelta(days=days - 1), days, rows, 0, days,
        Throughput(1000.0, "given"), parallel, parallel, parallel,
    )  # fmt: skip


def test_rows_and_days_are_shared_by_the_workers_at_once() -> None:
    assert _estimate(30, 60_000, 1).seconds == 60 + 30 * DAY_SECONDS
    assert _estimate(30, 60_000, 2).seconds == (60 + 30 * DAY_SECONDS) / 2


def test_days_without_rows_still_cost_their_own_time() -> None:
    """3,781 one-row days were estimated at ~0 s and took 5 minutes (an outside trial)."""
    assert _estimate(3781, 3781, 1).seconds > 3781 * DAY_SECONDS
