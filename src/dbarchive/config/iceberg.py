"""``[iceberg]``: the catalog that ``format = "iceberg"`` tables commit their verified days to.

The data files are the Parquet parts dbarchive writes and verifies anyway; the catalog makes them
one Apache Iceberg table per archived table, with one snapshot per published day
(``dbarchive.lakehouse``). Three catalogs::

    [iceberg]                       # the tests' and the demo's: SQLite beside the archive
    catalog = "sql"
    uri = "sqlite:////var/lib/dbarchive/catalog.db"

    [iceberg]                       # Athena's: AWS Glue
    catalog = "glue"
    namespace = "archive"

    [iceberg]                       # S3 Tables, Unity Catalog, Polaris, Nessie …
    catalog = "rest"
    uri = "https://…/iceberg"
    properties = { warehouse = "…", credential = "…" }

``properties`` go to pyiceberg's ``load_catalog`` as they are (after the ones dbarchive derives
from the destination: S3 endpoint, region, credentials), so any catalog option can be set; they
are never logged. ``warehouse`` is where new tables' metadata goes (sql, glue: by default
``_iceberg/`` in the destination); for a REST catalog it names the catalog itself (Unity: the
catalog, S3 Tables and SeaweedFS: ``s3://<table bucket>/``) and has no default.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, model_validator

from dbarchive.config.base import Frozen

# Glue and Athena take lower-case letters, digits and '_'; so does every other catalog.
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")


class IcebergSettings(Frozen):
    """The Iceberg catalog, its namespace, and where new tables' metadata goes."""

    catalog: Literal["sql", "rest", "glue"] = "sql"
    uri: str | None = Field(default=None, description="SQLAlchemy URL (sql) or endpoint (rest)")
    namespace: str = Field(default="dbarchive", min_length=1, max_length=255)
    warehouse: str | None = Field(default=None, description="default: <destination>/_iceberg")
    properties: dict[str, str] = Field(default_factory=dict, repr=False)

    @model_validator(mode="after")
    def _complete(self) -> IcebergSettings:
        if self.catalog in ("sql", "rest") and not self.uri:
            example = (
                "sqlite:////path/catalog.db" if self.catalog == "sql" else "https://host/iceberg"
            )
            raise ValueError(f'catalog = "{self.catalog}" needs uri, e.g. uri = "{example}"')
        if not _IDENTIFIER.match(self.namespace):
            raise ValueError(
                f"namespace {self.namespace!r}: use lower-case letters, digits and '_' (what Glue "
                "and Athena accept)"
            )
        return self


def iceberg_name(table: str, schema: str | None = None) -> str:
    """The Iceberg table a MySQL table's archive becomes: its name in lower case, every character
    outside ``a-z0-9_`` as ``_``, prefixed by ``<schema>__`` when the table sets its schema."""
    name = re.sub(r"[^a-z0-9_]", "_", table.lower())
    if schema is not None:
        name = f"{iceberg_name(schema)}__{name}"
    return name if _IDENTIFIER.match(name) else f"t_{name}"
