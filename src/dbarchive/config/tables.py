"""``[defaults]`` and ``[[tables]]``: what is archived, how, and for how long."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import (
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from dbarchive.config.base import (
    MAX_SETTLE,
    MIB,
    Frozen,
    Retention,
    check_zone,
    parse_duration,
)
from dbarchive.config.row_condition import check_row_condition
from dbarchive.dates import duration_text
from dbarchive.formats import format_named, registered
from dbarchive.formats.compression import Compression
from dbarchive.layout import check_folder_path, legacy_table_dir, table_dir


class ExportSettings(Frozen):
    """How a table's rows reach the archive (``export.strategy`` in the config).

    ``stream`` (the default, any MySQL or MariaDB): dbarchive reads keyset chunks and writes the
    files. ``aurora-outfile``: Aurora MySQL writes each key range to S3 itself with ``SELECT …
    INTO OUTFILE S3``; dbarchive plans the ranges, verifies what Aurora wrote and publishes it.
    """

    strategy: Literal["stream", "aurora-outfile"] = "stream"


def _either(items: list[str]) -> str:
    """``a``, ``a or b``, ``a, b or c``."""
    return " or ".join(filter(None, [", ".join(items[:-1]), items[-1]]))


def outfile_defaults(data: dict[str, Any]) -> dict[str, Any]:
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


class TableDefaults(Frozen):
    """Settings every table inherits unless it sets its own."""

    format: str = "csv"  # a registered format (formats/__init__.py)
    compression: Compression = Compression.GZIP  # else the format's own default (_default_codec)
    compression_level: int | None = Field(default=None, ge=0, le=22)
    timezone: str = Field(default="UTC", description="zone whose calendar days define partitions")
    retention: Retention = Field(default_factory=lambda: Retention.parse("2 months"))
    chunk_rows: int = Field(default=10_000, ge=1, le=1_000_000)
    max_file_mib: int = Field(default=256, ge=1, le=5 * 1024)
    scan: Literal["auto", "key", "time"] = "auto"
    on_unarchived: Literal["export", "fail"] = "export"
    # A day is archived only once it has ended in `timezone` and this much more time has passed,
    # so writes that commit a little late still land in it (dates.is_settled).
    settle: dt.timedelta = dt.timedelta(minutes=10)
    # Work units: a day is exported in key ranges of about this many rows / MiB (estimated from
    # the table's average row length), each by its own task; None: one unit per day.
    range_rows: int | None = Field(default=None, ge=1000)
    range_mib: int | None = Field(default=None, ge=1)
    # The daily run re-reads this many archived days before yesterday and re-exports one whose
    # rows changed (by digest: an UPDATE keeps the count); older days by row count only, and
    # every day by digest before its purge. Each costs one read of the day.
    recheck_days: int = Field(default=1, ge=0, le=60)
    export: ExportSettings = Field(default_factory=lambda: ExportSettings())

    _zone = field_validator("timezone")(classmethod(lambda cls, v: check_zone(v)))

    @field_validator("format")
    @classmethod
    def _registered_format(cls, v: str) -> str:
        if v not in registered():
            raise ValueError(
                f"format {v!r} is not one dbarchive writes: use {_either(registered())}"
            )
        return v

    @model_validator(mode="before")
    @classmethod
    def _default_codec(cls, data: Any) -> Any:
        """A format with a default codec of its own (Parquet compresses inside the file: zstd)
        gets it unless the table says otherwise."""
        if not isinstance(data, dict):
            return data
        name = data.get("format")
        if name in registered() and "compression" not in data:
            default = format_named(name).compressions[0]
            if default is not cls.model_fields["compression"].default:
                return {**data, "compression": default.value}
        return outfile_defaults(data)

    @model_validator(mode="after")
    def _codec_fits_format(self) -> TableDefaults:
        fmt = format_named(self.format)
        if self.compression not in fmt.compressions:
            takers = [
                f"'{n}'" for n in registered() if self.compression in format_named(n).compressions
            ]
            raise ValueError(
                f"compression '{self.compression.value}' is for format {_either(takers)}; "
                f"{fmt.name.upper()} takes {_either([c.value for c in fmt.compressions])}"
            )
        missing = fmt.missing()
        if missing is not None:
            raise ValueError(f"format '{fmt.name}' needs {missing}")
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
        if isinstance(v, int | float):  # a bare number: which unit was meant is not said
            raise ValueError(f"retention {v!r} needs a unit, like '{v} days', or '2 months'")
        return Retention.parse(v) if isinstance(v, str) else v

    @field_validator("settle", mode="before")
    @classmethod
    def _parse_settle(cls, v: Any) -> dt.timedelta:
        return parse_duration(
            v,
            name="settle",
            like="'10 minutes', '90 seconds' or '1 hour'",
            meaning="the time after a day ends before it is archived, for late writes",
            most=MAX_SETTLE,
        )

    @model_validator(mode="after")
    def _settle_within_retention(self) -> TableDefaults:
        """The day before the cutoff must have settled by the time it may be purged."""
        if self.settle > self.retention.shortest - dt.timedelta(hours=1):
            raise ValueError(
                f"settle = '{duration_text(self.settle)}' must be over an hour shorter than "
                f"retention = '{self.retention}', or an expired day could not be archived before "
                "its purge; shorten settle or lengthen retention"
            )
        return self


class TableSpec(TableDefaults):
    """One table to archive, with the column whose calendar day puts a row in a partition."""

    name: str = Field(min_length=1, max_length=64)
    schema_name: str | None = Field(default=None, alias="schema", min_length=1, max_length=64)
    timestamp_column: str = Field(min_length=1, max_length=64)
    key_columns: tuple[str, ...] | None = None
    where: str | None = None
    include_columns: tuple[str, ...] | None = None
    exclude_columns: tuple[str, ...] = ()
    # Names the table had before a RENAME TABLE ("old" or "schema.old"): the days archived
    # under them stay its own (with ``path`` = their folder).
    formerly: tuple[str, ...] = ()
    # The table's folder under the destination, instead of the one its name maps to.
    path: str | None = Field(default=None, max_length=1024)

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    @model_validator(mode="after")
    def _columns_choice(self) -> TableSpec:
        if self.include_columns is not None and self.exclude_columns:
            raise ValueError("set include_columns or exclude_columns, not both")
        if self.key_columns is not None and not self.key_columns:
            raise ValueError("key_columns, when set, needs at least one column")
        return self

    @field_validator("where")
    @classmethod
    def _one_condition(cls, v: str | None) -> str | None:
        return None if v is None else check_row_condition(v)

    @field_validator("path")
    @classmethod
    def _path_is_a_folder(cls, v: str | None, info: ValidationInfo) -> str | None:
        """A relative folder; it may be the folder the name (or a former name) maps or used to
        map to, even if that starts with ``_`` (how an archive from before escaping keeps its
        folder) or is ``<schema>@<name>`` (a renamed table outside the default schema: refused
        for its '@', its old days were out of reach; an outside trial)."""
        name, schema = info.data.get("name"), info.data.get("schema_name")
        names = [name] if isinstance(name, str) else []
        names += info.data.get("formerly") or ()  # a renamed table keeps its old folder
        own: list[str] = []
        for known in names:
            table_schema, table = known.split(".", 1) if "." in known else (schema, known)
            own += [table_dir(table), legacy_table_dir(table)]
            if table_schema:  # the '<schema>@<name>' folder of a table outside the default
                own.append(table_dir(table, table_schema))
        return None if v is None else check_folder_path(v, tuple(own))

    @field_validator("formerly")
    @classmethod
    def _names(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for name in v:
            if not name or name.count(".") > 1 or len(name) > 129:
                raise ValueError(f"formerly: {name!r} is not a table name ('old' or 'schema.old')")
        return v

    def former_tables(self, schema: str) -> tuple[tuple[str, str], ...]:
        """The (schema, table) pairs of ``formerly``, a bare name in ``schema``."""
        pairs = (n.split(".", 1) if "." in n else (schema, n) for n in self.formerly)
        return tuple((s, t) for s, t in pairs)

    @property
    def label(self) -> str:
        """The table as messages name it: ``'name'``, or ``'schema.name'`` with a schema set."""
        return repr(self.name if self.schema_name is None else f"{self.schema_name}.{self.name}")

    @property
    def max_file_bytes(self) -> int:
        return self.max_file_mib * MIB

    @property
    def ranged(self) -> bool:
        """Whether days of this table are exported in key-range work units."""
        return self.range_rows is not None or self.range_mib is not None
