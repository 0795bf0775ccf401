"""dbarchive on Airflow / MWAA: the CLI's check, status, plan --backfill and ddl, as one DAG.

MWAA gives no shell to run ``dbarchive check`` on: trigger this DAG instead (params ``tables``,
``from``/``to``, ``workers``/``db_cap`` to size a backfill, ``engine`` for the DDL) and read each
task's log or XCom. Nothing in it exports or deletes; ``check`` writes and removes one probe object.
"""

from __future__ import annotations

import os
from pathlib import Path

# [START dbarchive_maintenance_dag]
from dbarchive.airflow import build_maintenance_dag

CONFIG = os.environ.get("DBARCHIVE_CONFIG", str(Path(__file__).with_name("archive.toml")))

dag = build_maintenance_dag(
    CONFIG,
    dag_id="dbarchive_maintenance",
    mysql_conn_id="mysql_default",
    aws_conn_id="aws_default",
)
# [END dbarchive_maintenance_dag]
