"""The S3 bucket's security settings in ``dbarchive check``, on AWS's recorded answers through
botocore's Stubber (SeaweedFS has no public access block; tests/integration/test_s3_posture.py
runs the rest against it)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from dbarchive.checks.s3_posture import posture_checks, read_settings
from dbarchive.config import DestinationSettings

BUCKET = "acme-mysql-archive"
KEY = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
DENY_PLAIN_HTTP = {
    "Sid": "DenyWithoutTLS",
    "Effect": "Deny",
    "Principal": "*",
    "Action": "s3:*",
    "Resource": [f"arn:aws:s3:::{BUCKET}", f"arn:aws:s3:::{BUCKET}/*"],
    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
}
ALL_BLOCKED = {
    "BlockPublicAcls": True,
    "IgnorePublicAcls": True,
    "BlockPublicPolicy": True,
    "RestrictPublicBuckets": True,
}


@pytest.fixture
def s3() -> Iterator[tuple[Any, Stubber]]:
    """An S3 client that answers only from the Stubber (no request leaves the process)."""
    client = boto3.client(
        "s3", region_name="eu-west-1", aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="x"
    )
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def _answer(stubber: Stubber, encryption: Any, public: Any, policy: Any, versioning: Any) -> None:
    """Queue one recorded answer per call: a response dict, or an error code string."""
    expected = {"Bucket": BUCKET}
    for method, answer in (
        ("get_bucket_encryption", encryption),
        ("get_public_access_block", public),
        ("get_bucket_policy", policy),
        ("get_bucket_versioning", versioning),
    ):
        if isinstance(answer, str):
            status = 403 if answer == "AccessDenied" else 404
            stubber.add_client_error(
                method, answer, f"{answer} (recorded)", status, expected_params=expected
            )
        else:
            stubber.add_response(method, answer, expected)


def _results(client: Any, **destination: Any) -> dict[str, Any]:
    dest = DestinationSettings(url=f"s3://{BUCKET}/prod", **destination)
    results = posture_checks(read_settings(client, BUCKET), BUCKET, dest)
    assert all(r.advisory for r in results)
    return {r.name.split(": ", 1)[1].split(" ")[0]: r for r in results}


def _kms(key: str) -> dict[str, Any]:
    rule = {
        "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key}
    }
    return {"ServerSideEncryptionConfiguration": {"Rules": [{**rule, "BucketKeyEnabled": True}]}}


def test_a_well_kept_bucket_passes_every_question(s3: tuple[Any, Stubber]) -> None:
    """KMS default with the configured key, all blocks on, a TLS-only Deny, versioning on."""
    client, stubber = s3
    _answer(
        stubber,
        _kms(KEY),
        {"PublicAccessBlockConfiguration": ALL_BLOCKED},
        {"Policy": json.dumps({"Version": "2012-10-17", "Statement": [DENY_PLAIN_HTTP]})},
        {"Status": "Enabled"},
    )
    results = _results(client, sse="aws:kms", kms_key_id=KEY)
    assert {name: r.ok for name, r in results.items()} == {
        "default": True,
        "public": True,
        "bucket": True,
        "versioning": True,
    }, results


def test_a_bare_bucket_gets_each_fix(s3: tuple[Any, Stubber]) -> None:
    """Nothing configured: each question fails with the aws command that fixes it."""
    client, stubber = s3
    _answer(
        stubber,
        "ServerSideEncryptionConfigurationNotFoundError",
        "NoSuchPublicAccessBlockConfiguration",
        "NoSuchBucketPolicy",
        {},
    )
    results = _results(client)
    assert not any(r.ok for r in results.values())
    assert "stored unencrypted" in results["default"].detail
    assert f"put-bucket-encryption --bucket {BUCKET}" in results["default"].fix
    assert results["public"].fix.endswith("BlockPublicPolicy=true,RestrictPublicBuckets=true")
    assert '"aws:SecureTransport":"false"' in results["bucket"].fix
    assert f"arn:aws:s3:::{BUCKET}/*" in results["bucket"].fix
    assert "Status=Enabled" in results["versioning"].fix
    assert "never enabled" in results["versioning"].detail


def test_a_bucket_key_other_than_the_configured_one_is_named(s3: tuple[Any, Stubber]) -> None:
    """Default KMS key K while dbarchive asks AES256: the fix names K; some blocks off."""
    client, stubber = s3
    _answer(
        stubber,
        _kms(KEY),
        {"PublicAccessBlockConfiguration": {**ALL_BLOCKED, "BlockPublicPolicy": False}},
        {"Policy": json.dumps({"Statement": {**DENY_PLAIN_HTTP, "Effect": "Allow"}})},
        {"Status": "Suspended"},
    )
    results = _results(client, sse="AES256")
    assert not results["default"].ok
    assert f'kms_key_id = "{KEY}"' in results["default"].fix
    assert results["public"].detail.startswith("off: BlockPublicPolicy")
    assert results["bucket"].detail == "the policy has no such Deny"
    assert results["versioning"].detail.startswith("suspended")


def test_settings_s3_will_not_tell_are_unknown_with_the_permission(
    s3: tuple[Any, Stubber],
) -> None:
    """Access denied on each GET: unknown, naming the permission to grant."""
    client, stubber = s3
    _answer(stubber, "AccessDenied", "AccessDenied", "AccessDenied", "AccessDenied")
    results = _results(client)
    assert all(not r.ok and r.detail.startswith("could not be read") for r in results.values())
    assert "s3:GetEncryptionConfiguration" in results["default"].fix
    assert "s3:GetBucketPublicAccessBlock" in results["public"].fix
    assert "s3:GetBucketPolicy" in results["bucket"].fix
    assert "s3:GetBucketVersioning" in results["versioning"].fix


@pytest.mark.parametrize(
    ("statement", "denies"),
    [
        (DENY_PLAIN_HTTP, True),
        (
            {
                **DENY_PLAIN_HTTP,
                "Principal": {"AWS": "*"},
                "Action": ["s3:*"],
                "Condition": {"BoolIfExists": {"aws:SecureTransport": ["false"]}},
            },
            True,
        ),
        ({**DENY_PLAIN_HTTP, "Action": "s3:GetObject"}, False),
        ({**DENY_PLAIN_HTTP, "Principal": {"AWS": "arn:aws:iam::111122223333:root"}}, False),
        ({**DENY_PLAIN_HTTP, "Condition": {"Bool": {"aws:SecureTransport": "true"}}}, False),
    ],
    ids=["canonical", "if-exists-list", "one-action", "one-principal", "inverted"],
)
def test_only_a_deny_of_everything_without_tls_counts(
    statement: dict[str, Any], denies: bool, s3: tuple[Any, Stubber]
) -> None:
    """The Deny must cover every principal and action when aws:SecureTransport is false."""
    client, stubber = s3
    _answer(
        stubber,
        _kms(KEY),
        {"PublicAccessBlockConfiguration": ALL_BLOCKED},
        {"Policy": json.dumps({"Version": "2012-10-17", "Statement": [statement]})},
        {"Status": "Enabled"},
    )
    assert _results(client, sse="aws:kms", kms_key_id=KEY)["bucket"].ok is denies
