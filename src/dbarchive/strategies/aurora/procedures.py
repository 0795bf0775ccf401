"""The database-side mode: stored procedures like the seed design's, made bounded and restartable.

Some teams keep the design they started from — an Airflow DAG that only ``CALL``s procedures on
Aurora, the database doing all the work. ``dbarchive sql --table T`` prints (``--apply``
installs) two procedures for such a table, and ``--airflow`` a DAG that calls them:

- ``dbarchive_export_<table>(p_day DATE)`` writes one day to S3 with ``SELECT … INTO OUTFILE
  S3``, in key ranges of ``range_rows`` keys (one statement each, like dbarchive's units), into
  the same partition folders and the same CSV dialect as dbarchive's strategy, ``OVERWRITE ON``.
- ``dbarchive_purge_<table>(p_today, p_chunk_rows, p_pause_seconds)`` deletes the rows of days
  before the retention cutoff of ``p_today`` (NULL: today, in the table's time zone) in chunks
  of ``p_chunk_rows``, committing each and sleeping ``p_pause_seconds`` between them; calling it
  again deletes only what is left.

**What this mode gives up against dbarchive's own export and purge, plainly**: nothing verifies
the files (no row count, no row digest, no ``_manifest.json`` commit marker: a half-written day
looks like a whole one); the purge deletes by age alone — a day whose export failed, or rows
that arrived late, are deleted without ever having been archived; there is no throttling on
load or replica lag, only the fixed pause; a re-export with fewer ranges leaves the old extra
files beside the new ones; files are uncompressed and named ``part-NNNNN.part_00000`` (Aurora's
suffix), which dbarchive's ``ddl`` file patterns do not match. Use dbarchive's
``export.strategy = "aurora-outfile"`` to keep the server-side export *and* the guarantees.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from urllib.parse import urlparse

from dbarchive._version import __version__
from dbarchive.checks.dependents import require_no_cascades
from dbarchive.config import ArchiveJob, TableSpec
from dbarchive.context import Context
from dbarchive.errors import ConfigError
from dbarchive.layout import Layout
from dbarchive.sources.canonical import quote_identifier
from dbarchive.sources.mysql_sql import valid_date_guard
from dbarchive.sources.table import TableInfo
from dbarchive.strategies.aurora.statement import (
    EXPORT_OPTIONS,
    LOCAL_OPTIONS,
    field_expression,
    sql_literal,
)

DEFAULT_RANGE_KEYS = 1_000_000
DEFAULT_CHUNK_ROWS = 1000
DEFAULT_PAUSE = 0.5
_OPTIONS = EXPORT_OPTIONS.replace("MANIFEST ON", "MANIFEST OFF")  # no JSON object in a partition


@dataclass(frozen=True)
class Procedures:
    """The two procedures of one table: names, and the CREATE statements."""

    schema: str
    export_name: str
    purge_name: str
    export_sql: str
    purge_sql: str

    def script(self) -> str:
        """A script for the ``mysql`` client (``DELIMITER``), dropping older versions first."""
        parts = []
        for name, sql in ((self.export_name, self.export_sql), (self.purge_name, self.purge_sql)):
            parts.append(
                f"DROP PROCEDURE IF EXISTS {self.qualified(name)};\nDELIMITER //\n{sql}//\nDELIMITER ;\n"
            )
        return "\n".join(parts)

    def qualified(self, name: str) -> str:
        return f"{quote_identifier(self.schema)}.{quote_identifier(name)}"


def procedure_name(kind: str, table: str) -> str:
    """``dbarchive_<kind>_<table>``, cut to MySQL's 64 characters with a hash when longer."""
    name = f"dbarchive_{kind}_{table}"
    if len(name) <= 64:
        return name
    return name[:55] + "_" + hashlib.sha256(name.encode()).hexdigest()[:8]


def _bound(day: str, zone: str, column_zone: str) -> str:
    """The instant a day starts, as the column compares it (the session runs at +00:00)."""
    start = f"TIMESTAMP({day})"
    if zone == column_zone:
        return start
    to = "+00:00" if column_zone == "UTC" else column_zone
    return f"CONVERT_TZ({start}, {sql_literal(zone)}, {sql_literal(to)})"


def _today(zone: str) -> str:
    if zone == "UTC":
        return "CURRENT_DATE()"
    return f"DATE(CONVERT_TZ(UTC_TIMESTAMP(), '+00:00', {sql_literal(zone)}))"


def _cutoff(spec: TableSpec) -> str:
    """The first kept day for today ``v_today`` (months clamp to the month's end, like
    dbarchive's retention)."""
    unit = {"days": "DAY", "weeks": "WEEK", "months": "MONTH"}[spec.retention.unit]
    return f"v_today - INTERVAL {int(spec.retention.amount)} {unit}"


def _column_zone(job: ArchiveJob, info: TableInfo) -> str:
    source_zone = job.source.timezone if job.source is not None else "UTC"
    return "UTC" if info.ts.data_type == "timestamp" else source_zone


def _uri_base(job: ArchiveJob, folder: str) -> str:
    parsed = urlparse(job.destination.url)
    if parsed.scheme != "s3":
        raise ConfigError(
            "the database-side procedures write to S3: [destination] url must be s3://"
        )
    root = parsed.path.strip("/")
    scheme = f"s3-{job.destination.region}" if job.destination.region else "s3"
    return f"{scheme}://{parsed.netloc}/{root + '/' if root else ''}{folder}/"


def _literal(text: str, what: str) -> str:
    try:
        return sql_literal(text)
    except ValueError as exc:
        raise ConfigError(f"cannot embed {what} in a stored procedure: {exc}") from None


def _concat(*pieces: str) -> str:
    """``CONCAT(…)`` of alternating static text (given as ``"'text"``) and SQL expressions."""
    args = [_literal(p[1:], "SQL text") if p.startswith("'") else p for p in pieces]
    return "CONCAT(" + ", ".join(args) + ")"


def export_procedure(
    job: ArchiveJob, spec: TableSpec, info: TableInfo, local_dir: str | None = None
) -> str:
    """``CREATE PROCEDURE dbarchive_export_<table>(p_day DATE)`` (see the module docstring).

    ``local_dir`` (an emulation on MySQL/MariaDB): write ``<local_dir>/<day>-part-NNNNN.csv``
    on the database server with ``INTO OUTFILE`` instead — same SELECT, no header line.
    """
    name = (
        f"{quote_identifier(info.schema)}.{quote_identifier(procedure_name('export', spec.name))}"
    )
    ts = quote_identifier(info.ts.name)
    where = f" AND ({spec.where})" if spec.where else ""
    zone, column_zone = spec.timezone, _column_zone(job, info)
    select = "SELECT " + ", ".join(field_expression(c) for c in info.columns)
    day_dir = "year=%Y/month=%m/day=%d" if job.destination.layout is Layout.HIVE else "%Y/%m/%d"
    index = f" FORCE INDEX ({quote_identifier(info.ts_index)})" if info.ts_index else ""
    uri = _concat("'" + _uri_base(job, job.folder(spec)), f"DATE_FORMAT(v_day, {sql_literal(day_dir)})",
                  "'/part-", "LPAD(v_part, 5, '0')")  # fmt: skip
    valid = valid_date_guard(info)  # zero/invalid dates belong to no day: never exported
    day = ["'" + f"{ts} >= ", "QUOTE(v_start)", "'" + f" AND {ts} < ", "QUOTE(v_end)"]
    day += ["'" + valid] if valid else []
    into = ["'" + " INTO OUTFILE S3 ", f"QUOTE({uri})", "'" + " " + _OPTIONS.replace("\n", " ")]
    if local_dir is not None:
        path = _concat("'" + local_dir.rstrip("/") + "/", "v_day", "'-part-", "LPAD(v_part, 5, '0')",
                       "'.csv")  # fmt: skip
        into = [
            "'" + " INTO OUTFILE ",
            f"QUOTE({path})",
            "'" + " " + LOCAL_OPTIONS.replace("\n", " "),
        ]
    if len(info.key) == 1 and info.key[0].is_integer:
        key = quote_identifier(info.key[0].name)
        statement = _concat(
            "'" + f"{select} FROM {info.qualified} FORCE INDEX "
            f"({quote_identifier(info.key_index)}) WHERE {key} >= ",
            "v_from", "'" + f" AND {key} <= ", "v_to", "'" + " AND ", *day,
            "'" + f"{where} ORDER BY {key}", *into,
        )  # fmt: skip
        body = f"""  SELECT COUNT(*), MIN({key}), MAX({key}) INTO v_rows, v_from, v_high
    FROM {info.qualified}{index} WHERE {ts} >= v_start AND {ts} < v_end{valid}{where};
  WHILE v_rows > 0 AND v_from <= v_high DO
    SET v_to = LEAST(v_high, v_from + {int(spec.range_rows or DEFAULT_RANGE_KEYS) - 1});
    SET @dbarchive_sql = {statement};
    PREPARE dbarchive_stmt FROM @dbarchive_sql;
    EXECUTE dbarchive_stmt;
    DEALLOCATE PREPARE dbarchive_stmt;
    SET v_from = v_to + 1, v_part = v_part + 1;
  END WHILE;"""
    else:
        order = ", ".join(quote_identifier(c.name) for c in (info.ts, *info.key))
        statement = _concat("'" + f"{select} FROM {info.qualified}{index} WHERE ", *day,
                            "'" + f"{where} ORDER BY {order}", *into)  # fmt: skip
        body = f"""  SELECT COUNT(*) INTO v_rows FROM {info.qualified}{index}
    WHERE {ts} >= v_start AND {ts} < v_end{valid}{where};
  IF v_rows > 0 THEN
    SET @dbarchive_sql = {statement};
    PREPARE dbarchive_stmt FROM @dbarchive_sql;
    EXECUTE dbarchive_stmt;
    DEALLOCATE PREPARE dbarchive_stmt;
    SET v_part = 1;
  END IF;"""
    comment = _literal(
        f"dbarchive {__version__}: one day of {spec.name} to S3 (SELECT INTO OUTFILE S3); "
        "database-side mode, unverified",
        "the comment",
    )
    return f"""CREATE PROCEDURE {name}(IN p_day DATE)
  SQL SECURITY INVOKER
  COMMENT {comment}
BEGIN
  DECLARE v_day DATE;
  DECLARE v_zone VARCHAR(64) DEFAULT @@SESSION.time_zone;
  DECLARE v_start, v_end DATETIME(6);
  DECLARE v_rows BIGINT DEFAULT 0;
  DECLARE v_from, v_to, v_high DECIMAL(20,0);
  DECLARE v_part INT DEFAULT 0;
  SET time_zone = '+00:00';  -- TIMESTAMP values as UTC text, like dbarchive's export
  SET v_day = COALESCE(p_day, {_today(zone)} - INTERVAL 1 DAY);
  SET v_start = {_bound("v_day", zone, column_zone)};
  SET v_end = {_bound("v_day + INTERVAL 1 DAY", zone, column_zone)};
{body}
  SET time_zone = v_zone;
  SELECT v_day AS day, v_rows AS rows_in_day, v_part AS statements;
END"""


def purge_procedure(job: ArchiveJob, spec: TableSpec, info: TableInfo) -> str:
    """``CREATE PROCEDURE dbarchive_purge_<table>(p_today, p_chunk_rows, p_pause_seconds)``:
    delete the rows of days before the retention cutoff of ``p_today`` (NULL: today)."""
    name = (
        quote_identifier(info.schema) + "." + quote_identifier(procedure_name("purge", spec.name))
    )
    ts = quote_identifier(info.ts.name)
    where = valid_date_guard(info) + (f" AND ({spec.where})" if spec.where else "")
    order = ", ".join(quote_identifier(c.name) for c in (info.ts, *info.key))
    cutoff = _bound(_cutoff(spec), spec.timezone, _column_zone(job, info))
    comment = _literal(
        f"dbarchive {__version__}: delete {spec.name} rows older than {spec.retention} in "
        "committed chunks; database-side mode, deletes without checking any archive",
        "the comment",
    )
    return f"""CREATE PROCEDURE {name}(IN p_today DATE, IN p_chunk_rows INT, IN p_pause_seconds DOUBLE)
  SQL SECURITY INVOKER
  COMMENT {comment}
BEGIN
  DECLARE v_zone VARCHAR(64) DEFAULT @@SESSION.time_zone;
  DECLARE v_today DATE;
  DECLARE v_before DATETIME(6);
  DECLARE v_chunk INT DEFAULT COALESCE(p_chunk_rows, {DEFAULT_CHUNK_ROWS});
  DECLARE v_pause DOUBLE DEFAULT COALESCE(p_pause_seconds, {DEFAULT_PAUSE});
  DECLARE v_deleted, v_chunks INT DEFAULT 0;
  DECLARE v_total BIGINT DEFAULT 0;
  IF v_chunk < 1 OR v_chunk > 100000 OR v_pause < 0 THEN
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'p_chunk_rows must be 1 to 100000, p_pause_seconds >= 0';
  END IF;
  SET time_zone = '+00:00';
  SET v_today = COALESCE(p_today, {_today(spec.timezone)});
  SET v_before = {cutoff};  -- rows of days before the retention cutoff
  chunks: LOOP
    DELETE FROM {info.qualified} WHERE {ts} < v_before{where} ORDER BY {order} LIMIT v_chunk;
    SET v_deleted = ROW_COUNT();
    COMMIT;
    IF v_deleted = 0 THEN
      LEAVE chunks;
    END IF;
    SET v_total = v_total + v_deleted, v_chunks = v_chunks + 1;
    DO SLEEP(v_pause);
  END LOOP;
  SET time_zone = v_zone;
  SELECT v_before AS deleted_before, v_total AS rows_deleted, v_chunks AS chunks;
END"""


def build_procedures(
    job: ArchiveJob, spec: TableSpec, info: TableInfo, local_dir: str | None = None
) -> Procedures:
    """Both procedures of a described table (``local_dir``: see :func:`export_procedure`)."""
    return Procedures(
        info.schema,
        procedure_name("export", spec.name),
        procedure_name("purge", spec.name),
        export_procedure(job, spec, info, local_dir),
        purge_procedure(job, spec, info),
    )


_DAG = """\"\"\"Database-side mode for {table}: Aurora exports each day and deletes expired rows itself.

Generated by `dbarchive sql --table {table} --airflow` (dbarchive {version}). Install the
procedures first (`dbarchive sql --table {table} --apply`). Nothing here verifies the archive
before deleting: see "Database-side mode" in dbarchive's README for what this gives up.
\"\"\"

import datetime as dt

from airflow.providers.common.sql.operators.sql import SQLExecuteQueryOperator

try:  # Airflow 3
    from airflow.sdk import DAG
except ImportError:  # Airflow 2 (MWAA)
    from airflow import DAG

with DAG(
    dag_id={dag_id},
    schedule="@daily",
    start_date=dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc),
    catchup=False,
    max_active_runs=1,
    tags=["dbarchive", "database-side"],
) as dag:
    export = SQLExecuteQueryOperator(
        task_id="export_{task}",
        conn_id={conn_id},
        sql={export_call},
        parameters={{"day": "{{{{ macros.ds_add(data_interval_end | ds, -1) }}}}"}},
        autocommit=True,
    )
    purge = SQLExecuteQueryOperator(
        task_id="purge_{task}",
        conn_id={conn_id},
        sql={purge_call},
        parameters={{"today": "{{{{ data_interval_end | ds }}}}", "chunk": {chunk}, "pause": {pause}}},
        autocommit=True,
    )
    export >> purge
"""


def airflow_dag(procedures: Procedures, table: str, conn_id: str = "mysql_default") -> str:
    """A DAG file whose two tasks call the procedures (export the day before the interval's end,
    then purge with that day as "today"), for Airflow 3 and 2.11 alike."""
    task = re.sub(r"[^A-Za-z0-9_]", "_", table)
    export_call = f"CALL {procedures.qualified(procedures.export_name)}(%(day)s)"
    purge_call = (
        f"CALL {procedures.qualified(procedures.purge_name)}(%(today)s, %(chunk)s, %(pause)s)"
    )
    return _DAG.format(
        table=table,
        version=__version__,
        dag_id=json.dumps(f"dbarchive_database_side_{task}"),
        task=task,
        conn_id=json.dumps(conn_id),
        export_call=json.dumps(export_call),
        purge_call=json.dumps(purge_call),
        chunk=DEFAULT_CHUNK_ROWS,
        pause=DEFAULT_PAUSE,
    )


def procedures_for(ctx: Context, spec: TableSpec, local_dir: str | None = None) -> Procedures:
    """Describe the table (information_schema only) and build its two procedures.

    Refused (SourceError) for a table whose rows other tables reference ``ON DELETE CASCADE``
    or ``SET NULL``: the purge procedure's DELETEs would delete or rewrite those rows too.
    """
    require_no_cascades(ctx, spec)
    info = ctx.describe(spec)
    _require_zone_tables(ctx, spec, {spec.timezone, _column_zone(ctx.job, info)} - {"UTC"})
    return build_procedures(ctx.job, spec, info, local_dir)


def _require_zone_tables(ctx: Context, spec: TableSpec, zones: set[str]) -> None:
    """ConfigError unless the server can convert to each named zone: without its time zone
    tables (MariaDB's and self-managed MySQL's default) CONVERT_TZ is NULL, and the procedures
    ran, exported nothing and deleted nothing, silently (an outside trial)."""
    for zone in sorted(zones):
        (converted,) = ctx.source.query(
            "SELECT CONVERT_TZ('2000-01-01 00:00:00', '+00:00', %s)", (zone,), "checking a zone"
        )[0]
        if converted is None:
            raise ConfigError(
                f"{spec.name}: the procedures convert times to {zone!r}, which this server does "
                "not know (CONVERT_TZ gives NULL: its time zone tables are not loaded), so they "
                "would do nothing; load them (mysql_tzinfo_to_sql /usr/share/zoneinfo | mysql "
                "mysql; RDS and Aurora have them) or archive this table by UTC days"
            )


def install_procedures(ctx: Context, procedures: Procedures) -> list[str]:
    """Create (or replace) both procedures in the database; returns their qualified names.

    Needs the CREATE ROUTINE and ALTER ROUTINE privileges on the schema.
    """
    installed = []
    for name, sql in (
        (procedures.export_name, procedures.export_sql),
        (procedures.purge_name, procedures.purge_sql),
    ):
        qualified = procedures.qualified(name)
        ctx.source.execute(f"DROP PROCEDURE IF EXISTS {qualified}", what="dropping a procedure")
        # Plain SQL, DATE_FORMAT's '%Y' included: the source escapes it for the driver.
        ctx.source.execute(sql, what=f"creating {qualified}")
        installed.append(qualified)
    return installed
