"""What Aurora wrote for one unit: its manifest, each part read back, and the parts put in place.

Every part is read whole before anything is published: it must start with the archive's header
line and every row must parse in the archive's dialect; its row count, row digest, size,
SHA-256 and CRC32 come from the bytes themselves. Then either

- :func:`verify_and_copy`: each non-empty part is copied, server-side, to the unit's own file
  name, and the copy's CRC32 (computed by S3) must equal the CRC32 of the bytes read; or
- :func:`recompress` (the optional post-step, ``compression`` set): the rows are streamed into
  compressed parts of our own while they are read, digested again by the writer.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import pairwise
from typing import Any, BinaryIO, cast
from urllib.parse import unquote, urlparse

from dbarchive.checksum import RowDigest, Value
from dbarchive.config import TableSpec
from dbarchive.errors import StorageError, VerificationError
from dbarchive.formats.csv import header_line, iter_row_chunks, iter_row_digests
from dbarchive.layout import PartitionPath
from dbarchive.manifest import FileEntry
from dbarchive.sources.table import ScanPlan, TableInfo
from dbarchive.steps.write import WriteSettings
from dbarchive.steps.writers import open_part_writer
from dbarchive.storage import Storage
from dbarchive.strategies.aurora.statement import S3Target

_BLOCK = 1 << 20


def aurora_part_keys(storage: Storage, manifest_key: str, target: S3Target, root: str) -> list[str]:
    """The data files Aurora's manifest lists, as storage keys (``root`` stripped), in its order.

    The manifest is ``{"entries": [{"url": "s3-<region>://bucket/<prefix>.part_00000"}, …]}``
    (AWS documents only ``url``; other members are ignored). Every URL must name ``target``'s
    bucket and file prefix.
    """
    raw = storage.get_bytes(manifest_key)
    if raw is None:
        raise VerificationError(
            f"{manifest_key}: Aurora's manifest is missing, so its statement did not complete; "
            "export the unit again"
        )
    try:
        urls = [str(e["url"]) for e in json.loads(raw)["entries"]]
    except (ValueError, KeyError, TypeError) as exc:
        raise VerificationError(f"{manifest_key}: not an Aurora manifest ({exc!r})") from None
    keys = []
    for url in urls:
        parsed = urlparse(url)
        full = unquote(parsed.path.lstrip("/"))  # our keys hold no '%': unquoting is safe
        scheme_ok = parsed.scheme == "s3" or parsed.scheme.startswith("s3-")
        if not (
            scheme_ok and parsed.netloc == target.bucket and full.startswith(f"{target.key}.part_")
        ):
            raise VerificationError(f"{manifest_key}: lists {url!r}, not a part of this unit")
        keys.append(full[len(root) :])
    return keys


@dataclass
class _Part:
    """One of Aurora's parts as read back."""

    key: str
    size: int
    sha256: str
    crc32: str  # "CRC32:<base64>", as S3 reports a CRC32
    digest: RowDigest
    first_key: list[str] | None
    last_key: list[str] | None


class _Hashing(io.RawIOBase):
    """Reads through while counting and hashing (SHA-256 and CRC32) the raw bytes."""

    def __init__(self, raw: BinaryIO) -> None:
        super().__init__()
        self._raw, self.size, self.sha, self.crc = raw, 0, hashlib.sha256(), 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._raw.read(len(buffer))
        buffer[: len(data)] = data
        self.size += len(data)
        self.sha.update(data)
        self.crc = zlib.crc32(data, self.crc)
        return len(data)


def _open(storage: Storage, key: str) -> tuple[BinaryIO, _Hashing, BinaryIO]:
    raw = storage.open_reader(key)
    hashing = _Hashing(raw)
    return raw, hashing, cast(BinaryIO, io.BufferedReader(hashing, _BLOCK))


def _skip_header(key: str, stream: BinaryIO, header: bytes) -> None:
    """Consume the part's header line; VerificationError if it does not start with it.

    A part without a single byte is empty (no header, no rows), which is fine.
    """
    head = stream.read(len(header))
    if head == header or not head:
        return
    raise VerificationError(
        f"{key}: does not start with the archive's header line {header[:60]!r}; Aurora wrote "
        f"{head[:60]!r}: its CSV output differs from what dbarchive expects, so nothing of this "
        "unit is published (use export.strategy = 'stream')"
    )


def _not_dialect(key: str, exc: Exception) -> VerificationError:
    return VerificationError(
        f"{key}: not in the archive's CSV dialect ({exc}); nothing of this unit is published "
        "(if Aurora always writes it so, use export.strategy = 'stream')"
    )


def _read(storage: Storage, key: str, header: bytes, key_position: int) -> _Part:
    raw, hashing, stream = _open(storage, key)
    digest = RowDigest()
    first: Value = None
    last: Value = None
    try:
        _skip_header(key, stream, header)
        for keys, _hexes in iter_row_digests(stream, digest, key_position):
            if keys:
                first = first or keys[0]
                last = keys[-1]
        while stream.read(_BLOCK):
            pass
    except ValueError as exc:
        raise _not_dialect(key, exc) from None
    finally:
        raw.close()
    crc = "CRC32:" + base64.b64encode(hashing.crc.to_bytes(4, "big")).decode()
    return _Part(key, hashing.size, hashing.sha.hexdigest(), crc, digest,
                 _key_text(first), _key_text(last))  # fmt: skip


def _key_text(value: Value) -> list[str] | None:
    return None if value is None else [value.decode()]


def _key_position(info: TableInfo) -> int:
    """Where the (single-column) key sits among the exported columns, -1 if it is not there."""
    names = [c.name for c in info.columns]
    single = len(info.key) == 1 and info.key[0].name in names
    return names.index(info.key[0].name) if single else -1


def verify_and_copy(
    storage: Storage,
    spec: TableSpec,
    info: TableInfo,
    scan: ScanPlan,
    unit_path: PartitionPath,
    keys: list[str],
) -> tuple[list[FileEntry], RowDigest]:
    """Read every part back, then copy the non-empty ones to the unit's own file names."""
    header = header_line([c.name for c in info.columns])
    parts = [_read(storage, k, header, _key_position(info)) for k in keys]
    _check_key_order(spec, info, scan, parts)
    files: list[FileEntry] = []
    total = RowDigest()
    for part in (p for p in parts if p.digest.count):
        final = unit_path.part_key(len(files), "csv")
        written = unit_path.write_key(final)  # staged until the day is published
        stored = storage.copy_object(part.key, written)
        _check_copy(storage, part, written, stored.size, stored.sha256, stored.s3_checksum)
        files.append(FileEntry(final, part.size, part.digest.count, part.sha256, part.digest,
                               part.first_key, part.last_key, stored.s3_checksum,
                               stored.version_id))  # fmt: skip
        total.merge(part.digest)
    return files, total


def _check_key_order(spec: TableSpec, info: TableInfo, scan: ScanPlan, parts: list[_Part]) -> None:
    """Parts in key order (the purge walks the archive in it): each starts after the last ended."""
    if scan.strategy != "key" or not info.key[0].is_integer or _key_position(info) < 0:
        return
    bounds = [(p.first_key, p.last_key) for p in parts if p.first_key and p.last_key]
    for (_, end), (start, _) in pairwise(bounds):
        assert end is not None and start is not None
        if int(start[0]) <= int(end[0]):
            raise VerificationError(
                f"{spec.name}: Aurora's parts are not in key order ({end[0]} then {start[0]})"
            )


def _check_copy(
    storage: Storage,
    part: _Part,
    final: str,
    size: int,
    sha256: str | None,
    s3_checksum: str | None,
) -> None:
    """The copy holds exactly the bytes that were verified: its checksum says so, or (a backend
    that reports neither a SHA-256 nor a CRC32, e.g. after a multipart copy) reading it back."""
    if size != part.size:
        raise StorageError(f"{final}: the copy of {part.key} has {size} bytes, not {part.size}")
    if sha256 is not None and sha256 == part.sha256:
        return
    if s3_checksum is not None and s3_checksum.startswith("CRC32:"):
        if s3_checksum == part.crc32:
            return
        raise StorageError(f"{final}: the copy's {s3_checksum} differs from {part.crc32} read")
    sha = hashlib.sha256()
    with storage.open_reader(final) as reader:
        while block := reader.read(_BLOCK):
            sha.update(block)
    if sha.hexdigest() != part.sha256:
        raise StorageError(f"{final}: the copy's bytes differ from the verified {part.key}")


def recompress(
    storage: Storage,
    spec: TableSpec,
    info: TableInfo,
    unit_path: PartitionPath,
    keys: list[str],
) -> tuple[list[FileEntry], RowDigest]:
    """The post-step: stream every row of Aurora's parts into compressed parts of our own."""
    header = header_line([c.name for c in info.columns])
    names = [c.name for c in info.columns]
    key_positions = [names.index(c.name) for c in info.key if c.name in names]
    settings = WriteSettings(spec.compression, spec.compression_level, spec.max_file_bytes)
    writer = open_part_writer("csv", storage, unit_path, info.columns, key_positions, settings)
    try:
        for key in keys:
            for rows in _rows(storage, key, header):
                writer.write_chunk(rows)
        files = writer.close()
    except BaseException:
        writer.abort()
        raise
    total = RowDigest()
    for f in files:
        total.merge(f.digest)
    return files, total


def _rows(storage: Storage, key: str, header: bytes) -> Iterator[list[list[Value]]]:
    raw, _hashing, stream = _open(storage, key)
    try:
        _skip_header(key, stream, header)
        yield from iter_row_chunks(stream, _BLOCK)
    except ValueError as exc:
        raise _not_dialect(key, exc) from None
    finally:
        raw.close()
