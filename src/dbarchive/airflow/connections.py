"""Airflow connections → dbarchive settings: MySQL from ``mysql_conn_id``, S3 from ``aws_conn_id``.

Secrets stay in Airflow's connection store (or MWAA's execution role): the MySQL password goes
into ``SourceSettings.password`` (hidden from repr and logs), S3 gets the hook's boto3 Session,
whose credentials refresh like any AWS role's.
"""

from __future__ import annotations

from typing import Any

from dbarchive.airflow._compat import BaseHook
from dbarchive.airflow.conn_settings import ConnectionFields, source_settings
from dbarchive.build import storage_options
from dbarchive.config import ArchiveJob, SourceSettings
from dbarchive.storage import StorageOptions


def source_from_connection(conn_id: str, job: ArchiveJob) -> SourceSettings:
    """SourceSettings from a MySQL connection (host, port, login, password, schema, extras).

    TLS comes from the extras as ``MySqlHook`` reads them (``ssl``: ``{"ca", "cert", "key"}``,
    a JSON text in a URI connection; ``ssl_mode``), else from the config's ``[source]``. With
    ``iam`` the password is an RDS IAM token signed with the AWS connection ``aws_conn_id``'s
    credentials (the ``region`` extra, else that connection's region, else the host's). The
    mapping is ``conn_settings.source_settings``, which the CLI's ``--conn-from-env`` shares.
    """
    conn = BaseHook.get_connection(conn_id)
    fields = ConnectionFields(
        conn_id, conn.conn_type or "", conn.host, conn.port, conn.login, conn.password,
        conn.schema, conn.extra_dejson or {},
    )  # fmt: skip
    return source_settings(fields, job, _aws_session)


def _aws_session(extra: dict[str, Any]) -> tuple[Any, str | None]:
    """RDS IAM (extra ``iam``, as MySqlHook reads it): the boto3 session of the AWS connection
    ``aws_conn_id`` (default ``aws_default``; on MWAA the execution role) and its region."""
    from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

    hook = AwsBaseHook(aws_conn_id=extra.get("aws_conn_id", "aws_default"), client_type="rds")
    region = hook.conn_region_name
    return hook.get_session(region_name=region), region


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
        object_lock=base.object_lock,  # WORM settings come from the config, never the connection
        tag_data=base.tag_data,
        session=hook.get_session(region_name=hook.conn_region_name or base.region),
    )
