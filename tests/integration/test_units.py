"""Work units: a day exported as k key ranges is the same archive as one piece, crash-safe per unit,
and published (manifest) only after its last unit landed."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from dbarchive import VerificationError, build_context, export_day
from dbarchive.context import Context
from dbarchive.layout import PartitionPath
from dbarchive.manifest import Manifest
from dbarchive.steps import upload
from dbarchive.steps.archive_files import iter_archive_rows
from dbarchive.steps.verify import verify_day
from dbarchive.units.export import export_unit
from dbarchive.units.plan import pending_units, plan_units
from dbarchive.units.publish import publish_units
from dbarchive.units.records import read_record
from tests.integration.helpers import LOG_TABLE_DDL, fill_events, make_job
from tests.integration.mysql_fixtures import MySqlSchema, mysql_schema  # noqa: F401

DAY = dt.date(2026, 11, 24)
ROWS = 30_000
SMALL = {"compression": "none", "max_file_mib": 1, "chunk_rows": 2000}


def _ctx(schema: MySqlSchema, dest: Path, **table: Any) -> Context:
    job = make_job(
        schema.url,
        str(dest),
        [{"name": "events", "timestamp_column": "created_at", **table}],
        **SMALL,
    )
    return build_context(job)


def _manifest(ctx: Context) -> Manifest | None:
    return upload.read_manifest(ctx.storage, PartitionPath("events", DAY))


def _rows(ctx: Context, manifest: Manifest) -> list[list[Any]]:
    return sorted(iter_archive_rows(ctx.storage, manifest), key=lambda r: int(r[0]))


@pytest.mark.parametrize(("scan", "fmt"), [("key", "csv"), ("time", "csv"), ("key", "parquet")])
def test_k_units_give_the_rows_and_digest_of_one_piece(
    mysql_schema: MySqlSchema, tmp_path: Path, scan: str, fmt: str
) -> None:
    """4 key ranges (or time slices) of a day: the same rows and row digest as the whole-day export."""
    mysql_schema.execute(LOG_TABLE_DDL)
    fill_events(mysql_schema, "2026-11-23", 500)
    fill_events(mysql_schema, "2026-11-24", ROWS)
    fill_events(mysql_schema, "2026-11-25", 500)
    whole = _ctx(mysql_schema, tmp_path / "whole", scan=scan, format=fmt)
    units = _ctx(mysql_schema, tmp_path / "units", scan=scan, format=fmt, range_rows=8000)
    export_day(whole, whole.job.tables[0], DAY)
    plan = plan_units(units, units.job.tables[0], DAY)
    assert len(plan.units) == 4 and plan.strategy == scan
    for index in pending_units(units, units.job.tables[0], plan):
        export_unit(units, units.job.tables[0], plan, index)
    publish_units(units, units.job.tables[0], DAY, plan)
    one, four = _manifest(whole), _manifest(units)
    assert one is not None and four is not None
    assert four.digest == one.digest and four.rows == ROWS
    assert four.min_key == one.min_key and four.max_key == one.max_key
    assert {f.key.rsplit("/", 1)[1][:16] for f in four.files} == {
        f"part-g0001-0000{i}" for i in range(4)
    }
    assert _rows(units, four) == _rows(whole, one)
    assert verify_day(units, units.job.tables[0], DAY).ok  # the database agrees with the union
    whole.source.close()
    units.source.close()


def test_manifest_appears_only_after_the_last_unit(
    mysql_schema: MySqlSchema, tmp_path: Path
) -> None:
    """Until every unit has landed there is no manifest and publishing names the missing units."""
    mysql_schema.execute(LOG_TABLE_DDL)
    fill_events(mysql_schema, "2026-11-24", ROWS)
    ctx = _ctx(mysql_schema, tmp_path, range_rows=8000)
    spec = ctx.job.tables[0]
    plan = plan_units(ctx, spec, DAY)
    for index in (3, 0, 2):  # any order
        export_unit(ctx, spec, plan, index)
        assert _manifest(ctx) is None
    with pytest.raises(VerificationError, match=r"units \[1\] of 4 have not landed"):
        publish_units(ctx, spec, DAY, plan)
    assert _manifest(ctx) is None
    export_unit(ctx, spec, plan, 1)
    assert _manifest(ctx) is None
    manifest, _stale = publish_units(ctx, spec, DAY, plan)
    assert _manifest(ctx) == manifest and manifest.rows == ROWS
    again = export_unit(ctx, spec, plan, 2)  # a unit of the published plan: nothing rewritten
    assert _manifest(ctx) == manifest and again.files == manifest.files[2:3]
    assert publish_units(ctx, spec, DAY, plan)[0] == manifest
    ctx.source.close()


def _export(config: Path, failpoint: str | None) -> int:
    env = {k: v for k, v in os.environ.items() if k != "DBARCHIVE_FAILPOINT"}
    if failpoint:
        env["DBARCHIVE_FAILPOINT"] = failpoint
    cmd = [sys.executable, "-m", "dbarchive", "export", "-c", str(config), "--date", str(DAY), "-q"]
    return subprocess.run(cmd, env=env, timeout=180, capture_output=True, check=False).returncode


def test_unit_killed_midway_is_redone_alone_without_duplicates(
    mysql_schema: MySqlSchema, tmp_path: Path
) -> None:
    """SIGKILL inside unit 2 (parts committed, no record): the rerun redoes unit 2 and 3 only, exactly."""
    mysql_schema.execute(LOG_TABLE_DDL)
    fill_events(mysql_schema, "2026-11-24", ROWS)
    dest = tmp_path / "archive"
    config = tmp_path / "job.toml"
    config.write_text(
        f'[source]\nurl = "{mysql_schema.url}"\n[destination]\nurl = "{dest}"\n[defaults]\n'
        'compression = "none"\nmax_file_mib = 1\nchunk_rows = 2000\nrange_rows = 8000\n'
        '[[tables]]\nname = "events"\ntimestamp_column = "created_at"\n'
    )
    # Each unit of ~7,500 rows writes one ~0.8 MiB part: the 3rd committed part is unit 2's.
    assert _export(config, "export.part-committed:3") == -signal.SIGKILL
    ctx = _ctx(mysql_schema, dest, range_rows=8000)
    spec = ctx.job.tables[0]
    partition = PartitionPath("events", DAY)
    assert _manifest(ctx) is None
    landed = {i: read_record(ctx.storage, partition, i) for i in range(4)}
    assert [i for i, r in landed.items() if r is not None] == [0, 1]
    unit_2 = partition.for_generation(1, staged=False).for_unit(2)
    assert ctx.storage.stat(unit_2.part_key(0, "csv")) is not None  # half done
    before = {i: (dest / partition.unit_record_key(i)).read_bytes() for i in (0, 1)}
    assert _export(config, None) == 0
    after = {i: (dest / partition.unit_record_key(i)).read_bytes() for i in (0, 1)}
    assert after == before, "landed units are not exported again"
    manifest = _manifest(ctx)
    assert manifest is not None and manifest.rows == ROWS
    info = ctx.describe(spec)
    assert ctx.source.digest_day(info, ctx.source.window(spec, info, DAY)) == manifest.digest
    ids = [int(r[0]) for r in iter_archive_rows(ctx.storage, manifest)]
    assert len(ids) == len(set(ids)) == ROWS
    data = {o.key for o in ctx.storage.list_objects("events/") if "/part-" in o.key}
    assert data == {f.key for f in manifest.files}
    ctx.source.close()


def test_units_of_an_outdated_plan_or_a_purging_day_are_refused(
    mysql_schema: MySqlSchema, tmp_path: Path
) -> None:
    """A unit planned before the day changed, or after its purge began, writes nothing."""
    mysql_schema.execute(LOG_TABLE_DDL)
    fill_events(mysql_schema, "2026-11-24", 10_000)
    ctx = _ctx(mysql_schema, tmp_path, range_rows=4000)
    spec = ctx.job.tables[0]
    old = plan_units(ctx, spec, DAY)
    mysql_schema.execute(
        "INSERT INTO events (created_at, account_id) VALUES ('2026-11-24 23:00', 1)"
    )
    plan_units(ctx, spec, DAY)  # the count changed: a new plan
    with pytest.raises(VerificationError, match="planned again"):
        export_unit(ctx, spec, old, 0)
    current = plan_units(ctx, spec, DAY)
    upload.write_purge_marker(ctx.storage, PartitionPath("events", DAY), {"status": "started"})
    with pytest.raises(VerificationError, match="purge has begun"):
        export_unit(ctx, spec, current, 0)
    assert not [o for o in ctx.storage.list_objects("events/") if "/part-" in o.key]
    ctx.source.close()


def test_a_row_changed_during_its_unit_leaves_the_unit_unlanded(
    mysql_schema: MySqlSchema, tmp_path: Path
) -> None:
    """The unit is compared with the database after writing: a row changed meanwhile → no record."""
    from dbarchive.events import Event

    mysql_schema.execute(LOG_TABLE_DDL)
    fill_events(mysql_schema, "2026-11-24", 10_000)
    ctx = _ctx(mysql_schema, tmp_path, range_rows=4000)
    spec = ctx.job.tables[0]
    plan = plan_units(ctx, spec, DAY)

    class ChangeARow:
        def emit(self, event: Event) -> None:
            if event.kind == "chunk":  # unit 0's first chunk is written: change a row in it
                mysql_schema.execute("UPDATE events SET note = 'changed' WHERE id = 5")

    ctx.reporter = ChangeARow()
    with pytest.raises(VerificationError, match="unit 0: the database holds"):
        export_unit(ctx, spec, plan, 0)
    assert read_record(ctx.storage, PartitionPath("events", DAY), 0) is None
    assert pending_units(ctx, spec, plan) == [0, 1, 2]
    ctx.source.close()


def test_an_empty_day_is_published_with_no_units(mysql_schema: MySqlSchema, tmp_path: Path) -> None:
    """A day without rows plans no unit and still gets its manifest: 'archived and empty'."""
    mysql_schema.execute(LOG_TABLE_DDL)
    fill_events(mysql_schema, "2026-11-23", 100)
    ctx = _ctx(mysql_schema, tmp_path, range_rows=1000)
    spec = ctx.job.tables[0]
    plan = plan_units(ctx, spec, DAY)
    assert plan.units == () and pending_units(ctx, spec, plan) == []
    manifest, _stale = publish_units(ctx, spec, DAY, plan)
    assert (manifest.rows, manifest.files) == (0, ())
    ctx.source.close()


def test_a_day_in_units_takes_the_run_lock(mysql_schema: MySqlSchema, tmp_path: Path) -> None:
    """Another session holding the table's lock: the unit export stops before writing anything."""
    from dbarchive.errors import AlreadyRunning
    from dbarchive.pipeline import export_day_as_configured
    from dbarchive.sources.lock import lock_name

    mysql_schema.execute(LOG_TABLE_DDL)
    fill_events(mysql_schema, "2026-11-24", 3000)
    ctx = _ctx(mysql_schema, tmp_path / "units", range_rows=1000)
    name = lock_name(mysql_schema.name, "events")
    assert mysql_schema.execute("SELECT GET_LOCK(%s, 0)", (name,))[0][0] == 1  # this session's
    try:
        with pytest.raises(AlreadyRunning, match="already running"):
            export_day_as_configured(ctx, ctx.job.tables[0], DAY)
        assert not any((tmp_path / "units").rglob("*.csv*"))
    finally:
        mysql_schema.execute("SELECT RELEASE_LOCK(%s)", (name,))
        ctx.source.close()
    ctx = _ctx(mysql_schema, tmp_path / "units", range_rows=1000)
    assert export_day_as_configured(ctx, ctx.job.tables[0], DAY).rows == 3000  # lock gone: runs
    ctx.source.close()
