"""MariaDB's UUID, INET6 and INET4 (a UUID primary key included), and GEOMETRY/POINT.

UUID/INET6/INET4 are archived as the text the server prints (and parses back): Parquet string
with the MySQL type in the field metadata and the manifest, string in every DDL. A geometry is
archived as its stored bytes — the 4-byte little-endian SRID, then the WKB — in upper-case hex
(CSV) or as binary (Parquet), and comes back byte for byte. The oracle is the stored bytes:
``HEX()`` of every value, read before the purge and after the restore.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import duckdb
import pyarrow.parquet as pq
import pytest

from dbarchive.formats.csv import iter_rows
from tests.integration.mysql_fixtures import MySqlSchema, mysql_schema  # noqa: F401
from tests.integration.test_cli import run_cli, write_config

pytestmark = pytest.mark.integration

DDL = """CREATE TABLE places (
  u UUID NOT NULL PRIMARY KEY, ts DATETIME(6) NOT NULL, i6 INET6 NULL, i4 INET4 NULL,
  g GEOMETRY NULL, p POINT NULL, KEY (ts)
)"""
ROWS = [  # u (upper case in, lower case out), ts, i6, i4, g as WKT and SRID, p
    ("123E4567-E89B-12D3-A456-426655440000", "2026-01-05 01:00:00", "2001:db8::ff00:42:8329",
     "192.168.0.1", "POLYGON((0 0,1 0,1 1,0 0))", 4326, "POINT(1.5 -2.25)"),
    ("ffffffff-0000-1111-2222-333333333333", "2026-01-05 02:00:00", "::ffff:1.2.3.4",
     "255.255.255.255", "LINESTRING(0 0,3 1.5)", 3857, "POINT(0.1 0.2)"),
    ("00000000-0000-0000-0000-000000000000", "2026-01-05 03:00:00", "::", "0.0.0.0",  # noqa: S104
     "GEOMETRYCOLLECTION(POINT(1 2),LINESTRING(0 0,1 1))", 0, None),
    ("01234567-89ab-4def-8123-456789abcdef", "2026-01-05 04:00:00", None, None, None, None,
     "POINT(-180 90)"),
]  # fmt: skip
MORE = 200  # and rows from the server's UUID(), several chunks of them


def _load(schema: MySqlSchema) -> None:
    schema.execute(DDL)
    for u, ts, i6, i4, wkt, srid, point in ROWS:
        schema.execute(
            "INSERT INTO places VALUES (%s, %s, %s, %s, ST_GeomFromText(%s, %s),"
            " ST_GeomFromText(%s))",
            (u, ts, i6, i4, wkt, srid or 0, point),
        )
    schema.execute(
        "INSERT INTO places SELECT UUID(), TIMESTAMP('2026-01-05 05:00') + INTERVAL seq MINUTE,"
        " CONCAT('fe80::', HEX(seq)), CONCAT('10.0.', seq DIV 256, '.', seq % 256),"
        " ST_GeomFromText(CONCAT('POINT(', seq, ' ', seq / 8, ')'), 4326), POINT(seq, -seq)"
        f" FROM seq_1_to_{MORE}"
    )


def _stored(schema: MySqlSchema) -> list[tuple[Any, ...]]:
    """Every value's stored bytes (HEX), ordered by the UUID's."""
    return schema.execute(
        "SELECT HEX(u), ts, HEX(i6), HEX(i4), HEX(g), HEX(p) FROM places ORDER BY HEX(u)"
    )


@pytest.mark.parametrize(
    ("fmt", "reader"), [("csv", "c"), ("parquet", "c"), ("csv", "python"), ("parquet", "python")]
)
def test_uuid_inet_and_geometry_round_trip_exactly(
    mysql_schema: MySqlSchema,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    fmt: str,
    reader: str,
) -> None:
    if reader == "python":
        from dbarchive.sources import mysql_direct

        monkeypatch.setattr(mysql_direct, "_module", None)
    _load(mysql_schema)
    before = _stored(mysql_schema)
    dest = tmp_path / "arch"
    table = {
        "name": "places", "timestamp_column": "ts", "format": fmt, "chunk_rows": 25,
        "retention": "7 days",
    }  # fmt: skip
    config = str(
        write_config(
            tmp_path / "archive.toml", {"url": mysql_schema.url}, {"url": str(dest)}, [table]
        )
    )

    result = run_cli("export", "-c", config, "--date", "2026-01-05", "--json")
    assert result.exit_code == 0, result.output
    (summary,) = json.loads(result.stdout)
    assert (summary["rows"], summary["scan"]) == (len(ROWS) + MORE, "time")  # UUID key: by time
    manifest = json.loads((dest / summary["manifest"]).read_text())
    assert [(c["name"], c["mysql_type"]) for c in manifest["columns"]] == [
        ("u", "uuid"), ("ts", "datetime(6)"), ("i6", "inet6"), ("i4", "inet4"),
        ("g", "geometry"), ("p", "point"),
    ]  # fmt: skip
    (part,) = (dest / f for f in summary["files"])
    if fmt == "csv":
        with gzip.open(part, "rb") as f:
            first = next(r for r in iter_rows(f) if r[0] == b"123e4567-e89b-12d3-a456-426655440000")
        assert first[2:4] == [b"2001:db8::ff00:42:8329", b"192.168.0.1"]
        stored = next(r for r in before if r[0] == "123E4567E89B12D3A456426655440000")
        assert first[4] == stored[4].encode() and first[4].startswith(b"E6100000")  # SRID 4326
    else:
        fields = {f.name: f for f in pq.read_schema(part)}
        assert [str(fields[n].type) for n in ("u", "i6", "i4", "g", "p")] == [
            "string", "string", "string", "binary", "binary",
        ]  # fmt: skip
        assert fields["u"].metadata == {b"mysql_type": b"uuid"}

    result = run_cli("verify", "-c", config, "--date", "2026-01-05")
    assert result.exit_code == 0, result.output
    result = run_cli("ddl", "-c", config, "-t", "places", "--engine", "athena")
    assert result.exit_code == 0, result.output
    for name in ("u", "i6", "i4"):
        assert f"`{name}` string" in result.stdout
    result = run_cli("ddl", "-c", config, "-t", "places", "--engine", "duckdb")
    assert result.exit_code == 0, result.output
    lake = duckdb.connect()
    lake.execute(result.stdout)
    assert lake.execute(
        "SELECT i6, i4 FROM places WHERE u = '123e4567-e89b-12d3-a456-426655440000'"
    ).fetchall() == [("2001:db8::ff00:42:8329", "192.168.0.1")]

    result = run_cli("purge", "-c", config, "--today", "2026-02-01", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["tables"][0]["purged"][0]["rows_deleted"] == len(ROWS) + MORE
    assert _stored(mysql_schema) == []
    result = run_cli("restore", "-c", config, "-t", "places", "--date", "2026-01-05")
    assert result.exit_code == 0, result.output
    assert _stored(mysql_schema) == before
