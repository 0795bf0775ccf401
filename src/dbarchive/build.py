"""The one place that turns a validated job into live objects; the CLI and Airflow share it."""

from __future__ import annotations

from dbarchive.config import ArchiveJob, DestinationSettings, SourceSettings, ThrottleSettings
from dbarchive.context import Context
from dbarchive.errors import ConfigError
from dbarchive.events import NullReporter, Reporter
from dbarchive.sources.mysql import MySqlSource
from dbarchive.sources.probes import MySqlLoadProbe
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
) -> Context:
    """A ready Context for ``job``; nothing connects until first use."""
    return Context(
        job=job,
        source=source or MySqlSource(_source_settings(job)),
        storage=storage or build_storage(job),
        reporter=reporter or NullReporter(),
    )


def build_throttle(
    ctx: Context, overrides: dict[str, object] | None = None, stop: StopFlag | None = None
) -> Throttle:
    """The purge's throttle: the job's settings (with CLI overrides) and a load probe on the source.

    Parallel workers each get their own (their own probe session) sharing one ``stop`` flag.
    """
    settings = ctx.job.throttle
    if overrides:
        settings = ThrottleSettings.model_validate({**settings.model_dump(), **overrides})
    probe = MySqlLoadProbe(ctx.source, settings.replicas, settings.aurora_replicas)
    return Throttle(settings, probe, stop or StopFlag())
