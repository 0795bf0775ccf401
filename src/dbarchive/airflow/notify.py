"""WebhookNotifier: one message per failed task to Slack or any webhook, on Airflow's notifier
interface (``BaseNotifier``), so it goes wherever Airflow takes a callback.

The message names what the on-call needs without opening Airflow: the table, the day and the
step — read from the operator that failed (its ``table``, its rendered ``day``, its step), never
parsed from the task id — the error's first line, the DAG run id, the try number (of how many)
and the link to the task's log. Where it goes: a Slack incoming webhook, the Slack API with a
channel, or a generic webhook (``notify_post.py``). The URL or token is a secret: give a
connection id rather than the URL in the DAG file.
"""

from __future__ import annotations

from typing import Any

from dbarchive.airflow._compat import AirflowFailException, BaseHook, BaseNotifier
from dbarchive.airflow.notify_post import Target, post, target_from_connection


class WebhookNotifier(BaseNotifier):
    """A failure (and optionally success) callback for tasks and DAG runs.

    Args:
        conn_id: an Airflow connection: ``slackwebhook`` (Slack incoming webhook), ``slack``
            (Slack API token; needs ``channel``) or any other holding a webhook URL (extra
            ``webhook_url``, else the password, else the host).
        url: the webhook URL itself (tests, or a URL from a secrets backend).
        channel: the Slack channel for a ``slack`` connection (e.g. ``"#db-archive"``).
    """

    template_fields = ()  # one instance serves every task: nothing of it is rendered

    def __init__(
        self,
        url: str | None = None,
        conn_id: str | None = None,
        channel: str | None = None,
        timeout: float = 10.0,
    ) -> None:
        if not url and not conn_id:
            raise ValueError("WebhookNotifier needs a url or a conn_id")
        super().__init__()
        self.url, self.conn_id, self.channel, self.timeout = url, conn_id, channel, timeout

    def render_template_fields(self, context: Any, jinja_env: Any = None) -> None:
        """Nothing of this notifier is templated, so nothing is rendered: rendering needs the
        DAG's Jinja environment, which a DAG-level callback's ``dag`` may not offer (Airflow
        3.3's ``dag.test`` passes a SerializedDAG, and BaseNotifier's rendering raised)."""

    def notify(self, context: Any) -> None:
        """Airflow calls this (through ``__call__``) with the context of the failed task."""
        self.send(failure_message(context))

    def send(self, text: str) -> bool:
        """Post one message; True when delivered. Never raises: a failed post is logged with its
        HTTP status and reply (``notify_post.post``)."""
        try:
            target = self._target()
        except Exception as exc:  # a broken notifier must never hide the task's own error
            via = f"connection {self.conn_id!r}" if self.conn_id and not self.url else "its url"
            self.log.warning("dbarchive: notification via %s not sent: %s", via, exc)
            return False
        return post(target, text, self.timeout)

    def _target(self) -> Target:
        if self.url:
            return Target(self.url, extra={"channel": self.channel} if self.channel else {})
        assert self.conn_id is not None
        return target_from_connection(BaseHook.get_connection(self.conn_id), self.channel)


def failure_message(context: Any) -> str:
    """``dbarchive FAILED (dag): table events, day 2026-11-24, step export — <first line>``,
    then the run id, the try and the log's URL."""
    task = context.get("task")
    ti = context.get("task_instance") or context.get("ti")
    error = str(context.get("exception") or context.get("reason") or "unknown error")
    first = (error.strip().splitlines() or ["unknown error"])[0]
    dag_id = getattr(context.get("dag"), "dag_id", "") or getattr(ti, "dag_id", "")
    run_id = context.get("run_id") or getattr(ti, "run_id", None)
    run_id = run_id or getattr(context.get("dag_run"), "run_id", None)
    if "reason" in context or (task is None and ti is None):
        # A DAG-level callback: its ``ti`` is some task of the run (Airflow 2: the last one,
        # maybe upstream_failed), not surely the failed one, so none is named.
        return f"dbarchive FAILED ({dag_id}): DAG run {run_id or '?'} — {first}"
    table, day, step = where(task, context)
    lines = [f"dbarchive FAILED ({dag_id}): table {table}, day {day}, step {step} — {first}"]
    if run_id:
        permanent = isinstance(context.get("exception"), AirflowFailException)
        lines.append(f"run {run_id}, {_try_text(ti, task, permanent)}")
    log_url = _log_url(ti)
    if log_url:
        lines.append(f"log: {log_url}")
    return "\n".join(lines)


def where(task: Any, context: Any) -> tuple[str, str, str]:
    """The table, day and step of a task, from the operator's own fields."""
    table = getattr(task, "table", None) or "?"
    step = getattr(task, "step_name", None) or getattr(task, "step", None)
    if not step:
        step = str(getattr(task, "task_id", "") or "?")
    return str(table), _day(task, context), str(step)


def _day(task: Any, context: Any) -> str:
    """The operator's rendered day (a unit's day for a work unit), else computed from the run."""
    day = getattr(task, "day", None)
    unit = getattr(task, "unit", None)
    if not day and isinstance(unit, dict):
        day = unit.get("day")
    if day:
        return str(day)
    if getattr(task, "renders_day", True) is False and hasattr(task, "first"):
        return f"{task.first or 'oldest'} .. {task.last or 'cutoff'}"  # a backfill's days
    if task is not None and hasattr(task, "archive_day"):
        try:
            from dbarchive.airflow.operators import load_config

            return str(task.archive_day(context, task.spec(load_config(task.config))))
        except Exception:  # the message must go out even if the config is the problem
            return "?"
    return "?"


def _try_text(ti: Any, task: Any, permanent: bool) -> str:
    """``try 2 of 3``; ``try 1, not retried (a permanent error)`` when the task failed fast."""
    number = getattr(ti, "try_number", None)
    retries = getattr(task, "retries", None)
    if number is None:
        return "try ?"
    if permanent:
        return f"try {number}, not retried (a permanent error)"
    return f"try {number} of {int(retries) + 1}" if isinstance(retries, int) else f"try {number}"


def _log_url(ti: Any) -> str | None:
    try:
        url = getattr(ti, "log_url", None)
    except Exception:  # building it needs the webserver's config; the message goes without
        return None
    return str(url) if url else None
