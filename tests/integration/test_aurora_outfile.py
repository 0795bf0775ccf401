"""The aurora-outfile strategy, emulated on MariaDB (``aurora_emulation.py``): what Aurora would
write from the very statements dbarchive builds is parsed, verified, published and purged like a
stream export — with the same row digest — and anything else is refused, publishing nothing.

Nothing here ran against real Aurora: the server's part (INTO OUTFILE S3, FORMAT CSV HEADER, the
6 GB roll, the manifest) is played by MariaDB's INTO OUTFILE and the suite's S3 server.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from dbarchive import UnconvertibleTextError, VerificationError, build_context
from dbarchive.cli import cli
from dbarchive.config import SourceSettings
from dbarchive.context import Context
from dbarchive.jobs.backfill import BackfillOptions, backfill
from dbarchive.jobs.daily import run_table
from dbarchive.layout import PartitionPath
from dbarchive.manifest import Manifest
from dbarchive.pipeline import export_day, export_day_as_configured
from dbarchive.sources.mysql import MySqlSource
from dbarchive.steps import upload
from dbarchive.steps.archive_files import iter_archive_rows
from dbarchive.steps.verify import verify_day
from dbarchive.strategies.aurora import checks
from dbarchive.throttle import StopFlag, Throttle
from dbarchive.units.plan import plan_units
from dbarchive.units.publish import publish_units
from dbarchive.units.records import read_record
from tests.integration.aurora_emulation import (
    OUTFILE_DIR_ENV,
    ROLL_ENV,
    EmulatedAurora,
    OutfileSchema,
    OutfileServer,
    outfile_schema,  # noqa: F401
    outfile_server,  # noqa: F401
    split_rows,
)
from tests.integration.conftest import S3Endpoint
from tests.integration.every_type import DAY as EVERY_DAY
from tests.integration.every_type import DDL as EVERY_DDL
from tests.integration.every_type import STRINGS, load_every_type
from tests.integration.helpers import LOG_TABLE_DDL, fill_events, make_job

DAY = dt.date(2026, 11, 24)
ROWS = 12_000
CHARSET_DDL = """
CREATE TABLE notes (
  id INT NOT NULL PRIMARY KEY, ts DATETIME NOT NULL,
  ru VARCHAR(20) CHARACTER SET cp1251 NULL, KEY (ts)
) DEFAULT CHARSET=utf8mb4
"""


@pytest.fixture
def aws_env(s3_endpoint: S3Endpoint, monkeypatch: pytest.MonkeyPatch) -> S3Endpoint:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3_endpoint.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3_endpoint.secret_key)
    return s3_endpoint


def _ctx(
    schema: OutfileSchema,
    endpoint: S3Endpoint,
    bucket: str,
    prefix: str,
    table: dict[str, Any],
    server: OutfileServer | None = None,
    roll: int = 6 * 1000**3,
    **defaults: Any,
) -> tuple[Context, EmulatedAurora | None]:
    job = make_job(schema.url, f"s3://{bucket}/{prefix}", [table], endpoint_url=endpoint.url,
                   region=endpoint.region, **defaults)  # fmt: skip
    ctx = build_context(job)
    emulator = None
    if server is not None:
        emulator = EmulatedAurora(ctx.storage, job.destination.url, server.outdir, roll)
        ctx.outfile_runner = emulator
    return ctx, emulator


def _manifest(ctx: Context, table: str, day: dt.date) -> Manifest:
    manifest = upload.read_manifest(ctx.storage, PartitionPath(table, day))
    assert manifest is not None
    return manifest


def _keys(ctx: Context, table: str, day: dt.date) -> list[str]:
    prefix = PartitionPath(table, day).prefix
    return [o.key.removeprefix(prefix) for o in ctx.storage.list_objects(prefix)]


OUTFILE = {"strategy": "aurora-outfile"}


def test_every_type_through_emulated_aurora_equals_the_stream_archive(
    outfile_schema: OutfileSchema,
    outfile_server: OutfileServer,
    aws_env: S3Endpoint,
    s3_bucket: str,
) -> None:
    """Every type and tricky value: Aurora's bytes (from dbarchive's statement) are the stream
    export's rows with the same row digest, verify row by row, and leave no staging object."""
    outfile_schema.execute(EVERY_DDL)
    load_every_type(outfile_schema, "everything")
    table = {"name": "everything", "timestamp_column": "ts"}
    stream, _ = _ctx(outfile_schema, aws_env, s3_bucket, "stream", table)
    aurora, emulator = _ctx(outfile_schema, aws_env, s3_bucket, "aurora",
                            {**table, "export": OUTFILE}, outfile_server)  # fmt: skip
    export_day(stream, stream.job.tables[0], EVERY_DAY)
    stream.source.close()  # its run lock goes with its session: the aurora run may take it
    result = export_day_as_configured(aurora, aurora.job.tables[0], EVERY_DAY)
    assert result.rows == len(STRINGS)
    a, s = _manifest(aurora, "everything", EVERY_DAY), _manifest(stream, "everything", EVERY_DAY)
    assert a.digest == s.digest
    assert list(iter_archive_rows(aurora.storage, a)) == list(iter_archive_rows(stream.storage, s))
    assert verify_day(aurora, aurora.job.tables[0], EVERY_DAY).ok
    assert a.extra["export_strategy"] == "aurora-outfile"
    assert [f.key.rsplit("/", 1)[-1] for f in a.files] == ["part-g0001-00000-00000.csv"]
    assert not [
        k for k in _keys(aurora, "everything", EVERY_DAY) if k.startswith(("_aurora", "_outfile"))
    ]
    assert emulator is not None and len(emulator.statements) == 1
    assert (
        "INTO OUTFILE S3" in emulator.statements[0]
        and "MANIFEST ON OVERWRITE ON" in emulator.statements[0]
    )
    aurora.source.close()


@pytest.mark.parametrize("scan", ["key", "time"])
def test_units_rolled_parts_then_purge_like_a_stream_export(
    outfile_schema: OutfileSchema,
    outfile_server: OutfileServer,
    aws_env: S3Endpoint,
    s3_bucket: str,
    scan: str,
) -> None:
    """Four ranges, each rolled into several parts by the emulated 6 GB threshold (here 64 KB):
    the day's digest equals the stream export's, and the daily job purges exactly that day."""
    outfile_schema.execute(LOG_TABLE_DDL)
    for day, rows in (("2026-11-23", 300), ("2026-11-24", ROWS), ("2026-11-25", 300)):
        fill_events(outfile_schema, day, rows)
    table = {"name": "events", "timestamp_column": "created_at", "scan": scan}
    stream, _ = _ctx(outfile_schema, aws_env, s3_bucket, "stream", table)
    export_day(stream, stream.job.tables[0], DAY)
    stream.source.close()  # ends that run: it held the table's run lock
    aurora, emulator = _ctx(outfile_schema, aws_env, s3_bucket, "aurora",
                            {**table, "export": OUTFILE, "range_rows": 3000}, outfile_server,
                            roll=64 * 1024, retention="3 days")  # fmt: skip
    spec = aurora.job.tables[0]
    export_day_as_configured(aurora, spec, DAY)
    manifest = _manifest(aurora, "events", DAY)
    assert manifest.digest == _manifest(stream, "events", DAY).digest
    assert len(manifest.extra["units"]["ranges"]) == 4
    assert len(manifest.files) > 4  # the parts of each unit, in key order
    names = [f.key.rsplit("/", 1)[-1] for f in manifest.files]
    assert names == sorted(names) and names[0] == "part-g0001-00000-00000.csv"
    # The daily job four days later: archives the other days, then purges all three.
    throttle = Throttle(aurora.job.throttle, None, StopFlag())
    report = run_table(aurora, spec, DAY + dt.timedelta(days=5), throttle)
    assert report.ok, report.errors
    deleted = {p.day: p.rows_deleted for p in report.purged}
    assert deleted[DAY] == ROWS and sum(deleted.values()) == ROWS + 600
    assert outfile_schema.execute("SELECT COUNT(*) FROM events")[0][0] == 0
    assert emulator is not None and len(emulator.statements) == 4 + 1 + 1  # 4 units + 2 days
    aurora.source.close()


def test_recompress_post_step_writes_gzip_parts_with_the_same_digest(
    outfile_schema: OutfileSchema,
    outfile_server: OutfileServer,
    aws_env: S3Endpoint,
    s3_bucket: str,
) -> None:
    """compression = "gzip" re-writes Aurora's parts as .csv.gz while reading them: same digest,
    the day verifies row by row, staging gone."""
    outfile_schema.execute(LOG_TABLE_DDL)
    fill_events(outfile_schema, "2026-11-24", 5000)
    table = {"name": "events", "timestamp_column": "created_at", "export": OUTFILE,
             "compression": "gzip", "range_rows": 2000}  # fmt: skip
    aurora, _ = _ctx(outfile_schema, aws_env, s3_bucket, "gz", table, outfile_server)
    export_day_as_configured(aurora, aurora.job.tables[0], DAY)
    manifest = _manifest(aurora, "events", DAY)
    info = aurora.describe(aurora.job.tables[0])
    window = aurora.source.window(aurora.job.tables[0], info, DAY)
    assert manifest.digest == aurora.source.digest_day(info, window)
    assert all(f.key.endswith(".csv.gz") for f in manifest.files) and len(manifest.files) == 3
    assert verify_day(aurora, aurora.job.tables[0], DAY).ok
    assert not [k for k in _keys(aurora, "events", DAY) if k.startswith(("_aurora", "_outfile"))]
    aurora.source.close()


def _requote(number: int, body: bytes) -> bytes:
    """An Aurora whose CSV writer quotes fields again (RFC 4180 over our quoting)."""
    lines = split_rows(body, 1)
    out = []
    for line in lines:
        fields = line.rstrip(b"\n").split(b",")
        out.append(b",".join(b'"' + f.replace(b'"', b'""') + b'"' for f in fields) + b"\n")
    return b"".join(out)


def _drop_last_row(number: int, body: bytes) -> bytes:
    rows = split_rows(body, 1)
    return b"".join(rows[:-1])


@pytest.mark.parametrize("mangle", [_requote, _drop_last_row], ids=["requoted", "row-missing"])
def test_output_that_is_not_the_dialect_or_lacks_rows_publishes_nothing(
    outfile_schema: OutfileSchema,
    outfile_server: OutfileServer,
    aws_env: S3Endpoint,
    s3_bucket: str,
    mangle: Any,
) -> None:
    """Aurora writing another quoting, or fewer rows than the range holds: the unit is refused
    with the reason, no unit record, no manifest; a correct rerun then publishes the day."""
    outfile_schema.execute(LOG_TABLE_DDL)
    fill_events(outfile_schema, "2026-11-24", 2000)
    table = {"name": "events", "timestamp_column": "created_at", "export": OUTFILE}
    aurora, emulator = _ctx(outfile_schema, aws_env, s3_bucket, "bad", table, outfile_server)
    assert emulator is not None
    emulator.mangle = mangle
    spec = aurora.job.tables[0]
    with pytest.raises(VerificationError, match=r"header line|the database holds"):
        export_day_as_configured(aurora, spec, DAY)
    partition = PartitionPath("events", DAY)
    assert upload.read_manifest(aurora.storage, partition) is None
    assert read_record(aurora.storage, partition, 0) is None
    emulator.mangle = None
    export_day_as_configured(aurora, spec, DAY)
    assert _manifest(aurora, "events", DAY).rows == 2000
    aurora.source.close()


def test_text_that_does_not_convert_is_refused_and_publishes_nothing(
    outfile_schema: OutfileSchema,
    outfile_server: OutfileServer,
    aws_env: S3Endpoint,
    s3_bucket: str,
) -> None:
    """A cp1251 0x98 has no Unicode character: Aurora writes '?' and the database's digest
    agrees with it, so the unit is refused naming the row and column; nothing is published."""
    outfile_schema.execute(CHARSET_DDL)
    outfile_schema.execute(
        "INSERT INTO notes VALUES (1, '2026-11-24 01:00:00', X'CFF0E8E2E5F2'),"
        " (2, '2026-11-24 02:00:00', X'98'), (3, '2026-11-24 03:00:00', NULL)"
    )
    table = {"name": "notes", "timestamp_column": "ts", "export": OUTFILE}
    aurora, emulator = _ctx(outfile_schema, aws_env, s3_bucket, "cp1251", table, outfile_server)
    with pytest.raises(UnconvertibleTextError, match=r"the row with id = 2 .*'ru' \(cp1251\)"):
        export_day_as_configured(aurora, aurora.job.tables[0], DAY)
    assert emulator is not None and len(emulator.statements) == 1  # Aurora did write it
    partition = PartitionPath("notes", DAY)
    assert upload.read_manifest(aurora.storage, partition) is None
    assert read_record(aurora.storage, partition, 0) is None
    aurora.source.close()


def test_a_missing_aurora_manifest_means_the_statement_did_not_finish(
    outfile_schema: OutfileSchema,
    outfile_server: OutfileServer,
    aws_env: S3Endpoint,
    s3_bucket: str,
) -> None:
    """Parts without Aurora's manifest (the statement died mid-way) are never landed."""
    outfile_schema.execute(LOG_TABLE_DDL)
    fill_events(outfile_schema, "2026-11-24", 1000)
    table = {"name": "events", "timestamp_column": "created_at", "export": OUTFILE}
    aurora, _ = _ctx(outfile_schema, aws_env, s3_bucket, "nomanifest", table, outfile_server)
    from dbarchive.strategies.aurora import export as outfile

    spec = aurora.job.tables[0]
    plan = plan_units(aurora, spec, DAY)
    outfile.issue_unit(aurora, spec, plan, 0)
    partition = PartitionPath("events", DAY)
    aurora.storage.delete_keys([partition.outfile_manifest_key(0)])
    with pytest.raises(VerificationError, match="Aurora's manifest is missing"):
        publish_units(aurora, spec, DAY, plan)
    assert upload.read_manifest(aurora.storage, partition) is None
    aurora.source.close()


def test_killed_after_the_statement_the_rerun_lands_exactly_once(
    outfile_schema: OutfileSchema,
    outfile_server: OutfileServer,
    aws_env: S3Endpoint,
    s3_bucket: str,
    tmp_path: Path,
) -> None:
    """SIGKILL right after Aurora finished a unit, and again right after a unit landed: the reruns
    (the real CLI, the emulation named by $DBARCHIVE_OUTFILE_RUNNER) give one exact archive."""
    outfile_schema.execute(LOG_TABLE_DDL)
    fill_events(outfile_schema, "2026-11-24", 6000)
    config = tmp_path / "archive.toml"
    config.write_text(
        f'[source]\nurl = "{outfile_schema.url}"\n[destination]\nurl = "s3://{s3_bucket}/kill"\n'
        f'endpoint_url = "{aws_env.url}"\nregion = "{aws_env.region}"\n[[tables]]\nname = "events"\n'
        'timestamp_column = "created_at"\nrange_rows = 2000\nexport.strategy = "aurora-outfile"\n'
    )
    env = {**os.environ, OUTFILE_DIR_ENV: str(outfile_server.outdir), ROLL_ENV: "50000",
           "DBARCHIVE_OUTFILE_RUNNER": "tests.integration.aurora_emulation:runner"}  # fmt: skip
    command = [
        sys.executable,
        "-m",
        "dbarchive",
        "export",
        "-c",
        str(config),
        "--date",
        "2026-11-24",
        "--json",
    ]
    for point in ("outfile.statement-done:2", "outfile.unit-landed:2"):
        killed = subprocess.run(command, env={**env, "DBARCHIVE_FAILPOINT": point},
                                capture_output=True, check=False, cwd=Path(__file__).parents[2])  # fmt: skip
        assert killed.returncode == -9, killed.stderr.decode()
    done = subprocess.run(command, env=env, capture_output=True, check=False,
                          cwd=Path(__file__).parents[2])  # fmt: skip
    assert done.returncode == 0, done.stderr.decode()
    assert json.loads(done.stdout)[0]["rows"] == 6000
    job = make_job(outfile_schema.url, f"s3://{s3_bucket}/kill",
                   [{"name": "events", "timestamp_column": "created_at"}],
                   endpoint_url=aws_env.url, region=aws_env.region)  # fmt: skip
    ctx = build_context(job)
    manifest = _manifest(ctx, "events", DAY)
    rows = [int(r[0] or b"0") for r in iter_archive_rows(ctx.storage, manifest)]
    assert sorted(rows) == rows and len(set(rows)) == 6000
    assert verify_day(ctx, job.tables[0], DAY).ok
    ctx.source.close()


def test_mariadb_is_refused_with_the_fix_and_nothing_is_written(
    outfile_schema: OutfileSchema, aws_env: S3Endpoint, s3_bucket: str, tmp_path: Path
) -> None:
    """Without the emulation the export meets MariaDB itself: `dbarchive export` exits 2 saying
    it is MariaDB, not Aurora, and to use stream; the bucket stays empty; the checks say so."""
    outfile_schema.execute(LOG_TABLE_DDL)
    fill_events(outfile_schema, "2026-11-24", 100)
    config = tmp_path / "archive.toml"
    config.write_text(
        f'[source]\nurl = "{outfile_schema.url}"\n[destination]\nurl = "s3://{s3_bucket}/x"\n'
        f'endpoint_url = "{aws_env.url}"\n[defaults]\nexport.strategy = "aurora-outfile"\n'
        '[[tables]]\nname = "events"\ntimestamp_column = "created_at"\n'
    )
    env = {k: v for k, v in os.environ.items() if k != "DBARCHIVE_OUTFILE_RUNNER"}
    result = subprocess.run([sys.executable, "-m", "dbarchive", "export", "-c", str(config),
                             "--date", "2026-11-24"], env=env, capture_output=True, check=False)  # fmt: skip
    stderr = result.stderr.decode()
    assert result.returncode == 2, stderr
    assert "is MariaDB" in stderr and "not Aurora MySQL" in stderr
    assert 'export.strategy = "stream"' in stderr
    ctx, _ = _ctx(outfile_schema, aws_env, s3_bucket, "x",
                  {"name": "events", "timestamp_column": "created_at", "export": OUTFILE})  # fmt: skip
    assert list(ctx.storage.list_objects("")) == []
    results = checks.outfile_checks(ctx)
    assert [(r.ok, r.name) for r in results] == [(False, "aurora-outfile: server is Aurora MySQL")]
    assert "MariaDB" in results[0].detail and "stream" in results[0].fix
    ctx.source.close()
    # `dbarchive check` runs the same checks for an aurora-outfile table, and fails on them.
    check = subprocess.run([sys.executable, "-m", "dbarchive", "check", "-c", str(config), "--json"],
                           env=env, capture_output=True, check=False, text=True)  # fmt: skip
    assert check.returncode == 3, check.stderr  # what is missing is in the database
    refused = [c for c in json.loads(check.stdout) if c["name"].startswith("aurora-outfile")]
    assert [(c["ok"], "MariaDB" in c["detail"]) for c in refused] == [(False, True)]


def test_plan_shows_the_first_aurora_statement_and_writes_nothing(
    outfile_schema: OutfileSchema, aws_env: S3Endpoint, s3_bucket: str, tmp_path: Path
) -> None:
    """`dbarchive plan` of an aurora-outfile table prints the first unit's INTO OUTFILE S3
    statement (with the bucket's region and the unit's staging prefix); nothing is written."""
    outfile_schema.execute(LOG_TABLE_DDL)
    fill_events(outfile_schema, "2026-11-24", 3000)
    config = tmp_path / "archive.toml"
    config.write_text(
        f'[source]\nurl = "{outfile_schema.url}"\n[destination]\nurl = "s3://{s3_bucket}/x"\n'
        f'endpoint_url = "{aws_env.url}"\nregion = "eu-west-1"\n[[tables]]\nname = "events"\n'
        'timestamp_column = "created_at"\nrange_rows = 1000\nexport.strategy = "aurora-outfile"\n'
    )
    result = CliRunner().invoke(cli, ["plan", "-c", str(config), "--date", "2026-11-24"])
    assert result.exit_code == 0, result.output
    assert "[1 of 3 units] SELECT" in result.output
    uri = f"s3-eu-west-1://{s3_bucket}/x/events/year=2026/month=11/day=24/_aurora-00000"
    assert f"INTO OUTFILE S3 '{uri}'" in result.output
    ctx, _ = _ctx(outfile_schema, aws_env, s3_bucket, "x",
                  {"name": "events", "timestamp_column": "created_at", "export": OUTFILE})  # fmt: skip
    assert list(ctx.storage.list_objects("")) == []
    ctx.source.close()


def test_the_aurora_checks_read_grants_parameters_and_the_bucket_region(
    outfile_schema: OutfileSchema, aws_env: S3Endpoint, s3_bucket: str
) -> None:
    """Run on MariaDB as if it were Aurora 3 and 2: a user without the role or privilege, an unset
    aws_default_s3_role and a region that is not the bucket's are each reported with their fix."""
    user = f"dbat_{uuid.uuid4().hex[:8]}"
    outfile_schema.execute(f"CREATE USER '{user}'@'%' IDENTIFIED BY 'pw-{user}'")
    try:
        outfile_schema.execute(f"GRANT SELECT ON `{outfile_schema.name}`.* TO '{user}'@'%'")
        url = outfile_schema.url.replace("root@", f"{user}:pw-{user}@")
        ctx, _ = _ctx(
            outfile_schema, aws_env, s3_bucket, "c", {"name": "t", "timestamp_column": "ts"}
        )
        ctx = Context(ctx.job.model_copy(update={"source": SourceSettings(url=url)}),
                      MySqlSource(SourceSettings(url=url)), ctx.storage)  # fmt: skip
        v3 = checks.ServerKind("8.0.32", "3.05.2", rds=True)
        v2 = checks.ServerKind("5.7.12", "2.11.2", rds=True)
        role = checks.check_privilege(ctx, v3)
        assert not role.ok and "GRANT AWS_SELECT_S3_ACCESS TO" in role.fix
        privilege = checks.check_privilege(ctx, v2)
        assert not privilege.ok and "GRANT SELECT INTO S3 ON *.*" in privilege.fix
        parameter = checks.check_s3_role(ctx, v2)
        assert (parameter.ok, parameter.detail) == (False, "not set")
        assert "aurora_select_into_s3_role or aws_default_s3_role" in parameter.name
        assert checks.check_bucket_region(ctx).ok  # SeaweedFS answers us-east-1, as configured
        elsewhere = ctx.job.model_copy(update={"destination": ctx.job.destination.model_copy(
            update={"region": "eu-west-1"})})  # fmt: skip
        wrong = checks.check_bucket_region(Context(elsewhere, ctx.source, ctx.storage))
        assert not wrong.ok and wrong.fix == 'set [destination] region = "us-east-1"'
        ctx.source.close()
    finally:
        outfile_schema.execute(f"DROP USER '{user}'@'%'")


def test_backfill_with_two_workers_through_emulated_aurora(
    outfile_schema: OutfileSchema,
    outfile_server: OutfileServer,
    aws_env: S3Endpoint,
    s3_bucket: str,
) -> None:
    """`backfill --workers 2 --purge` of an aurora-outfile table: every day (one in 3 units) has
    the database's digest and is verified, and the days before the cutoff are purged."""
    outfile_schema.execute(LOG_TABLE_DDL)
    first = dt.date(2026, 8, 1)
    days = [first + dt.timedelta(days=i) for i in range(5)]
    for day in days:
        fill_events(outfile_schema, day.isoformat(), 2500 if day == days[2] else 300)
    table = {"name": "events", "timestamp_column": "created_at", "export": OUTFILE,
             "range_rows": 1000}  # fmt: skip
    ctx, _ = _ctx(outfile_schema, aws_env, s3_bucket, "bf", table, outfile_server,
                  retention="60 days")  # fmt: skip
    spec = ctx.job.tables[0]
    digests = {}
    for day in days:
        info = ctx.describe(spec)
        digests[day] = ctx.source.digest_day(info, ctx.source.window(spec, info, day))

    def worker_context(reporter: Any) -> Context:
        worker = build_context(ctx.job, reporter=reporter, storage=ctx.storage)
        worker.outfile_runner = EmulatedAurora(ctx.storage, ctx.job.destination.url,
                                               outfile_server.outdir, 40_000)  # fmt: skip
        return worker

    today = dt.date(2026, 10, 3)  # the cutoff is 2026-08-04: days 1-3 are purged
    options = BackfillOptions(workers=2, purge=True, today=today)
    report = backfill(worker_context, [(spec, days)], options)
    assert report.ok, [d.error for d in report.days]
    assert {d.day: d.units for d in report.days}[days[2]] == 3
    for day in days:
        assert _manifest(ctx, "events", day).digest == digests[day]
    left = outfile_schema.execute("SELECT DATE(MIN(created_at)), COUNT(*) FROM events")[0]
    assert (str(left[0]), left[1]) == ("2026-08-04", 600)
    ctx.source.close()


def test_parts_listed_out_of_key_order_are_refused(
    outfile_schema: OutfileSchema,
    outfile_server: OutfileServer,
    aws_env: S3Endpoint,
    s3_bucket: str,
) -> None:
    """The purge walks the archive in key order: a manifest whose parts go backwards is refused
    (all rows are there, the digest agrees) and nothing is published."""
    outfile_schema.execute(LOG_TABLE_DDL)
    fill_events(outfile_schema, "2026-11-24", 3000)
    table = {"name": "events", "timestamp_column": "created_at", "export": OUTFILE}
    aurora, emulator = _ctx(outfile_schema, aws_env, s3_bucket, "order", table, outfile_server,
                            roll=30_000)  # fmt: skip
    assert emulator is not None
    emulator.list_reversed = True
    with pytest.raises(VerificationError, match="not in key order"):
        export_day_as_configured(aurora, aurora.job.tables[0], DAY)
    assert upload.read_manifest(aurora.storage, PartitionPath("events", DAY)) is None
    aurora.source.close()
