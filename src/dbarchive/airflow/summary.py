"""The one line every dbarchive task logs when it ends: what it did, in ``key=value`` form.

The on-call reads the task log's last dbarchive line and knows the table, the day, the rows,
bytes and files, the key range, whether the digest was verified, the rows deleted and how long
the throttle held the task back — without opening XCom. The same keys as the task's XCom
summary, in one fixed order, so a log search (``dbarchive summary: step=purge``) finds them.
"""

from __future__ import annotations

import logging
from typing import Any

# The package's logger: Airflow puts its records into the task's log (as the core's own lines).
log = logging.getLogger("dbarchive")

# The order of the line; a task logs the keys it has.
FIELDS = (
    "table",
    "tables",
    "day",
    "days",
    "unit",
    "rows",
    "bytes",
    "files",
    "key_range",
    "verified",
    "rows_deleted",
    "throttled_s",
    "stopped",
    "sent",
)


def summary_line(step: str, summary: Any) -> str:
    """``dbarchive summary: step=export table=events day=2026-11-24 rows=40 …``."""
    parts = [f"step={step}"]
    if isinstance(summary, dict):
        for name in FIELDS:
            if name in summary and summary[name] is not None:
                parts.append(f"{name}={_text(summary[name])}")
    elif isinstance(summary, list):
        parts.append(f"items={len(summary)}")
    return "dbarchive summary: " + " ".join(parts)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.1f}"
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value) or "-"
    text = str(value)
    return text if text and " " not in text else repr(text)


def key_range(manifest: Any) -> str | None:
    """``first..last`` of an archived day's keys (composite keys joined by ``/``), or None."""
    low, high = getattr(manifest, "min_key", None), getattr(manifest, "max_key", None)
    if not low or not high:
        return None
    return f"{'/'.join(low)}..{'/'.join(high)}"


def throttled_seconds(throttle: Any) -> float:
    """Seconds the throttle paused or slept the task (0 without a throttle)."""
    stats = getattr(throttle, "stats", None)
    if stats is None:
        return 0.0
    return float(getattr(stats, "paused_seconds", 0.0)) + float(
        getattr(stats, "slept_seconds", 0.0)
    )
