"""Crash safety: an export killed (SIGKILL) at any step leaves no complete-looking partition,
and a rerun produces the exact archive, with no lost row, no duplicate and no stale object."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from dbarchive import build_context, load_job
from dbarchive.layout import PartitionPath
from dbarchive.manifest import Manifest
from tests.integration.helpers import LOG_TABLE_DDL, fill_events
from tests.integration.mysql_fixtures import MySqlSchema, mysql_schema  # noqa: F401

DAY = dt.date(2026, 11, 24)
ROWS = 40_000
S3_ROWS = 150_000  # ~9 MiB of CSV: more than one 5 MiB multipart part


def _config(schema: MySqlSchema, dest: str, tmp_path: Path, extra_destination: str = "") -> Path:
    path = tmp_path / "job.toml"
    path.write_text(
        f'[source]\nurl = "{schema.url}"\n\n[destination]\nurl = "{dest}"\n{extra_destination}\n'
        '[defaults]\ncompression = "none"\nmax_file_mib = 1\nchunk_rows = 2000\n\n'
        '[[tables]]\nname = "events"\ntimestamp_column = "created_at"\n'
    )
    return path


def _export(config: Path, failpoint: str | None = None, env: dict[str, str] | None = None) -> int:
    run_env = {**os.environ, **(env or {})}
    run_env.pop("DBARCHIVE_FAILPOINT", None)
    if failpoint:
        run_env["DBARCHIVE_FAILPOINT"] = failpoint
    cmd = [
        sys.executable,
        "-m",
        "dbarchive",
        "export",
        "-c",
        str(config),
        "--date",
        DAY.isoformat(),
        "-q",
    ]
    return subprocess.run(
        cmd, env=run_env, timeout=180, capture_output=True, check=False
    ).returncode


def _check_exact(config: Path, rows: int = ROWS, staged_left: bool = False) -> Manifest:
    """The partition's manifest matches the source digest, and only listed data files exist
    (beside the manifest, the record of each generation's claim and the folder's claim)."""
    job = load_job(config)
    ctx = build_context(job)
    partition = PartitionPath("events", DAY)
    raw = ctx.storage.get_bytes(partition.manifest_key)
    assert raw is not None
    manifest = Manifest.loads(raw)
    spec = job.tables[0]
    info = ctx.describe(spec)
    assert manifest.rows == rows
    assert ctx.source.digest_day(info, ctx.source.window(spec, info, DAY)) == manifest.digest
    stored = {o.key for o in ctx.storage.list_objects("events/")}
    if staged_left:  # a killed re-export's hidden files: never listed, removed by the next one
        stored = {k for k in stored if "/_staged-part-" not in k}
    claims = {partition.generation_manifest_key(g) for g in range(1, manifest.generation + 1)}
    claims.add("events/_dbarchive_table.json")  # the table folder's (steps/folder_claim.py)
    assert stored - claims == {f.key for f in manifest.files} | {partition.manifest_key}
    assert partition.generation_manifest_key(manifest.generation) in stored
    for entry in manifest.files:
        with ctx.storage.open_reader(entry.key) as f:
            assert len(f.read()) == entry.bytes
    ctx.source.close()
    return manifest


def _hidden_leftovers(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and "dbarchive-tmp" in p.name]


@pytest.mark.parametrize(
    "failpoint",
    [
        "export.part-committed",
        "export.part-committed:2",
        "export.before-manifest",
        "export.after-manifest",
    ],
)
def test_killed_export_then_rerun_is_exact(
    mysql_schema: MySqlSchema, tmp_path: Path, failpoint: str
) -> None:
    """SIGKILL at a step → no manifest unless it was written; rerun → exact, nothing stale."""
    mysql_schema.execute(LOG_TABLE_DDL)
    fill_events(mysql_schema, "2026-11-24", ROWS)
    dest = tmp_path / "archive"
    config = _config(mysql_schema, str(dest), tmp_path)
    assert _export(config, failpoint) == -signal.SIGKILL
    manifest_path = dest / PartitionPath("events", DAY).manifest_key
    assert manifest_path.exists() == (failpoint == "export.after-manifest")
    assert _export(config) == 0
    _check_exact(config)
    assert _hidden_leftovers(dest) == []


def test_killed_reexport_keeps_the_committed_archive(
    mysql_schema: MySqlSchema, tmp_path: Path
) -> None:
    """Killed while re-exporting a complete partition: the committed manifest and its files stay
    as they were (nothing new is visible); the rerun of the unchanged day publishes nothing."""
    mysql_schema.execute(LOG_TABLE_DDL)
    fill_events(mysql_schema, "2026-11-24", ROWS)
    dest = tmp_path / "archive"
    config = _config(mysql_schema, str(dest), tmp_path)
    assert _export(config) == 0
    first = _check_exact(config).content()
    visible_before = sorted(p.name for p in dest.rglob("part-*"))
    assert _export(config, "export.part-committed") == -signal.SIGKILL
    assert _check_exact(config, staged_left=True).content() == first  # committed, files present
    assert sorted(p.name for p in dest.rglob("part-*")) == visible_before  # staged: hidden
    assert _export(config) == 0
    assert _check_exact(config).content() == first
    assert not list(dest.rglob("_staged-*"))


def test_file_being_written_is_hidden_from_readers(
    mysql_schema: MySqlSchema, tmp_path: Path
) -> None:
    """A part killed mid-write is a dot-file (ignored by Athena/Spark) and is cleaned on rerun."""
    mysql_schema.execute(LOG_TABLE_DDL)
    fill_events(mysql_schema, "2026-11-24", ROWS)
    dest = tmp_path / "archive"
    config = _config(mysql_schema, str(dest), tmp_path)
    # The second part is open when the first is committed: kill there.
    assert _export(config, "export.part-committed") == -signal.SIGKILL
    visible = [p.name for p in dest.rglob("*") if p.is_file() and not p.name.startswith((".", "_"))]
    assert visible == ["part-g0001-00000.csv"]
    assert _export(config) == 0
    assert _hidden_leftovers(dest) == []


def test_killed_s3_export_mid_multipart_then_rerun(
    mysql_schema: MySqlSchema,
    tmp_path: Path,
    s3_endpoint: Any,
    s3_bucket: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Killed between two parts of a multipart upload: nothing visible, rerun exact, no upload left."""
    import boto3

    mysql_schema.execute(LOG_TABLE_DDL)
    fill_events(mysql_schema, "2026-11-24", S3_ROWS)
    env = {
        "AWS_ACCESS_KEY_ID": s3_endpoint.access_key,
        "AWS_SECRET_ACCESS_KEY": s3_endpoint.secret_key,
        "AWS_DEFAULT_REGION": s3_endpoint.region,
    }
    extra = f'endpoint_url = "{s3_endpoint.url}"\npart_size_mib = 5\n'
    config = _config(mysql_schema, f"s3://{s3_bucket}/arch", tmp_path, extra)
    config.write_text(config.read_text().replace("max_file_mib = 1", "max_file_mib = 12"))
    assert _export(config, "storage.part-uploaded", env) == -signal.SIGKILL
    s3 = boto3.client("s3", endpoint_url=s3_endpoint.url, region_name=s3_endpoint.region,
                      aws_access_key_id=s3_endpoint.access_key, aws_secret_access_key=s3_endpoint.secret_key)  # fmt: skip
    listed = s3.list_objects_v2(Bucket=s3_bucket).get("Contents", [])
    assert not [o for o in listed if o["Key"].endswith("_manifest.json")]
    assert s3.list_multipart_uploads(Bucket=s3_bucket).get("Uploads"), (
        "the kill should leave an upload"
    )
    assert _export(config, None, env) == 0
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    manifest = _check_exact(config, S3_ROWS)
    assert manifest.files[0].bytes > 5 * 1024 * 1024, "the part must really be multipart"
    assert not s3.list_multipart_uploads(Bucket=s3_bucket).get("Uploads")
