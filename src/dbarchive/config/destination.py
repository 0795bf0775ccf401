"""``[destination]`` and ``[throttle]``: where the archive goes, and how gently the job runs."""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlparse

from pydantic import (
    Field,
    field_validator,
    model_validator,
)

from dbarchive.config.base import (
    Frozen,
)
from dbarchive.config.source import SourceSettings
from dbarchive.layout import Layout
from dbarchive.storage.retention import ObjectLock, Period

LIFECYCLE_CLASSES = ("STANDARD_IA", "GLACIER_IR", "GLACIER", "DEEP_ARCHIVE")
# With a latency budget and no max_redo_fill: just below InnoDB's asynchronous flushing point
# (70 % of the log on MariaDB 10.11, about 7/8 of the ~90 % MySQL 8 uses), where the server starts
# flushing hard; a chunk's redo past it stays under the synchronous point (80 %) where every write
# waits. Lower, a busy server's own writes would hold the purge (the fill sat at 50-70 % here
# after a bulk insert, with nothing flushing hard).
BUDGET_REDO_FILL = 0.65
# A latency budget's rows per statement inside a purge chunk (see
# ``ThrottleSettings.rows_per_statement``).
BUDGET_STATEMENT_ROWS = 50


class ObjectLockSettings(Frozen):
    """``object_lock = { mode = "COMPLIANCE", retain = "7 years" }``: every data file and
    manifest is written under S3 Object Lock retention for ``retain`` from its write."""

    mode: Literal["COMPLIANCE", "GOVERNANCE"]
    retain: str

    @field_validator("retain")
    @classmethod
    def _period(cls, v: str) -> str:
        Period.parse(v)  # ValueError naming the accepted forms
        return v

    @property
    def period(self) -> Period:
        return Period.parse(self.retain)


class LifecycleSettings(Frozen):
    """``lifecycle = { storage_class = "GLACIER_IR", after = "90 days" }``: what ``dbarchive
    lifecycle`` prints as the bucket's S3 Lifecycle rules for the archive's prefix."""

    storage_class: Literal["STANDARD_IA", "GLACIER_IR", "GLACIER", "DEEP_ARCHIVE"]
    after: str
    noncurrent_days: int = Field(default=30, ge=1, le=36_500)

    @field_validator("after")
    @classmethod
    def _period(cls, v: str) -> str:
        Period.parse(v)
        return v

    @property
    def after_days(self) -> int:
        """The transition's age in whole days (S3 Lifecycle counts days; a year is 366)."""
        period = Period.parse(self.after)
        return period.amount * (366 if period.unit == "years" else 1)


class DestinationSettings(Frozen):
    """Where the archive goes: ``s3://bucket/prefix`` or a local folder (``file://`` or a path)."""

    url: str
    layout: Layout = Layout.HIVE
    endpoint_url: str | None = None
    region: str | None = None
    sse: Literal["AES256", "aws:kms"] | None = None
    kms_key_id: str | None = None
    storage_class: str | None = None
    part_size_mib: int = Field(default=8, ge=5, le=512)
    object_lock: ObjectLockSettings | None = None
    legal_hold: bool = False  # every locked object is also put under legal hold as written
    lifecycle: LifecycleSettings | None = None

    @property
    def lock(self) -> ObjectLock | None:
        """The Object Lock every archive object is written with (None: no lock)."""
        if self.object_lock is None:
            return None
        return ObjectLock(self.object_lock.mode, self.object_lock.period, self.legal_hold)

    @field_validator("endpoint_url")
    @classmethod
    def _endpoint_without_login(cls, v: str | None) -> str | None:
        """An S3 endpoint is a host; credentials go in the AWS chain, never in a URL that
        messages and logs show."""
        if v is not None and "@" in v.partition("://")[2].split("/", 1)[0]:
            raise ValueError(
                "endpoint_url holds a user or password (user:secret@host): give the S3 "
                "credentials as AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, a profile or a role, "
                "and the endpoint as http(s)://host:port"
            )
        return v

    @model_validator(mode="after")
    def _lock_needs_s3(self) -> DestinationSettings:
        s3 = urlparse(self.url).scheme == "s3"
        if self.object_lock is not None and not s3:
            raise ValueError(
                "object_lock needs an s3:// destination (S3 Object Lock); a local folder "
                "cannot lock files: remove object_lock or archive to s3://bucket/prefix"
            )
        if self.legal_hold and self.object_lock is None:
            raise ValueError(
                'legal_hold = true needs object_lock = { mode = "…", retain = "…" } as well'
            )
        if self.lifecycle is not None and not s3:
            raise ValueError("lifecycle rules are S3's: remove lifecycle for a local destination")
        return self

    @field_validator("url")
    @classmethod
    def _url_scheme(cls, v: str) -> str:
        parsed = urlparse(v)
        if parsed.scheme not in {"", "file", "s3"}:
            raise ValueError("must be s3://bucket/prefix, file:///path or a local path")
        if parsed.scheme == "s3" and not parsed.netloc:
            raise ValueError("s3:// URL needs a bucket: s3://bucket/prefix")
        return v


class ThrottleSettings(Frozen):
    """How hard the purge (and verify) may push the server: pauses between chunks, limits."""

    chunk_time: float = Field(
        default=0.5, gt=0, le=60, description="target seconds per DELETE chunk"
    )
    min_chunk_rows: int = Field(default=100, ge=1)
    max_chunk_rows: int = Field(default=10_000, ge=1, le=1_000_000)
    statement_rows: int | None = Field(
        default=None,
        ge=1,
        le=1_000_000,
        description="rows per purge statement (default: 50 with a budget, else the chunk's)",
    )
    max_load: int | None = Field(
        default=None, ge=1, description="pause while Threads_running is above"
    )
    critical_load: int | None = Field(
        default=None, ge=1, description="abort when Threads_running is above"
    )
    max_lag: float | None = Field(
        default=None, gt=0, description="pause while replica lag (s) is above"
    )
    replicas: tuple[str, ...] = ()
    aurora_replicas: bool = False
    sleep: float = Field(default=0.0, ge=0, le=3600)
    sleep_coefficient: float = Field(default=0.0, ge=0, le=100)
    check_interval: float = Field(default=1.0, gt=0, le=60)
    max_pause: float = Field(default=3600.0, gt=0)
    max_runtime: float | None = Field(default=None, gt=0, description="seconds; stop cleanly after")
    stop_file: str | None = None
    lock_wait_timeout: int = Field(default=5, ge=1, le=3600)
    max_retries: int = Field(default=10, ge=0, le=1000)
    nice: int = Field(
        default=10, ge=0, le=19, description="CPU priority of the CLI/Airflow process (Unix nice)"
    )
    # The impact budget (throttle_control.py): a probe's p99 held under a limit by feedback.
    latency_budget: float | None = Field(
        default=None, ge=1.0, le=1000, description="allowed probe p99, x its pre-run baseline"
    )
    probe_p99_ms: float | None = Field(
        default=None, gt=0, le=600_000, description="allowed probe p99 in milliseconds"
    )
    probe_query: str | None = Field(
        default=None, min_length=1, description="default: the newest row of the first table"
    )
    probe_interval: float = Field(default=0.05, ge=0.001, le=10, description="seconds")
    probe_window: float = Field(default=5.0, gt=0, le=600, description="seconds of probes per p99")
    probe_floor_ms: float = Field(
        default=1.0, ge=0, le=60_000, description="a relative limit is never below this"
    )
    max_history_length: int | None = Field(
        default=None, ge=1, description="pause while InnoDB's history list is longer"
    )
    max_redo_fill: float | None = Field(
        default=None,
        gt=0,
        le=1,
        description="pause while the redo log's checkpoint age is above this share of its size",
    )
    max_rate: float | None = Field(default=None, gt=0, description="rows/s, never more")
    min_rate: float | None = Field(
        default=None, gt=0, description="rows/s the budget never slows below (then: reported)"
    )

    @model_validator(mode="after")
    def _bounds(self) -> ThrottleSettings:
        if self.min_chunk_rows > self.max_chunk_rows:
            raise ValueError("min_chunk_rows must not exceed max_chunk_rows")
        if self.max_load and self.critical_load and self.critical_load <= self.max_load:
            raise ValueError("critical_load must be above max_load")
        for url in self.replicas:
            SourceSettings(url=url)
        return self._budget_bounds()

    @property
    def has_budget(self) -> bool:
        """Whether a latency budget is set (``latency_budget`` and/or ``probe_p99_ms``)."""
        return self.latency_budget is not None or self.probe_p99_ms is not None

    @property
    def redo_ceiling(self) -> float | None:
        """The redo log fill the throttle keeps under: ``max_redo_fill``, else, with a latency
        budget, ``BUDGET_REDO_FILL`` (a budget holds what the probe cannot see: the write stall
        of a full redo log, see ``sources/redo_log.py``), else none; 1 switches it off."""
        if self.max_redo_fill is not None:
            return self.max_redo_fill if self.max_redo_fill < 1 else None  # 1: switched off
        return BUDGET_REDO_FILL if self.has_budget else None

    @property
    def rows_per_statement(self) -> int | None:
        """Rows per statement of a purge chunk's locking read and DELETE: ``statement_rows``,
        else, with a latency budget, ``BUDGET_STATEMENT_ROWS`` (production's statements run
        between short ones instead of queueing behind a long one; ``steps/chunk_statements.py``),
        else None: one statement each, the fastest."""
        if self.statement_rows is not None:
            return self.statement_rows
        return BUDGET_STATEMENT_ROWS if self.has_budget else None

    def _budget_bounds(self) -> ThrottleSettings:
        if self.min_rate and self.max_rate and self.min_rate > self.max_rate:
            raise ValueError(
                f"min_rate ({self.min_rate:g} rows/s) must not exceed max_rate ({self.max_rate:g})"
            )
        if not self.has_budget:
            for name in ("probe_query", "min_rate"):
                if getattr(self, name) is not None:
                    raise ValueError(
                        f"{name} works with a latency budget: set latency_budget (e.g. 2.0) or "
                        f"probe_p99_ms (e.g. 20), or remove {name}"
                    )
        if self.probe_interval * 5 > self.probe_window:
            raise ValueError(
                "probe_window must hold at least 5 probes: raise probe_window to at least "
                f"{self.probe_interval * 5:g} s or lower probe_interval"
            )
        return self
