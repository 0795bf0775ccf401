"""Reaching an Iceberg catalog from a job: pyiceberg's catalog properties, derived from the
destination (how its files are reached, with the same credentials) and ``[iceberg]``, and the
secrets among them that no message may show."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlparse

from dbarchive.config.iceberg import IcebergSettings
from dbarchive.errors import ConfigError
from dbarchive.storage import Storage

WAREHOUSE_FOLDER = "_iceberg"  # in the destination, unless [iceberg] warehouse says otherwise


def catalog_properties(settings: IcebergSettings | None, storage: Storage) -> dict[str, str]:
    """pyiceberg's ``load_catalog`` properties: how to reach the destination's files, then the
    catalog's own (the user's ``properties`` last, so they can override anything)."""
    reach = storage_hook(storage, "io_properties")
    props: dict[str, str] = dict(reach())
    warehouse = _warehouse(settings, storage)
    if settings is None:  # a local archive's default: SQLite beside its files
        assert warehouse is not None
        Path(warehouse.removeprefix("file://")).mkdir(parents=True, exist_ok=True)
        db = warehouse.removeprefix("file://") + "/catalog.db"
        return {**props, "type": "sql", "uri": f"sqlite:///{db}", "warehouse": warehouse}
    props["type"] = settings.catalog
    if warehouse is not None:
        props["warehouse"] = warehouse
    if settings.uri:
        props["uri"] = settings.uri
    return {**props, **settings.properties}


def _warehouse(settings: IcebergSettings | None, storage: Storage) -> str | None:
    """Where new tables' metadata goes; a REST catalog's ``warehouse`` names the catalog
    itself (Unity: the catalog, S3 Tables: the table bucket), so it has no default there."""
    if settings is not None and settings.warehouse:
        return settings.warehouse
    if settings is not None and settings.catalog == "rest":
        return None
    where = str(storage_hook(storage, "location")(WAREHOUSE_FOLDER))
    return where if "://" in where else "file://" + where


def storage_hook(storage: Storage, name: str) -> Callable[..., Any]:
    hook = getattr(storage, name, None)
    if hook is None:
        raise ConfigError(
            f"format = 'iceberg' needs an s3:// or local destination, not {type(storage).__name__}"
        )
    return cast("Callable[..., Any]", hook)


def secret_values(props: dict[str, str]) -> list[str]:
    """The property values an error message must not show: keys, tokens, passwords (a URI's
    password too)."""
    words = ("secret", "token", "password", "credential", "key-id", "access-key")
    found = [v for k, v in props.items() if v and any(w in k.lower() for w in words)]
    password = urlparse(props.get("uri", "")).password
    return sorted({*found, *([password] if password else [])}, key=len, reverse=True)
