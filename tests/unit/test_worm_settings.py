"""WORM settings without a server (issue 22): retention periods and dates, which keys are the
archive's content, the bucket verdict, the config's rules and the S3 Lifecycle rules (checked
against botocore's own model of PutBucketLifecycleConfiguration)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from pydantic import ValidationError

from dbarchive.config import DestinationSettings, job_from_dict
from dbarchive.errors import ConfigError
from dbarchive.jobs.lifecycle import build_plan
from dbarchive.storage.retention import ObjectLock, Period, is_archive_content
from dbarchive.storage.s3_lock import bucket_lock_problem, tag_args

DAY = "t/year=2026/month=09/day=01/"


@pytest.mark.parametrize(
    ("text", "period"),
    [
        ("7 years", Period(7, "years")),
        ("1 year", Period(1, "years")),
        (" 400 DAYS ", Period(400, "days")),
    ],
)
def test_periods_are_days_or_years(text: str, period: Period) -> None:
    assert Period.parse(text) == period


@pytest.mark.parametrize("text", ["12 months", "0 days", "7y", "seven years", ""])
def test_other_periods_are_refused_naming_the_forms(text: str) -> None:
    with pytest.raises(ValueError, match=r"days or years|at least 1 day"):
        Period.parse(text)


def test_retain_until_counts_calendar_years_and_rounds_up_to_the_second() -> None:
    leap = dt.datetime(2028, 2, 29, 10, 0, 0, 1, tzinfo=dt.UTC)
    lock = ObjectLock("COMPLIANCE", Period(1, "years"))
    assert lock.retain_until(leap) == dt.datetime(2029, 3, 1, 10, 0, 1, tzinfo=dt.UTC)
    days = ObjectLock("GOVERNANCE", Period(30, "days"))
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    assert days.retain_until(start) == dt.datetime(2026, 1, 31, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("part-g0001-00000.csv.gz", True),
        ("part-g0002-00003-00000.parquet", True),
        ("part-00000.csv", True),
        ("_manifest.json", True),
        ("_manifest-g0001.json", True),
        ("_staged-part-g0002-00000.csv", False),
        ("_purge.json", False),
        ("_verified.json", False),
        ("_units.json", False),
        ("_unit-00001.json", False),
        ("_aurora-00001.part_00000", False),
        ("_outfile-00001.json", False),
    ],
)
def test_only_the_archives_content_is_locked(name: str, content: bool) -> None:
    assert is_archive_content(DAY + name) is content


def test_only_published_data_files_are_tagged_for_lifecycle() -> None:
    assert tag_args(True, DAY + "part-g0001-00000.csv") == {"Tagging": "dbarchive-kind=data"}
    assert tag_args(True, DAY + "part-g0001-00000.csv", copy=True)["TaggingDirective"] == "REPLACE"
    assert tag_args(True, DAY + "_manifest.json") == {}
    assert tag_args(True, DAY + "_staged-part-g0001-00000.csv") == {}
    assert tag_args(False, DAY + "part-g0001-00000.csv") == {}


LOCK = ObjectLock("COMPLIANCE", Period(7, "years"))


def _config(mode: str, **period: int) -> dict[str, Any]:
    return {"ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": mode, **period}}}


@pytest.mark.parametrize(
    ("versioning", "config", "lock", "problem"),
    [
        (None, None, LOCK, "versioning never enabled"),
        ("Suspended", {"ObjectLockEnabled": "Enabled"}, LOCK, "versioning suspended"),
        ("Enabled", None, LOCK, "does not have S3 Object Lock enabled"),
        ("Enabled", {"ObjectLockEnabled": "Enabled"}, LOCK, None),
        ("Enabled", _config("COMPLIANCE", Years=7), LOCK, None),
        ("Enabled", _config("GOVERNANCE", Days=2555), LOCK, None),  # 7 years ≥ 2555 days
        ("Enabled", _config("COMPLIANCE", Years=10), LOCK, 'set retain = "10 years"'),
        (
            "Enabled",
            _config("COMPLIANCE", Days=30),
            ObjectLock("GOVERNANCE", Period(1, "years")),
            'set object_lock mode = "COMPLIANCE"',
        ),
    ],
)
def test_the_bucket_must_keep_versions_lock_and_not_be_stricter(
    versioning: str | None, config: Any, lock: ObjectLock, problem: str | None
) -> None:
    found = bucket_lock_problem("b", versioning, config, lock)
    assert (found is None) if problem is None else (found is not None and problem in found)


def test_object_lock_settings_are_checked_on_load() -> None:
    lock = {"mode": "COMPLIANCE", "retain": "7 years"}
    dest = DestinationSettings(url="s3://b/p", object_lock=lock, legal_hold=True)  # type: ignore[arg-type]
    assert dest.lock == ObjectLock("COMPLIANCE", Period(7, "years"), legal_hold=True)
    with pytest.raises(ValidationError, match="needs an s3:// destination"):
        DestinationSettings(url="/tmp/archive", object_lock=lock)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="legal_hold = true needs object_lock"):
        DestinationSettings(url="s3://b/p", legal_hold=True)
    with pytest.raises(ValidationError, match="days or years"):
        DestinationSettings(
            url="s3://b/p", object_lock={"mode": "COMPLIANCE", "retain": "2 months"}
        )  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="COMPLIANCE"):
        DestinationSettings(url="s3://b/p", object_lock={"mode": "compliance", "retain": "1 day"})  # type: ignore[arg-type]


def _job(lifecycle: dict[str, Any] | None, retention: str = "60 days") -> Any:
    return job_from_dict(
        {
            "source": {"url": "mysql://u@127.0.0.1/db"},
            "destination": {"url": "s3://acme-archive/mysql/prod", "lifecycle": lifecycle},
            "tables": [
                {"name": "events", "timestamp_column": "created_at", "retention": retention}
            ],
        }
    )


def _validate(configuration: dict[str, Any]) -> None:
    """Raise if S3's own API model would refuse the configuration (botocore validates)."""
    import botocore.session
    from botocore.validate import ParamValidator

    model = botocore.session.get_session().get_service_model("s3")
    shape = model.operation_model("PutBucketLifecycleConfiguration").input_shape
    report = ParamValidator().validate(
        {"Bucket": "acme-archive", "LifecycleConfiguration": configuration}, shape
    )
    assert not report.has_errors(), report.generate_report()


def test_lifecycle_moves_tagged_data_files_only_and_expires_only_history() -> None:
    plan = build_plan(_job({"storage_class": "DEEP_ARCHIVE", "after": "400 days"}))
    _validate(plan.configuration)
    data, history = plan.configuration["Rules"]
    assert plan.bucket == "acme-archive"
    assert data["Filter"] == {
        "And": {"Prefix": "mysql/prod/", "Tags": [{"Key": "dbarchive-kind", "Value": "data"}]}
    }
    assert data["Transitions"] == [{"Days": 400, "StorageClass": "DEEP_ARCHIVE"}]
    assert "Expiration" not in data and "NoncurrentVersionExpiration" not in data
    assert history["Filter"] == {"Prefix": "mysql/prod/"}
    assert history["NoncurrentVersionExpiration"] == {"NoncurrentDays": 30}
    assert history["Expiration"] == {"ExpiredObjectDeleteMarker": True}  # never a current object
    assert any("restore-object" in w for w in plan.warnings)


def test_lifecycle_never_moves_a_file_out_of_reach_before_its_purge() -> None:
    with pytest.raises(ConfigError, match=r'before their day.s purge.*"123 days"'):
        build_plan(_job({"storage_class": "GLACIER", "after": "90 days"}, retention="3 months"))
    ok = build_plan(_job({"storage_class": "GLACIER_IR", "after": "1 day"}, retention="3 months"))
    _validate(ok.configuration)
    assert not ok.warnings
    with pytest.raises(ConfigError, match='after = "30 days"'):
        build_plan(_job({"storage_class": "STANDARD_IA", "after": "10 days"}))
    with pytest.raises(ConfigError, match="lifecycle needs an s3:// destination"):
        build_plan(_job(None))
