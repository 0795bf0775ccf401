"""dbarchive on Airflow / MWAA: the whole daily archive job in one DAG file.

Put this file and ``archive.toml`` in your dags folder (on MWAA: the S3 dags prefix) and install
``dbarchive[airflow,s3]`` as this folder's requirements.txt does (README "Installing on MWAA").
Create the connections ``mysql_default`` (the database)
and, for notifications, ``dbarchive_webhook`` (type "Slack Incoming Webhook", password = the
webhook URL; or a Slack API connection and ``channel="#…"``); on MWAA, S3 access comes from the
execution role through ``aws_default``.

Each run archives the day before it starts (the task's Rendered Template shows which), first
catching up days earlier runs missed; see README "Which day a run archives".
"""

from __future__ import annotations

import os
from pathlib import Path

# [START dbarchive_dag]
from dbarchive.airflow import WebhookNotifier, build_dag

CONFIG = os.environ.get("DBARCHIVE_CONFIG", str(Path(__file__).with_name("archive.toml")))

dag = build_dag(
    CONFIG,
    dag_id="dbarchive",
    schedule="@daily",  # each run archives the day before it and purges what has expired
    mysql_conn_id="mysql_default",
    aws_conn_id="aws_default",
    pool="dbarchive",  # create it with a few slots: it caps the tasks hitting the database at once
    notifier=WebhookNotifier(conn_id="dbarchive_webhook"),
    default_args={"owner": "data-platform"},  # any task argument; timeout: max_runtime + 10 min
    tags=("dbarchive", "mysql"),
)
# [END dbarchive_dag]
