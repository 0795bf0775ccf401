"""The latency budget inside the throttle: baseline, readings, and the moves of the rate cap.

``throttle_control.py`` holds the law (why AIMD, the constants) and the pure pieces;
:class:`LatencyBudget` applies it over time for :class:`dbarchive.throttle.Throttle`: it measures
the probe's baseline before any work, reads the fresh probes at each chunk boundary, cuts or
raises the cap, and tells the throttle whether the latest evidence says "over" (a strict budget,
without ``min_rate``, pauses the work on it). Each decision goes to the ``decide`` callback.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from dbarchive.config import ThrottleSettings
from dbarchive.errors import SourceError
from dbarchive.throttle_control import (
    BASELINE_SAMPLES,
    GROWTH,
    HEADROOM,
    LatencyProbe,
    RateControl,
    Reading,
    baseline_p99,
    latency_limit,
    read,
)

Decide = Callable[..., None]  # (action, reason, message, rate=, p99_ms=, limit_ms=)


@dataclass
class ThrottleStats:
    """What the throttle did, for the run summary.

    ``seconds_by_reason``: every second the work waited, by why — ``sleep`` (the fixed sleep),
    ``max_rate``/``latency``/``history``/``redo`` (pacing at the cap they set, and pauses), ``load``,
    ``lag``. ``budget_missed_seconds``: time over the latency budget at ``min_rate``."""

    pauses: int = 0
    paused_seconds: float = 0.0
    slept_seconds: float = 0.0
    reasons: dict[str, int] = field(default_factory=dict)  # pauses per reason
    seconds_by_reason: dict[str, float] = field(default_factory=dict)
    baseline_ms: float | None = None
    limit_ms: float | None = None
    p99_ms: float | None = None  # the last p99 of fresh probes
    budget_missed_seconds: float = 0.0

    def add(self, reason: str, seconds: float) -> None:
        self.seconds_by_reason[reason] = self.seconds_by_reason.get(reason, 0.0) + seconds


class LatencyBudget:
    """One throttle's latency budget (see the module docstring)."""

    def __init__(
        self,
        settings: ThrottleSettings,
        probe: LatencyProbe,
        control: RateControl,
        stats: ThrottleStats,
        decide: Decide,
    ) -> None:
        self.settings, self.probe, self.control = settings, probe, control
        self.stats, self._decide = stats, decide
        self.over = False  # the latest evidence says over budget
        self._missed_at: float | None = None  # the last check over budget at min_rate
        self._evidence_from = 0.0  # probes that started before say nothing of the work now

    @property
    def limit_ms(self) -> float | None:
        return self.stats.limit_ms

    def measure_baseline(
        self,
        clock: Callable[[], float],
        sleep: Callable[[float], None],
        check_stop: Callable[[], None],
    ) -> None:
        """Start the probe and take its baseline over one ``probe_window`` (at least
        ``BASELINE_SAMPLES`` probes) before any work: the budget's reference. Once.

        The baseline is the lower median of the p99s of up to ``BASELINE_PARTS`` consecutive
        runs of the window's probes (``throttle_control.baseline_p99``), not the window's p99:
        over ~100 probes that p99 is in effect their maximum, so one stall while it was taken set
        a lenient limit for the whole run (a budget of 2 let production's p99 rise 44x in one
        benchmark run of three). A stall that spoils fewer than half the runs is outvoted, in the
        same time."""
        if self.stats.limit_ms is not None:
            return
        self.probe.start()
        window = self.settings.probe_window
        started = clock()
        give_up = started + max(60.0, 10 * window)
        while True:
            now = clock()
            values, _running = self.probe.samples(started, now)
            if now - started >= window and len(values) >= BASELINE_SAMPLES:
                break
            if now >= give_up:
                raise SourceError(
                    f"the latency probe answered {len(values)} times in {now - started:.0f}s, "
                    f"too few for a baseline ({BASELINE_SAMPLES}): make probe_query cheaper"
                )
            check_stop()
            sleep(min(window / 4, 0.25))
        median, p99s = baseline_p99(values)
        baseline = median * 1000
        limit, how = latency_limit(self.settings, baseline)
        self.stats.baseline_ms, self.stats.limit_ms = baseline, limit
        self.control.changed_at = now
        runs = (
            f" (median of {len(p99s)} runs' p99s: {', '.join(f'{v * 1000:.2f}' for v in p99s)} ms)"
            if len(p99s) > 1
            else ""
        )
        self._decide(
            "baseline",
            "latency",
            f"probe baseline p99 {baseline:.2f} ms over {len(values)} probes{runs}; "
            f"limit {limit:.2f} ms ({how})",
            limit_ms=limit,
        )

    def restart_evidence(self, now: float) -> None:
        """From ``now`` on only fresh probes count: a pause begins (the probes before it are why
        it began; whether it may end is for the probes during it) or ends (the probes of the
        pause, without work, say nothing of what the work does)."""
        self._evidence_from = now

    def reading(self, now: float) -> Reading:
        """The probes of the last window that started after the last rate change (and the last
        pause's start or end)."""
        since = max(self.control.changed_at, self._evidence_from, now - self.settings.probe_window)
        values, running = self.probe.samples(since, now)
        reading = read(values, running, self.settings.probe_interval)
        if reading.p99_ms is not None:
            self.stats.p99_ms = reading.p99_ms
        return reading

    def follow(self, now: float, act: bool = True) -> Reading:
        """Cut the cap on evidence of excess, raise it on sustained headroom; ``act=False`` (in a
        pause, where the work adds nothing to what the probe sees) only notes which it is."""
        limit = self.stats.limit_ms
        assert limit is not None, "measure_baseline first"
        reading = self.reading(now)
        if reading.over(limit):
            self.over = True
            if act:
                self._slow_down(now, reading, limit)
        elif reading.under(limit):
            self.over, self._missed_at = False, None
            if act and reading.roomy(limit):
                self._speed_up(now, reading, limit)
        return reading

    def _speed_up(self, now: float, reading: Reading, limit: float) -> None:
        if now - self._evidence_from < self.settings.probe_window and (
            reading.samples < BASELINE_SAMPLES
        ):
            return  # just after a pause: as after a change, a rise needs 20 probes or a window
        exceeded = self.control.exceeded if self.control.recovering else None
        rate = self.control.faster(now, self.settings.probe_window, reading.samples)
        if rate is not None:
            how = (
                f" (x{GROWTH:g} at most: far below the {exceeded:,.0f} rows/s that was over)"
                if exceeded
                else ""
            )
            self._decide(
                "faster",
                "headroom",
                f"{reading.text(HEADROOM * limit)}, under {limit:.2f} ms with room: "
                f"cap {rate:,.0f} rows/s{how}",
                rate=rate,
                p99_ms=reading.p99_ms,
                limit_ms=limit,
            )

    def _slow_down(self, now: float, reading: Reading, limit: float) -> None:
        rate = self.control.slower(now, "latency")
        if rate is not None:
            self._missed_at = None
            chunk = self.control.chunk_rows(self.settings)
            self._decide(
                "slower",
                "latency",
                f"{reading.text(limit)} > limit {limit:.2f} ms: cap {rate:,.0f} rows/s"
                + (f", chunks of at most {chunk:,} rows" if chunk else ""),
                rate=rate,
                p99_ms=reading.p99_ms,
                limit_ms=limit,
            )
        elif self.settings.min_rate is not None:
            self._missed(now, reading, limit)
        # else a strict budget: the throttle pauses the work until the probe is back under

    def _missed(self, now: float, reading: Reading, limit: float) -> None:
        """Over the limit at ``min_rate``: go on, say so once, and count the time."""
        if self._missed_at is None:
            self._decide(
                "floor",
                "latency",
                f"{reading.text(limit)} > limit {limit:.2f} ms at min_rate "
                f"{self.settings.min_rate:g} rows/s: the budget cannot be held; going on at min_rate",
                rate=self.control.cap,
                p99_ms=reading.p99_ms,
                limit_ms=limit,
            )
        else:
            self.stats.budget_missed_seconds += now - self._missed_at
        self._missed_at = now
