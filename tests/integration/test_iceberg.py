"""``format = "iceberg"``: verified Parquet days committed to an Iceberg table (SQL catalog on
SQLite, warehouse beside the archive or in the suite's S3), read back by pyiceberg, pyarrow and
DuckDB's iceberg extension; one snapshot per change of a day, whatever kills or races it."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from dbarchive import build_context
from dbarchive.build import build_throttle
from dbarchive.config import job_from_dict
from dbarchive.errors import ConfigError, SourceError
from dbarchive.jobs.daily import TableReport, purge_table
from dbarchive.jobs.restore import restore_day
from dbarchive.lakehouse.iceberg import lake_of
from dbarchive.pipeline import export_day
from dbarchive.steps.verify import verify_day
from tests.integration.conftest import S3Endpoint, s3_storage_options
from tests.integration.every_type import DAY, DDL, load_every_type
from tests.integration.helpers import LOG_TABLE_DDL
from tests.integration.lake_drift import offline_duckdb
from tests.integration.moto_server import moto_server
from tests.integration.mysql_fixtures import MySqlSchema, mysql_schema  # noqa: F401

D1, D2 = dt.date(2026, 9, 1), dt.date(2026, 9, 2)
TODAY = dt.date(2026, 11, 25)  # D1 and D2 are past a 60-day retention


def _fill(schema: MySqlSchema, day: dt.date, count: int) -> None:
    schema.execute(
        "INSERT INTO events (created_at, account_id, amount, note) "
        "SELECT TIMESTAMP(%s) + INTERVAL (seq * 97) SECOND, seq MOD 7, seq / 4, CONCAT('n', seq) "
        "FROM seq_0_to_" + str(count - 1),
        (day.isoformat(),),
    )


def _job(schema: MySqlSchema, dest: str, table: str = "events", **extra: Any) -> Any:
    ts = "ts" if table == "everything" else "created_at"
    spec = {"name": table, "timestamp_column": ts, "retention": "60 days", "chunk_rows": 50}
    return job_from_dict(
        {
            "source": {"url": schema.url},
            "destination": {"url": dest, **extra.pop("destination", {})},
            "defaults": {"format": "iceberg"},
            "throttle": {"min_chunk_rows": 50, "max_chunk_rows": 50},
            "tables": [spec],
            **extra,
        }
    )


def _snapshots(ctx: Any) -> list[dict[str, str]]:
    """Each snapshot's operation and dbarchive properties, oldest first."""
    table = lake_of(ctx).table(ctx.job.tables[0])
    assert table is not None
    return [
        {"operation": s.summary.operation.value, **s.summary.additional_properties}
        for s in table.snapshots()
    ]


def _lake_rows(ctx: Any) -> pa.Table:
    table = lake_of(ctx).table(ctx.job.tables[0])
    assert table is not None
    return table.scan().to_arrow()


def _db_ids(schema: MySqlSchema, day: dt.date) -> list[int]:
    rows = schema.execute(
        "SELECT id FROM events WHERE created_at >= %s AND created_at < %s + INTERVAL 1 DAY "
        "ORDER BY id",
        (day, day),
    )
    return [int(r[0]) for r in rows]


def test_every_type_reads_back_exactly_through_pyiceberg_pyarrow_and_duckdb(
    mysql_schema: MySqlSchema, tmp_path: Path
) -> None:
    """The Iceberg table holds the verified Parquet files themselves: pyiceberg's rows are the
    files' rows value for value (test_parquet proves those exact against the server), DuckDB's
    iceberg_scan reads the same rows, and the day is a hidden day(ts) partition."""
    mysql_schema.execute(DDL)
    load_every_type(mysql_schema, "everything", zero_dates=False)
    ctx = build_context(_job(mysql_schema, str(tmp_path / "arch"), "everything"))
    result = export_day(ctx, ctx.job.tables[0], DAY)
    assert verify_day(ctx, ctx.job.tables[0], DAY).ok
    files = pa.concat_tables(pq.read_table(tmp_path / "arch" / k) for k in result.files)
    lake = _lake_rows(ctx).sort_by("id")
    files = files.sort_by("id")
    assert lake.column_names == files.column_names
    for name in files.column_names:  # Iceberg widens int8/int16 to int: the values stay
        assert lake[name].to_pylist() == files[name].to_pylist(), name
    table = lake_of(ctx).table(ctx.job.tables[0])
    assert table is not None
    assert [(f.name, str(f.transform)) for f in table.spec().fields] == [("ts_day", "day")]
    (snapshot,) = _snapshots(ctx)
    assert snapshot["dbarchive.day"] == DAY.isoformat()
    assert snapshot["dbarchive.rows"] == str(files.num_rows)
    duck = offline_duckdb(tmp_path / "duckdb")
    duck.execute("LOAD iceberg")
    scanned = duck.execute(
        f"SELECT id, vc, bl, dec4, dt6 FROM iceberg_scan('{table.metadata_location}') ORDER BY id"
    ).fetchall()
    expected = zip(*(files[n].to_pylist() for n in ("id", "vc", "bl", "dec4", "dt6")), strict=True)
    assert scanned == list(expected)


def test_replacement_is_one_overwrite_growth_an_append_and_reruns_commit_nothing(
    mysql_schema: MySqlSchema, tmp_path: Path
) -> None:
    """First export: one append. Same rows again: no snapshot. Changed rows: one overwrite that
    swaps the generation's files. After the purge, late rows: one append of the new files only
    (the purged rows stay in the table). verify checks the snapshot against the manifest."""
    mysql_schema.execute(LOG_TABLE_DDL)
    _fill(mysql_schema, D1, 300)
    ctx = build_context(_job(mysql_schema, str(tmp_path / "arch")))
    spec = ctx.job.tables[0]
    export_day(ctx, spec, D1)
    export_day(ctx, spec, D1)
    assert [s["operation"] for s in _snapshots(ctx)] == ["append"]
    mysql_schema.execute("UPDATE events SET note = 'changed' WHERE id <= 10")
    export_day(ctx, spec, D1)
    assert [(s["operation"], s["dbarchive.generation"]) for s in _snapshots(ctx)] == [
        ("append", "1"),
        ("overwrite", "2"),
    ]
    rows = _lake_rows(ctx)
    assert rows.num_rows == 300
    assert pc.sum(pc.equal(rows["note"], "changed")).as_py() == 10
    assert verify_day(ctx, spec, D1).ok
    report = TableReport("events")
    purge_table(ctx, spec, TODAY, build_throttle(ctx), report)
    assert _db_ids(mysql_schema, D1) == []
    _fill(mysql_schema, D1, 5)  # late rows of the purged day
    purge_table(ctx, spec, TODAY, build_throttle(ctx), TableReport("events"))
    assert [s["operation"] for s in _snapshots(ctx)] == ["append", "overwrite", "append"]
    assert _lake_rows(ctx).num_rows == 305
    assert _db_ids(mysql_schema, D1) == []


def test_a_changed_snapshot_is_reported_by_verify_and_repaired_before_the_purge(
    mysql_schema: MySqlSchema, tmp_path: Path
) -> None:
    """Someone deletes the day's rows from the Iceberg table: verify names the missing file; the
    purge first commits the manifest's files again, verifies, and only then deletes."""
    mysql_schema.execute(LOG_TABLE_DDL)
    _fill(mysql_schema, D1, 120)
    ctx = build_context(_job(mysql_schema, str(tmp_path / "arch")))
    spec = ctx.job.tables[0]
    export_day(ctx, spec, D1)
    table = lake_of(ctx).table(spec)
    assert table is not None
    table.delete("account_id >= 0")
    problems = verify_day(ctx, spec, D1).problems
    assert problems and "not in the Iceberg snapshot" in problems[0]
    purge_table(ctx, spec, TODAY, build_throttle(ctx), TableReport("events"))
    assert _db_ids(mysql_schema, D1) == []
    assert _lake_rows(ctx).num_rows == 120
    assert verify_day(ctx, spec, D1, check_source=False).ok


def test_a_day_whose_snapshot_lists_other_bytes_is_never_purged(
    mysql_schema: MySqlSchema, tmp_path: Path
) -> None:
    """The snapshot names the day's file with another size than the manifest's (a file replaced
    behind dbarchive's back): no repair can tell which is right, so the purge refuses."""
    mysql_schema.execute(LOG_TABLE_DDL)
    _fill(mysql_schema, D1, 80)
    ctx = build_context(_job(mysql_schema, str(tmp_path / "arch")))
    spec = ctx.job.tables[0]
    export_day(ctx, spec, D1)
    from pyiceberg.manifest import DATA_FILE_TYPE, DataFile

    table = lake_of(ctx).table(spec)
    assert table is not None
    (task,) = table.scan().plan_files()
    other = DataFile.from_args(  # the same path, other bytes
        **{f.name: getattr(task.file, f.name) for f in DATA_FILE_TYPE[2].fields if f.name != "file_size_in_bytes"},
        file_size_in_bytes=task.file.file_size_in_bytes + 1,
    )  # fmt: skip
    with table.transaction() as tx, tx.update_snapshot().overwrite() as change:
        change.delete_data_file(task.file)
        change.append_data_file(other)
    report = TableReport("events")
    purge_table(ctx, spec, TODAY, build_throttle(ctx), report)
    (error,) = report.errors  # the day is reported, and the purge goes on to the next
    assert "the Iceberg snapshot says" in error and [f.day for f in report.failures] == [D1]
    assert len(_db_ids(mysql_schema, D1)) == 80


def test_columns_added_and_widened_read_by_name_and_an_impossible_change_writes_nothing(
    mysql_schema: MySqlSchema, tmp_path: Path
) -> None:
    """D1 archived, then a column added and INT widened to BIGINT: D2 evolves the table (by name:
    D1 reads NULL in the new column). Then a column turned into text: the export refuses before
    writing a file, naming the change."""
    mysql_schema.execute(LOG_TABLE_DDL)
    _fill(mysql_schema, D1, 40)
    ctx = build_context(_job(mysql_schema, str(tmp_path / "arch")))
    spec = ctx.job.tables[0]
    export_day(ctx, spec, D1)
    mysql_schema.execute("ALTER TABLE events ADD COLUMN channel VARCHAR(8) NULL")
    mysql_schema.execute("ALTER TABLE events MODIFY account_id BIGINT NOT NULL")
    _fill(mysql_schema, D2, 30)
    mysql_schema.execute("UPDATE events SET channel = 'web', account_id = 5000000000 + id "
                         "WHERE created_at >= %s", (D2,))  # fmt: skip
    ctx.close()
    ctx = build_context(ctx.job)  # describes the table anew
    export_day(ctx, spec, D2)
    rows = _lake_rows(ctx)
    assert rows.schema.field("account_id").type == pa.int64()
    by_day = {
        day: rows.filter(pc.equal(pc.strftime(rows["created_at"], "%Y-%m-%d"), day.isoformat()))
        for day in (D1, D2)
    }
    assert by_day[D1]["channel"].null_count == 40
    assert set(by_day[D2]["channel"].to_pylist()) == {"web"}
    assert min(by_day[D2]["account_id"].to_pylist()) > 5_000_000_000
    mysql_schema.execute("ALTER TABLE events MODIFY amount VARCHAR(20) NULL")
    ctx.close()
    ctx = build_context(ctx.job)
    before = sorted(p.name for p in (tmp_path / "arch").rglob("part-*"))
    with pytest.raises(SourceError, match="Iceberg cannot follow"):
        export_day(ctx, spec, dt.date(2026, 9, 3))
    assert sorted(p.name for p in (tmp_path / "arch").rglob("part-*")) == before


def test_a_renamed_timestamp_column_is_refused_before_anything_is_written(
    mysql_schema: MySqlSchema, tmp_path: Path
) -> None:
    """The Iceberg table finds a day's files by its timestamp column. Renamed (and the config
    following), the next day's rows had no value there: verify failed for good and every purge
    added the day's file again, readers counting its rows 2, 3, 4 times (an outside trial).
    The export is refused before a row is read, naming the column and the fix."""
    mysql_schema.execute(LOG_TABLE_DDL)
    _fill(mysql_schema, D1, 20)
    _fill(mysql_schema, D2, 20)
    dest = tmp_path / "arch"
    ctx = build_context(_job(mysql_schema, str(dest)))
    export_day(ctx, ctx.job.tables[0], D1)
    ctx.close()
    mysql_schema.execute("ALTER TABLE events RENAME COLUMN created_at TO created")
    job = _job(mysql_schema, str(dest))
    spec = job.tables[0].model_copy(update={"timestamp_column": "created"})
    ctx = build_context(job.model_copy(update={"tables": (spec,)}))
    before = _snapshots(ctx)
    with pytest.raises(ConfigError, match="finds each day's files by column 'created_at'"):
        export_day(ctx, spec, D2)
    assert _snapshots(ctx) == before
    assert not list(dest.rglob("day=02/*"))  # no file of D2 written


def test_two_archived_tables_given_one_iceberg_name_are_refused(
    mysql_schema: MySqlSchema, tmp_path: Path
) -> None:
    """``events`` and ``Events`` (like ``odd tbl`` and ``odd_tbl``) are one Iceberg name: one
    config refuses them, but two jobs on one destination added the second table's days to the
    first's Iceberg table, and each purge added them again (an outside trial). The Iceberg
    table records whose archive it lists; another table's export is refused, nothing written."""
    mysql_schema.execute(LOG_TABLE_DDL)
    _fill(mysql_schema, D1, 20)
    mysql_schema.execute("CREATE TABLE `Events` LIKE events")
    mysql_schema.execute("INSERT INTO `Events` SELECT * FROM events")
    dest = str(tmp_path / "arch")
    first = build_context(_job(mysql_schema, dest))
    export_day(first, first.job.tables[0], D1)
    first.close()
    second = build_context(_job(mysql_schema, dest, table="Events"))
    before = _snapshots(second)
    assert len(before) == 1
    with pytest.raises(ConfigError, match=r"lists the files of the archive in .*, not this table"):
        export_day(second, second.job.tables[0], D1)
    assert _snapshots(second) == before
    assert verify_day(first, first.job.tables[0], D1).ok


@pytest.mark.parametrize("retries", ["pyiceberg", "dbarchive"])
def test_two_days_committed_at_once_both_land(
    mysql_schema: MySqlSchema, tmp_path: Path, retries: str
) -> None:
    """Backfill workers commit two days to one table at once: one worker's commit finds the
    other's snapshot landed since it read the table (a real conflict in the catalog) and is
    retried — by pyiceberg's own retries, or with those off by dbarchive's, which re-reads the
    table — so both days land, each once."""
    from pyiceberg.table import Transaction

    mysql_schema.execute(LOG_TABLE_DDL)
    d0 = D1 - dt.timedelta(days=1)
    for day in (d0, D1, D2):
        _fill(mysql_schema, day, 50)
    job = _job(mysql_schema, str(tmp_path / "arch"))
    ctx = build_context(job)
    spec = job.tables[0]
    export_day(ctx, spec, d0)  # the table exists
    if retries == "dbarchive":
        table = lake_of(ctx).table(spec)
        assert table is not None
        with table.transaction() as tx:
            tx.set_properties({"commit.retry.num-retries": "0"})
    with pytest.MonkeyPatch.context() as patch:  # the files and manifests, no snapshot yet
        patch.setattr("dbarchive.lakehouse.commit_day", lambda *args: None)
        for day in (D1, D2):
            export_day(ctx, spec, day)
    worker_a, worker_b = lake_of(build_context(job)), lake_of(build_context(job))
    original = Transaction.commit_transaction
    calls: list[str] = []

    def rival_lands_first(self: Transaction) -> Any:
        calls.append("commit")
        if len(calls) == 1:  # A's first commit: B's lands while A's is under way
            worker_b.commit_day(spec, _manifest(ctx, D2))
        return original(self)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Transaction, "commit_transaction", rival_lands_first)
        worker_a.commit_day(spec, _manifest(ctx, D1))
    # A, B, then A again only if dbarchive retried (pyiceberg retries inside one call)
    assert len(calls) == (3 if retries == "dbarchive" else 2)
    days = [s["dbarchive.day"] for s in _snapshots(ctx)]
    assert days == [d0.isoformat(), D2.isoformat(), D1.isoformat()]
    assert _lake_rows(ctx).num_rows == 150
    for day in (d0, D1, D2):
        assert worker_a.day_problems(spec, _manifest(ctx, day)) == []


def _manifest(ctx: Any, day: dt.date) -> Any:
    from dbarchive.steps import upload

    manifest = upload.read_manifest(ctx.storage, ctx.partition(ctx.job.tables[0], day))
    assert manifest is not None
    return manifest


def _cli(config: Path, day: dt.date, failpoint: str | None = None) -> int:
    env = {k: v for k, v in os.environ.items() if k != "DBARCHIVE_FAILPOINT"}
    if failpoint:
        env["DBARCHIVE_FAILPOINT"] = failpoint
    cmd = [sys.executable, "-m", "dbarchive", "export", "-c", str(config), "--date", day.isoformat(), "-q"]  # fmt: skip
    return subprocess.run(cmd, env=env, timeout=180, capture_output=True, check=False).returncode


@pytest.mark.parametrize("point", ["export.after-manifest", "publish.after-lake-commit"])
def test_killed_around_the_commit_the_rerun_commits_once(
    mysql_schema: MySqlSchema, tmp_path: Path, point: str
) -> None:
    """SIGKILL after the manifest's commit, before the snapshot's: the Iceberg table shows nothing
    of the day; the rerun commits it once. Killed after the snapshot: the rerun commits nothing."""
    mysql_schema.execute(LOG_TABLE_DDL)
    _fill(mysql_schema, D1, 60)
    config = tmp_path / "job.toml"
    config.write_text(
        f'[source]\nurl = "{mysql_schema.url}"\n[destination]\nurl = "{tmp_path / "arch"}"\n'
        '[defaults]\nformat = "iceberg"\n'
        '[[tables]]\nname = "events"\ntimestamp_column = "created_at"\n'
    )
    assert _cli(config, D1, point) == -signal.SIGKILL
    ctx = build_context(_job(mysql_schema, str(tmp_path / "arch")))
    table = lake_of(ctx).table(ctx.job.tables[0])
    committed = table is not None and table.current_snapshot() is not None
    assert committed == (point == "publish.after-lake-commit")
    assert _cli(config, D1) == 0
    assert [s["operation"] for s in _snapshots(ctx)] == ["append"]
    assert _lake_rows(ctx).num_rows == 60
    assert verify_day(ctx, ctx.job.tables[0], D1).ok


def test_s3_warehouse_and_restore_from_an_iceberg_archive(
    mysql_schema: MySqlSchema, s3_endpoint: S3Endpoint, s3_bucket: str, tmp_path: Path
) -> None:
    """The archive and the table's metadata in S3 (SQL catalog on SQLite): export, purge, and
    restore the purged day into a new table: every row back."""
    mysql_schema.execute(LOG_TABLE_DDL)
    _fill(mysql_schema, D1, 90)
    before = mysql_schema.execute("SELECT * FROM events ORDER BY id")
    job = _job(
        mysql_schema,
        f"s3://{s3_bucket}/archive",
        destination={"endpoint_url": s3_endpoint.url, "region": s3_endpoint.region},
        iceberg={"catalog": "sql", "uri": f"sqlite:///{tmp_path / 'catalog.db'}"},
    )
    from dbarchive.build import build_storage

    storage = build_storage(job, s3_storage_options(s3_endpoint))
    ctx = build_context(job, storage=storage)
    spec = job.tables[0]
    export_day(ctx, spec, D1)
    table = lake_of(ctx).table(spec)
    assert table is not None
    assert table.metadata_location.startswith(f"s3://{s3_bucket}/archive/_iceberg/")
    assert _lake_rows(ctx).num_rows == 90
    purge_table(ctx, spec, TODAY, build_throttle(ctx), TableReport("events"))
    assert _db_ids(mysql_schema, D1) == []
    mysql_schema.execute("CREATE TABLE events_back LIKE events")
    assert restore_day(ctx, spec, D1, into="events_back").ok
    assert mysql_schema.execute("SELECT * FROM events_back ORDER BY id") == before


def test_a_rest_catalog_seaweedfs_table_bucket(
    mysql_schema: MySqlSchema, s3_endpoint: S3Endpoint, s3_bucket: str
) -> None:
    """The same flow through an Iceberg REST catalog (SeaweedFS's, on a table bucket, SigV4 as
    S3 Tables signs): the archive's files in the data bucket are registered, a re-export is one
    overwrite, verify agrees, and pyiceberg reads the rows back through the catalog."""
    assert s3_endpoint.iceberg_url and s3_endpoint.master
    catalog = f"tb{uuid.uuid4().hex[:10]}"
    shell = subprocess.run(
        [str(Path(sys.executable).parent / "weed"), "shell", f"-master={s3_endpoint.master}"],
        input=f"s3tables.bucket -create -name {catalog} -account 000000000000\n",
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    assert f"bucket/{catalog}" in shell.stdout, shell.stdout + shell.stderr
    mysql_schema.execute(LOG_TABLE_DDL)
    _fill(mysql_schema, D1, 70)
    signing = {"rest.sigv4-enabled": "true", "rest.signing-name": "s3tables",
               "rest.signing-region": s3_endpoint.region,
               "client.access-key-id": s3_endpoint.access_key,
               "client.secret-access-key": s3_endpoint.secret_key,
               "client.region": s3_endpoint.region}  # fmt: skip
    job = _job(
        mysql_schema,
        f"s3://{s3_bucket}/archive",
        destination={"endpoint_url": s3_endpoint.url, "region": s3_endpoint.region},
        iceberg={
            "catalog": "rest",
            "uri": s3_endpoint.iceberg_url,
            "namespace": "archive",
            "warehouse": f"s3://{catalog}/",
            "properties": signing,
        },
    )
    from dbarchive.build import build_storage

    ctx = build_context(job, storage=build_storage(job, s3_storage_options(s3_endpoint)))
    spec = job.tables[0]
    export_day(ctx, spec, D1)
    mysql_schema.execute("UPDATE events SET note = 'again' WHERE id <= 5")
    export_day(ctx, spec, D1)
    assert [s["operation"] for s in _snapshots(ctx)] == ["append", "overwrite"]
    assert verify_day(ctx, spec, D1).ok
    rows = _lake_rows(ctx)
    assert rows.num_rows == 70
    assert pc.sum(pc.equal(rows["note"], "again")).as_py() == 5


def test_a_day_without_rows_verifies_before_the_table_exists(
    mysql_schema: MySqlSchema, tmp_path: Path
) -> None:
    """The Iceberg table comes with the first file: an empty first day publishes a manifest,
    commits nothing, and verifies (so its purge is not refused)."""
    mysql_schema.execute(LOG_TABLE_DDL)
    ctx = build_context(_job(mysql_schema, str(tmp_path / "arch")))
    spec = ctx.job.tables[0]
    assert export_day(ctx, spec, D1).rows == 0
    assert lake_of(ctx).table(spec) is None
    assert verify_day(ctx, spec, D1).ok


def test_a_timestamp_column_in_another_zone_is_unpartitioned_and_exact(
    mysql_schema: MySqlSchema, tmp_path: Path
) -> None:
    """A TIMESTAMP column archived by Europe/Berlin days: a day's file holds two UTC days, which
    an Iceberg day partition cannot register, so the table is unpartitioned; the day commits,
    verifies, and a filter on the column still finds exactly its rows."""
    mysql_schema.execute(
        "CREATE TABLE events (id INT PRIMARY KEY, created_at TIMESTAMP(6) NOT NULL, note TEXT, "
        "KEY (created_at))"
    )
    mysql_schema.execute("SET time_zone = '+00:00'")
    mysql_schema.execute(  # Berlin's 2026-09-01 is 2026-08-31 22:00 .. 2026-09-01 22:00 UTC
        "INSERT INTO events SELECT seq, TIMESTAMP('2026-08-31 21:00:00') + INTERVAL seq * 10 "
        "MINUTE, CONCAT('n', seq) FROM seq_0_to_159"
    )
    job = job_from_dict(
        {
            "source": {"url": mysql_schema.url},
            "destination": {"url": str(tmp_path / "arch")},
            "defaults": {"format": "iceberg", "timezone": "Europe/Berlin"},
            "tables": [{"name": "events", "timestamp_column": "created_at"}],
        }
    )
    ctx = build_context(job)
    spec = job.tables[0]
    assert spec.timezone == "Europe/Berlin"
    result = export_day(ctx, spec, D1)
    assert result.rows == 144  # 22:00 UTC on the 31st up to 22:00 UTC on the 1st
    table = lake_of(ctx).table(spec)
    assert table is not None and not table.spec().fields
    assert verify_day(ctx, spec, D1).ok
    rows = table.scan(row_filter="created_at >= '2026-08-31T22:00:00+00:00'").to_arrow()
    assert rows.num_rows == 144


@pytest.mark.parametrize("stored_in", ["UTC", "Europe/Berlin"])
def test_a_datetime_column_is_partitioned_by_day_only_in_its_own_zone(
    mysql_schema: MySqlSchema, tmp_path: Path, stored_in: str
) -> None:
    """A DATETIME column of a Europe/Berlin table: stored in Berlin time, Iceberg's day of it
    is the archive's day (partitioned by day); stored in UTC, a Berlin day spans two of its
    dates, and the second day's commit failed with a traceback, every run (an outside trial):
    such a table is unpartitioned, and both days commit and verify."""
    mysql_schema.execute(
        "CREATE TABLE events (id INT PRIMARY KEY, created_at DATETIME(6) NOT NULL, note TEXT, "
        "KEY (created_at))"
    )
    mysql_schema.execute(
        "INSERT INTO events SELECT seq, TIMESTAMP('2026-08-31 20:00:00') + INTERVAL seq * 7 "
        "MINUTE, CONCAT('n', seq) FROM seq_0_to_599"
    )
    job = job_from_dict(
        {
            "source": {"url": mysql_schema.url, "timezone": stored_in},
            "destination": {"url": str(tmp_path / "arch")},
            "defaults": {"format": "iceberg", "timezone": "Europe/Berlin"},
            "tables": [{"name": "events", "timestamp_column": "created_at"}],
        }
    )
    ctx = build_context(job)
    spec = job.tables[0]
    for day in (D1, D1 + dt.timedelta(days=1)):
        assert export_day(ctx, spec, day).rows > 0
        assert verify_day(ctx, spec, day).ok
    table = lake_of(ctx).table(spec)
    assert table is not None
    assert [f.name for f in table.spec().fields] == (
        ["created_at_day"] if stored_in == "Europe/Berlin" else []
    )
    ctx.source.close()


def test_the_glue_catalog_athena_reads(mysql_schema: MySqlSchema, tmp_path: Path) -> None:
    """catalog = "glue" (Athena's) against moto's Glue on 127.0.0.1: the table is an ICEBERG
    table of the namespace's database, pointing at the current metadata; a re-export is one
    overwrite the Glue table follows; verify agrees."""
    import boto3

    mysql_schema.execute(LOG_TABLE_DDL)
    _fill(mysql_schema, D1, 50)
    with moto_server() as url:
        keys = {"glue.region": "us-east-1", "glue.access-key-id": "testing",
                "glue.secret-access-key": "testing"}  # fmt: skip
        job = _job(
            mysql_schema,
            str(tmp_path / "arch"),
            iceberg={
                "catalog": "glue",
                "namespace": "archive",
                "properties": {"glue.endpoint": url, **keys},
            },
        )
        ctx = build_context(job)
        spec = job.tables[0]
        export_day(ctx, spec, D1)
        mysql_schema.execute("UPDATE events SET note = 'again' WHERE id <= 3")
        export_day(ctx, spec, D1)
        assert [s["operation"] for s in _snapshots(ctx)] == ["append", "overwrite"]
        assert verify_day(ctx, spec, D1).ok
        glue = boto3.client("glue", endpoint_url=url, region_name="us-east-1",
                            aws_access_key_id="testing", aws_secret_access_key="testing")  # fmt: skip
        params = glue.get_table(DatabaseName="archive", Name="events")["Table"]["Parameters"]
        table = lake_of(ctx).table(spec)
        assert table is not None
        assert params["table_type"] == "ICEBERG"
        assert params["metadata_location"] == table.metadata_location


def test_odd_table_and_column_names_on_s3(
    mysql_schema: MySqlSchema, s3_endpoint: S3Endpoint, s3_bucket: str, tmp_path: Path
) -> None:
    """A table named with spaces, a non-ASCII letter and '%' (its folder escaped to %XX), a
    timestamp column with a space: the files' S3 keys hold '%', which pyiceberg must read as
    they are; the Iceberg table gets a catalog-safe name and the day(ts) partition."""
    mysql_schema.execute(
        "CREATE TABLE `Payment Events ü%` (id INT PRIMARY KEY, `created at` DATETIME NOT NULL, "
        "`Note-1` TEXT, KEY (`created at`))"
    )
    mysql_schema.execute(
        "INSERT INTO `Payment Events ü%` SELECT seq, TIMESTAMP('2026-09-01') + INTERVAL seq "
        "MINUTE, CONCAT('n', seq) FROM seq_0_to_49"
    )
    job = job_from_dict(
        {
            "source": {"url": mysql_schema.url},
            "destination": {"url": f"s3://{s3_bucket}/a", "endpoint_url": s3_endpoint.url,
                            "region": s3_endpoint.region},
            "defaults": {"format": "iceberg"},
            "iceberg": {"catalog": "sql", "uri": f"sqlite:///{tmp_path / 'catalog.db'}"},
            "tables": [{"name": "Payment Events ü%", "timestamp_column": "created at"}],
        }
    )  # fmt: skip
    from dbarchive.build import build_storage

    ctx = build_context(job, storage=build_storage(job, s3_storage_options(s3_endpoint)))
    spec = job.tables[0]
    result = export_day(ctx, spec, D1)
    assert "%25" in result.files[0]
    lake = lake_of(ctx)
    assert lake.identifier(spec) == "dbarchive.payment_events___"
    rows = _lake_rows(ctx)
    assert sorted(rows["Note-1"].to_pylist()) == sorted(f"n{i}" for i in range(50))
    assert verify_day(ctx, spec, D1).ok


def test_config_refuses_what_cannot_work() -> None:
    """An S3 archive without a catalog, a catalog without its uri, two tables that would be one
    Iceberg table: each refused on load, naming the fix."""
    base = {"source": {"url": "mysql://u@127.0.0.1/db"}, "defaults": {"format": "iceberg"}}
    table = {"name": "events", "timestamp_column": "ts"}
    with pytest.raises(ConfigError, match=r"add an \[iceberg\] section"):
        job_from_dict({**base, "destination": {"url": "s3://b/p"}, "tables": [table]})
    with pytest.raises(ConfigError, match="needs uri"):
        job_from_dict(
            {**base, "destination": {"url": "/tmp/x"}, "tables": [table],
             "iceberg": {"catalog": "rest"}}
        )  # fmt: skip
    with pytest.raises(ConfigError, match="would both be Iceberg table 'events'"):
        job_from_dict(
            {**base, "destination": {"url": "/tmp/x"},
             "tables": [table, {"name": "Events", "timestamp_column": "ts", "path": "other"}]}
        )  # fmt: skip
