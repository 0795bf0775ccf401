"""Checks of the archive destination: reachable, writable and readable by a probe object, and
the bucket's security settings (advisory)."""

from __future__ import annotations

import dataclasses
import uuid

from dbarchive.checks.result import CheckResult, run_probe
from dbarchive.context import Context
from dbarchive.errors import DbArchiveError, StorageError


def check_bucket(ctx: Context) -> CheckResult:
    """The destination exists and the credentials reach it."""

    def probe() -> str:
        ctx.storage.check()
        return ctx.storage.url

    return run_probe(
        "storage: destination reachable",
        probe,
        "give the AWS credentials s3:ListBucket on the bucket (the error names the bucket)",
    )


def check_bucket_access(ctx: Context) -> CheckResult:
    """List, read, write and delete under the prefix (a probe object, removed at once), and
    list unfinished uploads (needed to clean up after a killed run)."""
    key = f"_dbarchive-check/{uuid.uuid4().hex}"

    def probe() -> str:
        list(ctx.storage.list_objects("_dbarchive-check/"))
        ctx.storage.put_bytes(key, b"dbarchive check\n")
        try:
            if ctx.storage.get_bytes(key) != b"dbarchive check\n":
                raise StorageError("the probe object read back differs from what was written")
            ctx.storage.abort_incomplete("_dbarchive-check/")
        finally:
            ctx.storage.delete_keys([key])
        return "all allowed"

    return run_probe(
        "storage: list, put, get, delete, list/abort uploads",
        probe,
        "allow s3:ListBucket, GetObject, PutObject, DeleteObject, ListBucketMultipartUploads and "
        "AbortMultipartUpload on the bucket/prefix",
    )


CONDITIONAL = "storage: conditional writes enforced (create only, replace only if unchanged)"
_STALE_ETAG = '"00000000000000000000000000000000"'


def check_conditional_writes(ctx: Context) -> CheckResult:
    """The store refuses a create over an existing object and a replace of a version the writer
    did not read: generation claims, published data files and the commit marker rely on it
    (docs/design/publication.md). A store that ignores the headers accepts both silently, so
    two writers could then write over each other's archive (one that lost its run lock, two
    backfills of one day)."""
    key = f"_dbarchive-check/{uuid.uuid4().hex}"
    fix = (
        "use a store that enforces S3 conditional writes (AWS S3, MinIO, SeaweedFS), and never "
        "let two runs of a table overlap"
    )
    try:
        ctx.storage.put_bytes(key, b"dbarchive check\n")
        try:
            ignored = [
                name
                for name, accepted in (
                    ("If-None-Match", ctx.storage.put_if_absent(key, b"second\n")),
                    ("If-Match", ctx.storage.put_if_match(key, b"third\n", _STALE_ETAG)),
                )
                if accepted
            ]
        finally:
            ctx.storage.delete_keys([key])
    except DbArchiveError as exc:
        return CheckResult(CONDITIONAL, False, str(exc).splitlines()[0], "")
    if ignored:
        found = f"the store ignored {' and '.join(ignored)}: it wrote over the probe object"
        return CheckResult(CONDITIONAL, False, found, fix)
    return CheckResult(CONDITIONAL, True, "a create over an object and a stale replace refused")


def local_access(ctx: Context, result: CheckResult) -> CheckResult:
    """A local folder has no S3 permissions: a failure there is said by the OS error itself."""
    if result.ok or ctx.storage.url.startswith("s3://"):
        return result
    return dataclasses.replace(result, fix="make the folder writable by this user")


def check_bucket_posture(ctx: Context) -> list[CheckResult]:
    """The S3 bucket's encryption, public access, TLS-only policy and versioning (advisory), and
    its Object Lock where ``[destination] object_lock`` asks for it (needed)."""
    bucket_client = getattr(ctx.storage, "bucket_client", None)
    if bucket_client is None:  # a local folder
        return []
    from dbarchive.checks.s3_posture import posture_checks, read_settings

    client, bucket = bucket_client()
    dest = ctx.job.destination
    readings = read_settings(client, bucket, object_lock=dest.lock is not None)
    return posture_checks(readings, bucket, dest)
