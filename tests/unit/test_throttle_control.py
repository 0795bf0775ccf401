"""The latency budget's control law, with a fake clock and canned probe latencies: no sleeping,
no server. Each test asserts on the throttle's decisions."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator

import pytest

from dbarchive.cli.reports import throttle_text
from dbarchive.config import ThrottleSettings
from dbarchive.errors import ConfigError, SourceError, StopRequested
from dbarchive.events import CaptureReporter
from dbarchive.sources.probes import history_from_status
from dbarchive.throttle import Throttle
from dbarchive.throttle_control import RateControl, baseline_p99, latency_limit, p99, read
from dbarchive.throttle_redo import REDO_HORIZON, RedoTrend


class FakeClock:
    """Time moves only when the throttle sleeps (or the test says so)."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []
        self.after_sleep: Callable[[], None] = lambda: None  # what the world does meanwhile

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        self.after_sleep()


class CannedLatency:
    """A probe started every ``interval`` seconds of the fake clock, one after the other; each
    takes ``latency_ms(start)``. Implements throttle_control.LatencyProbe."""

    def __init__(
        self, clock: FakeClock, latency_ms: Callable[[float], float], interval: float = 0.05
    ) -> None:
        self.clock, self.latency_ms, self.interval = clock, latency_ms, interval
        self.started = self.closed = False
        self._probes: list[tuple[float, float]] = []  # (start, seconds), in order

    def start(self) -> None:
        self.started = True
        self._probes = [(self.clock.now, self.latency_ms(self.clock.now) / 1000)]

    def _advance(self, now: float) -> None:
        while True:
            start, seconds = self._probes[-1]
            following = max(start + self.interval, start + seconds)
            if following > now:
                return
            self._probes.append((following, self.latency_ms(following) / 1000))

    def samples(self, since: float, now: float) -> tuple[list[float], float | None]:
        assert self.started, "the throttle must start its probe first"
        self._advance(now)
        done = [s for start, s in self._probes if since <= start and start + s <= now]
        start, seconds = self._probes[-1]
        running = now - start if start >= since and start + seconds > now else None
        return done, running

    def close(self) -> None:
        self.closed = True


class CannedLoad:
    """Threads_running 1 and no lag; the history list length and the redo log's fill each in
    turn (the last one repeats; an exception is raised, as a server that refuses the read)."""

    def __init__(
        self, history: list[int], redo: list[float | Exception | None] | None = None
    ) -> None:
        self.history, self.redo = history, redo or [0.1]

    def threads_running(self) -> int:
        return 1

    def replica_lag(self) -> float | None:
        return 0.0

    def history_length(self) -> int:
        return self.history.pop(0) if len(self.history) > 1 else self.history[0]

    def redo_fill(self) -> float | None:
        value = self.redo.pop(0) if len(self.redo) > 1 else self.redo[0]
        if isinstance(value, Exception):
            raise value
        return value


def _throttle(
    latency_ms: Callable[[float], float] | None = None,
    load: CannedLoad | None = None,
    **settings: object,
) -> tuple[Throttle, FakeClock, CaptureReporter]:
    clock = FakeClock()
    latency = None if latency_ms is None else CannedLatency(clock, latency_ms)
    reporter = CaptureReporter()
    values = {"probe_window": 1.0, "check_interval": 0.1, "chunk_time": 0.5, **settings}
    throttle = Throttle(
        ThrottleSettings(**values),  # type: ignore[arg-type]
        load,
        clock=clock,
        sleep=clock.sleep,
        latency=latency,
        reporter=reporter,
    )
    return throttle, clock, reporter


def _actions(throttle: Throttle) -> list[tuple[str, str]]:
    return [(d.action, d.reason) for d in throttle.decisions]


def _chunks(throttle: Throttle, clock: FakeClock, count: int, rows: int, seconds: float) -> None:
    """``count`` chunks of ``rows`` rows, each taking ``seconds`` of work."""
    for _ in range(count):
        clock.now += seconds
        throttle.between_chunks(seconds, rows)


class Slowdown:
    """The server's probe latency: 2 ms, or 50 ms while ``slow``."""

    def __init__(self) -> None:
        self.slow = False

    def __call__(self, _start: float) -> float:
        return 50.0 if self.slow else 2.0


# -- the pure parts ----------------------------------------------------------------------------
def test_p99_is_the_nearest_rank_and_needs_enough_probes() -> None:
    """p99 by nearest rank (the largest below 100 values); fewer than 5 fresh probes: no p99."""
    assert p99([float(v) for v in range(1, 201)]) == 198.0
    assert p99([1.0, 9.0, 2.0]) == 9.0
    assert read([0.001] * 4, None).p99_ms is None
    reading = read([0.001] * 4 + [0.004], 0.0005)
    assert reading.p99_ms == pytest.approx(4.0) and reading.running_ms == pytest.approx(0.5)
    # A probe still running past the limit counts for the probe starts it has held back: 30 ms
    # at a 10 ms interval is three, excess at once; alone, one slow probe is not.
    assert read([0.001] * 5, 0.030, interval=0.010).over(20.0)
    assert not read([0.001] * 5, 0.030, interval=0.050).over(20.0)
    assert read([0.001] * 5 + [0.025, 0.021], None, interval=0.050).over(20.0)


def test_the_limit_is_relative_floored_absolute_or_the_lower_of_both() -> None:
    """latency_budget x baseline (at least probe_floor_ms), probe_p99_ms, or the lower one."""
    assert latency_limit(ThrottleSettings(latency_budget=2.0), 3.0)[0] == 6.0
    assert latency_limit(ThrottleSettings(latency_budget=2.0), 0.2)[0] == 1.0  # the floor
    assert latency_limit(ThrottleSettings(probe_p99_ms=20), 3.0)[0] == 20.0
    both = ThrottleSettings(latency_budget=3.0, probe_p99_ms=20)
    assert latency_limit(both, 3.0)[0] == 9.0
    assert latency_limit(both, 10.0)[0] == 20.0


def test_rate_control_is_aimd() -> None:
    """Halve min(cap, actual rate) down to the floor; raise it only while the cap is in use, up
    to max_rate: x1.5 up to 3/4 of the rate that was over, then 1/20 of the scale per window."""
    control = RateControl(ThrottleSettings(latency_budget=2.0, max_rate=1000), now=0.0)
    control.chunk_done(1.0, 400, 1.0)  # 400 rows/s, under the 1000 cap
    assert control.slower(1.0, "latency") == 200  # half the rate actually reached
    assert control.exceeded == 400
    bounds = ThrottleSettings(min_chunk_rows=100, max_chunk_rows=150, chunk_time=0.5)
    assert control.chunk_rows(bounds) == 100 and control.pacing(100, 0.1) == pytest.approx(0.4)
    assert control.faster(1.5, window=1.0) is None  # not a whole window since the cut
    control.chunk_done(2.0, 100, 0.1)  # actual ~ 310 rows/s, above 80 % of the 200 cap
    assert control.faster(2.0, window=1.0) == 300  # x1.5, up to 3/4 of the 400 that was over
    control.chunk_done(3.0, 300, 1.0)
    assert control.faster(2.5, window=1.0, samples=100) is None  # a step waits for a window
    assert control.faster(3.0, window=1.0) == 350  # + 1000/20
    for _ in range(10):
        control.slower(3.0, "latency")
    assert control.cap == 50  # the floor without min_rate: one step
    assert control.slower(4.0, "latency") is None
    idle = RateControl(ThrottleSettings(latency_budget=2.0, max_rate=1000), now=0.0)
    idle.chunk_done(1.0, 10, 1.0)  # 10 rows/s: the 1000 cap is not what holds it back
    assert idle.faster(5.0, window=1.0) is None
    floored = RateControl(ThrottleSettings(latency_budget=2.0, min_rate=300), now=0.0)
    floored.chunk_done(1.0, 1000, 1.0)
    assert floored.slower(1.0, "latency") == 500
    assert floored.slower(2.0, "latency") == 300
    assert floored.slower(3.0, "latency") is None


def test_repeated_excess_still_halves_and_lowers_the_rate_remembered() -> None:
    """A run of cuts halves each time and remembers the rate of its first cut; after a rise, a
    new excess halves the cap again and remembers the lower rate, so the next fast recovery
    stops lower: the memory follows the server down."""
    control = RateControl(ThrottleSettings(latency_budget=2.0, max_rate=1000), now=0.0)
    control.chunk_done(1.0, 1000, 1.0)
    assert [control.slower(t, "latency") for t in (1.0, 2.0, 3.0)] == [500, 250, 125]
    assert control.exceeded == 1000 and control.recovering  # one excess, seen three times
    control.chunk_done(4.0, 200, 1.0)
    assert control.faster(4.5, window=5.0, samples=19) is None  # too few fresh probes
    assert control.faster(4.5, window=5.0, samples=20) == 187.5  # x1.5 on 20 fresh probes
    control.chunk_done(5.0, 200, 1.0)
    assert control.slower(5.0, "latency") == 93.75  # over again: half the cap, not of a memory
    assert control.exceeded == 187.5
    for t in (6.0, 7.0):
        control.chunk_done(t, 200, 1.0)
        control.faster(t, window=1.0)
    assert control.cap == pytest.approx(0.75 * 187.5 + 50)  # x1.5 to 3/4 of 187.5, then +50
    fresh = RateControl(ThrottleSettings(latency_budget=2.0, max_rate=1000), now=0.0)
    fresh.chunk_done(1.0, 1000, 1.0)
    assert not fresh.recovering and fresh.faster(2.0, window=1.0) is None  # at max_rate


# -- the throttle following the budget ---------------------------------------------------------
def test_baseline_is_measured_before_the_first_chunk() -> None:
    """The first wait starts the probe and takes its p99 over one window: the limit is
    latency_budget x baseline."""
    throttle, clock, reporter = _throttle(lambda _t: 3.0, latency_budget=2.0)
    throttle.before_first_chunk()
    assert clock.now >= 101.0  # one probe_window of probes
    assert _actions(throttle) == [("baseline", "latency")]
    assert throttle.stats.baseline_ms == pytest.approx(3.0)
    assert throttle.stats.limit_ms == pytest.approx(6.0)
    (event,) = reporter.events
    assert (event.step, event.kind, event.data["action"]) == ("throttle", "throttle", "baseline")
    throttle.before_first_chunk()  # once per throttle
    assert len(throttle.decisions) == 1


def test_baseline_is_the_median_p99_of_runs_of_probes() -> None:
    """The baseline is the lower median of the p99s of up to 5 consecutive runs of >= 20 probes
    (fewer than 40 probes: one run, their p99 as before)."""
    noisy = baseline_p99([0.002] * 20 + [0.050] + [0.002] * 79)  # one stall in the 2nd run
    assert noisy == (0.002, [0.002, 0.050, 0.002, 0.002, 0.002])
    assert baseline_p99([0.001] * 19 + [0.009] + [0.001] * 19) == (0.009, [0.009])  # one run
    two = baseline_p99([0.001] * 20 + [0.003] * 20)  # two runs: the lower one
    assert two == (0.001, [0.001, 0.003])
    assert len(baseline_p99([0.001] * 500)[1]) == 5


def test_a_stall_while_the_baseline_is_taken_does_not_set_the_limit() -> None:
    """One 0.3 s stall (probes of 80 ms) in a 5 s baseline of 2 ms probes: the p99 of the whole
    window would be 80 ms and the limit 160 ms; the median of the runs' p99s keeps it at 4 ms,
    so a later 50 ms p99 is over the limit and cuts the rate."""
    throttle, clock, _ = _throttle(
        lambda t: 80.0 if 101.2 <= t < 101.5 else 50.0 if t > 106 else 2.0,
        latency_budget=2.0,
        probe_window=5.0,
        min_rate=100,
    )
    throttle.before_first_chunk()
    (baseline,) = throttle.decisions
    assert throttle.stats.baseline_ms == pytest.approx(2.0)
    assert throttle.stats.limit_ms == pytest.approx(4.0)
    assert "runs' p99s: 2.00, 80.00, 2.00" in baseline.message  # ~98 probes: 4 runs
    clock.now = 106.5
    throttle.between_chunks(0.5, 1000)
    assert _actions(throttle)[1] == ("slower", "latency")


def test_a_server_slow_all_through_the_baseline_keeps_it_slow() -> None:
    """The median is no minimum: stalls in every run of the baseline are the server's p99."""
    throttle, _clock, _ = _throttle(
        lambda t: 30.0 if (t * 100) % 100 < 5 else 2.0, latency_budget=2.0, probe_window=5.0
    )
    throttle.before_first_chunk()
    assert throttle.stats.baseline_ms == pytest.approx(30.0)


def test_too_few_probes_for_a_baseline_is_an_error() -> None:
    """A probe that answers fewer than 20 times in 60 s cannot set a baseline: said, with the fix."""
    throttle, _clock, _ = _throttle(lambda _t: 5000.0, latency_budget=2.0)
    with pytest.raises(SourceError, match=r"too few for a baseline \(20\)"):
        throttle.before_first_chunk()


def test_backs_off_within_one_chunk_pauses_then_recovers() -> None:
    """Probe 2 -> 50 ms against a 10 ms limit: the next chunk boundary halves the rate and
    bounds the chunk size; still over on the probes after that cut (the pacing wait), the strict
    budget halves it again as it pauses, then waits for fresh probes back under; with headroom
    the cap grows again."""
    slowdown = Slowdown()
    throttle, clock, _ = _throttle(slowdown, probe_p99_ms=10)
    throttle.before_first_chunk()
    _chunks(throttle, clock, 3, rows=1000, seconds=0.5)  # 2000 rows/s, nothing to do
    assert _actions(throttle) == [("baseline", "latency")]
    assert throttle.chunk_rows_limit is None
    slowdown.slow = True
    clock.now += 0.3  # probes of the slow server finish during the chunk
    sleeps = len(clock.sleeps)

    def recover_in_the_pause() -> None:
        if len(clock.sleeps) == sleeps + 2:  # the pacing wait, then the pause's first check
            slowdown.slow = False

    clock.after_sleep = recover_in_the_pause
    throttle.between_chunks(0.3, 1000)
    assert _actions(throttle)[1:] == [
        ("slower", "latency"),
        ("slower", "latency"),
        ("pause", "latency"),
        ("resume", "latency"),
    ]
    first, slower = throttle.decisions[1], throttle.decisions[2]
    # half the smoothed rate: 0.7 x 2000 + 0.3 x 3333 rows/s (1000 rows in the last 0.3 s)
    assert first.rate == pytest.approx(1200.0) and slower.rate == pytest.approx(600.0)
    assert first.p99_ms == 50.0 and first.limit_ms == 10
    assert throttle.chunk_rows_limit == int(slower.rate * 0.5)
    assert set(throttle.stats.seconds_by_reason) == {"latency"}  # the pause, put to its reason
    assert throttle.stats.reasons == {"latency": 1}
    _chunks(throttle, clock, 8, rows=throttle.chunk_rows_limit or 0, seconds=0.05)
    faster = [d for d in throttle.decisions if d.action == "faster"]
    # far below the rate that was over (twice the cut cap): x1.5, to 3/4 of that rate
    assert faster and faster[0].rate == pytest.approx(slower.rate * 1.5)
    assert "x1.5 at most: far below the 2,400 rows/s that was over" in faster[0].message


def _paced_chunks(throttle: Throttle, clock: FakeClock, seconds: float) -> None:
    """Chunks of what the cap allows (1000 rows without one), 0.05 s of work each, for
    ``seconds`` of the fake clock."""
    end = clock.now + seconds
    while clock.now < end:
        clock.now += 0.05
        throttle.between_chunks(0.05, throttle.chunk_rows_limit or 1000)


def test_after_a_run_of_cuts_the_cap_recovers_fast_then_probes_slowly() -> None:
    """A purge at 20,000 rows/s (min_rate: no pauses); the probe goes 2 -> 50 ms for 4 s: each
    fresh p99 over the limit halves the cap (one excess: the rate of its first cut is remembered). Back to 2 ms, the cap
    grows x1.5 per 20 fresh probes with headroom: within 3 windows (15 s) it is back to half the
    rate that was over (the old law's steps of 1/20 per window: under a fifth of it); from 3/4 of
    that rate on it grows one step per window."""
    slowdown = Slowdown()
    throttle, clock, _ = _throttle(slowdown, probe_p99_ms=10, probe_window=5.0, min_rate=50)
    throttle.before_first_chunk()
    _paced_chunks(throttle, clock, 2.0)
    slowdown.slow = True
    _paced_chunks(throttle, clock, 4.0)
    cuts = [d.rate or 0.0 for d in throttle.decisions if d.action == "slower"]
    assert len(cuts) >= 4
    assert all(b == pytest.approx(a / 2) for a, b in itertools.pairwise(cuts))
    exceeded = throttle.control.exceeded
    assert exceeded == pytest.approx(2 * cuts[0])
    assert throttle.control.cap <= exceeded / 16
    slowdown.slow = False
    recovered = clock.now
    _paced_chunks(throttle, clock, 15.0)
    assert throttle.control.cap >= exceeded / 2
    _paced_chunks(throttle, clock, 6.0)
    rises = [d for d in throttle.decisions if d.action == "faster"]
    fast = [d for d in rises if "far below" in d.message]
    assert len(fast) >= 4 and fast[-1].rate == pytest.approx(0.75 * exceeded)
    assert fast[-1].at - recovered < 15.0
    step = next(d for d in rises if "far below" not in d.message)
    assert step.rate == pytest.approx(0.75 * exceeded + exceeded / 20)
    assert step.at - fast[-1].at >= 5.0  # a step waits for a whole window


def test_one_slow_probe_in_a_hundred_is_no_excess_two_in_a_row_are() -> None:
    """A p99 limit allows one probe in a hundred beyond it: a purge whose probe is 2 ms but for
    one 30 ms probe every 6 s (the scheduler, a flush) keeps its rate; two slow probes in a row
    halve it. Before, the one slow probe halved the cap each time it came."""

    def spikes(pair: bool) -> Callable[[float], float]:
        def latency(t: float) -> float:
            phase = (t - 100.0) % 6.0
            slow = 1.5 <= phase < (1.6 if pair else 1.55)
            return 30.0 if slow else 2.0

        return latency

    for pair in (False, True):
        throttle, clock, _ = _throttle(spikes(pair), probe_p99_ms=10, probe_window=5.0, min_rate=50)
        throttle.before_first_chunk()
        _paced_chunks(throttle, clock, 14.0)
        cuts = [d for d in throttle.decisions if d.action == "slower"]
        if pair:
            assert cuts and "2 of" in cuts[0].message  # the excess, counted in the message
        else:
            assert cuts == [] and throttle.control.cap is None


def test_a_latency_pause_ends_on_the_probes_taken_during_it() -> None:
    """The work itself is the excess (the probe is slow while a chunk runs) and the cap reaches
    its floor: a strict budget then pauses without a cut. The pause ends as soon as the probes
    started during it are under the limit, not when the chunk's slow probes age out of the 5 s
    window (before: seconds per chunk, a gate again)."""
    slowdown = Slowdown()
    throttle, clock, _ = _throttle(slowdown, probe_p99_ms=10, probe_window=5.0, max_rate=1000)
    throttle.before_first_chunk()
    clock.after_sleep = lambda: setattr(slowdown, "slow", False)  # over once the work waits
    for _ in range(30):
        slowdown.slow = True
        clock.now += 0.3
        throttle.between_chunks(0.3, throttle.chunk_rows_limit or 100)
    assert throttle.control.cap == 50  # the floor: 1/20 of max_rate
    pauses = [
        (p, r)
        for p, r in itertools.pairwise(throttle.decisions)
        if p.action == "pause" and r.action == "resume"
    ]
    assert len(pauses) >= 10
    assert max(r.at - p.at for p, r in pauses) < 1.0  # MIN_SAMPLES fresh probes and a check


def test_after_a_long_pause_a_rise_waits_for_fresh_probes_of_the_work() -> None:
    """The server is slow for 6 s without us (longer than the 5 s window): the strict budget
    cuts and pauses. Resumed, the few probes since are no evidence of headroom, although the
    cut is a window old: the cap rises only once 20 probes of the work say so."""
    slowdown = Slowdown()
    throttle, clock, _ = _throttle(slowdown, probe_p99_ms=10, probe_window=5.0, max_rate=4000)
    throttle.before_first_chunk()
    _paced_chunks(throttle, clock, 1.0)
    slowdown.slow = True
    clock.now += 0.3
    slow_until = clock.now + 6.0
    clock.after_sleep = lambda: setattr(slowdown, "slow", clock.now < slow_until)
    throttle.between_chunks(0.3, 1000)
    resume = next(d for d in throttle.decisions if d.action == "resume")
    _paced_chunks(throttle, clock, 3.0)
    rise = next(d for d in throttle.decisions if d.action == "faster")
    assert rise.at - resume.at >= 20 * throttle.settings.probe_interval


def test_a_probe_stuck_past_the_limit_counts_at_once() -> None:
    """A probe still running longer than the limit is evidence enough: no need to wait for it."""
    throttle, clock, _ = _throttle(
        lambda t: 5000.0 if t > 102 else 2.0, probe_p99_ms=10, min_rate=1
    )
    throttle.before_first_chunk()
    clock.now = 102.2  # a probe started in the last 0.2 s and has not answered yet
    throttle.between_chunks(0.5, 1000)
    slower = throttle.decisions[1]
    assert (slower.action, slower.reason) == ("slower", "latency")
    assert "a probe running for" in slower.message


def test_min_rate_goes_on_and_reports_the_budget_missed() -> None:
    """With min_rate the budget never pauses the work: it halves down to min_rate, says once that
    the budget cannot be held, goes on at min_rate and counts the time."""
    throttle, clock, _ = _throttle(
        lambda t: 50.0 if t > 102 else 2.0, probe_p99_ms=10, min_rate=600
    )
    throttle.before_first_chunk()
    _chunks(throttle, clock, 40, rows=1000, seconds=0.5)
    assert _actions(throttle) == [
        ("baseline", "latency"),
        ("slower", "latency"),
        ("slower", "latency"),
        ("floor", "latency"),
    ]
    assert [d.rate for d in throttle.decisions][1:] == [pytest.approx(1000, rel=0.3), 600, 600]
    assert throttle.control.cap == 600 and throttle.stats.pauses == 0
    assert "NOT HELD for" in throttle_text(throttle.stats)  # the summary says the miss
    assert "latency" in throttle.stats.seconds_by_reason  # pacing at the cap it cut


def test_a_strict_budget_that_cannot_be_held_stops_after_max_pause() -> None:
    """Without min_rate, a server that stays over the limit even while the work waits stops the
    run cleanly after max_pause, saying how to go on instead."""
    throttle, clock, _ = _throttle(lambda t: 50.0 if t > 102 else 2.0, probe_p99_ms=10, max_pause=5)
    throttle.before_first_chunk()
    with pytest.raises(StopRequested, match="set min_rate"):
        _chunks(throttle, clock, 100, rows=1000, seconds=0.5)
    assert ("pause", "latency") in _actions(throttle)


def test_a_strict_budget_over_before_a_steps_first_chunk_cuts_before_it_pauses() -> None:
    """The export ran at 2000 rows/s with no cap; before the verify's first chunk the probe is
    over the limit: the throttle cuts a cap from the rate reached, then pauses until fresh
    probes are back under, and the verify resumes at that cap, not at full speed (a gate)."""
    slowdown = Slowdown()
    throttle, clock, _ = _throttle(slowdown, probe_p99_ms=10)
    throttle.before_first_chunk()
    _chunks(throttle, clock, 3, rows=1000, seconds=0.5)  # the export: 2000 rows/s, no cap
    assert throttle.control.cap is None
    slowdown.slow = True
    clock.now += 0.3
    sleeps = len(clock.sleeps)
    clock.after_sleep = lambda: setattr(slowdown, "slow", len(clock.sleeps) < sleeps + 3)
    throttle.before_first_chunk()  # the verify
    assert _actions(throttle)[1:] == [
        ("slower", "latency"),
        ("pause", "latency"),
        ("resume", "latency"),
    ]
    assert throttle.decisions[1].rate == pytest.approx(1000.0)
    assert throttle.control.cap == pytest.approx(1000.0)
    throttle.before_first_chunk()  # the probe is fine: nothing more
    assert len(throttle.decisions) == 4


def test_reads_in_row_pairs_get_a_cap_not_only_pauses() -> None:
    """Verify's and grow's chunks are (rows, last row) pairs: their rows count for the rate, so
    a strict budget over the limit cuts a cap for them too instead of only pausing."""
    from dbarchive.throttle import throttled

    slowdown = Slowdown()
    throttle, clock, _ = _throttle(slowdown, probe_p99_ms=10)

    def slow_for_three_sleeps() -> None:
        slowdown.slow = True
        clock.now += 0.3
        sleeps = len(clock.sleeps)
        clock.after_sleep = lambda: setattr(slowdown, "slow", len(clock.sleeps) < sleeps + 3)

    def read() -> Iterator[tuple[list[int], int]]:
        for n in range(4):
            clock.now += 0.25
            if n == 2:
                slow_for_three_sleeps()
            yield [0] * 500, 0

    assert sum(len(rows) for rows, _last in throttled(read(), throttle)) == 2000
    assert _actions(throttle)[1:4] == [
        ("slower", "latency"),
        ("pause", "latency"),
        ("resume", "latency"),
    ]
    assert throttle.control.cap is not None and throttle.chunk_rows_limit is not None


def test_max_rate_paces_chunks_and_bounds_their_size() -> None:
    """max_rate alone: after 500 rows in 0.1 s at 1000 rows/s the next chunk waits 0.4 s, counted
    as max_rate; chunks hold at most max_rate x chunk_time rows; no probe, no decision."""
    throttle, clock, _ = _throttle(max_rate=1000)
    throttle.before_first_chunk()
    throttle.between_chunks(0.1, 500)
    assert clock.sleeps == [pytest.approx(0.4)]
    assert throttle.stats.seconds_by_reason == {"max_rate": pytest.approx(0.4)}
    assert throttle.chunk_rows_limit == 500
    assert not throttle.decisions


def test_the_purge_chunk_size_keeps_to_the_cap() -> None:
    """The purge's chunk sizer takes the throttle's limit, never below min_chunk_rows."""
    from dbarchive.steps.purge import ChunkSizer

    sizer = ChunkSizer(ThrottleSettings(min_chunk_rows=100, max_chunk_rows=5000))
    sizer.limit(None)
    assert sizer.rows == 1000
    sizer.limit(250)
    assert sizer.rows == 250
    sizer.limit(10)
    assert sizer.rows == 100


def test_history_list_length_pauses_and_slows_down() -> None:
    """History list longer than max_history_length: pause (and halve the rate) until it is
    back under."""
    throttle, clock, _ = _throttle(
        load=CannedLoad([10, 10, 10, 900, 900, 50]), max_history_length=500
    )
    throttle.before_first_chunk()
    _chunks(throttle, clock, 2, rows=1000, seconds=0.5)
    throttle.between_chunks(0.5, 1000)
    assert _actions(throttle) == [
        ("slower", "history"),
        ("pause", "history"),
        ("resume", "history"),
    ]
    assert throttle.control.cap == pytest.approx(1000, rel=0.1)
    assert throttle.stats.seconds_by_reason["history"] == pytest.approx(0.2)
    assert "history list length 900 > max_history_length=500" in throttle.decisions[1].message


def test_redo_log_fuller_than_max_redo_fill_pauses_and_slows_down() -> None:
    """The redo log over max_redo_fill (deletes outrunning the page cleaner): pause, with the
    cap halved, until the server has flushed it back under; time counted as "redo"."""
    throttle, clock, _ = _throttle(
        load=CannedLoad([10], redo=[0.2, 0.2, 0.2, 0.75, 0.7, 0.5]), max_redo_fill=0.6
    )
    throttle.before_first_chunk()
    _chunks(throttle, clock, 2, rows=1000, seconds=0.5)
    throttle.between_chunks(0.5, 1000)
    assert _actions(throttle) == [("slower", "redo"), ("pause", "redo"), ("resume", "redo")]
    assert throttle.control.cap == pytest.approx(1000, rel=0.1)
    assert throttle.stats.seconds_by_reason["redo"] == pytest.approx(0.2)
    message = throttle.decisions[1].message
    assert message.startswith("redo log 75% full") and "> max_redo_fill=0.6" in message


def test_reads_are_not_held_by_a_full_redo_log() -> None:
    """An export writes no redo, and an idle MariaDB may keep its checkpoint age at 65 % for
    good: the example DAG's export waited on it, never to go on (a CI run). A read stream is not
    gated by the redo log; the purge's chunks still are."""
    from dbarchive.throttle import throttled

    reads, _clock, _ = _throttle(load=CannedLoad([10], redo=[0.9]), max_redo_fill=0.6)
    assert list(throttled(iter([(["r"] * 100, None)] * 3), reads)) == [(["r"] * 100, None)] * 3
    assert _actions(reads) == []
    writes, _clock, _ = _throttle(load=CannedLoad([10], redo=[0.9]), max_redo_fill=0.6,
                                 max_pause=1)  # fmt: skip
    with pytest.raises(StopRequested, match="redo log 90% full"):
        writes.before_first_chunk()


def test_a_fill_the_server_leaves_where_it_is_does_not_hold_the_purge_for_good(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An idle MariaDB flushes only when it needs the room, and after a bulk load it kept the
    log 66 % full for good: a pause cannot lower that, and every purge waited until max_pause
    (a CI run). After 30 s paused with the fill flat the ceiling moves 5 points above it (a
    warning says so), never past 75 %; it is the one set again once the log is back under."""
    load = CannedLoad([10], redo=[0.66])
    parked, clock, _ = _throttle(load=load, max_redo_fill=0.65, max_pause=120)
    with caplog.at_level("WARNING", logger="dbarchive.throttle"):
        parked.before_first_chunk()
    assert _actions(parked) == [("pause", "redo"), ("ceiling", "redo"), ("resume", "redo")]
    assert parked.stats.seconds_by_reason["redo"] == pytest.approx(30.0, abs=0.15)
    assert "still 66% full after 30s paused" in parked.decisions[1].message
    assert "going on under 71%" in parked.decisions[1].message
    assert [r.levelname for r in caplog.records if "still 66%" in r.getMessage()] == ["WARNING"]
    load.redo = [0.70]  # the purge's own writes take it to the raised ceiling's edge
    clock.now += 1.0
    parked.between_chunks(0.5, 1000)
    pause = [d for d in parked.decisions if d.action == "pause"][-1]
    assert "> 71%, raised from max_redo_fill=0.65 (the log parked)" in pause.message
    load.redo = [0.5, 0.69]  # flushed under the ceiling set: the raise is forgotten
    clock.now += 1.0
    parked.between_chunks(0.5, 1000)
    assert parked.redo.raised is None

    near_sync, _, _ = _throttle(load=CannedLoad([10], redo=[0.76]), max_redo_fill=0.65,
                                max_pause=120)  # fmt: skip
    with pytest.raises(StopRequested, match="redo log 76% full"):
        near_sync.before_first_chunk()  # at 75 % and over, only the server's flush goes on

    flushing = [0.7 - 0.002 * step for step in range(2000)]  # falls 1 point every 0.5 s
    draining, _, _ = _throttle(load=CannedLoad([10], redo=flushing), max_redo_fill=0.65,
                               max_pause=120)  # fmt: skip
    draining.before_first_chunk()
    assert ("ceiling", "redo") not in _actions(draining)  # the pause helped: no raise


def test_the_redo_ceiling_is_judged_where_the_fill_is_heading() -> None:
    """A fill rising 0.2 a second is paused at 30 %, before it crosses 0.6 (in 2 s at that
    rise it would be at 70 %): the chunk in flight and InnoDB's own purge add to it after the
    reading. A fill that stays at 55 % does not pause the work."""
    rising, clock, _ = _throttle(load=CannedLoad([10], redo=[0.2, 0.3, 0.1]), max_redo_fill=0.6)
    rising.before_first_chunk()
    _chunks(rising, clock, 2, rows=1000, seconds=0.5)
    assert ("pause", "redo") in _actions(rising)
    assert "redo log 30% full, 70% in 2s at its rise," in rising.decisions[1].message

    flat, clock, _ = _throttle(load=CannedLoad([10], redo=[0.55]), max_redo_fill=0.6)
    flat.before_first_chunk()
    _chunks(flat, clock, 10, rows=1000, seconds=0.5)
    assert _actions(flat) == []


def test_redo_trend_takes_the_rise_over_half_a_second_and_forgets_it() -> None:
    """Readings a moment apart do not make a rise (one commit is not a flood); a checkpoint
    (the fill drops) ends it; a reading older than 10 s says nothing of now."""
    trend = RedoTrend()
    assert trend.expected(0.0, 0.2) == pytest.approx(0.2)
    assert trend.expected(0.1, 0.25) == pytest.approx(0.25)  # too soon: no rise yet
    assert trend.expected(0.5, 0.3) == pytest.approx(0.3 + 0.2 * REDO_HORIZON)
    assert trend.expected(1.0, 0.1) == pytest.approx(0.1)  # a checkpoint: falling, no rise
    trend.expected(1.5, 0.3)
    assert trend.rise == pytest.approx(0.4)
    assert trend.expected(30.0, 0.3) == pytest.approx(0.3)  # stale: measured afresh


def test_a_latency_budget_keeps_the_redo_log_out_of_hard_flushing_by_default() -> None:
    """A budget also holds the write stall its read probe cannot see: with no max_redo_fill, a
    fill over 0.65 (below InnoDB's asynchronous flushing) pauses the work; 0.6 does not;
    max_redo_fill = 1 switches it off."""
    budget = {"latency_budget": 2.0, "min_rate": 10}
    load = CannedLoad([10], redo=[0.3, 0.3, 0.7, 0.4])
    throttle, clock, _ = _throttle(lambda _t: 2.0, load, **budget)
    throttle.before_first_chunk()
    _chunks(throttle, clock, 3, rows=1000, seconds=0.5)
    assert [a for a in _actions(throttle) if a[1] == "redo"] == [
        ("slower", "redo"),
        ("pause", "redo"),
        ("resume", "redo"),
    ]
    pause = next(d for d in throttle.decisions if d.action == "pause")
    assert pause.message.startswith("redo log 70% full")
    assert "the latency budget's max_redo_fill=0.65" in pause.message

    off, clock, _ = _throttle(
        lambda _t: 2.0, CannedLoad([10], redo=[0.3, 0.79]), max_redo_fill=1, **budget
    )
    off.before_first_chunk()
    _chunks(off, clock, 2, rows=1000, seconds=0.5)
    assert [a for a in _actions(off) if a[1] == "redo"] == []


def test_without_a_budget_the_redo_ceiling_gives_back_what_it_cut() -> None:
    """max_redo_fill alone: a cut when the log filled, then, with the log back under 80 % of
    the ceiling, the cap grows again (x1.5 a window while far below the rate that filled it);
    while the log stays near the ceiling it does not."""
    fills = [0.2, 0.2, 0.2, 0.7, 0.2]
    throttle, clock, _ = _throttle(load=CannedLoad([10], redo=fills), max_redo_fill=0.6)
    throttle.before_first_chunk()
    _chunks(throttle, clock, 3, rows=1000, seconds=0.5)  # ~2000 rows/s, then the log fills
    cut = throttle.control.cap
    assert cut is not None and ("slower", "redo") in _actions(throttle)
    _chunks(throttle, clock, 30, rows=100, seconds=0.05)  # paced at the cap, the log at 20 %
    rises = [d for d in throttle.decisions if d.action == "faster"]
    assert rises and rises[0].reason == "headroom"
    assert "redo log 20% full, under 48%" in rises[0].message
    assert rises[0].rate == pytest.approx(1.5 * cut)

    near, clock, _ = _throttle(
        load=CannedLoad([10], redo=[0.2, 0.2, 0.2, 0.7, 0.55]), max_redo_fill=0.6
    )
    near.before_first_chunk()
    _chunks(near, clock, 33, rows=100, seconds=0.05)
    assert [d for d in near.decisions if d.action == "faster"] == []


@pytest.mark.parametrize(
    "unreadable",
    [None, SourceError("reading the redo log's checkpoint age: Access denied; you need PROCESS")],
)
def test_the_budgets_redo_ceiling_is_dropped_where_the_server_does_not_tell(
    unreadable: SourceError | None, caplog: pytest.LogCaptureFixture
) -> None:
    """Aurora has no checkpoint age, MySQL before 8.0.30 needs PROCESS for it: the budget's
    default ceiling is dropped once (logged) and the work goes on; a max_redo_fill the user set
    is an error instead, before anything is deleted."""
    load = CannedLoad([10], redo=[unreadable])
    throttle, clock, _ = _throttle(lambda _t: 2.0, load, latency_budget=2.0, min_rate=10)
    with caplog.at_level("INFO", logger="dbarchive.throttle"):
        throttle.before_first_chunk()
        _chunks(throttle, clock, 3, rows=1000, seconds=0.5)
    assert [a for a in _actions(throttle) if a[1] == "redo"] == []
    dropped = [r for r in caplog.records if "without its redo log ceiling" in r.getMessage()]
    assert len(dropped) == 1  # said once, not per chunk

    strict, _, _ = _throttle(lambda _t: 2.0, CannedLoad([10], redo=[unreadable]), max_redo_fill=0.6)
    with pytest.raises(SourceError, match="PROCESS" if unreadable else "remove max_redo_fill"):
        strict.before_first_chunk()


# -- settings and SQL --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"min_rate": 10}, "min_rate works with a latency budget"),
        ({"probe_query": "SELECT 1"}, "probe_query works with a latency budget"),
        ({"latency_budget": 2, "min_rate": 500, "max_rate": 100}, "must not exceed max_rate"),
        ({"latency_budget": 2, "probe_interval": 1, "probe_window": 2}, "at least 5 probes"),
        ({"latency_budget": 0.5}, "latency_budget"),
        ({"max_redo_fill": 0}, "max_redo_fill"),
        ({"max_redo_fill": 1.5}, "max_redo_fill"),
    ],
)
def test_budget_settings_are_checked(settings: dict[str, object], message: str) -> None:
    """A setting that cannot work is refused, naming it and the fix."""
    from dbarchive.config import with_overrides

    with pytest.raises(ConfigError, match=message):
        with_overrides(ThrottleSettings(), settings, "[throttle]")


def test_history_length_from_innodb_status() -> None:
    """The fallback reads the number on SHOW ENGINE INNODB STATUS's history line."""
    text = (
        b"------------\nTRANSACTIONS\n------------\nTrx id counter 52232\nHistory list length 24\n"
    )
    assert history_from_status(text) == 24
    assert history_from_status(b"no such line") is None


def test_default_probe_reads_the_newest_row_by_its_key() -> None:
    """The default probe descends the key index to the newest row; every identifier quoted."""
    from dbarchive.sources.canonical import Column
    from dbarchive.sources.latency_probe import newest_row_sql
    from dbarchive.sources.table import TableInfo

    def col(name: str) -> Column:
        return Column(name, "bigint", "bigint", nullable=False)  # type: ignore[call-arg]

    info = TableInfo(
        "sh`op", "ord ers", (col("a"),), (col("a"), col("b`")), "PRIMARY", col("ts"), None
    )
    assert newest_row_sql(info) == (
        "SELECT `a`, `b``` FROM `sh``op`.`ord ers` ORDER BY `a` DESC, `b``` DESC LIMIT 1"
    )
