"""What ``run``, ``purge`` and ``status`` print: records, JSON objects and plain text.

``run``/``purge`` print, off a terminal, one line per table-day they exported, purged or dropped
and one line per table with its totals; on a terminal, the per-table table. Their JSON is one
object: ``{"command", "tables": [...], "throttle": {...}, "source_retries", "errors": [...]}``.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import click

from dbarchive.checks import describe_no_day_rows
from dbarchive.cli.failure import TrackingReporter, combined_code, error_object
from dbarchive.cli.render import Record, plain_line, print_lines, stdout_console
from dbarchive.jobs.status import TableStatus
from dbarchive.jobs.table_report import TableReport
from dbarchive.steps.purge import PurgeResult
from dbarchive.throttle import ThrottleStats


def table_result(r: TableReport) -> str:
    return "ok" if r.ok else ("stopped" if r.stopped else "FAILED")


def table_record(r: TableReport) -> Record:
    """A table's totals: days exported and purged, rows, bytes, seconds, throttle pauses."""
    return {
        "result": table_result(r),
        "table": r.table,
        "exported_days": len(r.exported),
        "exported_rows": r.rows_exported,
        "exported_bytes": r.bytes_exported,
        "purged_days": len(r.purged) + sum(len(d.days) for d in r.dropped),
        "deleted_rows": r.rows_deleted,
        "seconds": r.seconds,
        "pauses": r.throttle_pauses,
    }


def day_records(r: TableReport) -> list[Record]:
    """One record per day the table's run exported or purged, and per partition it dropped."""
    records: list[Record] = [
        {"result": "exported", "table": r.table, "day": e.day, "rows": e.rows, "bytes": e.bytes,
         "generation": e.generation, "seconds": e.seconds}
        for e in r.exported
    ]  # fmt: skip
    records += [
        {"result": _purged(r, p), "table": r.table, "day": p.day, "rows": p.rows_deleted,
         "kept": p.rows_kept, "chunks": p.chunks, "retries": p.retries, "seconds": p.seconds}
        for p in r.purged
    ]  # fmt: skip
    records += [
        {"result": "dropped", "table": r.table, "day": _span(d.days), "rows": d.rows,
         "partition": d.partition, "lock_seconds": d.lock_seconds}
        for d in r.dropped
    ]  # fmt: skip
    return records


def _purged(r: TableReport, p: PurgeResult) -> str:
    """``purged``, or ``partly purged`` for a day a stop cut short or that failed after some
    deletes (``status`` says the same of it)."""
    cut = (r.stopped is not None and p is r.purged[-1]) or p.day in {f.day for f in r.failures}
    return "partly purged" if cut else "purged"


def print_reports(reports: Sequence[TableReport], command: str, throttle: Any) -> None:
    """The run's records on stdout: a table per table on a terminal, else a line per day and
    a line per table; then the throttle's totals."""
    from dbarchive.cli.render import print_records

    console = stdout_console()
    if console.is_terminal:
        print_records([table_record(r) for r in reports], f"dbarchive {command}", console)
    else:
        for r in reports:
            print_records([*day_records(r), table_record(r)], "", console)
    print_throttle(throttle.stats, console)


def print_throttle(stats: ThrottleStats, console: Any = None) -> None:
    """The throttle's totals on stdout: a sentence on a terminal, else one plain line."""
    console = console or stdout_console()
    if console.is_terminal:
        console.print(throttle_text(stats))
    else:
        console.file.write(plain_line(throttle_record(stats)) + "\n")


def throttle_record(stats: ThrottleStats) -> Record:
    """The throttle's totals as one record: pauses, seconds waited by reason, and the latency
    budget (baseline, limit, last p99, seconds it was not held) when one is set."""
    record: Record = {"result": "throttle", "pauses": stats.pauses,
                      "paused_seconds": stats.paused_seconds, "slept_seconds": stats.slept_seconds}  # fmt: skip
    for reason, seconds in sorted(stats.seconds_by_reason.items()):
        record[f"{reason}_seconds"] = seconds
    if stats.limit_ms is not None:
        record.update(baseline_ms=stats.baseline_ms, limit_ms=stats.limit_ms,
                      p99_ms=stats.p99_ms, budget_missed_seconds=stats.budget_missed_seconds)  # fmt: skip
    return record


def throttle_text(stats: ThrottleStats) -> str:
    """``throttle: 2 pauses, 1.5s paused, 3.0s slept; waited for latency 2.1s, max_rate 2.4s;
    latency budget: p99 under 100.00 ms (baseline 4.17 ms), last p99 4.3 ms``."""
    text = (
        f"throttle: {stats.pauses} {_plural(stats.pauses, 'pause')}, "
        f"{stats.paused_seconds:.1f}s paused, {stats.slept_seconds:.1f}s slept"
    )
    if stats.seconds_by_reason:
        text += "; waited for " + ", ".join(
            f"{reason} {seconds:.1f}s"
            for reason, seconds in sorted(stats.seconds_by_reason.items())
        )
    if stats.limit_ms is not None:
        text += f"; latency budget: p99 under {stats.limit_ms:.2f} ms (baseline {stats.baseline_ms:.2f} ms)"
        if stats.p99_ms is not None:
            text += f", last p99 {stats.p99_ms:.1f} ms"
        if stats.budget_missed_seconds:
            text += f", NOT HELD for {stats.budget_missed_seconds:.1f}s at min_rate"
    return text


def reports_json(
    reports: Sequence[TableReport],
    command: str,
    throttle: Any,
    source_retries: int,
    tracker: TrackingReporter | None,
) -> dict[str, Any]:
    """The JSON object of ``run``/``purge``: per table, the throttle, and every error as an
    error object (code, cause, message, table, and the step and day it was on)."""
    return {
        "command": command,
        "ok": all(r.ok for r in reports),
        "tables": [report_json(r) for r in reports],
        "throttle": vars(throttle.stats),
        "source_retries": source_retries,
        "errors": [e for r in reports for e in _error_objects(r, tracker)],
    }


def _error_objects(r: TableReport, tracker: TrackingReporter | None) -> list[dict[str, Any]]:
    step, day = tracker.last.get(r.table, (None, None)) if tracker else (None, None)
    errors = [  # a purged day's error names its day (the purge went on to others)
        error_object(f.exit_code, f.message, r.table, f.day or day, "purge" if f.day else step)
        for f in r.failures
    ]
    if r.stopped:
        errors.append(error_object(6, r.stopped, r.table, day, step))
    return errors


def exit_code(reports: Sequence[TableReport]) -> int:
    """6 when stopped, else the failures' common cause (1 when they differ), else 0."""
    if any(r.stopped for r in reports):
        return 6
    return combined_code(f.exit_code for r in reports for f in r.failures)


def report_json(r: TableReport) -> dict[str, Any]:
    return {
        "table": r.table,
        "ok": r.ok,
        "exported": [
            {"day": e.day.isoformat(), "rows": e.rows, "bytes": e.bytes} for e in r.exported
        ],
        "purged": [
            {
                "day": p.day.isoformat(),
                "rows_deleted": p.rows_deleted,
                "rows_kept": p.rows_kept,
                "chunks": p.chunks,
                "retries": p.retries,
                "seconds": round(p.seconds, 3),
                "longest_chunk_seconds": round(p.longest_chunk_seconds, 4),
                "longest_delete_seconds": round(p.longest_delete_seconds, 4),
            }
            for p in r.purged
        ],
        "dropped": [
            {
                "partition": d.partition,
                "days": [day.isoformat() for day in d.days],
                "rows": d.rows,
                "lock_seconds": d.lock_seconds,
            }
            for d in r.dropped
        ],
        "errors": r.errors,
        "notes": r.notes,
        "stopped": r.stopped,
        "seconds": round(r.seconds, 3),
        "throttle_pauses": r.throttle_pauses,
        "backlog": r.backlog.to_json() if r.backlog else None,
    }


@dataclass(frozen=True)
class PurgePlan:
    """What ``purge --dry-run`` found for a table: its cutoff and the rows of each expired day."""

    table: str
    cutoff: dt.date
    before: dt.date | None  # given by --before
    day_rows: dict[dt.date, int]
    delete_sql: str
    export_first: dict[dt.date, str] = field(default_factory=dict)  # why, with which columns
    kept_days: frozenset[dt.date] = frozenset()  # days that would keep their rows (an error)

    def to_json(self) -> dict[str, Any]:
        return {
            "table": self.table,
            "cutoff": self.cutoff.isoformat(),
            "before": self.before.isoformat() if self.before else None,
            "days": [
                {
                    "day": d.isoformat(),
                    "rows": n,
                    "export_first": self.export_first.get(d),
                    "would_delete": d not in self.kept_days,
                }
                for d, n in self.day_rows.items()
                if n
            ],
            "rows": sum(self.day_rows.values()),
            "delete_sql": self.delete_sql,
        }


def print_purge_plans(plans: Sequence[PurgePlan], as_json: bool) -> None:
    if as_json:
        data = {"command": "purge", "dry_run": True, "tables": [p.to_json() for p in plans]}
        click.echo(json.dumps(data, indent=2))
        return
    for plan in plans:
        days = {d: n for d, n in plan.day_rows.items() if n}
        print_lines([
            f"{plan.table}: keeps {plan.cutoff} and later ({'--before' if plan.before else 'retention'}); "
            f"{count(len(days), 'expired day')} with rows, {count(sum(days.values()), 'row')}",
            *(_purge_day_line(plan, d, n) for d, n in days.items()),
            f"  per chunk: {plan.delete_sql}  (keys that matched the archive)",
        ])  # fmt: skip


def _purge_day_line(plan: PurgePlan, day: dt.date, rows: int) -> str:
    """``  2026-05-01: 13 rows would be verified and deleted``, with why and how the day would
    be exported first when it would."""
    why = plan.export_first.get(day)
    if day in plan.kept_days:
        return f"  {day}: {count(rows, 'row')} not deleted: {why}"
    line = f"  {day}: {count(rows, 'row')} would be verified and deleted"
    return line if why is None else f"{line}; {why}"


# -- status -----------------------------------------------------------------------------------
def _plural(n: int, word: str) -> str:
    return word if n == 1 else word + "s"


def count(n: int, word: str) -> str:
    """``1 day``, ``2 days``, ``1,234 rows``."""
    return f"{n:,} {_plural(n, word)}"


def day_ranges(days: Sequence[dt.date]) -> list[tuple[dt.date, dt.date]]:
    """Consecutive days folded into (first, last) ranges, in order."""
    ranges: list[tuple[dt.date, dt.date]] = []
    for day in sorted(days):
        if ranges and day == ranges[-1][1] + dt.timedelta(days=1):
            ranges[-1] = (ranges[-1][0], day)
        else:
            ranges.append((day, day))
    return ranges


def _span(days: Sequence[dt.date]) -> str:
    return ", ".join(str(a) if a == b else f"{a} .. {b}" for a, b in day_ranges(days))


def days_text(days: Sequence[dt.date], none: str = "none") -> str:
    """``3 days: 2026-01-01 .. 2026-01-02, 2026-01-05`` (every day, as ranges), or ``none``."""
    return f"{count(len(days), 'day')}: {_span(days)}" if days else none


def status_lines(s: TableStatus) -> list[str]:
    """A table's status for a person: every day said, consecutive days as ranges."""
    archived = s.archived_days
    lines = [
        f"{s.table}: retention {s.retention} (keeps {s.cutoff} and later); oldest row in the "
        f"database: {s.oldest_day or 'none (none to archive: the table, or its where filter, holds none)'}",
        f"  archived:  {days_text(archived)}"
        + (f"; {count(s.archived_rows, 'row')}, {count(s.archived_bytes, 'byte')}" if archived else ""),
        f"  purged:    {days_text(s.purged_days)}",
    ]  # fmt: skip
    finishing = [d for d in s.partial_days if d not in s.refused_days]
    if finishing:
        lines.append(f"  partly purged (the next purge finishes them): {days_text(finishing)}")
    if s.rows_in_interrupted_drop:
        lines.append(
            f"  {count(s.rows_in_interrupted_drop, 'row')} out of the table in the clone of an "
            "interrupted partition drop (archived; the next purge proves and drops them, or "
            "puts them back)"
        )
    if s.refused_days:
        lines.append(
            "  keeping archived rows the server refused to delete (a foreign key RESTRICT, a "
            f"trigger; each purge tries them again): {days_text(s.refused_days)}"
        )
    if s.grown_only_days:
        lines.append(
            "  archived rows the application deleted since (kept in the archive, the day only "
            f"grows): {days_text(s.grown_only_days)}"
        )
    if s.held_days:
        lines.append(
            "  of them, keeping rows with values in columns added since their archive (no purge "
            f"deletes those; dbarchive verify names them): {days_text(s.held_days)}"
        )
    if s.damaged_days:
        lines.append(
            "  a manifest or purge record that cannot be read (dbarchive verify says why; no "
            f"purge touches those days): {days_text(s.damaged_days)}"
        )
    if s.restored_days:
        lines.append(f"  restored into the table after their purge: {days_text(s.restored_days)}")
    if s.expired_unarchived_days:
        lines.append(
            "  expired, never archived (a purge archives them before it deletes; with "
            'on_unarchived = "fail" it stops there): ' + days_text(s.expired_unarchived_days)
        )
    lines.append(f"  pending:   {days_text(s.pending_days, 'nothing to archive')}")
    lines += backlog_lines(s)
    if s.no_day.count:
        what = describe_no_day_rows(s.no_day)
        lines.append(f"  no day:    {what}; kept in the database, never archived nor purged")
    return lines


def backlog_lines(s: TableStatus) -> list[str]:
    """The backlog now, and as the last run's purge left it (when that differs)."""
    if s.backlog is None:
        return []
    lines = [f"  backlog:   {s.backlog.text()}"]
    last = s.backlog_last_run
    if last is not None and (last.days, last.rows) != (s.backlog.days, s.backlog.rows):
        lines.append(f"  after the last run ({last.recorded_at}): {last.text()}")
    return lines
