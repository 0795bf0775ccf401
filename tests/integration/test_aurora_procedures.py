"""The database-side mode on MariaDB: the purge procedure deletes only expired rows, in committed
chunks, and a second call deletes nothing; the export procedure's generated statements (emulated
with INTO OUTFILE on the server) write exactly the day's rows in key order."""

from __future__ import annotations

import datetime as dt
import io
import math
from pathlib import Path
from typing import Any

import MySQLdb
import pytest
from click.testing import CliRunner

from dbarchive import build_context
from dbarchive.checksum import RowDigest
from dbarchive.cli import cli
from dbarchive.errors import ConfigError
from dbarchive.formats.csv import header_line, iter_rows
from dbarchive.strategies.aurora.procedures import install_procedures, procedures_for
from tests.integration.aurora_emulation import (
    OutfileSchema,
    OutfileServer,
    outfile_schema,  # noqa: F401
    outfile_server,  # noqa: F401
)
from tests.integration.helpers import LOG_TABLE_DDL, fill_events, make_job
from tests.integration.mysql_fixtures import MySqlSchema, mysql_schema  # noqa: F401

TODAY = "2026-11-25"  # retention "2 months": the cutoff is 2026-09-25, that day kept


def _config(tmp_path: Path, url: str, **table: Any) -> Path:
    extra = "".join(f"{k} = {v!r}\n".replace("'", '"') for k, v in table.items())
    path = tmp_path / "archive.toml"
    path.write_text(
        f'[source]\nurl = "{url}"\n[destination]\nurl = "s3://archive-bucket/prod"\n'
        f'[[tables]]\nname = "events"\ntimestamp_column = "created_at"\nretention = "2 months"\n{extra}'
    )
    return path


def _com_delete(schema: MySqlSchema) -> int:
    return int(schema.execute("SHOW SESSION STATUS LIKE 'Com_delete'")[0][1])


def test_purge_procedure_deletes_only_expired_rows_in_chunks_and_twice_is_safe(
    mysql_schema: MySqlSchema, tmp_path: Path
) -> None:
    """Installed with `dbarchive sql --apply`: rows before the cutoff go, 100 per committed
    DELETE (counted by the server), every later row stays, and a second call deletes nothing."""
    mysql_schema.execute(LOG_TABLE_DDL)
    for day, rows in (
        ("2026-09-23", 400),
        ("2026-09-24", 350),
        ("2026-09-25", 300),
        ("2026-11-24", 50),
    ):
        fill_events(mysql_schema, day, rows)
    for moment in ("2026-09-24 23:59:59.999999", "2026-09-25 00:00:00"):  # either side of it
        mysql_schema.execute(
            "INSERT INTO events (created_at, account_id, note) VALUES (%s, 1, 'edge')", (moment,)
        )
    kept = mysql_schema.execute(
        "SELECT id, note FROM events WHERE created_at >= '2026-09-25' ORDER BY id"
    )
    result = CliRunner().invoke(
        cli, ["sql", "-c", str(_config(tmp_path, mysql_schema.url)), "-t", "events", "--apply"]
    )
    assert result.exit_code == 0, result.output
    assert "dbarchive_purge_events" in result.output
    before = _com_delete(mysql_schema)
    ((cutoff, deleted, chunks),) = mysql_schema.execute(
        "CALL dbarchive_purge_events(%s, 100, 0)", (TODAY,)
    )
    assert str(cutoff).startswith("2026-09-25 00:00:00")
    assert (deleted, chunks) == (751, math.ceil(751 / 100))
    assert (
        _com_delete(mysql_schema) - before == chunks + 1
    )  # one DELETE per chunk, one that found none
    assert mysql_schema.execute("SELECT id, note FROM events ORDER BY id") == kept
    ((_, again, again_chunks),) = mysql_schema.execute(
        "CALL dbarchive_purge_events(%s, 100, 0)", (TODAY,)
    )
    assert (again, again_chunks) == (0, 0)
    assert mysql_schema.execute("SELECT @@SESSION.time_zone")[0][0] == "SYSTEM"  # restored


def test_purge_procedure_defaults_to_today_and_refuses_bad_chunks(
    mysql_schema: MySqlSchema, tmp_path: Path
) -> None:
    """NULL today means the server's today: years-old rows go, today's stay; a chunk of 0 is an error."""
    mysql_schema.execute(LOG_TABLE_DDL)
    fill_events(mysql_schema, "2020-01-01", 20)
    today = dt.datetime.now(dt.UTC).date().isoformat()
    fill_events(mysql_schema, today, 10, start_hour=0)
    job = make_job(
        mysql_schema.url,
        "s3://archive-bucket/prod",
        [{"name": "events", "timestamp_column": "created_at"}],
    )
    ctx = build_context(job)
    install_procedures(ctx, procedures_for(ctx, job.tables[0]))
    ctx.source.close()
    ((_, deleted, _chunks),) = mysql_schema.execute("CALL dbarchive_purge_events(NULL, NULL, 0)")
    assert deleted == 20
    assert mysql_schema.execute("SELECT COUNT(*) FROM events")[0][0] == 10
    with pytest.raises(MySQLdb.OperationalError, match="p_chunk_rows must be 1 to 100000"):
        mysql_schema.execute("CALL dbarchive_purge_events(NULL, 0, 0)")


def test_procedures_for_a_zone_the_server_cannot_convert_are_refused(
    mysql_schema: MySqlSchema, tmp_path: Path
) -> None:
    """A Europe/Berlin table on a server without time zone tables (this one's, MariaDB's
    default): CONVERT_TZ is NULL there, and the procedures installed, ran, and deleted nothing,
    silently (an outside trial). Refused, naming the zone and the fix; nothing installed."""
    (converted,) = mysql_schema.execute(
        "SELECT CONVERT_TZ('2000-01-01 00:00:00', '+00:00', 'Europe/Berlin')"
    )[0]
    if converted is not None:
        pytest.skip("this server has its time zone tables")
    mysql_schema.execute(LOG_TABLE_DDL)
    table = {"name": "events", "timestamp_column": "created_at", "timezone": "Europe/Berlin"}
    job = make_job(mysql_schema.url, "s3://archive-bucket/prod", [table])
    ctx = build_context(job)
    with pytest.raises(ConfigError, match="'Europe/Berlin', which this server does not know"):
        procedures_for(ctx, job.tables[0])
    ctx.source.close()
    assert mysql_schema.execute("SHOW PROCEDURE STATUS WHERE Db = DATABASE()") == []


def test_export_procedure_statements_write_exactly_the_day_in_key_ranges(
    outfile_schema: OutfileSchema, outfile_server: OutfileServer
) -> None:
    """The procedure's dynamic statements, pointed at server-local files (MariaDB has no S3):
    three ranges of 2000 keys, every row of the day once, in key order, the day's digest."""
    outfile_schema.execute(LOG_TABLE_DDL)
    for day, rows in (("2026-11-23", 100), ("2026-11-24", 5000), ("2026-11-25", 100)):
        fill_events(outfile_schema, day, rows)
    job = make_job(outfile_schema.url, "s3://archive-bucket/prod",
                   [{"name": "events", "timestamp_column": "created_at", "range_rows": 2000}])  # fmt: skip
    ctx = build_context(job)
    spec = job.tables[0]
    install_procedures(ctx, procedures_for(ctx, spec, local_dir=str(outfile_server.outdir)))
    ((day, rows, statements),) = outfile_schema.execute(
        "CALL dbarchive_export_events('2026-11-24')"
    )
    assert (str(day), rows, statements) == ("2026-11-24", 5000, 3)
    files = sorted(outfile_server.outdir.glob("2026-11-24-part-*.csv"))
    assert [f.name for f in files] == [f"2026-11-24-part-0000{i}.csv" for i in range(3)]
    info = ctx.describe(spec)
    header = header_line([c.name for c in info.columns])
    digest, ids = RowDigest(), []
    for path in files:
        parsed = list(iter_rows(io.BytesIO(header + path.read_bytes())))[1:]
        path.unlink()
        digest.add_rows(parsed)
        ids += [int(r[0] or b"0") for r in parsed]
    assert ids == sorted(ids) and len(set(ids)) == 5000
    assert digest == ctx.source.digest_day(
        info, ctx.source.window(spec, info, dt.date(2026, 11, 24))
    )
    ctx.source.close()
