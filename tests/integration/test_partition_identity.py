"""Two tables never share a partition (issue 16, item 1), against the real MariaDB and storage.

Folders are escaped names (``ev ents`` → ``ev%20ents/``), and an archive left in the folder an
earlier version gave its table is kept there, by the table's ``path``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import shutil
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import dbarchive
from dbarchive import build_context, export_day
from dbarchive.build import build_throttle
from dbarchive.cli import cli
from dbarchive.config import load_job
from dbarchive.errors import VerificationError
from dbarchive.manifest import Manifest, SourceRecord
from dbarchive.pipeline import export_day_as_configured
from dbarchive.steps.purge import purge_day
from dbarchive.steps.upload import read_manifest
from tests.integration.helpers import make_job
from tests.integration.mysql_fixtures import MySqlSchema, mysql_schema  # noqa: F401

DAY = dt.date(2026, 10, 6)


def _create(schema: MySqlSchema, table: str, rows: int, day: dt.date = DAY, note: str = "") -> None:
    """A log table named ``table`` (any characters) holding ``rows`` rows on ``day``."""
    quoted = "`" + table.replace("`", "``") + "`"
    schema.execute(
        f"CREATE TABLE IF NOT EXISTS {quoted} (id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, "
        "created_at DATETIME(6) NOT NULL, note VARCHAR(64) NULL, KEY (created_at)) "
        "DEFAULT CHARSET=utf8mb4"
    )
    schema.execute(
        f"INSERT INTO {quoted} (created_at, note) SELECT TIMESTAMP(%s) + INTERVAL seq * 600 "
        f"SECOND, CONCAT(%s, seq) FROM seq_1_to_{int(rows)}",
        (day.isoformat(), note or table),
    )


def _spec(name: str, **settings: Any) -> dict[str, Any]:
    return {"name": name, "timestamp_column": "created_at", **settings}


def _config(tmp_path: Path, schema: MySqlSchema, dest: Path, *tables: str) -> Path:
    """A config file with ``tables`` (each a ready TOML body of one [[tables]] entry)."""
    path = tmp_path / "archive.toml"
    body = "".join(f"[[tables]]\n{t}\n" for t in tables)
    path.write_text(f'[source]\nurl = "{schema.url}"\n[destination]\nurl = "{dest}"\n{body}')
    return path


def _tree(root: Path) -> dict[str, str]:
    """Every file under ``root`` with the SHA-256 of its bytes: to see that nothing changed."""
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_an_archive_in_the_old_folder_is_refused_until_path_keeps_it_there(
    mysql_schema: MySqlSchema, tmp_path: Path
) -> None:
    """'ev ents' archived where earlier versions put it (ev_ents/): the new version refuses
    (exit 2, the fix named, nothing written); with path = "ev_ents" it verifies in place."""
    _create(mysql_schema, "ev ents", 20)
    dest = tmp_path / "arch"
    earlier = make_job(mysql_schema.url, str(dest), [_spec("ev ents", path="ev_ents")])
    ctx = build_context(earlier)
    export_day(ctx, earlier.tables[0], DAY)  # the very files an earlier version wrote
    ctx.source.close()
    before = _tree(dest)
    assert {k.split("/")[0] for k in before} == {"ev_ents"}

    plain = _config(
        tmp_path, mysql_schema, dest, 'name = "ev ents"\ntimestamp_column = "created_at"'
    )
    for command in ("export", "verify"):
        result = CliRunner().invoke(cli, [command, "-c", str(plain), "--date", str(DAY)])
        assert result.exit_code == 2, result.output
        assert 'add path = "ev_ents"' in result.output
        assert _tree(dest) == before

    kept = _config(
        tmp_path, mysql_schema, dest,
        'name = "ev ents"\ntimestamp_column = "created_at"\npath = "ev_ents"',
    )  # fmt: skip
    result = CliRunner().invoke(cli, ["verify", "-c", str(kept), "--date", str(DAY)])
    assert result.exit_code == 0, result.output
    assert _tree(dest) == before


def _server(schema: MySqlSchema) -> dict[str, str]:
    """The test server's identity as MariaDB has it (no server_uuid on MariaDB)."""
    rows = schema.execute("SELECT @@server_id, @@hostname")
    return {"server_id": str(rows[0][0]), "hostname": rows[0][1]}


def test_every_manifest_records_the_source(mysql_schema: MySqlSchema, tmp_path: Path) -> None:
    """Schema, table, the configured source id and the server: whole day and work units alike,
    and the folder's claim (``steps/folder_claim.py``)."""
    _create(mysql_schema, "ev ents", 30)
    _create(mysql_schema, "ranged", 3000, note="r")
    tables = [_spec("ev ents"), _spec("ranged", range_rows=1000)]
    job = make_job(mysql_schema.url, str(tmp_path), tables)
    job = job.model_copy(update={"source": job.source.model_copy(update={"id": "payments-prod"})})  # type: ignore[union-attr]
    ctx = build_context(job)
    for spec in job.tables:
        export_day_as_configured(ctx, spec, DAY)
        manifest = read_manifest(ctx.storage, ctx.partition(spec, DAY))
        assert manifest is not None and manifest.rows > 0
        assert (manifest.schema, manifest.table) == (mysql_schema.name, spec.name)
        assert manifest.source == SourceRecord("payments-prod", _server(mysql_schema))
        claim = json.loads((tmp_path / ctx.folder(spec) / "_dbarchive_table.json").read_text())
        assert (claim["table"], claim["source_id"]) == (spec.name, "payments-prod")
    ctx.source.close()
    assert "units" in (manifest.extra or {})  # the second one was exported in work units


BACKLOG = "events/_backlog.json"  # the purge's record of rows past retention (jobs/backlog.py)
TODAY = DAY + dt.timedelta(days=80)  # DAY is past the 60-day retention: purge wants it


@pytest.fixture(autouse=True)
def _clock_on_today(monkeypatch: pytest.MonkeyPatch) -> None:
    """The clock on TODAY's morning (``--today`` may not be later than the clock's today)."""
    monkeypatch.setenv("DBARCHIVE_NOW", f"{TODAY}T06:00:00+00:00")


_EVENTS = 'name = "events"\ntimestamp_column = "created_at"\nretention = "60 days"'


def _archived_events(schema: MySqlSchema, tmp_path: Path) -> tuple[Path, Path]:
    """'events' with 20 rows on DAY, archived by the CLI with [source] id = "payments-prod";
    returns the config and the archive folder."""
    _create(schema, "events", 20)
    dest = tmp_path / "arch"
    config = tmp_path / "archive.toml"
    config.write_text(
        f'[source]\nurl = "{schema.url}"\nid = "payments-prod"\n[destination]\nurl = "{dest}"\n'
        f"[[tables]]\n{_EVENTS}\n"
    )
    result = CliRunner().invoke(cli, ["export", "-c", str(config), "--date", str(DAY)])
    assert result.exit_code == 0, result.output
    return config, dest


def _rewrite_manifest(dest: Path, change: Callable[[dict[str, Any]], None]) -> Path:
    """Edit the archived day's manifest as another writer would have written it."""
    path = dest / "events" / "year=2026" / "month=10" / "day=06" / "_manifest.json"
    data = json.loads(path.read_bytes())
    change(data)
    path.write_text(json.dumps(data, indent=2))
    return path


def _rows(schema: MySqlSchema) -> list[tuple[Any, ...]]:
    return schema.execute("SELECT * FROM events ORDER BY id")


_FOREIGN: dict[str, Callable[[dict[str, Any]], None]] = {
    "table": lambda m: m.update(table="ev_ents"),
    "schema": lambda m: m.update(schema="payments_archive"),
    "source id": lambda m: m["source"].update(id="payments-staging"),
}
_COMMANDS = [
    (["export", "--date", str(DAY)], 5),
    (["verify", "--date", str(DAY)], 5),
    (["restore", "-t", "events", "--date", str(DAY), "--into", "restored"], 5),
    (["purge", "--today", str(TODAY)], 5),  # the run reports the table's error, same cause
]


@pytest.mark.parametrize("kind", list(_FOREIGN))
def test_a_partition_of_another_table_or_source_is_refused_by_every_step(
    mysql_schema: MySqlSchema, tmp_path: Path, kind: str
) -> None:
    """A manifest naming another table, schema or source id: export, verify, restore and purge
    each refuse, naming theirs and ours, and neither the archive nor the database changes."""
    config, dest = _archived_events(mysql_schema, tmp_path)
    _rewrite_manifest(dest, _FOREIGN[kind])
    archive, rows = _tree(dest), _rows(mysql_schema)
    for command, exit_code in _COMMANDS:
        result = CliRunner().invoke(cli, [command[0], "-c", str(config), *command[1:]])
        assert result.exit_code == exit_code, (command, result.output)
        assert (
            "events/year=2026/month=10/day=06/_manifest.json holds the archive of" in result.output
        )
        assert f"not of `{mysql_schema.name}`.`events` (source id 'payments-prod')" in result.output
        assert "nothing was changed" in result.output
        # The purge goes on past a day that fails, and records the table's backlog (its run
        # record, next to the days): every archived file and record is as it was.
        assert {k: v for k, v in _tree(dest).items() if k != BACKLOG} == archive, command
        assert _rows(mysql_schema) == rows, command
    assert ("restored",) not in mysql_schema.execute("SHOW TABLES")


def test_the_purge_of_a_day_refuses_another_sources_manifest_itself(
    mysql_schema: MySqlSchema, tmp_path: Path
) -> None:
    """purge_day checks the manifest it is handed, before its record or any DELETE."""
    config, dest = _archived_events(mysql_schema, tmp_path)
    path = _rewrite_manifest(dest, _FOREIGN["source id"])
    archive, rows = _tree(dest), _rows(mysql_schema)
    ctx = build_context(load_job(config))
    spec = ctx.job.tables[0]
    with pytest.raises(VerificationError, match="source id 'payments-staging'"):
        purge_day(ctx, spec, Manifest.loads(path.read_bytes()), build_throttle(ctx))
    ctx.source.close()
    assert _tree(dest) == archive
    assert _rows(mysql_schema) == rows


def test_another_server_only_warns(
    mysql_schema: MySqlSchema, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The same table and source id read from another server (a failover, a replica): export,
    verify, restore and purge carry on, each warning that the server differs."""
    config, dest = _archived_events(mysql_schema, tmp_path)
    server = _server(mysql_schema)

    def elsewhere(manifest: dict[str, Any]) -> None:
        manifest["source"]["server"] = {"server_id": "4242", "hostname": "old-primary"}

    caplog.set_level(logging.WARNING, logger="dbarchive")
    expected = (
        "was archived from another server (hostname old-primary, server_id 4242) than this run "
        f"reads (hostname {server['hostname']}, server_id {server['server_id']})"
    )
    _rewrite_manifest(dest, elsewhere)
    steps = [["export", "--date", str(DAY)], ["verify", "--date", str(DAY)],
             ["restore", "-t", "events", "--date", str(DAY), "--into", "restored"],
             ["purge", "--today", str(TODAY)]]  # fmt: skip
    for step in steps:
        if step[0] == "verify":  # the export rewrote the manifest with this server
            _rewrite_manifest(dest, elsewhere)
        caplog.clear()
        result = CliRunner().invoke(cli, [step[0], "-c", str(config), *step[1:]])
        assert result.exit_code == 0, (step, result.output)
        warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert any(expected in w for w in warnings), (step, warnings)
    assert _rows(mysql_schema) == []  # purged
    assert len(mysql_schema.execute("SELECT * FROM restored")) == 20  # restored


def test_a_day_exported_in_units_refuses_another_tables_partition(
    mysql_schema: MySqlSchema, tmp_path: Path
) -> None:
    """Work units (range_rows) check the published manifest when the day is planned, before
    any unit deletes it."""
    config, dest = _archived_events(mysql_schema, tmp_path)
    config.write_text(config.read_text() + "range_rows = 1000\n")
    _rewrite_manifest(dest, _FOREIGN["table"])
    archive = _tree(dest)
    result = CliRunner().invoke(cli, ["export", "-c", str(config), "--date", str(DAY)])
    assert result.exit_code == 5, result.output
    assert "holds the archive of `" in result.output and ".`ev_ents`" in result.output
    assert _tree(dest) == archive


def _table_rows(schema: MySqlSchema, table: str, database: str | None = None) -> list[Any]:
    quoted = "`" + table + "`" if database is None else f"`{database}`.`{table}`"
    return schema.execute(f"SELECT id, created_at, note FROM {quoted} ORDER BY id")


def _cli(config: Path, *args: str) -> Any:
    result = CliRunner().invoke(cli, [args[0], "-c", str(config), *args[1:]])
    assert result.exit_code == 0, (args, result.output)
    return result


def test_the_issue_sequence_loses_nothing(mysql_schema: MySqlSchema, tmp_path: Path) -> None:
    """'ev ents' and 'ev_ents' in one config: archive and purge 'ev ents', export 'ev_ents' for
    the same day, restore 'ev ents' — its own rows come back, each table in its own folder."""
    _create(mysql_schema, "ev ents", 20, note="space")
    _create(mysql_schema, "ev_ents", 30, note="underscore")
    spaced, underscored = (_table_rows(mysql_schema, t) for t in ("ev ents", "ev_ents"))
    dest = tmp_path / "arch"
    config = _config(
        tmp_path, mysql_schema, dest,
        'name = "ev ents"\ntimestamp_column = "created_at"\nretention = "60 days"',
        'name = "ev_ents"\ntimestamp_column = "created_at"\nretention = "60 days"',
    )  # fmt: skip
    plan = json.loads(_cli(config, "plan", "--date", str(DAY), "--json").stdout)
    assert sorted(p["prefix"].split("/")[0] for p in plan) == ["ev%20ents", "ev_ents"], plan

    _cli(config, "export", "-t", "ev ents", "--date", str(DAY))
    _cli(config, "purge", "-t", "ev ents", "--today", str(TODAY))
    assert _table_rows(mysql_schema, "ev ents") == []
    _cli(config, "export", "-t", "ev_ents", "--date", str(DAY))
    _cli(config, "restore", "-t", "ev ents", "--date", str(DAY))

    assert _table_rows(mysql_schema, "ev ents") == spaced
    assert _table_rows(mysql_schema, "ev_ents") == underscored
    manifests = {p.relative_to(dest).parts[0]: p for p in dest.rglob("_manifest.json")}
    assert sorted(manifests) == ["ev%20ents", "ev_ents"]
    assert json.loads(manifests["ev%20ents"].read_bytes())["rows"] == 20
    assert json.loads(manifests["ev_ents"].read_bytes())["rows"] == 30


@pytest.fixture
def second_schema(mysql_schema: MySqlSchema) -> Iterator[str]:
    """Another database on the same server (dropped afterwards), named after the test's."""
    name = f"{mysql_schema.name}_b"
    mysql_schema.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
    try:
        yield name
    finally:
        mysql_schema.execute(f"DROP DATABASE IF EXISTS `{name}`")


def test_one_table_name_in_two_schemas_keeps_two_archives(
    mysql_schema: MySqlSchema, second_schema: str, tmp_path: Path
) -> None:
    """'events' in the default schema and in another: purged and restored, each gets its own
    rows back from its own folder (<schema>@events for the other one)."""
    _create(mysql_schema, "events", 20, note="default")
    mysql_schema.execute(f"CREATE TABLE `{second_schema}`.events LIKE events")
    mysql_schema.execute(
        f"INSERT INTO `{second_schema}`.events (created_at, note) SELECT TIMESTAMP(%s) + "
        "INTERVAL seq * 300 SECOND, CONCAT('other', seq) FROM seq_1_to_35",
        (DAY.isoformat(),),
    )
    default, other = (
        _table_rows(mysql_schema, "events"),
        _table_rows(mysql_schema, "events", second_schema),
    )
    dest = tmp_path / "arch"
    config = _config(
        tmp_path, mysql_schema, dest, _EVENTS, f'{_EVENTS}\nschema = "{second_schema}"'
    )
    _cli(config, "purge", "--today", str(TODAY))  # exports, verifies and purges both
    assert _table_rows(mysql_schema, "events") == []
    assert _table_rows(mysql_schema, "events", second_schema) == []
    for name in (mysql_schema.name, second_schema):
        _cli(config, "restore", "-t", f"{name}.events", "--date", str(DAY))
    assert _table_rows(mysql_schema, "events") == default
    assert _table_rows(mysql_schema, "events", second_schema) == other
    folders = sorted(p.relative_to(dest).parts[0] for p in dest.rglob("_manifest.json"))
    assert folders == sorted(["events", f"{second_schema}@events"])


def test_a_foreign_day_is_left_whole_while_the_tables_next_day_is_purged(
    mysql_schema: MySqlSchema, tmp_path: Path
) -> None:
    """The purge goes on past a day that fails its verification: the day whose manifest names
    another source keeps its rows and its archive (exit 5, the day named), and the next expired
    day, archived by us, is verified and purged."""
    config, dest = _archived_events(mysql_schema, tmp_path)
    after = DAY + dt.timedelta(days=1)
    _create(mysql_schema, "events", 15, day=after, note="next")
    _cli(config, "export", "--date", str(after))
    _rewrite_manifest(dest, _FOREIGN["source id"])
    foreign_files = {k: v for k, v in _tree(dest).items() if "/day=06/" in k}
    foreign_rows = [r for r in _rows(mysql_schema) if r[1].date() == DAY]
    assert len(foreign_rows) == 20

    result = CliRunner().invoke(cli, ["purge", "-c", str(config), "--today", str(TODAY)])
    assert result.exit_code == 5, result.output
    assert "source id 'payments-staging'" in result.output
    assert "day=06/_manifest.json holds the archive of" in result.output
    assert _rows(mysql_schema) == foreign_rows  # the next day's 15 rows purged, DAY's kept
    assert {k: v for k, v in _tree(dest).items() if "/day=06/" in k} == foreign_files


def test_a_new_day_among_another_tables_days_is_refused(
    mysql_schema: MySqlSchema, second_schema: str, tmp_path: Path
) -> None:
    """A second config archives `other`.events into the folder where the first one archives
    events: the day events archived is refused, and so is the next day, which events has not
    archived: it was published among events' days, and status counted those as its own (an
    outside trial). Nothing of it is written. The folder has no claim (archived by a version
    before claims): its first day's manifest says whose it is."""
    _create(mysql_schema, "events", 20, note="default")
    dest = tmp_path / "arch"
    first = make_job(mysql_schema.url, str(dest), [_spec("events")])
    ctx = build_context(first)
    export_day(ctx, first.tables[0], DAY)
    ctx.source.close()
    (dest / "events" / "_dbarchive_table.json").unlink()
    url = _second_events(mysql_schema, second_schema, DAY + dt.timedelta(days=1))
    second = make_job(url, str(dest), [_spec("events")])
    before = _tree(dest)
    ctx = build_context(second)
    with pytest.raises(VerificationError, match=r"holds the archive of .*Two tables share"):
        export_day(ctx, second.tables[0], DAY)
    with pytest.raises(VerificationError, match=r"^table 'events': .*day=06/_manifest.json holds"):
        export_day(ctx, second.tables[0], DAY + dt.timedelta(days=1))
    ctx.source.close()
    assert _tree(dest) == before


def test_a_day_far_from_another_tables_days_is_refused_by_the_folders_claim(
    mysql_schema: MySqlSchema, second_schema: str, tmp_path: Path
) -> None:
    """The first export into a folder claims it for its table (``_dbarchive_table.json``): a
    second config's day ten days away from every day of events' — no neighbour to read — is
    refused before anything is written (the days either side alone let it publish there: an
    outside trial), and its status, which counted events' days as its own. events' own new days
    go on."""
    _create(mysql_schema, "events", 20, note="default")
    _create(mysql_schema, "events", 20, day=DAY + dt.timedelta(days=20), note="later")
    dest = tmp_path / "arch"
    first = make_job(mysql_schema.url, str(dest), [_spec("events")])
    ctx = build_context(first)
    export_day(ctx, first.tables[0], DAY)
    claim = json.loads((dest / "events" / "_dbarchive_table.json").read_text())
    assert (claim["schema"], claim["table"], claim["source_id"]) == (
        mysql_schema.name, "events", None,
    )  # fmt: skip
    far = DAY + dt.timedelta(days=10)
    url = _second_events(mysql_schema, second_schema, far)
    second = make_job(url, str(dest), [_spec("events")])
    before = _tree(dest)
    other = build_context(second)
    with pytest.raises(VerificationError, match=r"_dbarchive_table.json claims this folder"):
        export_day(other, second.tables[0], far)
    with pytest.raises(VerificationError, match=r"^table 'events': .* claims this folder"):
        dbarchive.status(other, "events")  # events' days are not its to count
    other.source.close()
    config = tmp_path / "second.toml"
    config.write_text(
        f'[source]\nurl = "{url}"\n'
        f'[destination]\nurl = "{dest}"\n[[tables]]\nname = "events"\n'
        'timestamp_column = "created_at"\n'
    )
    for command in ("run", "purge", "status", "plan"):  # run and purge wrote its backlog there
        result = CliRunner().invoke(cli, [command, "-c", str(config)])
        assert result.exit_code == 5, (command, result.output)
        assert "claims this folder for the archive of" in result.output
    assert _tree(dest) == before
    export_day(ctx, first.tables[0], DAY + dt.timedelta(days=20))  # the owner's next new day
    ctx.source.close()
    assert (dest / "events" / "year=2026" / "month=10" / "day=26" / "_manifest.json").exists()


def test_a_folders_claim_follows_its_tables_rename_and_a_source_id_set_later(
    mysql_schema: MySqlSchema, tmp_path: Path
) -> None:
    """A claim is read as a manifest's identity is: the table renamed (``formerly``, its old
    folder kept by ``path``) and a ``[source] id`` set later archive new days there; a claim
    another writer created first (the race's loser) is checked, not overwritten."""
    _create(mysql_schema, "old_events", 10)
    dest = tmp_path / "arch"
    job = make_job(mysql_schema.url, str(dest), [_spec("old_events")])
    ctx = build_context(job)
    export_day(ctx, job.tables[0], DAY)
    ctx.source.close()
    claim_path = dest / "old_events" / "_dbarchive_table.json"
    claimed = claim_path.read_bytes()
    mysql_schema.execute("RENAME TABLE old_events TO events")
    _create(mysql_schema, "events", 10, day=DAY + dt.timedelta(days=3))
    renamed = make_job(
        mysql_schema.url,
        str(dest),
        [_spec("events", path="old_events", formerly=["old_events"])],
    )
    renamed = renamed.model_copy(
        update={"source": renamed.source.model_copy(update={"id": "payments"})}  # type: ignore[union-attr]
    )
    ctx = build_context(renamed)
    export_day(ctx, renamed.tables[0], DAY + dt.timedelta(days=3))
    assert claim_path.read_bytes() == claimed  # created once, never replaced

    from dbarchive.steps.folder_claim import claim_folder

    partition = ctx.partition(renamed.tables[0], DAY + dt.timedelta(days=5))
    claim_folder(ctx.storage, partition, ctx.identity(renamed.tables[0]))  # found: ours
    stranger = replace(ctx.identity(renamed.tables[0]), table="stranger", formerly=())
    with pytest.raises(VerificationError, match=r"claims this folder .*not of `.*`\.`stranger`"):
        claim_folder(ctx.storage, partition, stranger)
    ctx.source.close()
    assert claim_path.read_bytes() == claimed


def _second_events(mysql_schema: MySqlSchema, second_schema: str, day: dt.date) -> str:
    """`second_schema`.events with five rows on ``day``; the source URL of its schema."""
    mysql_schema.execute(f"CREATE TABLE `{second_schema}`.events LIKE events")
    mysql_schema.execute(
        f"INSERT INTO `{second_schema}`.events (created_at, note) SELECT TIMESTAMP(%s) + "
        "INTERVAL seq * 300 SECOND, 'other' FROM seq_1_to_5",
        (day.isoformat(),),
    )
    return mysql_schema.url.rsplit("/", 1)[0] + f"/{second_schema}"


def test_an_unclaimed_folder_is_its_first_days_tables_and_the_days_either_side_still_count(
    mysql_schema: MySqlSchema, second_schema: str, tmp_path: Path
) -> None:
    """A folder archived before claims: another table's day far away does not claim it (the
    first day's manifest is events'; it claimed it and then locked events out: an outside
    trial); events' next day does. In a folder two tables shared before claims, a new day next
    to the other table's is still refused, claim or not (the outside trial's regression)."""
    _create(mysql_schema, "events", 20, note="default")
    _create(mysql_schema, "events", 20, day=DAY + dt.timedelta(days=1), note="next")
    dest = tmp_path / "arch"
    first = make_job(mysql_schema.url, str(dest), [_spec("events")])
    ctx = build_context(first)
    export_day(ctx, first.tables[0], DAY)
    ctx.source.close()
    (dest / "events" / "_dbarchive_table.json").unlink()  # as an earlier version left it
    far = DAY + dt.timedelta(days=20)
    url = _second_events(mysql_schema, second_schema, far)
    second = make_job(url, str(dest), [_spec("events")])
    other = build_context(second)
    with pytest.raises(VerificationError, match=r"^table 'events': .*day=06/_manifest.json holds"):
        export_day(other, second.tables[0], far)
    other.source.close()
    assert not (dest / "events" / "_dbarchive_table.json").exists()
    ctx = build_context(first)
    export_day(ctx, first.tables[0], DAY + dt.timedelta(days=1))  # events' next day claims it
    ctx.source.close()
    claim = json.loads((dest / "events" / "_dbarchive_table.json").read_text())
    assert (claim["schema"], claim["table"]) == (mysql_schema.name, "events")

    # the other table's day, archived elsewhere, moved in as a folder two tables shared
    elsewhere = make_job(url, str(tmp_path / "elsewhere"), [_spec("events")])
    other = build_context(elsewhere)
    export_day(other, elsewhere.tables[0], far)
    other.source.close()
    day_dir = "events/year=2026/month=10/day=26"
    (dest / day_dir).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / "elsewhere" / day_dir).rename(dest / day_dir)
    _create(mysql_schema, "events", 5, day=far - dt.timedelta(days=1), note="beside")
    before = _tree(dest)
    ctx = build_context(first)
    with pytest.raises(VerificationError, match=r"was not archived: the day next to it"):
        export_day(ctx, first.tables[0], far - dt.timedelta(days=1))
    ctx.source.close()
    assert _tree(dest) == before


def test_a_path_inside_another_tables_claimed_folder_is_refused(
    mysql_schema: MySqlSchema, second_schema: str, tmp_path: Path
) -> None:
    """`path = "events/sub"` of another config nests its days inside events' claimed folder,
    which a reader of events/ (a glob, Spark) would take as events' rows: refused, nothing
    written (an outside trial)."""
    _create(mysql_schema, "events", 20)
    dest = tmp_path / "arch"
    first = make_job(mysql_schema.url, str(dest), [_spec("events")])
    ctx = build_context(first)
    export_day(ctx, first.tables[0], DAY)
    ctx.source.close()
    url = _second_events(mysql_schema, second_schema, DAY)
    nested = make_job(url, str(dest), [_spec("events", path="events/sub")])
    before = _tree(dest)
    other = build_context(nested)
    with pytest.raises(VerificationError, match=r"is inside 'events/', which .* claims"):
        export_day(other, nested.tables[0], DAY)
    other.source.close()
    assert _tree(dest) == before


def test_a_folder_above_another_tables_claimed_folder_is_not_claimed(
    mysql_schema: MySqlSchema, second_schema: str, tmp_path: Path
) -> None:
    """`path = "p/child"` claimed first, then another config's `path = "p"`: the folder above
    it would take the child's rows for a reader of p/, and its claim locked the child's owner
    out (a re-test): refused before anything is written, the child's days go on."""
    _create(mysql_schema, "events", 20)
    _create(mysql_schema, "events", 5, day=DAY + dt.timedelta(days=1), note="next")
    dest = tmp_path / "arch"
    child = make_job(mysql_schema.url, str(dest), [_spec("events", path="p/child")])
    ctx = build_context(child)
    export_day(ctx, child.tables[0], DAY)
    ctx.source.close()
    url = _second_events(mysql_schema, second_schema, DAY)
    parent = make_job(url, str(dest), [_spec("events", path="p")])
    before = _tree(dest)
    other = build_context(parent)
    with pytest.raises(VerificationError, match=r"p/child/_dbarchive_table.json is in a folder"):
        export_day(other, parent.tables[0], DAY)
    other.source.close()
    assert _tree(dest) == before
    ctx = build_context(child)
    export_day(ctx, child.tables[0], DAY + dt.timedelta(days=1))
    ctx.source.close()


@pytest.mark.parametrize("layout", ["hive", "plain"])
def test_a_path_inside_an_unclaimed_folder_with_days_is_refused(
    mysql_schema: MySqlSchema, second_schema: str, tmp_path: Path, layout: str
) -> None:
    """A folder archived before claims (no claim, days of events'): another config's path
    inside it is refused, and the child's days never become the folder's "first day" (plain
    days sort among its subfolders: it once disowned its own folder; a re-test)."""
    _create(mysql_schema, "events", 20)
    dest = tmp_path / "arch"
    owner = make_job(mysql_schema.url, str(dest), [_spec("events", path="pl")], layout=layout)
    ctx = build_context(owner)
    export_day(ctx, owner.tables[0], DAY)
    ctx.source.close()
    (dest / "pl" / "_dbarchive_table.json").unlink()  # as an earlier version left it
    url = _second_events(mysql_schema, second_schema, DAY)
    inner = make_job(url, str(dest), [_spec("events", path="pl/0c")], layout=layout)
    other = build_context(inner)
    with pytest.raises(VerificationError, match=r"is inside 'pl/', which holds days of"):
        export_day(other, inner.tables[0], DAY)
    other.source.close()
    # the same child's day put there by hand: still not the folder's own day
    elsewhere = make_job(
        url, str(tmp_path / "else"), [_spec("events", path="pl/0c")], layout=layout
    )
    other = build_context(elsewhere)
    export_day(other, elsewhere.tables[0], DAY)
    other.source.close()
    (tmp_path / "else" / "pl" / "0c").rename(dest / "pl" / "0c")
    (dest / "pl" / "0c" / "_dbarchive_table.json").unlink()
    for name in [p for p in (dest / "pl").iterdir() if p.name != "0c"]:
        shutil.rmtree(name) if name.is_dir() else name.unlink()  # events' own days gone
    _create(mysql_schema, "events", 5, day=DAY + dt.timedelta(days=2), note="new")
    ctx = build_context(owner)
    with pytest.raises(VerificationError, match=r"pl/0c/.*is in a folder inside 'pl/'"):
        export_day(ctx, owner.tables[0], DAY + dt.timedelta(days=2))  # not "holds the archive"
    ctx.source.close()
