"""The whole job (``ArchiveJob``) and loading it from TOML or a mapping: tables inherit the
defaults, folders may not collide, and every validation problem becomes one ConfigError."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlparse

from pydantic import (
    BaseModel,
    Field,
    ValidationError,
    model_validator,
)

from dbarchive.config.base import (
    Frozen,
)
from dbarchive.config.destination import DestinationSettings, ThrottleSettings
from dbarchive.config.iceberg import IcebergSettings, iceberg_name
from dbarchive.config.ledger import LedgerSettings
from dbarchive.config.source import WITH_SECRETS, SourceSettings
from dbarchive.config.tables import TableDefaults, TableSpec
from dbarchive.errors import ConfigError
from dbarchive.layout import table_dir

_Model = TypeVar("_Model", bound=BaseModel)


class ArchiveJob(Frozen):
    """The whole validated configuration of one archive job."""

    # Optional only where the caller supplies it (Airflow builds it from a MySQL connection).
    source: SourceSettings | None = None
    destination: DestinationSettings
    defaults: TableDefaults = Field(default_factory=lambda: TableDefaults())
    throttle: ThrottleSettings = Field(default_factory=lambda: ThrottleSettings())
    ledger: LedgerSettings = Field(default_factory=lambda: LedgerSettings())
    iceberg: IcebergSettings | None = None  # the catalog of ``format = "iceberg"`` tables
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
    def _iceberg_catalog(self) -> ArchiveJob:
        """Iceberg tables need a catalog (a local archive has a default one: SQLite beside it),
        and two archived tables may not become one Iceberg table."""
        lake = [t for t in self.tables if t.format == "iceberg"]
        if lake and self.iceberg is None and urlparse(self.destination.url).scheme == "s3":
            raise ValueError(
                f"table {lake[0].name!r} has format = 'iceberg': add an [iceberg] section naming "
                'the catalog, e.g. catalog = "glue" (Athena) or catalog = "rest" with its uri'
            )
        seen: dict[str, str] = {}
        for t in lake:
            name = iceberg_name(t.name, t.schema_name)
            if name in seen:
                raise ValueError(
                    f"tables {seen[name]!r} and {t.name!r} would both be Iceberg table {name!r}; "
                    "archive one of them in another job (its own namespace)"
                )
            seen[name] = t.name
        return self

    @model_validator(mode="after")
    def _unique_tables(self) -> ArchiveJob:
        seen: set[tuple[str | None, str]] = set()
        for t in self.tables:  # the default schema spelled out is the same table (a re-test)
            ident = (self.schema_of(t), t.name)
            if ident in seen:
                raise ValueError(f"table {t.name!r} is listed twice")
            seen.add(ident)
        return self

    @model_validator(mode="after")
    def _own_folders(self) -> ArchiveJob:
        problem = self.folder_conflict()
        if problem:
            raise ValueError(problem)
        return self

    @model_validator(mode="after")
    def _local_names_fit(self) -> ArchiveJob:
        """A local archive's folder names are file names: at most 255 bytes each. A 45-letter
        CJK table name escapes to 405 (``%E6%97%A5``…), and its export crashed on "File name
        too long" (an outside trial); S3 keys take 1024."""
        if urlparse(self.destination.url).scheme == "s3":
            return self
        for t in self.tables:
            for name in self.folder(t).split("/"):
                if len(name.encode()) > 255:
                    raise ValueError(
                        f"table {t.label}'s archive folder {name[:24]!r}… is "
                        f"{len(name.encode())} bytes long (its name, escaped), more than a file "
                        "name may be (255) on a local destination; give it a shorter folder: "
                        'path = "…" in its [[tables]] entry'
                    )
        return self

    def schema_of(self, spec: TableSpec) -> str | None:
        """The schema holding the table: its own, else the source's database (None: not known
        yet, e.g. before Airflow supplies the connection)."""
        return spec.schema_name or (self.source.database if self.source else None)

    def folder(self, spec: TableSpec) -> str:
        """The table's folder under the destination (no trailing ``/``): its ``path``, else its
        name escaped (``layout.table_dir``), as ``<schema>@<name>`` outside the default schema."""
        if spec.path is not None:
            return spec.path
        default = self.source.database if self.source else None
        other = spec.schema_name if spec.schema_name not in (None, default) else None
        return table_dir(spec.name, other)

    def lake_name(self, spec: TableSpec) -> str:
        """The table's name in the lake's catalogs (``ddl``): its name, as
        ``<schema>_<name>`` outside the default schema, where another configured table may have
        the same name (its folder is ``<schema>@<name>``)."""
        default = self.source.database if self.source else None
        if spec.schema_name in (None, default):
            return spec.name
        return f"{spec.schema_name}_{spec.name}"

    def folder_conflict(self) -> str | None:
        """Why two tables' archives would mix (one folder, or one inside the other), or None.

        Every listing of a table is ``<folder>/``, so a folder inside another one's would show
        up in its days, status and purge as well.
        """
        folders = [(t, self.folder(t)) for t in self.tables]
        for i, (a, fa) in enumerate(folders):
            for b, fb in folders[i + 1 :]:
                if fa == fb:
                    return (
                        f"tables {a.label} and {b.label} map to the same archive folder {fa + '/'!r}"
                        "; their days would overwrite each other. Give one a folder of its own: "
                        'path = "…" in its [[tables]] entry'
                    )
                if fb.startswith(fa + "/") or fa.startswith(fb + "/"):
                    (inner, fi), (outer, fo) = (
                        ((b, fb), (a, fa)) if len(fb) > len(fa) else ((a, fa), (b, fb))
                    )
                    return (
                        f"the archive folder of table {inner.label} ({fi + '/'!r}) lies inside "
                        f"that of table {outer.label} ({fo + '/'!r}), so listing one would list "
                        "the other; set path so that neither folder holds the other"
                    )
        return None

    def table(self, name: str) -> TableSpec:
        """The spec of one table by ``name`` or ``schema.name``; ConfigError listing the known
        names when there is none, or naming the choices when the bare name is in two schemas."""
        for found in (
            [t for t in self.tables if t.name == name],
            [t for t in self.tables if f"{self.schema_of(t)}.{t.name}" == name],
        ):
            if len(found) == 1:
                return found[0]
            if len(found) > 1:
                choices = ", ".join(f"{self.schema_of(t)}.{t.name}" for t in found)
                raise ConfigError(
                    f"table {name!r} is configured in more than one schema; name one: {choices}"
                )
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


def _format_errors(origin: str, exc: ValidationError, data: Any = None) -> str:
    lines = []
    errors = exc.errors()
    in_defaults = {e["loc"][1] for e in errors if len(e["loc"]) > 1 and e["loc"][0] == "defaults"}
    for err in errors:
        if err["type"] == "too_short" and len(errors) > 1:
            continue  # a list emptied by its own invalid items: those items say more
        if err["loc"][2:3] and err["loc"][2] in in_defaults and _inherited(data, err["loc"]):
            continue  # said once, where it is written: [defaults]
        loc = ".".join(str(p) for p in err["loc"] if not str(p).startswith("function-"))
        loc += _table_named(data, err["loc"])
        fix = _FIXES.get(err["type"], "")
        message = err["msg"].removeprefix("Value error, ")
        lines.append(f"  {loc or '(top level)'}: {message}{'; ' + fix if fix else ''}")
    return f"{origin}: invalid configuration\n" + "\n".join(lines)


def _table_named(data: Any, loc: tuple[Any, ...]) -> str:
    """`` (table 'name')`` after ``tables.N…``: in a file of many tables an index alone sent an
    outside trial counting entries."""
    tables = data.get("tables") if isinstance(data, dict) else None
    if loc[:1] != ("tables",) or len(loc) < 2 or not isinstance(loc[1], int):
        return ""
    table = tables[loc[1]] if isinstance(tables, list | tuple) and loc[1] < len(tables) else None
    name = table.get("name") if isinstance(table, dict) else None
    return f" (table {name!r})" if isinstance(name, str) else ""


def _inherited(data: Any, loc: tuple[Any, ...]) -> bool:
    """Whether ``loc`` (``tables.N.field``) is a field table N took from ``[defaults]``."""
    tables = data.get("tables") if isinstance(data, dict) else None
    if loc[0] != "tables" or not isinstance(tables, list | tuple) or not isinstance(loc[1], int):
        return False
    table = tables[loc[1]] if loc[1] < len(tables) else None
    return isinstance(table, dict) and loc[2] not in table


def with_overrides(model: _Model, overrides: dict[str, Any], origin: str) -> _Model:
    """``model`` with ``overrides`` (from the CLI or the API) applied and validated again; a bad
    value is a ConfigError naming it, as in a config file."""
    try:
        return type(model).model_validate({**model.model_dump(context=WITH_SECRETS), **overrides})
    except ValidationError as exc:
        raise ConfigError(_format_errors(origin, exc)) from None


def job_from_dict(data: dict[str, Any], origin: str = "<config>") -> ArchiveJob:
    """Validate a config mapping (from TOML, Airflow or code) into an :class:`ArchiveJob`."""
    try:
        return ArchiveJob.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_format_errors(origin, exc, data)) from None


def load_job(path: str | Path) -> ArchiveJob:
    """Read and validate a TOML config file; every problem becomes one ConfigError."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
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
    if "password" in (data.get("source") or {}):
        raise ConfigError(
            f"{path}: [source] password is not read from a file: set it in the environment "
            "variable [source] password_env names (default $DBARCHIVE_MYSQL_PASSWORD), or give it "
            "by code (an Airflow connection)"
        )
    return job_from_dict(data, str(path))
