"""WebhookNotifier: one message per failed task (table, day, step, error) to a Slack-style webhook.

It posts ``{"text": …}`` as JSON, which Slack incoming webhooks, Teams/Mattermost bridges and most
chat relays accept. The URL is a secret: give a connection id (its password, or ``extra.webhook_url``,
holds the URL) rather than the URL itself in the DAG file.
"""

from __future__ import annotations

import json
import logging
import urllib.request
from typing import Any

log = logging.getLogger("dbarchive")


class WebhookNotifier:
    """A failure (and optionally success) callback for tasks and DAG runs."""

    def __init__(
        self, url: str | None = None, conn_id: str | None = None, timeout: float = 10.0
    ) -> None:
        if not url and not conn_id:
            raise ValueError("WebhookNotifier needs a url or a conn_id")
        self.url, self.conn_id, self.timeout = url, conn_id, timeout

    def __call__(self, context: Any) -> None:
        """Airflow calls this with the task context on failure."""
        self.send(failure_message(context))

    def send(self, text: str) -> None:
        """Post one message; a failing webhook is logged, never raised (it must not mask the error)."""
        body = json.dumps({"text": text}).encode()
        try:
            url = self._url()
            if not url.startswith(("https://", "http://")):
                raise ValueError("the webhook URL must start with https:// or http://")
            request = urllib.request.Request(url, body, {"Content-Type": "application/json"})  # noqa: S310 - scheme checked above
            with urllib.request.urlopen(request, timeout=self.timeout):  # noqa: S310 - scheme checked above
                pass
        except Exception as exc:  # a broken notifier must never hide the task's own error
            log.warning("dbarchive: could not post the notification: %s", type(exc).__name__)

    def _url(self) -> str:
        if self.url:
            return self.url
        from dbarchive.airflow._compat import BaseHook

        assert self.conn_id is not None
        conn = BaseHook.get_connection(self.conn_id)
        url = (conn.extra_dejson or {}).get("webhook_url") or conn.password or conn.host
        if not url:
            raise ValueError(f"connection {self.conn_id!r} holds no webhook URL")
        return str(url)


def failure_message(context: Any) -> str:
    """'dbarchive FAILED: table events, day 2026-11-24, step export — <first line of the error>'."""
    task = context.get("task")
    ti = context.get("task_instance") or context.get("ti")
    task_id = getattr(ti, "task_id", "") or getattr(task, "task_id", "")
    table, _, step = task_id.rpartition(".")
    day = "?"
    if task is not None and hasattr(task, "archive_day"):
        try:
            from dbarchive.airflow.operators import load_config

            day = task.archive_day(context, task.spec(load_config(task.config))).isoformat()
        except Exception:  # the message must go out even if the config is the problem
            day = "?"
    error = str(context.get("exception") or "unknown error").strip().splitlines()
    first = error[0] if error else "unknown error"
    dag_id = getattr(context.get("dag"), "dag_id", "")
    return f"dbarchive FAILED ({dag_id}): table {table or '?'}, day {day}, step {step or task_id} — {first}"
