"""``get_provider_info`` for the ``apache_airflow_provider`` entry point: Airflow lists dbarchive
among its providers (``airflow providers list``, the UI's Providers page) with its operators,
sensor and notifier. Airflow calls it wherever it discovers providers, so it imports nothing."""

from __future__ import annotations

from typing import Any

from dbarchive._version import __version__

_INTEGRATION = "dbarchive"


def get_provider_info() -> dict[str, Any]:
    """The provider's description, in the shape of Airflow's ``provider_info.schema.json``."""
    return {
        "package-name": "dbarchive",
        "name": "dbarchive",
        "description": "Archive old rows of big MySQL tables to S3 as verified files, then "
        "purge them gently: daily, backfill and maintenance DAGs and their operators.",
        "versions": [__version__],
        "integrations": [{"integration-name": _INTEGRATION, "tags": ["service"]}],
        "operators": [
            {
                "integration-name": _INTEGRATION,
                "python-modules": [
                    "dbarchive.airflow.operators",
                    "dbarchive.airflow.catch_up",
                    "dbarchive.airflow.unit_operators",
                    "dbarchive.airflow.maintenance",
                ],
            }
        ],
        "sensors": [
            {"integration-name": _INTEGRATION, "python-modules": ["dbarchive.airflow.operators"]}
        ],
        "notifications": ["dbarchive.airflow.notify.WebhookNotifier"],
    }
