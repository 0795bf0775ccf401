"""One contract for every Storage backend: a local folder and a real S3 server (SeaweedFS).

The S3 backend runs twice, at the bucket root and under a key prefix, because prefix handling is
where keys get lost. Backend-specific failures (check() errors) follow the shared contract.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import os
import random
import socket
import subprocess
import sys
import time
import zlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from dbarchive.errors import ConfigError, NameTaken, StorageError
from dbarchive.storage import ObjectWriter, Storage, StorageOptions, open_storage
from dbarchive.storage.local import LocalStorage
from dbarchive.storage.s3 import S3Storage

if TYPE_CHECKING:
    from types_boto3_s3 import S3Client

PART = 5 * 1024 * 1024  # S3's minimum part size: the smallest multipart objects
SECRET = "s3cr3t-Do-Not-Leak-0123456789"


@dataclass(frozen=True)
class Backend:
    """A storage under test plus what the contract needs to look behind its back."""

    name: str
    storage: Storage
    options: StorageOptions
    leftovers: Callable[[], list[str]]  # unfinished writes in the backing store
    sibling: Callable[[], Storage] | None  # a root whose name extends ours: never listed


def _local_backend(tmp_path: Path) -> Backend:
    root = tmp_path / "root"

    def leftovers() -> list[str]:
        return sorted(
            str(Path(d, f).relative_to(tmp_path))
            for d, _, files in os.walk(tmp_path)
            for f in files
            if ".dbarchive-tmp-" in f
        )

    def sibling() -> Storage:
        return LocalStorage(str(tmp_path / "root-sibling"))

    return Backend("local", LocalStorage(str(root)), StorageOptions(), leftovers, sibling)


def _s3_backend(name: str, bucket: str, options: StorageOptions, client: S3Client) -> Backend:
    prefix = "/some/prefix" if name == "s3-prefix" else ""

    def leftovers() -> list[str]:
        uploads = client.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
        return sorted(upload["Key"] for upload in uploads)

    def sibling() -> Storage:
        return S3Storage(f"s3://{bucket}/some/prefix-sibling", options)

    storage = S3Storage(f"s3://{bucket}{prefix}", options)
    return Backend(name, storage, options, leftovers, sibling if prefix else None)


@pytest.fixture(params=["local", "s3", "s3-prefix"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    """Each contract test runs on every backend; S3 ones get a fresh bucket each."""
    if request.param == "local":
        return _local_backend(tmp_path)
    bucket: str = request.getfixturevalue("s3_bucket")
    options = dataclasses.replace(request.getfixturevalue("s3_options"), part_size=PART)
    return _s3_backend(request.param, bucket, options, request.getfixturevalue("s3_client"))


@pytest.fixture
def s3_storage(s3_bucket: str, s3_options: StorageOptions) -> S3Storage:
    return S3Storage(f"s3://{s3_bucket}/p", dataclasses.replace(s3_options, part_size=PART))


def _payload(size: int, seed: int = 7) -> bytes:
    return random.Random(seed).randbytes(size)


def _write_unevenly(writer: ObjectWriter, data: bytes) -> None:
    """Feed the writer pieces of 1 byte to 3 MiB, so parts never line up with the writes."""
    rng = random.Random(11)
    pos = 0
    while pos < len(data):
        step = rng.choice([1, 17, 65_536, 1_000_003, 3 * 1024 * 1024])
        writer.write(data[pos : pos + step])
        pos += step


def _keys(storage: Storage, prefix: str = "") -> list[str]:
    return [obj.key for obj in storage.list_objects(prefix)]


def _crc32(data: bytes) -> str:
    return "CRC32:" + base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


# --- the shared contract ---


@pytest.mark.parametrize(
    "data",
    [b"", b"\x00", bytes(range(256)) * 3, "é\x00ü\r\n\t;\"'".encode()],
    ids=["empty", "nul", "all-bytes", "text-with-nul"],
)
def test_put_get_round_trip(backend: Backend, data: bytes) -> None:
    """put_bytes then get_bytes returns the same bytes, NUL and all, with size and sha256."""
    stored = backend.storage.put_bytes("dir/obj.bin", data)
    assert stored.key == "dir/obj.bin"
    assert stored.size == len(data)
    assert stored.sha256 == hashlib.sha256(data).hexdigest()
    assert backend.storage.get_bytes("dir/obj.bin") == data


def test_get_missing_is_none(backend: Backend) -> None:
    """get_bytes and stat of a key that was never written return None."""
    assert backend.storage.get_bytes("no/such/key") is None
    assert backend.storage.stat("no/such/key") is None


def test_open_reader_missing_raises(backend: Backend) -> None:
    """open_reader of a missing key raises StorageError naming the key."""
    with pytest.raises(StorageError, match="no/such/key"):
        backend.storage.open_reader("no/such/key")


def test_stat_reports_size_and_checksum(backend: Backend) -> None:
    """stat gives the stored size and, where the backend keeps one, the commit's checksum."""
    stored = backend.storage.put_bytes("a.csv", b"id,name\n1,x\n")
    stat = backend.storage.stat("a.csv")
    assert stat is not None
    assert (stat.key, stat.size) == ("a.csv", 12)
    assert stat.s3_checksum == stored.s3_checksum


def test_streamed_multipart_write(backend: Backend) -> None:
    """A ~12 MiB object written in uneven pieces reads back byte-identical with the right sha256."""
    data = _payload(2 * PART + 1_234_567)
    writer = backend.storage.open_writer("big/object.bin")
    _write_unevenly(writer, data)
    stored = writer.commit()
    assert stored.size == len(data)
    assert stored.sha256 == hashlib.sha256(data).hexdigest()
    if stored.s3_checksum is not None:  # S3: the server's whole-object CRC32 matches ours
        assert stored.s3_checksum == _crc32(data)
    assert backend.storage.get_bytes("big/object.bin") == data
    stat = backend.storage.stat("big/object.bin")
    assert stat is not None
    assert (stat.size, stat.s3_checksum) == (len(data), stored.s3_checksum)


_BOUNDED_WRITE = """
import json, sys, tracemalloc
from dbarchive.storage import StorageOptions, open_storage
url, fields = sys.argv[1], json.loads(sys.argv[2])
storage = open_storage(url, StorageOptions(**fields))
piece = bytes(range(256)) * 4096
writer = storage.open_writer("bounded.bin")
tracemalloc.start()
for _ in range(30):
    writer.write(piece)
writer.commit()
print(tracemalloc.get_traced_memory()[1])
"""


def test_memory_stays_bounded(backend: Backend) -> None:
    """Streaming 30 MiB through a writer never holds more than about two parts in memory.
    Measured in a process of its own: tracemalloc counts every thread's allocations, and a
    thread an earlier test left behind once made the peak 576 MiB."""
    fields = {k: v for k, v in dataclasses.asdict(backend.options).items()
              if k not in {"session", "object_lock"}}  # fmt: skip
    url = backend.storage.url
    run = subprocess.run(
        [sys.executable, "-c", _BOUNDED_WRITE, url, json.dumps(fields)],
        capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    peak = int(run.stdout)
    assert peak < 3 * PART, f"peak {peak / 2**20:.1f} MiB"
    stat = backend.storage.stat("bounded.bin")
    assert stat is not None
    assert stat.size == 30 * 1024 * 1024


def test_open_reader_streams(backend: Backend) -> None:
    """open_reader returns a readable stream of the object, in pieces of any size."""
    data = _payload(PART + 99)
    backend.storage.put_bytes("stream.bin", data)
    with backend.storage.open_reader("stream.bin") as reader:
        pieces = [reader.read(1), reader.read(1_000_000)]
        pieces.append(reader.read())
        assert reader.read(10) == b""
    assert b"".join(pieces) == data


def test_invisible_until_commit(backend: Backend) -> None:
    """An object being written is neither stat-able nor listed until commit, then both."""
    writer = backend.storage.open_writer("day=1/part-0.csv")
    writer.write(_payload(PART + 10))  # S3: one part is already uploading
    assert backend.storage.stat("day=1/part-0.csv") is None
    assert _keys(backend.storage) == []
    writer.write(b"tail")
    writer.commit()
    assert _keys(backend.storage) == ["day=1/part-0.csv"]
    stat = backend.storage.stat("day=1/part-0.csv")
    assert stat is not None
    assert stat.size == PART + 14


def test_abort_leaves_nothing(backend: Backend) -> None:
    """abort() after parts were sent leaves no object, no temp file, no multipart upload."""
    writer = backend.storage.open_writer("day=1/part-0.csv")
    writer.write(_payload(2 * PART + 10))
    writer.abort()
    writer.abort()  # idempotent
    assert backend.storage.stat("day=1/part-0.csv") is None
    assert _keys(backend.storage) == []
    assert backend.leftovers() == []


def test_write_after_commit_is_refused(backend: Backend) -> None:
    """A committed writer refuses more writes and a second commit; abort then changes nothing."""
    writer = backend.storage.open_writer("once.bin")
    writer.write(b"abc")
    writer.commit()
    with pytest.raises(StorageError):
        writer.write(b"more")
    with pytest.raises(StorageError):
        writer.commit()
    writer.abort()
    assert backend.storage.get_bytes("once.bin") == b"abc"


_KILLED_CHILD = """
import json, sys
from dbarchive.storage import StorageOptions, open_storage
url, options, key, size = json.loads(sys.argv[1])
writer = open_storage(url, StorageOptions(**options)).open_writer(key)
piece = b"k" * 1_000_000
for _ in range(size // len(piece) + 1):
    writer.write(piece)
print("ready", flush=True)
sys.stdin.read()
"""


def _killed_writer(backend: Backend, key: str) -> None:
    """Start a write in another process and SIGKILL it mid-upload, as a crashed job would."""
    args = json.dumps([backend.storage.url, dataclasses.asdict(backend.options), key, 2 * PART + 1])
    proc = subprocess.Popen(
        [sys.executable, "-c", _KILLED_CHILD, args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None
    ready = proc.stdout.readline()
    proc.kill()
    _, err = proc.communicate()
    assert ready == b"ready\n", err.decode(errors="replace")


def test_killed_writer_is_cleaned_by_abort_incomplete(backend: Backend) -> None:
    """A write killed before commit is never listed and abort_incomplete(prefix) removes it."""
    _killed_writer(backend, "day=1/part-0.csv")
    assert backend.leftovers() != []
    assert _keys(backend.storage) == []
    assert backend.storage.stat("day=1/part-0.csv") is None
    assert backend.storage.abort_incomplete("other/") == 0
    assert backend.storage.abort_incomplete("day=1/") == 1
    assert backend.leftovers() == []
    assert _keys(backend.storage) == []


def test_abort_incomplete_matches_key_prefixes_not_folders(backend: Backend) -> None:
    """Work units share a folder: clearing ``…/part-00001-`` leaves unit 2's unfinished write."""
    _killed_writer(backend, "day=1/part-00001-00000.csv")
    _killed_writer(backend, "day=1/part-00002-00000.csv")
    assert len(backend.leftovers()) == 2
    assert backend.storage.abort_incomplete("day=1/part-00001-") == 1
    (left,) = backend.leftovers()
    assert "part-00002-00000.csv" in left
    assert backend.storage.abort_incomplete("day=1/") == 1
    assert backend.leftovers() == []


@pytest.mark.parametrize("size", [10, PART + 7], ids=["one-put", "multipart"])
def test_a_create_only_write_never_replaces_a_name(backend: Backend, size: int) -> None:
    """A published data file's name is written once: a second writer of it (a run that lost its
    lock, resumed) stores nothing over the first and is told so; nothing is left unfinished."""
    first, second = _payload(size, seed=1), _payload(size, seed=2)
    writer = backend.storage.open_writer("day/part-g0001-00000.csv", create_only=True)
    writer.write(first)
    writer.commit()
    late = backend.storage.open_writer("day/part-g0001-00000.csv", create_only=True)
    late.write(second)
    with pytest.raises(NameTaken, match="written by another writer"):
        late.commit()
    assert backend.storage.get_bytes("day/part-g0001-00000.csv") == first
    assert backend.leftovers() == []


def test_put_if_match_replaces_only_the_object_read(backend: Backend) -> None:
    """The commit marker's conditional replace: it wins only over the version its writer read;
    a writer whose read is stale (another committed meanwhile) changes nothing."""
    key = "day/_manifest.json"
    assert backend.storage.get_with_etag(key) is None
    assert backend.storage.put_if_match(key, b"g1", None) is not None
    assert backend.storage.put_if_match(key, b"g1 again", None) is None  # exists: create refused
    found = backend.storage.get_with_etag(key)
    assert found is not None and found[0] == b"g1"
    stale = found[1]
    assert backend.storage.put_if_match(key, b"g2", stale) is not None
    assert backend.storage.put_if_match(key, b"g3", stale) is None
    assert backend.storage.get_bytes(key) == b"g2"
    backend.storage.delete_keys([key])
    assert backend.storage.put_if_match(key, b"g4", stale) is None  # gone: nothing to match
    assert backend.storage.get_bytes(key) is None


def test_overwrite_replaces_atomically(backend: Backend) -> None:
    """While a replacement is written the old object stays whole; commit swaps it at once."""
    backend.storage.put_bytes("obj", b"old")
    new = _payload(PART + 3, seed=3)
    writer = backend.storage.open_writer("obj")
    writer.write(new)
    assert backend.storage.get_bytes("obj") == b"old"
    writer.commit()
    assert backend.storage.get_bytes("obj") == new
    assert _keys(backend.storage) == ["obj"]


def test_list_order_and_prefix(backend: Backend) -> None:
    """list_objects yields keys relative to the root, in byte order, filtered by plain prefix."""
    keys = ["b/1", "a/2", "a/10", "a/Z", "ab", "a/é", "a/sub/x", "a/1"]
    for key in keys:
        backend.storage.put_bytes(key, key.encode())
    assert _keys(backend.storage) == sorted(keys)
    assert _keys(backend.storage, "a/") == ["a/1", "a/10", "a/2", "a/Z", "a/sub/x", "a/é"]
    assert _keys(backend.storage, "a") == ["a/1", "a/10", "a/2", "a/Z", "a/sub/x", "a/é", "ab"]
    assert _keys(backend.storage, "a/sub/") == ["a/sub/x"]
    assert _keys(backend.storage, "zzz") == []
    sizes = {obj.key: obj.size for obj in backend.storage.list_objects("")}
    assert sizes["a/é"] == len("a/é".encode())


def test_list_ignores_a_sibling_root(backend: Backend) -> None:
    """Objects under a root whose name merely starts with ours (prefix-sibling) are not listed."""
    if backend.sibling is None:
        pytest.skip("the bucket root has no sibling root")
    sibling = backend.sibling()
    sibling.put_bytes("x", b"x")
    backend.storage.put_bytes("y", b"y")
    assert _keys(backend.storage) == ["y"]
    assert _keys(sibling) == ["x"]


def _counting_session(options: StorageOptions, operations: list[str], event: str) -> object:
    """A botocore session for ``options`` that appends the S3 operation's name to
    ``operations`` at each ``event``: ``before-call`` fires once per API call, ``before-send``
    once per HTTP attempt (retries included). Observation only: requests are not changed."""
    import botocore.session

    session = botocore.session.get_session()
    if options.access_key_id is not None and options.secret_access_key is not None:
        session.set_credentials(options.access_key_id, options.secret_access_key)

    def count(event_name: str, **_: object) -> None:
        operations.append(event_name.rsplit(".", 1)[-1])

    session.register(f"{event}.s3", count)
    return session


def test_delete_keys_in_batches(backend: Backend) -> None:
    """delete_keys removes 1100 keys (more than one 1000-key S3 batch), missing ones included;
    on S3 in two DeleteObjects requests, never one request per key."""
    keys = [f"rows/{i:05d}.csv" for i in range(1100)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda k: backend.storage.put_bytes(k, b"r"), keys))
    backend.storage.put_bytes("keep.csv", b"k")
    storage, calls = backend.storage, list[str]()
    if isinstance(storage, S3Storage):  # the same root, through a session that counts calls
        options = dataclasses.replace(
            backend.options, session=_counting_session(backend.options, calls, "before-call")
        )
        storage = S3Storage(storage.url, options)
    storage.delete_keys(iter([*keys, "rows/missing-1", "rows/missing-2"]))
    assert _keys(backend.storage) == ["keep.csv"]
    if isinstance(storage, S3Storage):
        assert calls == ["DeleteObjects", "DeleteObjects"]


def test_delete_missing_keys_is_fine(backend: Backend) -> None:
    """Deleting keys that do not exist (or nothing at all) is not an error."""
    backend.storage.delete_keys(["never/written", "nor/this"])
    backend.storage.delete_keys([])
    assert _keys(backend.storage) == []


def test_copy_object_copies_bytes_and_replaces_the_target(backend: Backend) -> None:
    """copy_object gives the target the source's bytes (replacing what it held); the source stays."""
    data = 'é\x00,"q"\n'.encode() * 1000
    backend.storage.put_bytes("stage/_src.part_00000", data)
    backend.storage.put_bytes("day/part-00000.csv", b"old")
    copied = backend.storage.copy_object("stage/_src.part_00000", "day/part-00000.csv")
    assert (copied.key, copied.size) == ("day/part-00000.csv", len(data))
    assert backend.storage.get_bytes("day/part-00000.csv") == data
    assert backend.storage.get_bytes("stage/_src.part_00000") == data
    if backend.name != "local":
        assert copied.s3_checksum == _crc32(data)  # S3 hashed the copy itself


def test_copy_survives_the_source_deleted_or_replaced(backend: Backend) -> None:
    """A promoted copy is its own object: deleting or replacing the staged source leaves it."""
    backend.storage.put_bytes("day/_staged-part-g0002-00000.csv", b"rows")
    backend.storage.copy_object("day/_staged-part-g0002-00000.csv", "day/part-g0002-00000.csv")
    backend.storage.put_bytes("day/_staged-part-g0002-00000.csv", b"other")
    backend.storage.delete_keys(["day/_staged-part-g0002-00000.csv"])
    assert backend.storage.get_bytes("day/part-g0002-00000.csv") == b"rows"


def test_put_if_absent_creates_once(backend: Backend) -> None:
    """The first put_if_absent of a name creates it; a second changes nothing and says so."""
    assert backend.storage.put_if_absent("day/_manifest-g0001.json", b"first")
    assert not backend.storage.put_if_absent("day/_manifest-g0001.json", b"second")
    assert backend.storage.get_bytes("day/_manifest-g0001.json") == b"first"
    assert _keys(backend.storage) == ["day/_manifest-g0001.json"]  # no temp file left


def test_put_if_absent_race_has_one_winner(backend: Backend) -> None:
    """Eight writers racing for one name: exactly one creates it, and its bytes are stored."""
    from concurrent.futures import ThreadPoolExecutor

    def attempt(i: int) -> bool:
        return backend.storage.put_if_absent("day/_manifest-g0002.json", b"writer %d" % i)

    with ThreadPoolExecutor(8) as pool:
        won = list(pool.map(attempt, range(8)))
    assert won.count(True) == 1
    assert backend.storage.get_bytes("day/_manifest-g0002.json") == b"writer %d" % won.index(True)


def test_copy_object_of_a_missing_source_raises(backend: Backend) -> None:
    """Copying a key that does not exist raises StorageError and creates nothing."""
    with pytest.raises(StorageError, match="no/such"):
        backend.storage.copy_object("no/such/key", "target")
    assert backend.storage.stat("target") is None


def test_s3_copy_above_the_copy_limit_goes_in_parts(
    s3_storage: S3Storage, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An object above CopyObject's limit is copied by UploadPartCopy ranges, byte-identical."""
    import dbarchive.storage.s3 as s3_module
    import dbarchive.storage.s3_writer as s3_writer_module

    monkeypatch.setattr(s3_module, "COPY_WHOLE_LIMIT", PART)
    monkeypatch.setattr(s3_writer_module, "COPY_PART_SIZE", PART)
    data = _payload(2 * PART + 123)
    s3_storage.put_bytes("big", data)
    copied = s3_storage.copy_object("big", "big-copy")
    assert copied.size == len(data)
    assert s3_storage.get_bytes("big-copy") == data


def test_check_passes(backend: Backend) -> None:
    """check() accepts a reachable, writable destination and leaves nothing behind."""
    backend.storage.check()
    assert _keys(backend.storage) == []


# --- S3 specifics ---


def test_s3_keys_live_under_the_prefix(
    s3_bucket: str, s3_options: StorageOptions, s3_client: S3Client
) -> None:
    """s3://bucket/some/prefix stores key k at some/prefix/k and lists it back as k."""
    storage = S3Storage(f"s3://{s3_bucket}/some/prefix/", s3_options)
    storage.put_bytes("day=1/a.csv", b"a")
    raw = s3_client.list_objects_v2(Bucket=s3_bucket)["Contents"]
    assert [item["Key"] for item in raw] == ["some/prefix/day=1/a.csv"]
    assert _keys(storage) == ["day=1/a.csv"]


def test_s3_failed_part_surfaces_on_commit(s3_storage: S3Storage, s3_client: S3Client) -> None:
    """A part upload that fails on the background thread is raised by the next write or commit."""
    writer = s3_storage.open_writer("k")
    writer.write(_payload(PART + 1))
    _wait_for_uploaded_parts(s3_client, s3_storage, 1)
    assert s3_storage.abort_incomplete("") == 1  # pulled from under the writer

    def finish() -> None:
        writer.write(_payload(PART))
        writer.commit()

    with pytest.raises(StorageError, match="upload no longer exists"):
        finish()
    writer.abort()
    assert s3_storage.stat("k") is None


def _wait_for_uploaded_parts(client: S3Client, storage: S3Storage, count: int) -> None:
    """Wait until the server holds ``count`` parts, so aborting cannot race the part in flight."""
    bucket = storage.url.split("/")[2]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        uploads = client.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
        if uploads:
            upload = uploads[0]
            parts = client.list_parts(Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"])
            if len(parts.get("Parts", [])) >= count:
                return
        time.sleep(0.02)
    pytest.fail(f"the server never showed {count} uploaded part(s)")


def test_s3_check_missing_bucket(s3_options: StorageOptions) -> None:
    """check() on a missing bucket names it and says dbarchive does not create buckets."""
    storage = S3Storage("s3://no-such-bucket-dbarchive/x", s3_options)
    with pytest.raises(StorageError, match=r"'no-such-bucket-dbarchive' does not exist.*create"):
        storage.check()


def test_s3_check_wrong_secret(s3_bucket: str, s3_options: StorageOptions) -> None:
    """check() with a wrong secret key reports access denied and points at the credentials."""
    options = dataclasses.replace(s3_options, secret_access_key=SECRET)
    with pytest.raises(StorageError, match=r"access denied.*credentials") as info:
        S3Storage(f"s3://{s3_bucket}", options).check()
    assert SECRET not in str(info.value)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # closed again when the with block ends


def test_s3_check_unreachable_endpoint() -> None:
    """check() against a closed port says the endpoint is unreachable after the first request
    and CHECK_MAX_ATTEMPTS retries (botocore's ``max_attempts`` counts retries), not the 8 with
    backoff of a run's requests: in seconds, not a minute."""
    from dbarchive.storage.s3_bucket import CHECK_MAX_ATTEMPTS

    endpoint = f"http://127.0.0.1:{_closed_port()}"
    options = StorageOptions(
        endpoint_url=endpoint, region="us-east-1", access_key_id="k", secret_access_key=SECRET
    )
    attempts: list[str] = []
    options = dataclasses.replace(
        options, session=_counting_session(options, attempts, "before-send")
    )
    with pytest.raises(StorageError, match=f"endpoint {endpoint} is unreachable"):
        S3Storage("s3://bucket", options).check()
    assert attempts == ["HeadBucket"] * (1 + CHECK_MAX_ATTEMPTS)
    assert options.max_attempts > CHECK_MAX_ATTEMPTS


def test_s3_check_missing_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """check() with no credentials anywhere in the chain says so, naming the chain's real
    settings (and never asks EC2 metadata)."""
    for name in [n for n in os.environ if n.startswith("AWS_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    options = StorageOptions(endpoint_url=f"http://127.0.0.1:{_closed_port()}", region="us-east-1")
    with pytest.raises(StorageError, match="no AWS credentials") as raised:
        S3Storage("s3://bucket", options).check()
    assert "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE" in str(raised.value)
    assert "access_key_id" not in str(raised.value)  # no such config setting


def test_s3_rejects_a_part_size_below_5_mib() -> None:
    """A part size S3 would refuse is a configuration error before anything is sent."""
    with pytest.raises(ConfigError, match="part_size"):
        S3Storage("s3://bucket", StorageOptions(part_size=1024 * 1024))


def test_open_storage_picks_s3(s3_options: StorageOptions) -> None:
    """open_storage maps s3:// URLs to S3Storage."""
    assert isinstance(open_storage("s3://bucket/p", s3_options), S3Storage)


def test_error_text_never_contains_the_secret(s3_bucket: str, s3_options: StorageOptions) -> None:
    """No StorageError text, repr or cause, nor the storage's repr, shows the secret key."""
    from botocore.exceptions import ClientError

    from dbarchive.storage.s3_bucket import translate_error

    options = dataclasses.replace(s3_options, secret_access_key=SECRET, max_attempts=1)
    storage = S3Storage(f"s3://{s3_bucket}/p", options)
    errors = [_raised(storage.check), _raised(lambda: storage.put_bytes("k", b"x"))]
    unreachable = dataclasses.replace(options, endpoint_url=f"http://127.0.0.1:{_closed_port()}")
    errors.append(_raised(S3Storage("s3://b", unreachable).check))
    echoed = ClientError({"Error": {"Code": "SignatureDoesNotMatch", "Message": SECRET}}, "Put")
    translated = translate_error(echoed, action="write", bucket="b", key="k", endpoint="e")
    assert translated is not None
    errors.append(translated)
    for error in errors:
        texts = [str(error), repr(error), str(error.__cause__), repr(storage)]
        assert all(SECRET not in text for text in texts), texts


def _raised(action: Callable[[], object]) -> Exception:
    try:
        action()
    except StorageError as exc:
        return exc
    pytest.fail("expected a StorageError")


# --- local specifics ---


def test_local_write_whose_temp_file_another_run_removed_says_so(tmp_path: Path) -> None:
    """A second run's clean-up (abort_incomplete) removes a running writer's temp file: its
    commit fails saying the file was removed, never that the disk needs space (issue 16)."""
    root = str(tmp_path / "archive")
    writer = LocalStorage(root).open_writer("t/day=1/part-00000.csv")
    writer.write(b"id\n1\n")
    assert LocalStorage(root).abort_incomplete("t/day=1/") == 1  # the other run
    with pytest.raises(StorageError) as failed:
        writer.commit()
    message = str(failed.value)
    assert "free space" not in message
    assert "removed while it was being written" in message and "another run" in message
    assert LocalStorage(root).stat("t/day=1/part-00000.csv") is None


def test_local_check_path_under_a_file(tmp_path: Path) -> None:
    """check() on a folder that cannot exist (its parent is a file) says it is not writable."""
    (tmp_path / "afile").write_bytes(b"")
    with pytest.raises(StorageError, match="cannot write to the destination folder"):
        LocalStorage(str(tmp_path / "afile" / "sub")).check()


def test_check_finds_conditional_writes_enforced(backend: Backend) -> None:
    """`dbarchive check` asks the store to create over an object and to replace a version it did
    not read; every backend refuses both, and the probe object is gone afterwards."""
    from types import SimpleNamespace

    from dbarchive.checks.storage import check_conditional_writes

    result = check_conditional_writes(SimpleNamespace(storage=backend.storage))  # type: ignore[arg-type]
    assert result.ok, result
    assert _keys(backend.storage) == []


class _IgnoresConditions(LocalStorage):
    """A store that accepts conditional writes and ignores their conditions (some S3 clones)."""

    def put_if_absent(self, key: str, data: bytes) -> bool:
        self.put_bytes(key, data)
        return True

    def put_if_match(self, key: str, data: bytes, etag: str | None) -> Any:
        return self.put_bytes(key, data)


def test_check_names_a_store_that_ignores_conditional_writes(tmp_path: Path) -> None:
    """Such a store would let two writers write over each other's archive: check fails, naming
    both headers, with the fix; the probe object is gone afterwards."""
    from types import SimpleNamespace

    from dbarchive.checks.storage import check_conditional_writes

    storage = _IgnoresConditions(str(tmp_path))
    result = check_conditional_writes(SimpleNamespace(storage=storage))  # type: ignore[arg-type]
    assert not result.ok
    assert "ignored If-None-Match and If-Match" in result.detail
    assert "enforces S3 conditional writes" in result.fix
    assert list(storage.list_objects("")) == []
