"""S3 Object Lock on the wire: the arguments a locked write carries, what a reply says about a
version's retention, the bucket's own settings checked against ``[destination] object_lock``, and
the calls that set a retention or a legal hold on one version.

A locked PutObject must carry Content-MD5 or ``x-amz-sdk-checksum-algorithm`` (AWS refuses it
otherwise): dbarchive sends ``ChecksumAlgorithm="CRC32"`` beside the CRC32 it computed, which every
botocore since 1.24 turns into both headers (checked with 1.35, MWAA 2.10's pin, and 1.44); parts
of a multipart upload carry ``ChecksumAlgorithm`` already. PutObjectRetention and
PutObjectLegalHold get their Content-MD5 (or CRC32) from botocore itself.

Data files are also tagged ``dbarchive-kind=data`` where ``StorageOptions.tag_data`` asks (the
S3 Lifecycle rules of ``dbarchive lifecycle`` filter on it, so manifests and records never leave
an immediately readable storage class).

SeaweedFS 4.48 ignores the lock headers of CopyObject (AWS honours them), so a promoted copy is
read back and, if it came out unlocked, locked by PutObjectRetention before anything relies on it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

from dbarchive.layout import is_part_name
from dbarchive.storage.base import StoredObject
from dbarchive.storage.retention import MODES, ObjectLock, Period, is_archive_content
from dbarchive.storage.s3_bucket import _Bucket, refused

_NO_HOLD = {
    "NoSuchObjectLegalHold",  # SeaweedFS
    "NoSuchObjectLockConfiguration",
    "ObjectLockConfigurationNotFoundError",
}
_NO_LOCK_CONFIG = "ObjectLockConfigurationNotFoundError"


DATA_TAG_KEY, DATA_TAG_VALUE = "dbarchive-kind", "data"


def tag_args(tag_data: bool, key: str, copy: bool = False) -> dict[str, Any]:
    """The data-file tag of a write of ``key`` ({}: not a published data file, or not asked);
    ``copy``: for a CopyObject, which otherwise copies the source's (staged, untagged) tags."""
    if not tag_data or not is_part_name(key.rsplit("/", 1)[-1]):
        return {}
    tagging = {"Tagging": f"{DATA_TAG_KEY}={DATA_TAG_VALUE}"}
    return {"TaggingDirective": "REPLACE", **tagging} if copy else tagging


def lock_for(lock: ObjectLock | None, key: str) -> ObjectLock | None:
    """The lock a write of ``key`` takes: the configured one for the archive's content only."""
    return lock if lock is not None and is_archive_content(key) else None


def lock_args(lock: ObjectLock | None) -> dict[str, Any]:
    """Object Lock arguments of one write, its retain-until counted from now ({} : no lock)."""
    if lock is None:
        return {}
    args: dict[str, Any] = {
        "ObjectLockMode": lock.mode,
        "ObjectLockRetainUntilDate": lock.retain_until(),
    }
    if lock.legal_hold:
        args["ObjectLockLegalHoldStatus"] = "ON"
    return args


def put_checksum_args(lock: ObjectLock | None) -> dict[str, Any]:
    """What a locked PutObject adds to its CRC32 so that S3 sees the checksum algorithm header."""
    return {"ChecksumAlgorithm": "CRC32"} if lock is not None else {}


def version_of(response: Any) -> str | None:
    """The VersionId a reply names; None on a bucket without versioning (no id, or "null")."""
    version = response.get("VersionId")
    return None if not version or version == "null" else str(version)


def lock_fields(response: Any) -> dict[str, Any]:
    """StoredObject fields from a HeadObject reply: version, retention mode and date, hold."""
    until = response.get("ObjectLockRetainUntilDate")
    hold = response.get("ObjectLockLegalHoldStatus")
    return {
        "version_id": version_of(response),
        "lock_mode": response.get("ObjectLockMode") or None,
        "retain_until": _iso(until) if isinstance(until, dt.datetime) else until or None,
        "legal_hold": None if hold is None else hold == "ON",
    }


def _iso(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat(timespec="seconds")


def ensure_locked(bucket: _Bucket, stored: StoredObject, lock: ObjectLock) -> None:
    """Lock a version that was written without its retention (a copy on a server that ignores
    CopyObject's lock headers); a version locked already is left as it is."""
    version = stored.version_id
    if stored.lock_mode is None:
        with bucket.errors("set the retention of", stored.key):
            bucket.client.put_object_retention(
                Bucket=bucket.name,
                Key=bucket.full_key(stored.key),
                Retention={"Mode": lock.mode, "RetainUntilDate": lock.retain_until()},
                **_version_arg(version),
            )
    if lock.legal_hold and not stored.legal_hold:
        set_legal_hold(bucket, stored.key, version, True)


def legal_hold_on(bucket: _Bucket, key: str, version_id: str | None) -> bool:
    """Whether that version of ``key`` is under legal hold."""
    with bucket.errors("read the legal hold of", key):
        reply: Any
        try:
            reply = bucket.client.get_object_legal_hold(
                Bucket=bucket.name, Key=bucket.full_key(key), **_version_arg(version_id)
            )
        except Exception as exc:  # botocore's ClientError, imported lazily
            if not refused(exc, _NO_HOLD):
                raise
            reply = {}  # never set: S3 answers that the version has no hold configuration
    return bool((reply.get("LegalHold") or {}).get("Status", "OFF") == "ON")


def set_legal_hold(bucket: _Bucket, key: str, version_id: str | None, on: bool) -> bool:
    """Set or clear the legal hold of one version; False if it already was so."""
    full_key = bucket.full_key(key)
    if legal_hold_on(bucket, key, version_id) == on:
        return False
    with bucket.errors("set the legal hold of" if on else "clear the legal hold of", key):
        bucket.client.put_object_legal_hold(
            Bucket=bucket.name,
            Key=full_key,
            LegalHold={"Status": "ON" if on else "OFF"},
            **_version_arg(version_id),
        )
    return True


def list_versions(bucket: _Bucket, prefix: str) -> Iterator[tuple[str, str]]:
    """Every stored version under ``prefix`` as ``(key, version id)``, current or not; delete
    markers hold no bytes and are left out (on an unversioned bucket: each object's "null")."""
    root = bucket.prefix
    pages = bucket.client.get_paginator("list_object_versions").paginate(
        Bucket=bucket.name, Prefix=root + prefix
    )
    with bucket.errors("list the versions of", prefix):
        for page in pages:
            for item in page.get("Versions", []):
                yield item["Key"][len(root) :], item["VersionId"]


def _version_arg(version_id: str | None) -> dict[str, Any]:
    return {"VersionId": version_id} if version_id else {}


def read_bucket_lock(client: Any, bucket: str) -> dict[str, Any] | None:
    """The bucket's ObjectLockConfiguration, or None if it has none (raises ClientError on any
    other failure, e.g. access denied)."""
    try:
        config: dict[str, Any] = client.get_object_lock_configuration(Bucket=bucket)[
            "ObjectLockConfiguration"
        ]
    except Exception as exc:  # botocore's ClientError, imported lazily
        if refused(exc, {_NO_LOCK_CONFIG}):
            return None
        raise
    return config


def default_retention(config: dict[str, Any] | None) -> tuple[str, Period] | None:
    """The bucket's default retention rule (mode and period), or None if it sets none."""
    rule = ((config or {}).get("Rule") or {}).get("DefaultRetention") or {}
    mode = rule.get("Mode")
    if mode not in MODES:
        return None
    if rule.get("Years"):
        return mode, Period(int(rule["Years"]), "years")
    if rule.get("Days"):
        return mode, Period(int(rule["Days"]), "days")
    return None


def bucket_lock_problem(
    bucket: str, versioning: str | None, config: dict[str, Any] | None, lock: ObjectLock
) -> str | None:
    """Why ``bucket`` cannot hold an archive locked as ``lock`` asks, with the fix; None if it
    can. It must keep versions and have Object Lock enabled, and a default retention it sets must
    not be stricter than ``lock`` (a weaker mode or a shorter period would undercut it)."""
    if versioning != "Enabled":
        return (
            f"bucket {bucket!r} has versioning {(versioning or 'never enabled').lower()}, and "
            "[destination] object_lock needs a versioned bucket with Object Lock enabled: "
            f"aws s3api put-bucket-versioning --bucket {bucket} --versioning-configuration "
            "Status=Enabled, then enable Object Lock (or remove object_lock from [destination])"
        )
    if (config or {}).get("ObjectLockEnabled") != "Enabled":
        return (
            f"bucket {bucket!r} does not have S3 Object Lock enabled, which [destination] "
            f"object_lock needs: aws s3api put-object-lock-configuration --bucket {bucket} "
            """--object-lock-configuration '{"ObjectLockEnabled":"Enabled"}' (or create the """
            "bucket with --object-lock-enabled-for-bucket; or remove object_lock)"
        )
    default = default_retention(config)
    if default is None:
        return None
    mode, period = default
    if mode == "COMPLIANCE" and lock.mode == "GOVERNANCE":
        return (
            f"bucket {bucket!r} retains every object in COMPLIANCE mode for {period} by default, "
            f"but [destination] object_lock asks GOVERNANCE, which anyone allowed "
            's3:BypassGovernanceRetention can lift: set object_lock mode = "COMPLIANCE"'
        )
    if lock.period.days < period.days:
        return (
            f"bucket {bucket!r} retains every object for {period} by default, but [destination] "
            f'object_lock retains the archive only {lock.period}: set retain = "{period}" or '
            "longer"
        )
    return None


__all__ = [
    "DATA_TAG_KEY",
    "DATA_TAG_VALUE",
    "bucket_lock_problem",
    "default_retention",
    "ensure_locked",
    "lock_args",
    "lock_fields",
    "lock_for",
    "put_checksum_args",
    "read_bucket_lock",
    "set_legal_hold",
    "tag_args",
    "version_of",
]
