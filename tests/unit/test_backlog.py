"""The backlog's record, its growth rule and how status says it."""

from __future__ import annotations

import datetime as dt

from dbarchive.cli.reports import backlog_lines
from dbarchive.jobs.backlog import Backlog, grew
from dbarchive.jobs.status import TableStatus
from dbarchive.sources.mysql import NoDayRows

CUTOFF = dt.date(2026, 11, 15)


def _backlog(days: int, rows: int, at: str | None = None) -> Backlog:
    oldest = CUTOFF - dt.timedelta(days=days) if rows else None
    return Backlog(CUTOFF, days, rows, oldest, at)


def test_record_round_trips() -> None:
    """What a run writes to _backlog.json reads back the same."""
    backlog = _backlog(3, 2800, "2026-12-15T12:00:00+00:00")
    assert Backlog.from_json(backlog.to_json()) == backlog
    assert Backlog.from_json(_backlog(0, 0).to_json()) == _backlog(0, 0)


def test_it_grew_only_with_more_days_and_more_rows() -> None:
    """More days and more rows behind than last time: grew. The first run, a catching-up run,
    or a heavier day at the same distance: not."""
    assert grew(_backlog(2, 1000), _backlog(3, 1500))
    assert not grew(None, _backlog(3, 1500))
    assert not grew(_backlog(3, 1500), _backlog(2, 1000))
    assert not grew(_backlog(3, 1500), _backlog(3, 2000))


def test_status_shows_the_backlog_and_the_last_runs() -> None:
    """status: how far behind now, and after the last run when that differs."""
    status = TableStatus(
        "events", "30 days", CUTOFF, CUTOFF - dt.timedelta(days=4), [], 0, 0, [], [], [], [],
        NoDayRows("created_at", 0, []),
        backlog=_backlog(4, 3800),
        backlog_last_run=_backlog(3, 2800, "2026-12-15T12:00:00+00:00"),
    )  # fmt: skip
    assert backlog_lines(status) == [
        "  backlog:   4 days behind the cutoff 2026-11-15 (oldest row's day 2026-11-11), "
        "3,800 rows",
        "  after the last run (2026-12-15T12:00:00+00:00): 3 days behind the cutoff 2026-11-15 "
        "(oldest row's day 2026-11-12), 2,800 rows",
    ]
    caught_up = TableStatus(
        "events", "30 days", CUTOFF, None, [], 0, 0, [], [], [], [], NoDayRows("created_at", 0, []),
        backlog=_backlog(0, 0), backlog_last_run=_backlog(0, 0, "2026-12-15T12:00:00+00:00"),
    )  # fmt: skip
    assert backlog_lines(caught_up) == ["  backlog:   none (no row before the cutoff 2026-11-15)"]


def test_its_text_counts_one_row_as_one() -> None:
    assert _backlog(1, 1).text().endswith("(oldest row's day 2026-11-14), 1 row")
    assert _backlog(2, 2).text().endswith(", 2 rows")
