"""The job configuration: what to archive, from where, to where. Validated on load, frozen after.

Loading touches neither MySQL nor S3; :func:`load_job` turns every validation problem into one
``ConfigError`` that names the file, the field and the fix. One module per section: ``source``,
``destination`` (with ``[throttle]``), ``tables`` (``[defaults]`` and ``[[tables]]``) and ``job``
(the whole file); ``base`` holds what they share.
"""

from dbarchive.config.base import Retention
from dbarchive.config.destination import DestinationSettings, ThrottleSettings
from dbarchive.config.job import ArchiveJob, job_from_dict, load_job, with_overrides
from dbarchive.config.ledger import LedgerSettings
from dbarchive.config.source import DEFAULT_PASSWORD_ENV, WITH_SECRETS, SourceSettings, SslMode
from dbarchive.config.tables import ExportSettings, TableDefaults, TableSpec

__all__ = [
    "DEFAULT_PASSWORD_ENV",
    "WITH_SECRETS",
    "ArchiveJob",
    "DestinationSettings",
    "ExportSettings",
    "LedgerSettings",
    "Retention",
    "SourceSettings",
    "SslMode",
    "TableDefaults",
    "TableSpec",
    "ThrottleSettings",
    "job_from_dict",
    "load_job",
    "with_overrides",
]
