"""Local disk full / I/O errors (issue 7, matrix 6).

The export to S3 keeps no local spool or temp file at all (rows → CSV → compressor → multipart
upload, in memory): it runs with its temp folder, home and working folder on a full tmpfs. A local
destination that fills up gives a clear StorageError, nothing committed, no temp file left, and
nothing purged. Needs root (mounts a size-limited tmpfs); skipped otherwise.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.mysql_fixtures import MySqlSchema
from tests.reliability import scenario
from tests.reliability.oracle import DirView, S3View, Seed, check
from tests.reliability.scenario import Job, record, write_job

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root")


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A 2 MiB tmpfs mounted for the test (unmounted after)."""
    mount = tmp_path / "tmpfs"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(folder: Path) -> None:
    """Write until the filesystem is full."""
    with open(folder / "filler", "wb") as f:
        try:
            while True:
                f.write(b"\0" * 65536)
                f.flush()
        except OSError:
            pass


def test_s3_export_needs_no_local_disk(
    s3_job: Job, seeded: Seed, mysql_schema: MySqlSchema, view: S3View, tmpfs: Path
) -> None:
    """TMPDIR, HOME and the working folder on a full filesystem: the export to S3 still works,
    and the filesystem holds exactly what it held before."""
    _fill(tmpfs)
    before = sorted(p.name for p in tmpfs.iterdir())
    env = {"TMPDIR": str(tmpfs), "HOME": str(tmpfs), "TEMP": str(tmpfs), "TMP": str(tmpfs)}
    proc = subprocess.run(
        s3_job.cmd(*scenario.export_args()),
        env=s3_job.environment(**env),
        cwd=tmpfs,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert sorted(p.name for p in tmpfs.iterdir()) == before
    verdict = record(
        check("export to S3 with TMPDIR/HOME/cwd on a full disk", seeded, mysql_schema, view,
              injections=1, exit="0")
    )  # fmt: skip
    assert verdict.clean, verdict.details


def test_local_destination_filling_up_is_a_clear_error_and_nothing_is_purged(
    seeded: Seed, mysql_schema: MySqlSchema, tmpfs: Path, tmp_path: Path
) -> None:
    """A 2 MiB destination for ~7 MB days: exit 4 (storage) naming the disk problem for the day, no
    manifest, no temp file left, not one row deleted; with room again a rerun is exact."""
    archive = tmpfs / "archive"
    job = write_job(tmp_path / "local.toml", mysql_schema.url, str(archive))
    rows_before = len(seeded.keys)
    proc = job.run(*scenario.run_args())
    assert proc.returncode == 4, proc.stderr
    assert "No space left on device" in proc.stderr and "Traceback" not in proc.stderr
    view = DirView(archive)
    assert [k for k in view.keys("") if k.endswith("_manifest.json")] == []
    assert view.unfinished() == 0  # the temp file of the failed part was removed
    assert int(mysql_schema.execute("SELECT COUNT(*) FROM events")[0][0]) == rows_before
    roomy = write_job(tmp_path / "roomy.toml", mysql_schema.url, str(tmp_path / "archive"))
    final = roomy.run(*scenario.run_args())
    assert final.returncode == 0, final.stderr
    verdict = record(
        check("local destination full (ENOSPC) mid-part", seeded, mysql_schema,
              DirView(tmp_path / "archive"), injections=1, exit=f"{proc.returncode}, then 0")
    )  # fmt: skip
    assert verdict.clean, verdict.details
