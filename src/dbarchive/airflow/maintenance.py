"""The CLI's looking commands as operators — ``check``, ``plan --backfill``, ``status``, ``ddl`` —
for environments without a shell (MWAA): run them from a DAG (``build_maintenance_dag``) and read
the answer in the task log and XCom.

They read the config and the connections like the other operators and write nothing to the
archive (``check`` writes and deletes one probe object, as ``dbarchive check`` does). A check
that finds something missing fails the task at once (no retry: a grant does not appear by
itself), with every missing thing and its fix in the message.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from dbarchive import api
from dbarchive.airflow._compat import BaseOperator
from dbarchive.airflow.failures import failing_fast
from dbarchive.airflow.operators import open_context
from dbarchive.airflow.summary import log, summary_line
from dbarchive.checks import CheckResult, run_checks
from dbarchive.config import ArchiveJob, TableSpec
from dbarchive.context import Context
from dbarchive.ddl import ENGINES, ddl_text, read_definition
from dbarchive.errors import ConfigError
from dbarchive.jobs.backfill_days import backfill_days
from dbarchive.jobs.capacity import BackfillEstimate, estimate_backfill


class CheckFailed(ConfigError):
    """``check`` found a requirement of the run missing (a grant, a bucket permission)."""


class _MaintenanceOperator(BaseOperator):
    """The config, the tables (default: all) and the connections; ``work`` does the rest."""

    template_fields: Sequence[str] = ("config", "tables")
    ui_color = "#eef3e2"
    step = ""

    def __init__(
        self,
        *,
        config: str | dict[str, Any],
        tables: Sequence[str] = (),
        mysql_conn_id: str | None = "mysql_default",
        aws_conn_id: str | None = "aws_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.config, self.tables = config, tables
        self.mysql_conn_id, self.aws_conn_id = mysql_conn_id, aws_conn_id

    def execute(self, context: Any) -> Any:
        with failing_fast():
            ctx = open_context(self.config, self.mysql_conn_id, self.aws_conn_id)
            try:
                specs = self.selected(ctx.job)
                result = self.work(ctx, specs)
            finally:
                ctx.close()
        log.info("%s", summary_line(self.step, {"tables": [spec.name for spec in specs]}))
        return result

    def selected(self, job: ArchiveJob) -> list[TableSpec]:
        """The tables asked for (a list, or a comma-separated text from params), else all."""
        names = self.tables.split(",") if isinstance(self.tables, str) else list(self.tables)
        return [job.table(n.strip()) for n in names if n.strip()] or list(job.tables)

    def work(self, ctx: Context, specs: list[TableSpec]) -> Any:
        raise NotImplementedError


class ArchiveCheckOperator(_MaintenanceOperator):
    """``dbarchive check``: every privilege, bucket permission and setting a run needs.

    Logs one line per requirement (``ok``/``WARN``/``MISSING`` and the fix); fails when one is
    missing (advisory bucket settings only with ``strict``). Returns the results.
    """

    step = "check"

    def __init__(self, *, purge: bool = True, strict: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.purge, self.strict = purge, strict

    def work(self, ctx: Context, specs: list[TableSpec]) -> list[dict[str, Any]]:
        results = run_checks(ctx, specs, purge=self.purge)
        for r in results:
            log.info("dbarchive check: %-7s %s: %s%s", _status(r), r.name, r.detail,
                     f" (fix: {r.fix})" if r.fix and not r.ok else "")  # fmt: skip
        missing = [r for r in results if not r.ok and (self.strict or not r.advisory)]
        if missing:
            raise CheckFailed(
                f"{len(missing)} requirement(s) missing: "
                + "; ".join(
                    f"{r.name}: {r.detail} (fix: {r.fix or 'see the log'})" for r in missing
                )
            )
        return [asdict(r) for r in results]


def _status(result: CheckResult) -> str:
    if result.ok and not result.warning:
        return "ok"
    return "WARN" if result.warning or result.advisory else "MISSING"


class ArchiveBackfillPlanOperator(_MaintenanceOperator):
    """``dbarchive plan --backfill``: days, rows, bytes and work units of the history still to
    archive, and how long ``workers`` (at most ``db_cap`` on the database) would take.

    ``first``/``last`` (``YYYY-MM-DD``, templated; empty: the oldest row's day / the day before
    the cutoff), ``workers``, ``db_cap`` and ``rows_per_second`` as the CLI takes them.
    """

    template_fields: Sequence[str] = ("config", "tables", "first", "last", "workers", "db_cap")
    step = "plan_backfill"

    def __init__(
        self,
        *,
        first: str = "",
        last: str = "",
        workers: int | str = 1,
        db_cap: int | str | None = None,
        rows_per_second: float | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.first, self.last = first, last
        self.workers, self.db_cap, self.rows_per_second = workers, db_cap, rows_per_second

    def work(self, ctx: Context, specs: list[TableSpec]) -> list[dict[str, Any]]:
        first = dt.date.fromisoformat(self.first) if self.first else None
        last = dt.date.fromisoformat(self.last) if self.last else None
        workers = int(self.workers)  # templated from params: a string then
        cap = int(self.db_cap) if self.db_cap not in (None, "", "None") else workers
        out = []
        for spec in specs:
            days = backfill_days(ctx, spec, first, last, ctx.today(spec))
            estimate = estimate_backfill(ctx, spec, days, workers, cap, self.rows_per_second)
            log.info("dbarchive plan --backfill: %s", _estimate_line(estimate))
            out.append(_estimate_json(estimate))
        return out


def _estimate_line(e: BackfillEstimate) -> str:
    span = f"{e.first} .. {e.last}" if e.days else "nothing to backfill"
    return (
        f"{e.table}: {e.days:,} days ({span}), ~{e.rows:,} rows, ~{e.bytes:,} bytes in the "
        f"database, {e.units:,} work units; {e.workers} worker(s), database cap {e.db_cap} -> "
        f"{e.parallel} at once, {e.throughput.rows_per_second:,.0f} rows/s each "
        f"({e.throughput.source}): ~{e.seconds / 3600:.1f} h"
    )


def _estimate_json(e: BackfillEstimate) -> dict[str, Any]:
    """The same keys as ``dbarchive plan --backfill --json``."""
    return {
        "table": e.table,
        "first_day": e.first.isoformat() if e.first else None,
        "last_day": e.last.isoformat() if e.last else None,
        "days": e.days, "rows": e.rows, "bytes": e.bytes, "units": e.units,
        "workers": e.workers, "db_cap": e.db_cap, "parallel": e.parallel,
        "rows_per_second_per_worker": round(e.throughput.rows_per_second, 1),
        "throughput_source": e.throughput.source, "seconds": round(e.seconds, 1),
    }  # fmt: skip


class ArchiveStatusOperator(_MaintenanceOperator):
    """``dbarchive status``: archived, purged, restored and pending days per table."""

    step = "status"

    def work(self, ctx: Context, specs: list[TableSpec]) -> list[dict[str, Any]]:
        out = []
        for spec in specs:
            state = api.status(ctx, spec).to_json()
            log.info(
                "dbarchive status: %s: %d archived day(s), %d purged, %d pending, cutoff %s",
                spec.name, len(state["archived_days"]), len(state["purged_days"]),
                len(state["pending_days"]), state["cutoff"],
            )  # fmt: skip
            out.append(state)
        return out


class ArchiveDdlOperator(_MaintenanceOperator):
    """``dbarchive ddl``: each table's definition for a query engine (athena, glue's JSON,
    databricks, duckdb), from its manifests; logged, and returned as ``{table: text}``."""

    template_fields: Sequence[str] = ("config", "tables", "engine", "database")
    step = "ddl"

    def __init__(self, *, engine: str = "athena", database: str = "default", **kwargs: Any):
        super().__init__(**kwargs)
        self.engine, self.database = engine, database

    def work(self, ctx: Context, specs: list[TableSpec]) -> dict[str, str]:
        if self.engine not in ENGINES:
            raise ConfigError(f"engine {self.engine!r}: choose one of {', '.join(ENGINES)}")
        job, out = ctx.job, {}
        for spec in specs:
            definition = read_definition(
                ctx.storage, _location_root(job), spec.name, job.destination.layout,
                job.folder(spec),
            )  # fmt: skip
            out[spec.name] = ddl_text(self.engine, definition, self.database)
            log.info("dbarchive ddl (%s) of %s:\n%s", self.engine, spec.name, out[spec.name])
        return out


def _location_root(job: ArchiveJob) -> str:
    """The destination as query engines address it: the s3:// URL, or an absolute local path."""
    url = job.destination.url
    parsed = urlparse(url)
    if parsed.scheme == "s3":
        return url
    return str(Path(parsed.path if parsed.scheme == "file" else url).resolve())
