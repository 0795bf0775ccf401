"""Table definitions of the archive for query engines, from the manifests.

``ddl_text(engine, definition)`` renders one engine's statements; ``read_definition`` (in
``schema.py``) builds the definition from a table's manifests. Engines: athena, glue (JSON for
``aws glue create-table --cli-input-json``; ``glue.apply_glue`` registers it), databricks
(Spark SQL), duckdb.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from dbarchive.ddl.athena import athena_ddl, glue_table_input, stats_warnings
from dbarchive.ddl.duckdb import duckdb_ddl
from dbarchive.ddl.schema import TableDefinition, read_definition
from dbarchive.ddl.spark import spark_ddl, spark_warnings

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


def engine_notes(engine: str, defn: TableDefinition) -> tuple[str, ...]:
    """The notes and warnings the statements for ``engine`` start with (as comments; glue's JSON
    has no comments, so the CLI prints them on stderr)."""
    warnings = {"athena": stats_warnings, "glue": stats_warnings, "databricks": spark_warnings}
    return (*defn.notes, *(warnings[engine](defn) if engine in warnings else ()))


__all__ = ["ENGINES", "TableDefinition", "ddl_text", "engine_notes", "read_definition"]
