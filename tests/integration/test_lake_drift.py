"""Every documented reader of the archive over a table whose columns changed between two days
(``lake_drift.py``): a column added, one dropped, one widened. Each reader, run for real over the
archive, must give the database's answers, with the exact types (BIGINT UNSIGNED and
DECIMAL(65,30) included)."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.fs as pafs
import pytest
from click.testing import CliRunner

from dbarchive.build import build_storage
from dbarchive.cli import cli
from dbarchive.ddl import read_definition
from dbarchive.ddl.arrow import archive_dataset
from dbarchive.layout import Layout
from tests.integration.conftest import S3Endpoint
from tests.integration.lake_drift import (
    DAYS,
    archive_drifted,
    offline_duckdb,
    reader_facts,
    source_facts,
)
from tests.integration.mysql_fixtures import MySqlSchema, mysql_schema  # noqa: F401


def _config(path: Path, schema: MySqlSchema, dest: str, fmt: str, extra: str = "") -> Path:
    path.write_text(
        f'[source]\nurl = "{schema.url}"\n[destination]\nurl = "{dest}"\n{extra}'
        f'[defaults]\nformat = "{fmt}"\n[[tables]]\nname = "everything"\ntimestamp_column = "ts"\n'
    )
    return path


def _ddl(config: Path, engine: str) -> str:
    result = CliRunner().invoke(
        cli, ["ddl", "-c", str(config), "-t", "everything", "--engine", engine]
    )
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_the_duckdb_view_reads_drifted_days_by_name(
    mysql_schema: MySqlSchema, tmp_path: Path, fmt: str
) -> None:
    """`ddl --engine duckdb` over days with different columns (CSV: and compressions, gzip then
    zstd) runs as printed; each day's columns read by name (NULL where the day lacks one) and
    every answer is the database's."""
    dest = str(tmp_path / "arch")
    drifted = archive_drifted(mysql_schema, dest, fmt, "zstd" if fmt == "csv" else None)
    text = _ddl(_config(tmp_path / "job.toml", mysql_schema, dest, fmt), "duckdb")
    assert f"-- partitions disagree on columns ({DAYS[0]}" in text
    con = duckdb.connect()
    con.execute(text)
    types = dict(con.sql("SELECT column_name, column_type FROM (DESCRIBE everything)").fetchall())
    assert (types["bi"], types["dec65"], types["i"]) == ("DECIMAL(20,0)", "VARCHAR", "BIGINT")
    assert reader_facts(con, binary_is_hex=fmt == "csv") == source_facts(mysql_schema, drifted)


def _s3(endpoint: S3Endpoint) -> pafs.S3FileSystem:
    return pafs.S3FileSystem(
        access_key=endpoint.access_key,
        secret_key=endpoint.secret_key,
        endpoint_override=endpoint.url,
        region=endpoint.region,
        scheme="http",
    )


@pytest.mark.parametrize(
    ("fmt", "compression"), [("csv", "gzip"), ("csv", "zstd"), ("parquet", "zstd")]
)
def test_archive_dataset_reads_drifted_days_over_s3(
    mysql_schema: MySqlSchema,
    s3_endpoint: S3Endpoint,
    s3_bucket: str,
    monkeypatch: pytest.MonkeyPatch,
    fmt: str,
    compression: str,
) -> None:
    """`archive_dataset` over the S3 server reads `.csv.zst` parts (pyarrow took them for plain
    text) and has the column added after the oldest day (pyarrow took the oldest file's
    schema and dropped it), with the definition's exact types."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3_endpoint.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3_endpoint.secret_key)
    dest = f"s3://{s3_bucket}/arch"
    drifted = archive_drifted(mysql_schema, dest, fmt, compression=compression,
                              endpoint_url=s3_endpoint.url, region=s3_endpoint.region)  # fmt: skip
    defn = read_definition(build_storage(drifted.job), dest, "everything", Layout.HIVE)
    dataset = archive_dataset(defn, _s3(s3_endpoint), f"{s3_bucket}/arch/everything")
    table = dataset.to_table()
    assert table.schema.field("bi").type == pa.decimal128(20, 0)
    assert table.schema.field("dec65").type == pa.string()
    assert table.schema.field("i").type == pa.int64()
    assert table.schema.field("note").type == pa.string()
    con = duckdb.connect()
    con.register("everything", table)  # DuckDB as the calculator over the Arrow table
    assert reader_facts(con, binary_is_hex=fmt == "csv") == source_facts(mysql_schema, drifted)


def test_athena_warns_about_the_columns_its_serde_reads_wrong(
    mysql_schema: MySqlSchema, tmp_path: Path
) -> None:
    """The export records, per file, the columns whose values hold a line break or the text \\N
    (read from MariaDB through the export's own reader), and `ddl --engine athena` names each
    such column with its days; the columns without such values are not named."""
    dest = str(tmp_path / "arch")
    archive_drifted(mysql_schema, dest, "csv")
    manifests = [json.loads(p.read_text()) for p in sorted(tmp_path.rglob("_manifest.json"))]
    stats = [f["column_stats"] for m in manifests for f in m["files"]]
    assert {c for s in stats for c in s["line_breaks"]} == {"vc", "tx", "lt"}
    assert {c for s in stats for c in s["null_text"]} == {"vc"}
    text = _ddl(_config(tmp_path / "job.toml", mysql_schema, dest, "csv"), "athena")
    days = f"{DAYS[0]}, {DAYS[1]}"
    warned = sorted(line.split()[3] for line in text.splitlines() if "-- WARNING" in line)
    assert warned == ["lt", "tx", "vc", "vc"]
    assert f"-- WARNING: column vc holds line breaks ({days}): OpenCSVSerDe" in text
    assert f"-- WARNING: column vc holds the text \\N ({days}): OpenCSVSerDe" in text
    assert "TRY_CAST" not in text


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_the_duckdb_script_reads_an_s3_archive_at_the_configured_endpoint(
    mysql_schema: MySqlSchema,
    s3_endpoint: S3Endpoint,
    s3_bucket: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    fmt: str,
) -> None:
    """`ddl --engine duckdb` for an s3:// archive behind `endpoint_url` makes its secret with
    that endpoint and region (path-style, TLS as the URL's scheme says), and the script, run as
    printed (httpfs and aws from their PyPI packages), reads the drifted days from the S3 server
    with the database's answers."""
    for name, value in (("AWS_ACCESS_KEY_ID", s3_endpoint.access_key),
                        ("AWS_SECRET_ACCESS_KEY", s3_endpoint.secret_key),
                        ("AWS_EC2_METADATA_DISABLED", "true")):  # fmt: skip
        monkeypatch.setenv(name, value)
    dest = f"s3://{s3_bucket}/arch"
    drifted = archive_drifted(mysql_schema, dest, fmt, compression="zstd",
                              endpoint_url=s3_endpoint.url, region=s3_endpoint.region)  # fmt: skip
    where = f'endpoint_url = "{s3_endpoint.url}"\nregion = "{s3_endpoint.region}"\n'
    text = _ddl(_config(tmp_path / "job.toml", mysql_schema, dest, fmt, where), "duckdb")
    host = s3_endpoint.url.removeprefix("http://")
    secret = (
        f"""CREATE OR REPLACE SECRET "dbarchive_everything" (TYPE s3, PROVIDER credential_chain, """
        f"SCOPE '{dest}/everything/', REGION '{s3_endpoint.region}', ENDPOINT '{host}', "
        "URL_STYLE 'path', USE_SSL false);"
    )
    assert secret in text.splitlines()  # checked before running: no other host is ever asked
    con = offline_duckdb(tmp_path / "duckdb-extensions")
    con.execute(text)
    assert reader_facts(con, binary_is_hex=fmt == "csv") == source_facts(mysql_schema, drifted)
