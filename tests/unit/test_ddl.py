"""DDL generation: golden text per engine, schema-change notes, and the Glue --apply requests.

The golden files are the reviewed output (``DBARCHIVE_UPDATE_GOLDEN=1`` rewrites them after a
deliberate change). DuckDB and pyarrow run the same definitions against real files in
tests/integration/test_lake.py; Athena, Glue and Spark are checked here as text, and the Glue
requests against botocore's own model of the Glue API (a Stubber: no AWS endpoint is reachable
from the test machine, so nothing is actually registered).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber

from dbarchive.checksum import RowDigest
from dbarchive.config import job_from_dict
from dbarchive.ddl import ddl_text, engine_notes, read_definition
from dbarchive.ddl.athena import glue_table_input
from dbarchive.ddl.glue import apply_glue, partition_input
from dbarchive.ddl.schema import TableDefinition
from dbarchive.errors import ConfigError
from dbarchive.layout import Layout, PartitionPath
from dbarchive.manifest import ColumnEntry, ColumnStats, FileEntry, Manifest
from dbarchive.storage.local import LocalStorage

GOLDEN = Path(__file__).parent / "golden"
COLUMNS = (
    ColumnEntry("id", "bigint(20) unsigned", False),
    ColumnEntry("created_at", "datetime(6)", False),
    ColumnEntry("seen_at", "timestamp(3)", True),
    ColumnEntry("amount", "decimal(18,4)", True),
    ColumnEntry("huge", "decimal(50,10)", True),
    ColumnEntry("ratio", "float", True),
    ColumnEntry("score", "double", True),
    ColumnEntry("note", "text", True),
    ColumnEntry("payload", "varbinary(64)", True),
    ColumnEntry("flags", "bit(3)", True),
    ColumnEntry("took", "time(6)", True),
    ColumnEntry("yr", "year(4)", True),
    ColumnEntry("status", "enum('new','done')", True),
    ColumnEntry("small", "tinyint(3) unsigned", True),
)
DAYS = (dt.date(2026, 5, 1), dt.date(2026, 5, 2))


def _manifest(day: dt.date, fmt: str, columns: tuple[ColumnEntry, ...] = COLUMNS) -> Manifest:
    return Manifest(
        table="events", schema="app", day=day, timezone="UTC", window_start="", window_end="",
        query_window=("", ""), format=fmt, compression="gzip" if fmt == "csv" else "zstd",
        columns=columns, key_columns=("id",), timestamp_column="created_at", scan="key",
        files=(_FILE,), digest=RowDigest(), started_at="", finished_at="", tool_version="test",
    )  # fmt: skip


# A day with a data file (its rows do not matter here): a day without one adds no file pattern.
_FILE = FileEntry(
    key="events/part-g0001-00000", bytes=0, rows=0, sha256="", digest=RowDigest(),
    column_stats=ColumnStats(),
)  # fmt: skip


def _definition(tmp_path: Path, manifests: list[Manifest]) -> TableDefinition:
    storage = LocalStorage(str(tmp_path))
    for m in manifests:
        storage.put_bytes(PartitionPath("events", m.day).manifest_key, m.dumps())
    return read_definition(storage, "s3://acme-archive/prod", "events", Layout.HIVE)


def _golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("DBARCHIVE_UPDATE_GOLDEN") == "1":
        path.parent.mkdir(exist_ok=True)
        path.write_text(text)
    assert text == path.read_text(), f"{name} differs from its golden file"


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
@pytest.mark.parametrize(("engine", "ext"), [("athena", "sql"), ("databricks", "sql"), ("duckdb", "sql"), ("glue", "json")])  # fmt: skip
def test_ddl_matches_the_golden_text(tmp_path: Path, fmt: str, engine: str, ext: str) -> None:
    """Each engine's definition of a table with every kind of column is exactly the reviewed text."""
    defn = _definition(tmp_path, [_manifest(d, fmt) for d in DAYS])
    _golden(f"{engine}-{fmt}.{ext}", ddl_text(engine, defn, database="logs"))


def test_schema_changes_are_reported_per_day(tmp_path: Path) -> None:
    """Added, dropped and retyped columns are named with their days; the definition takes the
    newest columns and appends dropped ones, and says how each format is read."""
    old = (
        *COLUMNS[:3],
        ColumnEntry("amount", "decimal(10,2)", True),
        ColumnEntry("legacy", "int(11)", True),
    )
    defn = _definition(tmp_path, [_manifest(DAYS[0], "csv", old), _manifest(DAYS[1], "csv")])
    names = [c.name for c in defn.columns]
    assert names == [c.name for c in COLUMNS] + ["legacy"]
    assert defn.notes[0] == "partitions disagree on columns (2026-05-01 differ from 2026-05-02):"
    assert defn.notes[1].startswith("  2026-05-01: lacks huge, ratio")
    assert "has since-dropped legacy" in defn.notes[1]
    assert "retyped amount decimal(10,2) -> decimal(18,4)" in defn.notes[1]
    assert defn.notes[2].startswith("CSV is read by position by Athena and Spark")
    assert "-- partitions disagree on columns" in ddl_text("athena", defn)
    _golden("athena-schema-change.sql", ddl_text("athena", defn))


def test_a_recorded_charset_is_no_schema_change(tmp_path: Path) -> None:
    """A day archived before manifests recorded charsets and collations, next to one that has
    them: the lake reads the same UTF-8 strings, so no note, no schema change."""
    recorded = tuple(
        dataclasses.replace(c, charset="latin1", collation="latin1_bin")
        if c.name in {"note", "status"}
        else c
        for c in COLUMNS
    )
    defn = _definition(tmp_path, [_manifest(DAYS[0], "csv"), _manifest(DAYS[1], "csv", recorded)])
    assert defn.notes == ()
    assert not defn.schema_changes
    newest = PartitionPath("events", DAYS[1]).manifest_key
    raw = json.loads((tmp_path / newest).read_bytes())
    by_name = {c["name"]: c for c in raw["columns"]}
    assert (by_name["note"]["charset"], by_name["note"]["collation"]) == ("latin1", "latin1_bin")
    assert set(by_name["id"]) == {"name", "mysql_type", "nullable"}  # nothing to record: absent
    loaded = Manifest.loads((tmp_path / newest).read_bytes())
    assert [(c.charset, c.collation) for c in loaded.columns] == [
        (c.charset, c.collation) for c in recorded
    ]


def test_mixed_formats_are_reported(tmp_path: Path) -> None:
    """Days archived as CSV under a table now in Parquet: the definition says it cannot read them."""
    defn = _definition(tmp_path, [_manifest(DAYS[0], "csv"), _manifest(DAYS[1], "parquet")])
    assert defn.format == "parquet"
    assert defn.notes[0].startswith("2026-05-01 are archived as another format than parquet")


def test_no_archived_day_is_a_clear_error(tmp_path: Path) -> None:
    """ddl on a table with no manifest: ConfigError telling to export first."""
    with pytest.raises(ConfigError, match=r"no archived day of 'events'.*export a day first"):
        _definition(tmp_path, [])


def _glue() -> tuple[object, Stubber]:
    client = boto3.client(
        "glue", region_name="us-east-1", aws_access_key_id="k", aws_secret_access_key="s"
    )
    return client, Stubber(client)


def test_glue_apply_creates_the_table_and_every_partition(tmp_path: Path) -> None:
    """--apply sends CreateTable with the golden document, then one partition per day, each
    valid for the Glue API model; a second apply updates the table and skips known days."""
    defn = _definition(tmp_path, [_manifest(d, "parquet") for d in DAYS])
    doc = glue_table_input(defn, "logs")
    parts = [partition_input(p) for p in defn.partitions]
    assert parts[0]["Values"] == ["2026", "5", "1"]
    assert (
        parts[0]["StorageDescriptor"]["Location"]
        == "s3://acme-archive/prod/events/year=2026/month=05/day=01/"
    )
    batch = {"DatabaseName": "logs", "TableName": "events", "PartitionInputList": parts}
    client, stub = _glue()
    stub.add_response("create_table", {}, doc)
    stub.add_response("batch_create_partition", {}, batch)
    stub.add_client_error("create_table", "AlreadyExistsException", expected_params=doc)
    stub.add_response("update_table", {}, doc)
    exists = {"ErrorCode": "AlreadyExistsException", "ErrorMessage": "exists"}
    errors = [{"PartitionValues": p["Values"], "ErrorDetail": exists} for p in parts]
    stub.add_response("batch_create_partition", {"Errors": errors}, batch)
    with stub:
        first = apply_glue(client, defn, "logs")
        second = apply_glue(client, defn, "logs")
    stub.assert_no_pending_responses()
    assert (first.created, first.partitions_added, first.partitions_existing) == (True, 2, 0)
    assert (second.created, second.partitions_added, second.partitions_existing) == (False, 0, 2)
    assert json.loads(ddl_text("glue", defn, "logs")) == doc


def _with_stats(m: Manifest, stats: ColumnStats | None) -> Manifest:
    entry = FileEntry("k", 1, 1, "0" * 64, RowDigest(), column_stats=stats)
    return dataclasses.replace(m, files=(entry,))


def test_columns_athena_and_spark_read_wrong_are_warned_about_per_column(tmp_path: Path) -> None:
    """From the manifests' column stats: Athena's statements (and glue's notes) name each column
    holding line breaks or the text \\N with its days, Spark's the \\N ones, DuckDB's neither;
    days with no stats recorded are said to be unknown."""
    defn = _definition(tmp_path, [
        _with_stats(_manifest(DAYS[0], "csv"), ColumnStats(("note", "status"), ("note",))),
        _with_stats(_manifest(DAYS[1], "csv"), ColumnStats(("note",), ())),
        _with_stats(_manifest(dt.date(2026, 5, 3), "csv"), None),
    ])  # fmt: skip
    athena = ddl_text("athena", defn)
    assert (
        "-- WARNING: column note holds line breaks (2026-05-01, 2026-05-02): OpenCSVSerDe" in athena
    )
    assert "-- WARNING: column status holds line breaks (2026-05-01)" in athena
    assert (
        "-- WARNING: column note holds the text \\N (2026-05-01): OpenCSVSerDe reads it" in athena
    )
    assert "-- note: no column stats recorded for 2026-05-03 (archived before dbarchive" in athena
    assert "TRY_CAST" not in athena
    cast = 'CAST(substr(NULLIF("created_at", \'\\N\'), 1, 23) AS timestamp) AS "created_at"'
    assert cast in athena  # cut to milliseconds as text: a cast to timestamp(3) rounds
    spark = ddl_text("databricks", defn)
    assert "-- WARNING: column note holds the text \\N (2026-05-01): Spark's nullValue" in spark
    assert "line breaks" not in spark
    assert "WARNING" not in ddl_text("duckdb", defn)
    glue = engine_notes("glue", defn)
    assert [n.split(":")[0] for n in glue] == ["WARNING", "WARNING", "WARNING", "note"]


def test_parquet_gets_no_serde_warnings(tmp_path: Path) -> None:
    """Parquet has no OpenCSVSerDe and no \\N: no warning, whatever the stats say."""
    stats = ColumnStats(("note",), ("note",))
    defn = _definition(tmp_path, [_with_stats(_manifest(d, "parquet"), stats) for d in DAYS])
    assert "WARNING" not in ddl_text("athena", defn) + ddl_text("databricks", defn)


@pytest.mark.parametrize("engine", ["athena", "databricks", "duckdb"])
def test_days_holding_older_versions_of_changed_rows_are_warned_about(
    tmp_path: Path, engine: str
) -> None:
    """A row changed after its day's purge began is archived again (a later generation): every
    reader of the files sees both versions, which no statement said (an outside trial's DuckDB
    view showed both with no word). Each engine's statements now name those days."""
    older = RowDigest()
    older.add_sums(2, 1, 1, 0, 1)
    changed = dataclasses.replace(_manifest(DAYS[1], "csv"), superseded=older)
    text = ddl_text(engine, _definition(tmp_path, [_manifest(DAYS[0], "csv"), changed]))
    assert (
        f"-- WARNING: {DAYS[1]} hold 2 older version(s) of rows changed after their purge began:"
        in text
    )
    assert "WARNING" not in ddl_text(
        engine, _definition(tmp_path / "b", [_manifest(DAYS[0], "csv")])
    )


def test_duckdb_reads_the_files_of_every_compression_the_days_have(tmp_path: Path) -> None:
    """Days archived as gzip before `compression` became zstd keep their `.csv.gz` parts: the
    view reads both extensions (the newest day's first)."""
    older = dataclasses.replace(_manifest(DAYS[0], "csv"), compression="gzip")
    newer = dataclasses.replace(_manifest(DAYS[1], "csv"), compression="zstd")
    text = ddl_text("duckdb", _definition(tmp_path, [older, newer]))
    root = "s3://acme-archive/prod/events/*/*/*/part-*"
    assert f"FROM read_csv(['{root}.csv.zst', '{root}.csv.gz'], header = true" in text


def test_two_tables_of_one_name_in_two_schemas_get_two_lake_names(tmp_path: Path) -> None:
    """`events` of the default schema and of `eu`: their folders differ (events/, eu@events/),
    and so do their names in every engine (an outside trial found Athena's view of one replaced
    by the other's, reading its files by position)."""
    job = job_from_dict(
        {
            "source": {"url": "mysql://app@db/app"},
            "destination": {"url": "s3://acme-archive/prod"},
            "tables": [
                {"name": "events", "timestamp_column": "ts"},
                {"name": "events", "schema": "eu", "timestamp_column": "ts"},
                {"name": "events2", "schema": "app", "timestamp_column": "ts"},
            ],
        }
    )
    assert [job.lake_name(t) for t in job.tables] == ["events", "eu_events", "events2"]
    base = _definition(tmp_path, [_manifest(DAYS[0], "csv")])
    eu = dataclasses.replace(base, name="eu_events")
    assert "`eu_events_csv`" in ddl_text("athena", eu) and '"eu_events" AS' in ddl_text(
        "athena", eu
    )
    assert 'CREATE OR REPLACE VIEW "eu_events"' in ddl_text("duckdb", eu)
    assert "CREATE TABLE IF NOT EXISTS `eu_events`" in ddl_text("databricks", eu)
    assert json.loads(ddl_text("glue", eu, "logs"))["TableInput"]["Name"] == "eu_events_csv"
    assert "`events_csv`" in ddl_text("athena", base)


def test_the_athena_view_cuts_microseconds_instead_of_rounding_them() -> None:
    """Trino rounds when a cast drops precision: 23:59:59.999999 would read as the next day's
    midnight, in this day's partition. The view cuts the text to milliseconds first (the same
    SQL evaluated by DuckDB, whose substr and cast agree with Trino's)."""
    import duckdb

    cut = duckdb.sql(
        "SELECT CAST(substr(x, 1, 23) AS TIMESTAMP) FROM (VALUES "
        "('2026-05-01 23:59:59.999999'), ('2026-05-01 10:00:00')) t(x)"
    ).fetchall()
    assert cut == [(dt.datetime(2026, 5, 1, 23, 59, 59, 999000),), (dt.datetime(2026, 5, 1, 10),)]


@pytest.mark.parametrize("engine", ["athena", "duckdb", "databricks"])
def test_a_table_archived_by_another_zones_days_says_whose_days_the_folders_are(
    tmp_path: Path, engine: str
) -> None:
    """A Europe/Berlin table: its folders' days are Berlin's while its TIMESTAMPs read UTC,
    and a query filtering on both missed rows (an outside trial); the statements say so. A
    UTC table's do not (the golden texts)."""
    manifests = [
        dataclasses.replace(_manifest(d, "parquet"), timezone="Europe/Berlin") for d in DAYS
    ]
    text = ddl_text(engine, _definition(tmp_path, manifests))
    assert "days in Europe/Berlin" in text and "created_at's range" in text
