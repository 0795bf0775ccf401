"""The backlog: rows past retention still in the database, and whether it grows from run to run.

A purge that cannot keep up — a busy server, a strict latency budget, ``max_runtime`` or the
Airflow task's timeout — leaves expired days behind, and every day one more day expires. So
``status`` shows the backlog (how many days the oldest row is behind the retention cutoff, and
how many rows are older than the cutoff), and after each ``run``/``purge`` of a table its backlog
is recorded in ``<table folder>/_backlog.json``: the destination is the one place every runner of
the job shares (cron hosts, Airflow workers), and query engines skip files whose names start with
``_``. When the backlog grew since the previous record (more days and more rows behind), the run
says so in a note, with what to change.

Rows are counted day by day (one short index-only statement each, like the purge's own plans)
over the days that hold rows (found by seeking the time index), never in one long statement
over years of history.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from dbarchive.config import TableSpec
from dbarchive.context import Context
from dbarchive.errors import DbArchiveError
from dbarchive.jobs.catch_up import days_with_rows

BACKLOG_NAME = "_backlog.json"


@dataclass(frozen=True)
class PurgeOutcome:
    """What the run's purge of a table left behind, as far as the backlog note needs it."""

    stopped: bool  # cut short (max_runtime, a stop file, a signal)
    failed_days: tuple[dt.date, ...]  # expired days that failed and kept their rows
    rows_kept: int  # rows of purged days the archive does not hold


@dataclass(frozen=True)
class Backlog:
    """Rows older than the retention cutoff: ``days`` from the oldest one's day to the cutoff."""

    cutoff: dt.date
    days: int
    rows: int
    oldest_day: dt.date | None = None
    recorded_at: str | None = None  # when a run recorded it (UTC, ISO 8601)

    def to_json(self) -> dict[str, Any]:
        return {
            "cutoff": self.cutoff.isoformat(),
            "days": self.days,
            "rows": self.rows,
            "oldest_day": self.oldest_day.isoformat() if self.oldest_day else None,
            "recorded_at": self.recorded_at,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Backlog:
        oldest = data.get("oldest_day")
        return cls(
            dt.date.fromisoformat(data["cutoff"]),
            int(data["days"]),
            int(data["rows"]),
            dt.date.fromisoformat(oldest) if oldest else None,
            data.get("recorded_at"),
        )

    def text(self) -> str:
        if not self.rows:
            return f"none (no row before the cutoff {self.cutoff})"
        day_word = "day" if self.days == 1 else "days"
        return (
            f"{self.days:,} {day_word} behind the cutoff {self.cutoff} (oldest row's day "
            f"{self.oldest_day}), {self.rows:,} {'row' if self.rows == 1 else 'rows'}"
        )


DayRows = Callable[[Context, TableSpec, dt.date], int]


def measure(ctx: Context, spec: TableSpec, today: dt.date, day_rows: DayRows) -> Backlog:
    """The table's backlog now (``today``: the day the retention cutoff counts from), its rows
    counted a day at a time by ``day_rows`` (``jobs.catch_up.day_rows``)."""
    cutoff = spec.retention.cutoff(today)
    days = days_with_rows(ctx, spec, cutoff)
    if not days:
        return Backlog(cutoff, 0, 0)
    rows = sum(day_rows(ctx, spec, d) for d in days)
    return Backlog(cutoff, (cutoff - days[0]).days, rows, days[0])


def _key(ctx: Context, spec: TableSpec) -> str:
    return f"{ctx.folder(spec)}/{BACKLOG_NAME}"


def last_recorded(ctx: Context, spec: TableSpec) -> Backlog | None:
    """The backlog the previous run recorded, if any."""
    raw = ctx.storage.get_bytes(_key(ctx, spec))
    return None if raw is None else Backlog.from_json(json.loads(raw))


def grew(before: Backlog | None, now: Backlog) -> bool:
    """Whether the purge fell further behind: more days and more rows than the last record."""
    return before is not None and now.days > before.days and now.rows > before.rows


def track(
    ctx: Context, spec: TableSpec, today: dt.date, day_rows: DayRows, outcome: PurgeOutcome
) -> tuple[Backlog | None, str | None]:
    """Measure and record the backlog after a purge; the backlog and a note for the run: that
    it grew (and why, from ``outcome``: what to do), or that it could not be measured (the run
    does not fail for it)."""
    try:
        before = last_recorded(ctx, spec)
        now = measure(ctx, spec, today, day_rows)
        stamped = Backlog(
            now.cutoff,
            now.days,
            now.rows,
            now.oldest_day,
            ctx.wall_clock.now().isoformat(timespec="seconds"),
        )
        ctx.storage.put_bytes(_key(ctx, spec), json.dumps(stamped.to_json(), indent=2).encode())
    except DbArchiveError as exc:
        return None, f"{spec.name}: the backlog was not recorded: {exc}"
    if not grew(before, now):
        return stamped, None
    assert before is not None
    return stamped, (
        f"{spec.name}: the backlog grew since the run of {before.recorded_at}: "
        f"{before.days:,} -> {now.days:,} days and {before.rows:,} -> {now.rows:,} rows behind "
        f"the retention cutoff {now.cutoff}. {_why(outcome, before, now, ctx.wall_clock.now(), ZoneInfo(spec.timezone))}"
    )


def _why(
    outcome: PurgeOutcome, before: Backlog, now: Backlog, clock: dt.datetime, zone: ZoneInfo
) -> str:
    """What left the rows behind, as far as this run can tell: the purge's speed only when it
    was cut short, or when nothing else explains it (an outside trial: a shortened retention
    and a held row were both blamed on speed)."""
    reasons = []
    if before.recorded_at is not None:
        then = dt.datetime.fromisoformat(before.recorded_at)  # days pass in the table's zone
        elapsed = (clock.astimezone(zone).date() - then.astimezone(zone).date()).days
        if (now.cutoff - before.cutoff).days > elapsed:
            reasons.append(
                f"The retention cutoff moved from {before.cutoff} to {now.cutoff} in {elapsed} "
                "days: a shorter retention puts more days behind it at once, for the next runs"
            )
    failed = sorted(set(outcome.failed_days))
    if failed:
        days = ", ".join(str(d) for d in failed[:3]) + (" …" if len(failed) > 3 else "")
        reasons.append(f"{len(failed)} expired days failed (above) and kept their rows: {days}")
    if outcome.rows_kept:
        reasons.append(
            f"{outcome.rows_kept:,} rows the archive does not hold were kept (the purge's lines)"
        )
    if outcome.stopped or not reasons:
        reasons.append(
            "The purge does not keep up: give it more time (max_runtime, the task's timeout), a "
            "min_rate under its latency budget, or a quieter hour"
        )
    return "; ".join(reasons)
