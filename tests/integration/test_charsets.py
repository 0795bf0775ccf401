"""Non-UTF-8 text is archived exactly or refused, never archived as '?' (issue 17, item 1).

The oracle is always the bytes the table stores (``HEX(col)``), never dbarchive's own digest:
that digest goes through ``CONVERT(… USING utf8mb4)`` and so cannot see a lossy conversion.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from dbarchive import build_context, export_day, restore_day
from dbarchive.build import build_throttle
from dbarchive.errors import ConfigError, NoUsableKeyError, SourceError, UnconvertibleTextError
from dbarchive.jobs.daily import TableReport, purge_table, run
from dbarchive.sources.charsets import ROW_MARGIN
from dbarchive.steps import upload
from dbarchive.steps.purge import purge_day
from dbarchive.steps.verify import verify_day
from tests.integration.helpers import make_job
from tests.integration.mysql_fixtures import MySqlSchema, mysql_schema  # noqa: F401

DAY = dt.date(2026, 5, 1)
DDL = """
CREATE TABLE `notes` (
  id INT NOT NULL PRIMARY KEY,
  ts DATETIME NOT NULL,
  ru VARCHAR(20) CHARACTER SET cp1251 COLLATE cp1251_bin NULL,
  fr VARCHAR(20) CHARACTER SET latin1 NULL,
  u8 VARCHAR(20) NULL,
  a7 VARCHAR(20) CHARACTER SET ascii NULL,
  KEY (ts)
) DEFAULT CHARSET=utf8mb4
"""
PRIVET = "CFF0E8E2E5F2"  # 'Привет' in cp1251
CAFE = "636166E9"  # 'café' in latin1
# Row 2's cp1251 text is 0x3F ('?'), which row 2 of the table may later hold as 0x98: a byte
# cp1251 leaves undefined, which MySQL converts to '?'.
ROWS = [
    (1, "2026-05-01 01:00:00", PRIVET, CAFE, "ok", "plain"),
    (2, "2026-05-01 02:00:00", "3F", "81", "x", "?"),  # latin1 0x81 converts (to U+0081) and back
    (3, "2026-05-01 03:00:00", None, None, None, None),
]
# How each can go wrong: cp1251 leaves one byte undefined (searched for); ascii has no byte
# above 0x7F (128 bytes: the value is converted there and back instead).
BAD = {"ru": ("X'98'", "cp1251"), "a7": ("X'80'", "ascii")}


def _load(schema: MySqlSchema) -> None:
    schema.execute(DDL)
    for id_, ts, ru, fr, u8, a7 in ROWS:
        schema.execute(
            "INSERT INTO notes VALUES (%s, %s, UNHEX(%s), UNHEX(%s), %s, %s)",
            (id_, ts, ru, fr, u8, a7),
        )


def _stored(schema: MySqlSchema, table: str = "notes") -> list[tuple[Any, ...]]:
    return schema.execute(
        f"SELECT id, ts, HEX(ru), HEX(fr), HEX(u8), HEX(a7) FROM `{table}` ORDER BY id"
    )


def _job(schema: MySqlSchema, tmp_path: Path, fmt: str = "csv") -> Any:
    table = {"name": "notes", "timestamp_column": "ts", "chunk_rows": 2}
    return make_job(schema.url, str(tmp_path / "arch"), [table], format=fmt)


def _use_reader(monkeypatch: pytest.MonkeyPatch, reader: str) -> None:
    from dbarchive.sources import mysql_direct

    if reader == "driver":
        monkeypatch.setattr(mysql_direct, "_module", None)
    else:
        assert mysql_direct.available(), "the C reader was not built"


def _unconvertible(schema: MySqlSchema, column: str = "ru") -> None:
    """Row 2's text becomes a byte its charset has no Unicode character for."""
    schema.execute(f"UPDATE notes SET {column} = {BAD[column][0]} WHERE id = 2")


@pytest.mark.parametrize(
    ("column", "fmt", "reader"),
    [
        ("ru", "csv", "c"),
        ("ru", "csv", "driver"),
        ("ru", "parquet", "c"),
        ("ru", "parquet", "driver"),
        ("a7", "csv", "c"),
        ("a7", "parquet", "driver"),
    ],
)
def test_the_export_refuses_text_that_does_not_convert(
    mysql_schema: MySqlSchema,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    column: str,
    fmt: str,
    reader: str,
) -> None:
    """A cp1251 0x98 (or an ascii 0x80) would be archived as '?': the export names the row's
    key and the column and publishes nothing."""
    _use_reader(monkeypatch, reader)
    _load(mysql_schema)
    _unconvertible(mysql_schema, column)
    ctx = build_context(_job(mysql_schema, tmp_path, fmt))
    charset = BAD[column][1]
    with pytest.raises(
        UnconvertibleTextError, match=rf"notes: the row with id = 2 .*'{column}' \({charset}\)"
    ):
        export_day(ctx, ctx.job.tables[0], DAY)
    assert not list((tmp_path / "arch").rglob("_manifest.json"))
    assert not [p for p in (tmp_path / "arch").rglob("part-*") if p.is_file()]
    ctx.source.close()


def test_only_charsets_that_can_lose_text_are_checked_row_by_row(
    mysql_schema: MySqlSchema, tmp_path: Path
) -> None:
    """cp1251 leaves one byte undefined: searched for in each row; ascii has 128 bytes with no
    character: converted there and back. latin1 maps all 256 bytes and back (asked of the
    server once), utf8mb4 is the archive's own charset: neither is checked."""
    _load(mysql_schema)
    ctx = build_context(_job(mysql_schema, tmp_path))
    info = ctx.describe(ctx.job.tables[0])
    assert [(c.column.name, c.lost_bytes) for c in info.checked_text] == [
        ("ru", b"\x98"),
        ("a7", None),
    ]
    ctx.source.close()


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_text_comes_back_in_its_own_charset_after_purge_and_restore(
    mysql_schema: MySqlSchema, tmp_path: Path, fmt: str
) -> None:
    """Export, purge, drop the table, restore --into a new one: the manifest recorded each
    column's charset and collation, the new table has them, and holds the very bytes."""
    _load(mysql_schema)
    before = _stored(mysql_schema)
    ctx = build_context(_job(mysql_schema, tmp_path, fmt))
    spec = ctx.job.tables[0]
    export_day(ctx, spec, DAY)
    report = TableReport("notes")
    purge_table(ctx, spec, DAY + dt.timedelta(days=90), build_throttle(ctx), report)
    assert report.ok, report.errors
    assert report.rows_deleted == len(ROWS)
    ctx.source.close()
    mysql_schema.execute("DROP TABLE notes")  # gone: restore builds the table from the manifest
    ctx = build_context(ctx.job)
    restored = restore_day(ctx, spec, DAY, into="notes_back")
    assert restored.ok, restored.problems
    assert restored.created_table
    assert _stored(mysql_schema, "notes_back") == before
    charsets = mysql_schema.execute(
        "SELECT COLUMN_NAME, CHARACTER_SET_NAME, COLLATION_NAME FROM information_schema.COLUMNS"
        " WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'notes_back' AND COLUMN_NAME IN"
        " ('ru', 'fr', 'a7') ORDER BY COLUMN_NAME"
    )
    assert charsets == [
        ("a7", "ascii", "ascii_general_ci"),
        ("fr", "latin1", "latin1_swedish_ci"),
        ("ru", "cp1251", "cp1251_bin"),
    ]
    manifest = upload.read_manifest(ctx.storage, ctx.partition(spec, DAY))
    assert manifest is not None
    recorded = {c.name: (c.charset, c.collation) for c in manifest.columns}
    assert recorded == {
        "id": (None, None),
        "ts": (None, None),
        "ru": ("cp1251", "cp1251_bin"),
        "fr": ("latin1", "latin1_swedish_ci"),
        "u8": ("utf8mb4", "utf8mb4_general_ci"),
        "a7": ("ascii", "ascii_general_ci"),
    }
    ctx.source.close()


@pytest.mark.parametrize("reader", ["c", "driver"])
def test_verify_is_not_ok_over_text_that_does_not_convert(
    mysql_schema: MySqlSchema, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reader: str
) -> None:
    """The archive holds '?' (0x3F), the table now 0x98: both digests read '?' and agree, yet
    the bytes differ. Verify says so, naming the row; a purge deletes none of the day's rows (its
    count equals the archive's, so it stops at the locked chunk, with the same message), reports
    the day, and goes on with the table's next day."""
    _use_reader(monkeypatch, reader)
    _load(mysql_schema)
    mysql_schema.execute(
        "INSERT INTO notes (id, ts, u8) VALUES (10, '2026-05-02 01:00:00', 'next'), "
        "(11, '2026-05-02 02:00:00', 'day')"
    )
    ctx = build_context(_job(mysql_schema, tmp_path))
    spec = ctx.job.tables[0]
    export_day(ctx, spec, DAY)
    export_day(ctx, spec, DAY + dt.timedelta(days=1))
    _unconvertible(mysql_schema)
    before = [r for r in _stored(mysql_schema) if r[0] < 10]
    result = verify_day(ctx, spec, DAY)
    assert not result.ok
    assert any("the row with id = 2" in p and "'ru' (cp1251)" in p for p in result.problems)
    report = TableReport("notes")
    purge_table(ctx, spec, DAY + dt.timedelta(days=90), build_throttle(ctx), report)
    (failure,) = report.failures
    assert "the row with id = 2" in failure.message
    assert (failure.day, failure.exit_code) == (DAY, UnconvertibleTextError.exit_code)
    assert _stored(mysql_schema) == before  # the next day's two rows purged, DAY's kept
    assert report.rows_deleted == 2
    ctx.source.close()


def test_a_purge_chunk_never_deletes_text_that_does_not_convert(
    mysql_schema: MySqlSchema, tmp_path: Path
) -> None:
    """Even past verify (the row changed after it), the locked chunk read stops at the row:
    the chunk is rolled back and every row of it stays."""
    _load(mysql_schema)
    ctx = build_context(_job(mysql_schema, tmp_path))
    spec = ctx.job.tables[0]
    export_day(ctx, spec, DAY)
    manifest = upload.read_manifest(ctx.storage, ctx.partition(spec, DAY))
    assert manifest is not None
    _unconvertible(mysql_schema)
    before = _stored(mysql_schema)
    with pytest.raises(UnconvertibleTextError, match=r"the row with id = 2 .*'ru' \(cp1251\)"):
        purge_day(ctx, spec, manifest, build_throttle(ctx))
    assert _stored(mysql_schema) == before  # the chunk (all three rows) was rolled back
    ctx.source.close()


def test_restore_refuses_a_target_whose_text_has_another_charset(
    mysql_schema: MySqlSchema, tmp_path: Path
) -> None:
    """The same characters in other bytes are not the archived value: a target whose column
    holds utf8mb4 where the archive's held latin1 is refused, and nothing is written."""
    _load(mysql_schema)
    ctx = build_context(_job(mysql_schema, tmp_path))
    spec = ctx.job.tables[0]
    export_day(ctx, spec, DAY)
    mysql_schema.execute("CREATE TABLE notes_utf8 LIKE notes")
    mysql_schema.execute("ALTER TABLE notes_utf8 MODIFY fr VARCHAR(20) CHARACTER SET utf8mb4 NULL")
    with pytest.raises(
        ConfigError, match=r"column 'fr' holds utf8mb4 text, the archive's was latin1"
    ):
        restore_day(ctx, spec, DAY, into="notes_utf8")
    assert mysql_schema.execute("SELECT COUNT(*) FROM notes_utf8") == [(0,)]
    ctx.source.close()


def test_a_day_the_export_refuses_is_reported_and_the_run_goes_on(
    mysql_schema: MySqlSchema, tmp_path: Path
) -> None:
    """Yesterday holds a cp1251 0x98: the run reports that day (the row named, exit 3), and
    still archives and purges the expired day; yesterday's rows all stay."""
    _load(mysql_schema)
    today = DAY + dt.timedelta(days=100)
    yesterday = today - dt.timedelta(days=1)
    mysql_schema.execute(
        "INSERT INTO notes (id, ts, ru) VALUES (20, %s, X'98'), (21, %s, 'ok')",
        (f"{yesterday} 01:00:00", f"{yesterday} 02:00:00"),
    )
    table = {"name": "notes", "timestamp_column": "ts", "retention": "30 days"}
    job = make_job(mysql_schema.url, str(tmp_path / "arch"), [table])
    ctx = build_context(job)
    (report,) = run(ctx, list(job.tables), today, build_throttle(ctx))
    (failure,) = report.failures
    assert "the row with id = 20" in failure.message and failure.day == yesterday
    assert failure.exit_code == UnconvertibleTextError.exit_code
    assert report.rows_deleted == len(ROWS)  # the expired day went on
    assert [r[0] for r in _stored(mysql_schema)] == [20, 21]
    ctx.source.close()


BLOB_DDL = """CREATE TABLE files (id INT PRIMARY KEY, ts DATETIME NOT NULL, body LONGBLOB,
  extra MEDIUMBLOB, KEY (ts))"""


def _row_limit(schema: MySqlSchema) -> int:
    """The most bytes of hex a row's long values may come to (max_allowed_packet less the room
    kept for the rest of the row and its statement)."""
    return int(schema.execute("SELECT @@max_allowed_packet")[0][0]) - ROW_MARGIN


def _files_job(schema: MySqlSchema, tmp_path: Path) -> Any:
    table = {"name": "files", "timestamp_column": "ts"}
    return make_job(schema.url, str(tmp_path / "arch"), [table])


@pytest.mark.parametrize("reader", ["c", "driver"])
def test_a_row_too_long_for_the_packet_is_refused_not_archived_as_null(
    mysql_schema: MySqlSchema, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reader: str
) -> None:
    """HEX() of a value longer than half of max_allowed_packet is NULL (a warning only): a 9 MB
    BLOB was archived as NULL, verify said OK (its digest read the same NULL) and the purge
    deleted the row; two 5 MB BLOBs of one row made the row digest NULL and every purge crash
    (outside trials). The export now refuses such a row, naming it, its columns and the fix. A
    row at the limit itself is archived, verified, purged and restored byte for byte: export,
    purge and restore agree on one limit. Grown past it after the export, a purge keeps it."""
    _use_reader(monkeypatch, reader)
    mysql_schema.execute(BLOB_DDL)
    most = _row_limit(mysql_schema) // 2  # bytes of binary: twice as many of hex
    mysql_schema.execute(
        "INSERT INTO files VALUES (1, '2026-05-01 01:00:00', REPEAT(X'A5', %s), NULL),"
        " (2, '2026-05-02 01:00:00', REPEAT(X'A5', %s), X'01'),"
        " (3, '2026-05-03 01:00:00', REPEAT(X'A5', %s), REPEAT(X'5A', %s))",
        (most, most, most // 2, most // 2 + 1),
    )
    ctx = build_context(_files_job(mysql_schema, tmp_path))
    spec = ctx.job.tables[0]
    before = mysql_schema.execute("SELECT id, MD5(body), LENGTH(body) FROM files WHERE id = 1")
    assert export_day(ctx, spec, DAY).rows == 1
    assert verify_day(ctx, spec, DAY).ok
    for later, row in ((1, 2), (2, 3)):
        with pytest.raises(
            UnconvertibleTextError,
            match=rf"files: the row with id = {row} is too long: .*\('body', 'extra'; NULLs .*"
            "max_allowed_packet less 128 KiB",
        ):
            export_day(ctx, spec, DAY + dt.timedelta(days=later))
    assert len(list((tmp_path / "arch").rglob("_manifest.json"))) == 1
    manifest = upload.read_manifest(ctx.storage, ctx.partition(spec, DAY))
    assert manifest is not None
    purge_day(ctx, spec, manifest, build_throttle(ctx))
    restore_day(ctx, spec, DAY)
    assert (
        mysql_schema.execute("SELECT id, MD5(body), LENGTH(body) FROM files WHERE id = 1") == before
    )
    mysql_schema.execute("UPDATE files SET extra = X'00' WHERE id = 1")  # past the limit now
    with pytest.raises(UnconvertibleTextError, match=r"the row with id = 1 "):
        purge_day(ctx, spec, manifest, build_throttle(ctx))
    assert mysql_schema.execute("SELECT COUNT(*) FROM files")[0][0] == 3
    ctx.source.close()


def test_restore_names_a_row_too_long_for_one_insert(
    mysql_schema: MySqlSchema, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An archive written before the export checked a row's length (its check disabled here):
    a latin1 text of 0.6 times max_allowed_packet bytes, every one 'é', archived as UTF-8 (1.2
    times the limit). Its restore died "lost the session … run it again", and every rerun the
    same (an outside trial): it now stops before that row's INSERT, naming the row and
    max_allowed_packet; the rows before it stay restored. Today's export refuses that row."""
    from dbarchive.sources import charsets

    mysql_schema.execute(
        "CREATE TABLE long_notes (id INT PRIMARY KEY, ts DATETIME NOT NULL,"
        " body LONGTEXT CHARACTER SET latin1, KEY (ts))"
    )
    size = (_row_limit(mysql_schema) + ROW_MARGIN) * 3 // 5
    mysql_schema.execute(
        "INSERT INTO long_notes VALUES (1, '2026-05-01 01:00:00', 'short'),"
        " (2, '2026-05-01 02:00:00', REPEAT(_latin1 X'E9', %s))",
        (size,),
    )
    table = {"name": "long_notes", "timestamp_column": "ts"}
    ctx = build_context(make_job(mysql_schema.url, str(tmp_path / "arch"), [table]))
    spec = ctx.job.tables[0]
    with pytest.raises(
        UnconvertibleTextError, match=r"the row with id = 2 is too long: .*\('body'"
    ):
        export_day(ctx, spec, DAY)
    ctx.source.close()
    monkeypatch.setattr(charsets, "ROW_MARGIN", -(10**10))  # as an older version wrote it
    ctx = build_context(make_job(mysql_schema.url, str(tmp_path / "arch"), [table]))
    assert export_day(ctx, spec, DAY).rows == 2
    with pytest.raises(SourceError, match=r"the row with id = 2 needs an INSERT of about \d+ "
                       r"bytes, more than the server's max_allowed_packet"):  # fmt: skip
        restore_day(ctx, spec, DAY, into="long_notes_back")
    assert mysql_schema.execute("SELECT id FROM long_notes_back") == [(1,)]
    ctx.source.close()


@pytest.mark.parametrize(("charset", "special"), [("latin1", "é"), ("cp1251", "Ж"), ("utf16", "é")])
def test_a_composite_key_with_text_in_another_charset_is_purged_row_for_row(
    mysql_schema: MySqlSchema, tmp_path: Path, charset: str, special: str
) -> None:
    """A key ``(tenant <charset>, seq)``: MariaDB's ``(a, b) IN ((…), (…))`` compares such text
    as the connection's bytes, so 'é' missed its row and matched 'Ã©' (an outside trial: every
    purge rolled back "deleted 2 rows instead of 3"; a wrong row of equal count would have gone).
    The keys go to the server converted to the column's charset: every archived row is deleted,
    and the row whose bytes are the UTF-8 of the other, on a day the purge keeps, stays."""
    mysql_schema.execute(
        f"CREATE TABLE t (tenant VARCHAR(4) CHARACTER SET {charset} NOT NULL, seq INT NOT NULL,"
        " ts DATETIME NOT NULL, PRIMARY KEY (tenant, seq), KEY (ts)) DEFAULT CHARSET=utf8mb4"
    )
    rows = [("a", 1), (special, 2), ("b", 3), (special + "x", 4)]
    for i, (tenant, seq) in enumerate(rows):
        mysql_schema.execute(
            "INSERT INTO t VALUES (%s, %s, %s)", (tenant, seq, f"2026-05-01 0{i}:00:00")
        )
    utf8_bytes = special.encode().hex()
    mysql_schema.execute(
        f"INSERT INTO t VALUES (CONVERT(X'{utf8_bytes}' USING {charset}), 2, '2026-07-29')"
    )
    kept = mysql_schema.execute("SELECT HEX(tenant), seq FROM t WHERE ts >= '2026-07-01'")
    table = {"name": "t", "timestamp_column": "ts", "chunk_rows": 10}
    ctx = build_context(make_job(mysql_schema.url, str(tmp_path / "arch"), [table]))
    spec = ctx.job.tables[0]
    export_day(ctx, spec, DAY)
    report = TableReport("t")
    purge_table(ctx, spec, DAY + dt.timedelta(days=90), build_throttle(ctx), report)
    ctx.source.close()
    assert report.ok, report.errors
    assert report.rows_deleted == len(rows)
    assert mysql_schema.execute("SELECT HEX(tenant), seq FROM t") == kept


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_a_float_rounded_past_its_declared_range_is_refused_and_the_rest_round_trips(
    mysql_schema: MySqlSchema, tmp_path: Path, fmt: str
) -> None:
    """FLOAT(10,3) stores 9999999.999 as the float 10000000, past what M and D allow, and the
    server takes that text back from no INSERT (an outside trial: archived, verified, purged, and
    the restore refused it and every row of its day). The export refuses that row, naming it;
    a day of values inside the range (its edge too: DOUBLE(17,13) holds and takes back 10000, the
    double its 9999.9999999999999 rounds to) is archived, purged and restored exactly."""
    mysql_schema.execute(
        "CREATE TABLE m (id INT PRIMARY KEY, ts DATETIME NOT NULL, f FLOAT(10,3),"
        " d DOUBLE(12,2) UNSIGNED, e DOUBLE(17,13), KEY (ts))"
    )
    mysql_schema.execute(
        "INSERT INTO m VALUES (1, '2026-05-01 01:00:00', 1.5, 0.25, 10000),"
        " (2, '2026-05-01 02:00:00', -9999999.0, 9999999999.99, -9999.5), (3, '2026-05-01 03:00:00', NULL, 0, NULL),"
        " (4, '2026-05-02 01:00:00', 1.5, 1, 1), (5, '2026-05-02 02:00:00', 9999999.999, 2, 1)"
    )
    before = mysql_schema.execute(
        "SELECT id, CAST(f AS CHAR), CAST(d AS CHAR), CAST(e AS CHAR) FROM m WHERE id < 4"
    )
    table = {"name": "m", "timestamp_column": "ts"}
    ctx = build_context(make_job(mysql_schema.url, str(tmp_path / "arch"), [table], format=fmt))
    spec = ctx.job.tables[0]
    with pytest.raises(
        UnconvertibleTextError, match=r"m: the row with id = 5 holds a value in column 'f' \(float"
    ):
        export_day(ctx, spec, DAY + dt.timedelta(days=1))
    assert export_day(ctx, spec, DAY).rows == 3
    manifest = upload.read_manifest(ctx.storage, ctx.partition(spec, DAY))
    assert manifest is not None
    assert purge_day(ctx, spec, manifest, build_throttle(ctx)).rows_deleted == 3
    assert restore_day(ctx, spec, DAY, into="m_back").ok
    ctx.source.close()
    back = mysql_schema.execute(
        "SELECT id, CAST(f AS CHAR), CAST(d AS CHAR), CAST(e AS CHAR) FROM m_back"
    )
    assert back == before


def test_latin1_text_is_measured_as_utf8_against_the_packet(
    mysql_schema: MySqlSchema, tmp_path: Path
) -> None:
    """latin1 text is counted in UTF-8, as archived: 'é' repeated limit/2 + 1 times fits as latin1 bytes
    and not as UTF-8, so it is refused; 'a' limit/2 times passes the cheap bound's first look (8 bytes a latin1 byte)
    only by the exact count (twice its UTF-8 bytes), and is archived and verified."""
    mysql_schema.execute(
        "CREATE TABLE texts (id INT PRIMARY KEY, ts DATETIME NOT NULL,"
        " body LONGTEXT CHARACTER SET latin1, KEY (ts))"
    )
    half = _row_limit(mysql_schema) // 2
    mysql_schema.execute(
        "INSERT INTO texts VALUES (1, '2026-05-01 01:00:00', REPEAT('a', %s)),"
        " (2, '2026-05-02 01:00:00', REPEAT(CONVERT(X'E9' USING latin1), %s))",
        (half, half + 1),
    )
    ctx = build_context(
        make_job(
            mysql_schema.url, str(tmp_path / "arch"), [{"name": "texts", "timestamp_column": "ts"}]
        )
    )
    spec = ctx.job.tables[0]
    assert export_day(ctx, spec, DAY).rows == 1
    assert verify_day(ctx, spec, DAY).ok
    with pytest.raises(UnconvertibleTextError, match=r"texts: the row with id = 2 is too long"):
        export_day(ctx, spec, DAY + dt.timedelta(days=1))
    ctx.source.close()


def test_text_is_measured_with_the_escapes_its_insert_will_carry(
    mysql_schema: MySqlSchema, tmp_path: Path
) -> None:
    """A quote goes to the server as two bytes: a row of limit/2 + 1 quotes fits the packet as
    text but not as a restore's INSERT, so it is refused (an outside trial: 9 MB of quotes was
    archived, verified and purged, and then every restore lost the session); limit/2 - 1
    quotes and backslashes are archived, purged and restored byte for byte."""
    mysql_schema.execute(
        "CREATE TABLE quotes (id INT PRIMARY KEY, ts DATETIME NOT NULL,"
        " body LONGTEXT CHARACTER SET latin1, KEY (ts))"
    )
    half = _row_limit(mysql_schema) // 2
    mysql_schema.execute(
        "INSERT INTO quotes VALUES (1, '2026-05-01 01:00:00', CONCAT(REPEAT('''', %s), '\\\\')),"
        " (2, '2026-05-02 01:00:00', REPEAT('''', %s))",
        (half - 2, half + 1),
    )
    before = mysql_schema.execute("SELECT MD5(body), LENGTH(body) FROM quotes WHERE id = 1")
    job = make_job(
        mysql_schema.url, str(tmp_path / "arch"), [{"name": "quotes", "timestamp_column": "ts"}]
    )
    ctx = build_context(job)
    spec = ctx.job.tables[0]
    with pytest.raises(UnconvertibleTextError, match=r"quotes: the row with id = 2 is too long"):
        export_day(ctx, spec, DAY + dt.timedelta(days=1))
    assert export_day(ctx, spec, DAY).rows == 1
    manifest = upload.read_manifest(ctx.storage, ctx.partition(spec, DAY))
    assert manifest is not None
    assert purge_day(ctx, spec, manifest, build_throttle(ctx)).rows_deleted == 1
    assert restore_day(ctx, spec, DAY).ok
    ctx.source.close()
    assert mysql_schema.execute("SELECT MD5(body), LENGTH(body) FROM quotes WHERE id = 1") == before


def test_a_key_scan_of_a_text_key_in_another_charset_is_refused_and_time_scan_archives_it(
    mysql_schema: MySqlSchema, tmp_path: Path
) -> None:
    """A greek key whose highest value, 0xFF, has no UTF-8 form: its bound read '?', the key
    scan stopped there and the day was published without its rows, verify OK (an outside fuzz
    trial). ``scan = "key"`` is refused for such a key, naming the way out; through the time
    index the same day is refused for the value itself, every row kept."""
    mysql_schema.execute(
        "CREATE TABLE g (k VARCHAR(10) CHARACTER SET greek COLLATE greek_bin NOT NULL PRIMARY KEY,"
        " ts DATETIME NOT NULL, KEY (ts))"
    )
    mysql_schema.execute(
        "INSERT INTO g VALUES (_greek X'61', '2026-05-01 01:00:00'), (_greek X'FF', '2026-05-01 02:00:00')"
    )
    for scan, error in (("key", NoUsableKeyError), ("time", UnconvertibleTextError)):
        table = {"name": "g", "timestamp_column": "ts", "scan": scan}
        ctx = build_context(make_job(mysql_schema.url, str(tmp_path / scan), [table]))
        with pytest.raises(error, match="scan = 'time'" if scan == "key" else "the row with k = "):
            export_day(ctx, ctx.job.tables[0], DAY)
        ctx.source.close()
        assert not list((tmp_path / scan).rglob("_manifest.json"))
    assert mysql_schema.execute("SELECT COUNT(*) FROM g")[0][0] == 2


def test_a_latin1_text_key_is_archived_purged_and_restored_by_time_with_the_default_scan(
    mysql_schema: MySqlSchema, tmp_path: Path
) -> None:
    """A legacy latin1 UUID key, scan left at its default: the export went through the time
    index, but the purge and status sized the day by its key range and were refused ("use scan
    = 'time' or 'auto'") every run, with scan = 'time' set too (an outside re-test). Every
    step goes by time now: the day is archived, purged and restored exactly."""
    mysql_schema.execute(
        "CREATE TABLE u (id CHAR(36) CHARACTER SET latin1 NOT NULL PRIMARY KEY,"
        " ts DATETIME NOT NULL, note VARCHAR(10) CHARACTER SET latin1, KEY (ts))"
    )
    mysql_schema.execute(
        "INSERT INTO u SELECT UUID(), %s + INTERVAL seq MINUTE, _latin1 X'E9' FROM seq_0_to_19",
        (f"{DAY} 00:00:00",),
    )
    before = mysql_schema.execute("SELECT id, ts, HEX(note) FROM u ORDER BY id")
    table = {"name": "u", "timestamp_column": "ts", "retention": "30 days"}
    job = make_job(mysql_schema.url, str(tmp_path / "arch"), [table])
    ctx = build_context(job)
    (report,) = run(ctx, list(job.tables), DAY + dt.timedelta(days=40), build_throttle(ctx))
    assert report.failures == [] and report.rows_deleted == 20
    assert mysql_schema.execute("SELECT COUNT(*) FROM u")[0][0] == 0
    assert restore_day(ctx, job.tables[0], DAY).ok
    ctx.source.close()
    assert mysql_schema.execute("SELECT id, ts, HEX(note) FROM u ORDER BY id") == before
