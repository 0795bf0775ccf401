"""``dbarchive erase``: a data subject's rows leave the archive — every format, every version —
and are proven gone; what would come back or cannot be erased is refused, changing nothing. The
oracle is the table's own rows (restored, and read with the server's SHA2), never the tool's."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from dbarchive import build_context
from dbarchive.build import build_storage, build_throttle
from dbarchive.config import job_from_dict
from dbarchive.errors import AlreadyRunning, ConfigError, StopRequested
from dbarchive.jobs.audit import audit_table
from dbarchive.jobs.daily import TableReport, purge_table
from dbarchive.jobs.erase import erase
from dbarchive.jobs.restore import restore_day
from dbarchive.ledger.chain import DayChain
from dbarchive.pipeline import export_day
from dbarchive.row_filter import parse_where
from dbarchive.steps import upload
from dbarchive.steps.verify import verify_day
from dbarchive.throttle import StopFlag
from tests.integration.conftest import S3Endpoint, s3_storage_options
from tests.integration.helpers import LOG_TABLE_DDL
from tests.integration.mysql_fixtures import MySqlSchema, mysql_schema  # noqa: F401

D1 = dt.date(2026, 9, 1)
TODAY = dt.date(2026, 11, 25)  # D1 is past the 60-day retention
ROW_SQL = "SHA2(CONCAT_WS('|', id, created_at, account_id, IFNULL(amount, 'N'), IFNULL(note, 'N')), 256)"  # fmt: skip
SUBJECT = "account_id = 3"


def _fill(schema: MySqlSchema, count: int, first_id: int = 1) -> None:
    schema.execute(
        "INSERT INTO events (id, created_at, account_id, amount, note) "
        "SELECT %s + seq, TIMESTAMP(%s) + INTERVAL (seq * 101) SECOND, seq MOD 7, seq / 4, "
        "CONCAT('n', seq) FROM seq_0_to_" + str(count - 1),
        (first_id, D1.isoformat()),
    )


def _job(schema: MySqlSchema, dest: Path, fmt: str = "csv", **extra: Any) -> Any:
    spec = {"name": "events", "timestamp_column": "created_at", "retention": "60 days"}
    return job_from_dict(
        {
            "source": {"url": schema.url},
            "destination": {"url": str(dest), **extra.pop("destination", {})},
            "defaults": {"format": fmt, "chunk_rows": 40},
            "throttle": {"min_chunk_rows": 40, "max_chunk_rows": 40},
            "tables": [spec],
            **extra,
        }
    )


def _rows(schema: MySqlSchema, table: str, where: str = "1") -> dict[int, str]:
    found = schema.execute(f"SELECT id, {ROW_SQL} FROM `{table}` WHERE {where}")
    return {int(k): (v.decode() if isinstance(v, bytes) else v) for k, v in found}


def _purge(ctx: Any) -> None:
    report = TableReport("events")
    purge_table(ctx, ctx.job.tables[0], TODAY, build_throttle(ctx), report)
    assert report.ok, report.errors


def _archived_text(root: Path) -> bytes:
    """Every byte of every data file in the archive folder (to look for an erased value)."""
    return b"".join(p.read_bytes() for p in root.rglob("part-*") if p.is_file())


@pytest.mark.parametrize("fmt", ["csv", "parquet", "iceberg"])
def test_erased_rows_and_their_older_versions_are_gone_and_the_rest_restores_exactly(
    mysql_schema: MySqlSchema, tmp_path: Path, fmt: str
) -> None:
    """A day whose purge was interrupted, then rows changed and late rows came: the next purge
    grows it (changed rows archived twice) and purges it. Erasing one account removes every
    version of its keys: no file holds a trace of it, the day verifies, and it restores to
    exactly the other keys' newest rows (oracle: the server's hashes)."""
    mysql_schema.execute(LOG_TABLE_DDL)
    _fill(mysql_schema, 140)
    oracle = _rows(mysql_schema, "events")
    subject = {
        int(r[0]) for r in mysql_schema.execute("SELECT id FROM events WHERE account_id = 3")
    }
    ctx = build_context(_job(mysql_schema, tmp_path / "arch", fmt))
    spec = ctx.job.tables[0]
    export_day(ctx, spec, D1)
    marker = ctx.partition(spec, D1).purge_marker_key
    ctx.storage.put_bytes(marker, b'{"status": "started", "started_at": "2026-11-25T00:00:00"}\n')
    mysql_schema.execute("DELETE FROM events WHERE id <= 50")  # as a killed purge leaves it
    mysql_schema.execute("UPDATE events SET note = 'SECRET-3' WHERE id = 95")  # account 3
    mysql_schema.execute("UPDATE events SET note = 'changed-5' WHERE id = 97")  # account 5
    mysql_schema.execute("INSERT INTO events (id, created_at, account_id, note) VALUES "
                         "(1000, %s, 3, 'LATE-SECRET'), (1001, %s, 2, 'late')",
                         (f"{D1} 23:59:00", f"{D1} 23:59:01"))  # fmt: skip
    oracle.update(_rows(mysql_schema, "events"))
    subject.add(1000)
    _purge(ctx)  # grows the day by the changed and late rows, then deletes them
    assert mysql_schema.execute("SELECT COUNT(*) FROM events")[0][0] == 0
    before = upload.read_manifest(ctx.storage, ctx.partition(spec, D1))
    assert before is not None and before.superseded.count == 2
    if fmt == "iceberg":  # what the proof counts: the subject's rows, both versions of key 95
        from dbarchive.lakehouse.iceberg import lake_of

        assert lake_of(ctx).count_matching(spec, parse_where(SUBJECT), D1) == len(subject) + 1

    report = erase(ctx, spec, D1, D1, parse_where(SUBJECT))

    assert report.ok and [d.day for d in report.days] == [D1]
    assert report.days[0].rows == len(subject) + 1  # key 95 was archived in two versions
    if fmt == "csv":
        assert b"SECRET" not in _archived_text(tmp_path / "arch")
    after = upload.read_manifest(ctx.storage, ctx.partition(spec, D1))
    assert after is not None and after.generation > before.generation
    assert after.superseded.count == 1  # key 97's old version stays (not the subject's)
    assert after.extra["erasures"][-1]["where"] == SUBJECT
    assert verify_day(ctx, spec, D1).ok
    mysql_schema.execute("CREATE TABLE events_back LIKE events")
    assert restore_day(ctx, spec, D1, into="events_back").ok
    expected = {k: v for k, v in oracle.items() if k not in subject}
    assert _rows(mysql_schema, "events_back") == expected
    if fmt == "iceberg":
        from dbarchive.lakehouse.iceberg import lake_of

        table = lake_of(ctx).table(spec)
        assert table is not None
        assert len(table.snapshots()) == 1 and report.expired_snapshots > 0
        assert lake_of(ctx).count_matching(spec, parse_where(SUBJECT), D1) == 0
        # the metadata only the expired snapshots reached (with the old files' column stats)
        snapshot = table.current_snapshot()
        assert snapshot is not None and report.removed_metadata > 0
        reached = {table.metadata_location, snapshot.manifest_list,
                   *(m.manifest_path for m in snapshot.manifests(table.io))}  # fmt: skip
        folder = Path(table.location().removeprefix("file://")) / "metadata"
        assert {str(p) for p in folder.iterdir()} == {r.removeprefix("file://") for r in reached}
        rows = table.scan().to_arrow()
        assert 3 not in set(rows["account_id"].to_pylist())
        assert rows.num_rows == after.rows


def test_a_day_the_database_still_holds_matching_rows_of_is_refused_and_kept(
    mysql_schema: MySqlSchema, tmp_path: Path
) -> None:
    """Unpurged, the day's subject rows are still in the table: erasing them from the archive
    alone would be undone by the next purge. Refused, nothing changed; deleted there first, the
    erasure goes through and the next purge takes the day as it is (no re-export)."""
    mysql_schema.execute(LOG_TABLE_DDL)
    _fill(mysql_schema, 70)
    ctx = build_context(_job(mysql_schema, tmp_path / "arch"))
    spec = ctx.job.tables[0]
    export_day(ctx, spec, D1)
    report = erase(ctx, spec, D1, D1, parse_where(SUBJECT))
    assert not report.ok and "still holds 10 matching row(s)" in report.refused[D1]
    manifest = upload.read_manifest(ctx.storage, ctx.partition(spec, D1))
    assert manifest is not None and manifest.generation == 1
    mysql_schema.execute("DELETE FROM events WHERE account_id = 3")
    assert erase(ctx, spec, D1, D1, parse_where(SUBJECT)).ok
    assert verify_day(ctx, spec, D1).ok  # the archive is the table's day again
    _purge(ctx)
    assert mysql_schema.execute("SELECT COUNT(*) FROM events")[0][0] == 0
    manifest = upload.read_manifest(ctx.storage, ctx.partition(spec, D1))
    assert manifest is not None and manifest.generation == 2  # not exported again


def test_an_erasure_refuses_while_another_run_holds_the_table(
    mysql_schema: MySqlSchema, tmp_path: Path
) -> None:
    """Another run holds the table's run lock (an export or purge may be publishing a generation
    of the day): the erasure stops with "already running", changing nothing."""
    mysql_schema.execute(LOG_TABLE_DDL)
    _fill(mysql_schema, 30)
    job = _job(mysql_schema, tmp_path / "arch")
    running = build_context(job)
    spec = job.tables[0]
    export_day(running, spec, D1)  # holds the lock until its context closes
    _purge(running)
    other = build_context(job)
    with pytest.raises(AlreadyRunning):
        erase(other, spec, D1, D1, parse_where(SUBJECT))
    manifest = upload.read_manifest(other.storage, other.partition(spec, D1))
    assert manifest is not None and manifest.generation == 1
    running.close()
    assert erase(other, spec, D1, D1, parse_where(SUBJECT)).ok


def test_dry_run_counts_and_changes_nothing(mysql_schema: MySqlSchema, tmp_path: Path) -> None:
    mysql_schema.execute(LOG_TABLE_DDL)
    _fill(mysql_schema, 70)
    ctx = build_context(_job(mysql_schema, tmp_path / "arch"))
    spec = ctx.job.tables[0]
    export_day(ctx, spec, D1)
    _purge(ctx)
    files = sorted(p.name for p in (tmp_path / "arch").rglob("*"))
    report = erase(ctx, spec, D1 - dt.timedelta(days=1), D1, parse_where(SUBJECT), dry_run=True)
    assert report.rows == 10 and report.not_archived == [D1 - dt.timedelta(days=1)]
    assert sorted(p.name for p in (tmp_path / "arch").rglob("*")) == files


def test_the_ledger_records_the_erasure_and_the_audit_still_proves_every_deletion(
    mysql_schema: MySqlSchema, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the ledger on, the purge's deletion records name files the erasure replaces: the
    erasure audits them first and records itself; a later audit is whole and counts those
    deletions as proven before the erasure."""
    monkeypatch.setenv("DBARCHIVE_LEDGER_KEY", "k" * 32)
    mysql_schema.execute(LOG_TABLE_DDL)
    _fill(mysql_schema, 90)
    job = _job(
        mysql_schema,
        tmp_path / "arch",
        ledger={"enabled": True, "hmac_key_env": "DBARCHIVE_LEDGER_KEY"},
    )
    ctx = build_context(job)
    spec = job.tables[0]
    export_day(ctx, spec, D1)
    _purge(ctx)
    assert erase(ctx, spec, D1, D1, parse_where(SUBJECT)).ok
    audit = audit_table(ctx, spec)
    assert audit.ok, [d.breaks for d in audit.days]
    (day,) = audit.days
    assert day.proven_before_erasure > 0 and day.rows_deleted == 90
    chain = DayChain(ctx.storage, ctx.folder(spec), mysql_schema.name, "events", D1, None)
    kinds = [json.loads(data or b"{}").get("kind") for _seq, _name, data in chain.records()]
    assert kinds.count("erase") == 1
    # Again (nothing left to erase), and for a subject no row matches: no record of an erasure
    # (an outside trial found an "erase" record per day and per rerun, for days left unchanged).
    assert erase(ctx, spec, D1, D1, parse_where(SUBJECT)).ok
    assert erase(ctx, spec, D1, D1, parse_where("account_id = 99")).rows == 0
    again = [json.loads(data or b"{}").get("kind") for _seq, _name, data in chain.records()]
    assert again == kinds


def test_a_stop_asked_ends_the_erasure_before_the_next_day(
    mysql_schema: MySqlSchema, tmp_path: Path
) -> None:
    """SIGTERM killed erase outright (exit 143, not a word; an outside trial). A stop asked
    ends it before the next day: StopRequested (exit 6) saying what was done and what is left;
    the days before were erased and proven."""
    mysql_schema.execute(LOG_TABLE_DDL)
    _fill(mysql_schema, 90)
    ctx = build_context(_job(mysql_schema, tmp_path / "arch"))
    spec = ctx.job.tables[0]
    export_day(ctx, spec, D1)
    stop = StopFlag()
    stop.request("received SIGTERM")
    with pytest.raises(StopRequested, match=r"erase stopped \(received SIGTERM\): nothing erased"):
        erase(ctx, spec, D1, D1 + dt.timedelta(days=2), parse_where(SUBJECT), stopping=stop)
    assert upload.read_manifest(ctx.storage, ctx.partition(spec, D1)).generation == 1  # type: ignore[union-attr]


def test_an_archive_under_object_lock_is_refused_before_anything_is_read(tmp_path: Path) -> None:
    job = job_from_dict(
        {
            "source": {"url": "mysql://u@127.0.0.1:9/db"},
            "destination": {
                "url": "s3://locked/archive",
                "endpoint_url": "http://127.0.0.1:9",
                "region": "us-east-1",
                "object_lock": {"mode": "COMPLIANCE", "retain": "7 years"},
            },
            "tables": [{"name": "events", "timestamp_column": "created_at"}],
        }
    )
    ctx = build_context(job)
    with pytest.raises(ConfigError, match=r"Object Lock .*cannot be erased"):
        erase(ctx, job.tables[0], D1, D1, parse_where(SUBJECT))


def test_cli_exits_5_on_a_refused_day_and_names_it(
    mysql_schema: MySqlSchema, tmp_path: Path
) -> None:
    mysql_schema.execute(LOG_TABLE_DDL)
    _fill(mysql_schema, 20)
    config = tmp_path / "job.toml"
    config.write_text(
        f'[source]\nurl = "{mysql_schema.url}"\n[destination]\nurl = "{tmp_path / "arch"}"\n'
        '[[tables]]\nname = "events"\ntimestamp_column = "created_at"\n'
    )
    ctx = build_context(_job(mysql_schema, tmp_path / "arch"))
    export_day(ctx, ctx.job.tables[0], D1)
    ctx.close()
    ran = subprocess.run(
        [sys.executable, "-m", "dbarchive", "erase", "-c", str(config), "-t", "events",
         "--where", SUBJECT, "--from", D1.isoformat()],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert ran.returncode == 5, ran.stderr
    assert f"{D1}: NOT erased: the database still holds" in ran.stdout


def _s3_context(schema: MySqlSchema, endpoint: S3Endpoint, bucket: str) -> Any:
    """60 rows of D1 in the table, and a context archiving them to s3://<bucket>/a."""
    schema.execute(LOG_TABLE_DDL)
    _fill(schema, 60)
    job = _job(
        schema,
        Path("unused"),
        destination={"endpoint_url": endpoint.url, "region": endpoint.region},
    )
    job = job.model_copy(
        update={"destination": job.destination.model_copy(update={"url": f"s3://{bucket}/a"})}
    )
    return build_context(job, storage=build_storage(job, s3_storage_options(endpoint)))


def test_on_an_unversioned_bucket_the_committed_files_stay(
    mysql_schema: MySqlSchema, s3_endpoint: S3Endpoint, s3_bucket: str, s3_client: Any
) -> None:
    """An unversioned bucket lists every object as version "null": the erasure's sweep of
    versions must not take the committed files for stale ones. The day verifies afterwards,
    its files are the manifest's, and a second erasure finds nothing and deletes nothing."""
    ctx = _s3_context(mysql_schema, s3_endpoint, s3_bucket)
    spec = ctx.job.tables[0]
    export_day(ctx, spec, D1)
    _purge(ctx)
    assert erase(ctx, spec, D1, D1, parse_where(SUBJECT)).ok
    manifest = upload.read_manifest(ctx.storage, ctx.partition(spec, D1))
    assert manifest is not None and not manifest.versions
    listed = s3_client.list_objects_v2(Bucket=s3_bucket, Prefix="a/events/")
    data = {o["Key"] for o in listed.get("Contents", []) if "part-" in o["Key"]}
    assert data == {f"a/{f.key}" for f in manifest.files}
    assert verify_day(ctx, spec, D1).ok
    again = erase(ctx, spec, D1, D1, parse_where(SUBJECT))
    assert again.ok and again.days == []


def test_on_a_versioned_bucket_the_replaced_files_versions_are_deleted_too(
    mysql_schema: MySqlSchema, s3_endpoint: S3Endpoint, s3_bucket: str, s3_client: Any
) -> None:
    """A plain delete on a versioned bucket only hides a file behind a delete marker: the erased
    rows would stay in its version. The erasure deletes the versions the manifest named, and
    those of generations replaced before it (here a re-export of changed rows): afterwards the
    day's only data versions are those its manifest names."""
    s3_client.put_bucket_versioning(Bucket=s3_bucket, VersioningConfiguration={"Status": "Enabled"})
    ctx = _s3_context(mysql_schema, s3_endpoint, s3_bucket)
    spec = ctx.job.tables[0]
    export_day(ctx, spec, D1)
    mysql_schema.execute("UPDATE events SET note = 'changed' WHERE account_id = 3")
    assert export_day(ctx, spec, D1).generation == 2  # generation 1's files: hidden, not gone
    _purge(ctx)
    old = upload.read_manifest(ctx.storage, ctx.partition(spec, D1))
    assert old is not None and old.versions
    report = erase(ctx, spec, D1, D1, parse_where(SUBJECT))
    assert report.ok and report.days[0].removed_files
    listed = s3_client.list_object_versions(Bucket=s3_bucket, Prefix="a/events/")
    data = {(v["Key"], v["VersionId"]) for v in listed.get("Versions", []) if "part-" in v["Key"]}
    new = upload.read_manifest(ctx.storage, ctx.partition(spec, D1))
    assert new is not None
    assert data == {(f"a/{f.key}", f.version_id) for f in new.files}
    assert verify_day(ctx, spec, D1).ok


# Every point an erasure passes on its way to publishing the day without the subject's rows:
# the new files written, the generation claimed, copied, committed, the table format's snapshot.
KILL_POINTS = [
    ("csv", "export.part-committed"),
    ("csv", "erase.written"),
    ("csv", "publish.claimed"),
    ("csv", "publish.promoted"),
    ("csv", "export.before-manifest"),
    ("csv", "export.after-manifest"),
    ("iceberg", "export.after-manifest"),
    ("iceberg", "publish.after-lake-commit"),
    ("csv+ledger", "export.before-manifest"),
    ("csv+ledger", "export.after-manifest"),
]


@pytest.mark.parametrize(("fmt", "point"), KILL_POINTS)
def test_an_erasure_killed_anywhere_finishes_on_the_rerun_and_leaves_no_trace(
    mysql_schema: MySqlSchema,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    fmt: str,
    point: str,
) -> None:
    """SIGKILL at each step of an erasure, then the same command again: the day ends with no
    file under the archive but the committed manifest's (a kill after the commit left the
    replaced generation's files, the subject's rows in them, for the rerun to delete although
    it finds nothing left to erase), the subject's rows in none, and the rest restoring
    exactly; an Iceberg table keeps only what its current snapshot reaches; with the deletion
    ledger on, the audit stays whole."""
    fmt, _, ledger = fmt.partition("+")
    extra: dict[str, Any] = {}
    ledger_toml = ""
    if ledger:
        monkeypatch.setenv("DBARCHIVE_LEDGER_KEY", "k" * 32)
        extra["ledger"] = {"enabled": True, "hmac_key_env": "DBARCHIVE_LEDGER_KEY"}
        ledger_toml = '[ledger]\nenabled = true\nhmac_key_env = "DBARCHIVE_LEDGER_KEY"\n'
    mysql_schema.execute(LOG_TABLE_DDL)
    _fill(mysql_schema, 140)
    mysql_schema.execute("UPDATE events SET note = CONCAT('SECRET-', id) WHERE account_id = 3")
    oracle = _rows(mysql_schema, "events")
    subject = {
        int(r[0]) for r in mysql_schema.execute("SELECT id FROM events WHERE account_id = 3")
    }
    root = tmp_path / "arch"
    ctx = build_context(_job(mysql_schema, root, fmt, **extra))
    spec = ctx.job.tables[0]
    export_day(ctx, spec, D1)
    _purge(ctx)
    ctx.close()
    config = tmp_path / "job.toml"
    config.write_text(
        f'[source]\nurl = "{mysql_schema.url}"\n[destination]\nurl = "{root}"\n'
        f'[defaults]\nformat = "{fmt}"\nchunk_rows = 40\n'
        "[throttle]\nmin_chunk_rows = 40\nmax_chunk_rows = 40\n"
        + ledger_toml
        + '[[tables]]\nname = "events"\ntimestamp_column = "created_at"\nretention = "60 days"\n'
    )
    command = [sys.executable, "-m", "dbarchive", "erase", "-c", str(config), "-t", "events",
               "--where", SUBJECT, "--from", D1.isoformat()]  # fmt: skip
    env = {**os.environ, "DBARCHIVE_FAILPOINT": point}
    killed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=180)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    again = subprocess.run(command, capture_output=True, text=True, timeout=180)
    assert again.returncode == 0, again.stdout + again.stderr
    # Its first line counts the days it erased rows from, not the days it only cleaned up.
    head = re.search(r"erased (\d+) row\(s\) .* from (\d+) day\(s\)", again.stdout)
    assert head is not None, again.stdout
    assert (head[1] == "0") == (head[2] == "0"), again.stdout

    ctx = build_context(_job(mysql_schema, root, fmt, **extra))
    manifest = upload.read_manifest(ctx.storage, ctx.partition(spec, D1))
    assert manifest is not None and manifest.extra["erasures"][-1]["where"] == SUBJECT
    folder = root / Path(ctx.partition(spec, D1).manifest_key).parent
    data = {p.name for p in folder.iterdir() if "part-" in p.name}
    assert data == {Path(f.key).name for f in manifest.files}  # nothing replaced or staged left
    if fmt == "csv":
        assert b"SECRET" not in b"".join(p.read_bytes() for p in root.rglob("*") if p.is_file())
    else:
        from dbarchive.lakehouse.iceberg import lake_of

        table = lake_of(ctx).table(spec)
        assert table is not None and len(table.snapshots()) == 1
        assert lake_of(ctx).count_matching(spec, parse_where(SUBJECT), D1) == 0
    mysql_schema.execute("CREATE TABLE events_back LIKE events")
    assert restore_day(ctx, spec, D1, into="events_back").ok
    assert _rows(mysql_schema, "events_back") == {
        k: v for k, v in oracle.items() if k not in subject
    }
    if ledger:
        audit = audit_table(ctx, spec)
        assert audit.ok, [d.breaks for d in audit.days]
    ctx.close()


def test_an_erasure_paused_past_its_lock_commits_nothing_over_a_later_run(
    mysql_schema: MySqlSchema, tmp_path: Path
) -> None:
    """An erasure paused (a frozen VM) just before committing its new manifest, its lock's
    session KILLed meanwhile; a run grows the purged day by a late row and purges it. Resumed,
    the erasure committed its manifest over the run's and removed the run's files: 2,974 rows of
    the day in neither the archive nor the database (an outside trial). It now stops before its
    commit (exit 8); the day verifies, restores whole (late row included), and a rerun erases."""
    from dbarchive.sources.lock import lock_name

    mysql_schema.execute(LOG_TABLE_DDL)
    _fill(mysql_schema, 140)
    oracle = _rows(mysql_schema, "events")
    root = tmp_path / "arch"
    ctx = build_context(_job(mysql_schema, root))
    spec = ctx.job.tables[0]
    export_day(ctx, spec, D1)
    _purge(ctx)
    ctx.close()  # its run lock with it
    config = tmp_path / "job.toml"
    config.write_text(
        f'[source]\nurl = "{mysql_schema.url}"\n[destination]\nurl = "{root}"\n'
        '[[tables]]\nname = "events"\ntimestamp_column = "created_at"\nretention = "60 days"\n'
    )
    command = [sys.executable, "-m", "dbarchive", "erase", "-c", str(config), "-t", "events",
               "--where", SUBJECT, "--from", D1.isoformat()]  # fmt: skip
    env = {**os.environ, "DBARCHIVE_FAILPOINT": "export.before-manifest:1:stop"}
    paused = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        _pid, status = os.waitpid(paused.pid, os.WUNTRACED)
        assert os.WIFSTOPPED(status), "the erasure ended instead of pausing"
        name = lock_name(mysql_schema.name, "events")
        (holder,) = mysql_schema.execute("SELECT IS_USED_LOCK(%s)", (name,))[0]
        mysql_schema.execute(f"KILL CONNECTION {int(holder)}")
        assert mysql_schema.execute("SELECT GET_LOCK(%s, 60)", (name,)) == [(1,)]  # freed
        mysql_schema.execute("SELECT RELEASE_LOCK(%s)", (name,))
        _fill(mysql_schema, 1, first_id=1000)  # a late row: the run grows the day, purges it
        late = _rows(mysql_schema, "events")
        ctx = build_context(_job(mysql_schema, root))
        _purge(ctx)
        ctx.close()
    finally:
        paused.send_signal(signal.SIGCONT)
        _out, err = paused.communicate(timeout=120)
    assert paused.returncode == 8, err
    ctx = build_context(_job(mysql_schema, root))
    assert verify_day(ctx, spec, D1).ok
    assert restore_day(ctx, spec, D1, into="events_back").ok
    assert _rows(mysql_schema, "events_back") == {**oracle, **late}
    ctx.close()
    again = subprocess.run(command, capture_output=True, text=True, timeout=180)
    assert again.returncode == 0, again.stdout + again.stderr
