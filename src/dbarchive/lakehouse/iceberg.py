"""The Iceberg table of an archived MySQL table, kept equal to its committed manifests (pyiceberg).

**Files, not rows.** The export writes and verifies Parquet parts as for ``format = "parquet"``;
the Iceberg commit only registers them (their footers give the statistics), so the table's
data is byte for byte the verified archive and nothing is written twice.

**One commit per published day.** :meth:`IcebergLake.commit_day` compares the table's current
files of the day (found by the day's folder) with the committed manifest's and commits the
difference as one snapshot: new files only (a first export, or a growth: late rows) is an
append; a replacement deletes the old generation's files and adds the new ones in the same
snapshot (an overwrite), so a reader sees the old day or the new day, never both or neither.
The snapshot's summary names the day, the generation, its rows and the row digest
(``dbarchive.*`` properties). A commit that loses a race with another writer (backfill workers
committing other days) is retried on the fresh table; the comparison makes every retry and every
rerun after a kill commit at most once.

**Partitioning: ``day(<timestamp column>)``**, hidden, so engines prune on the column itself,
when Iceberg's day is the archive's day: a DATE column, a DATETIME column stored in the table's
own zone (``source.timezone`` = the table's ``timezone``: its calendar day), or a TIMESTAMP
column in a UTC job. Otherwise a day's file spans two dates, which a day partition cannot
register: the table is unpartitioned and engines prune files by their min/max statistics
instead.
"""

from __future__ import annotations

import datetime as dt
import random
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from dbarchive.config import TableSpec
from dbarchive.config.iceberg import IcebergSettings, iceberg_name
from dbarchive.errors import ConfigError, SourceError, StorageError
from dbarchive.lakehouse.catalog import (
    WAREHOUSE_FOLDER,
    catalog_properties,
    secret_values,
    storage_hook,
)
from dbarchive.lakehouse.days import day_is_icebergs, day_range_filter
from dbarchive.lakehouse.ownership import OWNER_PROPERTY, TIMESTAMP_PROPERTY, require_own
from dbarchive.layout import PartitionPath, table_dir
from dbarchive.manifest import FileEntry, Manifest
from dbarchive.row_filter import RowFilter
from dbarchive.sources.table import TableInfo
from dbarchive.storage import Storage

if TYPE_CHECKING:
    import pyarrow as pa
    from pyiceberg.catalog import Catalog
    from pyiceberg.manifest import DataFile
    from pyiceberg.table import Table

    from dbarchive.context import Context

COMMIT_ATTEMPTS = 10  # commits lost to concurrent writers before giving up


def lake_of(ctx: Context) -> IcebergLake:
    """The run's Iceberg catalog, opened on first use and kept on the context."""
    lake = ctx.lakes.get("iceberg")
    if lake is None:
        stored_in = ctx.job.source.timezone if ctx.job.source else "UTC"  # DATETIME values
        lake = IcebergLake(ctx.job.iceberg, ctx.storage, ctx.partition, datetime_zone=stored_in)
        ctx.lakes["iceberg"] = lake
    assert isinstance(lake, IcebergLake)
    return lake


class IcebergLake:
    """One catalog, one namespace: the Iceberg tables of a job's ``format = "iceberg"`` tables."""

    def __init__(
        self,
        settings: IcebergSettings | None,
        storage: Storage,
        partition_of: Callable[[TableSpec, dt.date], PartitionPath],
        sleep: Callable[[float], None] = time.sleep,
        datetime_zone: str = "UTC",
    ) -> None:
        from pyiceberg.catalog import load_catalog

        self._datetime_zone = datetime_zone  # the zone DATETIME values are stored in
        self.namespace = settings.namespace if settings else "dbarchive"
        self.storage, self._partition_of, self._sleep = storage, partition_of, sleep
        props = catalog_properties(settings, storage)
        self._secrets = secret_values(props)
        try:
            self.catalog: Catalog = load_catalog(self.namespace, **props)
            self.catalog.create_namespace_if_not_exists(self.namespace)
        except Exception as exc:  # pyiceberg and its backends raise their own types
            kind = settings.catalog if settings else "sql"
            fix = (
                "; the SQL catalog needs SQLAlchemy 2: pip install 'dbarchive[iceberg-sql]'"
                if kind == "sql" and isinstance(exc, ImportError)
                else ""
            )
            raise ConfigError(
                f"the Iceberg catalog ({kind}) cannot be used: {self._reason(exc)}{fix}"
            ) from exc

    def identifier(self, spec: TableSpec) -> str:
        """``namespace.table`` (``config.iceberg.iceberg_name``)."""
        return f"{self.namespace}.{iceberg_name(spec.name, spec.schema_name)}"

    def table(self, spec: TableSpec) -> Table | None:
        """The table's Iceberg table, None before its first published day."""
        from pyiceberg.exceptions import NoSuchTableError

        try:
            return self.catalog.load_table(self.identifier(spec))
        except NoSuchTableError:
            return None

    def check_schema(self, spec: TableSpec, info: TableInfo) -> None:
        """Raise SourceError, before any file is written, when the table's columns are not a
        change Iceberg can make to the existing table (by name: added columns, promotions)."""
        from dbarchive.steps.write_parquet import parquet_schema

        table = self.table(spec)
        if table is not None:
            self._require_own(table, spec, info.ts.name)
            self._evolved(table, parquet_schema(info.columns), spec, apply=False)

    def commit_day(self, spec: TableSpec, manifest: Manifest) -> None:
        """One snapshot that makes the table's files of the day the manifest's (none if they are
        already); retried on the fresh table when another writer committed first."""
        from pyiceberg.exceptions import CommitFailedException

        for attempt in range(1, COMMIT_ATTEMPTS + 1):
            try:
                self._commit_once(spec, manifest)
                return
            except CommitFailedException as exc:
                if attempt == COMMIT_ATTEMPTS:
                    raise StorageError(
                        f"{spec.name} {manifest.day}: the Iceberg commit lost {attempt} races "
                        f"with other writers ({self._reason(exc)}); the day's files are published, "
                        "run again to commit them"
                    ) from exc
                self._sleep(random.uniform(0.05, 0.2) * attempt)  # noqa: S311 (jitter)

    def day_problems(self, spec: TableSpec, manifest: Manifest) -> list[str]:
        """How the current snapshot's files of the day differ from the manifest's."""
        table = self.table(spec)
        if table is None:  # fine for a day without rows: the table comes with the first file
            return [f"{spec.name} {manifest.day}: the Iceberg table {self.identifier(spec)} "
                    "does not exist"] if manifest.files else []  # fmt: skip
        present = self._day_files(table, spec, manifest.day)
        wanted = self._locations(manifest)
        problems = []
        for path, entry in wanted.items():
            found = present.get(path)
            if found is None:
                problems.append(f"{path}: in the manifest, not in the Iceberg snapshot")
            elif found.file_size_in_bytes != entry.bytes or found.record_count != entry.rows:
                problems.append(
                    f"{path}: the Iceberg snapshot says {found.file_size_in_bytes} bytes, "
                    f"{found.record_count} rows; the manifest {entry.bytes} bytes, {entry.rows} rows"
                )
        problems += [
            f"{p}: in the Iceberg snapshot, not in the manifest"
            for p in present.keys() - wanted.keys()
        ]
        return [f"{spec.name} {manifest.day}: {p}" for p in problems]

    def expire_history(self, spec: TableSpec) -> tuple[int, int]:
        """Expire every snapshot but the current one, then delete the metadata files the current
        metadata no longer reaches (older metadata, manifest lists and manifests: they hold the
        replaced files' column statistics). Returns (snapshots expired, files deleted)."""
        table = self.table(spec)
        current = table.current_snapshot() if table is not None else None
        if table is None or current is None:
            return 0, 0
        older = [s.snapshot_id for s in table.snapshots() if s.snapshot_id != current.snapshot_id]
        if older:
            table.maintenance.expire_snapshots().by_ids(older).commit()
        return len(older), self._delete_unreachable_metadata(spec)

    def _delete_unreachable_metadata(self, spec: TableSpec) -> int:
        """Delete files under the table's ``metadata/`` that its current metadata does not reach,
        where the table lives in the archive's destination (else there is nothing we may list)."""
        table = self.table(spec)
        assert table is not None
        snapshot = table.current_snapshot()
        keep = {table.metadata_location}
        if snapshot is not None:
            keep.add(snapshot.manifest_list)
            keep.update(m.manifest_path for m in snapshot.manifests(table.io))
        location = storage_hook(self.storage, "location")
        root = str(location(WAREHOUSE_FOLDER))[: -len(WAREHOUSE_FOLDER)]
        folder = table.location().removeprefix("file://").rstrip("/") + "/metadata/"
        if not folder.startswith(root):
            return 0
        kept = {k.removeprefix("file://") for k in keep}
        stale = [
            obj.key
            for obj in self.storage.list_objects(folder[len(root) :])
            if str(location(obj.key)) not in kept
        ]
        self.storage.delete_keys(stale)
        return len(stale)

    def count_matching(self, spec: TableSpec, where: RowFilter, day: dt.date) -> int:
        """Rows of the day's files in the current snapshot that ``where`` matches, as pyiceberg
        reads them (only those files are read)."""
        table = self.table(spec)
        if table is None or table.current_snapshot() is None:
            return 0
        from pyiceberg.io.pyarrow import ArrowScan

        files = self._day_files(table, spec, day)
        expression = where.iceberg_expression()
        tasks = [
            t for t in table.scan(row_filter=expression).plan_files() if t.file.file_path in files
        ]
        scan = ArrowScan(table.metadata, table.io, table.schema(), expression)
        return int(scan.to_table(tasks).num_rows) if tasks else 0

    # --- the commit -------------------------------------------------------------------------

    def _commit_once(self, spec: TableSpec, manifest: Manifest) -> None:
        wanted = self._locations(manifest)
        table = self.table(spec)
        if table is None:
            if not wanted:
                return  # an empty day: no table until there are rows
            table = self._create(spec, manifest, next(iter(wanted)))
        self._require_own(table, spec, manifest.timestamp_column)
        present = self._day_files(table, spec, manifest.day)
        adds = [p for p in wanted if p not in present]
        drops = [f for p, f in present.items() if p not in wanted]
        if not adds and not drops:
            return
        tx = table.transaction()
        if adds:
            self._evolve_for(tx, table, spec, adds[0])
        props = _snapshot_properties(spec, manifest)
        if OWNER_PROPERTY not in table.properties:  # a table made before owners were named
            tx.set_properties({OWNER_PROPERTY: self._owner(spec)})
        if tx.table_metadata.name_mapping() is None:
            from pyiceberg.table import TableProperties

            mapping = tx.table_metadata.schema().name_mapping.model_dump_json()
            tx.set_properties({TableProperties.DEFAULT_NAME_MAPPING: mapping})
        if drops:
            self._overwrite(tx, table, adds, drops, props)
        else:
            tx.add_files(adds, snapshot_properties=props, check_duplicate_files=False)
        tx.commit_transaction()

    def _overwrite(
        self, tx: Any, table: Table, adds: list[str], drops: list[DataFile], props: dict[str, str]
    ) -> None:
        """Delete the replaced generation's files and add the new ones in one snapshot."""
        from pyiceberg.io.pyarrow import parquet_file_to_data_file

        with tx.update_snapshot(snapshot_properties=props).overwrite() as change:
            for data_file in drops:
                change.delete_data_file(data_file)
            for path in adds:
                change.append_data_file(
                    parquet_file_to_data_file(table.io, tx.table_metadata, path)
                )

    def _create(self, spec: TableSpec, manifest: Manifest, first_file: str) -> Table:
        """Create the table from the first file's schema, partitioned by day where Iceberg's day
        is the archive's (module docstring); a concurrent creator's table is taken as it is."""
        from pyiceberg.exceptions import TableAlreadyExistsError
        from pyiceberg.transforms import DayTransform

        schema = self._file_schema(first_file)
        ts = schema.field(manifest.timestamp_column)
        try:
            with self.catalog.create_table_transaction(
                self.identifier(spec),
                schema,
                properties={TIMESTAMP_PROPERTY: ts.name, OWNER_PROPERTY: self._owner(spec)},
            ) as tx:
                if day_is_icebergs(ts.type, manifest.timezone, self._datetime_zone):
                    with tx.update_spec() as spec_update:
                        spec_update.add_field(ts.name, DayTransform(), f"{ts.name}_day")
        except TableAlreadyExistsError:
            pass
        table = self.table(spec)
        assert table is not None
        return table

    def _require_own(self, table: Table, spec: TableSpec, timestamp_column: str) -> None:
        require_own(table.properties, spec.name, self.identifier(spec), self._owner(spec),
                    timestamp_column)  # fmt: skip

    def _owner(self, spec: TableSpec) -> str:
        """Where this table's archive lives (the table folder's location)."""
        path = self._partition_of(spec, dt.date(2000, 1, 1))
        folder = path.folder if path.folder is not None else table_dir(path.table)
        return str(storage_hook(self.storage, "location")(folder + "/"))

    def _evolve_for(self, tx: Any, table: Table, spec: TableSpec, path: str) -> None:
        """Add the new columns (and promote widened ones) of the file at ``path``, in ``tx``."""
        self._evolved(table, self._file_schema(path), spec, apply=True, tx=tx)

    def _evolved(
        self, table: Table, schema: pa.Schema, spec: TableSpec, apply: bool, tx: Any = None
    ) -> None:
        """Union ``schema`` into the table's by name; with ``apply`` in ``tx``, else only check."""
        from pyiceberg.exceptions import ValidationError

        update = (tx or table.transaction()).update_schema()
        try:
            update.union_by_name(schema)
            update._apply()  # validates every change; pyiceberg has no public dry run
        except (ValidationError, ValueError, TypeError) as exc:
            raise SourceError(
                f"{spec.name}: its columns changed in a way Iceberg cannot follow "
                f"({self._reason(exc)}); Iceberg widens int to long, float to double and decimal "
                "precision, and adds columns. Archive the new shape as another table "
                "(another Iceberg name: another [iceberg] namespace, or the table's schema) or "
                "re-export old days"
            ) from exc
        if apply:
            update.commit()

    # --- what the table holds -----------------------------------------------------------------

    def _day_files(self, table: Table, spec: TableSpec, day: dt.date) -> dict[str, DataFile]:
        """The current snapshot's data files of ``day``: found through the timestamp column's
        statistics (a few days wide, whatever the zone), kept if they are in the day's folder."""
        from pyiceberg import expressions

        at_least: Any = expressions.GreaterThanOrEqual  # untyped: see row_filter.py
        below: Any = expressions.LessThan

        if table.current_snapshot() is None:
            return {}
        folder = self._folder_location(spec, day)
        column = table.schema().find_field(self._timestamp_column(table))
        low, high = day_range_filter(day, column.field_type)
        after, before = at_least(column.name, low), below(column.name, high)
        scan = table.scan(row_filter=expressions.And(after, before))
        return {
            task.file.file_path: task.file
            for task in scan.plan_files()
            if task.file.file_path.startswith(folder)
        }

    @staticmethod
    def _timestamp_column(table: Table) -> str:
        name = table.properties.get(TIMESTAMP_PROPERTY)
        if name is None:
            raise StorageError(
                f"{'.'.join(table.name())}: the Iceberg table has no {TIMESTAMP_PROPERTY} "
                "property: it was not created by dbarchive; name another table"
            )
        return name

    def _locations(self, manifest: Manifest) -> dict[str, FileEntry]:
        location = storage_hook(self.storage, "location")
        return {location(f.key): f for f in manifest.files}

    def _folder_location(self, spec: TableSpec, day: dt.date) -> str:
        prefix = self._partition_of(spec, day).prefix
        return str(storage_hook(self.storage, "location")(prefix))

    def _reason(self, exc: BaseException) -> str:
        """An exception as one line, with the catalog's secrets masked."""
        text = str(exc).strip().splitlines()
        line = f"{type(exc).__name__}: {text[0] if text else ''}"[:300]
        for secret in self._secrets:
            line = line.replace(secret, "***")
        return line

    def _file_schema(self, path: str) -> pa.Schema:
        """The Parquet file's Arrow schema, without the writer's metadata."""
        import pyarrow.parquet as pq
        from pyiceberg.io.pyarrow import PyArrowFileIO

        io = PyArrowFileIO(self.catalog.properties)
        with io.new_input(path).open() as stream:
            schema: pa.Schema = pq.read_schema(cast(Any, stream))
        return schema.remove_metadata()


def _snapshot_properties(spec: TableSpec, manifest: Manifest) -> dict[str, str]:
    """What the snapshot's summary says of the day it commits."""
    digest = manifest.effective_digest.to_json()
    return {
        "dbarchive.table": spec.name,
        "dbarchive.day": manifest.day.isoformat(),
        "dbarchive.generation": str(manifest.generation),
        "dbarchive.rows": str(digest["rows"]),
        "dbarchive.digest": f"{digest['x1']}:{digest['x2']}:{digest['s1']}",
    }
