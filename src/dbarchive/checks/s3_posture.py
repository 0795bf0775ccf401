"""``dbarchive check``: the archive bucket's security settings, each with the command that fixes it.

Four questions a security review asks of the bucket the archive lands in:

- **default encryption** (GetBucketEncryption) agrees with ``[destination] sse``/``kms_key_id``:
  dbarchive asks for its own per object, so a bucket whose default is another key (or none, with
  no ``sse``) gets objects encrypted otherwise than intended — or not at all;
- **public access** (GetPublicAccessBlock): all four blocks on;
- **TLS only** (GetBucketPolicy): a statement denying every request with ``aws:SecureTransport``
  false;
- **versioning** (GetBucketVersioning): enabled — what S3 Object Lock (WORM retention) needs.

They are advisory (``WARN``): ``check`` still exits 0 unless ``--strict``, because they describe
the bucket, not what a run needs. One is not: with ``[destination] object_lock`` the bucket must
keep versions, have **Object Lock** enabled (GetObjectLockConfiguration) and no default retention
stricter than the configured one — a run refuses to start otherwise (``S3Storage.check``), and
``check`` fails saying so (read only when ``object_lock`` is configured). A setting S3 will not
tell (access denied, or an S3-compatible server without the call) is reported as unknown, with the
permission to grant.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dbarchive.checks.result import CheckResult
from dbarchive.config import DestinationSettings
from dbarchive.storage.s3_lock import bucket_lock_problem, default_retention

_NOT_CONFIGURED = {
    "ServerSideEncryptionConfigurationNotFoundError",
    "NoSuchPublicAccessBlockConfiguration",
    "NoSuchBucketPolicy",
    "ObjectLockConfigurationNotFoundError",
}
_BLOCKS = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")


@dataclass(frozen=True)
class Reading:
    """One bucket setting as S3 answered: its value, ``None`` when not configured, or why it
    could not be read (``error``)."""

    value: Any = None
    error: str | None = None


def read_settings(client: Any, bucket: str, object_lock: bool = False) -> dict[str, Reading]:
    """The settings of ``bucket`` (one GET each; nothing is changed); its Object Lock
    configuration too with ``object_lock``."""
    from botocore.exceptions import BotoCoreError, ClientError

    calls: dict[str, Callable[[], Any]] = {
        "encryption": lambda: client.get_bucket_encryption(Bucket=bucket)[
            "ServerSideEncryptionConfiguration"
        ]["Rules"],
        "public_access": lambda: client.get_public_access_block(Bucket=bucket)[
            "PublicAccessBlockConfiguration"
        ],
        "policy": lambda: json.loads(client.get_bucket_policy(Bucket=bucket)["Policy"]),
        "versioning": lambda: client.get_bucket_versioning(Bucket=bucket).get("Status"),
    }
    if object_lock:
        calls["object_lock"] = lambda: client.get_object_lock_configuration(Bucket=bucket)[
            "ObjectLockConfiguration"
        ]
    readings = {}
    for name, call in calls.items():
        try:
            readings[name] = Reading(call())
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in _NOT_CONFIGURED:
                readings[name] = Reading(None)
            else:
                readings[name] = Reading(error=f"{code or 'error'}: {_message(exc)}")
        except (BotoCoreError, ValueError) as exc:
            readings[name] = Reading(error=type(exc).__name__)
    return readings


def _message(exc: Any) -> str:
    return str(exc.response.get("Error", {}).get("Message", "")).rstrip(".") or "no message"


def posture_checks(
    readings: dict[str, Reading], bucket: str, dest: DestinationSettings
) -> list[CheckResult]:
    """One advisory result per setting, with the fix; and, where ``object_lock`` is
    configured, whether the bucket can keep the archive locked (not advisory)."""
    results = [
        _encryption(readings["encryption"], bucket, dest),
        _public_access(readings["public_access"], bucket),
        _tls_only(readings["policy"], bucket),
        _versioning(readings["versioning"], bucket),
    ]
    if "object_lock" in readings:
        results.append(_object_lock(readings["object_lock"], readings["versioning"], bucket, dest))
    return results


def _unknown(name: str, reading: Reading, permission: str) -> CheckResult:
    return CheckResult(
        name,
        False,
        f"could not be read ({reading.error})",
        f"allow {permission} to see it (S3-compatible servers may not have the call)",
        advisory=True,
    )


def _encryption(reading: Reading, bucket: str, dest: DestinationSettings) -> CheckResult:
    name = "s3: default encryption"
    if reading.error:
        return _unknown(name, reading, "s3:GetEncryptionConfiguration")
    default = (reading.value or [{}])[0].get("ApplyServerSideEncryptionByDefault") or {}
    algorithm, key = default.get("SSEAlgorithm"), default.get("KMSMasterKeyID")
    found = f"{algorithm}{f' ({key})' if key else ''}" if algorithm else "none"
    wanted = dest.sse
    config = f"sse = {wanted!r}" + (
        f", kms_key_id = {dest.kms_key_id!r}" if dest.kms_key_id else ""
    )
    kms_rule = (
        '{"Rules":[{"ApplyServerSideEncryptionByDefault":{"SSEAlgorithm":"aws:kms",'
        f'"KMSMasterKeyID":"{dest.kms_key_id or "<key arn>"}"}}}}]}}'
    )
    aes_rule = '{"Rules":[{"ApplyServerSideEncryptionByDefault":{"SSEAlgorithm":"AES256"}}]}'
    put = (
        f"aws s3api put-bucket-encryption --bucket {bucket} "
        "--server-side-encryption-configuration '{rule}'"
    )
    if wanted is None and not algorithm:
        return CheckResult(
            name,
            False,
            "the bucket has no default encryption and [destination] sets no sse: archive "
            "objects are stored unencrypted",
            put.format(rule=aes_rule) + ' (or set [destination] sse = "AES256" / "aws:kms")',
            advisory=True,
        )
    if algorithm == "aws:kms" and (wanted != "aws:kms" or (key and dest.kms_key_id != key)):
        return CheckResult(
            name,
            False,
            f"the bucket encrypts with {found} by default, but dbarchive asks each object for "
            f"{config}: its objects are not encrypted with the bucket's key",
            f'set [destination] sse = "aws:kms" and kms_key_id = "{key or "<key arn>"}"',
            advisory=True,
        )
    if wanted == "aws:kms" and algorithm != "aws:kms":
        return CheckResult(
            name,
            False,
            f"dbarchive encrypts its objects with aws:kms ({config}); the bucket's default is "
            f"{found}, so other writers' objects are not",
            put.format(rule=kms_rule),
            advisory=True,
        )
    detail = f"bucket default {found}" + (f"; dbarchive asks {config}" if wanted else "")
    return CheckResult(name, True, detail, advisory=True)


def _public_access(reading: Reading, bucket: str) -> CheckResult:
    name = "s3: public access blocked"
    if reading.error:
        return _unknown(name, reading, "s3:GetBucketPublicAccessBlock")
    config = reading.value or {}
    off = [flag for flag in _BLOCKS if not config.get(flag)]
    if not off:
        return CheckResult(name, True, "all four public access blocks are on", advisory=True)
    flags = ",".join(f"{flag}=true" for flag in _BLOCKS)
    state = "no public access block" if not config else f"off: {', '.join(off)}"
    return CheckResult(
        name,
        False,
        f"{state} (an account-level block, if any, is not read here)",
        f"aws s3api put-public-access-block --bucket {bucket} "
        f"--public-access-block-configuration {flags}",
        advisory=True,
    )


def _denies_plain_http(statement: dict[str, Any]) -> bool:
    """A Deny of every principal and s3:* (or *) when aws:SecureTransport is false."""
    if statement.get("Effect") != "Deny":
        return False
    principal = statement.get("Principal")
    if principal not in ("*", {"AWS": "*"}):
        return False
    actions = statement.get("Action", [])
    actions = [actions] if isinstance(actions, str) else actions
    if not {"s3:*", "*"} & set(actions):
        return False
    for operator in ("Bool", "BoolIfExists"):
        value = (statement.get("Condition", {}).get(operator) or {}).get("aws:SecureTransport")
        values = [value] if isinstance(value, str | bool) else (value or [])
        if any(str(v).lower() == "false" for v in values):
            return True
    return False


def _tls_only(reading: Reading, bucket: str) -> CheckResult:
    name = "s3: bucket policy denies requests without TLS"
    if reading.error:
        return _unknown(name, reading, "s3:GetBucketPolicy")
    statements = (reading.value or {}).get("Statement", [])
    statements = [statements] if isinstance(statements, dict) else statements
    if any(_denies_plain_http(s) for s in statements):
        return CheckResult(name, True, "a Deny on aws:SecureTransport = false", advisory=True)
    policy = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "DenyWithoutTLS",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:*",
                    "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                }
            ],
        },
        separators=(",", ":"),
    )
    return CheckResult(
        name,
        False,
        "no bucket policy" if reading.value is None else "the policy has no such Deny",
        f"add this statement to the bucket policy (merge with any existing one): {policy}",
        advisory=True,
    )


def _versioning(reading: Reading, bucket: str) -> CheckResult:
    name = "s3: versioning (for Object Lock)"
    if reading.error:
        return _unknown(name, reading, "s3:GetBucketVersioning")
    if reading.value == "Enabled":
        return CheckResult(name, True, "enabled", advisory=True)
    return CheckResult(
        name,
        False,
        f"{(reading.value or 'never enabled').lower()}: S3 Object Lock (WORM retention of "
        "the archive) needs it",
        f"aws s3api put-bucket-versioning --bucket {bucket} --versioning-configuration "
        "Status=Enabled, and a lifecycle rule expiring noncurrent versions (replaced manifests "
        "and removed parts then stay as such)",
        advisory=True,
    )


def _object_lock(
    reading: Reading, versioning: Reading, bucket: str, dest: DestinationSettings
) -> CheckResult:
    """Whether the bucket can keep the archive locked as ``[destination] object_lock`` asks:
    what a run needs, so not advisory."""
    name = "s3: Object Lock (WORM)"
    lock = dest.lock
    assert lock is not None
    if reading.error or versioning.error:
        return CheckResult(
            name,
            False,
            f"could not be read ({reading.error or versioning.error}); a run reads it too and "
            "refuses to start without it",
            "allow s3:GetBucketObjectLockConfiguration and s3:GetBucketVersioning",
        )
    problem = bucket_lock_problem(bucket, versioning.value, reading.value, lock)
    if problem:
        detail, _, fix = problem.partition(": ")
        return CheckResult(name, False, detail + " (a run refuses to start)", fix)
    default = default_retention(reading.value)
    note = "" if default is None else f"; bucket default {default[0]} {default[1]}"
    return CheckResult(name, True, f"archive objects locked {lock.describe()}{note}")
