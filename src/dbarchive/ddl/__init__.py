"""Table definitions of the archive for query engines, from the manifests.

``ddl_text(engine, definition)`` renders one engine's statements; ``read_definition`` (in
``schema.py``) builds the definition from a table's manifests. Engines: athena, glue (JSON for
``aws glue create-table --cli-input-json``; ``glue.apply_glue`` registers it), databricks
(Spark SQL), duckdb.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from dbarchive.ddl.athena import athena_ddl, glue_table_input
from dbarchive.ddl.duckdb import duckdb_ddl
from dbarchive.ddl.schema import TableDefinition, read_definition
from dbarchive.ddl.spark import spark_ddl

ENGINES = ("athena", "glue", "databricks", "duckdb")


def ddl_text(engine: str, defn: TableDefinition, database: str = "default") -> str:
    """The statements (or, for glue, the JSON document) that define the archive for ``engine``."""
    renderers: dict[str, Callable[[TableDefinition], str]] = {
        "athena": athena_ddl,
        "databricks": spark_ddl,
        "duckdb": duckdb_ddl,
        "glue": lambda d: json.dumps(glue_table_input(d, database), indent=2) + "\n",
    }
    return renderers[engine](defn)


__all__ = ["ENGINES", "TableDefinition", "ddl_text", "read_definition"]
