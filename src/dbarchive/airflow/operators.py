"""Operators: parameters and a few-line ``execute()`` over the same core the CLI uses.

Each returns a small summary to XCom (rows, bytes, keys), never data. The day is the one before the
end of the run's data interval, in the table's time zone — so catch-up and backfill runs archive
their own day, and "now" is never used.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from dbarchive.airflow._compat import BaseOperator, interval_end
from dbarchive.airflow.connections import source_from_connection, storage_from_connection
from dbarchive.build import build_context, build_storage, build_throttle
from dbarchive.config import ArchiveJob, TableSpec, job_from_dict, load_job
from dbarchive.context import Context
from dbarchive.daily import TableReport, purge_table
from dbarchive.errors import DbArchiveError, VerificationError
from dbarchive.events import LogReporter
from dbarchive.priority import lower_cpu_priority
from dbarchive.steps.units import export_day_as_configured
from dbarchive.steps.verify import verify_day

log = logging.getLogger("dbarchive")


def load_config(config: str | dict[str, Any]) -> ArchiveJob:
    """A config file path (TOML) or an already parsed mapping."""
    return (
        load_job(config)
        if isinstance(config, str | Path)
        else job_from_dict(config, "<airflow config>")
    )


class _ArchiveOperator(BaseOperator):
    """Shared fields: the config, the table, the day and the connections."""

    template_fields: Sequence[str] = ("config", "table", "day")
    ui_color = "#e8f1fb"

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
        super().__init__(**kwargs)
        self.config, self.table, self.day = config, table, day
        self.mysql_conn_id, self.aws_conn_id = mysql_conn_id, aws_conn_id

    def spec(self, job: ArchiveJob) -> TableSpec:
        return job.table(self.table)

    def archive_day(self, context: Any, spec: TableSpec) -> dt.date:
        """The day this run archives: given explicitly, or the day before the interval's end."""
        if self.day:
            return dt.date.fromisoformat(str(self.day))
        end = interval_end(context)
        return (end.astimezone(ZoneInfo(spec.timezone)) - dt.timedelta(days=1)).date()

    def run_date(self, context: Any, spec: TableSpec) -> dt.date:
        """'Today' for the retention cutoff: the day the run's interval ends, in the table's zone."""
        return self.archive_day(context, spec) + dt.timedelta(days=1)

    def dbarchive_context(self) -> tuple[Context, TableSpec]:
        job = load_config(self.config)
        if self.mysql_conn_id:
            job = job.model_copy(update={"source": source_from_connection(self.mysql_conn_id, job)})
        options = storage_from_connection(self.aws_conn_id, job) if self.aws_conn_id else None
        storage = build_storage(job, options)
        lower_cpu_priority(job.throttle.nice)  # this task's own process: yield to the others
        return build_context(job, reporter=LogReporter(), storage=storage), self.spec(job)


class ArchiveExportOperator(_ArchiveOperator):
    """Export the run's day of one table (CSV parts, manifest last); replaces it on re-runs."""

    def execute(self, context: Any) -> dict[str, Any]:
        ctx, spec = self.dbarchive_context()
        try:  # the export checks S3 itself, on a thread beside MySQL's planning
            result = export_day_as_configured(ctx, spec, self.archive_day(context, spec))
        finally:
            ctx.source.close()
        return {"table": result.table, "day": result.day.isoformat(), "rows": result.rows,
                "bytes": result.bytes, "keys": list(result.files), "manifest": result.manifest_key}  # fmt: skip


class ArchiveVerifyOperator(_ArchiveOperator):
    """Verify the run's day: manifest, files read back, and the database's rows must agree."""

    def execute(self, context: Any) -> dict[str, Any]:
        ctx, spec = self.dbarchive_context()
        try:
            result = verify_day(ctx, spec, self.archive_day(context, spec))
        finally:
            ctx.source.close()
        if not result.ok:
            raise VerificationError("; ".join(result.problems))
        return {"table": result.table, "day": result.day.isoformat(), "rows": result.archived_rows}


class ArchivePurgeOperator(_ArchiveOperator):
    """Purge the table's expired days (each verified, row-matched, throttled); safe to clear."""

    def execute(self, context: Any) -> dict[str, Any]:
        ctx, spec = self.dbarchive_context()
        report = TableReport(spec.name)
        try:
            purge_table(ctx, spec, self.run_date(context, spec), build_throttle(ctx), report)
        finally:
            ctx.source.close()
        if report.errors:
            raise DbArchiveError("; ".join(report.errors))
        return {"table": spec.name, "days": [p.day.isoformat() for p in report.purged],
                "rows_deleted": report.rows_deleted, "exported_first": len(report.exported)}  # fmt: skip


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
            lines.append(
                f"{table}: archived {export.get('day', '?')} ({export.get('rows', 0):,} rows, "
                f"{export.get('bytes', 0):,} bytes); purged {len(purge.get('days', []))} day(s), "
                f"{purge.get('rows_deleted', 0):,} rows"
            )
        text = f"dbarchive OK ({context['dag'].dag_id}): " + "; ".join(lines)
        self.notifier.send(text)
        return text
