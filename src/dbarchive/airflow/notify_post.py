"""Where a notification goes, read from an Airflow connection, and the one HTTP POST that sends it.

Three kinds of connection are understood, each the way its owner documents it:

- ``slackwebhook`` (the Slack provider's "Slack Incoming Webhook"): the password is the webhook
  URL, or its path (``T000/B000/XXX``) under the host (default ``hooks.slack.com/services``) and
  the schema (default ``https``). Posts ``{"text"}``; the webhook decides the channel.
- ``slack`` (the Slack provider's "Slack API", e.g. ``slack_api_default``): the password is a bot
  token; ``chat.postMessage`` under the extra ``base_url`` (default ``https://slack.com/api/``)
  posts ``{"channel", "text"}`` to the notifier's ``channel``. Slack answers HTTP 200 with
  ``{"ok": false, "error": …}`` on failure: that is a failure too.
- anything else (``http``, a generic webhook relay, Teams/Mattermost bridges): the URL is the extra
  ``webhook_url``, else the password, else the host; posts ``{"text"}``.

The Slack provider itself is not needed (MWAA does not always install it). A URL or token is a
secret: it is never logged; a failed post logs the HTTP status and the reply's body.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin

log = logging.getLogger("dbarchive")

SLACK_WEBHOOK_HOST = "hooks.slack.com/services"
SLACK_API_URL = "https://slack.com/api/"
_BODY_SHOWN = 500  # characters of a failed reply's body put in the log


@dataclass(frozen=True)
class Target:
    """One resolved destination: URL, headers and the JSON to add to ``{"text"}``."""

    url: str = field(repr=False)  # a webhook URL is a credential
    headers: dict[str, str] = field(default_factory=dict, repr=False)
    extra: dict[str, Any] = field(default_factory=dict)
    slack_api: bool = False  # the reply is {"ok": …}: HTTP 200 is not enough
    timeout: float | None = None
    via: str = "its url"  # what a failure names: the connection, never the URL

    @property
    def not_sent(self) -> str:
        """The start of a failed post's warning, naming where it was going."""
        return f"dbarchive: notification via {self.via} not sent"


def target_from_connection(conn: Any, channel: str | None) -> Target:
    """The :class:`Target` of an Airflow connection (see the module docstring)."""
    extra = conn.extra_dejson or {}
    kind = (conn.conn_type or "").lower().replace("-", "").replace("_", "")
    timeout = _extra(extra, "timeout", kind)
    seconds = float(timeout) if timeout not in (None, "") else None
    via = f"connection {conn.conn_id!r}"
    if kind == "slackwebhook":
        return Target(_slack_webhook_url(conn), timeout=seconds, via=via)
    if kind == "slack":
        if not conn.password:
            raise ValueError(f"Slack API connection {conn.conn_id!r} holds no token (password)")
        if not channel:
            raise ValueError(
                f"Slack API connection {conn.conn_id!r} needs a channel: give the notifier "
                'channel="#alerts" (or use an incoming-webhook connection, slackwebhook)'
            )
        base = str(_extra(extra, "base_url", kind) or SLACK_API_URL)
        return Target(
            urljoin(base.rstrip("/") + "/", "chat.postMessage"),
            {"Authorization": f"Bearer {conn.password}"},
            {"channel": channel},
            slack_api=True,
            timeout=seconds,
            via=via,
        )
    url = extra.get("webhook_url") or conn.password or conn.host
    if not url:
        raise ValueError(f"connection {conn.conn_id!r} holds no webhook URL")
    extras = {"channel": channel} if channel else {}
    return Target(str(url), extra=extras, timeout=seconds, via=via)


def _extra(extra: dict[str, Any], name: str, kind: str) -> Any:
    """An extra as the Slack provider reads it: ``name`` or its prefixed old form."""
    return extra.get(name, extra.get(f"extra__{kind}__{name}"))


def _slack_webhook_url(conn: Any) -> str:
    token = (conn.password or "").strip()
    if not token:
        raise ValueError(
            f"Slack webhook connection {conn.conn_id!r} holds no webhook URL or token (password)"
        )
    if "://" in token:
        return str(token)
    host = (conn.host or SLACK_WEBHOOK_HOST).strip().rstrip("/")
    if "://" not in host:
        host = f"{conn.schema or 'https'}://{host}"
    return f"{host}/{token.lstrip('/')}"


def post(target: Target, text: str, timeout: float) -> bool:
    """POST ``{"text", …}`` as JSON; True when delivered. A failure is logged with the HTTP
    status and the reply's body (or the network's reason), never raised: a broken notifier must
    not hide the task's own error, nor replace it."""
    if not target.url.startswith(("https://", "http://")):
        log.warning("%s: the URL must start with https:// or http://", target.not_sent)
        return False
    body = json.dumps({**target.extra, "text": text}).encode()
    headers = {"Content-Type": "application/json; charset=utf-8", **target.headers}
    request = urllib.request.Request(target.url, body, headers)  # noqa: S310 - scheme checked above
    try:
        with urllib.request.urlopen(request, timeout=target.timeout or timeout) as reply:  # noqa: S310
            status, answer = reply.status, reply.read(64 * 1024)
    except urllib.error.HTTPError as exc:
        _failed(target, exc.code, exc.read(64 * 1024))
        return False
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", None) or exc
        log.warning("%s: %s (%s)", target.not_sent, reason, type(exc).__name__)
        return False
    if target.slack_api and not _slack_ok(answer):
        _failed(target, status, answer)
        return False
    return True


def _slack_ok(answer: bytes) -> bool:
    try:
        return bool(json.loads(answer).get("ok"))
    except (ValueError, AttributeError):
        return False


def _failed(target: Target, status: int, answer: bytes) -> None:
    text = answer.decode("utf-8", "replace").strip()[:_BODY_SHOWN] or "(empty body)"
    log.warning("%s: HTTP %s, reply: %s", target.not_sent, status, text)
