"""S3Storage: archive objects in an S3 bucket (AWS or compatible), streamed by multipart upload.

Integrity: every upload carries a CRC32 that S3 verifies (per part and, via ``FULL_OBJECT``, for the
whole object), and the writer also returns the sha256 of every byte written. CRC32 rather than
CRC32C/CRC64NVME because botocore computes those only with the optional ``awscrt`` package; CRC32 uses
zlib. SeaweedFS 4.48 accepts ``ChecksumType="FULL_OBJECT"`` for CRC32 and rejects a wrong value with
BadDigest, like AWS. It needs botocore >= 1.36, the first release to know ``ChecksumType``.
"""

from __future__ import annotations

import base64
import hashlib
import io
import zlib
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager, suppress
from itertools import islice
from typing import TYPE_CHECKING, Any, BinaryIO, cast
from urllib.parse import urlparse

from dbarchive import failpoints
from dbarchive.background import in_background
from dbarchive.errors import ConfigError, StorageError
from dbarchive.storage import StorageOptions, StoredObject, write_whole

if TYPE_CHECKING:
    from botocore.response import StreamingBody
    from types_boto3_s3 import S3Client
    from types_boto3_s3.type_defs import (
        CompletedPartTypeDef,
        CopySourceTypeDef,
        ObjectIdentifierTypeDef,
    )

OWNER_MARK = "dbarchive"  # user metadata (x-amz-meta-dbarchive) on every object we write
MIN_PART_SIZE = 5 * 1024 * 1024  # S3's floor for every part but the last
MAX_PART_SIZE = 5 * 1024 * 1024 * 1024
MAX_PARTS = 10_000
COPY_WHOLE_LIMIT = MAX_PART_SIZE  # CopyObject copies at most 5 GiB; larger objects copy in parts
COPY_PART_SIZE = 1024 * 1024 * 1024
DELETE_BATCH = 1000  # DeleteObjects refuses more keys per call (SeaweedFS enforces it too)
CHECK_MAX_ATTEMPTS = 3  # check() should say "unreachable" in seconds, not after a minute of retries
_READ_BUFFER = 1024 * 1024
_CHECKSUM_FIELDS = ("CRC64NVME", "CRC32C", "CRC32", "SHA256", "SHA1")
_DENIED_CODES = frozenset(
    {"403", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "AllAccessDisabled"}
)


class _MissingObject(StorageError):
    """The key does not exist: callers that may return None catch exactly this."""


class _NoSuchUpload(StorageError):
    """The multipart upload is already gone (aborted or completed): aborting it again is a no-op."""


def _import_botocore() -> Any:
    """botocore is what the [s3] extra brings; its absence is a configuration problem.

    botocore rather than boto3: boto3 adds nothing this backend uses, and importing it (with
    s3transfer) costs ~50 ms and ~3 MB on every CLI start.
    """
    try:
        import botocore.session
    except ImportError as exc:
        raise ConfigError("S3 destinations need boto3: pip install 'dbarchive[s3]'") from exc
    return botocore.session


def _parse_url(url: str) -> tuple[str, str]:
    """Split ``s3://bucket/prefix`` into the bucket and a prefix that is empty or ends with '/'."""
    parsed = urlparse(url)
    if parsed.scheme.lower() != "s3" or not parsed.netloc:
        raise ConfigError(f"destination {url!r}: expected s3://bucket or s3://bucket/prefix")
    prefix = parsed.path.strip("/")
    return parsed.netloc, f"{prefix}/" if prefix else ""


def _make_session(options: StorageOptions) -> Any:
    """A botocore session with the standard credential chain, unless keys are given; one per
    storage, shared by its clients (a second client from the same session costs milliseconds).

    A session given in the options (boto3's, from Airflow's S3Hook or MWAA's role) is used as
    it is, so its credentials and their refresh stay in charge.
    """
    botocore_session = _import_botocore()
    if options.session is not None:
        return options.session
    session = botocore_session.get_session()
    if options.access_key_id is not None and options.secret_access_key is not None:
        session.set_credentials(options.access_key_id, options.secret_access_key)
    return session


def _check_credentials(options: StorageOptions) -> None:
    """Keys come in pairs (checked before anything starts, so the error is immediate)."""
    if options.session is None and (options.access_key_id is None) != (
        options.secret_access_key is None
    ):
        raise ConfigError("set both access_key_id and secret_access_key, or neither")


def _make_client(session: Any, options: StorageOptions, max_attempts: int) -> S3Client:
    """A client that retries throttling, 5xx and dropped connections with backoff.

    botocore's ``standard`` mode (not ``legacy``, not the experimental client-side rate limiting of
    ``adaptive``): exponential backoff with jitter on throttling, transient errors and 5xx."""
    from botocore.config import Config

    config = Config(
        retries={"mode": "standard", "max_attempts": max_attempts},
        connect_timeout=10,
        read_timeout=120,
        tcp_keepalive=True,
    )
    client: S3Client
    if hasattr(session, "create_client"):  # botocore's own session
        region = options.region or session.get_config_variable("region")
        client = session.create_client(
            "s3", region_name=region, endpoint_url=options.endpoint_url, config=config
        )
    else:  # a boto3.Session
        client = session.client("s3", endpoint_url=options.endpoint_url, config=config)
    return client


def _body(data: bytearray) -> bytes:
    """A request body without a copy: botocore takes bytearray bodies (its validator lists them),
    only the published type stubs say bytes."""
    return cast(bytes, data)


def _crc32_b64(crc: int) -> str:
    """S3 spells a CRC32 as the base64 of its 4 big-endian bytes."""
    return base64.b64encode(crc.to_bytes(4, "big")).decode("ascii")


def _server_checksum(response: Any) -> str | None:
    """The object checksum the server reported, as "ALGO:base64", or None if it sent none."""
    for algo in _CHECKSUM_FIELDS:
        value = response.get(f"Checksum{algo}")
        if value:
            return f"{algo}:{value}"
    return None


def _error_code(exc: Any) -> tuple[str, str]:
    """The S3 error code and message of a ClientError (HEAD replies carry only the status)."""
    error = exc.response.get("Error", {})
    return str(error.get("Code", "")), str(error.get("Message", ""))


def translate_error(
    exc: Exception, *, action: str, bucket: str, key: str | None, endpoint: str
) -> StorageError | None:
    """One sentence for a botocore failure: what failed, where and what to do; never a secret.

    Returns None when ``exc`` is not a botocore error, so the caller re-raises it unchanged.
    """
    from botocore.exceptions import (
        BotoCoreError,
        ClientError,
        HTTPClientError,
        NoCredentialsError,
        PartialCredentialsError,
    )
    from botocore.exceptions import ConnectionError as BotoConnectionError

    target = f"s3://{bucket}/{key}" if key is not None else f"bucket {bucket!r}"
    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return StorageError(
            f"cannot {action} {target}: no AWS credentials found; set access_key_id and "
            "secret_access_key, AWS_PROFILE or an IAM role"
        )
    if isinstance(exc, BotoConnectionError | HTTPClientError):
        return StorageError(
            f"cannot {action} {target}: the S3 endpoint {endpoint} is unreachable "
            f"({type(exc).__name__}); check endpoint_url, region, network and DNS"
        )
    if isinstance(exc, ClientError):
        return _client_error(exc, action=action, bucket=bucket, key=key, target=target)
    if isinstance(exc, BotoCoreError):
        return StorageError(f"cannot {action} {target}: {exc}")
    return None


def _client_error(
    exc: Exception, *, action: str, bucket: str, key: str | None, target: str
) -> StorageError:
    """The sentence for an error reply from the server, by its code."""
    code, message = _error_code(exc)
    not_found = code in {"404", "NotFound"}
    if code == "NoSuchBucket" or (not_found and key is None):
        return StorageError(
            f"bucket {bucket!r} does not exist; dbarchive does not create buckets, "
            "create it first or fix the bucket name"
        )
    if code == "NoSuchKey" or not_found:
        return _MissingObject(f"object {target} does not exist")
    if code == "NoSuchUpload":
        return _NoSuchUpload(f"cannot {action} {target}: the multipart upload no longer exists")
    if code in _DENIED_CODES:
        # The server's own message is left out: some echo request details back.
        return StorageError(
            f"access denied to {target} ({code}): check the credentials and that they may "
            "list, read, write and delete objects in this bucket"
        )
    return StorageError(f"cannot {action} {target}: {code or 'error'} ({message or 'no detail'})")


class _Bucket:
    """The client, the bucket and the prefix, plus the one place that turns errors into sentences."""

    def __init__(self, client: S3Client, name: str, prefix: str) -> None:
        self.client = client
        self.name = name
        self.prefix = prefix

    def full_key(self, key: str) -> str:
        """The S3 key of a storage-relative key; rejects keys that would escape or mean nothing."""
        if not key or key.startswith("/") or any(p in {".", ".."} for p in key.split("/")):
            raise StorageError(f"invalid object key {key!r}")
        return self.prefix + key

    @contextmanager
    def errors(self, action: str, key: str | None = None) -> Iterator[None]:
        """Re-raise botocore failures inside the block as StorageError naming ``action`` and key."""
        try:
            yield
        except Exception as exc:
            where = None if key is None else self.prefix + key
            error = translate_error(
                exc,
                action=action,
                bucket=self.name,
                key=where,
                endpoint=self.client.meta.endpoint_url,
            )
            if error is None:
                raise
            raise error from exc


class _S3Writer:
    """Buffers one part while the previous one uploads on a single background thread.

    Memory stays at about two parts. An object smaller than one part is sent by one PutObject at
    commit; otherwise the first full part starts a multipart upload, which stays invisible until
    CompleteMultipartUpload. A failed part upload surfaces on the next write() or on commit().
    """

    def __init__(self, bucket: _Bucket, key: str, options: StorageOptions) -> None:
        self._bucket = bucket
        self._key = key
        self._full_key = bucket.full_key(key)
        self._part_size = options.part_size
        self._extra = _object_args(options)
        self._buf = bytearray()
        self._size = 0
        self._sha = hashlib.sha256()
        self._crc = 0
        self._upload_id: str | None = None
        self._parts: list[CompletedPartTypeDef] = []
        self._pending: Future[CompletedPartTypeDef] | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._closed = False

    def write(self, data: bytes) -> None:
        if self._closed:
            raise StorageError(f"write to {self._key} after commit or abort")
        if self._pending is not None and self._pending.done():
            self._collect()
        self._buf += data
        self._size += len(data)
        while len(self._buf) >= self._part_size:
            self._send_part()

    def commit(self) -> StoredObject:
        if self._closed:
            raise StorageError(f"commit of {self._key} after commit or abort")
        try:
            checksum = self._complete() if self._upload_id is not None else self._put_whole()
        except BaseException:
            with suppress(StorageError):  # keep the commit's own error; abort() can be retried
                self.abort()
            raise
        self._closed = True
        self._shutdown()
        return StoredObject(self._key, self._size, self._sha.hexdigest(), checksum)

    def abort(self) -> None:
        self._closed = True
        self._shutdown()
        self._buf = bytearray()
        if self._upload_id is not None:
            _abort_upload(self._bucket, self._full_key, self._upload_id)
            self._upload_id = None  # only once S3 confirmed, so a failed abort can be retried

    def _send_part(self) -> None:
        """Wait for the part in flight, then cut the next one from the buffer for the upload thread.

        The buffer itself becomes the part (cut to size in place) and only the short tail beyond
        it is copied into a new buffer: memory holds one part uploading and one filling, never a
        third copy. Waiting first keeps it at two.
        """
        if self._upload_id is None:
            self._start()
        self._collect()
        number = len(self._parts) + 1
        if number > MAX_PARTS:
            raise StorageError(
                f"object {self._key} needs more than {MAX_PARTS} parts of {self._part_size} bytes; "
                "raise part_size"
            )
        part = self._buf
        with memoryview(part) as view:
            self._buf = bytearray(view[self._part_size :])
        del part[self._part_size :]
        if self._executor is None:
            self._executor = ThreadPoolExecutor(1, thread_name_prefix="dbarchive-s3-upload")
        self._pending = self._executor.submit(self._upload_part, number, part)

    def _start(self) -> None:
        """Create the multipart upload here, not on the thread, so abort_incomplete can see it."""
        with self._bucket.errors("start the upload of", self._key):
            response = self._bucket.client.create_multipart_upload(
                Bucket=self._bucket.name,
                Key=self._full_key,
                ChecksumAlgorithm="CRC32",
                ChecksumType="FULL_OBJECT",
                **self._extra,
            )
        self._upload_id = response["UploadId"]

    def _collect(self) -> None:
        """Wait for the part in flight and record it; its upload error is raised here."""
        if self._pending is None:
            return
        pending, self._pending = self._pending, None
        self._parts.append(pending.result())
        failpoints.hit("storage.part-uploaded")

    def _upload_part(self, number: int, part: bytearray) -> CompletedPartTypeDef:
        """Runs on the upload thread: hashes the part (in order) and uploads it."""
        assert self._upload_id is not None
        self._sha.update(part)
        self._crc = zlib.crc32(part, self._crc)
        with self._bucket.errors(f"upload part {number} of", self._key):
            response = self._bucket.client.upload_part(
                Bucket=self._bucket.name,
                Key=self._full_key,
                UploadId=self._upload_id,
                PartNumber=number,
                Body=_body(part),
                ChecksumAlgorithm="CRC32",
            )
        return {
            "PartNumber": number,
            "ETag": response["ETag"],
            "ChecksumCRC32": response.get("ChecksumCRC32", ""),
        }

    def _complete(self) -> str | None:
        """Upload the last part and publish the object; S3 checks our whole-object CRC32."""
        self._collect()
        if self._buf:
            part, self._buf = self._buf, bytearray()
            self._parts.append(self._upload_part(len(self._parts) + 1, part))
        assert self._upload_id is not None
        failpoints.hit("storage.before-complete")
        with self._bucket.errors("complete the upload of", self._key):
            response = self._bucket.client.complete_multipart_upload(
                Bucket=self._bucket.name,
                Key=self._full_key,
                UploadId=self._upload_id,
                MultipartUpload={"Parts": self._parts},
                ChecksumCRC32=_crc32_b64(self._crc),
                ChecksumType="FULL_OBJECT",
            )
        self._upload_id = None
        failpoints.hit("storage.after-complete")
        return _server_checksum(response)

    def _put_whole(self) -> str | None:
        """An object smaller than one part goes in a single PutObject, checked by its CRC32."""
        data, self._buf = self._buf, bytearray()
        self._sha.update(data)
        with self._bucket.errors("write", self._key):
            response = self._bucket.client.put_object(
                Bucket=self._bucket.name,
                Key=self._full_key,
                Body=_body(data),
                ChecksumCRC32=_crc32_b64(zlib.crc32(data)),
                **self._extra,
            )
        return _server_checksum(response)

    def _shutdown(self) -> None:
        """Join the upload thread; an unfinished part's error no longer matters here."""
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None
        self._pending = None


def _abort_upload(bucket: _Bucket, full_key: str, upload_id: str) -> bool:
    """Abort one multipart upload; False if it was already gone (a second abort is fine)."""
    try:
        with bucket.errors("abort the upload of", full_key[len(bucket.prefix) :]):
            bucket.client.abort_multipart_upload(
                Bucket=bucket.name, Key=full_key, UploadId=upload_id
            )
    except _NoSuchUpload:
        return False
    return True


def _object_args(options: StorageOptions) -> dict[str, Any]:
    """Encryption and storage class, sent only when set so the bucket's defaults apply otherwise;
    and our mark, so that an object someone else put at one of our keys can be told apart."""
    args: dict[str, Any] = {"Metadata": {OWNER_MARK: "1"}}
    if options.sse:
        args["ServerSideEncryption"] = options.sse
    if options.kms_key_id:
        args["SSEKMSKeyId"] = options.kms_key_id
    if options.storage_class:
        args["StorageClass"] = options.storage_class
    return args


class _BodyReader(io.RawIOBase):
    """A GetObject body as a raw file, so it can be buffered or wrapped (gzip, csv) like a file."""

    def __init__(self, body: StreamingBody, bucket: _Bucket, key: str) -> None:
        self._body = body
        self._bucket = bucket
        self._key = key

    def readable(self) -> bool:
        return True

    def readall(self) -> bytes:
        with self._bucket.errors("read", self._key):
            return self._body.read()

    def readinto(self, buffer: Any) -> int:
        with self._bucket.errors("read", self._key):
            data = self._body.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self._body.close()
        super().close()


class S3Storage:
    """A bucket and an optional key prefix: ``s3://bucket`` or ``s3://bucket/prefix``."""

    def __init__(self, url: str, options: StorageOptions) -> None:
        if not MIN_PART_SIZE <= options.part_size <= MAX_PART_SIZE:
            raise ConfigError(
                f"part_size {options.part_size} is outside S3's limits (5 MiB to 5 GiB)"
            )
        _check_credentials(options)
        self.url = url
        self._options = options
        name, prefix = _parse_url(url)
        # Importing botocore and building a client is ~0.15 s of pure Python: it runs on a thread
        # while the caller goes on (loads config, plans in MySQL); the first request waits for it.
        self._connected = in_background(lambda: self._connect(name, prefix), "dbarchive-s3-client")
        self._check_bucket: _Bucket | None = None

    def _connect(self, name: str, prefix: str) -> tuple[Any, _Bucket]:
        session = _make_session(self._options)
        client = _make_client(session, self._options, self._options.max_attempts)
        return session, _Bucket(client, name, prefix)

    @property
    def _bucket(self) -> _Bucket:
        """The bucket and its client, once built (errors of building it are raised here)."""
        return self._connected.result()[1]

    def __repr__(self) -> str:
        return f"S3Storage({self.url!r})"  # never the options: they may hold the secret key

    def check(self) -> None:
        if self._check_bucket is None:  # its own client, with few retries: fail in seconds
            session, bucket = self._connected.result()
            attempts = min(self._options.max_attempts, CHECK_MAX_ATTEMPTS)
            client = _make_client(session, self._options, attempts)
            self._check_bucket = _Bucket(client, bucket.name, "")
        bucket = self._check_bucket
        with bucket.errors("reach"):
            bucket.client.head_bucket(Bucket=bucket.name)

    def bucket_region(self) -> str:
        """The bucket's region (GetBucketLocation; S3 answers none for us-east-1)."""
        with self._bucket.errors("find the region of"):
            response = self._bucket.client.get_bucket_location(Bucket=self._bucket.name)
        region: str | None = response.get("LocationConstraint")
        return region or "us-east-1"

    def open_writer(self, key: str) -> _S3Writer:
        return _S3Writer(self._bucket, key, self._options)

    def put_bytes(self, key: str, data: bytes) -> StoredObject:
        return write_whole(self.open_writer(key), data)

    def get_bytes(self, key: str) -> bytes | None:
        try:
            with self.open_reader(key) as reader:
                return reader.read()  # BufferedReader.read() is one readall() on the body
        except _MissingObject:
            return None

    def open_reader(self, key: str) -> BinaryIO:
        full_key = self._bucket.full_key(key)
        with self._bucket.errors("read", key):
            response = self._bucket.client.get_object(Bucket=self._bucket.name, Key=full_key)
        raw = _BodyReader(response["Body"], self._bucket, key)
        return io.BufferedReader(raw, buffer_size=_READ_BUFFER)

    def stat(self, key: str) -> StoredObject | None:
        full_key = self._bucket.full_key(key)
        try:
            with self._bucket.errors("stat", key):
                response = self._bucket.client.head_object(
                    Bucket=self._bucket.name, Key=full_key, ChecksumMode="ENABLED"
                )
        except _MissingObject:
            return None
        size = response["ContentLength"]
        ours = OWNER_MARK in response.get("Metadata", {})
        return StoredObject(key, size, s3_checksum=_server_checksum(response), ours=ours)

    def list_objects(self, prefix: str) -> Iterator[StoredObject]:
        root = self._bucket.prefix
        pages = self._bucket.client.get_paginator("list_objects_v2").paginate(
            Bucket=self._bucket.name, Prefix=root + prefix
        )
        with self._bucket.errors("list", prefix):
            for page in pages:
                for item in page.get("Contents", []):
                    yield StoredObject(item["Key"][len(root) :], item["Size"])

    def copy_object(self, source: str, key: str) -> StoredObject:
        """A server-side copy (CopyObject, or UploadPartCopy above 5 GiB): no byte comes here.

        The copy gets a CRC32 computed by S3 (single copies), which a caller compares with the
        CRC32 of the bytes it read from ``source``.
        """
        stored = self.stat(source)
        if stored is None:
            raise StorageError(f"cannot copy s3://{self._bucket.name}/{self._bucket.prefix}{source}: "
                               "it does not exist")  # fmt: skip
        copy_source: CopySourceTypeDef = {
            "Bucket": self._bucket.name,
            "Key": self._bucket.full_key(source),
        }
        dest = self._bucket.full_key(key)
        if stored.size <= COPY_WHOLE_LIMIT:
            with self._bucket.errors(f"copy {source} to", key):
                self._bucket.client.copy_object(
                    Bucket=self._bucket.name,
                    Key=dest,
                    CopySource=copy_source,
                    ChecksumAlgorithm="CRC32",
                    MetadataDirective="REPLACE",  # our mark, not the source's (Aurora's) metadata
                    **_object_args(self._options),
                )
        else:
            self._copy_in_parts(copy_source, source, key, stored.size)
        copied = self.stat(key)
        if copied is None or copied.size != stored.size:
            raise StorageError(f"the copy of {source} at {key} is missing or has another size")
        return copied

    def _copy_in_parts(
        self, copy_source: CopySourceTypeDef, source: str, key: str, size: int
    ) -> None:
        """A multipart upload whose parts are byte ranges of ``source``, copied by S3."""
        dest = self._bucket.full_key(key)
        with self._bucket.errors("start the copy of", key):
            upload_id = self._bucket.client.create_multipart_upload(
                Bucket=self._bucket.name, Key=dest, **_object_args(self._options)
            )["UploadId"]
        try:
            parts: list[CompletedPartTypeDef] = []
            for number, start in enumerate(range(0, size, COPY_PART_SIZE), start=1):
                end = min(size, start + COPY_PART_SIZE) - 1
                with self._bucket.errors(f"copy part {number} of {source} to", key):
                    response = self._bucket.client.upload_part_copy(
                        Bucket=self._bucket.name,
                        Key=dest,
                        UploadId=upload_id,
                        PartNumber=number,
                        CopySource=copy_source,
                        CopySourceRange=f"bytes={start}-{end}",
                    )
                parts.append({"PartNumber": number, "ETag": response["CopyPartResult"]["ETag"]})
            with self._bucket.errors("complete the copy of", key):
                self._bucket.client.complete_multipart_upload(
                    Bucket=self._bucket.name,
                    Key=dest,
                    UploadId=upload_id,
                    MultipartUpload={"Parts": parts},
                )
        except BaseException:
            with suppress(StorageError):
                _abort_upload(self._bucket, dest, upload_id)
            raise

    def delete_keys(self, keys: Iterable[str]) -> None:
        it = iter(keys)
        while batch := list(islice(it, DELETE_BATCH)):
            self._delete_batch(batch)

    def _delete_batch(self, keys: list[str]) -> None:
        """One DeleteObjects call; S3 answers 200 even when keys fail, so read its Errors."""
        objects: list[ObjectIdentifierTypeDef] = [{"Key": self._bucket.full_key(k)} for k in keys]
        with self._bucket.errors(f"delete {len(keys)} objects starting with", keys[0]):
            response = self._bucket.client.delete_objects(
                Bucket=self._bucket.name, Delete={"Objects": objects, "Quiet": True}
            )
        failed = response.get("Errors", [])
        if failed:
            first = failed[0]
            raise StorageError(
                f"could not delete {len(failed)} of {len(keys)} objects from bucket "
                f"{self._bucket.name!r}, first s3://{self._bucket.name}/{first.get('Key')}: "
                f"{first.get('Code')} ({first.get('Message')})"
            )

    def abort_incomplete(self, prefix: str) -> int:
        root = self._bucket.prefix
        pages = self._bucket.client.get_paginator("list_multipart_uploads").paginate(
            Bucket=self._bucket.name, Prefix=root + prefix
        )
        aborted = 0
        with self._bucket.errors("abort unfinished uploads under", prefix):
            for page in pages:
                for upload in page.get("Uploads", []):
                    aborted += _abort_upload(self._bucket, upload["Key"], upload["UploadId"])
        return aborted
