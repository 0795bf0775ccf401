"""Backfill: archive (and optionally purge) a range of history days with N parallel workers.

The work is the Airflow backfill DAG's, run by threads on one machine: per table-day, plan its
work units; export and verify each unit; publish the day (manifest, row count, verified record);
then, when asked and the day lies before the retention cutoff, purge it. Each worker has its own
database session and throttle (load, replica lag, sleep — the purge's settings) and takes the
oldest job available, so days finish roughly oldest first and a big day's units spread over every
worker. Resumable: a day whose manifest verified is skipped, a unit that landed is not exported
again. A signal, the stop file or ``max_runtime`` stops every worker after its current chunk.
"""

from __future__ import annotations

import datetime as dt
import heapq
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from dbarchive import dates, failpoints
from dbarchive.build import build_throttle
from dbarchive.clock import Clock, system_clock
from dbarchive.config import TableSpec
from dbarchive.context import Context
from dbarchive.errors import DbArchiveError, StopRequested, VerificationError
from dbarchive.events import NullReporter, Reporter
from dbarchive.jobs.backfill_days import backfill_days as backfill_days  # its public home
from dbarchive.jobs.backfill_days import day_is_done as day_is_done
from dbarchive.jobs.backfill_progress import DayOutcome, Tally, WorkerReporter
from dbarchive.jobs.catch_up import day_rows, late_rows
from dbarchive.jobs.daily import TableReport, purge_expired_day
from dbarchive.manifest import Manifest
from dbarchive.steps import upload
from dbarchive.steps.purge import ChunkSizer, purge_day
from dbarchive.steps.verify import verify_day
from dbarchive.throttle import CriticalLoad, StopFlag, Throttle
from dbarchive.units.export import export_unit
from dbarchive.units.plan import pending_units, plan_units
from dbarchive.units.publish import publish_units
from dbarchive.units.records import DayUnits, is_verified, write_verify_marker

_PLAN, _VERIFY, _UNIT, _FINISH = 0, 1, 2, 3  # job phases: within a day, in this order


@dataclass
class BackfillReport:
    """Every day's outcome, and why the run ended early if it did."""

    days: list[DayOutcome]
    seconds: float = 0.0
    stopped: str | None = None
    critical: str | None = None
    throttle_pauses: int = 0

    @property
    def ok(self) -> bool:
        return self.stopped is None and self.critical is None and not self.failed

    @property
    def failed(self) -> list[DayOutcome]:
        return [d for d in self.days if d.action == "failed"]

    @property
    def rows_archived(self) -> int:
        return sum(d.rows for d in self.days if d.action == "archived")


@dataclass
class BackfillOptions:
    """How a backfill runs: workers, purge, 'today' for the retention cutoff, throttle overrides.

    ``today`` None: today in each table's zone by ``clock`` (the wall clock).
    """

    workers: int = 1
    purge: bool = False
    today: dt.date | None = None
    throttle_overrides: dict[str, object] = field(default_factory=dict)
    clock: Clock = field(default_factory=system_clock)


@dataclass(order=True)
class _Job:
    day: dt.date
    table_order: int
    phase: int
    index: int


@dataclass
class _Day:
    spec: TableSpec
    order: int  # the table's place in the config: ties between tables on the same day
    outcome: DayOutcome
    cutoff: dt.date
    plan: DayUnits | None = None
    pending: set[int] = field(default_factory=set)
    replanned: bool = False  # exported again once after a failed verification
    done: bool = False


def purge_changed_day(
    ctx: Context, spec: TableSpec, day: dt.date, throttle: Throttle
) -> TableReport:
    """Archive what the day's purge kept as unarchived (a row updated, or inserted after a kill
    or a purge), then purge again, as the daily run does; what it exported and deleted. Every
    rerun had kept them and failed the day (outside re-tests)."""
    report = TableReport(spec.name)
    purge_expired_day(ctx, spec, day, throttle, ChunkSizer(throttle.settings), report)
    if report.failures:
        raise VerificationError(report.failures[0].message)
    return report


class _Backfill:
    """The job queue and its workers (see the module docstring)."""

    def __init__(
        self,
        contexts: Callable[[Reporter], Context],
        options: BackfillOptions,
        tally: Tally,
        stop: StopFlag,
    ) -> None:
        self.contexts, self.options, self.tally, self.stop = contexts, options, tally, stop
        self.days: dict[tuple[int, dt.date], _Day] = {}
        self._heap: list[_Job] = []
        self._busy = 0
        self._cond = threading.Condition()
        self.stopped: str | None = None
        self.critical: str | None = None
        self.crash: BaseException | None = None
        self.pauses = 0

    def add_day(self, order: int, spec: TableSpec, day: dt.date) -> None:
        today = self.options.today or dates.today(spec.timezone, self.options.clock.now())
        cutoff = spec.retention.cutoff(today)
        self.days[(order, day)] = _Day(spec, order, DayOutcome(spec.name, day), cutoff)
        heapq.heappush(self._heap, _Job(day, order, _PLAN, 0))

    def run(self) -> None:
        threads = [
            threading.Thread(target=self._worker, name=f"dbarchive-backfill-{i}", daemon=True)
            for i in range(max(1, self.options.workers))
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if self.crash is not None:
            raise self.crash

    # -- the queue --------------------------------------------------------------------------
    def _push(self, job: _Job) -> None:
        with self._cond:
            heapq.heappush(self._heap, job)
            self._cond.notify()

    def _next(self) -> _Job | None:
        """The oldest job; None once nothing is queued or running (or a stop was asked for)."""
        with self._cond:
            while True:
                if self.stop.requested:
                    return None
                if self._heap:
                    self._busy += 1
                    return heapq.heappop(self._heap)
                if self._busy == 0:
                    self._cond.notify_all()
                    return None
                self._cond.wait(0.5)

    def _job_done(self) -> None:
        with self._cond:
            self._busy -= 1
            self._cond.notify_all()

    # -- the workers ------------------------------------------------------------------------
    def _worker(self) -> None:
        ctx = self.contexts(WorkerReporter(self.tally))
        throttle = build_throttle(ctx, self.options.throttle_overrides, self.stop)
        try:
            while (job := self._next()) is not None:
                try:
                    self._run_job(ctx, throttle, job)
                finally:
                    self._job_done()
        finally:
            with self._cond:
                self.pauses += throttle.stats.pauses
            ctx.close()

    def _run_job(self, ctx: Context, throttle: Throttle, job: _Job) -> None:
        state = self.days[(job.table_order, job.day)]
        if state.done:
            return
        try:
            if job.phase == _PLAN:
                self._plan(ctx, state, job)
            elif job.phase == _VERIFY:
                self._verify(ctx, throttle, state, job)
            elif job.phase == _UNIT:
                self._unit(ctx, throttle, state, job)
            else:
                self._finish(ctx, throttle, state)
        except StopRequested as exc:
            self._halt("stopped", str(exc))
        except CriticalLoad as exc:
            self._halt("critical", str(exc))
        except DbArchiveError as exc:
            state.outcome.exit_code = exc.exit_code
            self._close_day(state, "failed", str(exc))
        except BaseException as exc:  # a bug: stop everything and raise it in the caller
            self.crash = exc
            self._halt("stopped", f"stopped by an unexpected error: {exc!r}")

    def _halt(self, kind: str, reason: str) -> None:
        with self._cond:
            if kind == "critical":
                self.critical = self.critical or reason
            else:
                self.stopped = self.stopped or reason
        self.stop.request(reason)

    # -- the steps of one day ---------------------------------------------------------------
    def _plan(self, ctx: Context, state: _Day, job: _Job) -> None:
        spec, day = state.spec, state.outcome.day
        partition = ctx.partition(spec, day)
        marker = upload.read_purge_marker(ctx.storage, partition) or {}
        manifest = upload.read_manifest(ctx.storage, partition)
        if marker.get("status") == "purged" and not (
            self.options.purge and manifest is not None and day_rows(ctx, spec, day, manifest)
        ):
            self._close_day(state, "skipped")
        elif marker.get("status") == "purged":  # rows arrived since its purge: as `run` does
            self._push(_Job(day, job.table_order, _FINISH, 0))
        elif (
            manifest is not None
            and is_verified(ctx.storage, partition, manifest)
            and not (
                state.replanned  # its verify or publication found changed rows: export it again
            )
        ):
            if self._purge_wanted(state) and not marker and late_rows(ctx, spec, day, manifest):
                self._push(_Job(day, job.table_order, _VERIFY, 0))  # fails, and exports again
            elif self._purge_wanted(state):
                self._push(_Job(day, job.table_order, _FINISH, 0))
            else:
                self._close_day(state, "skipped", manifest=manifest)
        elif manifest is not None and not state.replanned:
            self._push(_Job(day, job.table_order, _VERIFY, 0))
        else:
            state.plan = plan_units(ctx, spec, day)
            state.outcome.units = len(state.plan.units)
            state.pending = set(pending_units(ctx, spec, state.plan))
            for index in sorted(state.pending):
                self._push(_Job(day, job.table_order, _UNIT, index))
            if not state.pending:
                self._push(_Job(day, job.table_order, _FINISH, 0))

    def _verify(self, ctx: Context, throttle: Throttle, state: _Day, job: _Job) -> None:
        """A day archived earlier (e.g. by the daily job) but never recorded as verified."""
        spec, day = state.spec, state.outcome.day
        partition = ctx.partition(spec, day)
        partial = upload.read_purge_marker(ctx.storage, partition) is not None
        result = verify_day(ctx, spec, day, check_source=not partial)
        manifest = upload.read_manifest(ctx.storage, partition)
        if result.ok and manifest is not None:
            write_verify_marker(ctx.storage, partition, manifest)
            state.outcome.action = "verified"
            self._push(_Job(day, job.table_order, _FINISH, 0))
        elif partial:
            raise VerificationError("; ".join(result.problems))
        else:  # export it again, once
            state.replanned = True
            self._push(_Job(day, job.table_order, _PLAN, 0))

    def _unit(self, ctx: Context, throttle: Throttle, state: _Day, job: _Job) -> None:
        assert state.plan is not None
        export_unit(ctx, state.spec, state.plan, job.index, throttle)
        with self._cond:
            state.pending.discard(job.index)
            last = not state.pending
        if last:
            self._push(_Job(job.day, job.table_order, _FINISH, 0))

    def _finish(self, ctx: Context, throttle: Throttle, state: _Day) -> None:
        spec, day = state.spec, state.outcome.day
        partition = ctx.partition(spec, day)
        if state.plan is not None:
            try:
                manifest, _stale = publish_units(ctx, spec, day, state.plan)
            except VerificationError:
                if state.replanned:
                    raise
                state.replanned = True  # rows changed outside the ranges: plan and export again
                self._push(_Job(day, state.order, _PLAN, 0))
                return
            state.outcome.action = "archived"
        else:
            found = upload.read_manifest(ctx.storage, partition)
            assert found is not None
            manifest = found
        if self._purge_wanted(state):
            result = purge_day(ctx, spec, manifest, throttle)
            state.outcome.purged, state.outcome.rows_deleted = True, result.rows_deleted
            if result.rows_unarchived:  # arrived or changed since its archive: as `run` does
                again = purge_changed_day(ctx, spec, day, throttle)
                state.outcome.rows_deleted += again.rows_deleted
                if again.exported:  # a new generation (results said "skipped", rows=0)
                    state.outcome.action = "archived"
                    manifest = upload.read_manifest(ctx.storage, partition) or manifest
        action = state.outcome.action if state.outcome.action != "pending" else "skipped"
        self._close_day(state, action, manifest=manifest)

    def _purge_wanted(self, state: _Day) -> bool:
        return self.options.purge and state.outcome.day < state.cutoff and not state.outcome.purged

    def _close_day(
        self, state: _Day, action: str, error: str | None = None, manifest: Manifest | None = None
    ) -> None:
        state.done = True
        state.outcome.action, state.outcome.error = action, error
        if manifest is not None:
            state.outcome.rows, state.outcome.bytes = manifest.rows, manifest.total_bytes
        self.tally.day_done(state.outcome)
        if action != "failed":
            failpoints.hit("backfill.day-done")


def backfill(
    contexts: Callable[[Reporter], Context],
    work: Iterable[tuple[TableSpec, list[dt.date]]],
    options: BackfillOptions,
    stop: StopFlag | None = None,
    reporter: Reporter | None = None,
) -> BackfillReport:
    """Backfill every ``(table, days)`` of ``work`` with ``options.workers`` parallel workers.

    Args:
        contexts: makes one worker's Context (its own database session) given its reporter.
        work: tables in config order with their days (see :func:`backfill_days`).
        stop: a shared stop flag (e.g. installed on SIGTERM/SIGINT by the CLI).
        reporter: receives ``backfill`` events: overall rows and bytes, days done of days total.

    Returns:
        The outcome of every day; days not reached before a stop stay ``pending``.
    """
    started = time.monotonic()
    plan = list(work)
    tally = Tally(reporter or NullReporter(), sum(len(days) for _spec, days in plan))
    runner = _Backfill(contexts, options, tally, stop or StopFlag())
    for order, (spec, days) in enumerate(plan):
        for day in days:
            runner.add_day(order, spec, day)
    tally.emit("start", message=f"{tally.days_total} day(s), {options.workers} worker(s)")
    runner.run()
    stopped = runner.stopped
    if stopped is None and runner.stop.requested and not all(s.done for s in runner.days.values()):
        # asked between two days (no chunk in hand to raise it): the days left are not done
        stopped = runner.stop.reason or "a stop was asked for"
    report = BackfillReport(
        [s.outcome for _key, s in sorted(runner.days.items(), key=lambda kv: (kv[0][1], kv[0][0]))],
        time.monotonic() - started,
        stopped,
        runner.critical,
        runner.pauses,
    )
    tally.emit("finish", message=f"{report.rows_archived:,} rows archived")
    return report


__all__ = [
    "BackfillOptions",
    "BackfillReport",
    "DayOutcome",
    "backfill",
    "backfill_days",
    "day_is_done",
]
