"""The reliability matrix (issue 7): fault scenarios against the real MariaDB and SeaweedFS.

Every test here is ``integration`` and ``reliability``; tests that only make sense at soak scale
are ``soak`` and are skipped unless ``DBARCHIVE_SOAK=1`` (``make soak``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.integration.conftest import (  # noqa: F401 - fixtures shared with the integration suite
    S3Endpoint,
    s3_bucket,
    s3_client,
    s3_endpoint,
    s3_options,
)
from tests.integration.mysql_fixtures import MySqlSchema, mysql_schema  # noqa: F401
from tests.reliability import scenario
from tests.reliability.oracle import S3View, Seed, archive_signature
from tests.reliability.scenario import DAYS, Job, write_job

_HERE = Path(__file__).parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if _HERE in item.path.parents:
            item.add_marker(pytest.mark.integration)
            item.add_marker(pytest.mark.reliability)
            if item.get_closest_marker("soak") and scenario.SCALE == 1:
                item.add_marker(pytest.mark.skip(reason="soak tier: make soak"))


def s3_env(endpoint: S3Endpoint) -> dict[str, str]:
    return {
        "AWS_ACCESS_KEY_ID": endpoint.access_key,
        "AWS_SECRET_ACCESS_KEY": endpoint.secret_key,
        "AWS_DEFAULT_REGION": endpoint.region,
    }


@pytest.fixture
def seeded(mysql_schema: MySqlSchema) -> Seed:
    """8 days x 2500 rows (20k) of adversarial rows with 1.5 KiB payloads (a day is ~7 MB: one file in two multipart parts), S recorded."""
    seed = Seed(DAYS, 2500, 1536)
    seed.create(mysql_schema)
    return seed


@pytest.fixture
def light(mysql_schema: MySqlSchema) -> Seed:
    """The same 20k adversarial rows without payloads: quick runs, for kills at random moments."""
    seed = Seed(DAYS, 2500, 0)
    seed.create(mysql_schema)
    return seed


@pytest.fixture
def s3_job(
    mysql_schema: MySqlSchema,
    s3_endpoint: S3Endpoint,
    s3_bucket: str,
    tmp_path: Path,
) -> Job:
    """A job archiving the scenario's schema to its own bucket (5 MiB multipart parts)."""
    return write_job(
        tmp_path / "job.toml",
        mysql_schema.url,
        f"s3://{s3_bucket}/arch",
        s3_env(s3_endpoint),
        destination=f'endpoint_url = "{s3_endpoint.url}"\npart_size_mib = 5\n',
    )


@pytest.fixture
def view(s3_client: Any, s3_bucket: str) -> S3View:
    return S3View(s3_client, s3_bucket, "arch/")


_CLEAN: dict[str, Any] = {}


@pytest.fixture
def clean_signature(
    s3_job: Job, s3_client: Any, s3_bucket: str
) -> Callable[[Seed], dict[str, Any]]:
    """The archive of a clean export of the seeded days (computed once a session, before any
    fault: the seed is deterministic, so every scenario's clean archive is the same)."""

    def signature(seed: Seed) -> dict[str, Any]:
        name = f"clean-{seed.payload_bytes}"
        if name not in _CLEAN:
            text = s3_job.path.read_text().replace(
                f"s3://{s3_bucket}/arch", f"s3://{s3_bucket}/{name}"
            )
            clean = write_job(s3_job.path.with_name("clean.toml"), "", "", s3_job.env)
            clean.path.write_text(text)
            proc = clean.run(*scenario.export_args())
            assert proc.returncode == 0, proc.stderr
            _CLEAN[name] = archive_signature(S3View(s3_client, s3_bucket, f"{name}/"))
        return dict(_CLEAN[name])

    return signature
