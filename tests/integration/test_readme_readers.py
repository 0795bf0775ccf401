"""README "Reading the files with your own code": its snippets, taken from the README as printed,
read a real CSV archive of the table it describes with every value exact (BIGINT UNSIGNED at its
maximum, DECIMAL(65,30), DATETIME(6), a line break, NULL and the text \\N); the Spark snippet,
which cannot run here, must give the options and schema dbarchive generates for Databricks."""

from __future__ import annotations

import ast
import datetime as dt
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest

from dbarchive import build_context, export_day
from dbarchive.ddl.dialect import SPARK_CSV_OPTIONS
from dbarchive.formats.lake_types import lake_type, spark_type
from dbarchive.layout import PartitionPath
from dbarchive.manifest import Manifest
from tests.integration.helpers import make_job
from tests.integration.mysql_fixtures import MySqlSchema, mysql_schema  # noqa: F401

README = Path(__file__).resolve().parents[2] / "README.md"
DAY = dt.date(2026, 11, 24)
DDL = """
CREATE TABLE payment_events (
  id BIGINT UNSIGNED NOT NULL PRIMARY KEY, created_at DATETIME(6) NOT NULL,
  amount DECIMAL(18,4) NULL, balance DECIMAL(65,30) NULL, note TEXT NULL, KEY (created_at)
)"""
ROWS = [
    (18446744073709551615, "2026-11-24 00:00:00.000001", "-99999999999999.9999",
     "-99999999999999999999999999999999999.999999999999999999999999999999", 'a\nb, "q"\r'),
    (9007199254740993, "2026-11-24 12:00:00.500000", "0.0001",
     "0.000000000000000000000000000001", "\\N"),
    (1, "2026-11-24 23:59:59.999999", None, None, None),
]  # fmt: skip
# Enough multi-line text for files over pyarrow's 1 MiB block: a block boundary then falls
# inside a value, which only newlines_in_values=True reads right.
ROWS += [
    (1000 + n, f"2026-11-24 06:00:{n % 60:02d}.{n:06d}", f"{n}.0000", f"{n}.{'0' * 30}",
     f"stack trace {n}\n" * 40)
    for n in range(3000)
]  # fmt: skip


def _snippets(lang: str) -> list[str]:
    text = README.read_text(encoding="utf-8")
    start = text.index("### Reading the files with your own code")
    section = text[start : text.index("\n## ", start)]
    return re.findall(rf"```{lang}\n(.*?)```", section, re.S)


@pytest.fixture
def archive(mysql_schema: MySqlSchema, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Manifest:
    """The README's table, one day archived as CSV (gzip) in a local folder, which is the
    working directory (the snippets' paths are relative to it)."""
    mysql_schema.execute(DDL)
    mysql_schema.executemany("INSERT INTO payment_events VALUES (%s, %s, %s, %s, %s)", ROWS)
    (size,) = mysql_schema.execute("SELECT SUM(LENGTH(note)) FROM payment_events")[0]
    assert size > 1 << 20
    spec = {"name": "payment_events", "timestamp_column": "created_at"}
    job = make_job(mysql_schema.url, str(tmp_path), [spec], format="csv", compression="gzip")
    ctx = build_context(job)
    export_day(ctx, job.tables[0], DAY)
    raw = ctx.storage.get_bytes(PartitionPath("payment_events", DAY).manifest_key)
    ctx.source.close()
    assert raw is not None
    monkeypatch.chdir(tmp_path)
    return Manifest.loads(raw)


def _expected() -> list[tuple[Any, ...]]:
    return [
        (Decimal(i), dt.datetime.fromisoformat(t), None if a is None else Decimal(a), b, n)
        for i, t, a, b, n in sorted(ROWS)
    ]


def test_the_duckdb_snippet_reads_every_value_exactly(archive: Manifest) -> None:
    (sql,) = _snippets("sql")
    result = duckdb.connect().execute(sql)
    names = [d[0] for d in result.description]
    rows = [dict(zip(names, r, strict=True)) for r in result.fetchall()]
    columns = ["id", "created_at", "amount", "balance", "note"]
    assert sorted(tuple(r[c] for c in columns) for r in rows) == _expected()
    assert {(r["year"], r["month"], r["day"]) for r in rows} == {(DAY.year, DAY.month, DAY.day)}


def test_the_pyarrow_snippet_reads_every_value_exactly(archive: Manifest) -> None:
    (pyarrow_snippet, _spark) = _snippets("python")
    scope: dict[str, Any] = {}
    exec(pyarrow_snippet, scope)  # noqa: S102 - the README's own code, run as a user would
    rows = [tuple(r.values()) for r in scope["table"].to_pylist()]
    assert [f.key for f in archive.files] == [
        "payment_events/year=2026/month=11/day=24/part-g0001-00000.csv.gz"
    ]
    assert sorted(rows) == _expected()


def test_the_spark_snippet_has_the_generated_options_and_schema(archive: Manifest) -> None:
    (_pyarrow, spark_snippet) = _snippets("python")
    calls = {
        node.func.attr: node
        for node in ast.walk(ast.parse(spark_snippet))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
    }
    options = {k.arg: ast.literal_eval(k.value) for k in calls["options"].keywords}
    assert options == {k: SPARK_CSV_OPTIONS[k] for k in options}
    assert {"header", "quote", "escape", "multiLine", "nullValue", "mode"} <= set(options)
    schema = ast.literal_eval(calls["schema"].args[0])
    assert schema == ", ".join(
        f"{c.name} {spark_type(lake_type(c.mysql_type), csv=True)}" for c in archive.columns
    )


def test_the_iceberg_python_snippet_reads_every_value_exactly(
    mysql_schema: MySqlSchema, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """README "An Apache Iceberg table": its pyiceberg snippet, run as printed in the folder
    where `dbarchive demo --format iceberg` leaves its archive, reads the table's rows exactly."""
    text = README.read_text(encoding="utf-8")
    start = text.index("### An Apache Iceberg table")
    section = text[start : text.index("\n### ", start + 1)]
    (snippet,) = re.findall(r"```python\n(.*?)```", section, re.S)
    mysql_schema.execute(DDL)
    mysql_schema.executemany("INSERT INTO payment_events VALUES (%s, %s, %s, %s, %s)", ROWS)
    spec = {"name": "payment_events", "timestamp_column": "created_at"}
    job = make_job(mysql_schema.url, str(tmp_path / "dbarchive-demo-archive"), [spec],
                   format="iceberg")  # fmt: skip
    ctx = build_context(job)
    export_day(ctx, job.tables[0], DAY)
    ctx.close()
    monkeypatch.chdir(tmp_path)
    scope: dict[str, Any] = {}
    exec(snippet, scope)  # noqa: S102 - the README's own code, run as a user would
    table = scope["rows"]
    rows = [tuple(r.values()) for r in table.to_pylist()]
    assert sorted(rows) == _expected()
