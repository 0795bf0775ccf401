"""``dbarchive check`` reads the archive bucket's security settings from a real S3 server
(SeaweedFS: default encryption, bucket policy and versioning; it has no public access block, which
tests/unit/test_s3_posture.py covers on AWS's recorded answers)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import S3Endpoint
from tests.integration.helpers import LOG_TABLE_DDL
from tests.integration.mysql_fixtures import MySqlSchema, mysql_schema  # noqa: F401
from tests.integration.test_cli import run_cli, write_config

pytestmark = pytest.mark.integration


@pytest.fixture
def config(
    mysql_schema: MySqlSchema,
    s3_endpoint: S3Endpoint,
    s3_bucket: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Path:
    """A job for an ``events`` table archived to the test bucket (keys in the environment)."""
    mysql_schema.execute(LOG_TABLE_DDL)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3_endpoint.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3_endpoint.secret_key)
    monkeypatch.setenv("AWS_DEFAULT_REGION", s3_endpoint.region)
    return write_config(
        tmp_path / "archive.toml",
        {"url": mysql_schema.url},
        {"url": f"s3://{s3_bucket}/arch", "endpoint_url": s3_endpoint.url},
        [{"name": "events", "timestamp_column": "created_at"}],
    )


def _posture(config: Path, *args: str) -> tuple[int, dict[str, dict[str, Any]]]:
    result = run_cli("check", "-c", str(config), "--json", *args)
    rows = json.loads(result.stdout)
    return result.exit_code, {r["name"]: r for r in rows if r["name"].startswith("s3: ")}


def test_check_reports_each_setting_of_a_bare_bucket_with_its_fix(
    config: Path, s3_bucket: str
) -> None:
    """A new bucket: no default encryption (and no sse), no policy, versioning off; the server
    has no public access block call (unknown). Advisory: exit 0, and 4 (storage) with --strict."""
    code, posture = _posture(config)
    assert code == 0
    assert {name: (r["ok"], r["advisory"]) for name, r in posture.items()} == {
        "s3: default encryption": (False, True),
        "s3: public access blocked": (False, True),
        "s3: bucket policy denies requests without TLS": (False, True),
        "s3: versioning (for Object Lock)": (False, True),
    }
    assert "stored unencrypted" in posture["s3: default encryption"]["detail"]
    assert posture["s3: public access blocked"]["detail"].startswith(
        "could not be read (NotImplemented"
    )
    assert (
        f"arn:aws:s3:::{s3_bucket}/*"
        in posture["s3: bucket policy denies requests without TLS"]["fix"]
    )
    strict, _ = _posture(config, "--strict")
    assert strict == 4
    text = run_cli("check", "-c", str(config))
    assert "WARN    s3: default encryption" in text.output
    assert f"aws s3api put-bucket-versioning --bucket {s3_bucket}" in text.output


def test_check_sees_the_encryption_and_versioning_set_on_the_bucket(
    config: Path, s3_bucket: str, s3_client: Any
) -> None:
    """After put-bucket-encryption (AES256) and versioning Enabled, those two are ok."""
    s3_client.put_bucket_encryption(
        Bucket=s3_bucket,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
        },
    )
    s3_client.put_bucket_versioning(Bucket=s3_bucket, VersioningConfiguration={"Status": "Enabled"})
    code, posture = _posture(config)
    assert code == 0
    assert posture["s3: default encryption"]["ok"], posture
    assert posture["s3: default encryption"]["detail"] == "bucket default AES256"
    assert posture["s3: versioning (for Object Lock)"] == {
        "name": "s3: versioning (for Object Lock)",
        "ok": True,
        "detail": "enabled",
        "fix": "",
        "warning": False,
        "advisory": True,
    }
