"""The one place that turns a validated job into live objects; the CLI and Airflow share it."""

from __future__ import annotations

from dbarchive.clock import Clock, system_clock
from dbarchive.config import ArchiveJob, DestinationSettings, SourceSettings, with_overrides
from dbarchive.context import Context
from dbarchive.errors import ConfigError
from dbarchive.events import NullReporter, Reporter
from dbarchive.sources.heartbeat import Heartbeat, HeartbeatTable
from dbarchive.sources.latency_probe import ProbeProcess, newest_row_sql
from dbarchive.sources.mysql import MySqlSource
from dbarchive.sources.probes import MySqlLoadProbe
from dbarchive.sources.read_session import ReadSource
from dbarchive.storage import Storage, StorageOptions, open_storage
from dbarchive.throttle import StopFlag, Throttle


def storage_options(dest: DestinationSettings) -> StorageOptions:
    """Backend options from the destination settings (credentials come from the AWS chain)."""
    return StorageOptions(
        endpoint_url=dest.endpoint_url,
        region=dest.region,
        sse=dest.sse,
        kms_key_id=dest.kms_key_id,
        storage_class=dest.storage_class,
        part_size=dest.part_size_mib * 1024 * 1024,
        object_lock=dest.lock,
        tag_data=dest.lifecycle is not None,
    )


def build_storage(job: ArchiveJob, options: StorageOptions | None = None) -> Storage:
    """Open the destination of ``job`` (``options`` overrides, e.g. from an Airflow connection)."""
    return open_storage(job.destination.url, options or storage_options(job.destination))


def _source_settings(job: ArchiveJob) -> SourceSettings:
    if job.source is None:
        raise ConfigError(
            'the config has no [source]: add [source] url = "mysql://user@host:3306/db"'
        )
    return job.source


def build_context(
    job: ArchiveJob,
    reporter: Reporter | None = None,
    storage: Storage | None = None,
    source: MySqlSource | None = None,
    wall_clock: Clock | None = None,
) -> Context:
    """A ready Context for ``job``; nothing connects until first use.

    Refuses (ConfigError) tables whose folders would mix, checked again here because the source's
    database, which decides some folders, may have been supplied after the config was loaded
    (Airflow's connection). ``wall_clock``: what time it is (default: the machine's, or the
    ``DBARCHIVE_NOW`` testing hook).
    """
    conflict = job.folder_conflict()
    if conflict:
        raise ConfigError(conflict)
    primary = source or MySqlSource(_source_settings(job))
    return Context(
        job=job,
        source=primary,
        storage=storage or build_storage(job),
        reporter=reporter or NullReporter(),
        wall_clock=wall_clock or system_clock(),
        reader=build_reader(primary),
    )


def build_reader(primary: MySqlSource) -> ReadSource | None:
    """The read endpoint of ``primary``'s settings (``read_url``), its heartbeat written through
    ``primary``; None without one. Nothing connects until first use."""
    settings = primary.settings.read_settings()
    if settings is None:
        return None
    heartbeat = Heartbeat(primary, HeartbeatTable(*primary.settings.heartbeat_name))
    return ReadSource(settings, heartbeat, primary.settings.read_lag_wait.total_seconds())


def build_throttle(
    ctx: Context, overrides: dict[str, object] | None = None, stop: StopFlag | None = None
) -> Throttle:
    """The purge's throttle: the job's settings (with CLI overrides), a load probe on the source
    and, with a latency budget, the latency probe (started with the first chunk's wait).

    Parallel workers each get their own (their own probe sessions) sharing one ``stop`` flag.
    The default probe query is a lookup of the newest row of the job's first table.
    """
    settings = ctx.job.throttle
    if overrides:
        settings = with_overrides(settings, overrides, "throttle overrides")
    probe = MySqlLoadProbe(ctx.mysql, settings.replicas, settings.aurora_replicas)
    latency = None
    if settings.has_budget:
        first = ctx.job.tables[0]
        latency = ProbeProcess(
            ctx.source.settings,
            settings.probe_query or (lambda: newest_row_sql(ctx.describe(first))),
            settings.probe_interval,
            settings.probe_window,
        )
    return Throttle(settings, probe, stop or StopFlag(), latency=latency, reporter=ctx.reporter)
