"""`dbarchive restore`: refuses a damaged partition or a mismatched target and changes nothing."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from dbarchive import build_context, export_day
from dbarchive.cli import cli
from tests.integration.every_type import COLUMNS, DAY, DDL, STRINGS, load_every_type
from tests.integration.helpers import make_job
from tests.integration.mysql_fixtures import MySqlSchema, mysql_schema  # noqa: F401


def _archived(schema: MySqlSchema, tmp_path: Path, fmt: str) -> Path:
    """The every-type day archived in ``fmt`` to a local folder; returns the job's config file."""
    schema.execute(DDL)
    load_every_type(schema, "everything", zero_dates=fmt == "csv")
    dest = tmp_path / "arch"
    job = make_job(schema.url, str(dest), [{"name": "everything", "timestamp_column": "ts", "chunk_rows": 4}], format=fmt)  # fmt: skip
    ctx = build_context(job)
    export_day(ctx, job.tables[0], DAY)
    ctx.source.close()
    config = tmp_path / "job.toml"
    config.write_text(
        f'[source]\nurl = "{schema.url}"\n[destination]\nurl = "{dest}"\n[defaults]\n'
        f'format = "{fmt}"\n[[tables]]\nname = "everything"\ntimestamp_column = "ts"\n'
    )
    return config


def _restore(config: Path, *args: str) -> Any:
    base = ["restore", "-c", str(config), "-t", "everything", "--date", DAY.isoformat()]
    return CliRunner().invoke(cli, [*base, *args])


def _tables(schema: MySqlSchema) -> list[str]:
    return sorted(r[0] for r in schema.execute("SHOW TABLES"))


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
@pytest.mark.parametrize("damage", ["flip", "truncate", "missing"])
def test_restore_refuses_a_damaged_partition(
    mysql_schema: MySqlSchema, tmp_path: Path, fmt: str, damage: str
) -> None:
    """A part changed, cut short or gone: exit 5, the error names the file, nothing is created."""
    config = _archived(mysql_schema, tmp_path, fmt)
    part = next(p for p in sorted((tmp_path / "arch").rglob("part-*")) if p.stat().st_size > 100)
    data = part.read_bytes()
    if damage == "flip":
        middle = len(data) // 2
        part.write_bytes(data[:middle] + bytes([data[middle] ^ 0x01]) + data[middle + 1 :])
    elif damage == "truncate":
        part.write_bytes(data[:-10])
    else:
        part.unlink()
    mysql_schema.execute("DELETE FROM everything")
    for args in (("--into", "copy"), ()):
        result = _restore(config, *args)
        assert result.exit_code == 5, result.output
        assert part.name in result.output and "nothing was restored" in result.output
    assert _tables(mysql_schema) == ["everything"]
    assert mysql_schema.execute("SELECT COUNT(*) FROM everything")[0][0] == 0


def test_restore_cli_into_a_new_table_then_again(mysql_schema: MySqlSchema, tmp_path: Path) -> None:
    """--into creates the table LIKE the original and verifies; a second run skips every key."""
    config = _archived(mysql_schema, tmp_path, "parquet")
    first = _restore(config, "--into", "copy", "--json")
    assert first.exit_code == 0, first.output
    report = json.loads(first.stdout)
    assert report["written"] == len(STRINGS) and report["created_table"] and report["verified"]
    again = json.loads(_restore(config, "--into", "copy", "--json").stdout)
    assert (again["written"], again["skipped"], again["verified"]) == (0, len(STRINGS), True)
    same = " AND ".join(f"CAST(a.`{c}` AS BINARY) <=> CAST(b.`{c}` AS BINARY)" for c in COLUMNS)
    assert mysql_schema.execute(f"SELECT COUNT(*) FROM everything a JOIN copy b ON {same}")[0][
        0
    ] == len(STRINGS)


def test_restore_reports_rows_that_differ_and_replace_fixes_them(
    mysql_schema: MySqlSchema, tmp_path: Path
) -> None:
    """A row changed since the archive: skip keeps it and says so (exit 5); --replace restores it."""
    config = _archived(mysql_schema, tmp_path, "csv")
    mysql_schema.execute("UPDATE everything SET vc = 'changed' WHERE id = 3")
    skipped = _restore(config)
    assert skipped.exit_code == 5
    assert "rows already there differ from the archive" in skipped.output
    assert mysql_schema.execute("SELECT vc FROM everything WHERE id = 3")[0][0] == "changed"
    replaced = _restore(config, "--replace")
    assert replaced.exit_code == 0, replaced.output
    assert mysql_schema.execute("SELECT vc FROM everything WHERE id = 3")[0][0] == STRINGS[2]


def test_restore_refuses_a_retyped_target(mysql_schema: MySqlSchema, tmp_path: Path) -> None:
    """A target whose column type changed since the archive: exit 2, the table is not touched."""
    config = _archived(mysql_schema, tmp_path, "parquet")
    mysql_schema.execute("CREATE TABLE copy LIKE everything")
    mysql_schema.execute("ALTER TABLE copy MODIFY dec4 DECIMAL(12,2) NULL")
    result = _restore(config, "--into", "copy")
    assert result.exit_code == 2, result.output
    assert "column 'dec4' is decimal(12,2), the archive has decimal(10,4)" in result.output
    assert mysql_schema.execute("SELECT COUNT(*) FROM copy")[0][0] == 0


def test_restore_refuses_a_target_whose_triggers_rewrite_rows(
    mysql_schema: MySqlSchema, tmp_path: Path
) -> None:
    """Restored through a BEFORE INSERT trigger the day came back with other values, and the next
    run archived those (an outside trial): a target with a BEFORE INSERT or BEFORE UPDATE trigger
    is refused (exit 2, naming them), nothing written; --into a new table (no triggers) restores
    the archive's values exactly."""
    config = _archived(mysql_schema, tmp_path, "csv")
    mysql_schema.execute("DELETE FROM everything")
    mysql_schema.execute(
        "CREATE TRIGGER bump BEFORE INSERT ON everything FOR EACH ROW SET NEW.vc = 'bumped'"
    )
    mysql_schema.execute(
        "CREATE TRIGGER keep BEFORE UPDATE ON everything FOR EACH ROW SET NEW.vc = OLD.vc"
    )
    refused = _restore(config)
    assert refused.exit_code == 2, refused.output
    assert "`bump` (BEFORE INSERT), `keep` (BEFORE UPDATE)" in refused.output
    assert "--into NEW_TABLE" in refused.output
    assert mysql_schema.execute("SELECT COUNT(*) FROM everything") == [(0,)]

    copied = _restore(config, "--into", "copy")
    assert copied.exit_code == 0, copied.output
    assert [r[0] for r in mysql_schema.execute("SELECT vc FROM copy ORDER BY id")] == STRINGS


def test_restore_into_another_schemas_table_is_refused(
    mysql_schema: MySqlSchema, tmp_path: Path
) -> None:
    """``--into other_schema.copy`` made a table of that very name in the table's own schema (an
    outside trial), whether or not the other schema existed, quoted or not: a new target whose
    name holds a dot is refused (exit 2, nothing made); an existing table of such a name is
    restored into."""
    config = _archived(mysql_schema, tmp_path, "csv")
    for target in (
        "mysql.copy",
        "no_such_schema_here.copy",
        "`mysql`.copy",
        f"{mysql_schema.name}.c",
    ):
        refused = _restore(config, "--into", target)
        assert refused.exit_code == 2, (target, refused.output)
        assert "--into takes a table name there, without a schema" in refused.output
    assert _tables(mysql_schema) == ["everything"]
    mysql_schema.execute("CREATE TABLE `dotted.copy` LIKE everything")
    dotted = _restore(config, "--into", "dotted.copy")
    assert dotted.exit_code == 0, dotted.output
    assert mysql_schema.execute("SELECT COUNT(*) FROM `dotted.copy`") == [(len(STRINGS),)]


def test_a_restore_into_the_table_waits_for_no_run_it_takes_the_run_lock(
    mysql_schema: MySqlSchema, tmp_path: Path
) -> None:
    """A restore into the table took no run lock: run beside an erasure of the same day, it
    brought the erased rows back, and the next run archived them again (an outside trial). It
    takes the table's run lock: with another run holding it, exit 8 and nothing written; into a
    new table it needs none."""
    from dbarchive.sources.lock import lock_name

    config = _archived(mysql_schema, tmp_path, "csv")
    mysql_schema.execute("DELETE FROM everything")
    name = lock_name(mysql_schema.name, "everything")
    assert mysql_schema.execute("SELECT GET_LOCK(%s, 0)", (name,)) == [(1,)]
    try:
        busy = _restore(config)
        assert busy.exit_code == 8, busy.output
        assert mysql_schema.execute("SELECT COUNT(*) FROM everything") == [(0,)]
        assert _restore(config, "--into", "copy").exit_code == 0
    finally:
        mysql_schema.execute("SELECT RELEASE_LOCK(%s)", (name,))
    assert _restore(config).exit_code == 0
    assert mysql_schema.execute("SELECT COUNT(*) FROM everything") == [(len(STRINGS),)]


def test_restore_of_a_missing_day_is_a_clear_error(
    mysql_schema: MySqlSchema, tmp_path: Path
) -> None:
    """A day that was never archived: exit 5 and 'not archived'."""
    config = _archived(mysql_schema, tmp_path, "csv")
    result = CliRunner().invoke(
        cli, ["restore", "-c", str(config), "-t", "everything", "--date", "2020-01-01"]
    )
    assert result.exit_code == 5 and "not archived" in result.output


def test_restore_says_how_many_older_versions_the_archive_holds(
    mysql_schema: MySqlSchema, tmp_path: Path
) -> None:
    """A key used again after its day was purged: the archive holds both versions, the restore
    writes the newest and says it left one older version (it was counted as 'already there',
    found by an outside trial)."""
    import datetime as dt

    from dbarchive import api
    from tests.integration.helpers import LOG_TABLE_DDL, fill_events

    mysql_schema.execute(LOG_TABLE_DDL)
    day, today = dt.date(2026, 9, 1), dt.date(2026, 11, 25)
    fill_events(mysql_schema, day.isoformat(), 20)
    job = make_job(mysql_schema.url, str(tmp_path / "arch"),
                   [{"name": "events", "timestamp_column": "created_at"}], retention="60 days")  # fmt: skip
    (first,) = api.purge(job, today=today)
    assert first.rows_deleted == 20
    mysql_schema.execute(  # the archived row 1 comes again, changed
        "INSERT INTO events (id, created_at, account_id, note) VALUES (1, %s, 5, 'again')",
        (f"{day} 00:30:00",),
    )
    (second,) = api.purge(job, today=today)
    assert second.rows_deleted == 1, second.errors
    with api.session(job) as ctx:
        result = api.restore(ctx, "events", day, into="events_back")
    assert result.ok, result.problems
    assert (result.written, result.skipped, result.older_versions) == (20, 0, 1)
    assert mysql_schema.execute("SELECT note FROM events_back WHERE id = 1") == [("again",)]
    # status counts rows, not versions (it said 21 archived rows: an outside trial)
    assert api.status(job, "events", today=today).archived_rows == 20


ONE_DAY = dt.date(2026, 8, 2)


def _archive_table(schema: MySqlSchema, tmp_path: Path, table: str) -> list[str]:
    """``table``'s ONE_DAY archived to a local folder; the restore command of that day."""
    job = make_job(schema.url, str(tmp_path / "arch"), [{"name": table, "timestamp_column": "created_at"}])  # fmt: skip
    ctx = build_context(job)
    export_day(ctx, job.tables[0], ONE_DAY)
    ctx.source.close()
    config = tmp_path / "job.toml"
    config.write_text(
        f'[source]\nurl = "{schema.url}"\n[destination]\nurl = "{tmp_path / "arch"}"\n'
        f'[[tables]]\nname = "{table}"\ntimestamp_column = "created_at"\n'
    )
    return ["restore", "-c", str(config), "-t", table, "--date", ONE_DAY.isoformat()]


@pytest.mark.parametrize("replace", [False, True])
def test_a_row_colliding_on_another_unique_key_is_left_as_it_is(
    mysql_schema: MySqlSchema, tmp_path: Path, replace: bool
) -> None:
    """A UNIQUE key added since the day was archived, and a live row (another id) holding an
    archived row's value: `--replace` overwrote that live row with the archived one's columns —
    its own data gone, the archived row never written (an outside trial). Only a row with the
    archive's key is overwritten now: the live row stays as it is, the archived one is not
    written, and the restore says it is NOT verified, naming the other unique index."""
    mysql_schema.execute(
        "CREATE TABLE ev (id INT PRIMARY KEY, created_at DATETIME NOT NULL, v VARCHAR(20), "
        "KEY (created_at))"
    )
    mysql_schema.execute(
        "INSERT INTO ev SELECT seq, '2026-08-02' + INTERVAL seq MINUTE, CONCAT('w', seq) "
        "FROM seq_1_to_20"
    )
    args = _archive_table(mysql_schema, tmp_path, "ev")
    mysql_schema.execute("DELETE FROM ev")
    mysql_schema.execute("ALTER TABLE ev ADD UNIQUE KEY uv (v)")
    mysql_schema.execute("INSERT INTO ev VALUES (999, '2026-11-30 00:00:00', 'w5')")
    result = CliRunner().invoke(cli, [*args, *(["--replace"] if replace else [])])
    assert result.exit_code == 5, result.output
    assert "another unique index" in result.output
    assert mysql_schema.execute("SELECT id, created_at, v FROM ev WHERE id = 999") == [
        (999, dt.datetime(2026, 11, 30), "w5")
    ]
    assert mysql_schema.execute("SELECT COUNT(*) FROM ev WHERE id <> 999")[0][0] == 19


def test_restore_into_another_archived_table_is_refused(
    mysql_schema: MySqlSchema, tmp_path: Path
) -> None:
    """`restore -t everything --into other`, where `other` is a table the job archives too: its
    next run would archive the rows as its own, erased ones included (an outside trial wrote
    one table's day into another's). Refused, exit 2, nothing written."""
    config = _archived(mysql_schema, tmp_path, "csv")
    mysql_schema.execute("CREATE TABLE other LIKE everything")
    config.write_text(config.read_text() + '[[tables]]\nname = "other"\ntimestamp_column = "ts"\n')
    result = _restore(config, "--into", "other")
    assert result.exit_code == 2, result.output
    assert "'other' is another table this job archives" in result.output
    assert mysql_schema.execute("SELECT COUNT(*) FROM other")[0][0] == 0


def test_restore_into_a_table_that_lost_a_column_says_so(
    mysql_schema: MySqlSchema, tmp_path: Path
) -> None:
    """A column dropped since the day was archived: the refusal named include/exclude_columns,
    which nobody had set, and gave no way out (an outside trial). It names the column the
    table lacks and --into; a new table takes the day."""
    config = _archived(mysql_schema, tmp_path, "csv")
    mysql_schema.execute("DELETE FROM everything")
    mysql_schema.execute("ALTER TABLE everything DROP COLUMN vc")
    result = _restore(config)
    assert result.exit_code == 2, result.output
    assert "it has no column 'vc', which the archive holds" in result.output
    assert "--into" in result.output and "include/exclude" not in result.output
    assert mysql_schema.execute("SELECT COUNT(*) FROM everything")[0][0] == 0
    assert _restore(config, "--into", "copy").exit_code == 0


def test_replace_leaves_a_row_whose_key_only_equals_the_archives_under_its_collation(
    mysql_schema: MySqlSchema, tmp_path: Path
) -> None:
    """Archived 'abc', live 'ABC' (one key under utf8mb4_unicode_ci): --replace wrote the
    archive's columns under the live key — a row that was neither version (an outside
    re-test). The live row stays as it is; the restore is not verified."""
    mysql_schema.execute(
        "CREATE TABLE ci (code VARCHAR(10) COLLATE utf8mb4_unicode_ci PRIMARY KEY, "
        "created_at DATETIME NOT NULL, v VARCHAR(20), KEY (created_at))"
    )
    mysql_schema.execute(
        "INSERT INTO ci VALUES ('abc', '2026-08-02 01:00:00', 'arch1'), "
        "('def', '2026-08-02 02:00:00', 'arch2')"
    )
    args = _archive_table(mysql_schema, tmp_path, "ci")
    mysql_schema.execute(
        "UPDATE ci SET code = 'ABC', v = 'live', created_at = '2026-11-30' WHERE code = 'abc'"
    )
    mysql_schema.execute("DELETE FROM ci WHERE code = 'def'")
    result = CliRunner().invoke(cli, [*args, "--replace"])
    assert result.exit_code == 5, result.output
    assert mysql_schema.execute("SELECT code, v, created_at FROM ci ORDER BY code") == [
        ("ABC", "live", dt.datetime(2026, 11, 30)),
        ("def", "arch2", dt.datetime(2026, 8, 2, 2)),
    ]
