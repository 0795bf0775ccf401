"""The Aurora ``SELECT … INTO OUTFILE S3`` statement: golden text per scan strategy, quoting of
odd identifiers, the canonical expressions, the unit ranges, and the export options.

The golden files are the reviewed output (``DBARCHIVE_UPDATE_GOLDEN=1`` rewrites them after a
deliberate change; review the diff).
"""

from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path
from typing import Any

import pytest

from dbarchive.config import job_from_dict
from dbarchive.sources.canonical import Column
from dbarchive.sources.table import ScanPlan, TableInfo, day_window
from dbarchive.strategies.aurora.statement import (
    EXPORT_OPTIONS,
    LOCAL_OPTIONS,
    S3Target,
    field_expression,
    header_label,
    render,
    sql_literal,
    unit_digest_sql,
    unit_statement,
)
from dbarchive.units.plan import unit_scan, units_for

GOLDEN = Path(__file__).parent / "golden"
DAY = dt.date(2026, 11, 24)
TARGET = S3Target(
    "acme-archive", "prod/events/year=2026/month=11/day=24/_aurora-00001", "eu-west-1"
)


def _golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("DBARCHIVE_UPDATE_GOLDEN") == "1":
        path.write_text(text)
    assert text == path.read_text(), f"{name} differs from its golden file"


def _col(name: str, data_type: str, column_type: str | None = None) -> Column:
    return Column(name, data_type, column_type or data_type, True)


ID = Column("id", "bigint", "bigint unsigned", False)
TS = Column("created_at", "datetime", "datetime(6)", False)
COLUMNS = (
    ID,
    TS,
    _col("amount", "decimal", "decimal(18,4)"),
    _col("ratio", "float"),
    _col("score", "double"),
    _col("note", "text"),
    _col("payload", "json"),
    _col("raw", "varbinary", "varbinary(64)"),
    _col("flags", "bit", "bit(10)"),
    _col("seen", "timestamp", "timestamp(6)"),
)
INFO = TableInfo("payments", "events", COLUMNS, (ID,), "PRIMARY", TS, "idx_created")
WINDOW = day_window(DAY, "UTC", "UTC")


def _spec(**table: object) -> Any:
    table = {"name": "events", "timestamp_column": "created_at",
             "export": {"strategy": "aurora-outfile"}, **table}  # fmt: skip
    source = {"url": "mysql://u@h/payments"}
    destination = {"url": "s3://acme-archive/prod", "region": "eu-west-1"}
    job = job_from_dict({"source": source, "destination": destination, "tables": [table]})
    return job.tables[0]


def test_key_unit_statement_matches_the_golden_text() -> None:
    """A key range: the canonical expressions quoted in SQL, the key range with the day as guard,
    ORDER BY the key on the primary index, then INTO OUTFILE S3 with every option."""
    scan = ScanPlan("key", 1000, b"1001", b"2000")
    statement = unit_statement(INFO, WINDOW, scan, TARGET)
    _golden("aurora-key-unit.sql", render(*statement.aurora_sql()) + "\n")


def test_time_unit_statement_matches_the_golden_text() -> None:
    """A time slice: the time index, the narrowed window, ORDER BY ts then the key."""
    window = WINDOW.__class__(DAY, WINDOW.start, WINDOW.end, "2026-11-24 06:00:00.000000",
                              "2026-11-24 12:00:00.000000")  # fmt: skip
    statement = unit_statement(INFO, window, ScanPlan("time", 1000), TARGET)
    _golden("aurora-time-unit.sql", render(*statement.aurora_sql()) + "\n")


def test_the_digest_statement_reads_exactly_the_unit_rows() -> None:
    """The database's digest of a unit has the same FROM/WHERE (and values) as its export."""
    scan = ScanPlan("key", 1000, b"1001", b"2000")
    export = unit_statement(INFO, WINDOW, scan, TARGET)
    digest_sql, digest_params = unit_digest_sql(INFO, WINDOW, scan)
    select = export.select_sql
    from_where = select[select.index("FROM ") : select.index("\nORDER BY ")]
    assert from_where in digest_sql
    assert digest_params == export.params == (1001, 2000, WINDOW.start_param, WINDOW.end_param)
    assert "SHA2(CONCAT(IFNULL(CONCAT(LENGTH(`id`)" in digest_sql


def test_options_write_the_archive_dialect_with_manifest_and_overwrite() -> None:
    """Fields neither enclosed nor escaped by the server (the SELECT quotes them), \\n after every
    row, a header line, utf8mb4, Aurora's manifest, and overwrite of a failed attempt."""
    sql, params = unit_statement(INFO, WINDOW, ScanPlan("key", 1, b"1", b"1"), TARGET).aurora_sql()
    assert sql.endswith(
        "\nINTO OUTFILE S3 %s\nCHARACTER SET utf8mb4 FORMAT CSV HEADER\nFIELDS TERMINATED BY ',' "
        "ENCLOSED BY '' ESCAPED BY ''\nLINES TERMINATED BY X'0A'\nMANIFEST ON OVERWRITE ON"
    )
    assert (
        params[-1]
        == "s3-eu-west-1://acme-archive/prod/events/year=2026/month=11/day=24/_aurora-00001"
    )
    assert "\\" not in EXPORT_OPTIONS + LOCAL_OPTIONS  # nothing sql_mode could reinterpret


def test_local_variant_keeps_the_select_and_drops_what_only_aurora_has() -> None:
    """The emulation's statement: the same SELECT and field options into a server-side file."""
    statement = unit_statement(INFO, WINDOW, ScanPlan("key", 1, b"1", b"9"), TARGET)
    sql, params = statement.local_sql("/tmp/unit.csv")
    assert sql == f"{statement.select_sql}\nINTO OUTFILE %s\n{LOCAL_OPTIONS}"
    assert params == (*statement.params, "/tmp/unit.csv")
    for aurora_only in ("S3", "FORMAT", "HEADER", "MANIFEST", "OVERWRITE"):
        assert aurora_only not in LOCAL_OPTIONS


def test_no_region_means_the_clusters_region() -> None:
    """Without a region the URI is s3://… (Aurora then writes to its own region)."""
    assert S3Target("b", "k/_aurora-00000").uri == "s3://b/k/_aurora-00000"


def test_odd_identifiers_are_quoted_everywhere() -> None:
    """Backticks double inside identifiers; a quote in a column name doubles inside its label,
    so the header line Aurora writes is the archive's header."""
    odd = Column('we"ird`col', "varchar", "varchar(10)", True)
    key = Column("k`ey", "int", "int", False)
    ts = Column("t s", "datetime", "datetime", False)
    info = TableInfo("sch`ema", "ta`ble", (key, ts, odd), (key,), "PRIMARY", ts, "ix`ts")
    statement = unit_statement(info, WINDOW, ScanPlan("key", 1, b"1", b"5"), TARGET)
    sql = statement.select_sql
    assert "FROM `sch``ema`.`ta``ble` FORCE INDEX (`PRIMARY`)\n" in sql
    assert "WHERE `k``ey` >= %s AND `k``ey` <= %s AND `t s` >= %s AND `t s` < %s" in sql
    assert 'CONVERT(`we"ird``col` USING utf8mb4)' in sql
    assert 'AS `"we""ird``col"`' in sql
    assert header_label('we"ird`col') == '"we""ird`col"'
    assert statement.header == b'"k`ey","t s","we""ird`col"\n'
    time_sql = unit_statement(info, WINDOW, ScanPlan("time", 1), TARGET).select_sql
    assert "FORCE INDEX (`ix``ts`)" in time_sql and "ORDER BY `t s`, `k``ey`" in time_sql


@pytest.mark.parametrize(
    ("column", "expression"),
    [
        (_col("f", "float"), "CAST(`f` AS DOUBLE)"),
        (_col("b", "blob"), "HEX(`b`)"),
        (_col("j", "json"), "CONVERT(`j` USING utf8mb4)"),
        (_col("bits", "bit", "bit(3)"), "CAST(`bits` AS UNSIGNED)"),
        (_col("d", "decimal", "decimal(10,2)"), "`d`"),
    ],
)
def test_each_field_is_the_canonical_expression_quoted_or_the_null_token(
    column: Column, expression: str
) -> None:
    """The field is '"' + E with '"' doubled + '"', or the bare \\N when E is NULL."""
    label = f'`"{column.name}"`'
    assert field_expression(column) == (
        f"IFNULL(CONCAT('\"', REPLACE({expression}, '\"', '\"\"'), '\"'), _utf8mb4 X'5C4E') AS {label}"
    )


def test_every_planned_range_becomes_one_statement_over_exactly_its_keys() -> None:
    """The range planner's units (no gap, no overlap) each give a statement bounded by them."""
    spec = _spec(range_rows=2500)
    scan = ScanPlan("key", 10_000, b"1", b"10000")
    plan = units_for(spec, INFO, WINDOW, scan, None)
    assert [(u.low, u.high) for u in plan.units] == [
        ("1", "2500"), ("2501", "5000"), ("5001", "7500"), ("7501", "10000")
    ]  # fmt: skip
    for unit in plan.units:
        window, scan = unit_scan(INFO, WINDOW, plan, unit)
        statement = unit_statement(INFO, window, scan, TARGET)
        assert statement.params[:2] == (int(unit.low), int(unit.high))


def test_aurora_tables_default_to_ranges_of_about_one_file_and_no_compression() -> None:
    """Without range settings a unit is about max_file_mib; Aurora cannot compress."""
    spec = _spec(max_file_mib=128)
    assert (spec.range_mib, spec.range_rows, spec.compression.value) == (128, None, "none")
    assert _spec(compression="gzip").compression.value == "gzip"


def test_literals_refuse_backslashes_and_render_values() -> None:
    """Embedded literals never depend on NO_BACKSLASH_ESCAPES; quotes double."""
    assert sql_literal("it's") == "'it''s'"
    assert sql_literal(42) == "42"
    assert sql_literal(b"\x00\xff") == "X'00FF'"
    with pytest.raises(ValueError, match="backslash"):
        sql_literal("a\\b")
    assert render("a = %s AND b = %s", [1, "x"]) == "a = 1 AND b = 'x'"
    assert not re.search(r"%s", render("%s", ["%"]))


def test_a_filter_with_percent_signs_reaches_the_server_as_written() -> None:
    """``where = "note LIKE '%s%'"``: shown as the user wrote it (the ``%s`` inside quotes is
    text, not a placeholder), the unit's parameters still in their places."""
    key = Column("id", "bigint", "bigint", False)
    ts = Column("ts", "datetime", "datetime", False)
    note = Column("note", "varchar", "varchar(10)", True)
    info = TableInfo("s", "t", (key, ts, note), (key,), "PRIMARY", ts, "ix", "note LIKE '%s%'")
    statement = unit_statement(info, WINDOW, ScanPlan("key", 1, b"1", b"5"), TARGET)
    shown = render(*statement.aurora_sql())
    assert "AND (note LIKE '%s%')" in shown
    assert "`id` >= 1 AND `id` <= 5" in shown
    with pytest.raises(ValueError, match="2 placeholders for 1 values"):
        render("a = %s AND b LIKE '%%' AND c = %s", [1])
