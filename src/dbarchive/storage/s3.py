"""S3Storage: archive objects in an S3 bucket (AWS or compatible), streamed by multipart upload.

Integrity: every upload carries a CRC32 that S3 verifies (per part and, via ``FULL_OBJECT``, for the
whole object), and the writer also returns the sha256 of every byte written. CRC32 rather than
CRC32C/CRC64NVME because botocore computes those only with the optional ``awscrt`` package; CRC32 uses
zlib. SeaweedFS 4.48 accepts ``ChecksumType="FULL_OBJECT"`` for CRC32 and rejects a wrong value with
BadDigest, like AWS. ``ChecksumType`` arrived in botocore 1.36; with an older one (MWAA 2.10's
constraints pin 1.35) a multipart upload carries S3's per-part CRC32s only, and its object's
checksum is then a checksum of the parts' checksums (``…-N``), which says nothing comparable about
the whole object: it is not recorded (the manifest keeps the SHA-256 of every byte). Objects sent
in one PutObject, and server-side copies, keep their CRC32 either way.

Versions and Object Lock (``s3_lock.py``): on a versioned bucket every write returns the VersionId
it created and reads can name one; with ``object_lock`` the archive's content is written under
retention, and :meth:`S3Storage.check` refuses a bucket that cannot keep it.
"""

from __future__ import annotations

import io
import zlib
from collections.abc import Iterable, Iterator
from itertools import islice
from typing import TYPE_CHECKING, Any, BinaryIO

from dbarchive.errors import ConfigError, StorageError
from dbarchive.runtime.background import in_background
from dbarchive.storage.base import StorageOptions, StoredObject, write_whole
from dbarchive.storage.retention import ObjectLock

if TYPE_CHECKING:
    from types_boto3_s3.type_defs import (
        CopySourceTypeDef,
        ObjectIdentifierTypeDef,
    )

from dbarchive.storage.s3_bucket import (
    _READ_BUFFER,
    _UNMET,
    CHECK_MAX_ATTEMPTS,
    COPY_WHOLE_LIMIT,
    DELETE_BATCH,
    MAX_PART_SIZE,
    MIN_PART_SIZE,
    OWNER_MARK,
    _abort_upload,
    _BodyReader,
    _Bucket,
    _check_credentials,
    _crc32_b64,
    _make_client,
    _make_session,
    _MissingObject,
    _object_args,
    _parse_url,
    _server_checksum,
    landed,
    refused,
    write_token,
)
from dbarchive.storage.s3_conditional import condition_args
from dbarchive.storage.s3_lock import (
    bucket_lock_problem,
    ensure_locked,
    legal_hold_on,
    list_versions,
    lock_args,
    lock_fields,
    lock_for,
    put_checksum_args,
    read_bucket_lock,
    set_legal_hold,
    tag_args,
    version_of,
)
from dbarchive.storage.s3_writer import _S3Writer, copy_in_parts


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
        self.object_lock: ObjectLock | None = options.object_lock
        self._lock_checked = False

    def _connect(self, name: str, prefix: str) -> tuple[Any, _Bucket]:
        session = _make_session(self._options)
        client = _make_client(session, self._options, self._options.max_attempts)
        return session, _Bucket(client, name, prefix)

    @property
    def _bucket(self) -> _Bucket:
        """The bucket and its client, once built (errors of building it are raised here)."""
        return self._connected.result()[1]

    def location(self, key: str) -> str:
        """The object as other S3 readers name it: ``s3://bucket/prefix/key``."""
        return f"s3://{self._bucket.name}/{self._bucket.full_key(key)}"

    def io_properties(self) -> dict[str, str]:
        """How another S3 client (pyiceberg's FileIO) reaches these objects: this storage's
        endpoint and region and the credentials it uses now (secrets: never log them)."""
        session = self._connected.result()[0]
        props = {"s3.region": self._options.region or self.bucket_region()}
        if self._options.endpoint_url:
            props["s3.endpoint"] = self._options.endpoint_url
        credentials = session.get_credentials()
        if credentials is not None:
            frozen = credentials.get_frozen_credentials()
            props["s3.access-key-id"] = frozen.access_key
            props["s3.secret-access-key"] = frozen.secret_key
            if frozen.token:
                props["s3.session-token"] = frozen.token
        return props

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
        if self.object_lock is not None and not self._lock_checked:
            self._check_lock(bucket, self.object_lock)

    def _check_lock(self, bucket: _Bucket, lock: ObjectLock) -> None:
        """Refuse (StorageError naming the fix) a bucket that cannot keep the archive locked:
        no versioning, no Object Lock, or a default retention stricter than ours. Once."""
        with bucket.errors("read the versioning and Object Lock settings of"):
            versioning = bucket.client.get_bucket_versioning(Bucket=bucket.name).get("Status")
            config = read_bucket_lock(bucket.client, bucket.name)
        problem = bucket_lock_problem(bucket.name, versioning, config, lock)
        if problem:
            raise StorageError(problem)
        self._lock_checked = True

    def bucket_client(self) -> tuple[Any, str]:
        """The client and the bucket's name, to read the bucket's own settings (its encryption,
        policy…: ``dbarchive check``)."""
        return self._bucket.client, self._bucket.name

    def bucket_region(self) -> str:
        """The bucket's region (GetBucketLocation; S3 answers none for us-east-1)."""
        with self._bucket.errors("find the region of"):
            response = self._bucket.client.get_bucket_location(Bucket=self._bucket.name)
        region: str | None = response.get("LocationConstraint")
        return region or "us-east-1"

    def open_writer(self, key: str, *, create_only: bool = False) -> _S3Writer:
        return _S3Writer(self._bucket, key, self._options, create_only)

    def put_bytes(self, key: str, data: bytes) -> StoredObject:
        return write_whole(self.open_writer(key), data)

    def put_if_absent(self, key: str, data: bytes) -> bool:
        """PutObject with ``If-None-Match: *``: S3 answers 412 if the key exists (409 when a
        concurrent conditional write is in flight: one of them wins, so this one did not)."""
        lock = lock_for(self.object_lock, key)
        return self._put(key, data, lock, condition_args(None)) is not None

    def put_if_match(self, key: str, data: bytes, etag: str | None) -> StoredObject | None:
        """PutObject with ``If-Match: etag`` (``If-None-Match: *`` for None): None if S3 answers
        412, 409 (a concurrent conditional write) or 404 (the object is gone)."""
        return self._put(key, data, lock_for(self.object_lock, key), condition_args(etag))

    def put_retained(
        self, key: str, data: bytes, *, if_absent: bool = False
    ) -> StoredObject | None:
        """PutObject under the configured retention whatever the key (the deletion ledger's
        records); ``if_absent``: create-only, None if ``key`` exists."""
        return self._put(key, data, self.object_lock, condition_args(None) if if_absent else {})

    def _put(
        self, key: str, data: bytes, lock: ObjectLock | None, condition: dict[str, Any]
    ) -> StoredObject | None:
        """One PutObject with its CRC32 (and ``lock``); None if its ``condition`` failed (on
        another writer's object: our own, stored by a first attempt whose answer was lost, is
        this write's success — ``landed``)."""
        token = write_token()
        reply: Any
        with self._bucket.errors("create" if condition else "write", key):
            try:
                reply = self._bucket.client.put_object(
                    Bucket=self._bucket.name,
                    Key=self._bucket.full_key(key),
                    Body=data,
                    ChecksumCRC32=_crc32_b64(zlib.crc32(data)),
                    **condition,
                    **_object_args(self._options, token),
                    **put_checksum_args(lock),
                    **lock_args(lock),
                )
            except Exception as exc:  # botocore's ClientError, imported lazily
                if not (condition and refused(exc, _UNMET)):
                    raise
                reply = landed(self._bucket, key, token)
                if reply is None:
                    return None
        checksum = _server_checksum(reply)
        return StoredObject(key, len(data), s3_checksum=checksum, version_id=version_of(reply))

    def get_bytes(self, key: str) -> bytes | None:
        found = self.get_with_etag(key)
        return None if found is None else found[0]

    def get_with_etag(self, key: str) -> tuple[bytes, str] | None:
        try:
            reader, etag = self._get(key, None)
        except _MissingObject:
            return None
        with reader:
            return reader.read(), etag  # BufferedReader.read() is one readall() on the body

    def open_reader(self, key: str, version_id: str | None = None) -> BinaryIO:
        return self._get(key, version_id)[0]

    def _get(self, key: str, version_id: str | None) -> tuple[BinaryIO, str]:
        """GetObject: the body as a stream, and the object's ETag."""
        full_key = self._bucket.full_key(key)
        version: dict[str, Any] = {"VersionId": version_id} if version_id else {}
        with self._bucket.errors(
            "read" if not version_id else f"read version {version_id} of", key
        ):
            response = self._bucket.client.get_object(
                Bucket=self._bucket.name, Key=full_key, **version
            )
        raw = _BodyReader(response["Body"], self._bucket, key)
        return io.BufferedReader(raw, buffer_size=_READ_BUFFER), str(response.get("ETag", ""))

    def stat(self, key: str, version_id: str | None = None) -> StoredObject | None:
        full_key = self._bucket.full_key(key)
        version: dict[str, Any] = {"VersionId": version_id} if version_id else {}
        try:
            with self._bucket.errors("stat", key):
                response = self._bucket.client.head_object(
                    Bucket=self._bucket.name, Key=full_key, ChecksumMode="ENABLED", **version
                )
        except _MissingObject:
            return None
        size = response["ContentLength"]
        ours = OWNER_MARK in response.get("Metadata", {})
        checksum = _server_checksum(response)
        return StoredObject(key, size, s3_checksum=checksum, ours=ours, **lock_fields(response))

    def set_legal_hold(self, key: str, version_id: str | None, on: bool) -> bool:
        return set_legal_hold(self._bucket, key, version_id, on)

    def is_held(self, key: str, version_id: str | None) -> bool:
        return legal_hold_on(self._bucket, key, version_id)

    def has_object_lock(self) -> bool:
        with self._bucket.errors("read the Object Lock configuration of"):
            return read_bucket_lock(self._bucket.client, self._bucket.name) is not None

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
        CRC32 of the bytes it read from ``source``. A copy that is archive content is locked
        where Object Lock is configured (checked on the copy itself: some servers ignore the
        lock headers of CopyObject).
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
        lock = lock_for(self.object_lock, key)
        if stored.size <= COPY_WHOLE_LIMIT:
            with self._bucket.errors(f"copy {source} to", key):
                reply = self._bucket.client.copy_object(
                    Bucket=self._bucket.name,
                    Key=dest,
                    CopySource=copy_source,
                    ChecksumAlgorithm="CRC32",
                    MetadataDirective="REPLACE",  # our mark, not the source's (Aurora's) metadata
                    **_object_args(self._options),
                    **tag_args(self._options.tag_data, key, copy=True),
                    **lock_args(lock),
                )
        else:
            reply = copy_in_parts(
                self._bucket, self._options, copy_source, source, key, stored.size, lock
            )
        copied = self.stat(key, version_of(reply))
        if copied is None or copied.size != stored.size:
            raise StorageError(f"the copy of {source} at {key} is missing or has another size")
        if lock is not None:
            ensure_locked(self._bucket, copied, lock)
        return copied

    def delete_keys(self, keys: Iterable[str]) -> None:
        it = iter(keys)
        while batch := list(islice(it, DELETE_BATCH)):
            self._delete_batch(batch)

    def delete_versions(self, versions: Iterable[tuple[str, str]]) -> None:
        """Delete these ``(key, version_id)`` for good (an erasure; a plain delete only hides
        a key on a versioned bucket). S3 refuses a version under Object Lock retention."""
        it = iter(versions)
        while batch := list(islice(it, DELETE_BATCH)):
            objects: list[ObjectIdentifierTypeDef] = [
                {"Key": self._bucket.full_key(k), "VersionId": v} for k, v in batch
            ]
            with self._bucket.errors(f"delete {len(batch)} versions starting with", batch[0][0]):
                response = self._bucket.client.delete_objects(
                    Bucket=self._bucket.name, Delete={"Objects": objects, "Quiet": True}
                )
            if response.get("Errors"):
                first = response["Errors"][0]
                raise StorageError(
                    f"could not delete {len(response['Errors'])} object versions, first "
                    f"{first.get('Key')} {first.get('VersionId')}: {first.get('Code')}"
                )

    def list_versions(self, prefix: str) -> Iterator[tuple[str, str]]:
        """Every version under ``prefix``, ``(key, version id)`` (an erasure's sweep)."""
        return list_versions(self._bucket, prefix)

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
