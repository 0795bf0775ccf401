"""The run/purge summary says how long the throttle held the work back, by reason, and how the
latency budget went."""

from __future__ import annotations

from dbarchive.cli.render import plain_line
from dbarchive.cli.reports import throttle_record, throttle_text
from dbarchive.throttle import ThrottleStats


def _stats() -> ThrottleStats:
    stats = ThrottleStats(pauses=2, paused_seconds=1.5, slept_seconds=3.0)
    stats.add("latency", 2.1)
    stats.add("max_rate", 2.4)
    return stats


def test_summary_gives_time_throttled_by_reason() -> None:
    """Text and key=value line both give each reason's seconds; no budget, no budget words."""
    stats = _stats()
    assert throttle_text(stats) == (
        "throttle: 2 pauses, 1.5s paused, 3.0s slept; waited for latency 2.1s, max_rate 2.4s"
    )
    assert plain_line(throttle_record(stats)) == (
        "result=throttle pauses=2 paused_seconds=1.50 slept_seconds=3.00 "
        "latency_seconds=2.10 max_rate_seconds=2.40"
    )


def test_summary_says_when_the_budget_was_not_held() -> None:
    """With a budget: its limit and baseline, the last p99, and the time it was not held."""
    stats = _stats()
    stats.baseline_ms, stats.limit_ms, stats.p99_ms = 4.17, 100.0, 130.0
    stats.budget_missed_seconds = 12.0
    assert throttle_text(stats).endswith(
        "; latency budget: p99 under 100.00 ms (baseline 4.17 ms), last p99 130.0 ms, "
        "NOT HELD for 12.0s at min_rate"
    )
    record = throttle_record(stats)
    assert (record["limit_ms"], record["budget_missed_seconds"]) == (100.0, 12.0)
