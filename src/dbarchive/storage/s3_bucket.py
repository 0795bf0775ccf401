"""The S3 client, the bucket and prefix, and the one place botocore's failures become sentences
(never with a secret); the small pieces every S3 call shares (object arguments, checksums)."""

from __future__ import annotations

import base64
import io
import uuid
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlparse

from dbarchive.errors import ConfigError, StorageError
from dbarchive.storage.base import StorageOptions
from dbarchive.storage.s3_conditional import knows_if_match, teach_if_match

if TYPE_CHECKING:
    from botocore.response import StreamingBody
    from types_boto3_s3 import S3Client


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
    """The object checksum the server reported, as "ALGO:base64", or None if it sent none or
    only a composite one ("base64-N": of a multipart upload without FULL_OBJECT)."""
    for algo in _CHECKSUM_FIELDS:
        value = response.get(f"Checksum{algo}")
        if value:
            return None if "-" in value else f"{algo}:{value}"
    return None


def _knows_full_object(client: Any) -> bool:
    """Whether this botocore can ask for a whole-object CRC32 of a multipart upload
    (``ChecksumType``: botocore 1.36 and later)."""
    operation = client.meta.service_model.operation_model("CreateMultipartUpload")
    return "ChecksumType" in operation.input_shape.members


_NOT_CREATED = {"PreconditionFailed", "ConditionalRequestConflict"}  # put_if_absent lost the race
# A conditional PutObject's condition not met: 412, 409 (a concurrent conditional write), or 404
# (AWS's answer to If-Match when the object is gone).
_UNMET = _NOT_CREATED | {"NoSuchKey"}


def _error_code(exc: Any) -> tuple[str, str]:
    """The S3 error code and message of a ClientError (HEAD replies carry only the status)."""
    error = exc.response.get("Error", {})
    return str(error.get("Code", "")), str(error.get("Message", ""))


def refused(exc: BaseException, codes: Collection[str]) -> bool:
    """Whether ``exc`` is S3's answer with one of ``codes`` (a ClientError; botocore is imported
    lazily, so it is told by its ``response``)."""
    return hasattr(exc, "response") and _error_code(exc)[0] in codes


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
            f"cannot {action} {target}: no AWS credentials found; dbarchive uses the standard "
            "AWS chain: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE, or run "
            "with an instance or task role (on Airflow: the AWS connection)"
        )
    if isinstance(exc, BotoConnectionError | HTTPClientError):
        return StorageError(
            f"cannot {action} {target}: the S3 endpoint {endpoint} is unreachable "
            f"({type(exc).__name__}); check [destination] endpoint_url and region, the "
            "network and DNS"
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
    if code in {"NoSuchKey", "NoSuchVersion"} or not_found:
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
        self.full_object_crc = _knows_full_object(client)
        if not knows_if_match(client):
            teach_if_match(client)

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


def _object_args(options: StorageOptions, mark: str = "1") -> dict[str, Any]:
    """Encryption and storage class, sent only when set so the bucket's defaults apply otherwise;
    and our mark, so that an object someone else put at one of our keys can be told apart (a
    conditional write's mark is its own token: see :func:`landed`)."""
    args: dict[str, Any] = {"Metadata": {OWNER_MARK: mark}}
    if options.sse:
        args["ServerSideEncryption"] = options.sse
    if options.kms_key_id:
        args["SSEKMSKeyId"] = options.kms_key_id
    if options.storage_class:
        args["StorageClass"] = options.storage_class
    return args


def write_token() -> str:
    """A conditional write's own mark, told apart from every other writer's."""
    return uuid.uuid4().hex


def landed(bucket: _Bucket, key: str, token: str) -> Any | None:
    """HeadObject's reply for ``key`` if the object there is the one a conditional write marked
    ``token``, else None. A conditional PUT whose answer was lost is sent again by botocore, and
    that retry fails its condition on the very object the first attempt stored (a fault test:
    exit 8 on a lost 200): the mark tells our own write from another writer's."""
    try:
        with bucket.errors("check the write of", key):
            reply = bucket.client.head_object(
                Bucket=bucket.name, Key=bucket.full_key(key), ChecksumMode="ENABLED"
            )
    except _MissingObject:
        return None
    return reply if reply.get("Metadata", {}).get(OWNER_MARK) == token else None


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
