"""What the Aurora checks make of what a server says: its kind, and the region in a host name."""

from __future__ import annotations

import pytest

from dbarchive.strategies.aurora.checks import _HOST_REGION, ServerKind


@pytest.mark.parametrize(
    ("kind", "text", "aurora"),
    [
        (ServerKind("8.0.32", "3.05.2", True), "Aurora MySQL 3.05.2 (MySQL 8.0.32)", True),
        (ServerKind("10.11.19-MariaDB-0+deb12u1", None, False), "MariaDB 10.11.19", False),
        (ServerKind("8.0.39", None, True), "RDS for MySQL 8.0.39", False),
        (ServerKind("8.4.2", None, False), "MySQL 8.4.2", False),
    ],
)
def test_server_kinds_are_named_for_the_refusal(kind: ServerKind, text: str, aurora: bool) -> None:
    """The refusal names what the server is; only AURORA_VERSION() makes it Aurora."""
    assert (kind.describe(), kind.is_aurora) == (text, aurora)


def test_aurora_major_version() -> None:
    """The major version picks the role (3) or the privilege (2) and the parameters to read."""
    assert ServerKind("8.0.32", "3.05.2", True).aurora_major == 3
    assert ServerKind("5.7.12", "2.11.2", True).aurora_major == 2
    assert ServerKind("8.0", None, False).aurora_major is None


@pytest.mark.parametrize(
    ("host", "region"),
    [
        ("prod.cluster-abc.eu-west-1.rds.amazonaws.com", "eu-west-1"),
        ("db.cluster-ro-x.us-gov-west-1.rds.amazonaws.com", "us-gov-west-1"),
        ("db.cluster-x.cn-north-1.rds.amazonaws.com.cn", "cn-north-1"),
        ("127.0.0.1", None),
    ],
)
def test_the_clusters_region_comes_from_its_endpoint_name(host: str, region: str | None) -> None:
    """An RDS endpoint names its region; any other host name gives none."""
    match = _HOST_REGION.search(host)
    assert (match.group(1) if match else None) == region
