"""Airflow connections → dbarchive settings: MySQL from ``mysql_conn_id``, S3 from ``aws_conn_id``.

Secrets stay in Airflow's connection store (or MWAA's execution role): the MySQL password goes
into ``SourceSettings.password`` (hidden from repr and logs), S3 gets the hook's boto3 Session,
whose credentials refresh like any AWS role's.
"""

from __future__ import annotations

from urllib.parse import quote

from pydantic import SecretStr

from dbarchive.airflow._compat import BaseHook
from dbarchive.build import storage_options
from dbarchive.config import ArchiveJob, SourceSettings
from dbarchive.storage import StorageOptions


def source_from_connection(conn_id: str, job: ArchiveJob) -> SourceSettings:
    """SourceSettings from a MySQL connection (host, port, login, password, schema, extras)."""
    conn = BaseHook.get_connection(conn_id)
    extra = conn.extra_dejson or {}
    database = conn.schema or (job.source.database if job.source else "")
    login = quote(conn.login or "root", safe="")
    url = (
        f"mysql://{login}@{conn.host or 'localhost'}:{conn.port or 3306}/{quote(database, safe='')}"
    )
    ssl = extra.get("ssl") or {}
    return SourceSettings(
        url=url,
        password=SecretStr(conn.password) if conn.password else None,
        timezone=job.source.timezone if job.source else "UTC",
        ssl_ca=ssl.get("ca") if isinstance(ssl, dict) else None,
    )


def storage_from_connection(aws_conn_id: str, job: ArchiveJob) -> StorageOptions | None:
    """Storage options from an AWS connection for s3:// destinations (None for local folders)."""
    if not job.destination.url.startswith("s3://"):
        return None
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    hook = S3Hook(aws_conn_id=aws_conn_id)
    base = storage_options(job.destination)
    return StorageOptions(
        endpoint_url=hook.conn_config.endpoint_url or base.endpoint_url,
        region=hook.conn_region_name or base.region,
        sse=base.sse,
        kms_key_id=base.kms_key_id,
        storage_class=base.storage_class,
        part_size=base.part_size,
        session=hook.get_session(region_name=hook.conn_region_name or base.region),
    )
