"""Operators: parameters and a few-line ``work()`` over the same core the CLI uses.

Each returns a small summary to XCom (rows, bytes, keys), never data, and logs it as one line
(``summary.py``). The day is the one before the end of the run's data interval, in the table's
time zone — so catch-up and backfill runs archive their own day; "now" is used only to wait until
that day has ended plus ``settle`` (:class:`ArchiveSettledSensor`). The day is written into the
templated field ``day`` when the task is rendered, so the UI's "Rendered Template" shows it.
A permanent error fails the task without retries (``failures.py``).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from dbarchive import api
from dbarchive.airflow._compat import (
    AirflowRescheduleException,
    BaseOperator,
    BaseSensorOperator,
    interval_end,
)
from dbarchive.airflow.connections import source_from_connection, storage_from_connection
from dbarchive.airflow.failures import failing_fast, report_error
from dbarchive.airflow.summary import key_range, summary_line, throttled_seconds
from dbarchive.build import build_context, build_storage
from dbarchive.clock import system_clock
from dbarchive.config import ArchiveJob, TableSpec, job_from_dict, load_job
from dbarchive.context import Context
from dbarchive.dates import is_settled, settles_at
from dbarchive.errors import VerificationError
from dbarchive.events import LogReporter
from dbarchive.runtime.priority import lower_cpu_priority
from dbarchive.steps import upload

log = logging.getLogger("dbarchive")


def load_config(config: str | dict[str, Any]) -> ArchiveJob:
    """A config file path (TOML) or an already parsed mapping."""
    return (
        load_job(config)
        if isinstance(config, str | Path)
        else job_from_dict(config, "<airflow config>")
    )


class _DayRendering:
    """Writes the run's day into the templated field ``day`` as the task is rendered.

    The UI's "Rendered Template" (and the rendered-fields table) then shows exactly the day the
    task works on, computed by :func:`run_day` — the one rule for scheduled, manual and backfill
    runs. A day given explicitly (a template or a date) is left as rendered.
    """

    config: str | dict[str, Any]
    table: str
    day: str | None
    renders_day: ClassVar[bool] = True

    def render_template_fields(self, context: Any, jinja_env: Any = None) -> None:
        super().render_template_fields(context, jinja_env)  # type: ignore[misc]
        if self.renders_day and not self.day:
            with failing_fast():
                spec = load_config(self.config).table(self.table)
                self.day = run_day(context, spec).isoformat()


class _ArchiveOperator(_DayRendering, BaseOperator):
    """Shared fields: the config, the table, the day and the connections.

    Subclasses implement :meth:`work`; ``execute`` runs it, fails a permanent error at once
    (``failures.py``) and logs the summary line.
    """

    template_fields: Sequence[str] = ("config", "table", "day")
    ui_color = "#e8f1fb"
    step: ClassVar[str] = ""  # the step's name in logs and notifications (default: task id)
    # How a mapped instance is labelled in the UI (``map_index_template``): its day or unit.
    default_map_index: ClassVar[str | None] = None

    def __init__(
        self,
        *,
        config: str | dict[str, Any],
        table: str,
        day: str | None = None,
        mysql_conn_id: str | None = "mysql_default",
        aws_conn_id: str | None = "aws_default",
        **kwargs: Any,
    ) -> None:
        if self.default_map_index:
            kwargs.setdefault("map_index_template", self.default_map_index)
        super().__init__(**kwargs)
        self.config, self.table, self.day = config, table, day
        self.mysql_conn_id, self.aws_conn_id = mysql_conn_id, aws_conn_id

    @property
    def step_name(self) -> str:
        """The step this task performs (export, verify, purge…), for logs and notifications."""
        return self.step or str(self.task_id).rpartition(".")[2]

    def execute(self, context: Any) -> Any:
        with failing_fast():
            summary = self.work(context)
        log.info("%s", summary_line(self.step_name, summary))
        return summary

    def work(self, context: Any) -> Any:
        """The task's work; returns its XCom summary."""
        raise NotImplementedError

    def spec(self, job: ArchiveJob) -> TableSpec:
        return job.table(self.table)

    def archive_day(self, context: Any, spec: TableSpec) -> dt.date:
        """The day this run archives: given explicitly, or the day before the interval's end."""
        return run_day(context, spec, self.day)

    def run_date(self, context: Any, spec: TableSpec, ctx: Context) -> dt.date:
        """'Today' for the retention cutoff: the day the run's interval ends, in the table's zone,
        never later than today by the clock: a pinned ``day="{{ ds }}"`` of today's run counted
        the cutoff from tomorrow and purged a day its retention keeps (an outside trial)."""
        ends = self.archive_day(context, spec) + dt.timedelta(days=1)
        today = ctx.today(spec)
        if ends > today:
            self.log.warning(
                "%s: the run's day %s ends after today (%s): the retention cutoff counts from "
                "today", spec.name, ends - dt.timedelta(days=1), today,
            )  # fmt: skip
        return min(ends, today)

    def dbarchive_context(self) -> tuple[Context, TableSpec]:
        ctx = open_context(self.config, self.mysql_conn_id, self.aws_conn_id)
        return ctx, self.spec(ctx.job)


def open_context(
    config: str | dict[str, Any], mysql_conn_id: str | None, aws_conn_id: str | None
) -> Context:
    """The task's Context: the config, [source] from the MySQL connection, S3 from the AWS one."""
    job = load_config(config)
    if mysql_conn_id:
        job = job.model_copy(update={"source": source_from_connection(mysql_conn_id, job)})
    options = storage_from_connection(aws_conn_id, job) if aws_conn_id else None
    storage = build_storage(job, options)
    lower_cpu_priority(job.throttle.nice)  # this task's own process: yield to the others
    return build_context(job, reporter=LogReporter(), storage=storage)


def run_day(context: Any, spec: TableSpec, day: str | None = None) -> dt.date:
    """The day a run archives: ``day`` if given, else the day before its interval's end.

    In the table's zone: the interval's end (Airflow 2 ``@daily``: the next midnight after the
    logical date; Airflow 3 cron runs: the logical date itself; a run without a logical date,
    Airflow 3 only: its ``run_after``) converted to the table's zone, minus one day.
    """
    if day:
        return dt.date.fromisoformat(str(day))
    end = interval_end(context)
    # Date arithmetic, not datetime: Airflow's pendulum DateTime in a ZoneInfo zone minus a
    # timedelta comes out naive at midnight of the wrong day (New York: 11-21 00:00 UTC - 1 day
    # gave 11-20, not 11-19).
    return end.astimezone(ZoneInfo(spec.timezone)).date() - dt.timedelta(days=1)


class ArchiveSettledSensor(_DayRendering, BaseSensorOperator):
    """Waits until the run's day may be archived: ended in the table's zone plus ``settle``.

    A run starts when its interval ends, at midnight, before late writes have landed; the export
    would refuse the day (exit 2) then. In reschedule mode, this frees its worker slot and is run
    again at the very moment the day settles (``dates.settles_at``). It reads the config and the
    clock only: no database, no S3, so it takes no slot of the database pool.
    """

    template_fields: Sequence[str] = ("config", "table", "day")
    ui_color = "#f4f0e0"

    def __init__(
        self, *, config: str | dict[str, Any], table: str, day: str | None = None, **kwargs: Any
    ) -> None:
        kwargs.setdefault("mode", "reschedule")
        kwargs.setdefault("timeout", 2 * 86_400)  # a day settles at most a day + settle after
        super().__init__(**kwargs)
        self.config, self.table, self.day = config, table, day

    @property
    def step_name(self) -> str:
        return "settle"

    def poke(self, context: Any) -> bool:
        with failing_fast():
            spec = load_config(self.config).table(self.table)
            day = run_day(context, spec, self.day)
        now = system_clock().now()
        if is_settled(spec, day, now):
            log.info("%s", summary_line("settle", {"table": spec.name, "day": day}))
            return True
        moment = settles_at(spec, day)
        self.log.info("%s %s has not ended plus settle; waiting until %s", spec.name, day, moment)
        # Exactly then, not after a poke interval.
        raise AirflowRescheduleException(moment)  # type: ignore[no-untyped-call, unused-ignore]


class ArchiveExportOperator(_ArchiveOperator):
    """Export the run's day of one table (CSV parts, manifest last); replaces it on re-runs."""

    step = "export"

    def work(self, context: Any) -> dict[str, Any]:
        ctx, spec = self.dbarchive_context()
        day = self.archive_day(context, spec)
        try:  # the export checks S3 itself, on a thread beside MySQL's planning
            stopping = api.throttle_for(ctx)  # stops after a chunk past max_runtime or on stop_file
            result = api.export(ctx, spec, day, stopping=stopping)
            manifest = upload.read_manifest(ctx.storage, ctx.partition(spec, day))
        finally:
            ctx.close()
        return {"table": result.table, "day": result.day.isoformat(), "rows": result.rows,
                "bytes": result.bytes, "files": len(result.files), "keys": list(result.files),
                "key_range": key_range(manifest), "manifest": result.manifest_key,
                "throttled_s": throttled_seconds(stopping)}  # fmt: skip


class ArchiveVerifyOperator(_ArchiveOperator):
    """Verify the run's day: manifest, files read back, and the database's rows must agree."""

    step = "verify"

    def work(self, context: Any) -> dict[str, Any]:
        ctx, spec = self.dbarchive_context()
        try:
            result = api.verify(ctx, spec, self.archive_day(context, spec))
        finally:
            ctx.close()
        if not result.ok:
            raise VerificationError("; ".join(result.problems))
        return {"table": result.table, "day": result.day.isoformat(), "rows": result.archived_rows,
                "files": result.files_checked, "verified": True}  # fmt: skip


class ArchivePurgeOperator(_ArchiveOperator):
    """Purge the table's expired days (each verified, row-matched, throttled); safe to clear."""

    step = "purge"

    def work(self, context: Any) -> dict[str, Any]:
        ctx, spec = self.dbarchive_context()
        try:
            throttle = api.throttle_for(ctx)
            (report,) = api.purge(
                ctx, [spec], today=self.run_date(context, spec, ctx), stopping=throttle
            )
        finally:
            ctx.close()
        if report.failures:
            codes = [f.exit_code for f in report.failures]
            raise report_error(report.errors, codes, [f.error for f in report.failures])
        if report.stopped:  # max_runtime or the stop_file: the rest is the next run's
            self.log.warning("purge of %s stopped: %s", spec.name, report.stopped)
        for note in report.notes:  # e.g. the backlog grew since the last run
            self.log.warning("%s", note)
        days = list(dict.fromkeys(p.day.isoformat() for p in report.purged))  # a day, once
        return {"table": spec.name, "days": days,
                "rows_deleted": report.rows_deleted, "exported_first": len(report.exported),
                "verified": all(v.ok for v in report.verified) if report.verified else None,
                "throttled_s": throttled_seconds(throttle), "stopped": report.stopped,
                "notes": list(report.notes)}  # fmt: skip


class ArchiveSummaryOperator(BaseOperator):
    """Posts one success message summing up the run from the other tasks' XCom summaries."""

    def __init__(
        self,
        *,
        groups: dict[str, str],
        notifier: Any,
        day_tasks: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.groups, self.notifier = groups, notifier  # table name -> its TaskGroup id
        self.day_tasks = day_tasks or {}  # table name -> the task whose XCom sums up the day

    def execute(self, context: Any) -> str:
        ti = context["ti"]
        lines = []
        for table, group in self.groups.items():
            day_task = self.day_tasks.get(table, f"{group}.export")
            export = ti.xcom_pull(task_ids=day_task) or {}
            purge = ti.xcom_pull(task_ids=f"{group}.purge") or {}
            caught = ti.xcom_pull(task_ids=f"{group}.catch_up") or {}
            late = (
                f"; caught up {len(caught['days'])} earlier day(s) ({caught.get('rows', 0):,} rows)"
                if caught.get("days")
                else ""
            )
            lines.append(
                f"{table}: archived {export.get('day', '?')} ({export.get('rows', 0):,} rows, "
                f"{export.get('bytes', 0):,} bytes){late}; purged {len(purge.get('days', []))} "
                f"day(s), {purge.get('rows_deleted', 0):,} rows"
            )
        text = f"dbarchive OK ({context['dag'].dag_id}): " + "; ".join(lines)
        sent = self.notifier.send(text)
        log.info("%s", summary_line("report", {"tables": sorted(self.groups), "sent": sent}))
        return text
