"""The lake reads a table whose own columns are named like the folders' keys (a daily table with a
``day DATE`` column, a ``year`` column), and archives whose newest or only days have no file.
Found by an outside trial: DuckDB put the folder's values in place of the columns' own (``day``
read as 3, ``year`` as 2026), Athena and Spark got the same name twice, pyarrow refused; and a
view naming a file pattern no file matched failed whole."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import duckdb
import pytest

from dbarchive import build_context, export_day
from dbarchive.build import build_storage
from dbarchive.ddl import ddl_text, read_definition
from dbarchive.ddl.arrow import archive_dataset
from dbarchive.layout import Layout
from tests.integration.helpers import make_job
from tests.integration.mysql_fixtures import MySqlSchema, mysql_schema  # noqa: F401

D1, D2 = dt.date(2026, 11, 3), dt.date(2026, 11, 4)
ROWS = [(1, "2026-11-03", 1999, "March", 10), (2, "2026-11-03", 2000, None, 20),
        (3, "2026-11-04", None, "April", 30)]  # fmt: skip


def _daily(schema: MySqlSchema) -> None:
    schema.execute(
        "CREATE TABLE daily (id INT PRIMARY KEY, `Day` DATE NOT NULL, year SMALLINT NULL,"
        " month VARCHAR(10) NULL, v INT, KEY (`Day`))"
    )
    for row in ROWS:
        schema.execute("INSERT INTO daily VALUES (%s, %s, %s, %s, %s)", row)


def _archive(schema: MySqlSchema, dest: Path, days: list[dt.date], **options: Any) -> Any:
    job = make_job(schema.url, str(dest), [{"name": "daily", "timestamp_column": "Day"}], **options)
    ctx = build_context(job)
    for day in days:
        export_day(ctx, job.tables[0], day)
    ctx.source.close()
    return job


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_columns_named_like_the_folders_keep_their_own_values(
    mysql_schema: MySqlSchema, tmp_path: Path, fmt: str
) -> None:
    """DuckDB's view and pyarrow's dataset give each row's own Day/year/month; the folders'
    values are part_year/part_month/part_day (DuckDB, Athena, Glue) or left out (Spark,
    pyarrow), and every definition says so."""
    _daily(mysql_schema)
    dest = tmp_path / "arch"
    job = _archive(mysql_schema, dest, [D1, D2], format=fmt)
    defn = read_definition(build_storage(job), str(dest), "daily", Layout.HIVE)
    assert defn.partition_columns == ("part_year", "part_month", "part_day")
    con = duckdb.connect()
    con.execute(ddl_text("duckdb", defn))
    rows = con.sql(
        'SELECT id, "Day", year, month, v, part_year, part_month, part_day FROM daily ORDER BY id'
    ).fetchall()
    assert rows == [
        (i, dt.date.fromisoformat(d), y, m, v, 2026, 11, int(d[-2:])) for i, d, y, m, v in ROWS
    ]
    table = archive_dataset(defn, None, str(dest / "daily")).to_table()
    assert sorted(zip(*table.to_pydict().values(), strict=True)) == [
        (i, dt.date.fromisoformat(d), y, m, v) for i, d, y, m, v in ROWS
    ]
    athena = ddl_text("athena", defn)
    assert "PARTITIONED BY (`part_year` int, `part_month` int, `part_day` int)" in athena
    assert "year=${part_year}/month=${part_month}/day=${part_day}/" in athena
    assert "'projection.part_day.range' = '1,31'" in athena
    spark = ddl_text("databricks", defn)
    assert "PARTITIONED BY" not in spark and "recursiveFileLookup 'true'" in spark
    for text in (athena, spark, ddl_text("duckdb", defn)):
        assert "the table has columns named Day, year, month" in text


def test_views_skip_the_patterns_of_days_without_files(
    mysql_schema: MySqlSchema, tmp_path: Path
) -> None:
    """A day archived with rows as gzip and an empty newest day as zstd: the DuckDB view reads
    the rows (it used to name a *.csv.zst pattern no file matched, and fail). A table whose
    every archived day is empty: the view has its columns and no row."""
    _daily(mysql_schema)
    dest = tmp_path / "arch"
    mysql_schema.execute("DELETE FROM daily WHERE `Day` = %s", (D2.isoformat(),))
    _archive(mysql_schema, dest, [D1], compression="gzip")
    job = _archive(mysql_schema, dest, [D2], compression="zstd")
    defn = read_definition(build_storage(job), str(dest), "daily", Layout.HIVE)
    con = duckdb.connect()
    con.execute(ddl_text("duckdb", defn))
    assert con.sql("SELECT id FROM daily ORDER BY id").fetchall() == [(1,), (2,)]

    empty = tmp_path / "empty"
    job = _archive(mysql_schema, empty, [D2])
    defn = read_definition(build_storage(job), str(empty), "daily", Layout.HIVE)
    con.execute(ddl_text("duckdb", defn))
    assert con.sql("SELECT count(*), count(v) FROM daily").fetchall() == [(0, 0)]
    assert [c[0] for c in con.sql("SELECT * FROM daily").description][:2] == ["id", "Day"]
