"""dbarchive on Airflow / MWAA: archive the history of every table once, on day one, in parallel.

Trigger it by hand (optionally with params ``from``/``to``, e.g. one year per run); it maps over the
days still to do and their work units, so the executor spreads them over its workers while the
``dbarchive`` pool caps the sessions on the database. Pause the daily DAG until it has finished.
Size it first: ``dbarchive plan -c archive.toml --backfill --workers 8 --db-cap 4``.
"""

from __future__ import annotations

import os
from pathlib import Path

# [START dbarchive_backfill_dag]
from dbarchive.airflow import WebhookNotifier, build_backfill_dag

CONFIG = os.environ.get("DBARCHIVE_CONFIG", str(Path(__file__).with_name("archive.toml")))

dag = build_backfill_dag(
    CONFIG,
    dag_id="dbarchive_backfill",
    purge=True,  # delete each expired day right after it verified
    mysql_conn_id="mysql_default",
    aws_conn_id="aws_default",
    pool="dbarchive",  # its slots = sessions dbarchive may hold on the database at once
    notifier=WebhookNotifier(conn_id="dbarchive_webhook"),
)
# [END dbarchive_backfill_dag]
