"""S3 Lifecycle rules for the archive's own retention: ``dbarchive lifecycle`` (issue 22 §3).

From ``[destination] lifecycle = { storage_class = "DEEP_ARCHIVE", after = "400 days" }`` it
prints the bucket's lifecycle configuration for the archive's prefix (``aws s3api
put-bucket-lifecycle-configuration --lifecycle-configuration file://…``); it applies nothing.

- **Data files only move.** The transition filters on the tag ``dbarchive-kind=data``, which
  dbarchive puts on every published data file when ``lifecycle`` is configured: manifests, purge
  records and the deletion ledger stay in S3 Standard, immediately readable by ``status``,
  ``plan`` and ``audit``.
- **Never before the purge.** The purge (and a growth, a verify, a restore) reads every file of
  the day; GLACIER and DEEP_ARCHIVE objects must be restored before they can be read, so those
  classes are refused earlier than the longest table retention plus a margin. STANDARD_IA and
  GLACIER_IR stay readable at once (at a retrieval price).
- **Nothing under retention is expired.** No rule expires a current object; noncurrent versions
  (replaced generations, older ``_manifest.json`` versions, temporary objects) expire
  ``noncurrent_days`` after they were replaced, and S3 keeps a version under Object Lock retention
  or legal hold until that ends whatever the rule says. Object Lock itself is untouched by a
  transition: a locked object stays locked in every class.
- S3 does not transition objects under 128 KiB by default: the command counts the archive's
  data files below that and warns.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

from dbarchive.config import ArchiveJob
from dbarchive.context import Context
from dbarchive.errors import ConfigError
from dbarchive.layout import is_part_name
from dbarchive.storage.s3_lock import DATA_TAG_KEY, DATA_TAG_VALUE

SMALL_OBJECT = 128 * 1024  # S3 Lifecycle's default floor for transitions
NOT_INSTANT = ("GLACIER", "DEEP_ARCHIVE")  # must be restored before a GET
PURGE_MARGIN_DAYS = 30  # after the longest retention: late growth, reruns, a stopped purge
MIN_DAYS = {"STANDARD_IA": 30, "GLACIER_IR": 0, "GLACIER": 0, "DEEP_ARCHIVE": 0}  # S3's minimums


@dataclass
class LifecyclePlan:
    """The lifecycle configuration for the archive's prefix, and what to know about it."""

    bucket: str
    configuration: dict[str, Any]
    warnings: list[str] = field(default_factory=list)


def lifecycle_plan(ctx: Context, scan: bool = True) -> LifecyclePlan:
    """The rules for ``ctx``'s destination; ``scan``: count small data files (lists the archive).

    ConfigError when ``[destination] lifecycle`` is missing or would move a file before it may
    be needed again (before its day's purge)."""
    job = ctx.job
    plan = build_plan(job)
    if scan:
        small = sum(
            1
            for spec in job.tables
            for obj in ctx.storage.list_objects(f"{job.folder(spec)}/")
            if obj.size < SMALL_OBJECT and is_part_name(obj.key.rsplit("/", 1)[-1])
        )
        if small:
            plan.warnings.append(
                f"{small} data file(s) are smaller than 128 KiB, which S3 Lifecycle does not "
                "transition by default: they stay in S3 Standard (fewer, larger files: raise "
                "max_file_mib, or archive a busier table per day)"
            )
    return plan


def build_plan(job: ArchiveJob) -> LifecyclePlan:
    """The rules from the configuration alone (no bucket access)."""
    dest = job.destination
    settings = dest.lifecycle
    parsed = urlparse(dest.url)
    if settings is None or parsed.scheme != "s3":
        raise ConfigError(
            "dbarchive lifecycle needs an s3:// destination with [destination] lifecycle = "
            '{ storage_class = "GLACIER_IR", after = "90 days" } (classes: STANDARD_IA, '
            "GLACIER_IR, GLACIER, DEEP_ARCHIVE)"
        )
    days, storage_class = settings.after_days, settings.storage_class
    _check_days(job, days, storage_class)
    prefix = parsed.path.strip("/")
    prefix = f"{prefix}/" if prefix else ""
    name = re.sub(r"[^A-Za-z0-9_.-]", "-", prefix.rstrip("/")) or "root"
    data = {
        "ID": f"dbarchive-{name}-data-to-{storage_class.lower()}",
        "Status": "Enabled",
        "Filter": {
            "And": {"Prefix": prefix, "Tags": [{"Key": DATA_TAG_KEY, "Value": DATA_TAG_VALUE}]}
        },
        "Transitions": [{"Days": days, "StorageClass": storage_class}],
    }
    history = {
        "ID": f"dbarchive-{name}-history",
        "Status": "Enabled",
        "Filter": {"Prefix": prefix},
        "NoncurrentVersionExpiration": {"NoncurrentDays": settings.noncurrent_days},
        "Expiration": {"ExpiredObjectDeleteMarker": True},
        "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7},
    }
    warnings = []
    if storage_class in NOT_INSTANT:
        warnings.append(
            f"{storage_class} objects cannot be read without an S3 restore first: a restore, "
            "verify or growth of a day older than "
            f"{days} days then needs `aws s3api restore-object` on its files"
        )
    return LifecyclePlan(parsed.netloc, {"Rules": [data, history]}, warnings)


def _check_days(job: ArchiveJob, days: int, storage_class: str) -> None:
    """A file moves only after S3's minimum for the class and, for a class that must be restored
    before a read, after the day's purge (longest retention plus a margin)."""
    if days < MIN_DAYS[storage_class]:
        raise ConfigError(
            f"[destination] lifecycle: S3 moves objects to {storage_class} only after "
            f'{MIN_DAYS[storage_class]} days; set after = "{MIN_DAYS[storage_class]} days" or more'
        )
    if storage_class not in NOT_INSTANT:
        return
    longest = max((_retention_days(spec.retention) for spec in job.tables), default=0)
    least = longest + PURGE_MARGIN_DAYS
    if days < least:
        raise ConfigError(
            f"[destination] lifecycle: after = {days} days would move data files to "
            f"{storage_class} before their day's purge has read them (the longest table "
            f"retention keeps rows {longest} days, plus {PURGE_MARGIN_DAYS} days for late rows "
            f'and reruns); set after = "{least} days" or more, or use GLACIER_IR'
        )


def _retention_days(retention: Any) -> int:
    """The longest a table's retention keeps a day in MySQL, in days (a month: 31)."""
    shortest: dt.timedelta = retention.shortest
    return int(shortest.days * 31 / 28) if retention.unit == "months" else shortest.days
