"""Secrets kept out of the DEBUG log: botocore logs each request's headers and canonical
request, which hold an AWS session token (every role on MWAA, ECS, EKS), and ``-v`` shows them.

A handler filter, not a logger one: botocore's records come from many child loggers and reach
the root handler by propagation, where a filter on a parent logger would not see them.
"""

from __future__ import annotations

import logging
import re

# A session token as botocore writes it: ``x-amz-security-token:<token>`` in the canonical
# request, ``'X-Amz-Security-Token': b'<token>'`` in the header dump, ``…=<token>`` in a URL.
_TOKEN = re.compile(
    r"""(x-amz-security-token['"]?\s*[:=]\s*(?:b?['"])?)[A-Za-z0-9+/=%_.-]+""", re.IGNORECASE
)
REDACTED = "<redacted>"


def redact(text: str) -> str:
    """``text`` with every AWS session token replaced."""
    return _TOKEN.sub(lambda m: m.group(1) + REDACTED, text)


class SecretFilter(logging.Filter):
    """Rewrites a record whose message holds a secret (formatting it first); keeps every
    record."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def redact_root_handlers() -> None:
    """Put the filter on every handler of the root logger (once each)."""
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, SecretFilter) for f in handler.filters):
            handler.addFilter(SecretFilter())
