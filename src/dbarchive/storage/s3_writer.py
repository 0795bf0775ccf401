"""One object streamed to S3: a single PutObject, or a multipart upload whose parts go out on a
background thread while the next fills; invisible until committed."""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import suppress
from typing import TYPE_CHECKING, Any

from dbarchive import failpoints
from dbarchive.errors import StorageError
from dbarchive.storage.base import StorageOptions, StoredObject, name_taken

if TYPE_CHECKING:
    from types_boto3_s3.type_defs import CompletedPartTypeDef, CopySourceTypeDef

    from dbarchive.storage.retention import ObjectLock
from dbarchive.storage.s3_bucket import (
    _NOT_CREATED,
    COPY_PART_SIZE,
    MAX_PARTS,
    _abort_upload,
    _body,
    _Bucket,
    _crc32_b64,
    _object_args,
    _server_checksum,
    landed,
    refused,
    write_token,
)
from dbarchive.storage.s3_conditional import condition_args
from dbarchive.storage.s3_lock import (
    lock_args,
    lock_for,
    put_checksum_args,
    tag_args,
    version_of,
)


class _S3Writer:
    """Buffers one part while the previous one uploads on a single background thread.

    Memory stays at about two parts. An object smaller than one part is sent by one PutObject at
    commit; otherwise the first full part starts a multipart upload, which stays invisible until
    CompleteMultipartUpload. A failed part upload surfaces on the next write() or on commit().
    Where Object Lock is configured, an archive object (``retention.is_archive_content``) is
    written under retention: the PutObject, or the CreateMultipartUpload, carries it.
    ``create_only``: the PutObject, or the CompleteMultipartUpload, carries ``If-None-Match: *``.
    """

    def __init__(
        self, bucket: _Bucket, key: str, options: StorageOptions, create_only: bool = False
    ) -> None:
        self._bucket = bucket
        self._key = key
        self._condition = condition_args(None) if create_only else {}
        self._token = write_token()  # our mark on the object: a lost answer's retry finds it
        self._full_key = bucket.full_key(key)
        self._part_size = options.part_size
        self._extra = {**_object_args(options, self._token), **tag_args(options.tag_data, key)}
        self._lock = lock_for(options.object_lock, key)
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
            reply = self._complete() if self._upload_id is not None else self._put_whole()
        except BaseException:
            with suppress(StorageError):  # keep the commit's own error; abort() can be retried
                self.abort()
            raise
        self._closed = True
        self._shutdown()
        return StoredObject(
            self._key,
            self._size,
            self._sha.hexdigest(),
            _server_checksum(reply),
            version_id=version_of(reply),
        )

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
                **self._full_object(),
                **self._extra,
                **lock_args(self._lock),
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

    def _complete(self) -> Any:
        """Upload the last part and publish the object; S3 checks our whole-object CRC32.
        Returns S3's reply (checksum, version)."""
        self._collect()
        if self._buf:
            part, self._buf = self._buf, bytearray()
            self._parts.append(self._upload_part(len(self._parts) + 1, part))
        upload_id = self._upload_id
        assert upload_id is not None
        failpoints.hit("storage.before-complete")
        self._before_create()
        with self._bucket.errors("complete the upload of", self._key):
            response = self._created(
                lambda: self._bucket.client.complete_multipart_upload(
                    Bucket=self._bucket.name,
                    Key=self._full_key,
                    UploadId=upload_id,
                    MultipartUpload={"Parts": self._parts},
                    **self._full_object(ChecksumCRC32=_crc32_b64(self._crc)),
                    **self._condition,
                )
            )
        self._upload_id = None
        failpoints.hit("storage.after-complete")
        return response

    def _full_object(self, **checksum: Any) -> dict[str, Any]:
        """The arguments asking S3 for (and checking) the whole object's CRC32, where this
        botocore knows them; without them S3 still checks every part's CRC32."""
        if not self._bucket.full_object_crc:
            return {}
        return {"ChecksumType": "FULL_OBJECT", **checksum}

    def _put_whole(self) -> Any:
        """An object smaller than one part goes in a single PutObject, checked by its CRC32.
        Returns S3's reply (checksum, version)."""
        data, self._buf = self._buf, bytearray()
        self._sha.update(data)
        self._before_create()
        with self._bucket.errors("write", self._key):
            return self._created(
                lambda: self._bucket.client.put_object(
                    Bucket=self._bucket.name,
                    Key=self._full_key,
                    Body=_body(data),
                    ChecksumCRC32=_crc32_b64(zlib.crc32(data)),
                    **self._extra,
                    **put_checksum_args(self._lock),
                    **lock_args(self._lock),
                    **self._condition,
                )
            )

    def _before_create(self) -> None:
        if self._condition:
            failpoints.hit("storage.before-create")

    def _created(self, send: Callable[[], Any]) -> Any:
        """``send`` the request that makes the object visible; a create-only write refused
        because the name exists becomes ``NameTaken`` — unless the object there is this write's
        own (its first attempt stored it and the answer was lost: ``landed``)."""
        try:
            return send()
        except Exception as exc:  # botocore's ClientError, imported lazily
            if not (self._condition and refused(exc, _NOT_CREATED)):
                raise
            reply = landed(self._bucket, self._key, self._token)
            if reply is None:
                raise name_taken(self._key) from None
            return reply

    def _shutdown(self) -> None:
        """Join the upload thread; an unfinished part's error no longer matters here."""
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None
        self._pending = None


def copy_in_parts(
    bucket: _Bucket,
    options: StorageOptions,
    copy_source: CopySourceTypeDef,
    source: str,
    key: str,
    size: int,
    lock: ObjectLock | None,
) -> Any:
    """A multipart upload whose parts are byte ranges of ``source``, copied by S3 (objects above
    CopyObject's 5 GiB); returns S3's reply to its completion (the version)."""
    dest = bucket.full_key(key)
    with bucket.errors("start the copy of", key):
        upload_id = bucket.client.create_multipart_upload(
            Bucket=bucket.name,
            Key=dest,
            **_object_args(options),
            **tag_args(options.tag_data, key),
            **lock_args(lock),
        )["UploadId"]
    try:
        parts: list[CompletedPartTypeDef] = []
        for number, start in enumerate(range(0, size, COPY_PART_SIZE), start=1):
            end = min(size, start + COPY_PART_SIZE) - 1
            with bucket.errors(f"copy part {number} of {source} to", key):
                response = bucket.client.upload_part_copy(
                    Bucket=bucket.name,
                    Key=dest,
                    UploadId=upload_id,
                    PartNumber=number,
                    CopySource=copy_source,
                    CopySourceRange=f"bytes={start}-{end}",
                )
            parts.append({"PartNumber": number, "ETag": response["CopyPartResult"]["ETag"]})
        with bucket.errors("complete the copy of", key):
            return bucket.client.complete_multipart_upload(
                Bucket=bucket.name, Key=dest, UploadId=upload_id, MultipartUpload={"Parts": parts}
            )
    except BaseException:
        with suppress(StorageError):
            _abort_upload(bucket, dest, upload_id)
        raise
