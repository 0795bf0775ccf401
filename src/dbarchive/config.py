"""The job configuration: what to archive, from where, to where. Validated on load, frozen after.

Loading touches neither MySQL nor S3; :func:`load_job` turns every validation problem into one
``ConfigError`` that names the file, the field and the fix. Passwords are never read from the file
unless the user insists (a password in the URL); the default is an environment variable.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import os
import re
import tomllib
from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote, urlparse
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from dbarchive.errors import ConfigError
from dbarchive.formats.compression import Compression
from dbarchive.layout import Layout

DEFAULT_PASSWORD_ENV = "DBARCHIVE_MYSQL_PASSWORD"  # noqa: S105 - a variable name, not a secret
_RETENTION_RE = re.compile(r"^\s*(\d+)\s*(day|days|d|week|weeks|w|month|months|m)\s*$", re.I)
_MIB = 1024 * 1024


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def _check_zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(
            f"unknown time zone {name!r}; use an IANA name like 'UTC' or 'Europe/Berlin'"
        ) from exc
    return name


class Retention(_Frozen):
    """How long rows stay in MySQL: a number of days, weeks or calendar months."""

    amount: int = Field(ge=1)
    unit: Literal["days", "weeks", "months"]

    @classmethod
    def parse(cls, text: str) -> Retention:
        m = _RETENTION_RE.match(text)
        if not m:
            raise ValueError(f"retention {text!r} is not like '60 days', '8 weeks' or '2 months'")
        unit = {"d": "days", "w": "weeks", "m": "months"}[m.group(2)[0].lower()]
        return cls(amount=int(m.group(1)), unit=unit)

    def cutoff(self, today: dt.date) -> dt.date:
        """The first day that is kept: rows of days before it may be purged."""
        if self.unit == "days":
            return today - dt.timedelta(days=self.amount)
        if self.unit == "weeks":
            return today - dt.timedelta(weeks=self.amount)
        month_index = today.year * 12 + today.month - 1 - self.amount
        year, month = divmod(month_index, 12)
        first_next = dt.date(year + (month + 1) // 12, (month + 1) % 12 + 1, 1)
        last_day = (first_next - dt.timedelta(days=1)).day
        return dt.date(year, month + 1, min(today.day, last_day))

    def __str__(self) -> str:
        return f"{self.amount} {self.unit}"


class SourceSettings(_Frozen):
    """Where the rows live. The password comes from ``password_env`` unless the URL holds one."""

    url: str
    password_env: str = DEFAULT_PASSWORD_ENV
    # Set by code (e.g. from an Airflow connection), never from a file; hidden from repr and logs.
    password: SecretStr | None = Field(default=None, exclude=True)
    timezone: str = Field(default="UTC", description="zone of DATETIME values as stored")
    connect_timeout: int = Field(default=10, ge=1, le=600)
    ssl_ca: str | None = None

    @field_validator("url")
    @classmethod
    def _url_is_mysql(cls, v: str) -> str:
        parsed = urlparse(v)
        if parsed.scheme not in {"mysql", "mariadb"}:
            raise ValueError("must look like mysql://user@host:3306/database")
        if not parsed.hostname and "unix_socket=" not in (parsed.query or ""):
            raise ValueError("needs a host: mysql://user@host:3306/database")
        if not parsed.path.strip("/"):
            raise ValueError("needs a database name at the end: mysql://user@host:3306/database")
        return v

    _zone = field_validator("timezone")(classmethod(lambda cls, v: _check_zone(v)))

    @property
    def database(self) -> str:
        return unquote(urlparse(self.url).path.strip("/"))

    def connect_args(self) -> dict[str, Any]:
        """Arguments for the MySQL driver; the password is read here, at connect time, only."""
        parsed = urlparse(self.url)
        query = dict(p.split("=", 1) for p in parsed.query.split("&") if "=" in p)
        args: dict[str, Any] = {
            "host": parsed.hostname or "localhost",
            "port": parsed.port or 3306,
            "user": unquote(parsed.username or "root"),
            "database": self.database,
            "connect_timeout": self.connect_timeout,
        }
        password = self._password(parsed.password)
        if password:
            args["password"] = password
        if "unix_socket" in query:
            args["unix_socket"] = unquote(query["unix_socket"])
        if self.ssl_ca:
            args["ssl"] = {"ca": self.ssl_ca}
        return args

    def _password(self, in_url: str | None) -> str | None:
        """Given by code first, then written in the URL, then the environment variable."""
        if self.password is not None:
            return self.password.get_secret_value()
        if in_url:
            return unquote(in_url)
        return os.environ.get(self.password_env)

    def safe_url(self) -> str:
        """The URL without any password, for logs and messages."""
        parsed = urlparse(self.url)
        netloc = parsed.hostname or ""
        if parsed.username:
            netloc = f"{parsed.username}@{netloc}"
        if parsed.port:
            netloc = f"{netloc}:{parsed.port}"
        return parsed._replace(netloc=netloc, query="").geturl()


class DestinationSettings(_Frozen):
    """Where the archive goes: ``s3://bucket/prefix`` or a local folder (``file://`` or a path)."""

    url: str
    layout: Layout = Layout.HIVE
    endpoint_url: str | None = None
    region: str | None = None
    sse: Literal["AES256", "aws:kms"] | None = None
    kms_key_id: str | None = None
    storage_class: str | None = None
    part_size_mib: int = Field(default=8, ge=5, le=512)

    @field_validator("url")
    @classmethod
    def _url_scheme(cls, v: str) -> str:
        parsed = urlparse(v)
        if parsed.scheme not in {"", "file", "s3"}:
            raise ValueError("must be s3://bucket/prefix, file:///path or a local path")
        if parsed.scheme == "s3" and not parsed.netloc:
            raise ValueError("s3:// URL needs a bucket: s3://bucket/prefix")
        return v


class ThrottleSettings(_Frozen):
    """How hard the purge (and verify) may push the server: pauses between chunks, limits."""

    chunk_time: float = Field(
        default=0.5, gt=0, le=60, description="target seconds per DELETE chunk"
    )
    min_chunk_rows: int = Field(default=100, ge=1)
    max_chunk_rows: int = Field(default=10_000, ge=1, le=1_000_000)
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

    @model_validator(mode="after")
    def _bounds(self) -> ThrottleSettings:
        if self.min_chunk_rows > self.max_chunk_rows:
            raise ValueError("min_chunk_rows must not exceed max_chunk_rows")
        if self.max_load and self.critical_load and self.critical_load <= self.max_load:
            raise ValueError("critical_load must be above max_load")
        for url in self.replicas:
            SourceSettings(url=url)
        return self


class ExportSettings(_Frozen):
    """How a table's rows reach the archive (``export.strategy`` in the config).

    ``stream`` (the default, any MySQL or MariaDB): dbarchive reads keyset chunks and writes the
    files. ``aurora-outfile``: Aurora MySQL writes each key range to S3 itself with ``SELECT …
    INTO OUTFILE S3``; dbarchive plans the ranges, verifies what Aurora wrote and publishes it.
    """

    strategy: Literal["stream", "aurora-outfile"] = "stream"


def _outfile_defaults(data: dict[str, Any]) -> dict[str, Any]:
    """Server-side export: uncompressed unless asked (Aurora cannot compress), in key ranges of
    about one file each (one statement per range keeps every statement short)."""
    export = data.get("export")
    strategy = (
        export.get("strategy") if isinstance(export, dict) else getattr(export, "strategy", None)
    )
    if strategy != "aurora-outfile":
        return data
    data = dict(data)
    data.setdefault("compression", Compression.NONE.value)
    if data.get("range_rows") is None and data.get("range_mib") is None:
        data["range_mib"] = data.get("max_file_mib", 256)
    return data


class TableDefaults(_Frozen):
    """Settings every table inherits unless it sets its own."""

    format: Literal["csv", "parquet"] = "csv"
    compression: Compression = Compression.GZIP  # parquet: zstd unless set (_default_codec)
    compression_level: int | None = Field(default=None, ge=0, le=22)
    timezone: str = Field(default="UTC", description="zone whose calendar days define partitions")
    retention: Retention = Field(default_factory=lambda: Retention.parse("2 months"))
    chunk_rows: int = Field(default=10_000, ge=1, le=1_000_000)
    max_file_mib: int = Field(default=256, ge=1, le=5 * 1024)
    scan: Literal["auto", "key", "time"] = "auto"
    on_unarchived: Literal["export", "fail"] = "export"
    # Work units: a day is exported in key ranges of about this many rows / MiB (estimated from
    # the table's average row length), each by its own task; None: one unit per day.
    range_rows: int | None = Field(default=None, ge=1000)
    range_mib: int | None = Field(default=None, ge=1)
    export: ExportSettings = Field(default_factory=lambda: ExportSettings())

    _zone = field_validator("timezone")(classmethod(lambda cls, v: _check_zone(v)))

    @model_validator(mode="before")
    @classmethod
    def _default_codec(cls, data: Any) -> Any:
        """Parquet compresses inside the file: zstd unless the table says otherwise."""
        if isinstance(data, dict) and data.get("format") == "parquet" and "compression" not in data:
            return {**data, "compression": Compression.ZSTD.value}
        return _outfile_defaults(data) if isinstance(data, dict) else data

    @model_validator(mode="after")
    def _codec_fits_format(self) -> TableDefaults:
        if self.format == "csv" and self.compression is Compression.SNAPPY:
            raise ValueError(
                "compression 'snappy' is for format 'parquet'; CSV takes gzip, zstd or none"
            )
        if self.format == "parquet" and importlib.util.find_spec("pyarrow") is None:
            raise ValueError("format 'parquet' needs pyarrow: pip install 'dbarchive[parquet]'")
        if self.server_side and self.format != "csv":
            raise ValueError(
                "export.strategy 'aurora-outfile' writes CSV (Aurora writes text files only); "
                "set format = 'csv' or export.strategy = 'stream'"
            )
        return self

    @property
    def server_side(self) -> bool:
        """Whether Aurora writes this table's files itself (``export.strategy = "aurora-outfile"``)."""
        return self.export.strategy == "aurora-outfile"

    @field_validator("retention", mode="before")
    @classmethod
    def _parse_retention(cls, v: Any) -> Any:
        return Retention.parse(v) if isinstance(v, str) else v


class TableSpec(TableDefaults):
    """One table to archive, with the column whose calendar day puts a row in a partition."""

    name: str = Field(min_length=1, max_length=64)
    schema_name: str | None = Field(default=None, alias="schema", min_length=1, max_length=64)
    timestamp_column: str = Field(min_length=1, max_length=64)
    key_columns: tuple[str, ...] | None = None
    where: str | None = None
    include_columns: tuple[str, ...] | None = None
    exclude_columns: tuple[str, ...] = ()

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    @model_validator(mode="after")
    def _columns_choice(self) -> TableSpec:
        if self.include_columns is not None and self.exclude_columns:
            raise ValueError("set include_columns or exclude_columns, not both")
        if self.key_columns is not None and not self.key_columns:
            raise ValueError("key_columns, when set, needs at least one column")
        return self

    @property
    def max_file_bytes(self) -> int:
        return self.max_file_mib * _MIB

    @property
    def ranged(self) -> bool:
        """Whether days of this table are exported in key-range work units."""
        return self.range_rows is not None or self.range_mib is not None


class ArchiveJob(_Frozen):
    """The whole validated configuration of one archive job."""

    # Optional only where the caller supplies it (Airflow builds it from a MySQL connection).
    source: SourceSettings | None = None
    destination: DestinationSettings
    defaults: TableDefaults = Field(default_factory=lambda: TableDefaults())
    throttle: ThrottleSettings = Field(default_factory=lambda: ThrottleSettings())
    tables: tuple[TableSpec, ...] = Field(min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _apply_defaults(cls, data: Any) -> Any:
        """Tables inherit every default they do not set themselves."""
        if not isinstance(data, dict):
            return data
        defaults = data.get("defaults") or {}
        tables = data.get("tables")
        if isinstance(defaults, dict) and isinstance(tables, list | tuple):
            data = dict(data)
            data["tables"] = [_inherit(defaults, t) if isinstance(t, dict) else t for t in tables]
        return data

    @model_validator(mode="after")
    def _server_side_needs_s3(self) -> ArchiveJob:
        for t in self.tables:
            if t.server_side and urlparse(self.destination.url).scheme != "s3":
                raise ValueError(
                    f"table {t.name!r}: export.strategy 'aurora-outfile' makes Aurora write to "
                    "S3 itself, so the destination must be s3://bucket/prefix; use "
                    "export.strategy = 'stream' for a local destination"
                )
        return self

    @model_validator(mode="after")
    def _unique_tables(self) -> ArchiveJob:
        seen: set[tuple[str | None, str]] = set()
        for t in self.tables:
            ident = (t.schema_name, t.name)
            if ident in seen:
                raise ValueError(f"table {t.name!r} is listed twice")
            seen.add(ident)
        return self

    def table(self, name: str) -> TableSpec:
        """The spec of one table by name; ConfigError listing the known names otherwise."""
        for t in self.tables:
            if t.name == name or f"{t.schema_name}.{t.name}" == name:
                return t
        known = ", ".join(t.name for t in self.tables)
        raise ConfigError(f"table {name!r} is not in the config; configured tables: {known}")


def _inherit(defaults: dict[str, Any], table: dict[str, Any]) -> dict[str, Any]:
    """The table's settings over the defaults; ``export.*`` keys merge one by one."""
    merged = {**defaults, **table}
    if isinstance(defaults.get("export"), dict) and isinstance(table.get("export"), dict):
        merged["export"] = {**defaults["export"], **table["export"]}
    return merged


_FIXES = {
    "missing": "add it",
    "extra_forbidden": "remove it or check its spelling",
}


def _format_errors(origin: str, exc: ValidationError) -> str:
    lines = []
    errors = exc.errors()
    for err in errors:
        if err["type"] == "too_short" and len(errors) > 1:
            continue  # a list emptied by its own invalid items: those items say more
        loc = ".".join(str(p) for p in err["loc"] if not str(p).startswith("function-"))
        fix = _FIXES.get(err["type"], "")
        message = err["msg"].removeprefix("Value error, ")
        lines.append(f"  {loc or '(top level)'}: {message}{'; ' + fix if fix else ''}")
    return f"{origin}: invalid configuration\n" + "\n".join(lines)


def job_from_dict(data: dict[str, Any], origin: str = "<config>") -> ArchiveJob:
    """Validate a config mapping (from TOML, Airflow or code) into an :class:`ArchiveJob`."""
    try:
        return ArchiveJob.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_format_errors(origin, exc)) from None


def load_job(path: str | Path) -> ArchiveJob:
    """Read and validate a TOML config file; every problem becomes one ConfigError."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found; pass --config PATH") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the config file: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{path}: not UTF-8 text (byte {exc.start}); save the config file as UTF-8"
        ) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    return job_from_dict(data, str(path))
