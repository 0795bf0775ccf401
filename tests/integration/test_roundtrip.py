"""Exact data: every MySQL type survives archive → read back → restore into MySQL, byte for byte."""

from __future__ import annotations

import csv
import io
import os
from typing import Any

import pytest

from dbarchive import build_context, export_day
from dbarchive.formats.compression import compression_for_name, open_decompressed
from dbarchive.formats.csv import iter_rows
from dbarchive.jobs.restore import restore_day
from dbarchive.manifest import Manifest
from dbarchive.storage import Storage
from tests.integration.every_type import COLUMNS, DAY, DDL, STRINGS, load_every_type
from tests.integration.helpers import make_job
from tests.integration.mysql_fixtures import MySqlSchema, mysql_schema  # noqa: F401


def _read_archive(storage: Storage, manifest: Manifest) -> list[list[bytes | None]]:
    rows: list[list[bytes | None]] = []
    for entry in manifest.files:
        with storage.open_reader(entry.key) as raw:
            text = open_decompressed(raw, compression_for_name(entry.key)).read()
        parsed = list(iter_rows(io.BytesIO(text)))
        assert parsed[0] == [c.encode() for c in COLUMNS]
        # Python's csv reads the same values (it cannot tell NULL from the text \N, we can);
        # long TEXT needs its field limit raised, as the README says.
        csv.field_size_limit(2**31 - 1)
        plain = list(csv.reader(io.StringIO(text.decode(), newline="")))
        assert plain == [[("\\N" if v is None else v.decode()) for v in r] for r in parsed]
        rows += parsed[1:]
    return rows


@pytest.mark.parametrize("compression", ["gzip", "zstd", "none"])
@pytest.mark.parametrize("destination", ["local", "s3"])
def test_every_type_survives_archive_and_restore(
    mysql_schema: MySqlSchema,
    tmp_path: Any,
    request: pytest.FixtureRequest,
    compression: str,
    destination: str,
) -> None:
    """Archive → CSV → `restore --into` gives byte-identical rows for every type, NULL, tricky text."""
    schema = mysql_schema
    schema.execute(DDL)
    load_every_type(schema, "everything")
    if destination == "s3":
        endpoint = request.getfixturevalue("s3_endpoint")
        bucket = request.getfixturevalue("s3_bucket")
        mp = request.getfixturevalue("monkeypatch")
        mp.setenv("AWS_ACCESS_KEY_ID", endpoint.access_key)
        mp.setenv("AWS_SECRET_ACCESS_KEY", endpoint.secret_key)
        job = make_job(schema.url, f"s3://{bucket}/arch", [{"name": "everything", "timestamp_column": "ts", "chunk_rows": 4}],
                       compression=compression, endpoint_url=endpoint.url, region=endpoint.region)  # fmt: skip
    else:
        job = make_job(schema.url, str(tmp_path / "a"), [{"name": "everything", "timestamp_column": "ts", "chunk_rows": 4}],
                       compression=compression)  # fmt: skip
    ctx = build_context(job)
    result = export_day(ctx, job.tables[0], DAY)
    assert result.rows == len(STRINGS)
    manifest = Manifest.loads(ctx.storage.get_bytes(result.manifest_key) or b"")
    archived = _read_archive(ctx.storage, manifest)
    assert len(archived) == len(STRINGS)
    restored = restore_day(ctx, job.tables[0], DAY, into="restored")
    assert restored.ok, restored.problems
    assert (restored.written, restored.skipped, restored.created_table) == (len(STRINGS), 0, True)
    same = " AND ".join(f"CAST(a.`{c}` AS BINARY) <=> CAST(b.`{c}` AS BINARY)" for c in COLUMNS)
    (matched,) = schema.execute(
        f"SELECT COUNT(*) FROM everything a JOIN restored b ON {same} AND a.f <=> b.f"
    )[0]
    assert matched == len(STRINGS)
    # The database computes the same digest over the same day as the archive holds.
    info = ctx.describe(job.tables[0])
    assert (
        ctx.source.digest_day(info, ctx.source.window(job.tables[0], info, DAY)) == manifest.digest
    )
    ctx.source.close()


def test_csv_text_of_special_values(mysql_schema: MySqlSchema, tmp_path: Any) -> None:
    """The documented renderings: DECIMAL keeps scale, DATETIME(6) six digits, FLOAT exact, hex."""
    mysql_schema.execute(DDL)
    load_every_type(mysql_schema, "everything")
    job = make_job(
        mysql_schema.url, str(tmp_path), [{"name": "everything", "timestamp_column": "ts"}]
    )
    ctx = build_context(job)
    result = export_day(ctx, job.tables[0], DAY)
    manifest = Manifest.loads(ctx.storage.get_bytes(result.manifest_key) or b"")
    row = dict(zip(COLUMNS, _read_archive(ctx.storage, manifest)[2], strict=True))
    assert row["dec4"] == b"1.5000"
    assert row["dt6"] == b"2026-05-01 00:00:00.000000"
    assert row["f"] == b"0.10000000149011612"
    assert row["d"] == b"0.1"
    assert row["vb"] == b""
    assert row["bt"] == b"0"
    extremes = dict(zip(COLUMNS, _read_archive(ctx.storage, manifest)[1], strict=True))
    assert extremes["bn"] == b"00010000"
    assert extremes["bt"] == b"682"
    assert extremes["bi"] == b"18446744073709551615"
    assert extremes["tm"] == b"-838:59:59.000000"
    assert extremes["dt0"] == b"0000-00-00 00:00:00"
    ctx.source.close()


def _export_files(schema: MySqlSchema, folder: Any, chunk_rows: int) -> dict[str, bytes]:
    job = make_job(schema.url, str(folder), [{"name": "everything", "timestamp_column": "ts", "chunk_rows": chunk_rows}],
                   compression="none")  # fmt: skip
    ctx = build_context(job)
    export_day(ctx, job.tables[0], DAY)
    used_c_reader = ctx.source._direct is not None
    ctx.source.close()
    files = {p.name: p.read_bytes() for p in folder.rglob("part-*")}
    manifest = Manifest.loads(next(folder.rglob("_manifest.json")).read_bytes())
    files["digest"] = repr(manifest.digest).encode()
    files["keys"] = repr([(f.first_key, f.last_key, f.rows) for f in manifest.files]).encode()
    files["c_reader"] = b"yes" if used_c_reader else b"no"
    return files


@pytest.mark.parametrize("chunk_rows", [1, 4, 1000])
def test_c_reader_writes_exactly_what_the_driver_path_writes(
    mysql_schema: MySqlSchema, tmp_path: Any, monkeypatch: pytest.MonkeyPatch, chunk_rows: int
) -> None:
    """The C reader (protocol → CSV) and the driver path (values → encode_rows) write the same
    bytes, digest and part keys for every type, whatever the chunk size."""
    from dbarchive.sources import mysql_direct

    if os.environ.get("DBARCHIVE_PURE_PYTHON") == "1":
        pytest.skip("the C paths are switched off")
    assert mysql_direct.available(), "the C reader was not built: install the MySQL client headers"
    mysql_schema.execute(DDL)
    load_every_type(mysql_schema, "everything")
    direct = _export_files(mysql_schema, tmp_path / "direct", chunk_rows)
    monkeypatch.setattr(mysql_direct, "_module", None)
    driver = _export_files(mysql_schema, tmp_path / "driver", chunk_rows)
    assert direct.pop("c_reader") == b"yes"
    assert driver.pop("c_reader") == b"no"
    assert direct == driver
