"""atheris fuzz targets (run in a subprocess by test_fuzz.py: libFuzzer ends its process).

    python -m tests.reliability.fuzz config  -max_total_time=15
    python -m tests.reliability.fuzz archive -max_total_time=15

``config``: any bytes as a config file → ``load_job`` returns a job or raises ConfigError.
``archive``: any bytes as an archived data file (plain, gzip or zstd by name) under a manifest
entry → ``check_files`` (what verify and purge run first) returns problems, never raises; and
any bytes as a manifest → ``read_manifest`` returns one or raises VerificationError.
Anything else escaping is a crash: atheris prints it and exits non-zero.
"""

from __future__ import annotations

import contextlib
import sys
import tempfile
from pathlib import Path

import atheris

with atheris.instrument_imports():
    from dbarchive.checksum import RowDigest
    from dbarchive.config import load_job
    from dbarchive.errors import ConfigError, VerificationError
    from dbarchive.layout import PartitionPath
    from dbarchive.manifest import FileEntry, Manifest
    from dbarchive.steps.archive_files import check_files
    from dbarchive.steps.upload import read_manifest
    from dbarchive.storage.local import LocalStorage

_DIR = Path(tempfile.mkdtemp(prefix="dbarchive-fuzz-"))
_CONFIG = _DIR / "job.toml"
_STORAGE = LocalStorage(str(_DIR / "archive"))
_PARTITION = PartitionPath("events", __import__("datetime").date(2026, 12, 7))
_NAMES = ("part-00000.csv", "part-00000.csv.gz", "part-00000.csv.zst")


def config(data: bytes) -> None:
    _CONFIG.write_bytes(data)
    with contextlib.suppress(ConfigError):
        load_job(_CONFIG)


def archive(data: bytes) -> None:
    key = _PARTITION.prefix + _NAMES[data[0] % 3 if data else 0]
    _STORAGE.put_bytes(key, data[1:])
    entry = FileEntry(key, len(data) - 1, 3, "0" * 64, RowDigest(3, 1, 2, 3))
    manifest = Manifest(
        "events", "db", _PARTITION.day, "UTC", "", "", ("", ""), "csv", "none", (), ("id",),
        "created_at", "key", (entry,), RowDigest(3, 1, 2, 3), "", "", "",
    )  # fmt: skip
    check_files(_STORAGE, manifest)
    _STORAGE.put_bytes(_PARTITION.manifest_key, data)
    with contextlib.suppress(VerificationError):
        read_manifest(_STORAGE, _PARTITION)


def main() -> None:
    target = {"config": config, "archive": archive}[sys.argv[1]]
    atheris.Setup([sys.argv[0], *sys.argv[2:]], target)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
