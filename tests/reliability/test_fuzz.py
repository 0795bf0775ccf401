"""Fuzzing for a bounded time (issue 7, matrix 9): the config loader and the archive reader
take any bytes without an uncaught exception. Each target runs in its own process (libFuzzer
exits when done), seeded with real inputs."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.reliability.scenario import ROOT, SCALE

pytest.importorskip("atheris")
SECONDS = 8 * SCALE


@pytest.mark.parametrize("target", ["config", "archive"])
def test_fuzz_target_has_no_uncaught_exception(target: str, tmp_path: Path) -> None:
    """atheris for SECONDS on one target: it ends by its time limit, with no crash found."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    if target == "config":
        shutil.copy(ROOT / "examples" / "archive.toml", corpus / "example.toml")
    else:
        (corpus / "plain").write_bytes(b'\x00"id","x"\n"1",\\N\n"2","a""b"\n')
        (corpus / "manifest").write_bytes(b'{"manifest_version": 1, "table": "events"}')
    proc = subprocess.run(
        [sys.executable, "-m", "tests.reliability.fuzz", target, str(corpus),
         f"-max_total_time={SECONDS}", "-rss_limit_mb=2048", f"-artifact_prefix={tmp_path}/"],
        cwd=ROOT, capture_output=True, text=True, timeout=SECONDS + 120, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "Done" in proc.stderr and "Uncaught Python exception" not in proc.stderr


def test_found_by_fuzzing_a_config_that_is_not_utf8_is_a_config_error(tmp_path: Path) -> None:
    """Regression (atheris, first second): bytes that are not UTF-8 crashed load_job."""
    from dbarchive.config import load_job
    from dbarchive.errors import ConfigError

    path = tmp_path / "job.toml"
    path.write_bytes(b"\xe1\n")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_job(path)


@pytest.mark.parametrize(
    ("name", "data"), [("part-00000.csv.gz", b"\n\n"), ("part-00000.csv.zst", b"\x28\xb5\x2f\xfd")]
)
def test_found_by_fuzzing_a_truncated_compressed_file_is_a_verify_problem(
    tmp_path: Path, name: str, data: bytes
) -> None:
    """Regression: a truncated gzip/zstd archive file crashed verify (and so the purge) with
    EOFError; it is now reported as a problem of that file, and nothing is trusted."""
    import datetime as dt

    from dbarchive.checksum import RowDigest
    from dbarchive.manifest import FileEntry, Manifest
    from dbarchive.steps.archive_files import check_files
    from dbarchive.storage.local import LocalStorage

    storage = LocalStorage(str(tmp_path))
    storage.put_bytes(name, data)
    entry = FileEntry(name, len(data), 1, "0" * 64, RowDigest(1, 1, 1, 1))
    manifest = Manifest(
        "events", "db", dt.date(2026, 12, 7), "UTC", "", "", ("", ""), "csv", "gzip", (),
        ("id",), "created_at", "key", (entry,), RowDigest(1, 1, 1, 1), "", "", "",
    )  # fmt: skip
    problems = check_files(storage, manifest)
    assert any("cannot be read back" in p or "unreadable" in p or "SHA-256" in p for p in problems)


def test_found_by_fuzzing_a_manifest_that_is_not_an_object_is_a_verification_error(
    tmp_path: Path,
) -> None:
    """Regression: a manifest holding JSON that is not an object crashed with AttributeError."""
    import datetime as dt

    from dbarchive.errors import VerificationError
    from dbarchive.layout import PartitionPath
    from dbarchive.steps.upload import read_manifest
    from dbarchive.storage.local import LocalStorage

    storage = LocalStorage(str(tmp_path))
    partition = PartitionPath("events", dt.date(2026, 12, 7))
    storage.put_bytes(partition.manifest_key, b"7")
    with pytest.raises(VerificationError, match="not a dbarchive manifest"):
        read_manifest(storage, partition)
